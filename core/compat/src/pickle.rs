//! A restricted pickle decoder (protocols 2 to 5).
//!
//! It interprets the data opcodes of Python's pickle format and resolves
//! `GLOBAL`/`STACK_GLOBAL` against a short allowlist. `REDUCE` and `BUILD`
//! are only understood for those globals, where they *describe* a value
//! (a numpy array, a dtype, an enum member, a range) that this decoder builds
//! itself. Nothing is imported, looked up or called.
//!
//! Containers live in an arena addressed by index, so the memo keeps Python's
//! object identity (a list memoized before it is filled is found filled) and
//! self-referencing structures cannot leak: the arena is dropped at the end.
//! Conversion to [`Value`] is bounded in depth and in output size, so shared
//! sub-objects cannot be used to blow up memory.

use std::collections::HashMap;
use std::rc::Rc;

use periscope_protocol::{DType, NdArray, Value};

/// What one value of the result costs against the output byte budget (about
/// the size of a `Value`), besides the bytes of its strings and byte strings.
const VALUE_COST: usize = 32;

/// Limits applied while decoding untrusted pickles.
#[derive(Clone, Copy, Debug)]
pub struct PickleLimits {
    /// Maximum nesting of containers in the result.
    pub max_depth: usize,
    /// Maximum number of values in the result (ranges count their elements).
    pub max_items: usize,
}

impl Default for PickleLimits {
    fn default() -> Self {
        Self { max_depth: 64, max_items: 10_000_000 }
    }
}

/// Why a pickle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    #[error("truncated pickle: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("refused pickle at offset {offset}: {what}")]
    Refused { offset: usize, what: String },
    #[error("invalid pickle at offset {offset}: {reason}")]
    Invalid { offset: usize, reason: String },
    #[error("pickle result too large or too deep: {0}")]
    TooLarge(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Reconstruct,
    NdArrayClass,
    DTypeClass,
    FromBuffer,
    Scalar,
    MessageEnum,
    Range,
    CodecsEncode,
    ByteArray,
    Set,
}

fn resolve(module: &str, name: &str) -> Option<Global> {
    use Global::*;
    Some(match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => Reconstruct,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Scalar,
        ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => FromBuffer,
        ("numpy", "ndarray") | ("trimesh.caching", "TrackedArray") => NdArrayClass,
        ("numpy", "dtype") => DTypeClass,
        ("aitviewer.remote.message", "Message") => MessageEnum,
        ("builtins", "range") | ("__builtin__", "xrange") => Range,
        ("_codecs", "encode") => CodecsEncode,
        ("builtins" | "__builtin__", "bytearray" | "bytes") => ByteArray,
        ("builtins" | "__builtin__", "set" | "frozenset") => Set,
        _ => return None,
    })
}

/// A value on the VM stack. Containers are arena indices.
#[derive(Clone, Debug)]
enum P {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<Vec<u8>>),
    Obj(usize),
    Global(Global),
}

#[derive(Debug)]
enum Obj {
    Tuple(Vec<P>),
    List(Vec<P>),
    Dict(Vec<(P, P)>),
    /// `numpy.dtype(code)`, byte order set by BUILD.
    DType {
        code: String,
        order: u8,
    },
    /// `_reconstruct(ndarray, ...)` before BUILD gives it its state.
    PendingArray,
    Array(NdArray),
    Range(i64, i64, i64),
}

struct Vm<'a> {
    buf: &'a [u8],
    pos: usize,
    op_at: usize,
    stack: Vec<P>,
    marks: Vec<usize>,
    memo: HashMap<u32, P>,
    arena: Vec<Obj>,
}

/// Decodes a pickle into a plain value, refusing anything but data.
pub fn unpickle(buf: &[u8], limits: PickleLimits) -> Result<Value, PickleError> {
    let mut vm =
        Vm { buf, pos: 0, op_at: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), arena: Vec::new() };
    let top = vm.run()?;
    let mut budget = limits.max_items;
    // Output memory proportional to the input: a value per input byte (what a
    // list of small ints takes) plus 4 MiB; shared references are charged
    // each time they are expanded.
    let byte_budget = buf.len().saturating_mul(VALUE_COST).saturating_add(4 << 20);
    let mut bytes_left = byte_budget;
    vm.convert(&top, 0, limits.max_depth, &mut budget, &mut bytes_left)
}

impl<'a> Vm<'a> {
    fn invalid(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Invalid { offset: self.op_at, reason: reason.into() }
    }

    fn refused(&self, what: impl Into<String>) -> PickleError {
        PickleError::Refused { offset: self.op_at, what: what.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(PickleError::Truncated { offset: self.pos, needed: n - left });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len_u8(&mut self) -> Result<usize, PickleError> {
        Ok(self.le::<1>()?[0] as usize)
    }
    fn len_u32(&mut self) -> Result<usize, PickleError> {
        Ok(u32::from_le_bytes(self.le()?) as usize)
    }
    fn len_u64(&mut self) -> Result<usize, PickleError> {
        usize::try_from(u64::from_le_bytes(self.le()?)).map_err(|_| self.invalid("length overflows"))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.buf[self.pos..];
        let end =
            rest.iter().position(|&b| b == b'\n').ok_or(PickleError::Truncated { offset: self.pos, needed: 1 })?;
        let s = std::str::from_utf8(&rest[..end]).map_err(|_| self.invalid("GLOBAL name is not UTF-8"))?;
        self.pos += end + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<P, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.invalid("stack underflow"));
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn pop_mark(&mut self) -> Result<Vec<P>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.invalid("no MARK on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    fn top_obj(&mut self) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(P::Obj(i)) => Ok(*i),
            _ => Err(self.invalid("expected a container on the stack")),
        }
    }

    fn new_obj(&mut self, o: Obj) -> P {
        self.arena.push(o);
        P::Obj(self.arena.len() - 1)
    }

    fn str_of(&mut self, n: usize) -> Result<P, PickleError> {
        let s = self.take(n)?;
        let s = std::str::from_utf8(s).map_err(|_| self.invalid("string is not UTF-8"))?;
        Ok(P::Str(Rc::from(s)))
    }

    fn bytes_of(&mut self, n: usize) -> Result<P, PickleError> {
        Ok(P::Bytes(Rc::new(self.take(n)?.to_vec())))
    }

    fn run(&mut self) -> Result<P, PickleError> {
        loop {
            self.op_at = self.pos;
            let op = self.le::<1>()?[0];
            match op {
                0x80 => {
                    let proto = self.le::<1>()?[0];
                    if !(2..=5).contains(&proto) {
                        return Err(self.refused(format!("pickle protocol {proto} (accepted: 2 to 5)")));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a size hint
                }
                b'.' => return self.pop(),
                b'N' => self.stack.push(P::None),
                0x88 => self.stack.push(P::Bool(true)),
                0x89 => self.stack.push(P::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?) as i64;
                    self.stack.push(P::Int(v));
                }
                b'K' => {
                    let v = self.le::<1>()?[0] as i64;
                    self.stack.push(P::Int(v));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?) as i64;
                    self.stack.push(P::Int(v));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.len_u8()? } else { self.len_u32()? };
                    let b = self.take(n)?;
                    if n > 8 {
                        return Err(self.refused(format!("an integer of {n} bytes (at most 8 are accepted)")));
                    }
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= (byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(P::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.stack.push(P::Float(v));
                }
                0x8c => {
                    let n = self.len_u8()?;
                    let s = self.str_of(n)?;
                    self.stack.push(s);
                }
                b'X' => {
                    let n = self.len_u32()?;
                    let s = self.str_of(n)?;
                    self.stack.push(s);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let s = self.str_of(n)?;
                    self.stack.push(s);
                }
                b'C' | b'U' => {
                    let n = self.len_u8()?;
                    let b = self.bytes_of(n)?;
                    self.stack.push(b);
                }
                b'B' | b'T' => {
                    let n = self.len_u32()?;
                    let b = self.bytes_of(n)?;
                    self.stack.push(b);
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let b = self.bytes_of(n)?;
                    self.stack.push(b);
                }
                b')' => {
                    let t = self.new_obj(Obj::Tuple(Vec::new()));
                    self.stack.push(t);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = self.new_obj(Obj::Tuple(items));
                    self.stack.push(t);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.new_obj(Obj::Tuple(items));
                    self.stack.push(t);
                }
                b']' => {
                    let l = self.new_obj(Obj::List(Vec::new()));
                    self.stack.push(l);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let l = self.new_obj(Obj::List(items));
                    self.stack.push(l);
                }
                b'}' => {
                    let d = self.new_obj(Obj::Dict(Vec::new()));
                    self.stack.push(d);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = self.dict_from(items)?;
                    self.stack.push(d);
                }
                0x8f => {
                    let s = self.new_obj(Obj::List(Vec::new()));
                    self.stack.push(s);
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let s = self.new_obj(Obj::List(items));
                    self.stack.push(s);
                }
                b'a' => {
                    let v = self.pop()?;
                    let i = self.top_obj()?;
                    self.extend(i, vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    let i = self.top_obj()?;
                    self.extend(i, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let i = self.top_obj()?;
                    self.set_items(i, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let i = self.top_obj()?;
                    self.set_items(i, items)?;
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.stack.last().cloned().ok_or_else(|| self.invalid("DUP on an empty stack"))?;
                    self.stack.push(v);
                }
                0x94 => {
                    let v = self.stack.last().cloned().ok_or_else(|| self.invalid("MEMOIZE on an empty stack"))?;
                    let idx = self.memo.len() as u32;
                    self.memo.insert(idx, v);
                }
                b'q' | b'r' => {
                    let idx = if op == b'q' { self.len_u8()? as u32 } else { self.len_u32()? as u32 };
                    let v = self.stack.last().cloned().ok_or_else(|| self.invalid("PUT on an empty stack"))?;
                    self.memo.insert(idx, v);
                }
                b'h' | b'j' => {
                    let idx = if op == b'h' { self.len_u8()? as u32 } else { self.len_u32()? as u32 };
                    let v = self.memo.get(&idx).cloned().ok_or_else(|| self.invalid(format!("memo {idx} is empty")))?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = self.global(module, name)?;
                    self.stack.push(g);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (P::Str(module), P::Str(name)) = (module, name) else {
                        return Err(self.invalid("STACK_GLOBAL needs two strings"));
                    };
                    let g = self.global(&module, &name)?;
                    self.stack.push(g);
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let i = self.top_obj()?;
                    self.build(i, state)?;
                }
                0x97 | 0x98 => return Err(self.refused("out-of-band pickle buffers")),
                other => {
                    return Err(self.refused(format!("opcode 0x{other:02x} ({:?})", other as char)));
                }
            }
        }
    }

    fn global(&self, module: &str, name: &str) -> Result<P, PickleError> {
        resolve(module, name).map(P::Global).ok_or_else(|| {
            self.refused(format!(
                "global {module}.{name} is not allowed (only numpy arrays, aitviewer's Message and range are accepted)"
            ))
        })
    }

    fn dict_from(&mut self, items: Vec<P>) -> Result<P, PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.invalid("dict items come in pairs"));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        Ok(self.new_obj(Obj::Dict(pairs)))
    }

    fn extend(&mut self, i: usize, items: Vec<P>) -> Result<(), PickleError> {
        match &mut self.arena[i] {
            Obj::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(self.invalid("APPEND to something that is not a list")),
        }
    }

    fn set_items(&mut self, i: usize, items: Vec<P>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.invalid("SETITEMS needs key/value pairs"));
        }
        let Obj::Dict(d) = &mut self.arena[i] else {
            return Err(self.invalid("SETITEM on something that is not a dict"));
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.push((k, v));
        }
        Ok(())
    }

    fn tuple(&self, p: &P) -> Option<&[P]> {
        match p {
            P::Obj(i) => match &self.arena[*i] {
                Obj::Tuple(t) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }

    fn ints(&self, p: &P) -> Option<Vec<usize>> {
        self.tuple(p)?.iter().map(|x| if let P::Int(i) = x { usize::try_from(*i).ok() } else { None }).collect()
    }

    fn reduce(&mut self, callable: P, args: P) -> Result<P, PickleError> {
        let P::Global(g) = callable else {
            return Err(self.refused("REDUCE of something that is not an allowed global"));
        };
        let args: Vec<P> = self.tuple(&args).ok_or_else(|| self.invalid("REDUCE arguments must be a tuple"))?.to_vec();
        let bad = |vm: &Self, what: &str| vm.invalid(format!("unexpected arguments for {what}"));
        Ok(match g {
            Global::Reconstruct => match args.as_slice() {
                [P::Global(Global::NdArrayClass), _, _] => self.new_obj(Obj::PendingArray),
                _ => return Err(bad(self, "numpy _reconstruct")),
            },
            Global::DTypeClass => match args.first() {
                Some(P::Str(code)) => {
                    let code = code.to_string();
                    self.new_obj(Obj::DType { code, order: b'=' })
                }
                _ => return Err(bad(self, "numpy.dtype")),
            },
            Global::MessageEnum => match args.as_slice() {
                [P::Int(v)] => P::Int(*v),
                _ => return Err(bad(self, "aitviewer Message")),
            },
            Global::Range => {
                let n: Vec<i64> = args
                    .iter()
                    .map(|a| if let P::Int(i) = a { Some(*i) } else { None })
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad(self, "range"))?;
                let (start, stop, step) = match n.as_slice() {
                    [stop] => (0, *stop, 1),
                    [start, stop] => (*start, *stop, 1),
                    [start, stop, step] if *step != 0 => (*start, *stop, *step),
                    _ => return Err(bad(self, "range")),
                };
                self.new_obj(Obj::Range(start, stop, step))
            }
            Global::CodecsEncode => match args.as_slice() {
                [P::Str(s), P::Str(enc)] if &**enc == "latin1" || &**enc == "latin-1" => {
                    let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
                    P::Bytes(Rc::new(bytes.ok_or_else(|| self.invalid("latin1 text out of range"))?))
                }
                _ => return Err(bad(self, "_codecs.encode")),
            },
            Global::ByteArray => match args.as_slice() {
                [] => P::Bytes(Rc::new(Vec::new())),
                [P::Bytes(b)] => P::Bytes(Rc::clone(b)),
                _ => return Err(bad(self, "bytearray")),
            },
            Global::Set => match args.as_slice() {
                [] => self.new_obj(Obj::List(Vec::new())),
                [P::Obj(i)] => match &self.arena[*i] {
                    Obj::List(l) | Obj::Tuple(l) => {
                        let l = l.clone();
                        self.new_obj(Obj::List(l))
                    }
                    _ => return Err(bad(self, "set")),
                },
                _ => return Err(bad(self, "set")),
            },
            Global::FromBuffer => match args.as_slice() {
                [P::Bytes(data), dtype, shape, P::Str(order)] => {
                    let dtype = self.dtype(dtype)?;
                    let shape = self.ints(shape).ok_or_else(|| bad(self, "_frombuffer shape"))?;
                    let a = self.array(dtype, shape, &**order == "F", data)?;
                    self.new_obj(Obj::Array(a))
                }
                _ => return Err(bad(self, "numpy _frombuffer")),
            },
            Global::Scalar => match args.as_slice() {
                [dtype, P::Bytes(data)] => {
                    let a = self.array(self.dtype(dtype)?, vec![], false, data)?;
                    match a.to_i64() {
                        Some(v) if a.dtype() == DType::Bool => P::Bool(v[0] != 0),
                        Some(v) => P::Int(v[0]),
                        None => P::Float(a.to_f32()[0] as f64),
                    }
                }
                _ => return Err(bad(self, "numpy scalar")),
            },
            Global::NdArrayClass => return Err(self.refused("calling an array class")),
        })
    }

    /// (dtype, big-endian?) from a `numpy.dtype` object.
    fn dtype(&self, p: &P) -> Result<(DType, bool), PickleError> {
        let P::Obj(i) = p else { return Err(self.invalid("expected a numpy dtype")) };
        let Obj::DType { code, order } = &self.arena[*i] else { return Err(self.invalid("expected a numpy dtype")) };
        let name = match code.as_str() {
            "b1" => "bool",
            "u1" => "uint8",
            "i1" => "int8",
            "u2" => "uint16",
            "i2" => "int16",
            "u4" => "uint32",
            "i4" => "int32",
            "u8" => "uint64",
            "i8" => "int64",
            "f4" => "float32",
            "f8" => "float64",
            other => return Err(self.refused(format!("numpy dtype {other:?} (accepted: b1, (u)int8..64, f4, f8)"))),
        };
        Ok((DType::parse(name).expect("known names"), *order == b'>'))
    }

    /// An array from raw bytes in numpy's layout, converted to little-endian C order.
    fn array(
        &self,
        (dtype, big): (DType, bool),
        shape: Vec<usize>,
        fortran: bool,
        data: &[u8],
    ) -> Result<NdArray, PickleError> {
        let size = dtype.size();
        let mut bytes: Vec<u8>;
        let mut src: &[u8] = data;
        if big && size > 1 {
            bytes = data.to_vec();
            bytes.chunks_exact_mut(size).for_each(<[u8]>::reverse);
            src = &bytes;
        }
        let c_order;
        if fortran && shape.len() > 1 {
            c_order =
                fortran_to_c(src, &shape, size).ok_or_else(|| self.invalid("array data does not match its shape"))?;
            src = &c_order;
        }
        NdArray::from_le_bytes(dtype, shape, src).map_err(|e| self.invalid(e.to_string()))
    }

    fn build(&mut self, i: usize, state: P) -> Result<(), PickleError> {
        match &self.arena[i] {
            Obj::PendingArray => {
                let st = self.tuple(&state).ok_or_else(|| self.invalid("ndarray state must be a tuple"))?.to_vec();
                let [_, shape, dtype, P::Bool(fortran), data] = st.as_slice() else {
                    return Err(self.invalid("unexpected ndarray state"));
                };
                let data = match data {
                    P::Bytes(b) => Rc::clone(b),
                    P::Str(s) => Rc::new(s.chars().map(|c| c as u32 as u8).collect()),
                    _ => return Err(self.refused("object arrays (only numeric numpy arrays are accepted)")),
                };
                let shape = self.ints(shape).ok_or_else(|| self.invalid("ndarray shape"))?;
                let a = self.array(self.dtype(dtype)?, shape, *fortran, &data)?;
                self.arena[i] = Obj::Array(a);
                Ok(())
            }
            Obj::DType { .. } => {
                let order = match self.tuple(&state).and_then(|t| t.get(1).cloned()) {
                    Some(P::Str(o)) => o.bytes().next().unwrap_or(b'='),
                    _ => return Err(self.invalid("unexpected dtype state")),
                };
                if let Obj::DType { order: o, .. } = &mut self.arena[i] {
                    *o = order;
                }
                Ok(())
            }
            Obj::Array(_) => Ok(()), // ndarray subclasses may add attribute state; it is ignored
            _ => Err(self.refused("BUILD on an object that is not a numpy array or dtype")),
        }
    }

    fn convert(
        &self,
        p: &P,
        depth: usize,
        max_depth: usize,
        items: &mut usize,
        bytes: &mut usize,
    ) -> Result<Value, PickleError> {
        if depth > max_depth {
            return Err(PickleError::TooLarge(format!("nested deeper than {max_depth} levels (or self-referencing)")));
        }
        *items = items.checked_sub(1).ok_or_else(|| PickleError::TooLarge("too many values".into()))?;
        // Every value built costs output memory, also when the pickle names
        // one object many times through its memo: charged against the byte
        // budget (proportional to the pickle's size), so a few kB of memo
        // references cannot expand into hundreds of MB.
        let cost = VALUE_COST + if let P::Str(s) = p { s.len() } else { 0 };
        *bytes = bytes
            .checked_sub(cost)
            .ok_or_else(|| PickleError::TooLarge("too many values for the pickle's size (shared references)".into()))?;
        Ok(match p {
            P::None => Value::Nil,
            P::Bool(b) => Value::Bool(*b),
            P::Int(i) => Value::Int(*i),
            P::Float(f) => Value::Float(*f),
            P::Str(s) => Value::Str(s.to_string()),
            P::Bytes(b) => {
                *bytes = bytes.checked_sub(b.len()).ok_or_else(|| PickleError::TooLarge("too many bytes".into()))?;
                Value::Bin(b.to_vec())
            }
            P::Global(_) => return Err(PickleError::Refused { offset: 0, what: "a bare global as a value".into() }),
            P::Obj(i) => match &self.arena[*i] {
                Obj::Tuple(v) | Obj::List(v) => Value::Array(
                    v.iter().map(|x| self.convert(x, depth + 1, max_depth, items, bytes)).collect::<Result<_, _>>()?,
                ),
                Obj::Dict(kv) => Value::Map(
                    kv.iter()
                        .map(|(k, v)| {
                            Ok((
                                self.convert(k, depth + 1, max_depth, items, bytes)?,
                                self.convert(v, depth + 1, max_depth, items, bytes)?,
                            ))
                        })
                        .collect::<Result<_, PickleError>>()?,
                ),
                Obj::Array(a) => Value::NdArray(a.clone()),
                Obj::DType { code, .. } => Value::Str(code.clone()),
                Obj::PendingArray => {
                    return Err(PickleError::Refused { offset: 0, what: "an incomplete numpy array".into() });
                }
                Obj::Range(start, stop, step) => {
                    let n = range_len(*start, *stop, *step);
                    *items =
                        items.checked_sub(n).ok_or_else(|| PickleError::TooLarge(format!("range of {n} elements")))?;
                    let v: Vec<i64> = (0..n as i64).map(|k| start + k * step).collect();
                    Value::NdArray(NdArray::from_i64(vec![n], v))
                }
            },
        })
    }
}

fn range_len(start: i64, stop: i64, step: i64) -> usize {
    let (lo, hi, s) = if step > 0 { (start, stop, step) } else { (stop, start, -step) };
    if hi <= lo { 0 } else { (((hi as i128 - lo as i128) + s as i128 - 1) / s as i128) as usize }
}

/// Reorders Fortran-ordered element bytes into C order.
fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Option<Vec<u8>> {
    let n: usize = shape.iter().product();
    if data.len() != n * size {
        return None;
    }
    let mut out = vec![0u8; data.len()];
    let mut idx = vec![0usize; shape.len()];
    for c in 0..n {
        // Fortran offset: first index varies fastest.
        let mut f = 0;
        let mut stride = 1;
        for (d, &i) in idx.iter().enumerate() {
            f += i * stride;
            stride *= shape[d];
        }
        out[c * size..(c + 1) * size].copy_from_slice(&data[f * size..(f + 1) * size]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}
