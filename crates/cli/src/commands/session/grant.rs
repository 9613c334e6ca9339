//! `sessionkeys session grant`: a fresh key, the owner's approval, and the session enabled
//! on-chain (by an owner userOp, a relayer, or the session's first op). Stored locally. The
//! workflow is the SDK's `request::grant`; this file parses and prints.

use crate::InputError;
use crate::args::{AccountArgs, ChainArgs, OwnerKeyArgs, RelayerKeyArgs, StoreArgs};
use crate::commands::session::file::reviewed_template;
use crate::onchain::{outcome, progress, runtime};
use sessionkeys::request::{self, RequestOptions};
use sessionkeys::{Approved, Enable, Enabled, GrantRoute};
use std::path::PathBuf;
use std::process::ExitCode;

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
    #[command(flatten)]
    account: AccountArgs,
    /// Do not enable on-chain now: the owner signs an approval and the session's first op
    /// enables it (and deploys the account if it has no code yet).
    #[arg(long)]
    first_use: bool,
    /// Grant even if lint reports errors.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
}

pub fn run(args: GrantArgs, json: bool) -> Result<ExitCode, InputError> {
    // Read and check the file before asking for any password.
    let template = match reviewed_template(&args.file, args.force, json)? {
        Ok(template) => template,
        Err(refused) => return Ok(refused),
    };
    if args.first_use && args.relayer.relayer_key_env.is_some() {
        return Err(InputError(
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
    let plan = args.account.plan(owner.address(), &args.chain);
    let route = match (&relayer, args.first_use) {
        (Some(relayer), _) => GrantRoute::Approval(Enable::Relayed(relayer)),
        (None, true) => GrantRoute::Approval(Enable::FirstUse),
        (None, false) => GrantRoute::OwnerOp,
    };
    progress(
        json,
        match route {
            GrantRoute::OwnerOp => "sending the owner's userOp that enables the session",
            GrantRoute::Approval(Enable::Relayed(_)) => {
                "relaying the owner's signed approval to the validator"
            }
            GrantRoute::Approval(Enable::FirstUse) => "signing the owner's approval",
        },
    );
    let granted = runtime()?.block_on(request::grant(
        backend.as_ref(),
        &store,
        &password,
        &template,
        &plan,
        &owner,
        route,
        RequestOptions {
            allow_lint_errors: args.force,
        },
    ));
    match granted {
        Ok(approved) => {
            print_approved(&approved, &store, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => outcome(error),
    }
}

/// What `grant` and `approve` print: the session, its account and key, and how it is enabled.
pub fn print_approved(
    approved: &Approved,
    store: &sessionkeys::store::SessionStore,
    json: bool,
) -> Result<(), InputError> {
    let session = &approved.session;
    let signer = session.spec()?.signer;
    let (status, sent_as) = match &approved.enabled {
        Enabled::AtFirstUse => ("approved: its first op enables it".to_string(), None),
        Enabled::Relayed {
            transaction,
            deployed_account,
        } => (
            format!(
                "enabled on-chain by a relayed transaction{}",
                if *deployed_account {
                    " (the relayer also deployed the account)"
                } else {
                    ""
                }
            ),
            Some(format!("transaction {transaction}")),
        ),
        Enabled::OwnerOp { user_op_hash } => (
            "enabled on-chain".to_string(),
            Some(format!("userOp {user_op_hash}")),
        ),
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "sessionHash": session.hash.to_string(),
                "account": session.account.to_checksum(None),
                "signer": signer.to_checksum(None),
                "status": session.status,
                "sentAs": sent_as,
            })
        );
    } else {
        outln!("session  {}", session.hash);
        outln!("account  {}", session.account.to_checksum(None));
        outln!(
            "signer   {} (key stored encrypted in {})",
            signer.to_checksum(None),
            store.keys_dir().display()
        );
        outln!("status   {status}");
        if let Some(sent_as) = sent_as {
            outln!("sent as  {sent_as}");
        }
    }
    Ok(())
}
