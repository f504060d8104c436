//! Property tests of the restricted pickle decoder.
//!
//! - Well-formed pickles, written here the ways Python writes them (protocols
//!   2 to 5, every integer, string, bytes and container opcode, the memo,
//!   frames, numpy arrays in C or Fortran order and either byte order, and
//!   aitviewer messages), decode to exactly the values they hold.
//! - Our own pickler's output round-trips through the decoder.
//! - Refusals are proper errors: a cut pickle is `Truncated` where it was
//!   cut, a forbidden global or opcode is `Refused` at its offset, naming it.
//! - Any bytes, and any opcode soup after a valid protocol header, give a
//!   value or an error (offsets inside the input), never a panic, never
//!   unbounded work.

use std::collections::HashMap;

use periscope_compat::{PickleError, PickleLimits, envelope_from_pickle, pickle_value, unpickle};
use periscope_protocol::{DType, NdArray, Value};
use proptest::collection::vec;
use proptest::prelude::*;

/// Choices for the writer (which opcode, whether to memoize), reproducible
/// from the seed proptest draws.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 1
    }
}

/// Writes values as Python's pickler does (with the variations it allows).
struct Writer {
    out: Vec<u8>,
    proto: u8,
    rng: Rng,
    memo: u32,
    /// Memo index of strings and finished containers already written.
    seen: HashMap<String, u32>,
}

impl Writer {
    fn new(proto: u8, seed: u64) -> Self {
        let mut w = Self { out: vec![0x80, proto], proto, rng: Rng(seed | 1), memo: 0, seen: HashMap::new() };
        if proto >= 4 && w.rng.coin() {
            w.out.push(0x95); // FRAME: a size hint
            w.out.extend(1234u64.to_le_bytes());
        }
        w
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.out
    }

    fn op(&mut self, op: u8) {
        self.out.push(op);
    }

    /// Memoizes the top of the stack (MEMOIZE, BINPUT or LONG_BINPUT).
    fn put(&mut self) -> u32 {
        let idx = self.memo;
        self.memo += 1;
        if self.proto >= 4 && self.rng.coin() {
            self.op(0x94);
        } else if idx < 256 && self.rng.coin() {
            self.op(b'q');
            self.op(idx as u8);
        } else {
            self.op(b'r');
            self.out.extend(idx.to_le_bytes());
        }
        idx
    }

    fn get(&mut self, idx: u32) {
        if idx < 256 && self.rng.coin() {
            self.op(b'h');
            self.op(idx as u8);
        } else {
            self.op(b'j');
            self.out.extend(idx.to_le_bytes());
        }
    }

    /// Pushes a value written before again, through the memo, when it was memoized.
    fn reuse(&mut self, key: &str) -> bool {
        match self.seen.get(key).copied() {
            Some(idx) if self.rng.coin() => {
                self.get(idx);
                true
            }
            _ => false,
        }
    }

    fn int(&mut self, i: i64) {
        let minimal = self.rng.below(4) != 0;
        if minimal && (0..=0xff).contains(&i) {
            self.op(b'K');
            self.op(i as u8);
        } else if minimal && (0..=0xffff).contains(&i) {
            self.op(b'M');
            self.out.extend((i as u16).to_le_bytes());
        } else if minimal && i32::try_from(i).is_ok() {
            self.op(b'J');
            self.out.extend((i as i32).to_le_bytes());
        } else {
            // LONG1 / LONG4: minimal two's complement, little-endian (0 has no bytes).
            let bytes = i.to_le_bytes();
            let mut n = if i == 0 { 0 } else { 8 };
            while n > 1 {
                let (last, prev) = (bytes[n - 1], bytes[n - 2]);
                if !((last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0)) {
                    break;
                }
                n -= 1;
            }
            if self.rng.coin() {
                self.op(0x8a);
                self.op(n as u8);
            } else {
                self.op(0x8b);
                self.out.extend((n as u32).to_le_bytes());
            }
            self.out.extend(&bytes[..n]);
        }
    }

    fn str(&mut self, s: &str) {
        let key = format!("str:{s}");
        if self.reuse(&key) {
            return;
        }
        let len = s.len();
        match self.rng.below(3) {
            0 if self.proto >= 4 && len < 256 => {
                self.op(0x8c);
                self.op(len as u8);
            }
            1 if self.proto >= 4 => {
                self.op(0x8d);
                self.out.extend((len as u64).to_le_bytes());
            }
            _ => {
                self.op(b'X');
                self.out.extend((len as u32).to_le_bytes());
            }
        }
        self.out.extend(s.as_bytes());
        if self.rng.coin() {
            let idx = self.put();
            self.seen.insert(key, idx);
        }
    }

    fn global(&mut self, module: &str, name: &str) {
        if self.proto >= 4 && self.rng.coin() {
            self.str(module);
            self.str(name);
            self.op(0x93);
        } else {
            self.op(b'c');
            self.out.extend(format!("{module}\n{name}\n").as_bytes());
        }
        if self.rng.coin() {
            self.put();
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        let len = b.len();
        if self.proto == 2 {
            // Python 3 pickles bytes for Python 2: _codecs.encode(latin-1 text, 'latin1'), or bytes() when empty.
            if b.is_empty() && self.rng.coin() {
                self.global("builtins", "bytes");
                self.op(b')');
            } else {
                self.global("_codecs", "encode");
                self.str(&b.iter().map(|&c| c as char).collect::<String>());
                let encoding = if self.rng.coin() { "latin1" } else { "latin-1" };
                self.str(encoding);
                self.op(0x86);
            }
            self.op(b'R');
            return;
        }
        match self.rng.below(4) {
            0 if len < 256 => {
                self.op(b'C');
                self.op(len as u8);
                self.out.extend(b);
            }
            1 if self.proto >= 4 => {
                self.op(0x8e);
                self.out.extend((len as u64).to_le_bytes());
                self.out.extend(b);
            }
            2 if self.proto >= 5 => {
                // An in-band bytearray: BYTEARRAY8, or bytearray(bytes).
                if self.rng.coin() {
                    self.op(0x96);
                    self.out.extend((len as u64).to_le_bytes());
                    self.out.extend(b);
                } else {
                    self.global("builtins", "bytearray");
                    self.op(b'B');
                    self.out.extend((len as u32).to_le_bytes());
                    self.out.extend(b);
                    self.op(0x85);
                    self.op(b'R');
                }
            }
            _ => {
                self.op(b'B');
                self.out.extend((len as u32).to_le_bytes());
                self.out.extend(b);
            }
        }
    }

    /// Items between a MARK and `op`.
    fn marked(&mut self, items: &[Value], op: u8) {
        self.op(b'(');
        items.iter().for_each(|x| self.value(x));
        self.op(op);
    }

    fn value(&mut self, v: &Value) {
        if self.rng.below(8) == 0 {
            // Noise Python never writes but that changes nothing: push None and pop it.
            self.op(b'N');
            self.op(b'0');
        }
        match v {
            Value::Nil => self.op(b'N'),
            Value::Bool(b) => self.op(if *b { 0x88 } else { 0x89 }),
            Value::Int(i) => self.int(*i),
            Value::UInt(u) => self.int(i64::try_from(*u).expect("generated below i64::MAX")),
            Value::Float(f) => {
                self.op(b'G');
                self.out.extend(f.to_be_bytes());
            }
            Value::Str(s) => self.str(s),
            Value::Bin(b) => self.bytes(b),
            Value::Array(items) => self.sequence(v, items),
            Value::Map(pairs) => self.dict(v, pairs),
            Value::NdArray(a) => self.ndarray(a),
        }
    }

    /// A list, tuple or set (all decode to an array of their items).
    fn sequence(&mut self, v: &Value, items: &[Value]) {
        let key = format!("{v:?}");
        if self.reuse(&key) {
            return;
        }
        let idx = match self.rng.below(4) {
            0 => {
                match items.len() {
                    0 => self.op(b')'),
                    n @ 1..=3 => {
                        items.iter().for_each(|x| self.value(x));
                        self.op(0x84 + n as u8);
                    }
                    _ => self.marked(items, b't'),
                }
                self.rng.coin().then(|| self.put())
            }
            1 if self.proto >= 4 => {
                // A set: EMPTY_SET then ADDITEMS (the decoder keeps the order).
                self.op(0x8f);
                let idx = self.rng.coin().then(|| self.put());
                if !items.is_empty() {
                    self.marked(items, 0x90);
                }
                idx
            }
            2 => {
                self.marked(items, b'l');
                self.rng.coin().then(|| self.put())
            }
            _ => {
                // EMPTY_LIST, then batches of APPENDS or single APPENDs.
                self.op(b']');
                let idx = self.rng.coin().then(|| self.put());
                let mut rest = items;
                while !rest.is_empty() {
                    let n = 1 + self.rng.below(rest.len() as u64) as usize;
                    if n == 1 && self.rng.coin() {
                        self.value(&rest[0]);
                        self.op(b'a');
                    } else {
                        self.marked(&rest[..n], b'e');
                    }
                    rest = &rest[n..];
                }
                idx
            }
        };
        if let Some(idx) = idx {
            self.seen.insert(key, idx);
        }
    }

    fn dict(&mut self, v: &Value, pairs: &[(Value, Value)]) {
        let key = format!("{v:?}");
        if self.reuse(&key) {
            return;
        }
        let flat: Vec<Value> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
        let idx = if self.rng.below(3) == 0 {
            self.marked(&flat, b'd');
            self.rng.coin().then(|| self.put())
        } else {
            self.op(b'}');
            let idx = self.rng.coin().then(|| self.put());
            let mut rest = &flat[..];
            while !rest.is_empty() {
                let n = 1 + self.rng.below((rest.len() / 2) as u64) as usize;
                if n == 1 && self.rng.coin() {
                    self.value(&rest[0]);
                    self.value(&rest[1]);
                    self.op(b's');
                } else {
                    self.marked(&rest[..2 * n], b'u');
                }
                rest = &rest[2 * n..];
            }
            idx
        };
        if let Some(idx) = idx {
            self.seen.insert(key, idx);
        }
    }

    fn tuple_of_ints(&mut self, ints: &[i64]) {
        let items: Vec<Value> = ints.iter().map(|&i| Value::Int(i)).collect();
        match items.len() {
            0 => self.op(b')'),
            n @ 1..=3 if self.rng.coin() => {
                items.iter().for_each(|x| self.value(x));
                self.op(0x84 + n as u8);
            }
            _ => self.marked(&items, b't'),
        }
    }

    /// `numpy.dtype(code, False, True)` with its byte order set by BUILD.
    fn dtype(&mut self, code: &str, order: &str) {
        self.global("numpy", "dtype");
        self.str(code);
        self.op(0x89);
        self.op(0x88);
        self.op(0x87);
        self.op(b'R');
        if self.rng.coin() {
            self.put();
        }
        self.op(b'(');
        self.int(3);
        self.str(order);
        self.op(b'N');
        self.op(b'N');
        self.op(b'N');
        self.int(-1);
        self.int(-1);
        self.int(0);
        self.op(b't');
        self.op(b'b');
    }

    /// An array as numpy pickles it: `_reconstruct` then BUILD with its
    /// state, or (protocol 5) `_frombuffer`; C or Fortran order, either byte order.
    fn ndarray(&mut self, a: &NdArray) {
        let size = a.dtype().size();
        let code = match a.dtype() {
            DType::U8 => "u1",
            DType::I8 => "i1",
            DType::U16 => "u2",
            DType::I16 => "i2",
            DType::U32 => "u4",
            DType::I32 => "i4",
            DType::U64 => "u8",
            DType::I64 => "i8",
            DType::F32 => "f4",
            DType::F64 => "f8",
            DType::Bool => "b1",
        };
        let shape = a.shape().to_vec();
        let c = a.le_bytes();
        let fortran = shape.len() > 1 && self.rng.coin();
        let big = size > 1 && self.rng.coin();
        let order = if size == 1 {
            "|"
        } else if big {
            ">"
        } else {
            "<"
        };
        let mut data = Vec::with_capacity(c.len());
        for k in 0..a.len() {
            // Element k of the data in its order, as an index in C order.
            let c_index = if fortran {
                let (mut rest, mut index, mut stride) = (k, 0, 1);
                let mut strides = vec![0; shape.len()];
                for d in (0..shape.len()).rev() {
                    strides[d] = stride;
                    stride *= shape[d];
                }
                for d in 0..shape.len() {
                    index += (rest % shape[d]) * strides[d];
                    rest /= shape[d];
                }
                index
            } else {
                k
            };
            let mut element = c[c_index * size..(c_index + 1) * size].to_vec();
            if big {
                element.reverse();
            }
            data.extend(element);
        }
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        if self.proto == 5 && self.rng.coin() {
            self.global("numpy.core.numeric", "_frombuffer");
            self.op(b'(');
            self.bytes(&data);
            self.dtype(code, order);
            self.tuple_of_ints(&dims);
            self.str(if fortran { "F" } else { "C" });
            self.op(b't');
            self.op(b'R');
            return;
        }
        let module = if self.rng.coin() { "numpy.core.multiarray" } else { "numpy._core.multiarray" };
        self.global(module, "_reconstruct");
        self.global("numpy", "ndarray");
        self.int(0);
        self.op(0x85);
        self.bytes(b"b");
        self.op(0x87);
        self.op(b'R');
        if self.rng.coin() {
            self.put();
        }
        self.op(b'(');
        self.int(1);
        self.tuple_of_ints(&dims);
        self.dtype(code, order);
        self.op(if fortran { 0x88 } else { 0x89 });
        self.bytes(&data);
        self.op(b't');
        self.op(b'b');
    }
}

/// A well-formed pickle of `v`.
fn pickle(v: &Value, proto: u8, seed: u64) -> Vec<u8> {
    let mut w = Writer::new(proto, seed);
    w.value(v);
    w.finish()
}

fn array() -> impl Strategy<Value = Value> {
    let dtypes = [
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::U32,
        DType::I32,
        DType::U64,
        DType::I64,
        DType::F32,
        DType::F64,
    ];
    (proptest::sample::select(dtypes.to_vec()), vec(0usize..4, 0..=3)).prop_flat_map(|(dtype, shape)| {
        let n = shape.iter().product::<usize>();
        vec(any::<u8>(), n * dtype.size()).prop_map(move |mut bytes| {
            if dtype.is_float() {
                // Finite values only: NaN is not equal to itself.
                for e in bytes.chunks_exact_mut(dtype.size()) {
                    if (dtype == DType::F32 && f32::from_le_bytes(e.try_into().unwrap()).is_nan())
                        || (dtype == DType::F64 && f64::from_le_bytes(e.try_into().unwrap()).is_nan())
                    {
                        e.fill(0);
                    }
                }
            }
            Value::NdArray(NdArray::from_le_bytes(dtype, shape.clone(), &bytes).unwrap())
        })
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-70_000i64..70_000).prop_map(Value::Int),
        any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Value::Float),
        "(?s).{0,12}".prop_map(Value::Str),
        prop_oneof![Just("type".to_string()), Just("name".to_string())].prop_map(Value::Str),
        vec(any::<u8>(), 0..300).prop_map(Value::Bin),
    ]
}

fn key() -> impl Strategy<Value = Value> {
    prop_oneof!["[a-z_]{0,8}".prop_map(Value::Str), any::<i64>().prop_map(Value::Int)]
}

/// Plain values (what our pickler writes too).
fn plain() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![vec(inner.clone(), 0..6).prop_map(Value::Array), vec((key(), inner), 0..6).prop_map(Value::Map)]
    })
}

/// Plain values and numpy arrays.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![4 => scalar(), 1 => array()].prop_recursive(4, 48, 6, |inner| {
        prop_oneof![vec(inner.clone(), 0..6).prop_map(Value::Array), vec((key(), inner), 0..6).prop_map(Value::Map)]
    })
}

/// Not on the decoder's allowlist (which names numpy, aitviewer, trimesh, builtins and _codecs).
fn forbidden_global() -> impl Strategy<Value = (String, String)> {
    ("[a-z_][a-z0-9_.]{0,12}", "[A-Za-z_][A-Za-z0-9_]{0,12}").prop_filter("allowed module", |(m, _)| {
        !["numpy", "aitviewer", "trimesh", "builtins", "__builtin__", "_codecs"].iter().any(|a| m.starts_with(a))
    })
}

/// An error that says where and what: offsets inside the input, a message.
fn check_error(e: &PickleError, len: usize) -> Result<(), TestCaseError> {
    prop_assert!(!e.to_string().is_empty());
    match e {
        PickleError::Truncated { offset, needed } => {
            prop_assert!(*offset <= len && *needed > 0, "{e}, input of {len} bytes")
        }
        PickleError::Refused { offset, what } => prop_assert!(*offset < len.max(1) && !what.is_empty(), "{e}"),
        PickleError::Invalid { offset, reason } => prop_assert!(*offset < len && !reason.is_empty(), "{e}"),
        PickleError::TooLarge(why) => prop_assert!(!why.is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_pickles_decode_to_their_values(v in value(), proto in 2u8..=5, seed in any::<u64>()) {
        let bytes = pickle(&v, proto, seed);
        let back = unpickle(&bytes, PickleLimits::default());
        prop_assert_eq!(back.as_ref(), Ok(&v), "protocol {}: {:?}", proto, bytes);
    }

    #[test]
    fn our_pickler_round_trips(v in plain()) {
        prop_assert_eq!(unpickle(&pickle_value(&v), PickleLimits::default()), Ok(v));
    }

    #[test]
    fn aitviewer_messages_decode_to_envelopes(
        kind in 0i64..2000,
        uid in proptest::option::of(any::<i64>()),
        args in vec(value(), 0..4),
        kwargs in vec(("[a-z_]{1,10}", value()), 0..4),
        proto in 2u8..=5,
        seed in any::<u64>(),
    ) {
        // pickle.dumps({"type": Message(kind), "uid": uid, "args": [...], "kwargs": {...}})
        let mut w = Writer::new(proto, seed);
        w.op(b'}');
        w.put();
        w.op(b'(');
        w.str("type");
        w.global("aitviewer.remote.message", "Message");
        w.int(kind);
        w.op(0x85);
        w.op(b'R');
        w.str("uid");
        match uid {
            Some(u) => w.int(u),
            None => w.op(b'N'),
        }
        w.str("args");
        w.value(&Value::Array(args.clone()));
        w.str("kwargs");
        w.value(&Value::Map(kwargs.iter().map(|(k, v)| (Value::from(k.as_str()), v.clone())).collect()));
        w.op(b'u');
        let bytes = w.finish();
        let env = envelope_from_pickle(&bytes).map_err(TestCaseError::fail)?;
        prop_assert_eq!((env.kind, env.uid), (kind, uid));
        prop_assert_eq!(env.args, args);
        prop_assert_eq!(env.kwargs, kwargs);
    }

    #[test]
    fn a_cut_pickle_is_truncated_where_it_was_cut(v in value(), proto in 2u8..=5, seed in any::<u64>(), at in any::<prop::sample::Index>()) {
        let bytes = pickle(&v, proto, seed);
        let cut = at.index(bytes.len()); // every strict prefix, the empty one too
        match unpickle(&bytes[..cut], PickleLimits::default()) {
            Err(e @ PickleError::Truncated { .. }) => check_error(&e, cut)?,
            other => prop_assert!(false, "cut at {} of {}: {:?}", cut, bytes.len(), other),
        }
    }

    #[test]
    fn a_forbidden_global_is_refused_where_it_stands(
        v in plain(),
        (module, name) in forbidden_global(),
        proto in 2u8..=5,
        seed in any::<u64>(),
    ) {
        // [v, module.name(v)]: data, then a call the decoder must not make.
        let mut w = Writer::new(proto, seed);
        w.op(b']');
        w.op(b'(');
        w.value(&v);
        // STACK_GLOBAL after the two strings, or GLOBAL with its two lines.
        let stack_global = proto >= 4 && w.rng.coin();
        if stack_global {
            w.str(&module);
            w.str(&name);
        }
        let at = w.out.len();
        if stack_global {
            w.op(0x93);
        } else {
            w.op(b'c');
            w.out.extend(format!("{module}\n{name}\n").as_bytes());
        }
        w.value(&v);
        w.op(0x85);
        w.op(b'R');
        w.op(b'e');
        let bytes = w.finish();
        match unpickle(&bytes, PickleLimits::default()) {
            Err(e @ PickleError::Refused { offset, .. }) => {
                prop_assert_eq!(offset, at, "{}", e);
                prop_assert!(e.to_string().contains(&format!("global {module}.{name} is not allowed")), "{}", e);
                check_error(&e, bytes.len())?;
            }
            other => prop_assert!(false, "{}.{} was not refused: {:?}", module, name, other),
        }
    }

    #[test]
    fn an_unknown_opcode_is_refused_where_it_stands(v in value(), proto in 2u8..=5, seed in any::<u64>(),
        op in proptest::sample::select(vec![b'i', b'o', b'I', b'L', b'F', b'S', b'V', b'P', b'Q', b'g', b'p', 0x81, 0x82, 0x83, 0x84, 0x92, 0x97, 0x98, 0xff])) {
        // A valid pickle with one opcode the decoder does not run (object
        // building, persistent ids, extension registry, out-of-band buffers,
        // protocol 0 text) just before its STOP.
        let mut bytes = pickle(&v, proto, seed);
        let at = bytes.len() - 1;
        bytes.insert(at, op);
        match unpickle(&bytes, PickleLimits::default()) {
            Err(e @ PickleError::Refused { offset, .. }) => {
                prop_assert_eq!(offset, at, "{}", e);
                check_error(&e, bytes.len())?;
            }
            other => prop_assert!(false, "opcode 0x{:02x} was not refused: {:?}", op, other),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_give_a_value_or_a_proper_error(bytes in vec(any::<u8>(), 0..512)) {
        let decoded = unpickle(&bytes, PickleLimits::default());
        if let Err(e) = &decoded {
            check_error(e, bytes.len())?;
        }
        match envelope_from_pickle(&bytes) {
            Ok(_) => prop_assert!(decoded.is_ok(), "an envelope from a refused pickle"),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn opcode_soup_after_a_header_never_panics(proto in 2u8..=5, body in vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![0x80, proto];
        bytes.extend(body);
        bytes.push(b'.');
        let t0 = std::time::Instant::now();
        if let Err(e) = unpickle(&bytes, PickleLimits::default()) {
            check_error(&e, bytes.len())?;
        }
        prop_assert!(t0.elapsed() < std::time::Duration::from_millis(200));
    }
}
