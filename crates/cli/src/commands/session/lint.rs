//! `sessionkeys session lint`: mistakes and dangerous scopes, and with --registry each
//! policy's review status.

use crate::InputError;
use crate::commands::session::file::load_for_review;
use crate::onchain::unix_now;
use alloy::primitives::Address;
use sessionkeys_engine::lint::{Severity, lint};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `session lint`.
#[derive(clap::Args)]
pub struct LintArgs {
    /// Session JSON file.
    file: PathBuf,
    /// A node, to read the registry through (unused without --registry, so an exported
    /// SESSIONKEYS_RPC_URL does not get in the way).
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    rpc: Option<String>,
    /// A PolicyRegistry: report each policy's review status (not allowed = error SK020).
    #[arg(long, env = "SESSIONKEYS_REGISTRY", requires = "rpc")]
    registry: Option<Address>,
    /// Lint as at this time: RFC 3339 or Unix seconds (default: now). A session that has
    /// ended by then is an error (SK021).
    #[arg(long)]
    at: Option<String>,
}

pub fn run(args: LintArgs, json: bool) -> Result<ExitCode, InputError> {
    let LintArgs {
        file,
        rpc,
        registry,
        at,
    } = args;
    let spec = load_for_review(&file)?;
    let now = match &at {
        Some(at) => crate::ops_file::parse_time(at, unix_now(), "--at")?,
        None => unix_now(),
    };
    let mut findings = lint(&spec, now);
    let mut reviewed = Vec::new();
    if let (Some(rpc), Some(registry)) = (rpc, registry) {
        let backend = sessionkeys::RpcBackend::new(&rpc, &rpc)?;
        reviewed = crate::onchain::block_on(sessionkeys::review::registry_review(
            &backend, registry, &spec,
        ))??;
        findings.extend(reviewed.iter().filter_map(|e| e.finding()));
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if json {
        let list: Vec<_> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "code": f.code,
                    "severity": if f.severity == Severity::Error { "error" } else { "warning" },
                    "location": f.location, "message": f.message, "hint": f.hint,
                })
            })
            .collect();
        if reviewed.is_empty() {
            outln!("{}", serde_json::Value::Array(list));
        } else {
            let registry: Vec<_> = reviewed
                .iter()
                .map(|e| serde_json::json!({"location": e.location, "subject": e.subject, "status": e.status, "statusName": e.status_name()}))
                .collect();
            outln!(
                "{}",
                serde_json::json!({"findings": list, "registry": registry})
            );
        }
    } else {
        for entry in &reviewed {
            outln!(
                "registry: {}: {}: {}",
                entry.location,
                entry.subject,
                entry.status_name()
            );
        }
        if findings.is_empty() {
            outln!("no findings");
        }
        for finding in &findings {
            outln!("{finding}");
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
