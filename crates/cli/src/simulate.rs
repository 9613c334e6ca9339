//! `sessionkeys simulate`: a session and a sequence of userOps on a fresh embedded chain, each
//! judged by the contract (through handleOps) and by the engine, in one vocabulary.
//! Exit code 0 if every op passed, 1 if any was refused, 3 if the two sides disagree (a bug).

use crate::InputError;
use crate::session::load_with_signer;
use alloy::dyn_abi::{DynSolType, DynSolValue, JsonAbiExt};
use alloy::json_abi::Function;
use alloy::primitives::{Address, Bytes, U256, aliases::U192};
use alloy::signers::local::PrivateKeySigner;
use serde::Deserialize;
use sessionkeys_chain::devnet::{DEVNET_ADMIN, Devnet};
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::judge::judge;
use sessionkeys_chain::signing;
use sessionkeys_chain::userop::{nonce_key, nonce_with_key, session_lane};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::TestToken;
use sessionkeys_contracts::session::{ISessionKeyValidator, SessionSpec};
use sessionkeys_engine::format::scalars::{parse_duration, parse_rfc3339, parse_uint};
use std::path::PathBuf;
use std::process::ExitCode;

/// The ops file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpsFile {
    ops: Vec<OpJson>,
}

/// One userOp.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpJson {
    /// Block time: RFC 3339, Unix seconds, or "+90s" after the previous op.
    #[serde(default)]
    at: Option<String>,
    /// The calls, as a batch (one call is sent as a single call).
    #[serde(default)]
    calls: Vec<CallJson>,
    /// Raw callData instead of `calls` (for malformed-input probes).
    #[serde(default)]
    call_data: Option<String>,
    /// Raw paymasterAndData, or "sponsor" for the devnet's sponsoring paymaster.
    #[serde(default)]
    paymaster_and_data: Option<String>,
    /// The signed time hint (default: the block time).
    #[serde(default)]
    time_hint: Option<u64>,
    /// A nonce key as hex (default: the session's lane of the validator).
    #[serde(default)]
    nonce_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CallJson {
    /// An address or a fixture name: usdc, gold, game, account, validator, registry, entryPoint.
    to: String,
    #[serde(default)]
    value: Option<String>,
    /// Hex calldata.
    #[serde(default)]
    data: Option<String>,
    /// A signature like "transfer(address,uint256)", with `args`.
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    args: Vec<serde_json::Value>,
}

fn resolve(
    devnet: &Devnet,
    account: Address,
    version: EntryPointVersion,
    name: &str,
    path: &str,
) -> Result<Address, InputError> {
    let a = &devnet.addresses;
    Ok(match name {
        "usdc" => a.usdc,
        "gold" => a.token18,
        "game" => a.game,
        "account" => account,
        "validator" => a.validator,
        "registry" => a.registry,
        "entryPoint" => version.address(),
        other => other.parse().map_err(|_| {
            InputError(format!("{path}: expected an address or one of usdc, gold, game, account, validator, registry, entryPoint; got {other:?}"))
        })?,
    })
}

fn hex_bytes(s: &str, path: &str) -> Result<Bytes, InputError> {
    s.parse::<Bytes>()
        .map_err(|_| InputError(format!("{path}: expected 0x-hex bytes, got {s:?}")))
}

fn encode_function(
    signature: &str,
    args: &[serde_json::Value],
    path: &str,
) -> Result<Bytes, InputError> {
    let function =
        Function::parse(signature).map_err(|e| InputError(format!("{path}.function: {e}")))?;
    if function.inputs.len() != args.len() {
        return Err(InputError(format!(
            "{path}.args: {signature} takes {} arguments, got {}",
            function.inputs.len(),
            args.len()
        )));
    }
    let values = function
        .inputs
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, arg))| {
            let ty = DynSolType::parse(&param.selector_type())
                .map_err(|e| InputError(format!("{path}.args[{i}]: {e}")))?;
            let text = match arg {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ty.coerce_str(&text)
                .map_err(|e| InputError(format!("{path}.args[{i}]: not a {}: {e}", param.ty)))
        })
        .collect::<Result<Vec<DynSolValue>, _>>()?;
    function
        .abi_encode_input(&values)
        .map(Bytes::from)
        .map_err(|e| InputError(format!("{path}: {e}")))
}

fn parse_time(at: &str, previous: u64, path: &str) -> Result<u64, InputError> {
    let result = if let Some(relative) = at.strip_prefix('+') {
        parse_duration(relative).map(|d| previous + d)
    } else if at.bytes().all(|b| b.is_ascii_digit()) {
        at.parse::<u64>().map_err(|e| e.to_string())
    } else {
        parse_rfc3339(at)
    };
    result.map_err(|e| InputError(format!("{path}: {e}")))
}

pub fn run(
    session: PathBuf,
    ops: PathBuf,
    version: EntryPointVersion,
    json: bool,
) -> Result<ExitCode, InputError> {
    let key = PrivateKeySigner::random();
    let spec: SessionSpec = load_with_signer(&session, Some(key.address()))?;
    if spec.signer != key.address() {
        return Err(InputError(format!(
            "{}: simulate signs with a key it makes; leave \"signer\" out of the session file",
            session.display()
        )));
    }
    let text = std::fs::read_to_string(&ops)
        .map_err(|e| InputError(format!("cannot read {}: {e}", ops.display())))?;
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    let file: OpsFile = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| InputError(format!("{}: {}: {}", ops.display(), e.path(), e.inner())))?;

    let mut devnet = Devnet::new()?;
    let owner = PrivateKeySigner::random();
    let validator = devnet.addresses.validator;
    let account = devnet.create_account(version, owner.address(), vec![validator], U256::ZERO)?;
    devnet
        .chain
        .set_balance(account, U256::from(10u64).pow(U256::from(19)));
    for (token, amount) in [
        (devnet.addresses.usdc, 1_000_000_000u64),
        (devnet.addresses.token18, 1_000_000_000_000_000_000),
    ] {
        devnet.send(
            DEVNET_ADMIN,
            token,
            U256::ZERO,
            &TestToken::mintCall {
                to: account,
                amount: U256::from(amount),
            },
        )?;
    }
    let hash = signing::session_hash(&spec);
    let enable = Call::typed(
        validator,
        &ISessionKeyValidator::enableSessionCall { spec: spec.clone() },
    );
    let op = devnet.owner_op(version, account, &owner, &[enable])?;
    let receipt = devnet.handle_ops(version, &[op])?;
    if !receipt.ops[0].success {
        let why = receipt.ops[0]
            .decoded_revert()
            .map(|r| r.to_string())
            .unwrap_or_default();
        return Err(InputError(format!("the session cannot be enabled: {why}")));
    }
    let mut out = Vec::new();
    if !json {
        println!("session {hash} enabled on account {account} (EntryPoint {version})");
    }
    let (mut refused, mut disagreed) = (false, false);
    let mut time = devnet.chain.time();
    for (i, op_json) in file.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op_json.at {
            time = parse_time(at, time, &format!("{path}.at"))?;
            if time < devnet.chain.time() {
                return Err(InputError(format!("{path}.at: time cannot go backwards")));
            }
            devnet.chain.set_time(time);
        }
        let call_data = match &op_json.call_data {
            Some(raw) => hex_bytes(raw, &format!("{path}.callData"))?,
            None => {
                let mut calls = Vec::new();
                for (j, c) in op_json.calls.iter().enumerate() {
                    let cpath = format!("{path}.calls[{j}]");
                    let to = resolve(&devnet, account, version, &c.to, &format!("{cpath}.to"))?;
                    let value = match &c.value {
                        Some(v) => {
                            parse_uint(v).map_err(|e| InputError(format!("{cpath}.value: {e}")))?
                        }
                        None => U256::ZERO,
                    };
                    let data = match (&c.data, &c.function) {
                        (Some(hex), None) => hex_bytes(hex, &format!("{cpath}.data"))?,
                        (None, Some(signature)) => encode_function(signature, &c.args, &cpath)?,
                        (None, None) => Bytes::new(),
                        (Some(_), Some(_)) => {
                            return Err(InputError(format!(
                                "{cpath}: give either data or function, not both"
                            )));
                        }
                    };
                    calls.push(Call { to, value, data });
                }
                if calls.is_empty() {
                    return Err(InputError(format!("{path}: give calls or callData")));
                }
                encode_calls(&calls)
            }
        };
        let hint = op_json.time_hint.unwrap_or(time);
        let nonce = match &op_json.nonce_key {
            Some(k) => {
                let key = k.parse::<U192>().map_err(|_| {
                    InputError(format!(
                        "{path}.nonceKey: expected 0x-hex of at most 24 bytes"
                    ))
                })?;
                nonce_with_key(key, devnet.nonce(version, account, key)?.to::<u64>())
            }
            None => devnet.nonce(version, account, nonce_key(validator, session_lane(hash)))?,
        };
        let paymaster_and_data = match op_json.paymaster_and_data.as_deref() {
            None => None,
            Some("sponsor") => {
                let mut raw = devnet.addresses.paymaster(version).to_vec();
                raw.extend_from_slice(&100_000u128.to_be_bytes());
                raw.extend_from_slice(&50_000u128.to_be_bytes());
                Some(Bytes::from(raw))
            }
            Some(raw) => Some(hex_bytes(raw, &format!("{path}.paymasterAndData"))?),
        };
        let op: UserOperation = devnet.session_op(
            version,
            validator,
            account,
            &spec,
            &key,
            call_data,
            hint,
            None,
            |op| {
                op.nonce = nonce;
                op.raw_paymaster_and_data = paymaster_and_data;
            },
        )?;
        let judgement = judge(
            &mut devnet,
            version,
            validator,
            Some(owner.address()),
            &spec,
            op,
        )?;
        refused |= !judgement.contract.passed();
        disagreed |= !judgement.agrees();
        let usage = devnet.chain.call_typed(
            validator,
            &ISessionKeyValidator::sessionUsageCall {
                account,
                spec: spec.clone(),
                timeHint: alloy::primitives::aliases::U48::from(time),
            },
        )?;
        let remaining: Vec<String> = usage
            .iter()
            .map(|u| {
                let name = ["ops", "fees", "value", "calls", "sum", "transfers"]
                    .get(u.kind as usize)
                    .copied()
                    .unwrap_or("budget");
                let resets = if u.resetsAt.is_zero() {
                    String::new()
                } else {
                    format!(
                        " until {}",
                        sessionkeys_engine::explain::human_time(u.resetsAt.to())
                    )
                };
                format!(
                    "{name}[{}.{}] {}/{}{resets}",
                    u.policyIndex, u.constraintIndex, u.remaining, u.limit
                )
            })
            .collect();
        if json {
            out.push(serde_json::json!({
                "op": i, "time": time, "contract": judgement.contract.to_string(), "engine": judgement.engine.to_string(),
                "agree": judgement.agrees(), "reason": judgement.explanation, "remaining": remaining,
                "gas": judgement.receipt.as_ref().map(|r| r.gas_used),
            }));
        } else {
            println!(
                "op {i} at {}",
                sessionkeys_engine::explain::human_time(time)
            );
            println!("  contract: {}", judgement.contract);
            println!(
                "  engine:   {}{}",
                judgement.engine,
                if judgement.agrees() {
                    ""
                } else {
                    "   <-- DISAGREEMENT (a bug: please report it)"
                }
            );
            if let Some(reason) = &judgement.explanation {
                println!("  why:      {reason}");
            }
            if !remaining.is_empty() {
                println!("  remaining: {}", remaining.join(", "));
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"sessionHash": hash.to_string(), "account": account, "ops": out})
        );
    }
    Ok(ExitCode::from(if disagreed {
        3
    } else if refused {
        1
    } else {
        0
    }))
}
