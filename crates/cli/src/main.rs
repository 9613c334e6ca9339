//! `sessionkeys`: session keys for ERC-4337 / ERC-7579 accounts.
//!
//! Exit codes: 0 allowed / done, 1 refused (or lint errors), 2 usage or input error,
//! 3 the engine and the contract disagree (simulate). Output cut short by its reader (`| head`)
//! is not an error: the command keeps its exit code.

// First: its print macros are used by every module below.
#[macro_use]
mod out;

mod args;
mod commands;
mod error;
mod files;
mod onchain;
mod ops_file;
mod wallet_args;

use clap::{Parser, Subcommand};
use commands::{
    account, check, demo, deploy, devnet, exec, key, revoke, session, sessions, simulate,
};
pub use error::InputError;
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
    /// Run the whole story on a devnet: grant a session, act, get refused, revoke.
    Demo,
    /// Run a session and a sequence of userOps on a fresh devnet: the contract's and
    /// the engine's verdict on each (exit 0 all passed, 1 some refused, 3 they disagree).
    Simulate(ops_file::OpsRun),
    /// The engine's verdict on a sequence of ops, offline: no chain, no keys (exit 0 all
    /// allowed, 1 some refused).
    Check(check::CheckArgs),
    /// Session keys, stored only as keystore v3 (scrypt) files.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Print the devnet's fixed addresses (for session and ops files).
    Devnet,
    /// Session JSON files (docs/session-format.md): offline tools, and `grant` on a real chain.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Deploy the sessionkeys contracts with CREATE2: the same addresses on every chain.
    Deploy(deploy::DeployArgs),
    /// Smart accounts on a real chain.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Send calls as a stored session's key (exit 1 if refused, with the validator's reason).
    Exec(exec::ExecArgs),
    /// The sessions this machine holds.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Revoke stored sessions (or, with --all, every session of the account).
    Revoke(revoke::RevokeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Demo => demo::run(json),
        Command::Session(command) => session::run(command, json),
        Command::Deploy(args) => deploy::run(args, json),
        Command::Account(command) => account::run(command, json),
        Command::Exec(args) => exec::run(args, json),
        Command::Sessions(command) => sessions::run(command, json),
        Command::Revoke(args) => revoke::run(args, json),
        Command::Devnet => devnet::run(json),
        Command::Key(command) => key::run(command, json),
        Command::Check(args) => check::run(args, json),
        Command::Simulate(run) => simulate::run(run, json),
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
