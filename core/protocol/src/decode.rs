//! A bounded MessagePack decoder.
//!
//! Hand-written rather than serde-driven for two reasons: n-d array payloads
//! are copied exactly once (wire bytes -> typed `Vec`), and hostile input
//! cannot exhaust memory or stack: nesting depth is limited and every length
//! is checked against the bytes actually present before anything is allocated.

use crate::array::{ArrayError, DType, NdArray};
use crate::parts::Transfers;
use crate::value::Value;

/// The key that marks a map as an n-d array. It must be the map's first key.
pub const NDARRAY_KEY: &str = "__ndarray__";

/// Byte ranges of a top-level map's values, by key.
pub type Spans = Vec<(String, std::ops::Range<usize>)>;

/// Limits applied while decoding untrusted input.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Maximum nesting of arrays and maps.
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_depth: 64 }
    }
}

/// Why a frame is not a valid Periscope MessagePack value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated MessagePack: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid MessagePack marker 0x{marker:02x} at offset {offset}")]
    InvalidMarker { offset: usize, marker: u8 },
    #[error("MessagePack ext types are not supported (ext type {ext_type} at offset {offset})")]
    Ext { offset: usize, ext_type: i8 },
    #[error("MessagePack string at offset {offset} is not valid UTF-8")]
    Utf8 { offset: usize },
    #[error("MessagePack nesting deeper than {max} levels at offset {offset}")]
    TooDeep { offset: usize, max: usize },
    #[error("{len} trailing bytes after the MessagePack value")]
    Trailing { len: usize },
    #[error("bad n-d array at offset {offset}: {reason}")]
    NdArray { offset: usize, reason: String },
    #[error("bad n-d array at offset {offset}: {source}")]
    ArrayBytes {
        offset: usize,
        #[source]
        source: ArrayError,
    },
}

/// Decodes exactly one MessagePack value that must span all of `bytes`.
pub fn decode_value(bytes: &[u8], limits: DecodeLimits) -> Result<Value, DecodeError> {
    decode_value_with_spans(bytes, limits).map(|(v, _)| v)
}

/// Like [`decode_value`], and also returns the byte range of every value of
/// a top-level map, by key (so `args`/`kwargs` can be handed on without re-encoding).
pub fn decode_value_with_spans(bytes: &[u8], limits: DecodeLimits) -> Result<(Value, Spans), DecodeError> {
    let mut d = Decoder { buf: bytes, pos: 0, limits, spans: Vec::new(), transfers: None, used_transfers: 0 };
    let v = d.value(0)?;
    if d.pos != bytes.len() {
        return Err(DecodeError::Trailing { len: bytes.len() - d.pos });
    }
    Ok((v, d.spans))
}

/// Like [`decode_value_with_spans`]; arrays given as `{"__ndarray__": dtype,
/// "shape": [...], "transfer": id}` are taken from `transfers` (their parts
/// arrived before, see [`Transfers`]). Also returns how many were taken.
pub fn decode_value_with_transfers(
    bytes: &[u8],
    limits: DecodeLimits,
    transfers: &mut Transfers,
) -> Result<(Value, Spans, usize), DecodeError> {
    let mut d =
        Decoder { buf: bytes, pos: 0, limits, spans: Vec::new(), transfers: Some(transfers), used_transfers: 0 };
    let v = d.value(0)?;
    if d.pos != bytes.len() {
        return Err(DecodeError::Trailing { len: bytes.len() - d.pos });
    }
    Ok((v, d.spans, d.used_transfers))
}

/// An `ARRAY_PART` message read in place: its `data` borrowed from the frame.
#[derive(Debug, Default)]
pub(crate) struct PartView<'a> {
    pub seq: Option<u64>,
    pub transfer: Option<Value>,
    pub dtype: Option<Value>,
    pub nbytes: Option<Value>,
    pub data: Option<&'a [u8]>,
}

/// Reads `bytes` as an `ARRAY_PART` message when its first key is `type` with
/// the value `type_number` (the official clients write `type` first);
/// `Ok(None)` for any other message.
pub(crate) fn decode_part(bytes: &[u8], type_number: i64) -> Result<Option<PartView<'_>>, DecodeError> {
    let mut d = Decoder::plain(bytes);
    let Some(n) = d.map_len()? else { return Ok(None) };
    if n == 0 || d.value(1)?.as_str() != Some("type") || d.value(1)?.as_i64() != Some(type_number) {
        return Ok(None);
    }
    let mut part = PartView::default();
    for _ in 1..n {
        match d.value(1)?.as_str() {
            Some("kwargs") => {
                let offset = d.pos;
                let m = d.map_len()?.ok_or(DecodeError::NdArray { offset, reason: "kwargs must be a map".into() })?;
                for _ in 0..m {
                    match d.value(2)?.as_str() {
                        Some("data") => part.data = Some(d.bin_slice()?),
                        Some("transfer") => part.transfer = Some(d.value(2)?),
                        Some("dtype") => part.dtype = Some(d.value(2)?),
                        Some("nbytes") => part.nbytes = Some(d.value(2)?),
                        _ => {
                            d.value(2)?;
                        }
                    }
                }
            }
            Some("seq") => part.seq = d.value(1)?.as_i64().and_then(|s| u64::try_from(s).ok()),
            _ => {
                d.value(1)?;
            }
        }
    }
    if d.pos != bytes.len() {
        return Err(DecodeError::Trailing { len: bytes.len() - d.pos });
    }
    Ok(Some(part))
}

/// The `type` and `seq` of a message, read without decoding the rest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub kind: Option<i64>,
    pub seq: Option<u64>,
}

/// Reads the top-level `type` and `seq` of a frame that may not decode as a
/// whole (a bad array, a string that is not UTF-8, ...), so that the error
/// answering it can cite the sender's `seq` and a waiting request gets its
/// answer. Other values are skipped without allocating; what cannot be read
/// stays `None`.
pub fn peek_header(bytes: &[u8]) -> Header {
    let mut d = Decoder::plain(bytes);
    let mut header = Header::default();
    let Ok(Some(n)) = d.map_len() else { return header };
    for _ in 0..n {
        let key = match d.buf.get(d.pos) {
            // Keys are short strings; anything else is skipped.
            Some(0xa0..=0xbf | 0xd9) => d.value(1).ok(),
            _ => None,
        };
        let key = key.as_ref().and_then(Value::as_str);
        match key {
            Some("type") | Some("seq") => {
                let Ok(v) = d.value(1) else { break };
                if key == Some("type") {
                    header.kind = v.as_i64();
                } else {
                    header.seq = v.as_i64().and_then(|s| u64::try_from(s).ok());
                }
            }
            _ => {
                if key.is_none() && d.skip().is_err() {
                    break;
                }
                if d.skip().is_err() {
                    break;
                }
            }
        }
    }
    header
}

struct Decoder<'a, 't> {
    buf: &'a [u8],
    pos: usize,
    limits: DecodeLimits,
    spans: Spans,
    transfers: Option<&'t mut Transfers>,
    used_transfers: usize,
}

impl<'a> Decoder<'a, '_> {
    /// A decoder with the default limits, no spans and no array parts.
    fn plain(bytes: &'a [u8]) -> Self {
        Decoder {
            buf: bytes,
            pos: 0,
            limits: DecodeLimits::default(),
            spans: Vec::new(),
            transfers: None,
            used_transfers: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.buf.len() - self.pos;
        if n > remaining {
            return Err(DecodeError::Truncated { offset: self.pos, needed: n - remaining });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array_of<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array_of::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array_of()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array_of()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array_of()?))
    }

    /// Checks that `count` items of at least one byte each can still follow.
    fn check_count(&self, count: usize) -> Result<(), DecodeError> {
        let remaining = self.buf.len() - self.pos;
        if count > remaining {
            return Err(DecodeError::Truncated { offset: self.pos, needed: count - remaining });
        }
        Ok(())
    }

    fn str(&mut self, len: usize) -> Result<String, DecodeError> {
        let offset = self.pos;
        let s = self.take(len)?;
        std::str::from_utf8(s).map(str::to_owned).map_err(|_| DecodeError::Utf8 { offset })
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let offset = self.pos;
        let m = self.u8()?;
        Ok(match m {
            0x00..=0x7f => Value::Int(m as i64),
            0x80..=0x8f => return self.map((m & 0x0f) as usize, depth, offset),
            0x90..=0x9f => return self.array((m & 0x0f) as usize, depth, offset),
            0xa0..=0xbf => Value::Str(self.str((m & 0x1f) as usize)?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = self.u8()? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc5 => {
                let n = self.u16()? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc6 => {
                let n = self.u32()? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                let ext_type = match m {
                    0xc7 => self.take(2)?[1] as i8,
                    0xc8 => self.take(3)?[2] as i8,
                    0xc9 => self.take(5)?[4] as i8,
                    _ => self.u8()? as i8,
                };
                return Err(DecodeError::Ext { offset, ext_type });
            }
            0xca => Value::Float(f32::from_be_bytes(self.array_of()?) as f64),
            0xcb => Value::Float(f64::from_be_bytes(self.array_of()?)),
            0xcc => Value::Int(self.u8()? as i64),
            0xcd => Value::Int(self.u16()? as i64),
            0xce => Value::Int(self.u32()? as i64),
            0xcf => Value::from(self.u64()?),
            0xd0 => Value::Int(i8::from_be_bytes(self.array_of()?) as i64),
            0xd1 => Value::Int(i16::from_be_bytes(self.array_of()?) as i64),
            0xd2 => Value::Int(i32::from_be_bytes(self.array_of()?) as i64),
            0xd3 => Value::Int(i64::from_be_bytes(self.array_of()?)),
            0xd9 => {
                let n = self.u8()? as usize;
                Value::Str(self.str(n)?)
            }
            0xda => {
                let n = self.u16()? as usize;
                Value::Str(self.str(n)?)
            }
            0xdb => {
                let n = self.u32()? as usize;
                Value::Str(self.str(n)?)
            }
            0xdc => {
                let n = self.u16()? as usize;
                return self.array(n, depth, offset);
            }
            0xdd => {
                let n = self.u32()? as usize;
                return self.array(n, depth, offset);
            }
            0xde => {
                let n = self.u16()? as usize;
                return self.map(n, depth, offset);
            }
            0xdf => {
                let n = self.u32()? as usize;
                return self.map(n, depth, offset);
            }
            0xe0..=0xff => Value::Int(m as i8 as i64),
            0xc1 => return Err(DecodeError::InvalidMarker { offset, marker: m }),
        })
    }

    /// Steps over one value without building it (for [`peek_header`]):
    /// iterative, so any nesting is skipped in constant stack, each byte once.
    fn skip(&mut self) -> Result<(), DecodeError> {
        let mut remaining: usize = 1;
        while remaining > 0 {
            remaining -= 1;
            let offset = self.pos;
            let m = self.u8()?;
            let (bytes, items) = match m {
                0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
                0x80..=0x8f => (0, 2 * (m & 0x0f) as usize),
                0x90..=0x9f => (0, (m & 0x0f) as usize),
                0xa0..=0xbf => ((m & 0x1f) as usize, 0),
                0xc4 | 0xd9 => (self.u8()? as usize, 0),
                0xc5 | 0xda => (self.u16()? as usize, 0),
                0xc6 | 0xdb => (self.u32()? as usize, 0),
                0xc7 => (self.u8()? as usize + 1, 0),
                0xc8 => (self.u16()? as usize + 1, 0),
                0xc9 => (self.u32()? as usize + 1, 0),
                0xca => (4, 0),
                0xcb => (8, 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xce | 0xd2 => (4, 0),
                0xcf | 0xd3 => (8, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xdc => (0, self.u16()? as usize),
                0xdd => (0, self.u32()? as usize),
                0xde => (0, 2 * self.u16()? as usize),
                0xdf => (0, 2 * self.u32()? as usize),
                0xc1 => return Err(DecodeError::InvalidMarker { offset, marker: m }),
            };
            self.take(bytes)?;
            // Every item takes at least one byte: a claimed count past the end fails here.
            self.check_count(remaining.saturating_add(items))?;
            remaining += items;
        }
        Ok(())
    }

    fn enter(&self, depth: usize, offset: usize) -> Result<usize, DecodeError> {
        if depth >= self.limits.max_depth {
            return Err(DecodeError::TooDeep { offset, max: self.limits.max_depth });
        }
        Ok(depth + 1)
    }

    fn array(&mut self, n: usize, depth: usize, offset: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth, offset)?;
        self.check_count(n)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize, offset: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth, offset)?;
        self.check_count(n.saturating_mul(2))?;
        if n == 0 {
            return Ok(Value::Map(Vec::new()));
        }
        let first_key = self.value(depth)?;
        if first_key.as_str() == Some(NDARRAY_KEY) {
            return self.ndarray_rest(n - 1, depth, offset);
        }
        let top = depth == 1;
        let mut entries = Vec::with_capacity(n);
        let start = self.pos;
        let first_val = self.value(depth)?;
        if top && let Some(k) = first_key.as_str() {
            self.spans.push((k.to_owned(), start..self.pos));
        }
        entries.push((first_key, first_val));
        for _ in 1..n {
            let k = self.value(depth)?;
            let start = self.pos;
            let v = self.value(depth)?;
            if top && let Some(k) = k.as_str() {
                self.spans.push((k.to_owned(), start..self.pos));
            }
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }

    /// The length of the list that comes next, without reading it (`None`
    /// if the next value is not a list or its header is cut off).
    fn array_len_ahead(&self) -> Option<usize> {
        let rest = self.buf.get(self.pos..)?;
        match *rest.first()? {
            m @ 0x90..=0x9f => Some((m & 0x0f) as usize),
            0xdc => Some(u16::from_be_bytes(rest.get(1..3)?.try_into().ok()?) as usize),
            0xdd => Some(u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?) as usize),
            _ => None,
        }
    }

    /// A map header's entry count, or `None` (nothing read) if the next value is not a map.
    fn map_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let Some(&m) = self.buf.get(self.pos) else {
            return Err(DecodeError::Truncated { offset: self.pos, needed: 1 });
        };
        let n = match m {
            0x80..=0x8f => (m & 0x0f) as usize,
            0xde => {
                self.pos += 1;
                return Ok(Some(self.u16()? as usize));
            }
            0xdf => {
                self.pos += 1;
                return Ok(Some(self.u32()? as usize));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(n))
    }

    /// Reads a bin payload as a borrowed slice (no copy).
    fn bin_slice(&mut self) -> Result<&'a [u8], DecodeError> {
        let offset = self.pos;
        let m = self.u8()?;
        let n = match m {
            0xc4 => self.u8()? as usize,
            0xc5 => self.u16()? as usize,
            0xc6 => self.u32()? as usize,
            _ => {
                return Err(DecodeError::NdArray {
                    offset,
                    reason: format!("\"data\" must be MessagePack bin, found marker 0x{m:02x}"),
                });
            }
        };
        self.take(n)
    }

    /// Decodes the rest of an `{"__ndarray__": dtype, "shape": [...], "data": bin}` map.
    fn ndarray_rest(&mut self, remaining_entries: usize, depth: usize, offset: usize) -> Result<Value, DecodeError> {
        let bad = |reason: String| DecodeError::NdArray { offset, reason };
        let dtype_val = self.value(depth)?;
        let dtype_name = dtype_val
            .as_str()
            .ok_or_else(|| bad(format!("dtype must be a string, found {}", dtype_val.type_name())))?;
        let dtype = DType::parse(dtype_name).ok_or_else(|| {
            bad(format!(
                "unsupported dtype {} (accepted: bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64; little-endian)",
                crate::limits::excerpt(dtype_name)
            ))
        })?;
        let mut shape: Option<Vec<usize>> = None;
        let mut data: Option<&'a [u8]> = None;
        let mut transfer: Option<i64> = None;
        for _ in 0..remaining_entries {
            let key = self.value(depth)?;
            match key.as_str() {
                Some("shape") => {
                    // The dimension count is checked before the list is read:
                    // a shape of millions of 1s would otherwise be decoded
                    // (and quoted in errors) in full.
                    if let Some(ndim) = self.array_len_ahead()
                        && ndim > crate::array::MAX_NDIM
                    {
                        return Err(bad(format!("shape has {ndim} dimensions, more than {}", crate::array::MAX_NDIM)));
                    }
                    let v = self.value(depth)?;
                    let Value::Array(dims) = v else {
                        return Err(bad(format!("shape must be a list of integers, found {}", v.type_name())));
                    };
                    let dims = dims
                        .iter()
                        .map(|d| d.as_i64().and_then(|d| usize::try_from(d).ok()))
                        .collect::<Option<Vec<usize>>>()
                        .ok_or_else(|| bad("shape must hold non-negative integers".into()))?;
                    shape = Some(dims);
                }
                Some("data") => data = Some(self.bin_slice()?),
                Some("transfer") => {
                    let v = self.value(depth)?;
                    transfer = Some(
                        v.as_i64().ok_or_else(|| bad(format!("transfer must be an int, found {}", v.type_name())))?,
                    );
                }
                _ => {
                    // Unknown fields are ignored, as everywhere in the protocol.
                    self.value(depth)?;
                }
            }
        }
        let shape = shape.ok_or_else(|| bad("missing \"shape\"".into()))?;
        if let (None, Some(id)) = (data, transfer) {
            let transfers = self
                .transfers
                .as_deref_mut()
                .ok_or_else(|| bad("\"transfer\" (array parts) is only accepted in messages from a client".into()))?;
            let a = transfers.take(id, dtype, shape).map_err(bad)?;
            self.used_transfers += 1;
            return Ok(Value::NdArray(a));
        }
        let data = data.ok_or_else(|| bad("missing \"data\"".into()))?;
        NdArray::from_le_bytes(dtype, shape, data)
            .map(Value::NdArray)
            .map_err(|source| DecodeError::ArrayBytes { offset, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode_value;

    fn roundtrip(v: &Value) -> Value {
        decode_value(&encode_value(v), DecodeLimits::default()).unwrap()
    }

    #[test]
    fn scalars_and_containers_round_trip() {
        let v = Value::map([
            ("nil", Value::Nil),
            ("t", Value::Bool(true)),
            ("small", Value::Int(5)),
            ("neg", Value::Int(-33)),
            ("big", Value::Int(1 << 40)),
            ("huge", Value::UInt(u64::MAX)),
            ("min", Value::Int(i64::MIN)),
            ("f", Value::Float(0.125)),
            ("s", Value::Str("héllo".repeat(20))),
            ("b", Value::Bin(vec![1, 2, 3])),
            ("list", Value::Array((0..300).map(Value::Int).collect())),
        ]);
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn ndarray_round_trip() {
        let a = NdArray::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let v = Value::map([("vertices", Value::NdArray(a))]);
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn top_level_spans_cover_each_value() {
        let v = Value::map([
            ("type", Value::Int(2)),
            ("args", Value::from(vec![1i64, 2])),
            ("kwargs", Value::map([("a", Value::Int(1))])),
        ]);
        let bytes = encode_value(&v);
        let (_, spans) = decode_value_with_spans(&bytes, DecodeLimits::default()).unwrap();
        let args = &spans.iter().find(|(k, _)| k == "args").unwrap().1;
        assert_eq!(decode_value(&bytes[args.clone()], DecodeLimits::default()).unwrap(), Value::from(vec![1i64, 2]));
        let kwargs = &spans.iter().find(|(k, _)| k == "kwargs").unwrap().1;
        assert_eq!(&bytes[kwargs.clone()], &encode_value(&Value::map([("a", Value::Int(1))]))[..]);
    }

    #[test]
    fn headers_are_read_from_frames_that_do_not_decode() {
        let bad_array = Value::Map(vec![
            (Value::from(NDARRAY_KEY), Value::from("not-a-dtype")),
            (Value::from("shape"), Value::Array(vec![Value::Int(2)])),
        ]);
        let msg = Value::Map(vec![
            (Value::from("type"), Value::Int(304)),
            (Value::from("args"), Value::Array(vec![bad_array, Value::Bin(vec![1; 300])])),
            (Value::from("kwargs"), Value::map([("x", Value::Str("y".repeat(70_000)))])),
            (Value::from("seq"), Value::Int(237)),
        ]);
        let bytes = crate::encode_value(&msg);
        assert!(decode_value(&bytes, DecodeLimits::default()).is_err());
        assert_eq!(peek_header(&bytes), Header { kind: Some(304), seq: Some(237) });
        // Damaged or foreign frames: no panic, what can be read.
        for cut in 0..bytes.len().min(64) {
            let _ = peek_header(&bytes[..cut]);
        }
        assert_eq!(peek_header(&[0x93, 1, 2, 3]), Header::default());
        let nested = (0..200).fold(Value::Int(1), |v, _| Value::Array(vec![v]));
        let deep = Value::Map(vec![(Value::from("args"), nested), (Value::from("seq"), Value::Int(5))]);
        // Too deep to decode, not to skip: the seq after it is read.
        assert_eq!(peek_header(&crate::encode_value(&deep)).seq, Some(5));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let a = NdArray::from_f32(vec![3], vec![1.0, 2.0, 3.0]);
        let v = Value::map([("a", Value::NdArray(a)), ("s", "text".into()), ("n", Value::Int(70000))]);
        let bytes = encode_value(&v);
        for cut in 0..bytes.len() {
            assert!(decode_value(&bytes[..cut], DecodeLimits::default()).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn huge_claimed_lengths_do_not_allocate() {
        // array32 claiming 4 billion elements with 2 bytes present.
        let err = decode_value(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02], DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
        let err = decode_value(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00], DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let bytes = vec![0x91; 10_000];
        let err = decode_value(&bytes, DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::TooDeep { max: 64, .. }), "{err}");
    }

    #[test]
    fn trailing_bytes_and_bad_markers() {
        assert_eq!(decode_value(&[0xc0, 0xc0], DecodeLimits::default()), Err(DecodeError::Trailing { len: 1 }));
        assert!(matches!(
            decode_value(&[0xc1], DecodeLimits::default()),
            Err(DecodeError::InvalidMarker { marker: 0xc1, .. })
        ));
        assert!(matches!(
            decode_value(&[0xd4, 0x05, 0x00], DecodeLimits::default()),
            Err(DecodeError::Ext { ext_type: 5, .. })
        ));
        assert!(matches!(decode_value(&[0xa2, 0xff, 0xfe], DecodeLimits::default()), Err(DecodeError::Utf8 { .. })));
    }

    #[test]
    fn shapes_with_more_dims_than_numpy_are_refused_before_reading_them() {
        let ones = Value::Array(vec![Value::Int(1); 100_000]);
        let arr = Value::Map(vec![
            (Value::from(NDARRAY_KEY), Value::from("float32")),
            (Value::from("shape"), ones),
            (Value::from("data"), Value::Bin(vec![0; 4])),
        ]);
        let err = decode_value(&crate::encode_value(&arr), DecodeLimits::default()).unwrap_err().to_string();
        assert!(err.contains("shape has 100000 dimensions, more than 32"), "{err}");
        assert!(err.len() < 200, "{err}");
        let shape = vec![1usize; 33];
        assert!(matches!(
            NdArray::from_le_bytes(crate::DType::F32, shape, &[0; 4]),
            Err(crate::ArrayError::TooManyDims { ndim: 33 })
        ));
    }

    #[test]
    fn ndarray_errors_are_specific() {
        let make = |dtype: &str, shape: Vec<Value>, data: Vec<u8>| {
            let v = Value::Map(vec![
                (NDARRAY_KEY.into(), dtype.into()),
                ("shape".into(), Value::Array(shape)),
                ("data".into(), Value::Bin(data)),
            ]);
            decode_value(&encode_value(&v), DecodeLimits::default()).unwrap_err().to_string()
        };
        assert!(make("complex64", vec![Value::Int(1)], vec![0; 8]).contains("unsupported dtype \"complex64\""));
        assert!(make("float32", vec![Value::Int(2)], vec![0; 7]).contains("needs 8 bytes but 7 were sent"));
        assert!(make("float32", vec![Value::Int(-2)], vec![]).contains("non-negative"));
    }

    /// Deterministic fuzzing: random mutations of valid frames never panic.
    #[test]
    fn mutated_frames_never_panic() {
        let a = NdArray::from_f32(vec![2, 3], vec![0.5; 6]);
        let v = Value::map([
            ("type", Value::Int(2)),
            ("uid", Value::Int(7)),
            ("args", Value::Array(vec![Value::NdArray(a)])),
            ("kwargs", Value::map([("name", Value::from("x")), ("scale", Value::Float(0.5))])),
        ]);
        let base = encode_value(&v);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut b = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            if next() % 5 == 0 {
                b.truncate((next() as usize) % b.len());
            }
            let _ = decode_value(&b, DecodeLimits::default());
        }
    }
}
