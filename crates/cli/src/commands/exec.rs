//! `sessionkeys exec`: calls sent as a stored session's key, one userOp per op.

use crate::InputError;
use crate::args::{ChainArgs, StoreArgs};
use crate::onchain::{client_for, progress, resolve_target, runtime};
use crate::ops_file;
use alloy::primitives::Address;
use sessionkeys::store::StoredStatus;
use sessionkeys::{Call, SdkError};
use std::path::PathBuf;
use std::process::ExitCode;

/// The calls of `exec`: a file of ops, or one call on the command line.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// The session: `latest` or (a prefix of) its hash.
    #[arg(long, env = "SESSIONKEYS_SESSION_HASH", default_value = "latest")]
    session: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Ops file (docs/simulate-format.md); each op is sent as one userOp, in order.
    #[arg(long, conflicts_with_all = ["to", "function", "data"])]
    calls: Option<PathBuf>,
    /// One call: its target (an address, or usdc / gold / game for the fixtures).
    #[arg(long)]
    to: Option<String>,
    /// Wei sent with the call.
    #[arg(long)]
    value: Option<String>,
    /// The function, e.g. "transfer(address,uint256)", with --arg for each argument.
    #[arg(long, requires = "to")]
    function: Option<String>,
    /// One argument of --function (repeat in order).
    #[arg(long = "arg")]
    args: Vec<String>,
    /// Raw calldata hex instead of --function.
    #[arg(long, conflicts_with = "function")]
    data: Option<String>,
    /// Skip the engine's pre-check and let the bundler and the chain judge (diagnostics).
    #[arg(long)]
    no_precheck: bool,
}

fn exec_batches(args: &ExecArgs, account: Address) -> Result<Vec<Vec<Call>>, InputError> {
    if let Some(file) = &args.calls {
        let ops = ops_file::load(file)?;
        let mut batches = Vec::new();
        for (i, op) in ops.ops.iter().enumerate() {
            let path = format!("ops[{i}]");
            if op.at.is_some()
                || op.time_hint.is_some()
                || op.nonce_key.is_some()
                || op.call_data.is_some()
                || op.paymaster_and_data.is_some()
            {
                return Err(InputError(format!(
                    "{path}: exec sends real userOps: only \"calls\" is allowed (at, timeHint, nonceKey, callData and paymasterAndData are for simulate)"
                )));
            }
            batches.push(ops_file::calls(op, &path, &mut |name, p| {
                resolve_target(name, account, p)
            })?);
        }
        return Ok(batches);
    }
    let Some(to) = &args.to else {
        return Err(InputError(
            "give --calls FILE, or --to with --function/--data".into(),
        ));
    };
    let call = ops_file::CallJson {
        to: to.clone(),
        value: args.value.clone(),
        data: args.data.clone(),
        function: args.function.clone(),
        args: args
            .args
            .iter()
            .cloned()
            .map(serde_json::Value::String)
            .collect(),
    };
    let op = ops_file::OpJson::from_calls(vec![call]);
    Ok(vec![ops_file::calls(&op, "call", &mut |name, p| {
        resolve_target(name, account, p)
    })?])
}

pub fn run(args: ExecArgs, json: bool) -> Result<ExitCode, InputError> {
    let store = args.store.store()?;
    let stored = store.find(&args.session)?;
    let batches = exec_batches(&args, stored.account)?;
    let backend = args.chain.backend(true)?;
    let password = args.store.password()?;
    let client = client_for(&store, &stored, backend, &password)?;
    let rt = runtime()?;
    let mut results = Vec::new();
    let mut refused = false;
    for (i, calls) in batches.iter().enumerate() {
        progress(
            json,
            &format!("op {i}: pre-check, estimate, sign, send, wait"),
        );
        let sent = rt.block_on(async {
            if args.no_precheck {
                client.send_without_precheck(calls).await
            } else {
                client.send(calls).await
            }
        });
        match sent {
            Ok(done) => {
                if stored.status == StoredStatus::Approved {
                    store.set_status(stored.hash, StoredStatus::Granted)?;
                }
                if !json {
                    outln!(
                        "op {i}: ok — userOp {} in tx {} (gas {}, paid {} wei)",
                        done.user_op_hash,
                        done.transaction_hash,
                        done.actual_gas_used,
                        done.actual_gas_cost
                    );
                }
                results.push(serde_json::json!({"op": i, "verdict": "ok", "userOpHash": done.user_op_hash.to_string(), "transactionHash": done.transaction_hash.to_string(), "actualGasUsed": done.actual_gas_used.to_string(), "actualGasCost": done.actual_gas_cost.to_string()}));
            }
            Err(
                error @ (SdkError::Refused { .. }
                | SdkError::OutOfTimeRange { .. }
                | SdkError::BundlerRefused { .. }
                | SdkError::ExecutionReverted { .. }),
            ) => {
                refused = true;
                let name = match &error {
                    SdkError::Refused { violation } => violation.name().to_string(),
                    _ => String::new(),
                };
                if !json {
                    outln!("op {i}: refused — {error}");
                }
                results.push(serde_json::json!({"op": i, "verdict": "refused", "error": name, "reason": error.to_string()}));
                break;
            }
            Err(other) => return Err(InputError(other.to_string())),
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(results));
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
