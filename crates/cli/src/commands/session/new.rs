//! `sessionkeys session new`: a session file started from flags.

use crate::InputError;
use crate::onchain::unix_now;
use sessionkeys::SessionTemplate;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `session new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// A call the session may make, as TARGET:FUNCTION, e.g.
    /// 0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913:transfer(address,uint256). Repeat for several.
    #[arg(long = "call", value_name = "TARGET:FUNCTION")]
    calls: Vec<String>,
    /// A plain ETH transfer the session may make, as RECIPIENT:MAX_WEI_PER_TRANSFER.
    #[arg(long = "transfer", value_name = "RECIPIENT:MAX_WEI")]
    transfers: Vec<String>,
    /// How long the session lasts from now (e.g. 1h, 30m, 2d).
    #[arg(long, default_value = "1h")]
    valid_for: String,
    /// Most userOps, as N/PERIOD (e.g. 10/1m) or N for the whole session.
    #[arg(long)]
    ops: Option<String>,
    /// Most wei of gas fees the account pays over the session.
    #[arg(long, default_value = "1000000000000000")]
    fee_limit: String,
    /// Write the file here instead of printing it (never overwrites).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_pair<'a>(
    value: &'a str,
    flag: &str,
    shape: &str,
) -> Result<(&'a str, &'a str), InputError> {
    value
        .split_once(':')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| InputError(format!("{flag} {value:?}: expected {shape}")))
}

fn new_session(args: &NewArgs) -> Result<serde_json::Value, InputError> {
    use sessionkeys_engine::format::scalars::{Timestamp, parse_duration};
    if args.calls.is_empty() && args.transfers.is_empty() {
        return Err(InputError(
            "give at least one --call TARGET:FUNCTION or --transfer RECIPIENT:MAX_WEI".into(),
        ));
    }
    let duration = parse_duration(&args.valid_for)
        .map_err(|e| InputError(format!("--valid-for {:?}: {e}", args.valid_for)))?;
    let now = unix_now();
    let until = now.checked_add(duration).ok_or_else(|| {
        InputError(format!(
            "--valid-for {:?}: too long, a session must end before 2^48 seconds",
            args.valid_for
        ))
    })?;
    let mut session = serde_json::json!({
        "validAfter": Timestamp(now),
        "validUntil": Timestamp(until),
        "feeLimit": { "limit": args.fee_limit },
    });
    if let Some(ops) = &args.ops {
        session["opLimit"] = match ops.split_once('/') {
            Some((n, per)) => serde_json::json!({ "limit": n, "per": per }),
            None => serde_json::json!({ "limit": ops }),
        };
    }
    let calls: Vec<_> = args
        .calls
        .iter()
        .map(|c| {
            let (target, function) = parse_pair(c, "--call", "TARGET:FUNCTION")?;
            Ok(serde_json::json!({ "target": target, "selector": function }))
        })
        .collect::<Result<_, InputError>>()?;
    let transfers: Vec<_> = args
        .transfers
        .iter()
        .map(|t| {
            let (target, max) = parse_pair(t, "--transfer", "RECIPIENT:MAX_WEI")?;
            Ok(serde_json::json!({ "target": target, "maxValuePerUse": max }))
        })
        .collect::<Result<_, InputError>>()?;
    if !calls.is_empty() {
        session["callPolicies"] = serde_json::Value::Array(calls);
    }
    if !transfers.is_empty() {
        session["transferPolicies"] = serde_json::Value::Array(transfers);
    }
    // The file must be one that lint, explain and grant accept.
    SessionTemplate::parse(&session.to_string())
        .map_err(|e| InputError(format!("the flags make an invalid session: {e}")))?;
    Ok(session)
}

pub fn run(args: NewArgs, json: bool) -> Result<ExitCode, InputError> {
    let session = new_session(&args)?;
    let text = serde_json::to_string_pretty(&session)? + "\n";
    for finding in SessionTemplate::parse(&text)?.lint(unix_now()) {
        errln!("{finding}");
    }
    match &args.out {
        Some(path) => {
            crate::files::write_new_file(path, &text)?;
            if json {
                outln!("{}", serde_json::json!({ "file": path }));
            } else {
                outln!("wrote {}", path.display());
            }
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
