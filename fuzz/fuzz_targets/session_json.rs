//! Session JSON, as `lint`, `explain`, `hash` and `grant` read it: any text must parse or be
//! refused with a path; an accepted session must lint, explain and print without panicking,
//! and its canonical JSON must read back as the same session.

#![no_main]

use alloy::primitives::address;
use libfuzzer_sys::fuzz_target;
use sessionkeys_engine::explain::{Labels, explain};
use sessionkeys_engine::format::{SessionJson, parse_session_json};
use sessionkeys_engine::lint::lint;
use sessionkeys_fuzz::require;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(session) = parse_session_json(text) else {
        return;
    };
    let signer = address!("0x0000000000000000000000000000000000005e55");
    let Ok(spec) = session.to_spec(Some(signer)) else {
        return;
    };
    // Lint measures from `now`: at, before and far after the session, and at the end of time.
    let after: u64 = spec.validAfter.to();
    for now in [0, after, after.saturating_add(1 << 40), u64::MAX] {
        let _ = lint(&spec, now).iter().map(ToString::to_string).count();
    }
    let _ = explain(&spec, &Labels::well_known()).to_string();
    let canonical = serde_json::to_string(&SessionJson::from_spec(&spec));
    require(canonical.is_ok(), "a session serializes");
    let again = parse_session_json(&canonical.unwrap_or_default()).and_then(|s| s.to_spec(None));
    require(
        again.as_ref() == Ok(&spec),
        "canonical JSON reads back as the same session",
    );
});
