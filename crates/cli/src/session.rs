//! `sessionkeys session …`: offline commands on session JSON files.

use crate::InputError;
use alloy::primitives::Address;
use clap::Subcommand;
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use sessionkeys_engine::explain::{Labels, explain};
use sessionkeys_engine::format::{SessionJson, parse_session_json};
use sessionkeys_engine::lint::{Severity, lint};
use sessionkeys_engine::typed_data::enable_typed_data;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Grant a session on a real chain: a fresh key, the owner's approval, and enableSession
    /// on-chain (or, with --first-use, in the session's first op). Stored locally.
    Grant(Box<crate::onchain::GrantArgs>),
    /// Report mistakes and dangerous scopes; exit 1 if any is an error.
    Lint {
        /// Session JSON file.
        file: PathBuf,
    },
    /// Say in plain English what the session allows.
    Explain {
        /// Session JSON file.
        file: PathBuf,
    },
    /// Print the session hash (its on-chain identity) and its canonical JSON.
    Hash {
        /// Session JSON file.
        file: PathBuf,
    },
    /// Print the owner's EIP-712 approval for eth_signTypedData_v4 / viem signTypedData.
    TypedData {
        /// Session JSON file.
        file: PathBuf,
        /// The SessionKeyValidator.
        #[arg(long, env = "SESSIONKEYS_VALIDATOR")]
        validator: Address,
        /// The account the session is for.
        #[arg(long, env = "SESSIONKEYS_ACCOUNT")]
        account: Address,
        /// Chains the approval covers, as CHAIN_ID or CHAIN_ID:EPOCH (epoch 0 by default).
        #[arg(long = "chain", required = true, value_parser = parse_chain)]
        chains: Vec<ChainEpoch>,
    },
}

fn parse_chain(s: &str) -> Result<ChainEpoch, String> {
    let (id, epoch) = s.split_once(':').unwrap_or((s, "0"));
    let parse = |v: &str, what: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("{what} must be a number in {s:?} (CHAIN_ID or CHAIN_ID:EPOCH)"))
    };
    Ok(ChainEpoch {
        chainId: parse(id, "the chain id")?,
        epoch: parse(epoch, "the epoch")?,
    })
}

/// Reads and checks a session file.
pub fn load(file: &PathBuf) -> Result<SessionSpec, InputError> {
    load_with_signer(file, None)
}

/// Reads and checks a session file; `signer` fills in a left-out signer.
pub fn load_with_signer(
    file: &PathBuf,
    signer: Option<Address>,
) -> Result<SessionSpec, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let session =
        parse_session_json(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    session
        .to_spec(signer)
        .map_err(|e| InputError(format!("{}: {e}", file.display())))
}

pub fn run(command: SessionCommand, json: bool) -> Result<ExitCode, InputError> {
    match command {
        SessionCommand::Grant(args) => crate::onchain::grant(*args, json),
        SessionCommand::Lint { file } => {
            let findings = lint(&load(&file)?);
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
                println!("{}", serde_json::Value::Array(list));
            } else if findings.is_empty() {
                println!("no findings");
            } else {
                for finding in &findings {
                    println!("{finding}");
                }
            }
            Ok(if errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        SessionCommand::Explain { file } => {
            let explanation = explain(&load(&file)?, &Labels::well_known());
            if json {
                let lines: Vec<_> = explanation
                    .lines
                    .iter()
                    .map(|l| serde_json::json!({"risk": l.risk, "text": l.text}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"heading": explanation.heading, "lines": lines, "notes": explanation.notes})
                );
            } else {
                print!("{explanation}");
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Hash { file } => {
            let spec = load(&file)?;
            let hash = sessionkeys_engine::session_hash(&spec);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"sessionHash": hash.to_string(), "session": SessionJson::from_spec(&spec)})
                );
            } else {
                println!("{hash}");
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::TypedData {
            file,
            validator,
            account,
            chains,
        } => {
            let spec = load(&file)?;
            let typed = enable_typed_data(validator, account, &spec, &chains);
            println!("{}", serde_json::to_string_pretty(&typed)?);
            let _ = json; // typed data is JSON either way
            Ok(ExitCode::SUCCESS)
        }
    }
}
