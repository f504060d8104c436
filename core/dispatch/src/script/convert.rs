//! Protocol values <-> rhai values. Arrays become [`ArrayView`]s that share
//! the message's buffer: a script that ignores a 100 MB array costs nothing.

use periscope_protocol::{ArrayData, DType, NdArray, Value};
use rhai::{Array, Blob, Dynamic, INT, ImmutableString, Map};

/// An n-d array as scripts see it: dtype, shape and element access over the
/// shared data, no copy.
#[derive(Clone, Debug)]
pub struct ArrayView(pub NdArray);

impl ArrayView {
    pub fn dtype(&mut self) -> ImmutableString {
        self.0.dtype().name().into()
    }

    pub fn shape(&mut self) -> Array {
        self.0.shape().iter().map(|&d| Dynamic::from(d as INT)).collect()
    }

    pub fn len(&mut self) -> INT {
        self.0.len() as INT
    }

    pub fn is_empty(&mut self) -> bool {
        self.0.is_empty()
    }

    pub fn nbytes(&mut self) -> INT {
        self.0.nbytes() as INT
    }

    /// Element `i` of the flattened array (negative counts from the end).
    pub fn get(&mut self, i: INT) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let n = self.0.len() as INT;
        let idx = if i < 0 { i + n } else { i };
        if idx < 0 || idx >= n {
            return Err(format!("index {i} out of range for an array of {n} elements").into());
        }
        Ok(element(&self.0, idx as usize))
    }

    /// Element at a multi-dimensional index, e.g. `a.at([frame, vertex, 2])`.
    pub fn at(&mut self, index: Array) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let shape = self.0.shape();
        if index.len() != shape.len() {
            return Err(format!("index has {} dimensions but the array has {}", index.len(), shape.len()).into());
        }
        let mut flat = 0usize;
        for (k, (i, &d)) in index.iter().zip(shape).enumerate() {
            let i = i.as_int().map_err(|t| format!("index {k} must be an integer, not {t}"))?;
            let i = if i < 0 { i + d as INT } else { i };
            if i < 0 || i as usize >= d {
                return Err(format!("index {k} is out of range for dimension {d}").into());
            }
            flat = flat * d + i as usize;
        }
        Ok(element(&self.0, flat))
    }

    /// The elements as a flat rhai array (this copies; refused beyond `max`).
    pub fn to_array_limited(&self, max: usize) -> Result<Array, Box<rhai::EvalAltResult>> {
        let n = self.0.len();
        if n > max {
            return Err(format!("to_array: {n} elements exceed scripts.max_array_size ({max})").into());
        }
        Ok((0..n).map(|i| element(&self.0, i)).collect())
    }
}

fn element(a: &NdArray, i: usize) -> Dynamic {
    match a.data() {
        ArrayData::F32(v) => Dynamic::from_float(v[i] as f64),
        ArrayData::F64(v) => Dynamic::from_float(v[i]),
        ArrayData::U8(v) if a.dtype() == DType::Bool => Dynamic::from_bool(v[i] != 0),
        ArrayData::U8(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::I8(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::U16(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::I16(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::U32(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::I32(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::U64(v) => Dynamic::from_int(v[i] as INT),
        ArrayData::I64(v) => Dynamic::from_int(v[i]),
    }
}

/// A protocol value as a rhai value (arrays become views, not copies).
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Nil => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Int(i) => Dynamic::from_int(*i),
        Value::UInt(u) => Dynamic::from_float(*u as f64),
        Value::Float(f) => Dynamic::from_float(*f),
        Value::Str(s) => Dynamic::from(s.clone()),
        Value::Bin(b) => Dynamic::from_blob(b.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Map(entries) => Dynamic::from_map(map_of(entries.iter().map(|(k, v)| (key_text(k), v)))),
        Value::NdArray(a) => Dynamic::from(ArrayView(a.clone())),
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// A rhai object map from string keys and protocol values.
pub fn map_of<'a, K: Into<String>>(entries: impl Iterator<Item = (K, &'a Value)>) -> Map {
    entries.map(|(k, v)| (k.into().into(), to_dynamic(v))).collect()
}

/// A rhai value as a protocol value; node handles become their viewer id.
pub fn to_value(d: &Dynamic) -> Result<Value, String> {
    if d.is_unit() {
        return Ok(Value::Nil);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = d.as_float() {
        return Ok(Value::Float(f));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::Str(c.to_string()));
    }
    if d.is_string() {
        return Ok(Value::Str(d.clone().into_string().unwrap_or_default()));
    }
    if d.is_blob() {
        return Ok(Value::Bin(d.clone().cast::<Blob>()));
    }
    if d.is_array() {
        let arr = d.read_lock::<Array>().ok_or("array is locked")?;
        return arr.iter().map(to_value).collect::<Result<_, _>>().map(Value::Array);
    }
    if d.is_map() {
        let map = d.read_lock::<Map>().ok_or("map is locked")?;
        return map
            .iter()
            .map(|(k, v)| Ok((Value::Str(k.to_string()), to_value(v)?)))
            .collect::<Result<_, String>>()
            .map(Value::Map);
    }
    if let Some(a) = d.read_lock::<ArrayView>() {
        return Ok(Value::NdArray(a.0.clone()));
    }
    if let Some(n) = d.read_lock::<super::api::NodeHandle>() {
        return Ok(Value::Int(n.0 as i64));
    }
    Err(format!("a {} cannot be sent", d.type_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_arrays_are_views() {
        let a = NdArray::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let v = Value::map([
            ("n", Value::Int(3)),
            ("s", Value::from("x")),
            ("l", Value::from(vec![1.5f64, 2.5])),
            ("a", Value::NdArray(a.clone())),
        ]);
        let d = to_dynamic(&v);
        let back = to_value(&d).unwrap();
        assert_eq!(back.get("n"), Some(&Value::Int(3)));
        assert_eq!(back.get("l"), Some(&Value::from(vec![1.5f64, 2.5])));
        let Some(Value::NdArray(b)) = back.get("a") else { panic!() };
        let (ArrayData::F32(x), ArrayData::F32(y)) = (a.data(), b.data()) else { panic!() };
        assert!(std::sync::Arc::ptr_eq(x, y), "arrays are shared, not copied");
    }

    #[test]
    fn view_access() {
        let mut v = ArrayView(NdArray::from_f32(vec![2, 3], vec![0., 1., 2., 3., 4., 5.]));
        assert_eq!(v.get(4).unwrap().as_float().unwrap(), 4.0);
        assert_eq!(v.get(-1).unwrap().as_float().unwrap(), 5.0);
        assert_eq!(v.at(vec![Dynamic::from_int(1), Dynamic::from_int(0)]).unwrap().as_float().unwrap(), 3.0);
        assert!(v.get(6).is_err());
        assert!(v.to_array_limited(3).unwrap_err().to_string().contains("exceed scripts.max_array_size (3)"));
    }
}
