//! `sessionkeys check`: the engine's verdict on a sequence of ops, offline — no chain, no keys.
//! Each allowed op's charges carry over to the next, as on-chain. Exit 0 if every op would pass,
//! 1 if one would be refused.

use crate::InputError;
use crate::commands::session::file::load_with_signer;
use crate::error::CliError;
use crate::ops_file::{self, op_report};
use alloy::primitives::{Address, U256, address};
use sessionkeys::AddressBook;
use sessionkeys_chain::userop::{nonce_key, nonce_with_key, session_lane};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_engine::advisory::{EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
use sessionkeys_engine::format::usage::{UsageFile, parse_usage_json};
use sessionkeys_engine::sender::check_paymaster_and_data;
use sessionkeys_engine::{EvalContext, SessionHeader, Status, Violation};
use std::path::PathBuf;

/// Stands in for a signer the session file leaves out (the pre-check verifies no signature).
const PLACEHOLDER_SIGNER: Address = address!("0x000000000000000000000000000000000000dEaD");

/// The options of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub run: ops_file::OpsRun,
    /// What the session already used (docs/simulate-format.md).
    #[arg(long, env = "SESSIONKEYS_USAGE")]
    pub usage: Option<PathBuf>,
    /// The time of the first op: RFC 3339 or Unix seconds (default: now).
    #[arg(long, env = "SESSIONKEYS_AT")]
    pub at: Option<String>,
    /// The account (for the banned-target checks).
    #[arg(
        long,
        env = "SESSIONKEYS_ACCOUNT",
        default_value = "0x00000000000000000000000000000000000acc01"
    )]
    pub account: Address,
    /// The validator (for the banned-target checks and the nonce lane).
    #[arg(
        long,
        env = "SESSIONKEYS_VALIDATOR",
        default_value = "0x000000000000000000000000000000000000ba11"
    )]
    pub validator: Address,
    /// The chain id.
    #[arg(long, env = "SESSIONKEYS_CHAIN_ID", default_value_t = 31337)]
    pub chain_id: u64,
    /// maxFeePerGas in wei of each op (gas limits: 200k verification, 200k call, 60k overhead).
    #[arg(
        long,
        env = "SESSIONKEYS_MAX_FEE_PER_GAS",
        default_value_t = 1_000_000_000
    )]
    pub max_fee_per_gas: u128,
}

pub fn run(args: CheckArgs, json: bool) -> Result<(), CliError> {
    let spec = load_with_signer(&args.run.session, Some(PLACEHOLDER_SIGNER))?;
    let ops = ops_file::load(&args.run.calls)?;
    let usage: UsageFile = match &args.usage {
        None => UsageFile::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
            parse_usage_json(&text).map_err(|e| InputError(format!("{}: {e}", path.display())))?
        }
    };
    let rules = args.run.entrypoint;
    let mut ctx = EvalContext {
        chain_id: args.chain_id,
        validator: args.validator,
        account: args.account,
        entry_points: [
            EntryPointVersion::V07.address(),
            EntryPointVersion::V08.address(),
        ],
        registry: None,
        installed_modules: vec![args.validator],
        account_epoch: 0,
        header: SessionHeader {
            status: Status::Active,
            epoch: 0,
            ops_period: usage.ops_period,
            ops_used: usage.ops_used,
        },
        counters: usage.counters(),
        owner: None,
        sender: sessionkeys_engine::SenderState::deployed(rules, args.validator),
    };
    let hash = sessionkeys_engine::session_hash(&spec)?;
    let now = crate::onchain::unix_now();
    let mut time = match &args.at {
        Some(at) => ops_file::parse_time(at, now, "--at")?,
        None => now,
    };
    // Gas of a typical session op (validation ~100k, a token call, bundler overhead): the fee
    // budget is charged at maxFeePerGas × all of it (rule 11).
    let mut defaults = UserOperation::new(args.account, U256::ZERO, Default::default());
    defaults.verification_gas_limit = 200_000;
    defaults.call_gas_limit = 200_000;
    defaults.pre_verification_gas = U256::from(60_000);
    defaults.max_fee_per_gas = args.max_fee_per_gas;
    defaults.max_priority_fee_per_gas = args.max_fee_per_gas.min(1_000_000_000);
    let defaults = defaults.pack();
    // Offline there is no deployment to name: only what the flags say.
    let book = AddressBook::empty()
        .with("account", args.account)
        .with("validator", args.validator)
        .with("entryPoint", args.run.entrypoint.address());
    let (mut refused, mut out) = (false, Vec::new());
    for (i, op) in ops.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op.at {
            time = ops_file::parse_time(at, time, &format!("{path}.at"))?;
        }
        let call_data = ops_file::call_data(op, &path, &book)?;
        let key = op
            .nonce_key(&path)?
            .unwrap_or_else(|| nonce_key(args.validator, session_lane(hash)));
        let nonce = nonce_with_key(key, 0);
        let paymaster_and_data = match op.paymaster_and_data.as_deref() {
            None => Default::default(),
            Some(raw) => ops_file::hex_bytes(raw, &format!("{path}.paymasterAndData"))?,
        };
        let session_op = SessionOp {
            sender: args.account,
            spec: &spec,
            session_hash: hash,
            mode: SignatureMode::Use,
            time_hint: op.time_hint(time, &path)?,
            nonce,
            call_data: &call_data,
            account_gas_limits: defaults.accountGasLimits,
            pre_verification_gas: defaults.preVerificationGas,
            gas_fees: defaults.gasFees,
            paymaster_and_data: &paymaster_and_data,
            chains: &[],
            signatures: None,
        };
        let checked = check_paymaster_and_data(rules, &paymaster_and_data)
            .and_then(|_| evaluate_session_op(&ctx, &session_op));
        let (verdict, why, name) = match checked {
            Err(Violation::EntryPoint(reason)) => (format!("entrypoint: {reason}"), None, None),
            Err(violation) => (
                format!("refused: {}", violation.call_form()),
                Some(violation.to_string()),
                Some(violation.name().to_string()),
            ),
            Ok(validation) => match entry_point_verdict(rules, &validation, time) {
                EntryPointVerdict::Accepted => {
                    ctx.header = validation.header;
                    ctx.counters.extend(validation.counters);
                    ("ok".to_string(), None, None)
                }
                EntryPointVerdict::OutOfTimeRange => (
                    "entrypoint: AA22 expired or not due".to_string(),
                    None,
                    None,
                ),
                EntryPointVerdict::SignatureError => ("signature failed".to_string(), None, None),
            },
        };
        refused |= verdict != "ok";
        if json {
            out.push(op_report(i, Some(time), &verdict, name, why));
        } else {
            outln!(
                "op {i} at {}: {verdict}",
                sessionkeys_engine::explain::human_time(time)
            );
            if let Some(why) = why {
                outln!("  why: {why}");
            }
        }
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({"sessionHash": hash.to_string(), "ops": out})
        );
    }
    if refused {
        return Err(CliError::RefusedReported);
    }
    Ok(())
}
