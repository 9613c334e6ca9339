//! One module per command (and per `session` subcommand): its flags and its `run`.

pub mod account;
pub mod agent;
pub mod check;
pub mod demo;
pub mod deploy;
pub mod dev_rpc;
pub mod devnet;
pub mod exec;
pub mod key;
pub mod revoke;
pub mod revoke_already;
pub mod revoke_wallet;
pub mod serve;
pub mod session;
pub mod sessions;
pub mod simulate;
