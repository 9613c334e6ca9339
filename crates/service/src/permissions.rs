//! ERC-7715 permission requests (the draft of ethereum/ERCs commit `2adc378`) as session JSON
//! (docs/session-format.md): what maps exactly, and for what does not, the reason
//! (docs/decisions.md, "ERC-7715").

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The permission types this service grants.
pub const SUPPORTED_PERMISSIONS: [&str; 2] = ["erc20-token-allowance", "erc20-token-periodic"];
/// The rule types it understands (and requires: every session expires).
pub const SUPPORTED_RULES: [&str; 1] = ["expiry"];
/// The lint finding every ERC-20 permission carries and the service accepts (the owner sees
/// it): a transfer to any recipient, which is what ERC-7715's ERC-20 types grant, bounded by
/// the permission's budget.
pub const ANY_RECIPIENT_FINDING: &str = "SK001";
/// The fee budget of a session made from a permission: the ERC has no word for fees, and an
/// unlimited budget would let the key holder spend the account's ETH on gas (lint SK011).
pub const FEE_LIMIT_WEI: &str = "10000000000000000";
/// Its period.
pub const FEE_LIMIT_PERIOD: &str = "1d";

/// One `PermissionRequest` of `wallet_requestExecutionPermissions`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionRequest {
    /// The chain (hex).
    pub chain_id: String,
    /// The account the permission is asked of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// Who may use it: here, the session key's address.
    pub to: Address,
    /// What it allows.
    pub permission: Permission,
    /// Its conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
}

/// A permission: its type and its type's data.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permission {
    /// E.g. `erc20-token-periodic`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the wallet may attenuate it (this service never does).
    pub is_adjustment_allowed: bool,
    /// The type's fields.
    pub data: Map<String, Value>,
}

/// A rule: its type and data.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// E.g. `expiry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's fields.
    pub data: Map<String, Value>,
}

/// Why a request cannot be granted: where in it, and what is wrong (JSON-RPC -32602 data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct NotGrantable {
    /// The field, e.g. `permission.data.periodDuration`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

fn refuse(path: &str, reason: impl Into<String>) -> NotGrantable {
    NotGrantable {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// The session JSON (without `signer`) that grants `request` on chain `chain_id` at chain time
/// `now`, or why it cannot be granted.
///
/// # Errors
/// [`NotGrantable`] naming the field: another chain, no or a past `expiry`, a permission type
/// that does not map onto the validator's policies (with the reason), malformed data.
pub fn session_json(
    request: &PermissionRequest,
    chain_id: u64,
    now: u64,
) -> Result<Value, NotGrantable> {
    validate_chain(&request.chain_id, chain_id)?;
    let valid_until = validate_expiry(request.rules.as_deref().unwrap_or_default(), now)?;
    let data = &request.permission.data;
    let (token, limit, fields): (Address, Value, &[&str]) = match request.permission.kind.as_str() {
        "erc20-token-allowance" => (
            address(data, "tokenAddress")?,
            json!({ "limit": amount(data, "allowanceAmount")? }),
            &[
                "tokenAddress",
                "allowanceAmount",
                "startTime",
                "justification",
            ],
        ),
        "erc20-token-periodic" => {
            let period = seconds(data, "periodDuration")?;
            if period < 60 {
                return Err(refuse(
                    "permission.data.periodDuration",
                    format!(
                        "{period} s: the validator's periods are at least 60 seconds; ask for a \
                         period of 60 or more"
                    ),
                ));
            }
            (
                address(data, "tokenAddress")?,
                json!({ "limit": amount(data, "periodAmount")?, "per": period }),
                &[
                    "tokenAddress",
                    "periodAmount",
                    "periodDuration",
                    "startTime",
                    "justification",
                ],
            )
        }
        other => return Err(not_mapped(other)),
    };
    // A field this service does not know could be a condition the dapp expects enforced.
    if let Some(unknown) = data.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(refuse(
            &format!("permission.data.{unknown}"),
            format!(
                "not a field of {}; its fields are {}",
                request.permission.kind,
                fields.join(", ")
            ),
        ));
    }
    let start = match data.get("startTime") {
        None | Some(Value::Null) => None,
        Some(_) => Some(seconds(data, "startTime")?),
    };
    if start.is_some_and(|s| s >= valid_until) {
        return Err(refuse(
            "permission.data.startTime",
            "starts at or after the expiry rule's timestamp: nothing could ever be used",
        ));
    }
    let mut session = json!({
        "validUntil": valid_until,
        "feeLimit": { "limit": FEE_LIMIT_WEI, "per": FEE_LIMIT_PERIOD },
        "callPolicies": [{
            "target": format!("{token:#x}"),
            "selector": "transfer(address,uint256)",
            "constraints": [
                { "index": 1, "condition": "unconstrained", "limit": limit }
            ]
        }]
    });
    if let Some(start) = start {
        session["validAfter"] = json!(start);
    }
    Ok(session)
}

/// Why a permission type is not granted (docs/decisions.md, "ERC-7715").
fn not_mapped(kind: &str) -> NotGrantable {
    let reason = match kind {
        "native-token-allowance" | "native-token-periodic" | "native-token-transfer" => {
            "native-token permissions let the key send ETH to any recipient; this service's \
             validator names the recipient of every plain transfer (and cannot share one budget \
             among several), so it cannot grant one. Ask for an erc20-token-* permission, or \
             request a session with transferPolicies through POST /v1/sessions"
        }
        "native-token-stream" | "erc20-token-stream" => {
            "stream permissions accrue an allowance every second; this service's validator has \
             lifetime and periodic budgets only, and any periodic stand-in would grant more or \
             less than asked. Ask for erc20-token-periodic instead"
        }
        _ if kind.starts_with("erc721-") || kind.starts_with("erc1155-") => {
            "NFT permissions are not granted by this service; it grants erc20-token-allowance \
             and erc20-token-periodic"
        }
        _ => {
            return refuse(
                "permission.type",
                format!(
                    "{kind:?} is not a permission type this service grants; \
                     wallet_getSupportedExecutionPermissions lists them: {}",
                    SUPPORTED_PERMISSIONS.join(", ")
                ),
            );
        }
    };
    refuse("permission.type", format!("{kind}: {reason}"))
}

fn validate_chain(requested: &str, chain_id: u64) -> Result<(), NotGrantable> {
    let parsed = requested
        .strip_prefix("0x")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| {
            refuse(
                "chainId",
                format!("{requested:?} is not a hex chain id such as \"0x{chain_id:x}\""),
            )
        })?;
    if parsed != chain_id {
        return Err(refuse(
            "chainId",
            format!("chain {parsed} is not this service's chain ({chain_id}, \"0x{chain_id:x}\")"),
        ));
    }
    Ok(())
}

fn validate_expiry(rules: &[Rule], now: u64) -> Result<u64, NotGrantable> {
    let mut expiry = None;
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        match rule.kind.as_str() {
            "expiry" if expiry.is_none() => {
                let timestamp = rule
                    .data
                    .get("timestamp")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| {
                        refuse(
                            &format!("{path}.data.timestamp"),
                            "the expiry rule needs a Unix timestamp in seconds (a JSON integer)",
                        )
                    })?;
                expiry = Some(timestamp);
            }
            "expiry" => return Err(refuse(&path, "a second expiry rule: give one")),
            other => {
                return Err(refuse(
                    &format!("{path}.type"),
                    format!(
                        "{other:?} is not a rule type this service understands; it understands: \
                         {}",
                        SUPPORTED_RULES.join(", ")
                    ),
                ));
            }
        }
    }
    let expiry = expiry.ok_or_else(|| {
        refuse(
            "rules",
            "no expiry rule: every session this service grants ends; add \
             {\"type\": \"expiry\", \"data\": {\"timestamp\": <unix seconds>}}",
        )
    })?;
    if expiry <= now {
        return Err(refuse(
            "rules.expiry",
            format!("timestamp {expiry} is not after the chain's time ({now})"),
        ));
    }
    Ok(expiry)
}

fn address(data: &Map<String, Value>, field: &str) -> Result<Address, NotGrantable> {
    let path = format!("permission.data.{field}");
    let text = data
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(&path, "required: the token's address (0x + 40 hex digits)"))?;
    text.parse()
        .map_err(|e| refuse(&path, format!("{text:?} is not an address: {e}")))
}

/// A positive amount, hex (`0x…`) or decimal, as a decimal string.
fn amount(data: &Map<String, Value>, field: &str) -> Result<String, NotGrantable> {
    let path = format!("permission.data.{field}");
    let text = data.get(field).and_then(Value::as_str).ok_or_else(|| {
        refuse(
            &path,
            "required: an amount in the token's smallest unit, as a hex (0x…) or decimal string",
        )
    })?;
    let value = match text.strip_prefix("0x") {
        Some(hex) => U256::from_str_radix(hex, 16),
        None => U256::from_str_radix(text, 10),
    }
    .map_err(|e| refuse(&path, format!("{text:?} is not an amount: {e}")))?;
    if value.is_zero() {
        return Err(refuse(&path, "0 allows nothing: ask for a positive amount"));
    }
    Ok(value.to_string())
}

/// Seconds: a JSON integer (or a hex string, as some wallets send).
fn seconds(data: &Map<String, Value>, field: &str) -> Result<u64, NotGrantable> {
    let path = format!("permission.data.{field}");
    match data.get(field) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok()),
        _ => None,
    }
    .ok_or_else(|| refuse(&path, "required: whole seconds, as a JSON integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const USDC: &str = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";

    /// A request in the ERC's JSON shape (MetaMask's field names for the types).
    fn request(permission: Value, rules: Value) -> PermissionRequest {
        serde_json::from_value(json!({
            "chainId": "0x7a69",
            "from": "0x00000000000000000000000000000000000a11ce",
            "to": "0x016562aA41A8697720ce0943F003141f5dEAe006",
            "permission": permission,
            "rules": rules,
        }))
        .unwrap()
    }

    fn expiry() -> Value {
        json!([{ "type": "expiry", "data": { "timestamp": NOW + 3600 } }])
    }

    #[test]
    fn an_erc20_periodic_permission_is_a_periodic_budget_on_transfer_to_anyone() {
        let asked = request(
            json!({
                "type": "erc20-token-periodic",
                "isAdjustmentAllowed": false,
                "data": {
                    "tokenAddress": USDC,
                    "periodAmount": "0x989680",
                    "periodDuration": 86400,
                    "startTime": NOW,
                    "justification": "10 USDC a day for the subscription"
                }
            }),
            expiry(),
        );
        assert_eq!(
            session_json(&asked, 31337, NOW).unwrap(),
            json!({
                "validAfter": NOW,
                "validUntil": NOW + 3600,
                "feeLimit": { "limit": FEE_LIMIT_WEI, "per": FEE_LIMIT_PERIOD },
                "callPolicies": [{
                    "target": USDC,
                    "selector": "transfer(address,uint256)",
                    "constraints": [{
                        "index": 1,
                        "condition": "unconstrained",
                        "limit": { "limit": "10000000", "per": 86400 }
                    }]
                }]
            })
        );
        // The session JSON parses as the session format; its one lint error is the
        // any-recipient finding the permission is made of.
        let template = sessionkeys::SessionTemplate::parse(
            &session_json(&asked, 31337, NOW).unwrap().to_string(),
        )
        .unwrap();
        let errors: Vec<String> = template
            .lint(NOW)
            .iter()
            .filter(|f| f.severity == sessionkeys_engine::lint::Severity::Error)
            .map(|f| f.code.to_string())
            .collect();
        assert_eq!(errors, [ANY_RECIPIENT_FINDING]);
    }

    #[test]
    fn an_erc20_allowance_is_a_lifetime_budget_valid_at_once() {
        let asked = request(
            json!({
                "type": "erc20-token-allowance",
                "isAdjustmentAllowed": true,
                "data": { "tokenAddress": USDC, "allowanceAmount": "50000000" }
            }),
            expiry(),
        );
        let session = session_json(&asked, 31337, NOW).unwrap();
        assert!(session.get("validAfter").is_none());
        assert_eq!(
            session["callPolicies"][0]["constraints"][0]["limit"],
            json!({ "limit": "50000000" })
        );
    }

    fn refusal(permission: Value, rules: Value, chain: u64) -> NotGrantable {
        session_json(&request(permission, rules), chain, NOW).unwrap_err()
    }

    fn periodic(data: Value) -> Value {
        json!({ "type": "erc20-token-periodic", "isAdjustmentAllowed": false, "data": data })
    }

    #[test]
    fn what_does_not_map_is_refused_naming_the_field_and_the_reason() {
        let good = json!({ "tokenAddress": USDC, "periodAmount": "0x1", "periodDuration": 3600 });
        let cases = [
            (
                json!({ "type": "native-token-periodic", "isAdjustmentAllowed": false,
                        "data": { "periodAmount": "0x1", "periodDuration": 3600 } }),
                expiry(),
                "permission.type",
                "names the recipient",
            ),
            (
                json!({ "type": "erc20-token-stream", "isAdjustmentAllowed": false,
                        "data": { "tokenAddress": USDC, "amountPerSecond": "0x1" } }),
                expiry(),
                "permission.type",
                "accrue",
            ),
            (
                json!({ "type": "native-token-stream", "isAdjustmentAllowed": false, "data": {} }),
                expiry(),
                "permission.type",
                "accrue",
            ),
            (
                json!({ "type": "erc721-token-transfer", "isAdjustmentAllowed": false, "data": {} }),
                expiry(),
                "permission.type",
                "NFT",
            ),
            (
                json!({ "type": "spend-everything", "isAdjustmentAllowed": false, "data": {} }),
                expiry(),
                "permission.type",
                "erc20-token-allowance, erc20-token-periodic",
            ),
            (periodic(good.clone()), json!([]), "rules", "no expiry rule"),
            (
                periodic(good.clone()),
                json!([{ "type": "expiry", "data": { "timestamp": NOW } }]),
                "rules.expiry",
                "not after",
            ),
            (
                periodic(good.clone()),
                json!([{ "type": "expiry", "data": { "timestamp": NOW + 60 } },
                       { "type": "gas-limit", "data": { "limit": "0x1" } }]),
                "rules[1].type",
                "not a rule type",
            ),
            (
                periodic(
                    json!({ "tokenAddress": USDC, "periodAmount": "0x1", "periodDuration": 59 }),
                ),
                expiry(),
                "permission.data.periodDuration",
                "at least 60",
            ),
            (
                periodic(
                    json!({ "tokenAddress": USDC, "periodAmount": "0x0", "periodDuration": 60 }),
                ),
                expiry(),
                "permission.data.periodAmount",
                "allows nothing",
            ),
            (
                periodic(
                    json!({ "tokenAddress": "0x12", "periodAmount": "1", "periodDuration": 60 }),
                ),
                expiry(),
                "permission.data.tokenAddress",
                "not an address",
            ),
            (
                periodic(
                    json!({ "tokenAddress": USDC, "periodAmount": "1", "periodDuration": 60,
                                 "recipient": USDC }),
                ),
                expiry(),
                "permission.data.recipient",
                "not a field",
            ),
            (
                periodic(
                    json!({ "tokenAddress": USDC, "periodAmount": "1", "periodDuration": 60,
                                 "startTime": NOW + 7200 }),
                ),
                expiry(),
                "permission.data.startTime",
                "nothing could ever be used",
            ),
        ];
        for (permission, rules, path, says) in cases {
            let refused = refusal(permission.clone(), rules, 31337);
            assert_eq!(refused.path, path, "{permission}: {refused}");
            assert!(refused.reason.contains(says), "{permission}: {refused}");
        }
        let other_chain = refusal(periodic(good), expiry(), 1);
        assert_eq!(other_chain.path, "chainId");
        assert!(other_chain.reason.contains("not this service's chain"));
    }

    #[test]
    fn a_request_with_unknown_top_level_fields_does_not_parse() {
        let parsed: Result<PermissionRequest, _> = serde_json::from_value(json!({
            "chainId": "0x1", "to": USDC, "signer": {},
            "permission": { "type": "x", "isAdjustmentAllowed": true, "data": {} }
        }));
        assert!(parsed.unwrap_err().to_string().contains("signer"));
    }
}
