//! The ops file of `simulate` and `check`: any text must parse or be refused with a path, and
//! every field of every op must convert or be refused with a path, never panic.

#![no_main]

use alloy::primitives::Address;
use libfuzzer_sys::fuzz_target;
use sessionkeys_engine::format::FormatError;
use sessionkeys_engine::format::ops::{MAX_TIME, hex_bytes, parse_ops_json, parse_time};
use sessionkeys_fuzz::{ACCOUNT, VALIDATOR, require};

fn resolve(name: &str, path: &str) -> Result<Address, FormatError> {
    match name {
        "account" => Ok(ACCOUNT),
        "validator" => Ok(VALIDATOR),
        other => other.parse().map_err(|_| FormatError {
            path: path.to_string(),
            message: format!("not an address: {other:?}"),
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse_ops_json(text) else {
        return;
    };
    let mut time = 1_795_543_200u64;
    for (i, op) in file.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op.at {
            match parse_time(at, time, &format!("{path}.at")) {
                Ok(t) => {
                    require(t <= MAX_TIME, "an accepted time fits uint48");
                    time = t;
                }
                Err(e) => require(e.path.starts_with(&path), "a bad time names its field"),
            }
        }
        if let Ok(hint) = op.time_hint(time, &path) {
            require(hint <= MAX_TIME, "an accepted hint fits uint48");
        }
        let _ = op.nonce_key(&path);
        let _ = op.raw_call_data(&path);
        if let Some(raw) = op.paymaster_and_data.as_deref().filter(|p| *p != "sponsor") {
            let _ = hex_bytes(raw, &format!("{path}.paymasterAndData"));
        }
        if let Err(e) = op.calls(&path, &mut resolve) {
            require(e.path.starts_with(&path), "a bad call names its field");
        }
    }
});
