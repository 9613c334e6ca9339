//! `sessionkeys simulate`: a session and a sequence of userOps on a fresh devnet, each
//! judged by the contract (through handleOps) and by the engine, in one vocabulary.
//! Exit code 0 if every op passed, 1 if any was refused, 3 if the two sides disagree (a bug).

use crate::commands::session::file::load_with_signer;
use crate::error::CliError;
use crate::ops_file::{self, op_report};
use alloy::primitives::Bytes;
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::AddressBook;
use sessionkeys::session_rows::counter_kind_name;
use sessionkeys_chain::UserOperation;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::signing;
use sessionkeys_chain::userop::{nonce_key, session_lane};
use sessionkeys_contracts::session::{ISessionKeyValidator, ISessionUsageLens, SessionSpec};
use sessionkeys_contracts::vocabulary::packed;
use sessionkeys_devnet::devnet::Devnet;
use sessionkeys_devnet::funded::Funds;
use sessionkeys_devnet::judge::{Refusal, Verdict, judge};

/// The validator error's name in a verdict (`refused: Name(args)`), for the JSON `error` field.
fn refused_name(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Refused(Refusal::Violation(violation)) => Some(violation.name().to_string()),
        _ => None,
    }
}

pub fn run(run: ops_file::OpsRun, json: bool) -> Result<(), CliError> {
    let ops_file::OpsRun {
        session,
        calls: ops,
        entrypoint: version,
    } = run;
    let key = PrivateKeySigner::random();
    let spec: SessionSpec = load_with_signer(&session, Some(key.address()))?;
    if spec.signer != key.address() {
        return Err(CliError::Input(format!(
            "{}: simulate signs with a key it makes; leave \"signer\" out of the session file",
            session.display()
        )));
    }
    let file = ops_file::load(&ops)?;

    let mut devnet = Devnet::new()?;
    let owner = PrivateKeySigner::random();
    let validator = devnet.addresses.validator;
    let account = devnet.funded_account(
        version,
        owner.address(),
        vec![validator],
        Funds::eth_and_usdc(10, 1000).with_gold(1),
    )?;
    let hash = signing::session_hash(&spec)?;
    let packed_spec = packed::encode_spec(&spec)?;
    let enable = Call::typed(
        validator,
        &ISessionKeyValidator::enableSessionCall {
            spec: packed_spec.clone().into(),
        },
    );
    let op = devnet.owner_op(version, account, &owner, &[enable])?;
    let receipt = devnet.handle_ops(version, &[op])?;
    if !receipt.ops[0].success {
        let why = receipt.ops[0]
            .decoded_revert()
            .map(|r| r.to_string())
            .unwrap_or_default();
        return Err(CliError::Input(format!(
            "the session cannot be enabled: {why}"
        )));
    }
    let mut out = Vec::new();
    if !json {
        outln!("session {hash} enabled on account {account} (EntryPoint {version})");
    }
    let book = AddressBook::deployment(version)
        .with("validator", validator)
        .with("account", account)
        .with("registry", devnet.addresses.registry);
    let (mut refused, mut disagreed) = (false, false);
    let mut time = devnet.chain.time();
    for (i, op_json) in file.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op_json.at {
            time = ops_file::parse_time(at, time, &format!("{path}.at"))?;
            if time < devnet.chain.time() {
                return Err(CliError::Input(format!(
                    "{path}.at: time cannot go backwards"
                )));
            }
            devnet.chain.set_time(time);
        }
        let call_data = ops_file::call_data(op_json, &path, &book)?;
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
            devnet.addresses.usage_lens,
            &ISessionUsageLens::sessionUsageCall {
                validator,
                account,
                spec: packed_spec.clone().into(),
                timeHint: alloy::primitives::aliases::U48::from(time),
            },
        )?;
        let remaining: Vec<String> = usage
            .iter()
            .map(|u| {
                let name = counter_kind_name(u.kind);
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
            let mut entry = op_report(
                i,
                Some(time),
                &judgement.contract.to_string(),
                refused_name(&judgement.contract),
                judgement.explanation.clone(),
            );
            entry["contract"] = judgement.contract.to_string().into();
            entry["engine"] = judgement.engine.to_string().into();
            entry["agree"] = judgement.agrees().into();
            entry["remaining"] = remaining.into();
            entry["gas"] = judgement.receipt.as_ref().map(|r| r.gas_used).into();
            out.push(entry);
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
    if disagreed {
        return Err(CliError::DisagreementReported);
    }
    if refused {
        return Err(CliError::RefusedReported);
    }
    Ok(())
}
