//! `sessionkeys`: session keys for ERC-4337 / ERC-7579 accounts.
//!
//! Exit codes: 0 allowed / done, 1 refused (or lint errors), 2 usage or input error.

mod demo;
mod session;

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
    /// Offline tools for session JSON files (docs/session-format.md).
    #[command(subcommand)]
    Session(session::SessionCommand),
}

/// A failure the user can fix: printed as one line, exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> Self {
        InputError(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(cli.json),
        Command::Session(command) => session::run(command, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(InputError(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
