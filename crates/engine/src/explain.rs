//! `explain(spec)`: what a session allows, in plain English a person can approve, the value
//! that can leave the account first. Token symbols and decimals come from [`Labels`]; an unknown
//! token is called that, never guessed.

use crate::destinations::{DESTINATION_FUNCTIONS, approval_function};
use crate::format::scalars::{LAST_RFC3339_SECOND, civil_from_unix};
use alloy::primitives::{Address, B256, U256, address, keccak256};
use sessionkeys_contracts::session::{
    CallPolicy, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{Condition, LimitType, PaymasterMode};

/// A token's display facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// e.g. `USDC`.
    pub symbol: String,
    /// e.g. 6.
    pub decimals: u8,
}

/// Names for addresses and selectors: well-known tokens, plus whatever the caller adds.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    tokens: Vec<(Address, Token)>,
    functions: Vec<([u8; 4], String)>,
}

const WELL_KNOWN_TOKENS: &[(Address, &str, u8)] = &[
    (
        address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
        "USDC",
        6,
    ), // Base
    (
        address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        "USDC",
        6,
    ), // Ethereum
    (
        address!("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85"),
        "USDC",
        6,
    ), // OP Mainnet
    (
        address!("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"),
        "USDC",
        6,
    ), // Arbitrum One
    (
        address!("0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        "USDT",
        6,
    ), // Ethereum
    (
        address!("0x6B175474E89094C44Da98b954EedeAC495271d0F"),
        "DAI",
        18,
    ), // Ethereum
    (
        address!("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
        "WETH",
        18,
    ), // Ethereum
    (
        address!("0x4200000000000000000000000000000000000006"),
        "WETH",
        18,
    ), // Base, OP Mainnet
];

/// Besides the token functions of [`DESTINATION_FUNCTIONS`].
const WELL_KNOWN_FUNCTIONS: &[&str] = &[
    "mint(address,uint256)",
    "deposit()",
    "withdraw(uint256)",
    "burn(uint256)",
    "safeTransferFrom(address,address,uint256)",
    "safeTransferFrom(address,address,uint256,bytes)",
    "safeTransferFrom(address,address,uint256,uint256,bytes)",
    "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
    "multicall(bytes[])",
    "claim()",
    "stake(uint256)",
];

fn selector_of(signature: &str) -> [u8; 4] {
    keccak256(signature.as_bytes())[..4]
        .try_into()
        .expect("4 bytes")
}

impl Labels {
    /// The built-in list of well-known tokens and ERC-20 functions.
    pub fn well_known() -> Self {
        let mut labels = Labels::default();
        for (address, symbol, decimals) in WELL_KNOWN_TOKENS {
            labels = labels.with_token(*address, symbol, *decimals);
        }
        let tokens = DESTINATION_FUNCTIONS.iter().map(|f| f.signature);
        for signature in tokens.chain(WELL_KNOWN_FUNCTIONS.iter().copied()) {
            labels = labels.with_function(signature);
        }
        labels
    }

    /// Adds (or overrides) a token.
    pub fn with_token(mut self, address: Address, symbol: &str, decimals: u8) -> Self {
        self.tokens.retain(|(a, _)| *a != address);
        self.tokens.push((
            address,
            Token {
                symbol: symbol.to_string(),
                decimals,
            },
        ));
        self
    }

    /// Adds a function name, e.g. `move(uint8)`.
    pub fn with_function(mut self, signature: &str) -> Self {
        self.functions
            .push((selector_of(signature), signature.to_string()));
        self
    }

    /// The token at `address`, if known.
    pub fn token(&self, address: Address) -> Option<&Token> {
        self.tokens
            .iter()
            .find(|(a, _)| *a == address)
            .map(|(_, t)| t)
    }

    /// The signature of the function with `selector`, e.g. `transfer(address,uint256)`, if
    /// known.
    pub fn signature(&self, selector: [u8; 4]) -> Option<&str> {
        self.functions
            .iter()
            .find(|(s, _)| *s == selector)
            .map(|(_, signature)| signature.as_str())
    }

    fn function(&self, selector: [u8; 4]) -> String {
        self.functions
            .iter()
            .find(|(s, _)| *s == selector)
            .map(|(_, sig)| sig.split('(').next().unwrap_or(sig).to_string())
            .unwrap_or_else(|| format!("function 0x{}", alloy::primitives::hex::encode(selector)))
    }
}

/// `0x8335…2913`.
pub fn short(address: Address) -> String {
    let s = address.to_checksum(None);
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

/// An amount in whole units: `100`, `0.001`, `1234.5`.
pub fn format_units(amount: U256, decimals: u8) -> String {
    let unit = U256::from(10).pow(U256::from(decimals));
    let (whole, fraction) = (amount / unit, amount % unit);
    if fraction.is_zero() {
        return whole.to_string();
    }
    let digits = format!("{fraction:0>width$}", width = decimals as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// `24 Nov 2026 18:00 UTC`; after year 9999, `Unix time 253402300800 (after year 9999)`.
pub fn human_time(seconds: u64) -> String {
    if seconds > LAST_RFC3339_SECOND {
        return format!("Unix time {seconds} (after year 9999)");
    }
    let c = civil_from_unix(seconds);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][c.month as usize - 1];
    format!(
        "{} {month} {:04} {:02}:{:02} UTC",
        c.day, c.year, c.hour, c.minute
    )
}

fn period_words(period: u64) -> String {
    match period {
        60 => "a minute".into(),
        3600 => "an hour".into(),
        86_400 => "a day".into(),
        604_800 => "a week".into(),
        p => format!("every {}", crate::format::scalars::format_duration(p)),
    }
}

fn budget(limit: &UsageLimit, amount: impl Fn(U256) -> String, count_word: &str) -> Option<String> {
    match limit.limit_type() {
        Ok(LimitType::Lifetime) => Some(format!(
            "at most {} {count_word}in total",
            amount(limit.limit)
        )),
        Ok(LimitType::Allowance) => Some(format!(
            "at most {} {count_word}{}",
            amount(limit.limit),
            period_words(limit.period.to())
        )),
        _ => None,
    }
}

/// One sentence of an explanation and how much value it can move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 3: moves tokens or ETH without a cap; 2: moves them within a cap; 1: other calls; 0: limits.
    pub risk: u8,
    /// The sentence.
    pub text: String,
}

/// A whole explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The opening: who, until when.
    pub heading: String,
    /// What is allowed, riskiest first.
    pub lines: Vec<Line>,
    /// Notes a person should know (approvals outliving the session, window boundaries).
    pub notes: Vec<String>,
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.heading)?;
        for line in &self.lines {
            writeln!(f, "  - {}", line.text)?;
        }
        for note in &self.notes {
            writeln!(f, "Note: {note}")?;
        }
        Ok(())
    }
}

fn word_address(word: B256) -> String {
    if word[..12].iter().all(|b| *b == 0) {
        short(Address::from_word(word))
    } else {
        format!("{word}")
    }
}

/// Equal or OneOf: the word is pinned to known values.
fn pins(c: &Constraint) -> bool {
    matches!(c.condition(), Ok(Condition::Equal | Condition::OneOf))
}

fn destination(constraint: Option<&Constraint>, role: &str) -> String {
    match constraint {
        Some(c) if c.condition() == Ok(Condition::Equal) => {
            format!("only {role} {}", word_address(c.refValue))
        }
        Some(c) if c.condition() == Ok(Condition::OneOf) => {
            let list: Vec<String> = c.oneOf.iter().map(|w| word_address(*w)).collect();
            format!("only {role} {}", list.join(" or "))
        }
        _ => format!("{role} anyone"),
    }
}

fn amount_clause(policy: &CallPolicy, word: u32, fmt: &dyn Fn(U256) -> String) -> (String, bool) {
    let mut parts = Vec::new();
    let mut capped = false;
    for c in policy.constraints.iter().filter(|c| c.index == word) {
        let condition = c.condition();
        if matches!(condition, Ok(Condition::Less | Condition::LessOrEqual)) {
            let strict = condition == Ok(Condition::Less);
            let per_use = U256::from_be_bytes(c.refValue.0) - U256::from(u8::from(strict));
            parts.push(format!("at most {} each time", fmt(per_use)));
            capped = true;
        }
        if let Some(b) = budget(&c.limit, fmt, "") {
            parts.push(b);
            capped = true;
        }
    }
    if parts.is_empty() {
        ("any amount".into(), false)
    } else {
        (parts.join(", "), capped)
    }
}

fn condition_words(c: &Constraint) -> Option<String> {
    let value = || {
        let v = U256::from_be_bytes(c.refValue.0);
        if v < U256::from(1u128 << 100) {
            v.to_string()
        } else {
            word_address(c.refValue)
        }
    };
    let relation = match c.condition() {
        Ok(Condition::Equal) => format!("is {}", value()),
        Ok(Condition::Greater) => format!("is more than {}", value()),
        Ok(Condition::Less) => format!("is less than {}", value()),
        Ok(Condition::GreaterOrEqual) => format!("is at least {}", value()),
        Ok(Condition::LessOrEqual) => format!("is at most {}", value()),
        Ok(Condition::NotEqual) => format!("is not {}", value()),
        Ok(Condition::OneOf) => format!(
            "is one of {}",
            c.oneOf
                .iter()
                .map(|w| word_address(*w))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ok(Condition::Unconstrained) | Err(_) => return None,
    };
    Some(format!("argument {} {relation}", c.index))
}

/// What the session lets the app spend on gas, and who may pay it. Fees the account pays are
/// value that can leave it: the key holder sets the gas price and can bundle its own ops with
/// itself as beneficiary, so the whole fee budget can end up with it, paymaster or not.
fn gas(spec: &SessionSpec) -> (Vec<Line>, Vec<String>) {
    let eth = |v: U256| format!("{} ETH", format_units(v, 18));
    let limit = &spec.feeLimit;
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let unlimited = limit.is_unlimited();
    let nothing = !unlimited && limit.limit.is_zero();
    lines.push(match budget(limit, eth, "") {
        _ if nothing => Line {
            risk: 0,
            text: "spend none of the account's ETH on gas".into(),
        },
        Some(b) => Line {
            risk: 2,
            text: format!(
                "spend {b} on gas, paid from the account; the key holder can take the whole budget, since it sets the gas price and can be its own bundler"
            ),
        },
        None => Line {
            risk: 3,
            text: "spend ALL the account's ETH on gas: there is no fee limit, and the key holder sets the gas price and can be its own bundler, collecting the fees".into(),
        },
    });
    let sponsor = match spec.paymaster_mode() {
        Ok(PaymasterMode::Any) => Some("any paymaster".to_string()),
        Ok(PaymasterMode::One) => Some(format!("the paymaster {}", short(spec.paymaster))),
        _ => None,
    };
    if let Some(sponsor) = sponsor {
        let rest = if nothing {
            "every op must be sponsored, since the account pays no gas"
        } else if unlimited {
            "that is optional: ops the account pays for itself stay possible, with no fee limit"
        } else {
            "that is optional: ops the account pays for itself stay possible, up to the gas budget above"
        };
        lines.push(Line {
            risk: 0,
            text: format!("have its gas sponsored by {sponsor}, but {rest}"),
        });
        if unlimited {
            notes.push("the validator refuses to enable this session: a paymaster is named, so gas fees must be limited (rule 21, FeeLimitRequired)".into());
        }
    }
    if spec.paymaster_mode() == Ok(PaymasterMode::Any) {
        notes.push("any paymaster may sponsor its actions; a token paymaster takes its fee in the account's tokens, outside these limits".into());
    }
    (lines, notes)
}

/// The sentence of one call policy (the lines of [`explain`] are these, sorted by risk), and
/// the note it adds, if any (an approval outliving the session).
pub fn call_policy_line(policy: &CallPolicy, labels: &Labels) -> (Line, Option<String>) {
    let eth = |v: U256| format!("{} ETH", format_units(v, 18));
    let mut note = None;
    let selector = policy.selector.0;
    let token = labels.token(policy.target);
    let token_name = match token {
        Some(t) => format!("{} ({})", t.symbol, short(policy.target)),
        None => format!("an unknown token or contract at {}", short(policy.target)),
    };
    let units = |v: U256| match token {
        Some(t) => format!("{} {}", format_units(v, t.decimals), t.symbol),
        None => format!("{v} base units"),
    };
    let (text, risk) = if selector == selector_of("transfer(address,uint256)") {
        let (amount, capped) = amount_clause(policy, 1, &units);
        let to = destination(
            policy.constraints.iter().find(|c| c.index == 0 && pins(c)),
            "to",
        );
        (
            format!("send {token_name}, {to}, {amount}"),
            if capped { 2 } else { 3 },
        )
    } else if approval_function(selector).is_some_and(|f| f.word == 0 && f.amount == Some(1)) {
        let (amount, capped) = amount_clause(policy, 1, &units);
        let spender = destination(
            policy.constraints.iter().find(|c| c.index == 0 && pins(c)),
            "for",
        );
        note = Some(format!(
            "approvals of {token_name} granted by this session outlive it: revoke them with approve(spender, 0)"
        ));
        (
            format!("let others spend {token_name}, {spender}, {amount}"),
            if capped { 2 } else { 3 },
        )
    } else {
        let mut text = format!(
            "call {} on {}",
            labels.function(selector),
            short(policy.target)
        );
        let conditions: Vec<String> = policy
            .constraints
            .iter()
            .filter_map(condition_words)
            .collect();
        if !conditions.is_empty() {
            text += &format!(" where {}", conditions.join(" and "));
        }
        if policy.maxValuePerUse > U256::ZERO {
            text += &format!(", sending at most {} each time", eth(policy.maxValuePerUse));
            text += &budget(&policy.valueLimit, eth, "")
                .map(|b| format!(" and {b}"))
                .unwrap_or_else(|| " with no total cap".into());
        }
        if let Some(b) = budget(&policy.callLimit, |v| v.to_string(), "times ") {
            text += &format!(", {b}");
        }
        let risk = if policy.maxValuePerUse > U256::ZERO {
            if policy.valueLimit.is_unlimited() {
                3
            } else {
                2
            }
        } else {
            1
        };
        (text, risk)
    };
    (Line { risk, text }, note)
}

/// The sentence of one transfer policy (plain ETH to one address).
pub fn transfer_policy_line(policy: &TransferPolicy) -> Line {
    let eth = |v: U256| format!("{} ETH", format_units(v, 18));
    let total = budget(&policy.valueLimit, eth, "").unwrap_or_else(|| "with no total cap".into());
    Line {
        risk: if policy.valueLimit.is_unlimited() {
            3
        } else {
            2
        },
        text: format!(
            "send ETH to {}, at most {} each time, {total}",
            short(policy.target),
            eth(policy.maxValuePerUse)
        ),
    }
}

/// Explains a session with the given labels.
pub fn explain(spec: &SessionSpec, labels: &Labels) -> Explanation {
    let (after, until): (u64, u64) = (spec.validAfter.to(), spec.validUntil.to());
    let heading = if after == 0 {
        format!("Until {} this app may:", human_time(until))
    } else {
        format!(
            "From {} until {} this app may:",
            human_time(after),
            human_time(until)
        )
    };
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut periods: Vec<u64> = Vec::new();
    let mut note_period = |limit: &UsageLimit| {
        if limit.limit_type() == Ok(LimitType::Allowance) && !periods.contains(&limit.period.to()) {
            periods.push(limit.period.to());
        }
    };
    note_period(&spec.feeLimit);
    note_period(&spec.opLimit);
    for policy in &spec.callPolicies {
        note_period(&policy.valueLimit);
        note_period(&policy.callLimit);
        policy
            .constraints
            .iter()
            .for_each(|c| note_period(&c.limit));
    }
    spec.transferPolicies
        .iter()
        .for_each(|p| note_period(&p.valueLimit));

    for policy in &spec.callPolicies {
        let (line, note) = call_policy_line(policy, labels);
        lines.push(line);
        notes.extend(note);
    }
    lines.extend(spec.transferPolicies.iter().map(transfer_policy_line));
    if lines.is_empty() {
        lines.push(Line {
            risk: 0,
            text: "nothing: this session has no policies".into(),
        });
    }
    if let Some(b) = budget(&spec.opLimit, |v| v.to_string(), "times ") {
        lines.push(Line {
            risk: 0,
            text: format!("act {b}"),
        });
    }
    let (fee_lines, fee_notes) = gas(spec);
    lines.extend(fee_lines);
    notes.extend(fee_notes);
    periods.sort_unstable();
    for period in periods {
        // Windows are floor(t / period): they reset at multiples of the period, not a period
        // after first use.
        let when = match period {
            60 => "at the start of every minute".to_string(),
            3600 => "at the start of every hour".to_string(),
            86_400 => "every day at 00:00 UTC".to_string(),
            p => format!(
                "every {} (counted from 1 Jan 1970 00:00 UTC)",
                crate::format::scalars::format_duration(p)
            ),
        };
        let first = if after == 0 {
            String::new()
        } else {
            format!(", first on {}", human_time((after / period + 1) * period))
        };
        let kind = match period {
            60 => "per-minute".to_string(),
            3600 => "hourly".to_string(),
            86_400 => "daily".to_string(),
            604_800 => "weekly".to_string(),
            p => format!("per-{}", crate::format::scalars::format_duration(p)),
        };
        notes.push(format!(
            "{kind} limits reset {when}{first}, not a full period after use: around a reset up to twice such a limit can be spent"
        ));
    }
    lines.sort_by_key(|line| std::cmp::Reverse(line.risk));
    notes.dedup();
    Explanation {
        heading,
        lines,
        notes,
    }
}
