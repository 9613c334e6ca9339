//! The `execute` decoder on any bytes must refuse or decode without panicking; and on a
//! canonical encoding it must give back exactly the calls encoded.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sessionkeys_engine::execute::decode_execute;
use sessionkeys_fuzz::{encode_execute, require};

#[derive(Arbitrary, Debug)]
struct Canonical {
    batch: bool,
    calls: Vec<([u8; 20], u64, Vec<u8>)>,
}

fuzz_target!(|data: &[u8]| {
    // Any bytes, as callData.
    let _ = decode_execute(data);
    // The same bytes read as calls, encoded canonically: they must round-trip.
    let Ok(input) = Canonical::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if input.calls.is_empty() || (!input.batch && input.calls.len() != 1) {
        return;
    }
    let calls: Vec<_> = input
        .calls
        .iter()
        .map(|(t, v, d)| {
            (
                alloy::primitives::Address::from(*t),
                alloy::primitives::U256::from(*v),
                d.clone(),
            )
        })
        .collect();
    let encoded = encode_execute(&calls, input.batch);
    let decoded = decode_execute(&encoded);
    require(decoded.is_ok(), "a canonical encoding decodes");
    let decoded = decoded.unwrap_or_default();
    require(decoded.len() == calls.len(), "as many calls as encoded");
    for (call, (target, value, data)) in decoded.iter().zip(&calls) {
        require(
            call.target == *target && call.value == *value && call.data == data.as_slice(),
            "each call as encoded",
        );
    }
});
