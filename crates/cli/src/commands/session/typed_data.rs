//! `sessionkeys session typed-data`: the owner's EIP-712 approval, for a wallet to sign.

use crate::InputError;
use crate::commands::session::file::load;
use alloy::primitives::Address;
use sessionkeys_contracts::session::ChainEpoch;
use sessionkeys_engine::typed_data::enable_typed_data;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `session typed-data`.
#[derive(clap::Args)]
pub struct TypedDataArgs {
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

pub fn run(args: TypedDataArgs, json: bool) -> Result<ExitCode, InputError> {
    let TypedDataArgs {
        file,
        validator,
        account,
        chains,
    } = args;
    let spec = load(&file)?;
    let typed = enable_typed_data(validator, account, &spec, &chains);
    outln!("{}", serde_json::to_string_pretty(&typed)?);
    let _ = json; // typed data is JSON either way
    Ok(ExitCode::SUCCESS)
}
