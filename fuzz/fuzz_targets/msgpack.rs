//! Any frame a client could send: the MessagePack decoder and the envelope on top.
#![no_main]

use libfuzzer_sys::fuzz_target;
use periscope_protocol::{DecodeLimits, Envelope, decode_value, encode_value};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = decode_value(data, DecodeLimits::default()) {
        // What decodes re-encodes and decodes to the same value.
        let again = decode_value(&encode_value(&v), DecodeLimits::default()).expect("re-encoded value decodes");
        assert_eq!(format!("{v:?}"), format!("{again:?}"));
    }
    let _ = Envelope::decode_frame(bytes::Bytes::copy_from_slice(data), DecodeLimits::default());
});
