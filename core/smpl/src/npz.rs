//! Reading NumPy `.npz` archives (a zip of `.npy` files, stored or deflated)
//! into f64 arrays. Only what body models need: little-endian numeric dtypes,
//! C or Fortran order.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// An array read from a `.npy` member, converted to f64, in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Why an archive could not be read. Messages name the member.
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    #[error("cannot open: {0}")]
    Open(String),
    #[error("not a valid .npz (zip) archive: {0}")]
    Zip(String),
    #[error("{member}: {message}")]
    Member { member: String, message: String },
}

/// Largest element count accepted for one array (a sanity bound, 2 GiB of f64).
const MAX_ELEMENTS: usize = 1 << 28;

/// Reads every array of the `.npz` at `path`, keyed by name (without `.npy`).
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, Array>, NpzError> {
    let file = std::fs::File::open(path).map_err(|e| NpzError::Open(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| NpzError::Zip(e.to_string()))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| NpzError::Zip(e.to_string()))?;
        let name = member.name().to_owned();
        let Some(key) = name.strip_suffix(".npy") else { continue };
        let mut bytes = Vec::with_capacity(member.size().min(1 << 30) as usize);
        member
            .read_to_end(&mut bytes)
            .map_err(|e| NpzError::Member { member: name.clone(), message: e.to_string() })?;
        let array = parse_npy(&bytes).map_err(|message| NpzError::Member { member: name.clone(), message })?;
        out.insert(key.to_owned(), array);
    }
    Ok(out)
}

/// Parses one `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy array (missing the \\x93NUMPY magic)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let descr = dict_value(header, "descr").ok_or("the .npy header has no descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(header, "fortran_order").ok_or("the .npy header has no fortran_order")? == "True";
    let shape_text = dict_value(header, "shape").ok_or("the .npy header has no shape")?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape_text}")))
        .collect::<Result<_, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&c| c <= MAX_ELEMENTS);
    let count = count.ok_or_else(|| format!("array of shape {shape:?} is too large"))?;
    let body = &bytes[start + header_len..];
    let (size, read): (usize, fn(&[u8]) -> f64) = match descr {
        "<f8" => (8, |b| f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        "<f4" => (4, |b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes")))),
        "<i8" => (8, |b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64),
        "<u8" => (8, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as f64),
        "<i4" => (4, |b| f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes")))),
        "<u4" => (4, |b| f64::from(u32::from_le_bytes(b.try_into().expect("4 bytes")))),
        "<i2" => (2, |b| f64::from(i16::from_le_bytes(b.try_into().expect("2 bytes")))),
        "<u2" => (2, |b| f64::from(u16::from_le_bytes(b.try_into().expect("2 bytes")))),
        "|u1" | "|b1" => (1, |b| f64::from(b[0])),
        "|i1" => (1, |b| f64::from(b[0] as i8)),
        other => return Err(format!("unsupported dtype {other} (expected little-endian numbers)")),
    };
    if body.len() < count * size {
        return Err(format!("truncated: {} bytes of data for shape {shape:?} of {descr}", body.len()));
    }
    let mut data: Vec<f64> = body[..count * size].chunks_exact(size).map(read).collect();
    if fortran && shape.len() > 1 {
        data = fortran_to_c(&data, &shape);
    }
    Ok(Array { shape, data })
}

/// The value text of `key` in a Python dict literal like `{'descr': '<f8', 'shape': (3, 2), }`.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}'])? };
    Some(rest[..end].trim())
}

/// Reorders column-major data to row-major.
fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = shape.len();
    let mut out = vec![0.0; data.len()];
    let mut idx = vec![0usize; n];
    for (c_pos, o) in out.iter_mut().enumerate() {
        // Decompose the C position into indices, then compose the Fortran position.
        let mut rem = c_pos;
        for d in (0..n).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        let mut f_pos = 0;
        for d in (0..n).rev() {
            f_pos = f_pos * shape[d] + idx[d];
        }
        *o = data[f_pos];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn reads_dtypes_and_fortran_order() {
        let body: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse_npy(&npy("<f8", false, "(2, 3)", &body)).unwrap();
        assert_eq!((a.shape.clone(), a.data.clone()), (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        // The same bytes in Fortran order are columns: [[1, 3, 5], [2, 4, 6]].
        let f = parse_npy(&npy("<f8", true, "(2, 3)", &body)).unwrap();
        assert_eq!(f.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let ints: Vec<u8> = [-1i64, 0, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy("<i8", false, "(3,)", &ints)).unwrap().data, vec![-1.0, 0.0, 1.0]);
        let u32s: Vec<u8> = [u32::MAX, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy("<u4", false, "(2,)", &u32s)).unwrap().data, vec![4294967295.0, 5.0]);
        let scalar = parse_npy(&npy("<f4", false, "()", &2.5f32.to_le_bytes())).unwrap();
        assert_eq!((scalar.shape.len(), scalar.data[0]), (0, 2.5));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_npy_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_npy(&body);
            let mut with_magic = b"\x93NUMPY\x01\x00".to_vec();
            with_magic.extend(&body);
            let _ = parse_npy(&with_magic);
        }
    }

    #[test]
    fn rejects_bad_arrays_with_reasons() {
        assert!(parse_npy(b"hello world").unwrap_err().contains("magic"));
        assert!(parse_npy(&npy("<c16", false, "(1,)", &[0; 16])).unwrap_err().contains("unsupported dtype"));
        assert!(parse_npy(&npy("<f8", false, "(4,)", &[0; 8])).unwrap_err().contains("truncated"));
        assert!(parse_npy(&npy("<f8", false, "(100000, 100000)", &[])).unwrap_err().contains("too large"));
    }
}
