//! `sessionkeys simulate`: a session and a sequence of userOps on a fresh devnet, each
//! judged by the contract (through handleOps) and by the engine, in one vocabulary.
//! Exit code 0 if every op passed, 1 if any was refused, 3 if the two sides disagree (a bug).

use crate::InputError;
use crate::commands::session::file::load_with_signer;
use crate::ops_file;
use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::signing;
use sessionkeys_chain::userop::{nonce_key, session_lane};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::TestToken;
use sessionkeys_contracts::session::{ISessionKeyValidator, SessionSpec};
use sessionkeys_devnet::devnet::{DEVNET_ADMIN, Devnet};
use sessionkeys_devnet::judge::judge;
use std::process::ExitCode;

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

pub fn run(run: ops_file::OpsRun, json: bool) -> Result<ExitCode, InputError> {
    let ops_file::OpsRun {
        session,
        calls: ops,
        entrypoint: version,
    } = run;
    let key = PrivateKeySigner::random();
    let spec: SessionSpec = load_with_signer(&session, Some(key.address()))?;
    if spec.signer != key.address() {
        return Err(InputError(format!(
            "{}: simulate signs with a key it makes; leave \"signer\" out of the session file",
            session.display()
        )));
    }
    let file = ops_file::load(&ops)?;

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
        outln!("session {hash} enabled on account {account} (EntryPoint {version})");
    }
    let (mut refused, mut disagreed) = (false, false);
    let mut time = devnet.chain.time();
    for (i, op_json) in file.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op_json.at {
            time = ops_file::parse_time(at, time, &format!("{path}.at"))?;
            if time < devnet.chain.time() {
                return Err(InputError(format!("{path}.at: time cannot go backwards")));
            }
            devnet.chain.set_time(time);
        }
        let call_data = ops_file::call_data(op_json, &path, &mut |name, at| {
            resolve(&devnet, account, version, name, at)
        })?;
        let hint = op_json.time_hint(time, &path)?;
        // getNonce returns the whole nonce, key ‖ sequence, for any key.
        let key_of_nonce = op_json
            .nonce_key(&path)?
            .unwrap_or_else(|| nonce_key(validator, session_lane(hash)));
        let nonce = devnet.nonce(version, account, key_of_nonce)?;
        let paymaster_and_data = match op_json.paymaster_and_data.as_deref() {
            None => None,
            Some("sponsor") => {
                let mut raw = devnet.addresses.paymaster(version).to_vec();
                raw.extend_from_slice(&100_000u128.to_be_bytes());
                raw.extend_from_slice(&50_000u128.to_be_bytes());
                Some(Bytes::from(raw))
            }
            Some(raw) => Some(ops_file::hex_bytes(
                raw,
                &format!("{path}.paymasterAndData"),
            )?),
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
            outln!(
                "op {i} at {}",
                sessionkeys_engine::explain::human_time(time)
            );
            outln!("  contract: {}", judgement.contract);
            outln!(
                "  engine:   {}{}",
                judgement.engine,
                if judgement.agrees() {
                    ""
                } else {
                    "   <-- DISAGREEMENT (a bug: please report it)"
                }
            );
            if let Some(reason) = &judgement.explanation {
                outln!("  why:      {reason}");
            }
            if !remaining.is_empty() {
                outln!("  remaining: {}", remaining.join(", "));
            }
        }
    }
    if json {
        outln!(
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
