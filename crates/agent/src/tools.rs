//! The tools a session's scope gives an agent: one per call policy and one for the transfer
//! policies, each with a JSON Schema built from the policy's constraints, and the server's own
//! strict reading of a call's arguments (the client's validation is never trusted).
//!
//! A tool's name and sentence come from the session alone (the explanation's sentence for its
//! policy), so an agent sees the same scope the owner approved.

use crate::amount::{AmountError, parse_units, units_pattern};
use alloy::primitives::{Address, Bytes, U256, hex};
use serde_json::{Map, Value, json};
use sessionkeys::Call;
use sessionkeys_contracts::session::{CallPolicy, Constraint, SessionSpec};
use sessionkeys_contracts::vocabulary::Condition;
use sessionkeys_engine::explain::{Labels, call_policy_line, format_units, transfer_policy_line};
use sessionkeys_engine::format::scalars::parse_address;

/// The unit an amount argument is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `USDC`, `ETH`, or `base units` for a number with no known token.
    pub symbol: String,
    /// Digits after the point.
    pub decimals: u8,
}

impl Unit {
    fn eth() -> Self {
        Self {
            symbol: "ETH".into(),
            decimals: 18,
        }
    }

    fn base() -> Self {
        Self {
            symbol: "base units".into(),
            decimals: 0,
        }
    }

    /// `amount` written in this unit: `25.5 USDC`.
    pub fn show(&self, amount: U256) -> String {
        format!("{} {}", format_units(amount, self.decimals), self.symbol)
    }
}

/// How one argument of a policy tool becomes a 32-byte word of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamKind {
    /// An address; `allowed` when the session pins the word (`equal`, `oneOf`).
    Address {
        /// The only addresses the session accepts here.
        allowed: Option<Vec<Address>>,
    },
    /// An unsigned number of `bits`, written as a decimal string in `unit`.
    Amount {
        /// What the decimal string counts.
        unit: Unit,
        /// The most one call may carry (`less` / `lessOrEqual` constraints).
        most_each: Option<U256>,
        /// The word's width (uint8 … uint256).
        bits: u16,
    },
    /// `true` or `false`.
    Bool,
    /// Any 32 bytes, as 0x + 64 hex digits.
    Word,
}

/// One argument of a policy tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name in the tool's input.
    pub name: String,
    /// Which argument word of the call it is.
    pub word: u32,
    /// How it is written and checked.
    pub kind: ParamKind,
}

/// What calling a policy tool sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A call of one call policy's function, with typed arguments.
    Call {
        /// The policy's index in the session.
        policy: usize,
        /// The callee.
        target: Address,
        /// The function.
        selector: [u8; 4],
        /// Its arguments, in order.
        params: Vec<Param>,
        /// The most ETH one call may send, when the policy lets it send any.
        value: Option<U256>,
    },
    /// A call of one call policy whose function's arguments are not known: its ABI-encoded
    /// arguments as hex.
    RawCall {
        /// The policy's index in the session.
        policy: usize,
        /// The callee.
        target: Address,
        /// The function.
        selector: [u8; 4],
        /// The most ETH one call may send, when the policy lets it send any.
        value: Option<U256>,
    },
    /// Plain ETH to one of the transfer policies' targets.
    Transfer {
        /// Each target, its policy's index and the most one transfer may send.
        targets: Vec<(Address, usize, U256)>,
    },
}

/// A tool shaped by one policy (or by the transfer policies together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTool {
    /// The tool's name, e.g. `send_usdc`.
    pub name: String,
    /// What it does within the session, in the explanation's words.
    pub sentence: String,
    /// What calling it sends.
    pub action: Action,
}

/// Why a tool call's arguments were refused before anything was judged or signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentError {
    /// An argument this tool does not take.
    #[error("unknown argument {name:?}: this tool takes {takes}")]
    Unknown {
        /// The argument given.
        name: String,
        /// The arguments it takes.
        takes: String,
    },
    /// A required argument is missing.
    #[error("missing argument {name:?} ({what})")]
    Missing {
        /// The argument.
        name: String,
        /// What it should hold.
        what: String,
    },
    /// An argument of the wrong JSON type or form.
    #[error("argument {name:?}: {problem}")]
    Invalid {
        /// The argument.
        name: String,
        /// What was wrong and what to give instead.
        problem: String,
    },
    /// An amount that is not an exact decimal.
    #[error("argument {name:?}: {source}")]
    Amount {
        /// The argument.
        name: String,
        /// Why.
        source: AmountError,
    },
    /// An address the session does not allow in this place.
    #[error("argument {name:?}: {given} is not allowed by the session; it allows only {allowed}")]
    NotAllowed {
        /// The argument.
        name: String,
        /// The address given.
        given: Address,
        /// The addresses allowed.
        allowed: String,
    },
    /// An amount over the most one call may carry.
    #[error("argument {name:?}: {given} is over the session's cap of {cap} each time")]
    OverCap {
        /// The argument.
        name: String,
        /// The amount given.
        given: String,
        /// The cap.
        cap: String,
    },
}

/// Names of the arguments of well-known functions, by signature.
const PARAM_NAMES: &[(&str, &[&str])] = &[
    ("transfer(address,uint256)", &["to", "amount"]),
    ("approve(address,uint256)", &["spender", "amount"]),
    (
        "transferFrom(address,address,uint256)",
        &["from", "to", "amount"],
    ),
    ("mint(address,uint256)", &["to", "amount"]),
    ("withdraw(uint256)", &["amount"]),
    ("burn(uint256)", &["amount"]),
    ("stake(uint256)", &["amount"]),
    ("increaseAllowance(address,uint256)", &["spender", "amount"]),
    ("decreaseAllowance(address,uint256)", &["spender", "amount"]),
];

/// The tools of `spec`'s policies, named uniquely, in the session's order (call policies, then
/// one tool for every transfer policy).
pub fn policy_tools(spec: &SessionSpec, labels: &Labels) -> Vec<PolicyTool> {
    let mut tools: Vec<PolicyTool> = spec
        .callPolicies
        .iter()
        .enumerate()
        .map(|(index, policy)| call_tool(index, policy, labels))
        .collect();
    if !spec.transferPolicies.is_empty() {
        let sentences: Vec<String> = spec
            .transferPolicies
            .iter()
            .map(|p| transfer_policy_line(p).text)
            .collect();
        tools.push(PolicyTool {
            name: "send_eth".into(),
            sentence: sentences.join("; "),
            action: Action::Transfer {
                targets: spec
                    .transferPolicies
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.target, i, p.maxValuePerUse))
                    .collect(),
            },
        });
    }
    unique_names(&mut tools);
    tools
}

/// Makes names unique: a repeated name gets its callee's last four hex digits, then its place.
/// The tools every session has besides its policies' (the server's own).
pub const FIXED_TOOLS: [&str; 5] = [
    "describe_session",
    "check",
    "execute",
    "history",
    "revoke_session",
];

/// The most characters in a tool name that every MCP client accepts.
const MOST_NAME_CHARS: usize = 64;

fn unique_names(tools: &mut [PolicyTool]) {
    let taken = |tools: &[PolicyTool]| -> Vec<bool> {
        tools
            .iter()
            .map(|t| {
                FIXED_TOOLS.contains(&t.name.as_str())
                    || tools.iter().filter(|o| o.name == t.name).count() > 1
            })
            .collect()
    };
    let first = taken(tools);
    for (tool, taken) in tools.iter_mut().zip(first) {
        if taken {
            let target = match &tool.action {
                Action::Call { target, .. } | Action::RawCall { target, .. } => *target,
                Action::Transfer { .. } => Address::ZERO,
            };
            let hex = hex::encode(target.as_slice());
            tool.name = with_suffix(&tool.name, &hex[hex.len() - 4..]);
        }
    }
    let second = taken(tools);
    for (i, (tool, taken)) in tools.iter_mut().zip(second).enumerate() {
        if taken {
            tool.name = with_suffix(&tool.name, &i.to_string());
        }
    }
}

/// `name_suffix`, `name` cut so the whole stays within [`MOST_NAME_CHARS`].
fn with_suffix(name: &str, suffix: &str) -> String {
    let keep = MOST_NAME_CHARS.saturating_sub(suffix.len() + 1);
    // Tool names are ASCII (see `tool_name`): cutting at a byte is cutting at a character.
    format!("{}_{suffix}", &name[..name.len().min(keep)])
}

fn call_tool(index: usize, policy: &CallPolicy, labels: &Labels) -> PolicyTool {
    let selector = policy.selector.0;
    let token = labels.token(policy.target);
    let (mut sentence, _) = call_policy_line(policy, labels);
    let value = (policy.maxValuePerUse > U256::ZERO).then_some(policy.maxValuePerUse);
    let signature = labels.signature(selector);
    let params = signature.and_then(|s| {
        typed_params(
            s,
            policy,
            token.map(|t| Unit {
                symbol: t.symbol.clone(),
                decimals: t.decimals,
            }),
        )
    });
    let function = signature
        .and_then(|s| s.split('(').next())
        .map(str::to_string)
        .unwrap_or_else(|| format!("call_0x{}", hex::encode(selector)));
    let thing = token.map(|t| t.symbol.to_lowercase()).unwrap_or_else(|| {
        let hex = hex::encode(policy.target.as_slice());
        format!("0x{}", &hex[hex.len() - 4..])
    });
    let name = match function.as_str() {
        "transfer" if token.is_some() => format!("send_{thing}"),
        "approve" if token.is_some() => format!("approve_{thing}"),
        _ if token.is_some() => format!("{function}_{thing}"),
        _ => function.clone(),
    };
    sentence.text = capitalized(&sentence.text);
    PolicyTool {
        name: tool_name(&name),
        sentence: sentence.text,
        action: match params {
            Some(params) => Action::Call {
                policy: index,
                target: policy.target,
                selector,
                params,
                value,
            },
            None => Action::RawCall {
                policy: index,
                target: policy.target,
                selector,
                value,
            },
        },
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Letters, digits and `_` only, at most 64 characters (what every MCP client accepts).
fn tool_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() { "call".into() } else { name }
}

/// The typed arguments of `signature` (static elementary types only), or `None` when the
/// agent must give the encoded arguments itself.
fn typed_params(signature: &str, policy: &CallPolicy, token: Option<Unit>) -> Option<Vec<Param>> {
    let inside = signature.split_once('(')?.1.strip_suffix(')')?;
    let types: Vec<&str> = if inside.is_empty() {
        Vec::new()
    } else {
        inside.split(',').collect()
    };
    let names = PARAM_NAMES
        .iter()
        .find(|(s, _)| *s == signature)
        .map(|(_, names)| *names);
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let word = u32::try_from(i).ok()?;
            let name = names
                .and_then(|n| n.get(i))
                .map(|n| n.to_string())
                .unwrap_or_else(|| format!("arg{i}"));
            let constraints: Vec<&Constraint> = policy
                .constraints
                .iter()
                .filter(|c| c.index == word)
                .collect();
            let kind = match *ty {
                "address" => ParamKind::Address {
                    allowed: pinned_addresses(&constraints),
                },
                "bool" => ParamKind::Bool,
                "bytes32" => ParamKind::Word,
                uint if uint.starts_with("uint") => {
                    let bits: u16 = match &uint[4..] {
                        "" => 256,
                        digits => digits
                            .parse()
                            .ok()
                            .filter(|b| (8..=256).contains(b) && b % 8 == 0)?,
                    };
                    let unit = match (&token, name.as_str()) {
                        (Some(unit), "amount") => unit.clone(),
                        _ => Unit::base(),
                    };
                    ParamKind::Amount {
                        unit,
                        most_each: most_each(&constraints),
                        bits,
                    }
                }
                _ => return None,
            };
            Some(Param { name, word, kind })
        })
        .collect()
}

/// The addresses an `equal` or `oneOf` constraint pins the word to.
fn pinned_addresses(constraints: &[&Constraint]) -> Option<Vec<Address>> {
    let as_address = |word: &alloy::primitives::B256| {
        word[..12]
            .iter()
            .all(|b| *b == 0)
            .then(|| Address::from_word(*word))
    };
    constraints.iter().find_map(|c| match c.condition() {
        Ok(Condition::Equal) => as_address(&c.refValue).map(|a| vec![a]),
        Ok(Condition::OneOf) => c.oneOf.iter().map(as_address).collect(),
        _ => None,
    })
}

/// The most a word may be: the tightest `less` / `lessOrEqual` bound.
fn most_each(constraints: &[&Constraint]) -> Option<U256> {
    constraints
        .iter()
        .filter_map(|c| {
            let bound = U256::from_be_bytes(c.refValue.0);
            match c.condition() {
                Ok(Condition::LessOrEqual) => Some(bound),
                Ok(Condition::Less) => Some(bound.saturating_sub(U256::from(1))),
                _ => None,
            }
        })
        .min()
}

impl PolicyTool {
    /// The arguments this tool takes, in order, with what each holds.
    fn arguments(&self) -> Vec<(String, Value, bool)> {
        let amount_schema = |unit: &Unit, most: Option<U256>, what: &str| {
            let mut text = format!("{what}, a decimal string in {}", unit.symbol);
            if let Some(most) = most {
                text += &format!(", at most {} each time", unit.show(most));
            }
            json!({"type": "string", "pattern": units_pattern(unit.decimals), "description": text})
        };
        let value_arg = |value: &Option<U256>| {
            value.map(|most| {
                (
                    "value".to_string(),
                    amount_schema(
                        &Unit::eth(),
                        Some(most),
                        "ETH sent with the call (default 0)",
                    ),
                    false,
                )
            })
        };
        match &self.action {
            Action::Call { params, value, .. } => params
                .iter()
                .map(|p| {
                    let schema = match &p.kind {
                        ParamKind::Address { allowed: Some(allowed) } => json!({
                            "type": "string",
                            "enum": allowed.iter().map(|a| a.to_checksum(None)).collect::<Vec<_>>(),
                            "description": "an address the session allows here",
                        }),
                        ParamKind::Address { allowed: None } => json!({
                            "type": "string",
                            "pattern": "^0x[0-9a-fA-F]{40}$",
                            "description": "an address (EIP-55 checksummed or all lowercase)",
                        }),
                        ParamKind::Amount { unit, most_each, bits } => amount_schema(
                            unit,
                            *most_each,
                            &if *bits == 256 { "an amount".to_string() } else { format!("a uint{bits}") },
                        ),
                        ParamKind::Bool => json!({"type": "boolean"}),
                        ParamKind::Word => json!({
                            "type": "string",
                            "pattern": "^0x[0-9a-fA-F]{64}$",
                            "description": "32 bytes as 0x + 64 hex digits",
                        }),
                    };
                    (p.name.clone(), schema, true)
                })
                .chain(value_arg(value))
                .collect(),
            Action::RawCall { value, .. } => std::iter::once((
                "arguments".to_string(),
                json!({
                    "type": "string",
                    "pattern": "^0x([0-9a-fA-F]{2})*$",
                    "description": "the function's ABI-encoded arguments (after the 4-byte selector), as 0x-hex",
                }),
                true,
            ))
            .chain(value_arg(value))
            .collect(),
            Action::Transfer { targets } => vec![
                (
                    "to".to_string(),
                    json!({
                        "type": "string",
                        "enum": targets.iter().map(|(a, _, _)| a.to_checksum(None)).collect::<Vec<_>>(),
                        "description": "an address the session allows ETH to be sent to",
                    }),
                    true,
                ),
                (
                    "amount".to_string(),
                    amount_schema(&Unit::eth(), None, "ETH to send"),
                    true,
                ),
            ],
        }
    }

    /// The tool's input schema: an object with exactly these arguments.
    pub fn input_schema(&self) -> Map<String, Value> {
        let arguments = self.arguments();
        let properties: Map<String, Value> = arguments
            .iter()
            .map(|(name, schema, _)| (name.clone(), schema.clone()))
            .collect();
        let required: Vec<&String> = arguments
            .iter()
            .filter(|(_, _, required)| *required)
            .map(|(name, _, _)| name)
            .collect();
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        schema.insert("required".into(), json!(required));
        schema.insert("additionalProperties".into(), json!(false));
        schema
    }

    /// The call `arguments` ask for, read as strictly as the schema says: nothing the schema
    /// forbids gets through, whatever the client checked.
    ///
    /// # Errors
    /// [`ArgumentError`] naming the argument and what to give instead.
    pub fn call(&self, arguments: &Map<String, Value>) -> Result<Call, ArgumentError> {
        let takes = self.arguments();
        let names: Vec<&str> = takes.iter().map(|(n, _, _)| n.as_str()).collect();
        if let Some(unknown) = arguments.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(ArgumentError::Unknown {
                name: unknown.clone(),
                takes: if names.is_empty() {
                    "no arguments".into()
                } else {
                    names.join(", ")
                },
            });
        }
        let text = |name: &str, what: &str| -> Result<Option<&str>, ArgumentError> {
            match arguments.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(ArgumentError::Invalid {
                    name: name.into(),
                    problem: format!("give {what} as a JSON string, not {}", json_kind(other)),
                }),
            }
        };
        let required = |name: &str, what: &str| -> Result<&str, ArgumentError> {
            text(name, what)?.ok_or_else(|| ArgumentError::Missing {
                name: name.into(),
                what: what.into(),
            })
        };
        let value = |most: &Option<U256>| -> Result<U256, ArgumentError> {
            let Some(most) = most else {
                return Ok(U256::ZERO);
            };
            match text("value", "ETH as a decimal string")? {
                None => Ok(U256::ZERO),
                Some(given) => capped_amount("value", given, &Unit::eth(), Some(*most), 256),
            }
        };
        match &self.action {
            Action::Call {
                target,
                selector,
                params,
                value: most,
                ..
            } => {
                let mut data = selector.to_vec();
                for param in params {
                    let word = match &param.kind {
                        ParamKind::Bool => match arguments.get(&param.name) {
                            Some(Value::Bool(b)) => U256::from(u8::from(*b)).to_be_bytes::<32>(),
                            Some(other) => {
                                return Err(ArgumentError::Invalid {
                                    name: param.name.clone(),
                                    problem: format!(
                                        "give true or false, not {}",
                                        json_kind(other)
                                    ),
                                });
                            }
                            None => {
                                return Err(ArgumentError::Missing {
                                    name: param.name.clone(),
                                    what: "true or false".into(),
                                });
                            }
                        },
                        ParamKind::Address { allowed } => {
                            let given = required(&param.name, "an address")?;
                            address_argument(&param.name, given, allowed.as_deref())?
                                .into_word()
                                .0
                        }
                        ParamKind::Amount {
                            unit,
                            most_each,
                            bits,
                        } => {
                            let given =
                                required(&param.name, &format!("an amount in {}", unit.symbol))?;
                            capped_amount(&param.name, given, unit, *most_each, *bits)?
                                .to_be_bytes::<32>()
                        }
                        ParamKind::Word => {
                            let given = required(&param.name, "0x + 64 hex digits")?;
                            let invalid = || ArgumentError::Invalid {
                                name: param.name.clone(),
                                problem: format!("{given:?} is not 0x + 64 hex digits"),
                            };
                            if !is_hex_of(given, 64) {
                                return Err(invalid());
                            }
                            let word: alloy::primitives::B256 =
                                given.parse().map_err(|_| invalid())?;
                            word.0
                        }
                    };
                    data.extend_from_slice(&word);
                }
                Ok(Call {
                    to: *target,
                    value: value(most)?,
                    data: Bytes::from(data),
                })
            }
            Action::RawCall {
                target,
                selector,
                value: most,
                ..
            } => {
                let given = required("arguments", "the ABI-encoded arguments as 0x-hex")?;
                let encoded = given
                    .strip_prefix("0x")
                    // Hex digits only: the decoder would also take a second `0x`.
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| ArgumentError::Invalid {
                        name: "arguments".into(),
                        problem: format!("{given:?} is not 0x-hex with an even number of digits"),
                    })?;
                let mut data = selector.to_vec();
                data.extend_from_slice(&encoded);
                Ok(Call {
                    to: *target,
                    value: value(most)?,
                    data: Bytes::from(data),
                })
            }
            Action::Transfer { targets } => {
                let allowed: Vec<Address> = targets.iter().map(|(a, _, _)| *a).collect();
                let to = address_argument("to", required("to", "an address")?, Some(&allowed))?;
                let most = targets
                    .iter()
                    .find(|(a, _, _)| *a == to)
                    .map(|(_, _, m)| *m);
                let amount = capped_amount(
                    "amount",
                    required("amount", "ETH as a decimal string")?,
                    &Unit::eth(),
                    most,
                    256,
                )?;
                Ok(Call::transfer(to, amount))
            }
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a JSON number (numbers lose digits: write \"25.5\")",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `given` is spelled `0x` and exactly `digits` hex digits: one spelling per value
/// (no `0X`, no missing prefix, no spaces).
fn is_hex_of(given: &str, digits: usize) -> bool {
    given.len() == 2 + digits
        && given.starts_with("0x")
        && given[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn address_argument(
    name: &str,
    given: &str,
    allowed: Option<&[Address]>,
) -> Result<Address, ArgumentError> {
    // Exactly 0x + 40 hex digits, the EIP-55 rule of every address the CLI reads.
    if !is_hex_of(given, 40) {
        return Err(ArgumentError::Invalid {
            name: name.into(),
            problem: format!("{given:?} is not an address (0x + 40 hex digits)"),
        });
    }
    let address = parse_address(given).map_err(|problem| ArgumentError::Invalid {
        name: name.into(),
        problem,
    })?;
    match allowed {
        Some(allowed) if !allowed.contains(&address) => Err(ArgumentError::NotAllowed {
            name: name.into(),
            given: address,
            allowed: allowed
                .iter()
                .map(|a| a.to_checksum(None))
                .collect::<Vec<_>>()
                .join(" or "),
        }),
        _ => Ok(address),
    }
}

fn capped_amount(
    name: &str,
    given: &str,
    unit: &Unit,
    most: Option<U256>,
    bits: u16,
) -> Result<U256, ArgumentError> {
    let amount = parse_units(given, unit.decimals).map_err(|source| ArgumentError::Amount {
        name: name.into(),
        source,
    })?;
    if bits < 256 && amount >= U256::from(1) << usize::from(bits) {
        return Err(ArgumentError::Invalid {
            name: name.into(),
            problem: format!("{given} does not fit a uint{bits}"),
        });
    }
    match most {
        Some(most) if amount > most => Err(ArgumentError::OverCap {
            name: name.into(),
            given: unit.show(amount),
            cap: unit.show(most),
        }),
        _ => Ok(amount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeys_engine::format::parse_session_json;

    fn spec(file: &str) -> SessionSpec {
        let path = format!(
            "{}/../../examples/sessions/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        parse_session_json(&text).unwrap().to_spec(None).unwrap()
    }

    fn arguments(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_game_session_gives_one_typed_tool_per_function_and_a_raw_one_for_the_unknown() {
        let labels = Labels::well_known()
            .with_function("move(uint8)")
            .with_function("buyItem(uint256)");
        let tools = policy_tools(&spec("game.json"), &labels);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["move", "call_0xe1fa7638", "buyitem"]);
        let mv = &tools[0];
        assert_eq!(
            Value::Object(mv.input_schema()),
            json!({"type": "object", "properties": {"arg0": {"type": "string",
                "pattern": "^(0|[1-9][0-9]{0,77})$",
                "description": "a uint8, a decimal string in base units, at most 3 base units each time"}},
                "required": ["arg0"], "additionalProperties": false})
        );
        let call = mv.call(&arguments(json!({"arg0": "3"}))).unwrap();
        assert_eq!(call.data.len(), 36);
        assert_eq!(call.data[35], 3);
        for (given, expected) in [
            (
                json!({"arg0": "4"}),
                "is over the session's cap of 3 base units each time",
            ),
            (json!({"arg0": "256"}), "does not fit a uint8"),
            (json!({"arg0": 3}), "not a JSON number"),
        ] {
            let error = mv.call(&arguments(given.clone())).unwrap_err().to_string();
            assert!(error.contains(expected), "{given}: {error}");
        }
        // attack(uint256,uint256) is not in the labels: the agent gives the encoded words.
        let attack = &tools[1];
        let words = format!("0x{}", "00".repeat(64));
        let call = attack
            .call(&arguments(json!({"arguments": words})))
            .unwrap();
        assert_eq!(call.data.len(), 68);
        assert!(
            attack
                .call(&arguments(json!({"arguments": "0x0"})))
                .is_err()
        );
        // buyItem sends ETH: `value` is optional, capped by maxValuePerUse (0.003 ETH).
        let buy = &tools[2];
        let call = buy
            .call(&arguments(json!({"arg0": "1", "value": "0.003"})))
            .unwrap();
        assert_eq!(call.value, U256::from(3_000_000_000_000_000u64));
        assert_eq!(
            buy.call(&arguments(json!({"arg0": "1"}))).unwrap().value,
            U256::ZERO
        );
        assert!(matches!(
            buy.call(&arguments(
                json!({"arg0": "1", "value": "0.003000000000000001"})
            )),
            Err(ArgumentError::OverCap { .. })
        ));
    }

    #[test]
    fn an_agent_allowance_gives_send_usdc_with_its_recipients_and_send_eth() {
        let tools = policy_tools(&spec("agent-daily-allowance.json"), &Labels::well_known());
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["send_usdc", "send_eth"]);
        let send = &tools[0];
        assert!(
            send.sentence
                .starts_with("Send USDC (0x8335…2913), only to "),
            "{}",
            send.sentence
        );
        let alice = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045";
        let call = send
            .call(&arguments(json!({"to": alice, "amount": "25"})))
            .unwrap();
        assert_eq!(&call.data[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(
            U256::from_be_slice(&call.data[36..68]),
            U256::from(25_000_000u64)
        );
        // Lowercase hex carries no checksum and is the same address; wrong mixed case is not.
        assert!(
            send.call(&arguments(
                json!({"to": alice.to_lowercase(), "amount": "1"})
            ))
            .is_ok()
        );
        let wrong_case = alice.replace("d8dA", "D8da");
        assert!(matches!(
            send.call(&arguments(json!({"to": wrong_case, "amount": "1"}))),
            Err(ArgumentError::Invalid { .. })
        ));
        let eth = &tools[1];
        let call = eth
            .call(&arguments(json!({"to": alice, "amount": "0.01"})))
            .unwrap();
        assert!(call.data.is_empty());
        assert_eq!(call.value, U256::from(10_000_000_000_000_000u64));
    }

    #[test]
    fn repeated_names_get_their_callee_then_their_place() {
        let mut tools: Vec<PolicyTool> = [0x11u8, 0x22, 0x22]
            .iter()
            .enumerate()
            .map(|(i, byte)| PolicyTool {
                name: "claim".into(),
                sentence: String::new(),
                action: Action::RawCall {
                    policy: i,
                    target: Address::repeat_byte(*byte),
                    selector: [0; 4],
                    value: None,
                },
            })
            .collect();
        unique_names(&mut tools);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["claim_1111", "claim_2222_1", "claim_2222_2"]);
        assert_eq!(tool_name("send usdc.e!"), "send_usdc_e_");
    }

    #[test]
    fn hex_arguments_have_one_spelling() {
        assert!(is_hex_of(&format!("0x{}", "aB".repeat(20)), 40));
        for wrong in [
            format!("0X{}", "ab".repeat(20)),
            "ab".repeat(21),
            format!(" 0x{}", "ab".repeat(20)),
            format!("0x{}", "ab".repeat(19)),
            format!("0x{}g", "ab".repeat(19)),
            format!("0x0x{}", "ab".repeat(19)),
        ] {
            assert!(!is_hex_of(&wrong, 40), "{wrong:?}");
        }
    }

    #[test]
    fn a_policy_named_like_a_fixed_tool_or_at_the_length_limit_gets_a_suffix_within_64() {
        let raw = |name: &str, byte: u8| PolicyTool {
            name: name.into(),
            sentence: String::new(),
            action: Action::RawCall {
                policy: 0,
                target: Address::repeat_byte(byte),
                selector: [0; 4],
                value: None,
            },
        };
        let long = "a".repeat(64);
        let mut tools = vec![
            raw("execute", 0xab),
            raw("revoke_session", 0xcd),
            raw(&long, 0x11),
            raw(&long, 0x22),
        ];
        unique_names(&mut tools);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names[0], "execute_abab");
        assert_eq!(names[1], "revoke_session_cdcd");
        assert_eq!(names[2], format!("{}_1111", "a".repeat(59)));
        assert_eq!(names[3], format!("{}_2222", "a".repeat(59)));
        assert!(names.iter().all(|n| n.len() <= 64));
        assert!(names.iter().all(|n| !FIXED_TOOLS.contains(n)));
    }
}
