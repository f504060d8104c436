//! Property tests of the decoders (the fuzz properties, bounded, in the
//! normal test run): never a panic, never an allocation driven by a declared
//! length, and what is encoded decodes to the same value.

use periscope_protocol::{DecodeLimits, Envelope, Hello, Value, decode_value, encode_value};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e300f64..1e300).prop_map(Value::Float),
        "[a-z_]{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{1,6}", inner), 0..6)
                .prop_map(|kv| Value::Map(kv.into_iter().map(|(k, v)| (Value::Str(k), v)).collect())),
        ]
    })
}

/// MessagePack headers that declare far more elements or bytes than follow.
fn lying_header() -> impl Strategy<Value = Vec<u8>> {
    (prop_oneof![Just(0xdcu8), Just(0xdd), Just(0xde), Just(0xdf), Just(0xc5), Just(0xc6), Just(0xdb)], any::<u32>())
        .prop_map(|(tag, n)| {
            let mut b = vec![tag];
            match tag {
                0xdc | 0xde | 0xc5 => b.extend((n as u16 | 0x8000).to_be_bytes()),
                _ => b.extend((n | 0x8000_0000).to_be_bytes()),
            }
            b.extend([0x01, 0x02]);
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_value(&bytes, DecodeLimits::default());
        let _ = Envelope::decode_frame(bytes::Bytes::from(bytes), DecodeLimits::default());
    }

    #[test]
    fn declared_lengths_do_not_allocate(bytes in lying_header()) {
        // A header claiming up to 4 billion elements with two bytes behind it is an error, at once.
        let t0 = std::time::Instant::now();
        prop_assert!(decode_value(&bytes, DecodeLimits::default()).is_err());
        prop_assert!(t0.elapsed() < std::time::Duration::from_millis(50));
    }

    #[test]
    fn encode_then_decode_is_identity(v in value()) {
        let bytes = encode_value(&v);
        prop_assert_eq!(decode_value(&bytes, DecodeLimits::default()).unwrap(), v);
    }

    #[test]
    fn envelopes_and_hellos_from_any_value_never_panic(v in value()) {
        if let Ok(env) = Envelope::from_value(v.clone()) {
            let _ = Hello::from_envelope(&env);
            let _ = env.to_value();
        }
        let wrapped = Value::map([("type", Value::Int(500)), ("kwargs", v)]);
        if let Ok(env) = Envelope::from_value(wrapped) {
            let _ = Hello::from_envelope(&env);
        }
    }

    #[test]
    fn ndarray_maps_with_wrong_fields_are_errors(dtype in "[a-z0-9<|]{0,5}", shape in proptest::collection::vec(0u64..1<<40, 0..4), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let m = Value::map([
            ("__ndarray__", Value::Str(dtype)),
            ("shape", Value::Array(shape.into_iter().map(|d| Value::Int(d as i64)).collect())),
            ("data", Value::Bin(data)),
        ]);
        // Either a consistent array or an error; never a panic or a huge allocation.
        let _ = decode_value(&encode_value(&m), DecodeLimits::default());
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error(depth in 65usize..400) {
        let mut bytes = vec![0x91u8; depth];
        bytes.push(0xc0);
        prop_assert!(decode_value(&bytes, DecodeLimits::default()).is_err());
    }
}
