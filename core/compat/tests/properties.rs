//! Property tests of the restricted pickle decoder: any bytes, and any opcode
//! soup after a valid protocol header, give a value or an error, never a
//! panic, never unbounded work.

use periscope_compat::{PickleLimits, envelope_from_pickle, unpickle};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = unpickle(&bytes, PickleLimits::default());
        let _ = envelope_from_pickle(&bytes);
    }

    #[test]
    fn opcode_soup_after_a_header_never_panics(proto in 2u8..=5, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![0x80, proto];
        bytes.extend(body);
        bytes.push(b'.');
        let t0 = std::time::Instant::now();
        let _ = unpickle(&bytes, PickleLimits::default());
        prop_assert!(t0.elapsed() < std::time::Duration::from_millis(200));
    }
}
