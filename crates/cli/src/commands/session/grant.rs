//! `sessionkeys session grant`: a fresh key, the owner's approval, and the session enabled
//! on-chain (by an owner userOp, a relayer, or the session's first op). Stored locally. The
//! workflow is the SDK's `request::grant`; this file parses and prints.

use crate::InputError;
use crate::args::{AccountArgs, ChainArgs, OwnerKeyArgs, RelayerKeyArgs, StoreArgs};
use crate::commands::session::file::reviewed_template;
use crate::error::CliError;
use crate::onchain::{progress, runtime};
use sessionkeys::request::{self, RequestOptions};
use sessionkeys::{Approved, Enable, Enabled, GrantRoute};
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

pub fn run(args: GrantArgs, json: bool) -> Result<(), CliError> {
    // Read and check the file before asking for any password.
    let template = reviewed_template(&args.file, args.force, json, Some(&args.chain.rpc))?;
    if args.first_use && args.relayer.relayer_key_env.is_some() {
        return Err(CliError::Input(
            "--first-use and --relayer-key-env exclude each other: the first op enables the \
             session, or a relayer does now"
                .into(),
        ));
    }
    let relayer = args.relayer.signer()?;
    // Only the owner's own userOp needs the bundler.
    let backend = args.chain.backend(relayer.is_none() && !args.first_use)?;
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
        &store.unlocked(&password),
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
            Ok(())
        }
        Err(error) => Err(error.into()),
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
            serde_json::Value::Object(with_fields(
                session_fields(session, signer),
                [("sentAs", serde_json::json!(sent_as))]
            ))
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

/// The JSON fields every command that stores a session prints about it.
pub fn session_fields(
    session: &sessionkeys::store::StoredSession,
    signer: alloy::primitives::Address,
) -> serde_json::Map<String, serde_json::Value> {
    with_fields(
        serde_json::Map::new(),
        [
            ("sessionHash", session.hash.to_string().into()),
            ("account", session.account.to_checksum(None).into()),
            ("owner", session.owner.to_checksum(None).into()),
            ("signer", signer.to_checksum(None).into()),
            ("status", serde_json::json!(session.status)),
        ],
    )
}

/// `fields` with more added.
pub fn with_fields<const N: usize>(
    mut fields: serde_json::Map<String, serde_json::Value>,
    more: [(&str, serde_json::Value); N],
) -> serde_json::Map<String, serde_json::Value> {
    for (name, value) in more {
        fields.insert(name.to_string(), value);
    }
    fields
}
