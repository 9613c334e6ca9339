//! `sessionkeys session hash`: the session hash (its on-chain identity) and canonical JSON.

use crate::commands::session::file::load;
use crate::error::CliError;
use sessionkeys_engine::format::SessionJson;
use std::path::PathBuf;

/// Flags of `session hash`.
#[derive(clap::Args)]
pub struct HashArgs {
    /// Session JSON file.
    file: PathBuf,
}

pub fn run(args: HashArgs, json: bool) -> Result<(), CliError> {
    let file = args.file;
    let spec = load(&file)?;
    let hash = sessionkeys_engine::session_hash(&spec)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"sessionHash": hash.to_string(), "session": SessionJson::from_spec(&spec)})
        );
    } else {
        outln!("{hash}");
    }
    Ok(())
}
