//! `sessionkeys session …`: offline commands on session JSON files.

use crate::InputError;
use crate::onchain::unix_now;
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
    /// Start a session file from flags (without "signer": `grant` makes the key); prints it, or
    /// writes --out. Refine it by hand, then lint and explain it.
    New(NewArgs),
    /// Report mistakes and dangerous scopes; exit 1 if any is an error. With --registry, also
    /// each policy's status in that PolicyRegistry (read through --rpc).
    Lint {
        /// Session JSON file.
        file: PathBuf,
        /// A node, to read the registry through.
        #[arg(long, env = "SESSIONKEYS_RPC_URL", requires = "registry")]
        rpc: Option<String>,
        /// A PolicyRegistry: report each policy's review status (not allowed = error SK020).
        #[arg(long, env = "SESSIONKEYS_REGISTRY", requires = "rpc")]
        registry: Option<Address>,
    },
    /// Say in plain English what the session allows; with --rpc, token symbols and decimals
    /// are read from the token contracts the built-in list does not know.
    Explain {
        /// Session JSON file.
        file: PathBuf,
        /// A node, to read token symbols and decimals through.
        #[arg(long, env = "SESSIONKEYS_RPC_URL")]
        rpc: Option<String>,
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
    parse_session_json(&session.to_string())
        .and_then(|s| s.to_spec(Some(Address::repeat_byte(1))))
        .map_err(|e| InputError(format!("the flags make an invalid session: {e}")))?;
    Ok(session)
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

/// Reads a session file for review (lint, explain): a left-out signer, which `grant` makes,
/// does not matter to either, so a placeholder stands in.
pub fn load_for_review(file: &PathBuf) -> Result<SessionSpec, InputError> {
    load_with_signer(file, Some(Address::repeat_byte(1)))
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
        SessionCommand::New(args) => {
            let session = new_session(&args)?;
            let text = serde_json::to_string_pretty(&session)? + "\n";
            let placeholder = parse_session_json(&text)?.to_spec(Some(Address::repeat_byte(1)))?;
            for finding in lint(&placeholder, unix_now()) {
                errln!("{finding}");
            }
            match &args.out {
                Some(path) => {
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                        .map_err(|e| {
                            InputError(format!("cannot create {}: {e}", path.display()))
                        })?;
                    std::io::Write::write_all(&mut file, text.as_bytes())
                        .map_err(|e| InputError(format!("cannot write {}: {e}", path.display())))?;
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
        SessionCommand::Lint {
            file,
            rpc,
            registry,
        } => {
            let spec = load_for_review(&file)?;
            let mut findings = lint(&spec, unix_now());
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
                        .map(|e| serde_json::json!({"location": e.location, "subject": e.subject, "status": e.status.map(u8::from), "statusName": e.status_name()}))
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
        SessionCommand::Explain { file, rpc } => {
            let spec = load_for_review(&file)?;
            let labels = match rpc {
                Some(rpc) => {
                    let backend = sessionkeys::RpcBackend::new(&rpc, &rpc)?;
                    crate::onchain::block_on(async {
                        // An unreachable node is an error, not a quietly poorer explanation.
                        sessionkeys::Backend::chain_id(&backend).await?;
                        Ok::<_, sessionkeys::BackendError>(
                            sessionkeys::review::with_chain_tokens(
                                &backend,
                                &spec,
                                Labels::well_known(),
                            )
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
        SessionCommand::Hash { file } => {
            let spec = load(&file)?;
            let hash = sessionkeys_engine::session_hash(&spec);
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"sessionHash": hash.to_string(), "session": SessionJson::from_spec(&spec)})
                );
            } else {
                outln!("{hash}");
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
            outln!("{}", serde_json::to_string_pretty(&typed)?);
            let _ = json; // typed data is JSON either way
            Ok(ExitCode::SUCCESS)
        }
    }
}
