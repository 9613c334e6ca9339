//! The owner's approvals (enable, revoke some, revoke all) as EIP-712 typed data JSON, as
//! `eth_signTypedData_v4` and viem's `signTypedData` take it: the full spec as nested structs, so
//! a wallet shows every policy.
//! Unsigned integers are decimal strings, bytes are 0x-hex, addresses checksummed.

use alloy::primitives::{Address, B256};
use serde_json::{Value, json};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec, UsageLimit};

fn fields(list: &[(&str, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(name, ty)| json!({ "name": name, "type": ty }))
            .collect(),
    )
}

fn limit(l: &UsageLimit) -> Value {
    json!({ "limitType": l.limitType, "limit": l.limit.to_string(), "period": l.period.to_string() })
}

/// The typed data of approving `spec` for `account` on `chains` under `validator`.
pub fn enable_typed_data(
    validator: Address,
    account: Address,
    spec: &SessionSpec,
    chains: &[ChainEpoch],
) -> Value {
    let types = json!({
        "EIP712Domain": fields(&[("name", "string"), ("version", "string"), ("verifyingContract", "address")]),
        "EnableSession": fields(&[("account", "address"), ("session", "SessionSpec"), ("chains", "ChainEpoch[]")]),
        "ChainEpoch": fields(&[("chainId", "uint64"), ("epoch", "uint64")]),
        "SessionSpec": fields(&[
            ("signer", "address"),
            ("validAfter", "uint48"),
            ("validUntil", "uint48"),
            ("feeLimit", "UsageLimit"),
            ("paymasterMode", "uint8"),
            ("paymaster", "address"),
            ("opLimit", "UsageLimit"),
            ("callPolicies", "CallPolicy[]"),
            ("transferPolicies", "TransferPolicy[]"),
            ("salt", "bytes32"),
        ]),
        "CallPolicy": fields(&[
            ("target", "address"),
            ("selector", "bytes4"),
            ("maxValuePerUse", "uint256"),
            ("valueLimit", "UsageLimit"),
            ("callLimit", "UsageLimit"),
            ("constraints", "Constraint[]"),
        ]),
        "Constraint": fields(&[
            ("condition", "uint8"),
            ("index", "uint32"),
            ("bits", "uint16"),
            ("refValue", "bytes32"),
            ("oneOf", "bytes32[]"),
            ("limit", "UsageLimit"),
        ]),
        "TransferPolicy": fields(&[("target", "address"), ("maxValuePerUse", "uint256"), ("valueLimit", "UsageLimit")]),
        "UsageLimit": fields(&[("limitType", "uint8"), ("limit", "uint256"), ("period", "uint48")]),
    });
    let call_policies: Vec<Value> = spec
        .callPolicies
        .iter()
        .map(|p| {
            json!({
                "target": p.target.to_checksum(None),
                "selector": p.selector.to_string(),
                "maxValuePerUse": p.maxValuePerUse.to_string(),
                "valueLimit": limit(&p.valueLimit),
                "callLimit": limit(&p.callLimit),
                "constraints": p.constraints.iter().map(|c| json!({
                    "condition": c.condition,
                    "index": c.index,
                    "bits": c.bits,
                    "refValue": c.refValue.to_string(),
                    "oneOf": c.oneOf.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                    "limit": limit(&c.limit),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let transfer_policies: Vec<Value> = spec
        .transferPolicies
        .iter()
        .map(|p| {
            json!({
                "target": p.target.to_checksum(None),
                "maxValuePerUse": p.maxValuePerUse.to_string(),
                "valueLimit": limit(&p.valueLimit),
            })
        })
        .collect();
    json!({
        "types": types,
        "primaryType": "EnableSession",
        "domain": { "name": "SessionKeyValidator", "version": "1", "verifyingContract": validator.to_checksum(None) },
        "message": {
            "account": account.to_checksum(None),
            "session": {
                "signer": spec.signer.to_checksum(None),
                "validAfter": spec.validAfter.to_string(),
                "validUntil": spec.validUntil.to_string(),
                "feeLimit": limit(&spec.feeLimit),
                "paymasterMode": spec.paymasterMode,
                "paymaster": spec.paymaster.to_checksum(None),
                "opLimit": limit(&spec.opLimit),
                "callPolicies": call_policies,
                "transferPolicies": transfer_policies,
                "salt": spec.salt.to_string(),
            },
            "chains": chains.iter().map(|c| json!({ "chainId": c.chainId.to_string(), "epoch": c.epoch.to_string() })).collect::<Vec<_>>(),
        },
    })
}

fn chains_json(chains: &[ChainEpoch]) -> Value {
    chains
        .iter()
        .map(|c| json!({ "chainId": c.chainId.to_string(), "epoch": c.epoch.to_string() }))
        .collect()
}

fn validator_domain(validator: Address) -> Value {
    json!({ "name": "SessionKeyValidator", "version": "1", "verifyingContract": validator.to_checksum(None) })
}

/// The typed data of revoking `session_hashes` of `account` (`revokeSessionsWithApproval`):
/// the owner signs it in any wallet, anyone relays it.
pub fn revoke_sessions_typed_data(
    validator: Address,
    account: Address,
    session_hashes: &[B256],
    chains: &[ChainEpoch],
) -> Value {
    json!({
        "types": {
            "EIP712Domain": fields(&[("name", "string"), ("version", "string"), ("verifyingContract", "address")]),
            "RevokeSessions": fields(&[("account", "address"), ("sessionHashes", "bytes32[]"), ("chains", "ChainEpoch[]")]),
            "ChainEpoch": fields(&[("chainId", "uint64"), ("epoch", "uint64")]),
        },
        "primaryType": "RevokeSessions",
        "domain": validator_domain(validator),
        "message": {
            "account": account.to_checksum(None),
            "sessionHashes": session_hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "chains": chains_json(chains),
        },
    })
}

/// The typed data of revoking every session of `account` (`revokeAllWithApproval`).
pub fn revoke_all_typed_data(validator: Address, account: Address, chains: &[ChainEpoch]) -> Value {
    json!({
        "types": {
            "EIP712Domain": fields(&[("name", "string"), ("version", "string"), ("verifyingContract", "address")]),
            "RevokeAllSessions": fields(&[("account", "address"), ("chains", "ChainEpoch[]")]),
            "ChainEpoch": fields(&[("chainId", "uint64"), ("epoch", "uint64")]),
        },
        "primaryType": "RevokeAllSessions",
        "domain": validator_domain(validator),
        "message": { "account": account.to_checksum(None), "chains": chains_json(chains) },
    })
}
