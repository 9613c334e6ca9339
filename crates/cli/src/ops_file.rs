//! The ops file of `simulate` and `check` (docs/simulate-format.md): reading it, and encoding
//! its calls as `execute`. Its format and fields are `sessionkeys_engine::format::ops`.

use crate::InputError;
use alloy::primitives::{Address, Bytes};
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
/// `resolve` turns a call's `to` (an address or a fixture name) into an address.
pub fn call_data(
    op: &OpJson,
    path: &str,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Address, InputError>,
) -> Result<Bytes, InputError> {
    if let Some(raw) = op.raw_call_data(path)? {
        return Ok(raw);
    }
    Ok(encode_calls(&calls(op, path, resolve)?))
}

/// The op's calls, decoded from the file (an op with raw `callData` has none).
pub fn calls(
    op: &OpJson,
    path: &str,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Address, InputError>,
) -> Result<Vec<Call>, InputError> {
    Ok(op
        .calls(path, resolve)?
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
