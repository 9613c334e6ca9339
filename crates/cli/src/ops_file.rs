//! The ops file of `simulate` and `check` (docs/simulate-format.md): a sequence of userOps,
//! each a batch of calls or raw callData, with optional time, hint, nonce key and paymaster.

use crate::InputError;
use alloy::dyn_abi::{DynSolType, DynSolValue, JsonAbiExt};
use alloy::json_abi::Function;
use alloy::primitives::{Address, Bytes, U256};
use serde::Deserialize;
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
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::parse_version)]
    pub entrypoint: sessionkeys_chain::EntryPointVersion,
}
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_engine::format::scalars::{parse_duration, parse_rfc3339, parse_uint};

/// The ops file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpsFile {
    pub ops: Vec<OpJson>,
}

/// One userOp.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpJson {
    /// Block time: RFC 3339, Unix seconds, or "+90s" after the previous op.
    #[serde(default)]
    pub at: Option<String>,
    /// The calls, as a batch (one call is sent as a single call).
    #[serde(default)]
    pub calls: Vec<CallJson>,
    /// Raw callData instead of `calls` (for malformed-input probes).
    #[serde(default)]
    pub call_data: Option<String>,
    /// Raw paymasterAndData, or "sponsor" for the devnet's sponsoring paymaster.
    #[serde(default)]
    pub paymaster_and_data: Option<String>,
    /// The signed time hint (default: the block time).
    #[serde(default)]
    pub time_hint: Option<u64>,
    /// A nonce key as hex (default: the session's lane of the validator).
    #[serde(default)]
    pub nonce_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallJson {
    /// An address or a fixture name: usdc, gold, game, account, validator, registry, entryPoint.
    pub to: String,
    #[serde(default)]
    pub value: Option<String>,
    /// Hex calldata.
    #[serde(default)]
    pub data: Option<String>,
    /// A signature like "transfer(address,uint256)", with `args`.
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
}

pub fn hex_bytes(s: &str, path: &str) -> Result<Bytes, InputError> {
    s.parse::<Bytes>()
        .map_err(|_| InputError(format!("{path}: expected 0x-hex bytes, got {s:?}")))
}

pub fn encode_function(
    signature: &str,
    args: &[serde_json::Value],
    path: &str,
) -> Result<Bytes, InputError> {
    let function =
        Function::parse(signature).map_err(|e| InputError(format!("{path}.function: {e}")))?;
    if function.inputs.len() != args.len() {
        return Err(InputError(format!(
            "{path}.args: {signature} takes {} arguments, got {}",
            function.inputs.len(),
            args.len()
        )));
    }
    let values = function
        .inputs
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, arg))| {
            let ty = DynSolType::parse(&param.selector_type())
                .map_err(|e| InputError(format!("{path}.args[{i}]: {e}")))?;
            let text = match arg {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ty.coerce_str(&text)
                .map_err(|e| InputError(format!("{path}.args[{i}]: not a {}: {e}", param.ty)))
        })
        .collect::<Result<Vec<DynSolValue>, _>>()?;
    function
        .abi_encode_input(&values)
        .map(Bytes::from)
        .map_err(|e| InputError(format!("{path}: {e}")))
}

pub fn parse_time(at: &str, previous: u64, path: &str) -> Result<u64, InputError> {
    let result = if let Some(relative) = at.strip_prefix('+') {
        parse_duration(relative).map(|d| previous + d)
    } else if at.bytes().all(|b| b.is_ascii_digit()) {
        at.parse::<u64>().map_err(|e| e.to_string())
    } else {
        parse_rfc3339(at)
    };
    result.map_err(|e| InputError(format!("{path}: {e}")))
}

impl OpJson {
    /// An op of just these calls.
    pub fn from_calls(calls: Vec<CallJson>) -> Self {
        Self {
            at: None,
            calls,
            call_data: None,
            paymaster_and_data: None,
            time_hint: None,
            nonce_key: None,
        }
    }
}

/// The op's callData: its raw `callData`, or its calls encoded as `execute` (single or batch).
/// `resolve` turns a call's `to` (an address or a fixture name) into an address.
pub fn call_data(
    op: &OpJson,
    path: &str,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Address, InputError>,
) -> Result<Bytes, InputError> {
    if let Some(raw) = &op.call_data {
        return hex_bytes(raw, &format!("{path}.callData"));
    }
    Ok(encode_calls(&calls(op, path, resolve)?))
}

/// The op's calls, decoded from the file (an op with raw `callData` has none).
pub fn calls(
    op: &OpJson,
    path: &str,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Address, InputError>,
) -> Result<Vec<Call>, InputError> {
    let mut calls = Vec::new();
    for (j, c) in op.calls.iter().enumerate() {
        let cpath = format!("{path}.calls[{j}]");
        let to = resolve(&c.to, &format!("{cpath}.to"))?;
        let value = match &c.value {
            Some(v) => parse_uint(v).map_err(|e| InputError(format!("{cpath}.value: {e}")))?,
            None => U256::ZERO,
        };
        let data = match (&c.data, &c.function) {
            (Some(hex), None) => hex_bytes(hex, &format!("{cpath}.data"))?,
            (None, Some(signature)) => encode_function(signature, &c.args, &cpath)?,
            (None, None) => Bytes::new(),
            (Some(_), Some(_)) => {
                return Err(InputError(format!(
                    "{cpath}: give either data or function, not both"
                )));
            }
        };
        calls.push(Call { to, value, data });
    }
    if calls.is_empty() {
        return Err(InputError(format!("{path}: give calls or callData")));
    }
    Ok(calls)
}

/// Reads an ops file, reporting the path of a bad field.
pub fn load(file: &std::path::Path) -> Result<OpsFile, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| InputError(format!("{}: {}: {}", file.display(), e.path(), e.inner())))
}
