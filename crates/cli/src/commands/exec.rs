//! `sessionkeys exec`: calls sent as a stored session's key, one userOp per op.

use crate::InputError;
use crate::args::{ChainArgs, StoreArgs};
use crate::error::{CliError, entry_point_advice, refusal_name};
use crate::onchain::{client_for, progress, runtime};
use crate::ops_file::{self, op_report};
use sessionkeys::store::StoredStatus;
use sessionkeys::{AddressBook, Executed};
use sessionkeys::{Call, SdkError};
use sessionkeys_devnet::judge::violation_call_form;
use std::path::PathBuf;

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

fn exec_batches(args: &ExecArgs, book: &AddressBook) -> Result<Vec<Vec<Call>>, InputError> {
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
            batches.push(ops_file::calls(op, &path, book)?);
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
    Ok(vec![ops_file::calls(&op, "call", book)?])
}

/// The verdict line of an op the SDK did not send through: the same words as `check`'s.
fn refusal_verdict(error: &SdkError) -> (String, Option<String>) {
    match error {
        SdkError::Refused { violation } => (
            format!("refused: {}", violation_call_form(violation)),
            refusal_name(error),
        ),
        SdkError::OutOfTimeRange { .. } => ("entrypoint: AA22 expired or not due".into(), None),
        SdkError::ExecutionReverted { reason, .. } => {
            (format!("execution reverted: {reason}"), None)
        }
        SdkError::BundlerRefused { message, .. } => {
            (format!("bundler: {message}"), refusal_name(error))
        }
        other => (format!("refused: {other}"), None),
    }
}

pub fn run(args: ExecArgs, json: bool) -> Result<(), CliError> {
    let store = args.store.store()?;
    let stored = store.find(&args.session)?;
    let version = stored.entry_point;
    let book = AddressBook::deployment(version).with("account", stored.account);
    let batches = exec_batches(&args, &book)?;
    let backend = args.chain.backend(true)?;
    let password = args.store.password()?;
    let client = client_for(&store, &stored, backend, &password)?;
    let rt = runtime()?;
    let mut results = Vec::new();
    let mut failure = None;
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
        let done = match sent {
            Ok(done) => done,
            Err(error) => {
                failure = Some(failed_op(i, error, json, &mut results));
                break;
            }
        };
        if stored.status == StoredStatus::Approved {
            store.set_status(stored.hash, StoredStatus::Granted)?;
        }
        if !json {
            print_done(i, &done);
        }
        let mut entry = op_report(i, None, "ok", None, None);
        entry["userOpHash"] = done.user_op_hash.to_string().into();
        entry["transactionHash"] = done.transaction_hash.to_string().into();
        entry["actualGasUsed"] = done.actual_gas_used.to_string().into();
        entry["actualGasCost"] = done.actual_gas_cost.to_string().into();
        entry["bundleGasUsed"] = done.bundle_gas_used.map(|g| g.to_string()).into();
        entry["blockNumber"] = done.block_number.map(|b| b.to_string()).into();
        results.push(entry);
    }
    if json && !results.is_empty() {
        outln!("{}", serde_json::Value::Array(results));
    }
    failure.map_or(Ok(()), Err)
}

/// An op that went through: its hashes and its receipt's gas.
fn print_done(i: usize, done: &Executed) {
    let bundle_gas = done
        .bundle_gas_used
        .map(|g| format!("{g} for the whole bundle"))
        .unwrap_or_else(|| "the bundler did not report the bundle's gas".into());
    outln!("op {i}: ok");
    outln!("  userOp       {}", done.user_op_hash);
    outln!("  transaction  {}", done.transaction_hash);
    outln!(
        "  gas          {} charged to the op (paid {} wei); {bundle_gas}",
        done.actual_gas_used,
        done.actual_gas_cost
    );
}

/// Reports op `i`'s failure: a refusal becomes the op's verdict line (or JSON entry) and ends
/// exec with exit 1; any other failure is left to main, unless ops already went through in
/// JSON, where it joins them as the last entry so stdout stays one document.
fn failed_op(
    i: usize,
    error: SdkError,
    json: bool,
    results: &mut Vec<serde_json::Value>,
) -> CliError {
    let error = CliError::Sdk(error);
    let refused = error.exit_code() == 1;
    if !refused && (!json || results.is_empty()) {
        return error;
    }
    let CliError::Sdk(sdk) = &error else {
        return error;
    };
    let (verdict, name) = if refused {
        refusal_verdict(sdk)
    } else {
        ("error".to_string(), None)
    };
    if !json {
        outln!("op {i}: {verdict}");
        outln!("  why: {sdk}");
        if let Some(next) = entry_point_advice(sdk) {
            outln!("  next: {next}");
        }
    }
    let mut entry = op_report(i, None, &verdict, name, Some(sdk.to_string()));
    if let Some(next) = entry_point_advice(sdk) {
        entry["next"] = next.into();
    }
    results.push(entry);
    if refused {
        CliError::RefusedReported
    } else {
        CliError::ErrorReported
    }
}
