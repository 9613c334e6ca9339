//! `sessionkeys check`: the engine's verdict on a sequence of ops, offline — no chain, no keys.
//! Each allowed op's charges carry over to the next, as on-chain. Exit 0 if every op would pass,
//! 1 if one would be refused.

use crate::InputError;
use crate::commands::session::file::load_with_signer;
use crate::error::CliError;
use crate::ops_file::{self, op_report};
use alloy::primitives::Address;
use sessionkeys::AddressBook;
use sessionkeys_chain::offline_check::{
    CheckInputError, CheckOptions, DEFAULT_ACCOUNT, DEFAULT_CHAIN_ID, DEFAULT_MAX_FEE_PER_GAS,
    DEFAULT_VALIDATOR, PLACEHOLDER_SIGNER, check_ops,
};
use sessionkeys_engine::format::usage::{UsageFile, parse_usage_json};
use std::path::PathBuf;

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
        default_value_t = DEFAULT_ACCOUNT
    )]
    pub account: Address,
    /// The validator (for the banned-target checks and the nonce lane).
    #[arg(
        long,
        env = "SESSIONKEYS_VALIDATOR",
        default_value_t = DEFAULT_VALIDATOR
    )]
    pub validator: Address,
    /// The chain id.
    #[arg(long, env = "SESSIONKEYS_CHAIN_ID", default_value_t = DEFAULT_CHAIN_ID)]
    pub chain_id: u64,
    /// maxFeePerGas in wei of each op (gas limits: 200k verification, 200k call, 60k overhead).
    #[arg(
        long,
        env = "SESSIONKEYS_MAX_FEE_PER_GAS",
        default_value_t = DEFAULT_MAX_FEE_PER_GAS
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
    let now = crate::onchain::unix_now();
    let at = match &args.at {
        Some(at) => ops_file::parse_time(at, now, "--at")?,
        None => now,
    };
    let options = CheckOptions {
        account: args.account,
        validator: args.validator,
        chain_id: args.chain_id,
        max_fee_per_gas: args.max_fee_per_gas,
        entry_point: args.run.entrypoint,
        at,
    };
    // Offline there is no deployment to name: only what the flags say.
    let book = AddressBook::empty()
        .with("account", args.account)
        .with("validator", args.validator)
        .with("entryPoint", args.run.entrypoint.address());
    let mut resolve = |name: &str, at: &str| -> Result<Address, CheckInputError> {
        book.resolve(name, at)
            .map_err(|e| CheckInputError(e.to_string()))
    };
    let report =
        check_ops(&spec, &ops, &usage, &options, &mut resolve).map_err(|e| InputError(e.0))?;
    let refused = report.ops.iter().any(|op| !op.passed());
    if json {
        let out: Vec<serde_json::Value> = report
            .ops
            .iter()
            .map(|op| {
                op_report(
                    op.op,
                    Some(op.time),
                    &op.verdict,
                    op.error.clone(),
                    op.reason.clone(),
                )
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({"sessionHash": report.session_hash.to_string(), "ops": out})
        );
    } else {
        for op in &report.ops {
            outln!(
                "op {} at {}: {}",
                op.op,
                sessionkeys_engine::explain::human_time(op.time),
                op.verdict
            );
            if let Some(why) = &op.reason {
                outln!("  why: {why}");
            }
        }
    }
    if refused {
        return Err(CliError::RefusedReported);
    }
    Ok(())
}
