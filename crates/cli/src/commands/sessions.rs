//! `sessionkeys sessions list`: the stored sessions, with on-chain status and remaining limits
//! when a node is given.

use crate::InputError;
use crate::onchain::{runtime, validator};
use alloy::primitives::Address;
use clap::Subcommand;
use sessionkeys::backend::Backend;
use sessionkeys::store::SessionStore;
use sessionkeys::{RpcBackend, SdkError};
use sessionkeys_contracts::session::ISessionKeyValidator;
use sessionkeys_contracts::vocabulary::Status;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// Stored sessions, with on-chain status and remaining limits when --rpc is given.
    List(ListArgs),
}

pub fn run(command: SessionsCommand, json: bool) -> Result<ExitCode, InputError> {
    match command {
        SessionsCommand::List(args) => list(args, json),
    }
}

/// `sessionkeys sessions list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Read status and remaining limits from this node.
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    rpc: Option<String>,
    /// The session store directory (default: ~/.sessionkeys).
    #[arg(long, env = "SESSIONKEYS_HOME")]
    home: Option<PathBuf>,
    /// Only this account's sessions.
    #[arg(long)]
    account: Option<Address>,
}

fn usage_rows(usage: &[sessionkeys_contracts::session::CounterUsage]) -> serde_json::Value {
    serde_json::Value::Array(
        usage
            .iter()
            .map(|u| serde_json::json!({"kind": u.kind, "policy": u.policyIndex, "constraint": u.constraintIndex, "limit": u.limit.to_string(), "used": u.used.to_string(), "remaining": u.remaining.to_string()}))
            .collect(),
    )
}

/// The stored status in words; a number the contract never writes reads as not enabled.
fn status_name(status: u8) -> &'static str {
    Status::try_from(status).unwrap_or_default().text()
}

fn list(args: ListArgs, json: bool) -> Result<ExitCode, InputError> {
    let dir = args.home.clone().unwrap_or_else(SessionStore::default_dir);
    let store = SessionStore::open(dir)?;
    let listing = store.list()?;
    for problem in &listing.unreadable {
        errln!("warning: {problem}");
    }
    let backend: Option<Arc<dyn Backend>> = match &args.rpc {
        Some(rpc) => Some(Arc::new(RpcBackend::new(rpc, rpc)?)),
        None => None,
    };
    let rt = runtime()?;
    let mut rows = Vec::new();
    for stored in listing
        .sessions
        .iter()
        .filter(|s| args.account.is_none_or(|a| a == s.account))
    {
        let mut row = serde_json::json!({
            "sessionHash": stored.hash.to_string(),
            "account": stored.account.to_checksum(None),
            "chainId": stored.chain_id,
            "entryPoint": stored.entry_point,
            "stored": stored.status,
        });
        if let Some(backend) = &backend {
            let spec = stored.spec()?;
            let onchain = rt.block_on(async {
                let call = ISessionKeyValidator::sessionStatusCall {
                    account: stored.account,
                    sessionHash: stored.hash,
                };
                let out = backend
                    .call(stored.validator, alloy::sol_types::SolCall::abi_encode(&call).into())
                    .await?;
                let status = <ISessionKeyValidator::sessionStatusCall as alloy::sol_types::SolCall>::abi_decode_returns(&out)
                    .map_err(|e| SdkError::Decode(format!("sessionStatus: {e}")))?;
                let usage = sessionkeys::client::session_usage(backend.as_ref(), stored.validator, stored.account, &spec).await?;
                Ok::<_, SdkError>((status, usage))
            });
            match onchain {
                Ok((status, usage)) => {
                    row["onchain"] = serde_json::json!(status_name(status.status));
                    row["usable"] = serde_json::json!(status.usable);
                    row["limits"] = usage_rows(&usage);
                }
                Err(error) => return Err(InputError(error.to_string())),
            }
        }
        rows.push(row);
    }
    // With a node and an account, also the sessions granted from elsewhere (SessionEnabled).
    if let (Some(backend), Some(account)) = (&backend, args.account) {
        // The same runtime as above: the backend's pooled connections belong to it.
        let onchain = rt.block_on(sessionkeys::sessions::account_sessions(
            backend.as_ref(),
            validator(),
            account,
        ))?;
        for session in onchain {
            if listing.sessions.iter().any(|s| s.hash == session.hash) {
                continue;
            }
            rows.push(serde_json::json!({
                "sessionHash": session.hash.to_string(),
                "account": account.to_checksum(None),
                "stored": "not on this machine",
                "onchain": session.status.text(),
                "usable": session.usable,
                "limits": usage_rows(&session.usage),
            }));
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(rows));
    } else if rows.is_empty() {
        outln!("no sessions in {}", store.dir().display());
    } else {
        for row in &rows {
            let mut line = format!(
                "{} account {} ({})",
                row["sessionHash"].as_str().unwrap_or_default(),
                row["account"].as_str().unwrap_or_default(),
                row["stored"].as_str().unwrap_or_default()
            );
            if let Some(onchain) = row.get("onchain") {
                line.push_str(&format!(
                    ", on-chain {}{}",
                    onchain.as_str().unwrap_or_default(),
                    if row["usable"] == serde_json::json!(true) {
                        ", usable"
                    } else {
                        ", not usable"
                    }
                ));
            }
            outln!("{line}");
            if let Some(limits) = row.get("limits").and_then(|l| l.as_array()) {
                for limit in limits {
                    outln!(
                        "    {} used of {}, {} left",
                        limit["used"].as_str().unwrap_or_default(),
                        limit["limit"].as_str().unwrap_or_default(),
                        limit["remaining"].as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
