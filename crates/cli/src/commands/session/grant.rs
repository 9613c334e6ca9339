//! `sessionkeys session grant`: a fresh key, the owner's approval, and the session enabled
//! on-chain (by an owner userOp, a relayer, or the session's first op). Stored locally.

use crate::InputError;
use crate::args::{ChainArgs, OwnerKeyArgs, RelayerKeyArgs, StoreArgs};
use crate::commands::session::file::{labels_of, with_chain_tokens};
use crate::error::CliError;
use crate::onchain::{counterfactual, progress, runtime, taken_lanes, unix_now, validator};
use alloy::primitives::{Address, B256, U256};
use sessionkeys::lanes;
use sessionkeys::relay;
use sessionkeys::store::{StoredApproval, StoredSession, StoredStatus};
use sessionkeys::{EntryPointVersion, SdkError, SessionGrant, SmartAccount, WaitPolicy};
use sessionkeys_engine::lint::Severity;
use std::path::PathBuf;

/// `sessionkeys session grant`.
#[derive(clap::Args)]
pub struct GrantArgs {
    /// Session JSON file, without "signer": a fresh key is made for the session.
    file: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// The account's salt (as in `account create`).
    #[arg(long, default_value = "0")]
    salt: U256,
    /// EntryPoint version of the account.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::args::parse_version)]
    entrypoint: EntryPointVersion,
    /// Do not enable on-chain now: the owner signs an approval and the session's first op
    /// enables it.
    #[arg(long)]
    first_use: bool,
    /// Grant even if lint reports errors.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
}

pub fn run(args: GrantArgs, json: bool) -> Result<(), CliError> {
    // Read and check the file before asking for any password.
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", args.file.display())))?;
    let session = sessionkeys_engine::format::parse_session_json(&text)
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    if session.signer.is_some() {
        return Err(CliError::Input(format!(
            "{}: remove \"signer\": sessionkeys makes a fresh key for every session",
            args.file.display()
        )));
    }
    let placeholder = session
        .to_spec(Some(Address::repeat_byte(1)))
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    let findings = sessionkeys_engine::lint::lint(&placeholder, unix_now());
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let refused = errors > 0 && !args.force;
    if !json {
        // Named as `explain --rpc` names them: the file's functions, the chain's tokens. A
        // refusal needs no node, so it is explained with the built-in names only.
        let labels = labels_of(&args.file)?;
        let labels = if refused {
            labels
        } else {
            with_chain_tokens(&args.chain.rpc, &placeholder, labels)?
        };
        out!(
            "{}",
            sessionkeys_engine::explain::explain(&placeholder, &labels)
        );
        for finding in &findings {
            outln!("{finding}");
        }
    }
    if refused {
        return Err(CliError::Refused(format!(
            "lint reports {errors} error(s); fix the session or pass --force"
        )));
    }
    if args.first_use && args.relayer.relayer_key_env.is_some() {
        return Err(CliError::Input(
            "--first-use and --relayer-key-env exclude each other: the first op enables the \
             session, or a relayer does now"
                .into(),
        ));
    }
    let relayer = args.relayer.signer()?;
    let backend = args.chain.backend(true)?;
    let owner = args.owner.signer()?;
    let store = args.store.store()?;
    let password = args.store.password()?;
    let (key, key_file) = store.new_key(&password)?;
    let mut spec = session
        .to_spec(Some(key.address()))
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    let version = args.entrypoint;
    let stored_sessions = store.list()?.sessions;
    let rt = runtime()?;
    let result: Result<(SessionGrant, SmartAccount, Option<StoredApproval>, u64), SdkError> = rt
        .block_on(async {
            let account = counterfactual(
                backend.as_ref(),
                version,
                args.chain.factory_owner(),
                owner.address(),
                args.salt,
            )
            .await?;
            // Rule 19: the new session's nonce lane must be free among the account's live
            // sessions and the ones approved here but not used yet. At request: re-salt.
            let pending: Vec<B256> = stored_sessions
                .iter()
                .filter(|s| s.account == account.address && s.status == StoredStatus::Approved)
                .map(|s| s.hash)
                .collect();
            let taken = taken_lanes(backend.as_ref(), &account, &pending).await?;
            if lanes::resalt_for_free_lane(&mut spec, &taken) > 0 {
                progress(json, "re-salted the session: its nonce lane was taken");
            }
            let grant = SessionGrant::new(spec, validator())?;
            // At approval: read again and refuse rather than sign a colliding session.
            let taken = taken_lanes(backend.as_ref(), &account, &pending).await?;
            lanes::ensure_free_lane(grant.hash(), &taken)?;
            let chain_id = backend.chain_id().await?;
            if args.first_use {
                let chain = grant
                    .current_chain(backend.as_ref(), account.address)
                    .await?;
                let approval = grant.approve(&owner, account.address, vec![chain]);
                Ok((
                    grant,
                    account,
                    Some(StoredApproval::from_approval(&approval)),
                    chain_id,
                ))
            } else if let Some(relayer) = &relayer {
                let chain = grant
                    .current_chain(backend.as_ref(), account.address)
                    .await?;
                let approval = grant.approve(&owner, account.address, vec![chain]);
                if relay::relay_deploy_account(backend.as_ref(), &account, relayer)
                    .await?
                    .is_some()
                {
                    progress(json, "the relayer deployed the account");
                }
                progress(
                    json,
                    "relaying the owner's signed approval to the validator",
                );
                relay::relay_enable(
                    backend.as_ref(),
                    grant.validator,
                    account.address,
                    &grant.spec,
                    &approval,
                    relayer,
                )
                .await?;
                Ok((grant, account, None, chain_id))
            } else {
                progress(json, "sending the owner's userOp that enables the session");
                grant
                    .grant_on_chain(backend.as_ref(), &account, &owner, WaitPolicy::default())
                    .await?;
                Ok((grant, account, None, chain_id))
            }
        });
    let (grant, account, approval, chain_id) = result?;
    let stored = StoredSession {
        hash: grant.hash(),
        chain_id,
        entry_point: version.label().into(),
        account: account.address,
        owner: owner.address(),
        validator: grant.validator,
        spec: alloy::sol_types::SolValue::abi_encode(&grant.spec).into(),
        key_file,
        status: if approval.is_some() {
            StoredStatus::Approved
        } else {
            StoredStatus::Granted
        },
        approval,
        created_at: unix_now(),
    };
    store.save(&stored)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "sessionHash": stored.hash.to_string(),
                "account": account.address.to_checksum(None),
                "signer": key.address().to_checksum(None),
                "status": stored.status,
            })
        );
    } else {
        outln!("session  {}", stored.hash);
        outln!("account  {}", account.address.to_checksum(None));
        outln!(
            "signer   {} (key stored encrypted in {})",
            key.address().to_checksum(None),
            store.keys_dir().display()
        );
        outln!(
            "status   {}",
            if args.first_use {
                "approved: its first op enables it"
            } else {
                "enabled on-chain"
            }
        );
    }
    Ok(())
}
