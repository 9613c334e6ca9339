//! The JSON form of a session that people write by hand and other languages produce
//! (docs/session-format.md): camelCase, checksummed addresses on output and any case on input,
//! amounts as decimal or hex, selectors as hex or signatures, readable times and durations.
//! Bad input gets the path of the field and what was expected.

pub mod ops;
pub mod scalars;
pub mod usage;

use crate::spec::validate_spec;
use alloy::primitives::{Address, B256, U256, aliases::U48};
use scalars::{AddressValue, Amount, Duration, Selector, Timestamp, Word};
use serde::{Deserialize, Serialize};
use sessionkeys_contracts::session::{
    CallPolicy, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{
    LimitType, MAX_LIMIT, MAX_ONE_OF, MIN_PERIOD, PaymasterMode,
};

/// A session as written in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionJson {
    /// The session key's address. May be left out where a tool makes the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<AddressValue>,
    /// Start of the window (default: the Unix epoch, i.e. valid at once).
    #[serde(default)]
    pub valid_after: Timestamp,
    /// End of the window, inclusive. Required.
    pub valid_until: Timestamp,
    /// Budget of gas fees the account pays itself.
    #[serde(default)]
    pub fee_limit: LimitJson,
    /// Which paymasters may sponsor: `"none"`, `"any"` or one address.
    #[serde(default)]
    pub paymaster: PaymasterJson,
    /// Budget of ops (with `per`, a rate limit).
    #[serde(default)]
    pub op_limit: LimitJson,
    /// Allowed contract calls.
    #[serde(default)]
    pub call_policies: Vec<CallPolicyJson>,
    /// Allowed plain value transfers.
    #[serde(default)]
    pub transfer_policies: Vec<TransferPolicyJson>,
    /// Makes two otherwise equal sessions distinct.
    #[serde(default)]
    pub salt: Word,
}

/// A budget: `"unlimited"`, `{"limit": "100"}` for a lifetime total, or
/// `{"limit": "100", "per": "1d"}` for an allowance that resets every period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitJson {
    /// No budget.
    #[default]
    Unlimited,
    /// A lifetime total.
    Lifetime(Amount),
    /// A total per fixed window of `per` seconds.
    Allowance(Amount, Duration),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitObject {
    limit: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    per: Option<Duration>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LimitRepr {
    Word(UnlimitedWord),
    Object(LimitObject),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum UnlimitedWord {
    Unlimited,
}

impl Serialize for LimitJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            LimitJson::Unlimited => LimitRepr::Word(UnlimitedWord::Unlimited),
            LimitJson::Lifetime(limit) => LimitRepr::Object(LimitObject { limit, per: None }),
            LimitJson::Allowance(limit, per) => LimitRepr::Object(LimitObject {
                limit,
                per: Some(per),
            }),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LimitJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let object = match value {
            serde_json::Value::String(s) if s == "unlimited" => return Ok(LimitJson::Unlimited),
            serde_json::Value::Object(_) => value,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected \"unlimited\", {{\"limit\": …}} or {{\"limit\": …, \"per\": \"1d\"}}, got {other}"
                )));
            }
        };
        let object: LimitObject =
            serde_json::from_value(object).map_err(serde::de::Error::custom)?;
        Ok(match object.per {
            None => LimitJson::Lifetime(object.limit),
            Some(per) => LimitJson::Allowance(object.limit, per),
        })
    }
}

/// `"none"`, `"any"` or the one allowed paymaster's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaymasterJson {
    /// No paymaster may sponsor.
    #[default]
    None,
    /// Any paymaster may sponsor (a token paymaster can take fees outside every limit).
    Any,
    /// Only this one.
    Only(AddressValue),
}

impl Serialize for PaymasterJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PaymasterJson::None => serializer.serialize_str("none"),
            PaymasterJson::Any => serializer.serialize_str("any"),
            PaymasterJson::Only(address) => address.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for PaymasterJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        match s.as_str() {
            "none" => Ok(PaymasterJson::None),
            "any" => Ok(PaymasterJson::Any),
            _ => serde_json::from_value::<AddressValue>(serde_json::Value::String(s.clone()))
                .map(PaymasterJson::Only)
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "expected \"none\", \"any\" or a paymaster address, got {s:?}"
                    ))
                }),
        }
    }
}

/// A constraint's condition, written `equal`, `lessOrEqual`, `oneOf`, … in session JSON: the
/// vocabulary's [`Condition`](sessionkeys_contracts::vocabulary::Condition).
pub use sessionkeys_contracts::vocabulary::Condition as ConditionJson;

/// A condition on argument word `index` (0 = the first argument after the selector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConstraintJson {
    /// Which 32-byte argument word.
    pub index: u32,
    /// The condition.
    pub condition: ConditionJson,
    /// The reference value of comparing conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Word>,
    /// The allowed values of `oneOf`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Word>,
    /// The word's width in bits (160 for an address, N for uintN); 256 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u16>,
    /// A budget on the running sum of the word (an ERC-20 spending limit on `amount`).
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub limit: LimitJson,
}

fn is_unlimited(limit: &LimitJson) -> bool {
    *limit == LimitJson::Unlimited
}

fn is_zero(amount: &Amount) -> bool {
    amount.0.is_zero()
}

/// Allows calls of `selector` on `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallPolicyJson {
    /// The contract.
    pub target: AddressValue,
    /// The function.
    pub selector: Selector,
    /// Most wei per call (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_value_per_use: Amount,
    /// Budget of wei sent by these calls.
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub value_limit: LimitJson,
    /// Budget of the number of these calls.
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub call_limit: LimitJson,
    /// Conditions on the arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintJson>,
}

/// Allows plain value transfers to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferPolicyJson {
    /// The recipient.
    pub target: AddressValue,
    /// Most wei per transfer.
    pub max_value_per_use: Amount,
    /// Budget of wei in all.
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub value_limit: LimitJson,
}

/// A problem in session JSON: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FormatError {
    /// The field, e.g. `callPolicies[0].constraints[1].condition` (`.` for the whole document).
    pub path: String,
    /// What was wrong and how to fix it.
    pub message: String,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> FormatError {
    FormatError {
        path: path.into(),
        message: message.into(),
    }
}

/// Parses session JSON, reporting the path of the first bad field.
pub fn parse_session_json(text: &str) -> Result<SessionJson, FormatError> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json appends " at line L column C"; keep it, it helps with hand-written files.
        error(
            if path.is_empty() {
                ".".to_string()
            } else {
                path
            },
            inner.to_string(),
        )
    })
}

fn usage_limit(limit: LimitJson, path: &str, max: U256) -> Result<UsageLimit, FormatError> {
    let check = |amount: Amount| {
        if amount.0 > max {
            Err(error(format!("{path}.limit"), format!("at most {max}")))
        } else {
            Ok(amount.0)
        }
    };
    Ok(match limit {
        LimitJson::Unlimited => UsageLimit::unlimited(),
        LimitJson::Lifetime(amount) => UsageLimit::new(LimitType::Lifetime, check(amount)?, 0),
        LimitJson::Allowance(amount, per) => {
            if per.0 < MIN_PERIOD {
                return Err(error(
                    format!("{path}.per"),
                    "a period is at least 60 seconds (\"1m\")",
                ));
            }
            if per.0 >= 1 << 48 {
                return Err(error(
                    format!("{path}.per"),
                    "a period must fit in 48 bits of seconds",
                ));
            }
            UsageLimit::new(LimitType::Allowance, check(amount)?, per.0)
        }
    })
}

fn timestamp(t: Timestamp, path: &str) -> Result<U48, FormatError> {
    if t.0 >= 1 << 48 {
        return Err(error(path, "a time must fit in 48 bits of seconds"));
    }
    Ok(U48::from(t.0))
}

impl SessionJson {
    /// Builds the on-chain spec: policies sorted as the contract requires, every value checked.
    /// `signer` fills in a session key when the JSON leaves it out.
    pub fn to_spec(&self, signer: Option<Address>) -> Result<SessionSpec, FormatError> {
        let max = MAX_LIMIT;
        let signer = match (self.signer, signer) {
            (Some(s), _) => s.0,
            (None, Some(s)) => s,
            (None, None) => return Err(error("signer", "missing: give the session key's address")),
        };
        if signer == Address::ZERO {
            return Err(error("signer", "the zero address cannot sign"));
        }
        if self.valid_until.0 == 0 {
            return Err(error("validUntil", "required: a session must expire"));
        }
        if self.valid_after.0 >= self.valid_until.0 {
            return Err(error("validUntil", "must be after validAfter"));
        }
        let (paymaster_mode, paymaster) = match self.paymaster {
            PaymasterJson::None => (PaymasterMode::None, Address::ZERO),
            PaymasterJson::Any => (PaymasterMode::Any, Address::ZERO),
            PaymasterJson::Only(a) if a.0 == Address::ZERO => {
                return Err(error(
                    "paymaster",
                    "the zero address is no paymaster; use \"none\"",
                ));
            }
            PaymasterJson::Only(a) => (PaymasterMode::One, a.0),
        };
        let mut calls = Vec::with_capacity(self.call_policies.len());
        for (i, p) in self.call_policies.iter().enumerate() {
            let path = format!("callPolicies[{i}]");
            let mut constraints = Vec::with_capacity(p.constraints.len());
            for (j, c) in p.constraints.iter().enumerate() {
                let cpath = format!("{path}.constraints[{j}]");
                let bits = c.bits.unwrap_or(256);
                if bits == 0 || bits > 256 {
                    return Err(error(format!("{cpath}.bits"), "a width is 1 to 256 bits"));
                }
                let one_of = c.one_of.iter().map(|w| w.0).collect::<Vec<B256>>();
                match c.condition {
                    ConditionJson::OneOf if one_of.is_empty() || one_of.len() > MAX_ONE_OF => {
                        return Err(error(
                            format!("{cpath}.oneOf"),
                            "oneOf lists 1 to 16 values",
                        ));
                    }
                    ConditionJson::OneOf if c.value.is_some() => {
                        return Err(error(
                            format!("{cpath}.value"),
                            "oneOf takes its values in \"oneOf\", not \"value\"",
                        ));
                    }
                    ConditionJson::OneOf => {}
                    _ if !one_of.is_empty() => {
                        return Err(error(
                            format!("{cpath}.oneOf"),
                            "only the oneOf condition takes a list",
                        ));
                    }
                    ConditionJson::Unconstrained if c.value.is_some() => {
                        return Err(error(
                            format!("{cpath}.value"),
                            "unconstrained takes no value",
                        ));
                    }
                    ConditionJson::Unconstrained => {}
                    _ if c.value.is_none() => {
                        return Err(error(
                            format!("{cpath}.value"),
                            "this condition compares with a value; add \"value\"",
                        ));
                    }
                    _ => {}
                }
                constraints.push(Constraint {
                    condition: c.condition.into(),
                    index: c.index,
                    bits,
                    refValue: c.value.unwrap_or_default().0,
                    oneOf: one_of,
                    limit: usage_limit(c.limit, &format!("{cpath}.limit"), max)?,
                });
            }
            calls.push((
                i,
                CallPolicy {
                    target: p.target.0,
                    selector: p.selector.0.into(),
                    maxValuePerUse: p.max_value_per_use.0,
                    valueLimit: usage_limit(p.value_limit, &format!("{path}.valueLimit"), max)?,
                    callLimit: usage_limit(p.call_limit, &format!("{path}.callLimit"), max)?,
                    constraints,
                },
            ));
        }
        calls.sort_by_key(|(_, p)| (p.target, p.selector));
        for pair in calls.windows(2) {
            if (pair[0].1.target, pair[0].1.selector) == (pair[1].1.target, pair[1].1.selector) {
                let (first, second) = (pair[0].0.min(pair[1].0), pair[0].0.max(pair[1].0));
                return Err(error(
                    format!("callPolicies[{second}]"),
                    format!(
                        "duplicates callPolicies[{first}] (same target and selector); merge them, using oneOf for several allowed values"
                    ),
                ));
            }
        }
        let mut transfers = Vec::with_capacity(self.transfer_policies.len());
        for (i, p) in self.transfer_policies.iter().enumerate() {
            transfers.push((
                i,
                TransferPolicy {
                    target: p.target.0,
                    maxValuePerUse: p.max_value_per_use.0,
                    valueLimit: usage_limit(
                        p.value_limit,
                        &format!("transferPolicies[{i}].valueLimit"),
                        max,
                    )?,
                },
            ));
        }
        transfers.sort_by_key(|(_, p)| p.target);
        for pair in transfers.windows(2) {
            if pair[0].1.target == pair[1].1.target {
                let second = pair[0].0.max(pair[1].0);
                return Err(error(
                    format!("transferPolicies[{second}]"),
                    "duplicates another transfer policy to the same target",
                ));
            }
        }
        let spec = SessionSpec {
            signer,
            validAfter: timestamp(self.valid_after, "validAfter")?,
            validUntil: timestamp(self.valid_until, "validUntil")?,
            feeLimit: usage_limit(self.fee_limit, "feeLimit", max)?,
            paymasterMode: paymaster_mode.into(),
            paymaster,
            opLimit: usage_limit(self.op_limit, "opLimit", U256::from(u64::MAX))?,
            callPolicies: calls.into_iter().map(|(_, p)| p).collect(),
            transferPolicies: transfers.into_iter().map(|(_, p)| p).collect(),
            salt: self.salt.0,
        };
        // Everything the contract checks was checked above with a path; this is the backstop.
        validate_spec(&spec).map_err(|v| error(".", v.to_string()))?;
        Ok(spec)
    }

    /// The JSON form of an on-chain spec.
    pub fn from_spec(spec: &SessionSpec) -> SessionJson {
        let limit = |l: &UsageLimit| match l.limit_type() {
            Ok(LimitType::Lifetime) => LimitJson::Lifetime(Amount(l.limit)),
            Ok(LimitType::Allowance) => {
                LimitJson::Allowance(Amount(l.limit), Duration(l.period.to()))
            }
            _ => LimitJson::Unlimited,
        };
        SessionJson {
            signer: Some(AddressValue(spec.signer)),
            valid_after: Timestamp(spec.validAfter.to()),
            valid_until: Timestamp(spec.validUntil.to()),
            fee_limit: limit(&spec.feeLimit),
            paymaster: match spec.paymaster_mode() {
                Ok(PaymasterMode::Any) => PaymasterJson::Any,
                Ok(PaymasterMode::One) => PaymasterJson::Only(AddressValue(spec.paymaster)),
                _ => PaymasterJson::None,
            },
            op_limit: limit(&spec.opLimit),
            call_policies: spec
                .callPolicies
                .iter()
                .map(|p| CallPolicyJson {
                    target: AddressValue(p.target),
                    selector: Selector(p.selector.0),
                    max_value_per_use: Amount(p.maxValuePerUse),
                    value_limit: limit(&p.valueLimit),
                    call_limit: limit(&p.callLimit),
                    constraints: p
                        .constraints
                        .iter()
                        .map(|c| {
                            let condition = c.condition().unwrap_or(ConditionJson::Unconstrained);
                            let compares = !matches!(
                                condition,
                                ConditionJson::Unconstrained | ConditionJson::OneOf
                            );
                            ConstraintJson {
                                index: c.index,
                                condition,
                                value: compares.then_some(Word(c.refValue)),
                                one_of: c.oneOf.iter().map(|w| Word(*w)).collect(),
                                bits: (c.bits != 256).then_some(c.bits),
                                limit: limit(&c.limit),
                            }
                        })
                        .collect(),
                })
                .collect(),
            transfer_policies: spec
                .transferPolicies
                .iter()
                .map(|p| TransferPolicyJson {
                    target: AddressValue(p.target),
                    max_value_per_use: Amount(p.maxValuePerUse),
                    value_limit: limit(&p.valueLimit),
                })
                .collect(),
            salt: Word(spec.salt),
        }
    }
}
