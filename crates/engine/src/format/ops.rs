//! The ops file of `simulate` and `check` (docs/simulate-format.md): a sequence of userOps,
//! each a batch of calls or raw callData, with optional time, hint, nonce key and paymaster.
//! Parsing and every field's conversion live here, free of any chain, so they can be fuzzed.

use super::FormatError;
use super::scalars::{check_addresses_in, parse_duration, parse_rfc3339, parse_uint};
use alloy::dyn_abi::{DynSolType, DynSolValue, JsonAbiExt};
use alloy::json_abi::Function;
use alloy::primitives::{Address, Bytes, U256, aliases::U192};
use serde::Deserialize;

/// The latest time an op may name: the EntryPoint and the validator hold times as uint48.
pub const MAX_TIME: u64 = (1 << 48) - 1;

/// The ops file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpsFile {
    /// The userOps, in order.
    pub ops: Vec<OpJson>,
}

/// One userOp.
#[derive(Debug, Deserialize)]
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

/// One call of an op.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallJson {
    /// An address or a fixture name: usdc, gold, game, account, validator, registry, entryPoint.
    pub to: String,
    /// Wei sent along (default 0).
    #[serde(default)]
    pub value: Option<String>,
    /// Hex calldata.
    #[serde(default)]
    pub data: Option<String>,
    /// A signature like "transfer(address,uint256)", with `args`.
    #[serde(default)]
    pub function: Option<String>,
    /// The function's arguments, strings or numbers.
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
}

/// A call an op makes, with its target resolved and its data encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpCall {
    /// The callee.
    pub to: Address,
    /// Wei sent along.
    pub value: U256,
    /// Calldata (empty for a plain transfer).
    pub data: Bytes,
}

fn error(path: &str, message: impl Into<String>) -> FormatError {
    FormatError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Parses an ops file, reporting the path of the first bad field.
pub fn parse_ops_json(text: &str) -> Result<OpsFile, FormatError> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| error(&e.path().to_string(), e.inner().to_string()))
}

/// `0x`-hex bytes.
pub fn hex_bytes(s: &str, path: &str) -> Result<Bytes, FormatError> {
    s.parse::<Bytes>()
        .map_err(|_| error(path, format!("expected 0x-hex bytes, got {s:?}")))
}

/// The calldata of `signature` called with `args` (strings or JSON numbers).
pub fn encode_function(
    signature: &str,
    args: &[serde_json::Value],
    path: &str,
) -> Result<Bytes, FormatError> {
    let function = Function::parse(signature)
        .map_err(|e| error(&format!("{path}.function"), e.to_string()))?;
    if function.inputs.len() != args.len() {
        return Err(error(
            &format!("{path}.args"),
            format!(
                "{signature} takes {} arguments, got {}",
                function.inputs.len(),
                args.len()
            ),
        ));
    }
    let values = function
        .inputs
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, arg))| {
            let at = format!("{path}.args[{i}]");
            let ty =
                DynSolType::parse(&param.selector_type()).map_err(|e| error(&at, e.to_string()))?;
            let text = match arg {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if param.ty.contains("address") {
                check_addresses_in(&text).map_err(|e| error(&at, e))?;
            }
            ty.coerce_str(&text)
                .map_err(|e| error(&at, format!("not a {}: {e}", param.ty)))
        })
        .collect::<Result<Vec<DynSolValue>, _>>()?;
    function
        .abi_encode_input(&values)
        .map(Bytes::from)
        .map_err(|e| error(path, e.to_string()))
}

/// A time: RFC 3339, Unix seconds, or `+DURATION` after `previous`; at most [`MAX_TIME`].
pub fn parse_time(at: &str, previous: u64, path: &str) -> Result<u64, FormatError> {
    let result = if let Some(relative) = at.strip_prefix('+') {
        parse_duration(relative).map(|d| previous.saturating_add(d))
    } else if at.bytes().all(|b| b.is_ascii_digit()) {
        at.parse::<u64>().map_err(|e| e.to_string())
    } else {
        parse_rfc3339(at)
    };
    let time = result.map_err(|e| error(path, e))?;
    if time > MAX_TIME {
        return Err(error(
            path,
            format!("{at:?} is past {MAX_TIME}, the last second a uint48 time can hold"),
        ));
    }
    Ok(time)
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

    /// The signed time hint, `block_time` unless given; the signature holds it as a uint48.
    pub fn time_hint(&self, block_time: u64, path: &str) -> Result<u64, FormatError> {
        let hint = self.time_hint.unwrap_or(block_time);
        if hint > MAX_TIME {
            return Err(error(
                &format!("{path}.timeHint"),
                format!(
                    "{hint} does not fit the signature's uint48; give Unix seconds up to {MAX_TIME}"
                ),
            ));
        }
        Ok(hint)
    }

    /// The nonce key, if the op names one.
    pub fn nonce_key(&self, path: &str) -> Result<Option<U192>, FormatError> {
        self.nonce_key
            .as_deref()
            .map(|k| {
                k.parse::<U192>().map_err(|_| {
                    error(
                        &format!("{path}.nonceKey"),
                        "expected 0x-hex of at most 24 bytes",
                    )
                })
            })
            .transpose()
    }

    /// The raw callData the op gives instead of calls, if any.
    pub fn raw_call_data(&self, path: &str) -> Result<Option<Bytes>, FormatError> {
        self.call_data
            .as_deref()
            .map(|raw| hex_bytes(raw, &format!("{path}.callData")))
            .transpose()
    }

    /// The op's calls; `resolve` turns a call's `to` (an address or a fixture name) into an
    /// address. An op with neither calls nor callData is refused.
    pub fn calls<E: From<FormatError>>(
        &self,
        path: &str,
        resolve: &mut dyn FnMut(&str, &str) -> Result<Address, E>,
    ) -> Result<Vec<OpCall>, E> {
        let mut calls = Vec::new();
        for (j, c) in self.calls.iter().enumerate() {
            let cpath = format!("{path}.calls[{j}]");
            let to = resolve(&c.to, &format!("{cpath}.to"))?;
            let value = match &c.value {
                Some(v) => parse_uint(v).map_err(|e| error(&format!("{cpath}.value"), e))?,
                None => U256::ZERO,
            };
            let data = match (&c.data, &c.function) {
                (Some(hex), None) => hex_bytes(hex, &format!("{cpath}.data"))?,
                (None, Some(signature)) => encode_function(signature, &c.args, &cpath)?,
                (None, None) => Bytes::new(),
                (Some(_), Some(_)) => {
                    return Err(error(&cpath, "give either data or function, not both").into());
                }
            };
            calls.push(OpCall { to, value, data });
        }
        if calls.is_empty() {
            return Err(error(path, "give calls or callData").into());
        }
        Ok(calls)
    }
}
