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

/// Why enable typed data was refused. Each names its place in the JSON (`message.account`,
/// `message.session.callPolicies[0].selector`, ...), so the sender can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedDataError {
    /// A field is missing or does not hold what its EIP-712 type needs.
    #[error("{at}: give {expected}")]
    Field {
        /// Where, as a JSON path.
        at: String,
        /// What it must hold.
        expected: FieldKind,
    },
    /// Every field reads, but the typed data is not the canonical form of what they say (an
    /// extra field, a changed type list, another domain or primary type, another spelling).
    #[error(
        "the typed data differs from the canonical enable approval at {path}: it may show the \
         wallet something other than what it approves, so it is refused"
    )]
    NotCanonical {
        /// The first place it differs, as a JSON path.
        path: String,
    },
}

/// What a field of the typed data must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldKind {
    /// An address.
    #[error("an address (0x and 40 hex digits)")]
    Address,
    /// A 32-byte word.
    #[error("32 bytes as 0x-hex")]
    Word,
    /// A function selector.
    #[error("4 bytes as 0x-hex")]
    Selector,
    /// A JSON array.
    #[error("a list")]
    List,
    /// An unsigned integer that fits its type.
    #[error("a whole number in range (a decimal string)")]
    Number,
}

fn field(at: impl Into<String>, expected: FieldKind) -> TypedDataError {
    TypedDataError::Field {
        at: at.into(),
        expected,
    }
}

/// What an owner is asked to approve, read back from the enable typed data a wallet signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnableRequest {
    /// The validator (the domain's `verifyingContract`).
    pub validator: Address,
    /// The account.
    pub account: Address,
    /// The session, every policy.
    pub spec: SessionSpec,
    /// The chains it is approved on, with the account's epoch on each.
    pub chains: Vec<ChainEpoch>,
}

/// Reads the enable typed data `typed` (as [`enable_typed_data`] writes it) back into what it
/// approves. Only the canonical form is accepted: the typed data rebuilt from what was read
/// must equal `typed` field for field, so a wallet shows exactly what is explained, and an
/// extra field, a changed type list or another domain is refused rather than ignored.
///
/// # Errors
/// [`TypedDataError::Field`] for a field that is missing or malformed,
/// [`TypedDataError::NotCanonical`] for typed data that is not the canonical form; both name
/// the place.
pub fn read_enable_typed_data(typed: &Value) -> Result<EnableRequest, TypedDataError> {
    let message = &typed["message"];
    let session = &message["session"];
    let validator = address_at(
        &typed["domain"]["verifyingContract"],
        "domain.verifyingContract",
    )?;
    let account = address_at(&message["account"], "message.account")?;
    let call_policies = array_at(&session["callPolicies"], "message.session.callPolicies")?
        .iter()
        .enumerate()
        .map(|(i, p)| read_call_policy(p, &format!("message.session.callPolicies[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let transfer_policies = array_at(
        &session["transferPolicies"],
        "message.session.transferPolicies",
    )?
    .iter()
    .enumerate()
    .map(|(i, p)| {
        let at = format!("message.session.transferPolicies[{i}]");
        Ok(sessionkeys_contracts::session::TransferPolicy {
            target: address_at(&p["target"], &format!("{at}.target"))?,
            maxValuePerUse: number_at(&p["maxValuePerUse"], &format!("{at}.maxValuePerUse"))?,
            valueLimit: read_limit(&p["valueLimit"], &format!("{at}.valueLimit"))?,
        })
    })
    .collect::<Result<Vec<_>, TypedDataError>>()?;
    let spec = SessionSpec {
        signer: address_at(&session["signer"], "message.session.signer")?,
        validAfter: number_at(&session["validAfter"], "message.session.validAfter")?,
        validUntil: number_at(&session["validUntil"], "message.session.validUntil")?,
        feeLimit: read_limit(&session["feeLimit"], "message.session.feeLimit")?,
        paymasterMode: number_at(&session["paymasterMode"], "message.session.paymasterMode")?,
        paymaster: address_at(&session["paymaster"], "message.session.paymaster")?,
        opLimit: read_limit(&session["opLimit"], "message.session.opLimit")?,
        callPolicies: call_policies,
        transferPolicies: transfer_policies,
        salt: word_at(&session["salt"], "message.session.salt")?,
    };
    let chains = array_at(&message["chains"], "message.chains")?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = format!("message.chains[{i}]");
            Ok(ChainEpoch {
                chainId: number_at(&c["chainId"], &format!("{at}.chainId"))?,
                epoch: number_at(&c["epoch"], &format!("{at}.epoch"))?,
            })
        })
        .collect::<Result<Vec<_>, TypedDataError>>()?;
    let canonical = enable_typed_data(validator, account, &spec, &chains);
    if let Some(path) = first_difference(&canonical, typed, String::new()) {
        return Err(TypedDataError::NotCanonical { path });
    }
    Ok(EnableRequest {
        validator,
        account,
        spec,
        chains,
    })
}

fn read_call_policy(
    p: &Value,
    at: &str,
) -> Result<sessionkeys_contracts::session::CallPolicy, TypedDataError> {
    let constraints = array_at(&p["constraints"], &format!("{at}.constraints"))?
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let at = format!("{at}.constraints[{j}]");
            Ok(sessionkeys_contracts::session::Constraint {
                condition: number_at(&c["condition"], &format!("{at}.condition"))?,
                index: number_at(&c["index"], &format!("{at}.index"))?,
                bits: number_at(&c["bits"], &format!("{at}.bits"))?,
                refValue: word_at(&c["refValue"], &format!("{at}.refValue"))?,
                oneOf: array_at(&c["oneOf"], &format!("{at}.oneOf"))?
                    .iter()
                    .enumerate()
                    .map(|(k, w)| word_at(w, &format!("{at}.oneOf[{k}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                limit: read_limit(&c["limit"], &format!("{at}.limit"))?,
            })
        })
        .collect::<Result<Vec<_>, TypedDataError>>()?;
    let selector = p["selector"]
        .as_str()
        .and_then(|s| s.parse::<alloy::primitives::FixedBytes<4>>().ok())
        .ok_or_else(|| field(format!("{at}.selector"), FieldKind::Selector))?;
    Ok(sessionkeys_contracts::session::CallPolicy {
        target: address_at(&p["target"], &format!("{at}.target"))?,
        selector,
        maxValuePerUse: number_at(&p["maxValuePerUse"], &format!("{at}.maxValuePerUse"))?,
        valueLimit: read_limit(&p["valueLimit"], &format!("{at}.valueLimit"))?,
        callLimit: read_limit(&p["callLimit"], &format!("{at}.callLimit"))?,
        constraints,
    })
}

fn read_limit(l: &Value, at: &str) -> Result<UsageLimit, TypedDataError> {
    Ok(UsageLimit {
        limitType: number_at(&l["limitType"], &format!("{at}.limitType"))?,
        limit: number_at(&l["limit"], &format!("{at}.limit"))?,
        period: number_at(&l["period"], &format!("{at}.period"))?,
    })
}

fn address_at(v: &Value, at: &str) -> Result<Address, TypedDataError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| field(at, FieldKind::Address))
}

fn word_at(v: &Value, at: &str) -> Result<B256, TypedDataError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| field(at, FieldKind::Word))
}

fn array_at<'a>(v: &'a Value, at: &str) -> Result<&'a Vec<Value>, TypedDataError> {
    v.as_array().ok_or_else(|| field(at, FieldKind::List))
}

/// A number type of the typed data's words, narrowed from 256 bits with a range check.
trait Narrow: Sized {
    fn narrow(wide: alloy::primitives::U256) -> Option<Self>;
}

macro_rules! narrow_primitive {
    ($($t:ty),*) => {$(
        impl Narrow for $t {
            fn narrow(wide: alloy::primitives::U256) -> Option<Self> {
                <$t>::try_from(wide).ok()
            }
        }
    )*};
}
narrow_primitive!(u8, u16, u32, u64);

impl<const BITS: usize, const LIMBS: usize> Narrow for alloy::primitives::Uint<BITS, LIMBS> {
    fn narrow(wide: alloy::primitives::U256) -> Option<Self> {
        // The low LIMBS limbs, once the value is known to fit in BITS.
        if wide.bit_len() > BITS {
            return None;
        }
        Self::checked_from_limbs_slice(wide.as_limbs().get(..LIMBS).unwrap_or(wide.as_limbs()))
    }
}

/// A number as the typed data writes it (a decimal string, or a JSON number for the small
/// words), in any unsigned type `T` it fits.
fn number_at<T: Narrow>(v: &Value, at: &str) -> Result<T, TypedDataError> {
    let wide: Option<alloy::primitives::U256> = match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().map(alloy::primitives::U256::from),
        _ => None,
    };
    wide.and_then(T::narrow)
        .ok_or_else(|| field(at, FieldKind::Number))
}

/// The path of the first place `given` differs from `canonical`, if any.
fn first_difference(canonical: &Value, given: &Value, path: String) -> Option<String> {
    let here = || {
        if path.is_empty() {
            "the top".to_string()
        } else {
            path.clone()
        }
    };
    match (canonical, given) {
        (Value::Object(a), Value::Object(b)) => {
            if let Some(extra) = b.keys().find(|k| !a.contains_key(*k)) {
                return Some(format!("{} (an extra field {extra:?})", here()));
            }
            a.iter().find_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    None => Some(format!("{path} (missing)")),
                    Some(w) => first_difference(v, w, path),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!("{} ({} entries, not {})", here(), b.len(), a.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}[{i}]")))
        }
        // Addresses and hex compare without regard to case (wallets lowercase them); anything
        // else exactly.
        (Value::String(a), Value::String(b)) if a.starts_with("0x") => {
            (!a.eq_ignore_ascii_case(b)).then(here)
        }
        (a, b) => (a != b).then(here),
    }
}
