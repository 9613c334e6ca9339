//! `sessionkeys session …`: offline commands on session JSON files.

mod approve;
mod explain;
pub mod file;
pub mod grant;
mod hash;
mod lint;
mod new;
mod request;
mod typed_data;

use crate::InputError;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Grant a session on a real chain: a fresh key, the owner's approval, and enableSession
    /// on-chain (or, with --first-use, in the session's first op). Stored locally.
    Grant(Box<grant::GrantArgs>),
    /// Approve with any wallet, first half: a fresh key, the session stored as requested, and
    /// the EIP-712 typed data for the owner's wallet to sign written to --out.
    Request(Box<request::RequestArgs>),
    /// Approve with any wallet, second half: the owner's signature of the request's typed data,
    /// checked against the owner; the session's first op enables it (deploying the account if
    /// needed), or with --relayer-key-env a relayer enables it now.
    Approve(Box<approve::ApproveArgs>),
    /// Start a session file from flags (without "signer": `grant` makes the key); prints it, or
    /// writes --out. Refine it by hand, then lint and explain it.
    New(new::NewArgs),
    /// Report mistakes and dangerous scopes; exit 1 if any is an error. With --registry, also
    /// each policy's status in that PolicyRegistry (read through --rpc).
    Lint(lint::LintArgs),
    /// Say in plain English what the session allows; with --rpc, token symbols and decimals
    /// are read from the token contracts the built-in list does not know.
    Explain(explain::ExplainArgs),
    /// Print the session hash (its on-chain identity) and its canonical JSON.
    Hash(hash::HashArgs),
    /// Print the owner's EIP-712 approval for eth_signTypedData_v4 / viem signTypedData.
    TypedData(typed_data::TypedDataArgs),
}

pub fn run(command: SessionCommand, json: bool) -> Result<ExitCode, InputError> {
    match command {
        SessionCommand::Grant(args) => grant::run(*args, json),
        SessionCommand::Request(args) => request::run(*args, json),
        SessionCommand::Approve(args) => approve::run(*args, json),
        SessionCommand::New(args) => new::run(args, json),
        SessionCommand::Lint(args) => lint::run(args, json),
        SessionCommand::Explain(args) => explain::run(args, json),
        SessionCommand::Hash(args) => hash::run(args, json),
        SessionCommand::TypedData(args) => typed_data::run(args, json),
    }
}
