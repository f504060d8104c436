//! The one kwarg reader: how every message's fields are quoted and refused.
//!
//! Every refused field reads `<message>: field "<name>" must be <what>, found
//! <describe>` ([`FieldError`]); [`describe`] quotes client data short (strs
//! through [`excerpt`], lists and arrays by size, numbers as Rust prints them),
//! so an error never echoes a large value. The readers here are the ones the
//! protocol's typed requests ([`crate::Request`]), the scene's handlers and the
//! script API share; each checks finiteness itself.

use crate::limits::excerpt;
use crate::value::Value;

/// A field of a message with a value of the wrong type or out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}: field {field:?} must be {expected}, found {found}")]
pub struct FieldError {
    /// The message type's name (`screenshot`), or what is being read (`node.position` in a script).
    pub message: String,
    /// The field (`width`, `camera.distance`).
    pub field: String,
    pub expected: String,
    pub found: String,
}

impl FieldError {
    pub fn new(
        message: impl Into<String>,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self { message: message.into(), field: field.into(), expected: expected.into(), found: found.into() }
    }
}

/// Client data as an error quotes it: strs as an [`excerpt`], numbers and
/// bools as written (floats as Rust's `{:?}`: `0.0`, `NaN`, `inf`, `1e300`),
/// lists, maps, bytes and arrays by their size, never their contents.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => excerpt(s),
        Value::Bin(b) => format!("{} bytes", b.len()),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Map(entries) => format!("a map of {}", entries.len()),
        Value::NdArray(a) => format!("an array of shape {:?}", a.shape()),
    }
}

/// `N` finite numbers: a list of `N` numbers, a list of equal rows of numbers
/// (`[[..], [..], [..]]` for a 3x3 matrix) or an n-d array of `N` numbers (any
/// shape), row-major. `expected` says what the field must be (`3 finite
/// numbers`); a non-finite number is named with the others (`found [NaN, 0.0, 0.0]`).
pub fn read_floats<const N: usize>(ctx: &str, field: &str, v: &Value, expected: &str) -> Result<[f32; N], FieldError> {
    let bad = |found: String| FieldError::new(ctx, field, expected, found);
    let out: [f32; N] = match v {
        Value::NdArray(a) if a.len() == N && a.dtype() != crate::DType::Bool => {
            a.to_f32().as_slice().try_into().map_err(|_| bad(describe(v)))?
        }
        Value::Array(items) => {
            let mut flat = Vec::with_capacity(N);
            let rows = matches!(items.first(), Some(Value::Array(_)));
            for item in items {
                match item {
                    Value::Array(row) if rows && row.len() == items.first().map_or(0, array_len) => {
                        flat.extend(row.iter().map(Value::as_f64));
                    }
                    number if !rows => flat.push(number.as_f64()),
                    _ => return Err(bad(describe(v))),
                }
                if flat.len() > N {
                    return Err(bad(describe(v)));
                }
            }
            let numbers: Option<Vec<f32>> = flat.into_iter().map(|x| x.map(|x| x as f32)).collect();
            numbers.and_then(|n| n.try_into().ok()).ok_or_else(|| bad(describe(v)))?
        }
        _ => return Err(bad(describe(v))),
    };
    if out.iter().all(|x| x.is_finite()) { Ok(out) } else { Err(bad(format!("{out:?}"))) }
}

fn array_len(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.len(),
        _ => 0,
    }
}

/// A point or direction: 3 finite numbers ([`read_floats`]).
pub fn read_vec3(ctx: &str, field: &str, v: &Value) -> Result<[f32; 3], FieldError> {
    read_floats(ctx, field, v, "3 finite numbers")
}

/// A client id (an int >= 0).
pub fn read_client_id(ctx: &str, field: &str, v: &Value) -> Result<u64, FieldError> {
    v.as_i64()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| FieldError::new(ctx, field, "a client id", describe(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NdArray;

    fn list(items: &[f64]) -> Value {
        Value::Array(items.iter().map(|&x| Value::from(x)).collect())
    }

    #[test]
    fn describe_quotes_short() {
        assert_eq!(
            describe(&Value::from("x".repeat(100_000).as_str())),
            format!("\"{}…\" (100000 bytes)", "x".repeat(80))
        );
        assert_eq!(describe(&Value::from("a\nb")), "\"a\\nb\"");
        assert_eq!(describe(&Value::Float(1e300)), "1e300");
        assert_eq!(describe(&Value::Float(0.0)), "0.0");
        assert_eq!(describe(&Value::Int(-3)), "-3");
        assert_eq!(describe(&Value::Bool(true)), "true");
        assert_eq!(describe(&list(&[1.0; 1000])), "a list of 1000");
        assert_eq!(describe(&Value::Bin(vec![0; 5])), "5 bytes");
        assert_eq!(describe(&Value::NdArray(NdArray::from_f32(vec![2, 2], vec![0.0; 4]))), "an array of shape [2, 2]");
    }

    #[test]
    fn vec3_is_three_finite_numbers() {
        assert_eq!(read_vec3("m", "p", &list(&[1.0, 2.0, 3.0])), Ok([1.0, 2.0, 3.0]));
        let ints = Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        assert_eq!(read_vec3("m", "p", &ints), Ok([1.0, 2.0, 3.0]));
        let nd = Value::NdArray(NdArray::from_f32(vec![1, 3], vec![1.0, 2.0, 3.0]));
        assert_eq!(read_vec3("m", "p", &nd), Ok([1.0, 2.0, 3.0]));
        let nested = Value::Array(vec![list(&[1.0, 2.0, 3.0])]);
        assert_eq!(read_vec3("m", "p", &nested), Ok([1.0, 2.0, 3.0]));
        let e = |v: Value| read_vec3("select", "point", &v).unwrap_err().to_string();
        assert_eq!(
            e(list(&[f64::NAN, 0.0, 0.0])),
            "select: field \"point\" must be 3 finite numbers, found [NaN, 0.0, 0.0]"
        );
        assert_eq!(
            e(list(&[1e39, 0.0, 0.0])),
            "select: field \"point\" must be 3 finite numbers, found [inf, 0.0, 0.0]"
        );
        assert_eq!(e(list(&[1.0, 2.0])), "select: field \"point\" must be 3 finite numbers, found a list of 2");
        assert_eq!(
            e(list(&[0.0; 100_000])),
            "select: field \"point\" must be 3 finite numbers, found a list of 100000"
        );
        assert_eq!(e(Value::from("here")), "select: field \"point\" must be 3 finite numbers, found \"here\"");
        let mixed = Value::Array(vec![Value::from(1.0), Value::from("x"), Value::from(2.0)]);
        assert_eq!(e(mixed), "select: field \"point\" must be 3 finite numbers, found a list of 3");
        let ragged = Value::Array(vec![list(&[1.0]), list(&[2.0, 3.0])]);
        assert!(read_vec3("m", "p", &ragged).is_err());
    }

    #[test]
    fn matrices_are_rows_or_flat() {
        let rows = Value::Array(vec![list(&[1.0, 0.0, 0.0]), list(&[0.0, 1.0, 0.0]), list(&[0.0, 0.0, 1.0])]);
        let m: [f32; 9] = read_floats("m", "rotation", &rows, "9").unwrap();
        assert_eq!(m, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(read_floats::<9>("m", "rotation", &list(&[0.0; 9]), "9").is_ok());
        assert!(read_floats::<9>("m", "rotation", &list(&[0.0; 3]), "9").is_err());
    }

    #[test]
    fn client_ids_are_not_negative() {
        assert_eq!(read_client_id("m", "client_id", &Value::Int(4)), Ok(4));
        assert_eq!(
            read_client_id("query", "client_id", &Value::Int(-1)).unwrap_err().to_string(),
            "query: field \"client_id\" must be a client id, found -1"
        );
    }
}
