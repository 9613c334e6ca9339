//! The functions the module answers, as pure functions of JSON: one request in, one answer
//! out, never a panic. Every answer is `{"ok": …}` or `{"error": {"code", "message"}}`.
//!
//! | `fn` | takes | answers |
//! |---|---|---|
//! | `sessionHash` | `session` | the session hash (0x…) |
//! | `explain` | `session`, `tokens`? | `{heading, lines: [{risk, text}], notes}` |
//! | `lint` | `session`, `now` | `[{code, severity, location, message, hint}]` |
//! | `typedData` | `session`, `account`, `validator`, `chains` | `{typedData, digest}` |
//! | `review` | `typedData`, `expectedDigest`?, `now`, `tokens`? | `{account, validator, chains, sessionHash, digest, session, explanation, lint}` |
//! | `revokeTypedData` | `account`, `validator`, `chains`, `sessionHashes`? | `{typedData, digest}` (every session when `sessionHashes` is left out) |
//! | `check` | `session`, `ops`, `usage`?, `at`, `account`?, `validator`?, `chainId`?, `maxFeePerGas`?, `entryPoint`? | `{sessionHash, ops: [{op, time, verdict, error?, reason}]}` |
//!
//! `session` is session JSON (docs/session-format.md), `ops` and `usage` the files of
//! docs/simulate-format.md, each as a JSON value or as a string of JSON. Times (`now`, `at`)
//! come from the caller: the module has no clock.
//!
//! `review` is what the owner's page runs before it asks a wallet to sign an enable: it reads
//! the typed data back into the session (only the canonical form [`enable_typed_data`] writes is
//! accepted, error `bad_typed_data`), computes the digest itself, and answers `digest_mismatch`
//! when the digest the service expects is another one.

use alloy::primitives::{Address, B256};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::offline_check::{
    CheckInputError, CheckOptions, DEFAULT_ACCOUNT, DEFAULT_CHAIN_ID, DEFAULT_MAX_FEE_PER_GAS,
    DEFAULT_VALIDATOR, PLACEHOLDER_SIGNER, check_ops,
};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use sessionkeys_engine::explain::{Labels, explain};
use sessionkeys_engine::format::SessionJson;
use sessionkeys_engine::format::ops::parse_ops_json;
use sessionkeys_engine::format::parse_session_json;
use sessionkeys_engine::format::usage::{UsageFile, parse_usage_json};
use sessionkeys_engine::lint::{Severity, lint};
use sessionkeys_engine::typed_data::{
    enable_typed_data, read_enable_typed_data, revoke_all_typed_data, revoke_sessions_typed_data,
};

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

/// The functions a request may name.
const FUNCTIONS: &str = "sessionHash, explain, lint, typedData, review, revokeTypedData or check";

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
    let function = request["fn"]
        .as_str()
        .ok_or_else(|| bad("bad_request", format!("give \"fn\": {FUNCTIONS}")))?;
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
            Ok(lint_json(&spec, now))
        }
        "typedData" => typed_data_request(&request),
        "review" => review_request(&request),
        "revokeTypedData" => revoke_typed_data_request(&request),
        "check" => check_request(&request),
        other => Err(bad(
            "bad_request",
            format!("no function {other:?}: give {FUNCTIONS}"),
        )),
    }
}

/// The lint findings on `spec` at `now`.
fn lint_json(spec: &SessionSpec, now: u64) -> Value {
    Value::Array(
        lint(spec, now)
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
    )
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
    let labels = labels(request, true)?;
    Ok(explanation_json(&spec, &labels))
}

fn explanation_json(spec: &SessionSpec, labels: &Labels) -> Value {
    let explanation = explain(spec, labels);
    json!({
        "heading": explanation.heading,
        "lines": explanation.lines.iter().map(|l| json!({"risk": l.risk, "text": l.text})).collect::<Vec<_>>(),
        "notes": explanation.notes,
    })
}

/// The names the explanation uses: the built-in list, the request's `tokens`, and (when
/// `from_session`) the function signatures the request's session JSON gives.
fn labels(request: &Value, from_session: bool) -> Result<Labels, ApiError> {
    let mut labels = Labels::well_known();
    // Functions the session names by their signature, kept on-chain only as 4 bytes.
    if from_session
        && let Ok(Value::Object(json)) =
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
    Ok(labels)
}

/// `chains`: `[{chainId, epoch}]`, the chains the owner approves the session on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChainJson {
    chain_id: u64,
    #[serde(default)]
    epoch: u64,
}

/// The request's `chains`, at least one.
fn chains(request: &Value) -> Result<Vec<ChainEpoch>, ApiError> {
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
    Ok(chains
        .into_iter()
        .map(|c| ChainEpoch {
            chainId: c.chain_id,
            epoch: c.epoch,
        })
        .collect())
}

fn chains_json(chains: &[ChainEpoch]) -> Value {
    chains
        .iter()
        .map(|c| json!({"chainId": c.chainId, "epoch": c.epoch}))
        .collect()
}

/// What the owner is asked to approve, read from the typed data the wallet will be asked to
/// sign, with the digest computed here; refused when the caller expects another digest.
fn review_request(request: &Value) -> Result<Value, ApiError> {
    let typed = match &request["typedData"] {
        Value::Null => {
            return Err(bad(
                "bad_request",
                "give \"typedData\": the enable typed data the wallet is to sign",
            ));
        }
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| bad("bad_typed_data", format!("typedData is not JSON: {e}")))?,
        other => other.clone(),
    };
    let now = unsigned(request, "now")?;
    let read = read_enable_typed_data(&typed).map_err(|e| bad("bad_typed_data", e.to_string()))?;
    let digest =
        sessionkeys_engine::enable_digest(read.validator, read.account, &read.spec, &read.chains);
    match &request["expectedDigest"] {
        Value::Null => {}
        Value::String(text) => {
            let expected: B256 = text.parse().map_err(|_| {
                bad(
                    "bad_request",
                    "expectedDigest: give 32 bytes as 0x and 64 hex digits",
                )
            })?;
            if expected != digest {
                return Err(bad(
                    "digest_mismatch",
                    format!(
                        "the typed data hashes to {digest}, but {expected} is expected: what the \
                         wallet would show is not what was asked for; do not sign"
                    ),
                ));
            }
        }
        _ => {
            return Err(bad(
                "bad_request",
                "expectedDigest: give 32 bytes as a 0x string",
            ));
        }
    }
    let session_hash = sessionkeys_engine::session_hash(&read.spec)
        .map_err(|e| bad("bad_typed_data", e.to_string()))?;
    let labels = labels(request, false)?;
    Ok(json!({
        "account": read.account.to_checksum(None),
        "validator": read.validator.to_checksum(None),
        "chains": chains_json(&read.chains),
        "sessionHash": session_hash,
        "digest": digest,
        "session": SessionJson::from_spec(&read.spec),
        "explanation": explanation_json(&read.spec, &labels),
        "lint": lint_json(&read.spec, now),
    }))
}

/// The owner's relayable revocation of some sessions (or of every one) and its digest.
fn revoke_typed_data_request(request: &Value) -> Result<Value, ApiError> {
    let account = required_address(request, "account")?;
    let validator = required_address(request, "validator")?;
    let chains = chains(request)?;
    match &request["sessionHashes"] {
        Value::Null => Ok(json!({
            "typedData": revoke_all_typed_data(validator, account, &chains),
            "digest": sessionkeys_engine::spec::revoke_all_digest(validator, account, &chains),
        })),
        Value::Array(items) => {
            let hashes = items
                .iter()
                .map(|h| h.as_str().and_then(|t| t.parse::<B256>().ok()))
                .collect::<Option<Vec<B256>>>()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    bad(
                        "bad_request",
                        "sessionHashes: give a non-empty list of 0x session hashes, or leave it \
                         out to revoke every session",
                    )
                })?;
            Ok(json!({
                "typedData": revoke_sessions_typed_data(validator, account, &hashes, &chains),
                "digest": sessionkeys_engine::spec::revoke_sessions_digest(validator, account, &hashes, &chains),
            }))
        }
        _ => Err(bad(
            "bad_request",
            "sessionHashes: give a list of 0x session hashes",
        )),
    }
}

fn typed_data_request(request: &Value) -> Result<Value, ApiError> {
    let spec = session(request, None)?;
    let account = required_address(request, "account")?;
    let validator = required_address(request, "validator")?;
    let chains = chains(request)?;
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
