//! `lint(spec, now)`: common mistakes and dangerous scopes, each with a stable code, a severity,
//! the location in the spec (as a path of the JSON form, policies in on-chain order) and a fix.
//! `now` comes from the caller, so the engine stays a pure function of its inputs.

use crate::destinations::{DestinationKind, destination_function};
use alloy::primitives::{Address, U256, address};
use sessionkeys_contracts::session::{CallPolicy, SessionSpec, UsageLimit};
use sessionkeys_contracts::vocabulary::{Condition, PaymasterMode, UnknownWord};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Warning,
    /// The session can do something its owner almost surely does not mean.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable code, e.g. `SK001`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Where, e.g. `callPolicies[0]`.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{level}[{}] {}: {} (fix: {})",
            self.code, self.location, self.message, self.hint
        )
    }
}

/// The exact message of rule SK001 (docs/lint.md).
pub const UNCONSTRAINED_DESTINATION: &str =
    "Unconstrained token approval/transfer destination in call policy";

/// Routers and multicalls: one policy there allows everything behind them.
const ROUTERS: &[([u8; 4], &str)] = &[
    ([0xac, 0x96, 0x50, 0xd8], "multicall(bytes[])"),
    ([0x5a, 0xe4, 0x01, 0xdc], "multicall(uint256,bytes[])"),
    ([0x25, 0x2d, 0xba, 0x42], "aggregate((address,bytes)[])"),
    (
        [0x82, 0xad, 0x56, 0xcb],
        "aggregate3((address,bool,bytes)[])",
    ),
    (
        [0x17, 0x4d, 0xea, 0x71],
        "aggregate3Value((address,bool,uint256,bytes)[])",
    ),
    (
        [0xbc, 0xe3, 0x8b, 0xd7],
        "tryAggregate(bool,(address,bytes)[])",
    ),
    ([0x35, 0x93, 0x56, 0x4c], "execute(bytes,bytes[],uint256)"),
    ([0x24, 0x85, 0x6b, 0xc3], "execute(bytes,bytes[])"),
];

/// Token functions that call out to an arbitrary receiver or hand over control.
const CALLBACK_FUNCTIONS: &[([u8; 4], &str)] = &[
    (
        [0xca, 0xe9, 0xca, 0x51],
        "approveAndCall(address,uint256,bytes)",
    ),
    (
        [0x40, 0x00, 0xae, 0xa0],
        "transferAndCall(address,uint256,bytes)",
    ),
    ([0x95, 0x9b, 0x8c, 0x3f], "authorizeOperator(address)"),
];

const PERMIT2: Address = address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");
/// Permit2 `approve(address token, address spender, uint160 amount, uint48 expiration)`.
const PERMIT2_APPROVE: [u8; 4] = [0x87, 0x51, 0x7c, 0x45];
const APPROVE: [u8; 4] = [0x09, 0x5e, 0xa7, 0xb3];
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];
/// Functions that move someone else's tokens when word 0 (`from`) is not the account: the
/// session can pull from anyone who approved the account or made it an operator (SK002).
const PULLS_FROM_WORD_0: &[([u8; 4], &str)] = &[
    (TRANSFER_FROM, "transferFrom"),
    ([0x42, 0x84, 0x2e, 0x0e], "ERC-721 safeTransferFrom"),
    (
        [0xb8, 0x8d, 0x4f, 0xde],
        "ERC-721 safeTransferFrom (with data)",
    ),
    ([0xf2, 0x42, 0x43, 0x2a], "ERC-1155 safeTransferFrom"),
    ([0x2e, 0xb2, 0xc2, 0xd6], "ERC-1155 safeBatchTransferFrom"),
    ([0x62, 0xad, 0x1b, 0x83], "ERC-777 operatorSend"),
];
const THIRTY_DAYS: u64 = 30 * 86_400;

/// Static head size in words of well-known functions outside the destination table, whose own
/// head sizes come from their signatures (rule 3: only head words can be constrained).
const HEAD_WORDS: &[([u8; 4], u32)] = &[(PERMIT2_APPROVE, 4)];

fn pins_word(policy: &CallPolicy, index: u32) -> bool {
    policy.constraints.iter().any(|c| {
        c.index == index && matches!(c.condition(), Ok(Condition::Equal | Condition::OneOf))
    })
}

fn caps_word(policy: &CallPolicy, index: u32) -> bool {
    policy.constraints.iter().any(|c| {
        c.index == index
            && (!c.limit.is_unlimited()
                || matches!(
                    c.condition(),
                    Ok(Condition::Equal
                        | Condition::Less
                        | Condition::LessOrEqual
                        | Condition::OneOf)
                ))
    })
}

fn unlimited(limit: &UsageLimit) -> bool {
    limit.is_unlimited()
}

/// SK010: the session runs on for more than 30 days, counted from `now` or from its start if
/// that is later (a session valid from 0 has not lasted since 1970).
fn too_long(spec: &SessionSpec, now: u64) -> Option<Finding> {
    let (after, until): (u64, u64) = (spec.validAfter.to(), spec.validUntil.to());
    let from = after.max(now);
    let days = until.saturating_sub(from) / 86_400;
    (until.saturating_sub(from) > THIRTY_DAYS).then(|| Finding {
        code: "SK010",
        severity: Severity::Warning,
        location: "validUntil".into(),
        message: if after >= now {
            format!("the session lasts {days} days")
        } else {
            format!("the session runs for {days} more days")
        },
        hint: "keep sessions short (hours or days) and grant a new one when needed".into(),
    })
}

/// SK011: an unlimited `feeLimit`. The key holder sets the gas price and can bundle its own ops
/// with itself as beneficiary, so whatever the account pays in fees can go to it; a named
/// paymaster does not stop self-paid ops, hence rule 21.
fn unlimited_fees(paymaster_mode: Result<PaymasterMode, UnknownWord>) -> Finding {
    let message = if paymaster_mode == Ok(PaymasterMode::None) {
        "gas fees the account pays are not limited: the key holder can spend all the account's ETH on gas (it can bundle its own ops at any gas price, with itself as the beneficiary)".to_string()
    } else {
        "a paymaster is named but gas fees the account pays are not limited: the validator refuses to enable this session (rule 21, FeeLimitRequired), because the key holder can still send ops the account pays for itself".to_string()
    };
    Finding {
        code: "SK011",
        severity: Severity::Error,
        location: "feeLimit".into(),
        message,
        hint: "set feeLimit, e.g. {\"limit\": \"1000000000000000\"} (0.001 ETH); {\"limit\": \"0\"} if a paymaster sponsors every op".into(),
    }
}

/// SK021: the session has already ended at `now`: it can never be used, yet enabling it costs
/// an op (the SDK refuses to grant it).
fn already_ended(spec: &SessionSpec, now: u64) -> Option<Finding> {
    let until: u64 = spec.validUntil.to();
    (until <= now).then(|| Finding {
        code: "SK021",
        severity: Severity::Error,
        location: "validUntil".into(),
        message: format!("the session ended at {until}, before now ({now}): it can never be used"),
        hint: "set a later validUntil, e.g. `session new --valid-for 1h` counts from now".into(),
    })
}

/// Lints a session at time `now` (unix seconds).
pub fn lint(spec: &SessionSpec, now: u64) -> Vec<Finding> {
    let mut out: Vec<Finding> = too_long(spec, now)
        .into_iter()
        .chain(already_ended(spec, now))
        .collect();
    if unlimited(&spec.feeLimit) {
        out.push(unlimited_fees(spec.paymaster_mode()));
    }
    let mut push = |code, severity, location: String, message: String, hint: &str| {
        out.push(Finding {
            code,
            severity,
            location,
            message,
            hint: hint.to_string(),
        })
    };
    use Severity::{Error, Warning};

    if spec.callPolicies.is_empty() && spec.transferPolicies.is_empty() {
        push(
            "SK015",
            Warning,
            ".".into(),
            "the session has no policies and allows nothing".into(),
            "add the call or transfer policies the app needs",
        );
    }
    if spec.paymaster_mode() == Ok(PaymasterMode::Any) {
        push(
            "SK016",
            Warning,
            "paymaster".into(),
            "any paymaster may sponsor: a token paymaster takes its fee in the account's tokens, outside every limit".into(),
            "name the one paymaster the app uses",
        );
    }

    for (p, policy) in spec.callPolicies.iter().enumerate() {
        let at = format!("callPolicies[{p}]");
        let selector = policy.selector.0;
        let function = destination_function(selector);
        if let Some(f) = function
            && !pins_word(policy, f.word)
        {
            push(
                "SK001",
                Error,
                at.clone(),
                format!(
                    "{UNCONSTRAINED_DESTINATION} ({} on {}: argument {} is free)",
                    f.signature, policy.target, f.word
                ),
                "add an equal or oneOf constraint on the recipient, spender or operator argument",
            );
        }
        if let Some((_, name)) = PULLS_FROM_WORD_0.iter().find(|(s, _)| *s == selector)
            && !pins_word(policy, 0)
        {
            push(
                "SK002",
                Error,
                at.clone(),
                format!(
                    "{name} without a constrained from: the session can pull tokens from anyone who approved the account or made it an operator"
                ),
                "add an equal constraint on argument 0 (from), usually the account itself",
            );
        }
        if let Some((_, name)) = ROUTERS.iter().find(|(s, _)| *s == selector) {
            push(
                "SK003",
                Error,
                at.clone(),
                format!(
                    "{name} is a router or multicall: one policy there allows every call behind it"
                ),
                "allow the final contracts and functions instead",
            );
        }
        if policy.target == PERMIT2 && selector == PERMIT2_APPROVE && !pins_word(policy, 1) {
            push(
                "SK004",
                Error,
                at.clone(),
                "Permit2 approve with a free spender (argument 1): the session can let anyone spend the account's tokens".into(),
                "pin argument 1 (spender) with equal or oneOf",
            );
        }
        if let Some((_, name)) = CALLBACK_FUNCTIONS.iter().find(|(s, _)| *s == selector) {
            push(
                "SK005",
                Error,
                at.clone(),
                format!("{name} calls or empowers an arbitrary receiver after moving tokens"),
                "allow approve or transfer with pinned arguments instead",
            );
        }
        if let Some(f) = function
            && let Some(amount) = f.amount
            && !caps_word(policy, amount)
        {
            match f.kind {
                DestinationKind::Approval => push(
                    "SK013",
                    Warning,
                    at.clone(),
                    format!(
                        "{} without an amount limit: the session can grant an unlimited allowance, which outlives the session",
                        f.signature
                    ),
                    &format!("add lessOrEqual or a limit on argument {amount} (amount)"),
                ),
                DestinationKind::Transfer => push(
                    "SK014",
                    Warning,
                    at.clone(),
                    format!("token transfers ({}) without an amount limit", f.signature),
                    &format!("add a limit on argument {amount} (amount)"),
                ),
            }
        }
        if policy.maxValuePerUse > U256::ZERO && unlimited(&policy.valueLimit) {
            push(
                "SK012",
                Warning,
                format!("{at}.valueLimit"),
                "the policy sends value without a total cap".into(),
                "set valueLimit",
            );
        }
        let head = function.map(|f| f.head_words()).or_else(|| {
            HEAD_WORDS
                .iter()
                .find(|(s, _)| *s == selector)
                .map(|(_, h)| *h)
        });
        if let Some(head) = head {
            for (c, constraint) in policy.constraints.iter().enumerate() {
                if constraint.index >= head {
                    push(
                        "SK018",
                        Error,
                        format!("{at}.constraints[{c}]"),
                        format!(
                            "argument word {} is past the function's {head} static words",
                            constraint.index
                        ),
                        "constrain only the function's fixed-position arguments",
                    );
                }
            }
        }
    }
    for (p, policy) in spec.transferPolicies.iter().enumerate() {
        if unlimited(&policy.valueLimit) {
            push(
                "SK012",
                Warning,
                format!("transferPolicies[{p}].valueLimit"),
                "plain transfers without a total cap".into(),
                "set valueLimit",
            );
        }
    }
    for (p, approve) in spec
        .callPolicies
        .iter()
        .enumerate()
        .filter(|(_, c)| c.selector.0 == APPROVE)
    {
        if spec
            .callPolicies
            .iter()
            .any(|t| t.target == approve.target && t.selector.0 == TRANSFER)
        {
            push(
                "SK017",
                Warning,
                format!("callPolicies[{p}]"),
                format!(
                    "approve and transfer are both allowed on {}: their budgets add up, the session can move the sum",
                    approve.target
                ),
                "keep one of them, or lower each budget so their sum is what you mean",
            );
        }
    }
    for window in spec.callPolicies.windows(2) {
        if (window[0].target, window[0].selector) == (window[1].target, window[1].selector) {
            push(
                "SK019",
                Error,
                "callPolicies".into(),
                format!(
                    "two policies for {} on {}: the contract refuses this session",
                    window[0].selector, window[0].target
                ),
                "merge them, with oneOf for several allowed values",
            );
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.location.cmp(&b.location))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::scalars::parse_selector;

    #[test]
    fn every_selector_in_the_tables_is_the_keccak_of_its_signature() {
        let named = ROUTERS
            .iter()
            .copied()
            .chain(CALLBACK_FUNCTIONS.iter().copied())
            .chain([(PERMIT2_APPROVE, "approve(address,address,uint160,uint48)")]);
        for (selector, signature) in named {
            assert_eq!(parse_selector(signature).unwrap(), selector, "{signature}");
        }
    }
}
