//! The first frame of a connection: a hello, or anything else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use periscope_protocol::{DecodeLimits, Envelope, Hello, decode_value};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = decode_value(data, DecodeLimits::default())
        && let Ok(env) = Envelope::from_value(v)
        && let Ok(hello) = Hello::from_envelope(&env)
    {
        // A hello that parses survives its own round trip.
        let back = Hello::from_envelope(&hello.to_envelope()).expect("a hello's envelope is a hello");
        assert_eq!(format!("{hello:?}"), format!("{back:?}"));
    }
});
