//! `sessionkeys sessions list`: the stored sessions, with on-chain status and remaining limits
//! when a node is given.

use crate::error::CliError;
use crate::onchain::runtime;
use alloy::primitives::Address;
use clap::Subcommand;
use sessionkeys::backend::Backend;
use sessionkeys::session_rows::{SessionRow, session_rows};
use sessionkeys::store::{SessionStore, StoredStatus};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// Stored sessions, with on-chain status and remaining limits when --rpc is given.
    List(ListArgs),
}

pub fn run(command: SessionsCommand, json: bool) -> Result<(), CliError> {
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

/// A row as JSON: words, not numbers, for every status.
fn json_row(row: &SessionRow) -> serde_json::Value {
    let mut value = serde_json::json!({
        "sessionHash": row.session_hash.to_string(),
        "account": row.account.to_checksum(None),
        "chainId": row.chain_id,
        "entryPoint": row.entry_point,
        "stored": stored_word(row),
    });
    if let Some(onchain) = &row.onchain {
        value["onchain"] = onchain.state.word().into();
        value["usable"] = onchain.state.usable().into();
        value["limits"] = serde_json::to_value(&onchain.limits).unwrap_or_default();
    }
    value
}

/// What this machine knows of the session, in a word.
fn stored_word(row: &SessionRow) -> &'static str {
    row.stored.map_or("not on this machine", StoredStatus::word)
}

/// The text table: one labelled line of columns per session, its budgets under it.
fn print_table(rows: &[SessionRow]) {
    let onchain = rows.iter().any(|r| r.onchain.is_some());
    let mut header = format!("{:<66}  {:<42}  {:<19}", "SESSION", "ACCOUNT", "STORED");
    if onchain {
        header.push_str(&format!("  {:<13}  USABLE", "ON-CHAIN"));
    }
    outln!("{}", header.trim_end());
    for row in rows {
        let mut line = format!(
            "{:<66}  {:<42}  {:<19}",
            row.session_hash.to_string(),
            row.account.to_checksum(None),
            stored_word(row)
        );
        if let Some(state) = &row.onchain {
            let usable = if state.state.usable() { "yes" } else { "no" };
            line.push_str(&format!("  {:<13}  {usable}", state.state.word()));
        }
        outln!("{}", line.trim_end());
        for limit in row.onchain.iter().flat_map(|o| &o.limits) {
            outln!(
                "    {} (policy {}, constraint {}): {} used of {}, {} left",
                limit.kind,
                limit.policy,
                limit.constraint,
                limit.used,
                limit.limit,
                limit.remaining
            );
        }
    }
}

fn list(args: ListArgs, json: bool) -> Result<(), CliError> {
    let dir = args.home.clone().unwrap_or_else(SessionStore::default_dir);
    let store = SessionStore::open(dir)?;
    let listing = store.list()?;
    for problem in &listing.unreadable {
        errln!("warning: {problem}");
    }
    let backend: Option<Arc<dyn Backend>> = match &args.rpc {
        Some(rpc) => Some(Arc::new(crate::args::rpc_backend(rpc, rpc)?)),
        None => None,
    };
    let rows = runtime()?.block_on(session_rows(
        &listing.sessions,
        backend.as_deref(),
        args.account,
    ))?;
    if json {
        let rows: Vec<_> = rows.iter().map(json_row).collect();
        outln!("{}", serde_json::Value::Array(rows));
    } else if rows.is_empty() {
        outln!("no sessions in {}", store.dir().display());
    } else {
        print_table(&rows);
    }
    Ok(())
}
