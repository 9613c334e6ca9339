//! The packed session readers (docs/compact-signatures.md) on any bytes must refuse or decode
//! without panicking; what decodes has exactly one form: a packed spec, or an enable-mode
//! signature, re-encodes to the very bytes it was read from.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_contracts::vocabulary::packed::{
    decode_signature, decode_spec, encode_enable_signature, encode_spec,
};
use sessionkeys_fuzz::require;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = decode_spec(data) {
        let again = encode_spec(&spec);
        require(again.is_ok(), "a decoded spec encodes");
        require(
            again.unwrap_or_default() == data,
            "a packed spec has one form",
        );
    }
    if let Ok(decoded) = decode_signature(data) {
        require(
            decoded.session_signature.len() == 65,
            "the session signature is 65 bytes",
        );
        if decoded.mode == SignatureMode::Enable {
            let again = encode_enable_signature(
                &decoded.spec(),
                decoded.time_hint,
                &decoded.chains,
                decoded.owner_signature,
                decoded.session_signature,
            );
            require(again.is_ok(), "a decoded enable signature encodes");
            require(
                again.unwrap_or_default() == data,
                "an enable signature has one form",
            );
        }
    }
});
