//! `sessionkeys`: session keys for ERC-4337 / ERC-7579 accounts.
//!
//! Exit codes: 0 allowed / done, 1 refused (or lint errors), 2 usage or input error,
//! 3 the engine and the contract disagree (simulate). Output cut short by its reader (`| head`)
//! is not an error: the command keeps its exit code.

// First: its print macros are used by every module below.
#[macro_use]
mod out;

mod check;
mod demo;
mod onchain;
mod ops_file;
mod session;
mod simulate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Session keys for smart accounts: scoped, expiring, revocable, enforced on-chain.
#[derive(Parser)]
#[command(name = "sessionkeys", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, env = "SESSIONKEYS_JSON")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole story on an embedded chain: grant a session, act, get refused, revoke.
    Demo,
    /// Run a session and a sequence of userOps on a fresh embedded chain: the contract's and
    /// the engine's verdict on each (exit 0 all passed, 1 some refused, 3 they disagree).
    Simulate(ops_file::OpsRun),
    /// The engine's verdict on a sequence of ops, offline: no chain, no keys (exit 0 all
    /// allowed, 1 some refused).
    Check(check::CheckArgs),
    /// Session keys, stored only as keystore v3 (scrypt) files.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the embedded devnet's fixed addresses (for session and ops files).
    Devnet,
    /// Session JSON files (docs/session-format.md): offline tools, and `grant` on a real chain.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Deploy the sessionkeys contracts with CREATE2: the same addresses on every chain.
    Deploy(onchain::DeployArgs),
    /// Smart accounts on a real chain.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Send calls as a stored session's key (exit 1 if refused, with the validator's reason).
    Exec(onchain::ExecArgs),
    /// The sessions this machine holds.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Revoke stored sessions (or, with --all, every session of the account).
    Revoke(onchain::RevokeArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// The counterfactual SessionAccount of an owner (deployed by its first userOp).
    Create(onchain::AccountCreateArgs),
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Stored sessions, with on-chain status and remaining limits when --rpc is given.
    List(onchain::ListArgs),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a fresh session key and store it encrypted (mode 0600); prints its address and file.
    New {
        /// Directory of the keystore files (created with mode 0700).
        #[arg(long, env = "SESSIONKEYS_KEY_DIR", default_value = ".sessionkeys/keys")]
        dir: std::path::PathBuf,
        /// File name (default: the key's address).
        #[arg(long)]
        name: Option<String>,
        /// A file holding the password (its first line).
        #[arg(long, env = "SESSIONKEYS_KEY_PASSWORD_FILE")]
        password_file: Option<std::path::PathBuf>,
    },
}

/// The keystore password: the first line of `--password-file`, else `SESSIONKEYS_KEY_PASSWORD`.
fn key_password(file: Option<&std::path::Path>) -> Result<String, InputError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    std::env::var("SESSIONKEYS_KEY_PASSWORD").map_err(|_| {
        InputError("no password: give --password-file or set SESSIONKEYS_KEY_PASSWORD".into())
    })
}

/// A failure the user can fix: printed as one line, exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> Self {
        InputError(error.to_string())
    }
}

pub(crate) fn parse_version(s: &str) -> Result<sessionkeys_chain::EntryPointVersion, String> {
    s.parse()
        .map_err(|e: sessionkeys_contracts::vocabulary::UnknownEntryPoint| e.to_string())
}

fn devnet_addresses(json: bool) -> Result<ExitCode, InputError> {
    let devnet = sessionkeys_chain::Devnet::new()?;
    let a = devnet.addresses;
    let rows = [
        (
            "entryPointV07",
            sessionkeys_chain::EntryPointVersion::V07.address(),
        ),
        (
            "entryPointV08",
            sessionkeys_chain::EntryPointVersion::V08.address(),
        ),
        ("validator", a.validator),
        ("registry", a.registry),
        ("registryValidator", a.registry_validator),
        ("factoryV07", a.factory_v07),
        ("factoryV08", a.factory_v08),
        ("usdc", a.usdc),
        ("gold", a.token18),
        ("game", a.game),
        ("paymasterV07", a.paymaster_v07),
        ("paymasterV08", a.paymaster_v08),
    ];
    if json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    serde_json::Value::String(v.to_checksum(None)),
                )
            })
            .collect();
        outln!("{}", serde_json::Value::Object(map));
    } else {
        for (name, address) in rows {
            outln!("{name:<18} {}", address.to_checksum(None));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(cli.json),
        Command::Session(command) => session::run(command, cli.json),
        Command::Deploy(args) => onchain::deploy(args, cli.json),
        Command::Account(AccountCommand::Create(args)) => onchain::account_create(args, cli.json),
        Command::Exec(args) => onchain::exec(args, cli.json),
        Command::Sessions(SessionsCommand::List(args)) => onchain::list(args, cli.json),
        Command::Revoke(args) => onchain::revoke(args, cli.json),
        Command::Devnet => devnet_addresses(cli.json),
        Command::Key(KeyCommand::New {
            dir,
            name,
            password_file,
        }) => key_password(password_file.as_deref()).and_then(|password| {
            let (key, path) =
                sessionkeys_keystore::create(&dir, password.as_bytes(), name.as_deref())?;
            if cli.json {
                outln!(
                    "{}",
                    serde_json::json!({"address": key.address().to_checksum(None), "file": path})
                );
            } else {
                outln!("{} {}", key.address().to_checksum(None), path.display());
            }
            Ok(ExitCode::SUCCESS)
        }),
        Command::Check(args) => check::run(args, cli.json),
        Command::Simulate(run) => simulate::run(run, cli.json),
    };
    let code = match result {
        Ok(code) => code,
        Err(InputError(message)) => {
            errln!("error: {message}");
            ExitCode::from(2)
        }
    };
    match out::stdout_failure() {
        Some(reason) => {
            errln!("error: cannot write the output: {reason}");
            ExitCode::from(2)
        }
        None => code,
    }
}
