//! The restricted pickle decoder (the unmodified aitviewer client's wire).
#![no_main]

use libfuzzer_sys::fuzz_target;
use periscope_compat::{PickleLimits, envelope_from_pickle, unpickle};

fuzz_target!(|data: &[u8]| {
    let _ = unpickle(data, PickleLimits::default());
    let _ = envelope_from_pickle(data);
});
