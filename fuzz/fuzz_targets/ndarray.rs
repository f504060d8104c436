//! The n-d array decoder: a dtype, a shape and raw bytes, as a client sends them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use periscope_protocol::{DecodeLimits, Value, decode_value, encode_value};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let dtypes = ["<f4", "<f8", "<i4", "<i8", "|u1", "|b1", "<u2", "float32", "x"];
    let dtype = dtypes[data[0] as usize % dtypes.len()];
    let rank = (data[1] % 4) as usize;
    let shape: Vec<Value> = data[2..]
        .chunks(2)
        .take(rank)
        .map(|c| Value::Int(i64::from(c[0]) << (c.get(1).copied().unwrap_or(0) % 40)))
        .collect();
    let body = data.get(2 + 2 * rank..).unwrap_or(&[]).to_vec();
    let m =
        Value::map([("__ndarray__", Value::from(dtype)), ("shape", Value::Array(shape)), ("data", Value::Bin(body))]);
    if let Ok(Value::NdArray(a)) = decode_value(&encode_value(&m), DecodeLimits::default()) {
        assert_eq!(a.shape().iter().product::<usize>(), a.len());
    }
});
