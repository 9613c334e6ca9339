//! `sessionkeys deploy`: the contracts through the deterministic deployer, optionally the
//! fixtures, the EntryPoints and the factories' stake.

use crate::InputError;
use crate::args::{ChainArgs, OwnerKeyArgs};
use crate::onchain::{outcome, progress, runtime};
use sessionkeys::{EntryPointVersion, SdkError, deployment};
use std::process::ExitCode;

/// `sessionkeys deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    payer: OwnerKeyArgs,
    /// Also deploy the test fixtures (USDC-like token, GOLD, game) at their devnet addresses.
    #[arg(long)]
    fixtures: bool,
    /// Also deploy both EntryPoints (read from npm) at their canonical addresses, for
    /// development chains that lack them.
    #[arg(long)]
    entrypoints: bool,
    /// Stake both factories in their EntryPoints with this much ETH each, so bundlers that
    /// enforce ERC-7562 accept a new account's first op (STO-022). The payer must be the stake
    /// owner (--factory-owner). ERC-7562's reference minimum is 1 ETH.
    #[arg(long)]
    stake: Option<String>,
    /// The unstake delay of --stake, in seconds (ERC-7562's minimum: one day).
    #[arg(long, default_value_t = sessionkeys_chain::deployment::MIN_UNSTAKE_DELAY)]
    unstake_delay: u32,
}

pub fn run(args: DeployArgs, json: bool) -> Result<ExitCode, InputError> {
    let backend = args.chain.backend(false)?;
    let payer = args.payer.signer()?;
    let mut plan = Vec::new();
    if args.entrypoints {
        for version in EntryPointVersion::ALL {
            plan.push(deployment::entry_point(version)?);
        }
    }
    let factory_owner = args.chain.factory_owner();
    let stake = match &args.stake {
        Some(eth) => {
            if factory_owner != payer.address() {
                return Err(InputError(format!(
                    "--stake needs the factories' stake owner to pay: deploy with --factory-owner {} \
                     (the payer) or pay with the key of {factory_owner}",
                    payer.address()
                )));
            }
            Some(alloy::primitives::utils::parse_ether(eth).map_err(|_| {
                InputError(format!(
                    "--stake {eth:?}: give an amount of ETH, e.g. 1 or 0.5"
                ))
            })?)
        }
        None => None,
    };
    plan.extend(deployment::core_contracts(factory_owner));
    if args.fixtures {
        plan.extend(deployment::fixtures::all());
    }
    progress(
        json,
        &format!(
            "deploying {} contracts through the deterministic deployer",
            plan.len()
        ),
    );
    // One runtime for every call: the backend's pooled connections belong to it.
    let rt = runtime()?;
    let report = match rt.block_on(sessionkeys::deploy::deploy(backend.as_ref(), &payer, &plan)) {
        Ok(report) => report,
        Err(error) => return outcome(error),
    };
    if let Some(wei) = stake {
        progress(
            json,
            &format!(
                "staking both factories: {} ETH each, unstake delay {} s",
                args.stake.as_deref().unwrap_or_default(),
                args.unstake_delay
            ),
        );
        let staked = rt.block_on(async {
            for version in EntryPointVersion::ALL {
                let factory = deployment::session_account_factory(version, factory_owner).address();
                sessionkeys::deploy::stake_factory(
                    backend.as_ref(),
                    &payer,
                    factory,
                    wei,
                    args.unstake_delay,
                )
                .await?;
            }
            Ok::<(), SdkError>(())
        });
        if let Err(error) = staked {
            return outcome(error);
        }
    }
    if json {
        let rows: Vec<_> = report
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "address": c.address.to_checksum(None), "newlyDeployed": c.newly_deployed}))
            .collect();
        outln!("{}", serde_json::Value::Array(rows));
    } else {
        for c in &report {
            let state = if c.newly_deployed {
                "deployed"
            } else {
                "already there"
            };
            outln!("{:<36} {} {state}", c.name, c.address.to_checksum(None));
        }
    }
    Ok(ExitCode::SUCCESS)
}
