//! `sessionkeys account create`: the counterfactual SessionAccount of an owner.

use crate::InputError;
use crate::args::{ChainArgs, OwnerKeyArgs};
use crate::onchain::{counterfactual, outcome, runtime};
use alloy::primitives::U256;
use clap::Subcommand;
use sessionkeys::EntryPointVersion;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// The counterfactual SessionAccount of an owner (deployed by its first userOp).
    Create(AccountCreateArgs),
}

pub fn run(command: AccountCommand, json: bool) -> Result<ExitCode, InputError> {
    match command {
        AccountCommand::Create(args) => create(args, json),
    }
}

/// `sessionkeys account create`.
#[derive(clap::Args)]
pub struct AccountCreateArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    /// Tells several accounts of one owner apart.
    #[arg(long, default_value = "0")]
    salt: U256,
    /// EntryPoint version of the account.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::args::parse_version)]
    entrypoint: EntryPointVersion,
}

pub fn create(args: AccountCreateArgs, json: bool) -> Result<ExitCode, InputError> {
    let backend = args.chain.backend(false)?;
    let owner = args.owner.signer()?;
    let version = args.entrypoint;
    let rt = runtime()?;
    let account = match rt.block_on(counterfactual(
        backend.as_ref(),
        version,
        args.chain.factory_owner(),
        owner.address(),
        args.salt,
    )) {
        Ok(account) => account,
        Err(error) => return outcome(error),
    };
    let deployed = match rt.block_on(account.is_deployed(backend.as_ref())) {
        Ok(deployed) => deployed,
        Err(error) => return outcome(error),
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "account": account.address.to_checksum(None),
                "owner": owner.address().to_checksum(None),
                "entryPoint": version.label(),
                "salt": args.salt.to_string(),
                "deployed": deployed,
            })
        );
    } else {
        outln!("account  {}", account.address.to_checksum(None));
        outln!("owner    {}", owner.address().to_checksum(None));
        outln!("deployed {}", if deployed { "yes" } else { "not yet" });
        if !deployed {
            outln!(
                "Send it some ETH for fees; its first userOp (`sessionkeys session grant`) deploys it."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
