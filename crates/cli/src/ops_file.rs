//! The ops file of `simulate` and `check` (docs/simulate-format.md): reading it, and encoding
//! its calls as `execute`. Its format and fields are `sessionkeys_engine::format::ops`.

use crate::InputError;
use alloy::primitives::{Address, Bytes};
use sessionkeys::AddressBook;
use std::path::PathBuf;

/// The files and EntryPoint of a run over an ops file (`simulate`, `check`).
#[derive(clap::Args)]
pub struct OpsRun {
    /// Session JSON file (for simulate, without "signer": it makes the key).
    #[arg(long, env = "SESSIONKEYS_SESSION")]
    pub session: PathBuf,
    /// Ops JSON file (docs/simulate-format.md).
    #[arg(long, env = "SESSIONKEYS_CALLS")]
    pub calls: PathBuf,
    /// EntryPoint version.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::args::parse_version)]
    pub entrypoint: sessionkeys_chain::EntryPointVersion,
}
use sessionkeys_chain::execution::{Call, encode_calls};
pub use sessionkeys_engine::format::ops::{CallJson, OpJson, OpsFile, hex_bytes, parse_time};

/// The op's callData: its raw `callData`, or its calls encoded as `execute` (single or batch).
/// `book` turns a call's `to` (an address or a name) into an address.
pub fn call_data(op: &OpJson, path: &str, book: &AddressBook) -> Result<Bytes, InputError> {
    if let Some(raw) = op.raw_call_data(path)? {
        return Ok(raw);
    }
    Ok(encode_calls(&calls(op, path, book)?))
}

/// The op's calls, decoded from the file (an op with raw `callData` has none).
pub fn calls(op: &OpJson, path: &str, book: &AddressBook) -> Result<Vec<Call>, InputError> {
    let mut resolve =
        |name: &str, at: &str| -> Result<Address, InputError> { Ok(book.resolve(name, at)?) };
    Ok(op
        .calls(path, &mut resolve)?
        .into_iter()
        .map(|c| Call {
            to: c.to,
            value: c.value,
            data: c.data,
        })
        .collect())
}

/// Reads an ops file, reporting the path of a bad field.
pub fn load(file: &std::path::Path) -> Result<OpsFile, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    sessionkeys_engine::format::ops::parse_ops_json(&text)
        .map_err(|e| InputError(format!("{}: {e}", file.display())))
}

/// One op's entry in the JSON of `check`, `simulate` and `exec`: the same field names in all
/// three. `verdict` is the op's text verdict line (`ok`, `refused: ErrorName(args)`, …);
/// `error` the validator's error name (left out when there is none, never `""`); `reason` why,
/// as a sentence (null when the op passed).
pub fn op_report(
    op: usize,
    time: Option<u64>,
    verdict: &str,
    error: Option<String>,
    reason: Option<String>,
) -> serde_json::Value {
    let mut entry = serde_json::json!({"op": op, "verdict": verdict, "reason": reason});
    if let Some(time) = time {
        entry["time"] = time.into();
    }
    if let Some(error) = error {
        entry["error"] = error.into();
    }
    entry
}
