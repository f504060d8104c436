//! Typed n-dimensional arrays as they travel on the wire.
//!
//! The payload is decoded with exactly one copy (network buffer -> typed
//! `Vec`), and stored behind an `Arc` so that the scene, scripts and plugins
//! share it without further copies.

use std::fmt;
use std::sync::Arc;

/// Element types accepted on the wire. Names follow numpy (`arr.dtype.name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl DType {
    /// Parses a numpy dtype name (`"float32"`) or a little-endian/native
    /// array-interface string (`"<f4"`, `"|u1"`, `"=i8"`).
    pub fn parse(s: &str) -> Option<Self> {
        use DType::*;
        Some(match s {
            "bool" | "|b1" | "b1" => Bool,
            "uint8" | "|u1" | "u1" => U8,
            "int8" | "|i1" | "i1" => I8,
            "uint16" | "<u2" | "=u2" => U16,
            "int16" | "<i2" | "=i2" => I16,
            "uint32" | "<u4" | "=u4" => U32,
            "int32" | "<i4" | "=i4" => I32,
            "uint64" | "<u8" | "=u8" => U64,
            "int64" | "<i8" | "=i8" => I64,
            "float32" | "<f4" | "=f4" => F32,
            "float64" | "<f8" | "=f8" => F64,
            _ => return None,
        })
    }

    /// The numpy name, as written on the wire by Periscope.
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Bool => "bool",
            U8 => "uint8",
            I8 => "int8",
            U16 => "uint16",
            I16 => "int16",
            U32 => "uint32",
            I32 => "int32",
            U64 => "uint64",
            I64 => "int64",
            F32 => "float32",
            F64 => "float64",
        }
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        use DType::*;
        match self {
            Bool | U8 | I8 => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
        }
    }

    /// True for `float32` and `float64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The typed element storage of an [`NdArray`]. `Bool` arrays are stored as
/// `U8` (0 or non-zero) with [`NdArray::dtype`] telling them apart.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    U8(Arc<Vec<u8>>),
    I8(Arc<Vec<i8>>),
    U16(Arc<Vec<u16>>),
    I16(Arc<Vec<i16>>),
    U32(Arc<Vec<u32>>),
    I32(Arc<Vec<i32>>),
    U64(Arc<Vec<u64>>),
    I64(Arc<Vec<i64>>),
    F32(Arc<Vec<f32>>),
    F64(Arc<Vec<f64>>),
}

/// Runs `$body` with `$v` bound to the inner `Arc<Vec<T>>` of any variant.
macro_rules! with_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            ArrayData::U8($v) => $body,
            ArrayData::I8($v) => $body,
            ArrayData::U16($v) => $body,
            ArrayData::I16($v) => $body,
            ArrayData::U32($v) => $body,
            ArrayData::I32($v) => $body,
            ArrayData::U64($v) => $body,
            ArrayData::I64($v) => $body,
            ArrayData::F32($v) => $body,
            ArrayData::F64($v) => $body,
        }
    };
}

/// Copies little-endian bytes into a freshly allocated typed vector (the one
/// copy; no zero-fill first: the elements are read straight into place).
fn from_le_bytes<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    let size = std::mem::size_of::<T>();
    #[cfg(target_endian = "little")]
    {
        bytes.chunks_exact(size).map(bytemuck::pod_read_unaligned::<T>).collect()
    }
    #[cfg(target_endian = "big")]
    {
        bytes
            .chunks_exact(size)
            .map(|c| {
                let mut x = bytemuck::pod_read_unaligned::<T>(c);
                bytemuck::bytes_of_mut(&mut x).reverse();
                x
            })
            .collect()
    }
}

/// An n-dimensional array: dtype, shape and shared typed data (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    dtype: DType,
    shape: Vec<usize>,
    data: ArrayData,
}

/// Why raw bytes could not become an [`NdArray`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArrayError {
    #[error("array shape has {ndim} dimensions, more than {MAX_NDIM}")]
    TooManyDims { ndim: usize },
    #[error("array shape {shape:?} overflows")]
    ShapeOverflow { shape: Vec<usize> },
    #[error("array of dtype {dtype} and shape {shape:?} needs {expected} bytes but {actual} were sent")]
    ByteLength { dtype: DType, shape: Vec<usize>, expected: usize, actual: usize },
}

/// Most dimensions an array may have (numpy's own limit is 32 in 1.x): a
/// shape is quoted in errors and kept with the array, so it stays short.
pub const MAX_NDIM: usize = 32;

impl NdArray {
    /// Builds an array from its little-endian wire bytes, checking that the
    /// byte length matches `shape`.
    pub fn from_le_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Self, ArrayError> {
        if shape.len() > MAX_NDIM {
            return Err(ArrayError::TooManyDims { ndim: shape.len() });
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| ArrayError::ShapeOverflow { shape: shape.clone() })?;
        let expected =
            count.checked_mul(dtype.size()).ok_or_else(|| ArrayError::ShapeOverflow { shape: shape.clone() })?;
        if expected != bytes.len() {
            return Err(ArrayError::ByteLength { dtype, shape, expected, actual: bytes.len() });
        }
        let data = match dtype {
            DType::Bool | DType::U8 => ArrayData::U8(Arc::new(bytes.to_vec())),
            DType::I8 => ArrayData::I8(Arc::new(from_le_bytes(bytes))),
            DType::U16 => ArrayData::U16(Arc::new(from_le_bytes(bytes))),
            DType::I16 => ArrayData::I16(Arc::new(from_le_bytes(bytes))),
            DType::U32 => ArrayData::U32(Arc::new(from_le_bytes(bytes))),
            DType::I32 => ArrayData::I32(Arc::new(from_le_bytes(bytes))),
            DType::U64 => ArrayData::U64(Arc::new(from_le_bytes(bytes))),
            DType::I64 => ArrayData::I64(Arc::new(from_le_bytes(bytes))),
            DType::F32 => ArrayData::F32(Arc::new(from_le_bytes(bytes))),
            DType::F64 => ArrayData::F64(Arc::new(from_le_bytes(bytes))),
        };
        Ok(Self { dtype, shape, data })
    }

    /// A float32 array; panics if `data.len()` does not match `shape`.
    pub fn from_f32(shape: Vec<usize>, data: impl Into<Arc<Vec<f32>>>) -> Self {
        let data = data.into();
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match data length");
        Self { dtype: DType::F32, shape, data: ArrayData::F32(data) }
    }

    /// An int64 array; panics if `data.len()` does not match `shape`.
    pub fn from_i64(shape: Vec<usize>, data: impl Into<Arc<Vec<i64>>>) -> Self {
        let data = data.into();
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match data length");
        Self { dtype: DType::I64, shape, data: ArrayData::I64(data) }
    }

    /// An array of `dtype` over `data`, whose length matches `shape` (checked by the caller).
    pub(crate) fn from_data(dtype: DType, shape: Vec<usize>, data: ArrayData) -> Self {
        Self { dtype, shape, data }
    }

    /// A uint8 array; panics if `data.len()` does not match `shape`.
    pub fn from_u8(shape: Vec<usize>, data: impl Into<Arc<Vec<u8>>>) -> Self {
        let data = data.into();
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match data length");
        Self { dtype: DType::U8, shape, data: ArrayData::U8(data) }
    }

    /// A uint32 array; panics if `data.len()` does not match `shape`.
    pub fn from_u32(shape: Vec<usize>, data: impl Into<Arc<Vec<u32>>>) -> Self {
        let data = data.into();
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match data length");
        Self { dtype: DType::U32, shape, data: ArrayData::U32(data) }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &ArrayData {
        &self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        with_data!(&self.data, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Payload size in bytes.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype.size()
    }

    /// The data as little-endian bytes, borrowed (no copy) on little-endian hosts.
    pub fn le_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        #[cfg(target_endian = "little")]
        {
            std::borrow::Cow::Borrowed(with_data!(&self.data, v => bytemuck::cast_slice::<_, u8>(v.as_slice())))
        }
        #[cfg(target_endian = "big")]
        {
            let mut out = Vec::with_capacity(self.nbytes());
            with_data!(&self.data, v => for x in v.iter() {
                let mut b = bytemuck::bytes_of(x).to_vec();
                b.reverse();
                out.extend_from_slice(&b);
            });
            std::borrow::Cow::Owned(out)
        }
    }

    /// The data as shared `f32`: no copy for float32, one conversion for
    /// every other dtype (float64 is narrowed, integers are cast).
    pub fn to_f32(&self) -> Arc<Vec<f32>> {
        fn cast<T: Copy + Into<f64>>(v: &[T]) -> Arc<Vec<f32>> {
            Arc::new(v.iter().map(|&x| x.into() as f32).collect())
        }
        match &self.data {
            ArrayData::F32(v) => Arc::clone(v),
            ArrayData::F64(v) => cast(v),
            ArrayData::U8(v) => cast(v),
            ArrayData::I8(v) => cast(v),
            ArrayData::U16(v) => cast(v),
            ArrayData::I16(v) => cast(v),
            ArrayData::U32(v) => cast(v),
            ArrayData::I32(v) => cast(v),
            ArrayData::U64(v) => Arc::new(v.iter().map(|&x| x as f32).collect()),
            ArrayData::I64(v) => Arc::new(v.iter().map(|&x| x as f32).collect()),
        }
    }

    /// The data as `i64` if the dtype is an integer (or bool) type.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        Some(match &self.data {
            ArrayData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::U16(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::I16(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::U32(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::U64(v) => v.iter().map(|&x| x.min(i64::MAX as u64) as i64).collect(),
            ArrayData::I64(v) => v.as_ref().clone(),
            ArrayData::F32(_) | ArrayData::F64(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float32_round_trip_through_bytes() {
        let a = NdArray::from_f32(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5]);
        let bytes = a.le_bytes().into_owned();
        let b = NdArray::from_le_bytes(DType::F32, vec![2, 3], &bytes).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.nbytes(), 24);
    }

    #[test]
    fn float64_narrows_to_f32() {
        let raw: Vec<u8> = [1.5f64, -2.25].iter().flat_map(|x| x.to_le_bytes()).collect();
        let a = NdArray::from_le_bytes(DType::F64, vec![2], &raw).unwrap();
        assert_eq!(a.to_f32().as_slice(), &[1.5f32, -2.25]);
    }

    #[test]
    fn byte_length_mismatch_is_reported() {
        let err = NdArray::from_le_bytes(DType::F32, vec![2, 3], &[0u8; 20]).unwrap_err();
        assert_eq!(err.to_string(), "array of dtype float32 and shape [2, 3] needs 24 bytes but 20 were sent");
    }

    #[test]
    fn shape_overflow_is_reported() {
        let err = NdArray::from_le_bytes(DType::F64, vec![usize::MAX, 2], &[]).unwrap_err();
        assert!(matches!(err, ArrayError::ShapeOverflow { .. }));
    }

    #[test]
    fn float32_shares_without_copy() {
        let a = NdArray::from_f32(vec![1], vec![7.0]);
        let s1 = a.to_f32();
        let ArrayData::F32(inner) = a.data() else { unreachable!() };
        assert!(Arc::ptr_eq(&s1, inner));
    }

    #[test]
    fn dtype_names_parse() {
        for d in ["float32", "<f4", "float64", "int32", "int64", "uint32", "uint8", "|u1", "bool"] {
            assert!(DType::parse(d).is_some(), "{d}");
        }
        assert!(DType::parse(">f4").is_none(), "big-endian arrays must be converted by the client");
        assert!(DType::parse("complex64").is_none());
    }
}
