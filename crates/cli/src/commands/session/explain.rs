//! `sessionkeys session explain`: what the session allows, in plain English.

use crate::commands::session::file::{labels_of, load_for_review, with_chain_tokens};
use crate::error::CliError;
use sessionkeys_engine::explain::explain;
use std::path::PathBuf;

/// Flags of `session explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Session JSON file.
    file: PathBuf,
    /// A node, to read token symbols and decimals through.
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    rpc: Option<String>,
}

pub fn run(args: ExplainArgs, json: bool) -> Result<(), CliError> {
    let ExplainArgs { file, rpc } = args;
    let spec = load_for_review(&file)?;
    let labels = labels_of(&file)?;
    let labels = match rpc {
        Some(rpc) => with_chain_tokens(&rpc, &spec, labels)?,
        None => labels,
    };
    let explanation = explain(&spec, &labels);
    if json {
        let lines: Vec<_> = explanation
            .lines
            .iter()
            .map(|l| serde_json::json!({"risk": l.risk, "text": l.text}))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"heading": explanation.heading, "lines": lines, "notes": explanation.notes})
        );
    } else {
        out!("{explanation}");
    }
    Ok(())
}
