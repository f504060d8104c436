//! Real pickles written by Python (numpy 1.x and 2.x, protocols 2 to 5) and
//! hostile ones. Fixtures come from tests/fixtures/generate.py.

use std::path::PathBuf;

use periscope_compat::{PickleError, PickleLimits, envelope_from_pickle, unpickle};
use periscope_protocol::{DType, Envelope, Value};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn variants(name: &str) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    ["np1", "np2"]
        .into_iter()
        .flat_map(move |np| (2..=5).map(move |p| format!("{name}_{np}_p{p}.pickle")))
        .map(|f| (f.clone(), fixture(&f)))
}

fn kw<'a>(env: &'a Envelope, key: &str) -> &'a Value {
    env.kwarg(key).unwrap_or_else(|| panic!("no kwarg {key}"))
}

#[test]
fn meshes_message_from_every_numpy_and_protocol() {
    for (name, bytes) in variants("meshes") {
        let env = envelope_from_pickle(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((env.kind, env.uid), (2, Some(3)), "{name}");
        let v = kw(&env, "vertices").as_array().unwrap();
        assert_eq!((v.dtype(), v.shape()), (DType::F64, &[4usize, 3][..]), "{name}");
        assert_eq!(v.to_f32()[5], 1.25, "{name}");
        let f = kw(&env, "faces").as_array().unwrap();
        assert_eq!(f.to_i64().unwrap(), vec![0, 1, 2, 0, 2, 3], "{name}");
        assert_eq!(kw(&env, "name"), &Value::from("cube"));
        assert_eq!(kw(&env, "position"), &Value::Array(vec![Value::Int(1), Value::Int(0), Value::Int(0)]));
        assert_eq!(kw(&env, "scale"), &Value::Float(0.1));
        assert_eq!(kw(&env, "flat_shading"), &Value::Bool(true));
    }
}

#[test]
fn ranges_become_integer_arrays() {
    for (name, bytes) in variants("frames") {
        let env = envelope_from_pickle(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(env.kind, 103);
        let frames = kw(&env, "frames").as_array().unwrap().to_i64().unwrap();
        assert_eq!(frames, (101..200).step_by(2).collect::<Vec<i64>>(), "{name}");
    }
}

#[test]
fn subclasses_fortran_big_endian_scalars_and_containers() {
    for (name, bytes) in variants("kinds") {
        let env = envelope_from_pickle(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let tracked = env.args[0].as_array().unwrap_or_else(|| panic!("{name}: {:?}", env.args));
        assert_eq!(tracked.to_f32().as_slice(), &[0., 1., 2., 3., 4., 5.], "{name}: TrackedArray");
        let f = kw(&env, "fortran").as_array().unwrap();
        assert_eq!((f.shape(), f.to_f32().as_slice()), (&[2usize, 3][..], &[0f32, 1., 2., 3., 4., 5.][..]), "{name}");
        assert_eq!(kw(&env, "big").as_array().unwrap().to_i64().unwrap(), vec![0, 1, 2], "{name}: big-endian");
        assert_eq!(kw(&env, "scalar"), &Value::Float(0.5), "{name}");
        assert_eq!(kw(&env, "flag"), &Value::Bool(true), "{name}");
        assert_eq!(kw(&env, "empty").as_array().unwrap().shape(), &[0, 3], "{name}");
        assert_eq!(kw(&env, "none"), &Value::Nil);
        let nested = Value::Array(vec![Value::map([("a", Value::Array(vec![Value::Int(1), Value::Float(2.5)]))])]);
        assert_eq!(kw(&env, "nested"), &nested, "{name}");
    }
}

#[test]
fn code_execution_is_refused() {
    for (file, global) in [
        ("evil_os_system.pickle", "posix.system"),
        ("evil_eval.pickle", "builtins.eval"),
        ("evil_popen.pickle", "subprocess.Popen"),
    ] {
        let err = unpickle(&fixture(file), PickleLimits::default()).unwrap_err();
        assert!(matches!(err, PickleError::Refused { .. }), "{file}: {err}");
        assert!(err.to_string().contains(&format!("global {global} is not allowed")), "{file}: {err}");
    }
}

#[test]
fn hostile_structures_are_bounded() {
    // A list that contains itself: EMPTY_LIST, MEMOIZE, BINGET 0, APPEND, STOP.
    let cyclic = [0x80, 4, b']', 0x94, b'h', 0, b'a', b'.'];
    assert!(matches!(unpickle(&cyclic, PickleLimits::default()), Err(PickleError::TooLarge(_))));
    // A 30-level tower where each level holds the level below twice: 2^30 values.
    let mut tower = vec![0x80, 4, b']', 0x94];
    for level in 0..30u8 {
        tower.extend_from_slice(&[b'h', level, b'h', level, 0x86, 0x94]);
    }
    tower.push(b'.');
    let err = unpickle(&tower, PickleLimits { max_depth: 64, max_items: 1_000_000 }).unwrap_err();
    assert!(matches!(err, PickleError::TooLarge(_)), "{err}");
    // range(10**12) cannot be materialized.
    let huge_range = [
        0x80, 4, 0x8c, 8, b'b', b'u', b'i', b'l', b't', b'i', b'n', b's', 0x8c, 5, b'r', b'a', b'n', b'g', b'e', 0x93,
        0x8a, 6, 0, 0x10, 0xa5, 0xd4, 0xe8, 0, 0x85, b'R', b'.',
    ];
    assert!(matches!(unpickle(&huge_range, PickleLimits::default()), Err(PickleError::TooLarge(_))));
}

#[test]
fn truncations_and_mutations_never_panic() {
    let samples: Vec<Vec<u8>> =
        ["meshes_np2_p4.pickle", "kinds_np1_p2.pickle", "frames_np2_p5.pickle"].iter().map(|f| fixture(f)).collect();
    for s in &samples {
        for cut in 0..s.len() {
            assert!(unpickle(&s[..cut], PickleLimits::default()).is_err(), "cut at {cut}");
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..30_000 {
        let mut b = samples[i % samples.len()].clone();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % b.len();
            b[at] = next() as u8;
        }
        let _ = unpickle(&b, PickleLimits::default());
    }
}

/// Found by a hostile-client run: 6 kB of memo references (a list of 1000
/// ints named 1000 times, that list named 1000 times) expanded into ~450 MB
/// before the value count refused it. Expansions are now charged against a
/// budget proportional to the pickle's size: refused at once, small.
#[test]
fn memo_references_cannot_expand_a_small_pickle_into_a_huge_value() {
    let mut p = b"\x80\x04".to_vec();
    p.extend_from_slice(b"]\x94(");
    p.extend(std::iter::repeat_n(*b"K\x01", 1000).flatten());
    p.extend_from_slice(b"e]\x94(");
    p.extend(std::iter::repeat_n(*b"h\x00", 1000).flatten());
    p.extend_from_slice(b"e]\x94(");
    p.extend(std::iter::repeat_n(*b"h\x01", 1000).flatten());
    p.extend_from_slice(b"e.");
    let started = std::time::Instant::now();
    let err = periscope_compat::unpickle(&p, periscope_compat::PickleLimits::default()).unwrap_err();
    assert!(err.to_string().contains("too many values for the pickle's size"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    // A plain list of 100,000 small ints (2 bytes each in the pickle) still decodes.
    let mut plain = b"\x80\x04](".to_vec();
    plain.extend(std::iter::repeat_n(*b"K\x07", 100_000).flatten());
    plain.extend_from_slice(b"e.");
    let v = periscope_compat::unpickle(&plain, periscope_compat::PickleLimits::default()).unwrap();
    assert!(matches!(v, periscope_protocol::Value::Array(items) if items.len() == 100_000));
}
