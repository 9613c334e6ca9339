//! The functions the module answers, as pure functions of JSON: one request in, one answer
//! out, never a panic. Every answer is `{"ok": …}` or `{"error": {"code", "message"}}`.
//!
//! | `fn` | takes | answers |
//! |---|---|---|
//! | `sessionHash` | `session` | the session hash (0x…) |
//! | `explain` | `session`, `tokens`? | `{heading, lines: [{risk, text}], notes}` |
//! | `lint` | `session`, `now` | `[{code, severity, location, message, hint}]` |
//! | `typedData` | `session`, `account`, `validator`, `chains` | `{typedData, digest}` |
//! | `check` | `session`, `ops`, `usage`?, `at`, `account`?, `validator`?, `chainId`?, `maxFeePerGas`?, `entryPoint`? | `{sessionHash, ops: [{op, time, verdict, error?, reason}]}` |
//!
//! `session` is session JSON (docs/session-format.md), `ops` and `usage` the files of
//! docs/simulate-format.md, each as a JSON value or as a string of JSON. Times (`now`, `at`)
//! come from the caller: the module has no clock.

use alloy::primitives::Address;
use serde::Deserialize;
use serde_json::{Value, json};
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::offline_check::{
    CheckInputError, CheckOptions, DEFAULT_ACCOUNT, DEFAULT_CHAIN_ID, DEFAULT_MAX_FEE_PER_GAS,
    DEFAULT_VALIDATOR, PLACEHOLDER_SIGNER, check_ops,
};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use sessionkeys_engine::explain::{Labels, explain};
use sessionkeys_engine::format::ops::parse_ops_json;
use sessionkeys_engine::format::parse_session_json;
use sessionkeys_engine::format::usage::{UsageFile, parse_usage_json};
use sessionkeys_engine::lint::{Severity, lint};
use sessionkeys_engine::typed_data::enable_typed_data;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `bad_request` (the request itself), `bad_session`, `bad_ops`, `bad_usage`.
    pub code: &'static str,
    /// What was wrong and how to fix it.
    pub message: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        code,
        message: message.into(),
    }
}

/// The answer to `request` (UTF-8 JSON), as JSON text with every object's keys in byte order.
pub fn respond(request: &[u8]) -> String {
    let answer = match answer(request) {
        Ok(value) => json!({ "ok": value }),
        Err(error) => json!({ "error": { "code": error.code, "message": error.message } }),
    };
    sorted_keys(answer).to_string()
}

/// `value` with every object's keys in byte order. The same answer must be the same bytes in
/// every build: serde_json keeps keys sorted unless a crate in the build turns on its
/// `preserve_order` feature (the workspace's MCP and schema crates do; the WebAssembly build
/// has none), and then it keeps the order they were written in.
pub fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// The `ok` value of `request`.
///
/// # Errors
/// A request that is not JSON, names no known function, or whose inputs do not parse.
pub fn answer(request: &[u8]) -> Result<Value, ApiError> {
    let request: Value = serde_json::from_slice(request)
        .map_err(|e| bad("bad_request", format!("the request is not JSON: {e}")))?;
    let function = request["fn"].as_str().ok_or_else(|| {
        bad(
            "bad_request",
            "give \"fn\": sessionHash, explain, lint, typedData or check",
        )
    })?;
    match function {
        "sessionHash" => {
            let spec = session(&request, None)?;
            let hash = sessionkeys_engine::session_hash(&spec)
                .map_err(|e| bad("bad_session", e.to_string()))?;
            Ok(json!(hash))
        }
        "explain" => explain_request(&request),
        "lint" => {
            let now = unsigned(&request, "now")?;
            let spec = session(&request, Some(PLACEHOLDER_SIGNER))?;
            Ok(Value::Array(
                lint(&spec, now)
                    .into_iter()
                    .map(|f| {
                        json!({
                            "code": f.code,
                            "severity": match f.severity {
                                Severity::Error => "error",
                                Severity::Warning => "warning",
                            },
                            "location": f.location,
                            "message": f.message,
                            "hint": f.hint,
                        })
                    })
                    .collect(),
            ))
        }
        "typedData" => typed_data_request(&request),
        "check" => check_request(&request),
        other => Err(bad(
            "bad_request",
            format!("no function {other:?}: give sessionHash, explain, lint, typedData or check"),
        )),
    }
}

/// A field that is JSON text or a JSON value, as text.
fn text_of(request: &Value, field: &str) -> Option<String> {
    match &request[field] {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The request's `session`; `signer` fills in a session key the JSON leaves out.
fn session(request: &Value, signer: Option<Address>) -> Result<SessionSpec, ApiError> {
    let text = text_of(request, "session")
        .ok_or_else(|| bad("bad_request", "give \"session\": session JSON"))?;
    parse_session_json(&text)
        .and_then(|json| json.to_spec(signer))
        .map_err(|e| bad("bad_session", format!("session: {e}")))
}

/// A non-negative integer field (unix seconds, a chain id).
fn unsigned(request: &Value, field: &str) -> Result<u64, ApiError> {
    request[field].as_u64().ok_or_else(|| {
        bad(
            "bad_request",
            format!("give \"{field}\": a whole number (unix seconds or an id)"),
        )
    })
}

fn address(request: &Value, field: &str) -> Result<Option<Address>, ApiError> {
    match &request[field] {
        Value::Null => Ok(None),
        Value::String(text) => sessionkeys_engine::format::scalars::parse_address(text)
            .map(Some)
            .map_err(|e| bad("bad_request", format!("{field}: {e}"))),
        _ => Err(bad(
            "bad_request",
            format!("{field}: give an address as a 0x string"),
        )),
    }
}

fn required_address(request: &Value, field: &str) -> Result<Address, ApiError> {
    address(request, field)?
        .ok_or_else(|| bad("bad_request", format!("give \"{field}\": an address")))
}

/// A token the caller read from the chain (the built-in list names the common ones).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenJson {
    address: String,
    symbol: String,
    decimals: u8,
}

fn explain_request(request: &Value) -> Result<Value, ApiError> {
    let spec = session(request, Some(PLACEHOLDER_SIGNER))?;
    let mut labels = Labels::well_known();
    // Functions the session names by their signature, kept on-chain only as 4 bytes.
    if let Ok(Value::Object(json)) =
        serde_json::from_str::<Value>(&text_of(request, "session").unwrap_or_default())
        && let Some(Value::Array(policies)) = json.get("callPolicies")
    {
        for selector in policies.iter().filter_map(|p| p["selector"].as_str()) {
            if selector.contains('(') {
                labels = labels.with_function(selector);
            }
        }
    }
    if !request["tokens"].is_null() {
        let tokens: Vec<TokenJson> =
            serde_json::from_value(request["tokens"].clone()).map_err(|e| {
                bad(
                    "bad_request",
                    format!("tokens: {e}: give [{{address, symbol, decimals}}]"),
                )
            })?;
        for token in tokens {
            let at = sessionkeys_engine::format::scalars::parse_address(&token.address)
                .map_err(|e| bad("bad_request", format!("tokens: {e}")))?;
            labels = labels.with_token(at, &token.symbol, token.decimals);
        }
    }
    let explanation = explain(&spec, &labels);
    Ok(json!({
        "heading": explanation.heading,
        "lines": explanation.lines.iter().map(|l| json!({"risk": l.risk, "text": l.text})).collect::<Vec<_>>(),
        "notes": explanation.notes,
    }))
}

/// `chains`: `[{chainId, epoch}]`, the chains the owner approves the session on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChainJson {
    chain_id: u64,
    #[serde(default)]
    epoch: u64,
}

fn typed_data_request(request: &Value) -> Result<Value, ApiError> {
    let spec = session(request, None)?;
    let account = required_address(request, "account")?;
    let validator = required_address(request, "validator")?;
    let chains: Vec<ChainJson> =
        serde_json::from_value(request["chains"].clone()).map_err(|e| {
            bad(
                "bad_request",
                format!("chains: {e}: give [{{chainId, epoch}}]"),
            )
        })?;
    if chains.is_empty() {
        return Err(bad(
            "bad_request",
            "chains: give at least one {chainId, epoch}",
        ));
    }
    let chains: Vec<ChainEpoch> = chains
        .into_iter()
        .map(|c| ChainEpoch {
            chainId: c.chain_id,
            epoch: c.epoch,
        })
        .collect();
    Ok(json!({
        "typedData": enable_typed_data(validator, account, &spec, &chains),
        "digest": sessionkeys_engine::enable_digest(validator, account, &spec, &chains),
    }))
}

fn check_request(request: &Value) -> Result<Value, ApiError> {
    let spec = session(request, Some(PLACEHOLDER_SIGNER))?;
    let ops_text =
        text_of(request, "ops").ok_or_else(|| bad("bad_request", "give \"ops\": an ops file"))?;
    let ops = parse_ops_json(&ops_text).map_err(|e| bad("bad_ops", format!("ops: {e}")))?;
    let usage = match text_of(request, "usage") {
        None => UsageFile::default(),
        Some(text) => {
            parse_usage_json(&text).map_err(|e| bad("bad_usage", format!("usage: {e}")))?
        }
    };
    let entry_point = match request["entryPoint"].as_str() {
        None => EntryPointVersion::V07,
        Some(version) => version
            .parse()
            .map_err(|e| bad("bad_request", format!("entryPoint: {e}")))?,
    };
    let options = CheckOptions {
        account: address(request, "account")?.unwrap_or(DEFAULT_ACCOUNT),
        validator: address(request, "validator")?.unwrap_or(DEFAULT_VALIDATOR),
        chain_id: match request["chainId"] {
            Value::Null => DEFAULT_CHAIN_ID,
            _ => unsigned(request, "chainId")?,
        },
        max_fee_per_gas: match &request["maxFeePerGas"] {
            Value::Null => DEFAULT_MAX_FEE_PER_GAS,
            Value::String(wei) => wei
                .parse()
                .map_err(|_| bad("bad_request", "maxFeePerGas: give wei as a decimal string"))?,
            _ => {
                return Err(bad(
                    "bad_request",
                    "maxFeePerGas: give wei as a decimal string",
                ));
            }
        },
        entry_point,
        at: unsigned(request, "at")?,
    };
    // The names an offline check knows, as `sessionkeys check` does.
    let mut resolve = |name: &str, at: &str| -> Result<Address, CheckInputError> {
        match name {
            "account" => Ok(options.account),
            "validator" => Ok(options.validator),
            "entryPoint" => Ok(options.entry_point.address()),
            other => sessionkeys_engine::format::scalars::parse_address(other).map_err(|_| {
                CheckInputError(format!(
                    "{at}: {other:?} is neither an address nor a name this check knows \
                     (account, validator, entryPoint)"
                ))
            }),
        }
    };
    let report =
        check_ops(&spec, &ops, &usage, &options, &mut resolve).map_err(|e| bad("bad_ops", e.0))?;
    serde_json::to_value(report).map_err(|e| bad("bad_request", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_in_byte_order_whatever_order_they_were_written_in() {
        // With serde_json's preserve_order (on in the workspace build) this map keeps the
        // order written; the answer must not.
        let mut inner = serde_json::Map::new();
        inner.insert("zeta".into(), json!(1));
        inner.insert("Alpha".into(), json!(2));
        inner.insert("alpha".into(), json!([{"y": 1, "x": 2}]));
        let mut outer = serde_json::Map::new();
        outer.insert("ok".into(), Value::Object(inner));
        outer.insert("error".into(), Value::Null);
        assert_eq!(
            sorted_keys(Value::Object(outer)).to_string(),
            r#"{"error":null,"ok":{"Alpha":2,"alpha":[{"x":2,"y":1}],"zeta":1}}"#
        );
    }
}
