//! `sessionkeys session explain`: what the session allows, in plain English.

use crate::InputError;
use crate::commands::session::file::load_for_review;
use sessionkeys_engine::explain::{Labels, explain};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `session explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Session JSON file.
    file: PathBuf,
    /// A node, to read token symbols and decimals through.
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    rpc: Option<String>,
}

pub fn run(args: ExplainArgs, json: bool) -> Result<ExitCode, InputError> {
    let ExplainArgs { file, rpc } = args;
    let spec = load_for_review(&file)?;
    let labels = match rpc {
        Some(rpc) => {
            let backend = sessionkeys::RpcBackend::new(&rpc, &rpc)?;
            crate::onchain::block_on(async {
                // An unreachable node is an error, not a quietly poorer explanation.
                sessionkeys::Backend::chain_id(&backend).await?;
                Ok::<_, sessionkeys::BackendError>(
                    sessionkeys::review::with_chain_tokens(&backend, &spec, Labels::well_known())
                        .await,
                )
            })??
        }
        None => Labels::well_known(),
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
    Ok(ExitCode::SUCCESS)
}
