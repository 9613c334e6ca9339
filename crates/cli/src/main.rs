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
    account, agent, check, demo, deploy, devnet, exec, key, revoke, serve, session, sessions,
    simulate,
};
pub use error::{CliError, InputError};
use std::process::ExitCode;

/// Session keys for smart accounts: scoped, expiring, revocable, enforced on-chain.
#[derive(Parser)]
#[command(name = "sessionkeys", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, env = "SESSIONKEYS_JSON")]
    json: bool,
    /// Seconds to wait for each answer of the node or the bundler before giving up with an
    /// error naming the URL.
    #[arg(long, global = true, env = "SESSIONKEYS_RPC_TIMEOUT", default_value = "30", value_name = "SECONDS", value_parser = args::parse_timeout)]
    rpc_timeout: u64,
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
    /// The session service over HTTP: apps in any language request, approve, check and execute
    /// sessions (docs/service.md). `--dev` runs it on the embedded devnet.
    Serve(serve::ServeArgs),
    /// Apps (tenants) of the session service.
    #[command(subcommand)]
    App(serve::AppCommand),
    /// An MCP server for AI agents acting within one session: tools shaped by its scope,
    /// refusals they can read (docs/agents.md). `--dev` runs it on the embedded devnet.
    Agent(agent::AgentArgs),
}

/// Whether the command line asks for JSON, read before clap could parse it.
fn wants_json() -> bool {
    std::env::args().any(|a| a == "--json")
        || std::env::var("SESSIONKEYS_JSON")
            .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "no" | "off"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error is JSON too when JSON was asked for; help and version print as usual.
        Err(usage) if usage.use_stderr() && wants_json() => {
            let failure = CliError::Input(usage.to_string().trim_end().to_string());
            error::print(&failure, true, failure.exit_code());
            return ExitCode::from(failure.exit_code());
        }
        Err(usage) => usage.exit(),
    };
    let json = cli.json;
    args::set_rpc_timeout(cli.rpc_timeout);
    let result = match cli.command {
        Command::Demo => demo::run(json),
        Command::Session(command) => session::run(command, json),
        Command::Deploy(args) => deploy::run(args, json),
        Command::Account(command) => account::run(command, json),
        Command::Exec(args) => exec::run(args, json),
        Command::Sessions(command) => sessions::run(command, json),
        Command::Revoke(args) => revoke::run(args, json),
        Command::Serve(args) => serve::run(args, json),
        Command::App(command) => serve::run_app(command, json),
        Command::Agent(args) => agent::run(args),
        Command::Devnet => devnet::run(json),
        Command::Key(command) => key::run(command, json),
        Command::Check(args) => check::run(args, json),
        Command::Simulate(run) => simulate::run(run, json),
    };
    let mut code = error::exit_code(&result);
    if let Err(failure) = &result {
        error::print(failure, json, code);
    }
    if let Some(reason) = out::stdout_failure() {
        errln!("error: cannot write the output: {reason}");
        code = 2;
    }
    ExitCode::from(code)
}
