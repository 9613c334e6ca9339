//! `sessionkeys revoke`: stored sessions, or every session of an account, revoked by the
//! owner's userOp or a relayed signed revocation (signed by the owner's key here or by its
//! wallet, `revoke_wallet`).

use crate::InputError;
use crate::args::{ChainArgs, OwnerKeyArgs, RelayerKeyArgs, StoreArgs};
use crate::commands::revoke_already::{hashes_of, split_revoked};
use crate::commands::revoke_wallet;
use crate::error::CliError;
use crate::onchain::{progress, runtime, validator};
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::relay::{self, OwnerConsent, RevokeRequest, RevokeTarget};
use sessionkeys::store::{StoredSession, StoredStatus};
use sessionkeys::{Call, EntryPointVersion, SdkError, SmartAccount, WaitPolicy};
use sessionkeys_contracts::session::ISessionKeyValidator;

/// `sessionkeys revoke`.
#[derive(clap::Args)]
pub struct RevokeArgs {
    /// Sessions to revoke: `latest` or (prefixes of) hashes; repeat for several.
    #[arg(long = "session", required_unless_present = "all")]
    sessions: Vec<String>,
    /// Revoke every session of the account (bumps its epoch).
    #[arg(long, conflicts_with = "sessions")]
    all: bool,
    /// The account for --all (default: the latest stored session's).
    #[arg(long)]
    account: Option<Address>,
    /// EntryPoint version of the account (default: its stored sessions', else v0.7).
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", value_parser = crate::args::parse_version)]
    entrypoint: Option<EntryPointVersion>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
    #[command(flatten)]
    wallet: revoke_wallet::WalletRevokeArgs,
}

pub fn run(args: RevokeArgs, json: bool) -> Result<(), CliError> {
    let store = args.store.store()?;
    let targets: Vec<StoredSession> = args
        .sessions
        .iter()
        .map(|q| store.find(q))
        .collect::<Result<_, _>>()?;
    let account_address = match (&args.account, targets.first()) {
        (Some(a), _) => *a,
        (None, Some(first)) => first.account,
        (None, None) => store.find("latest")?.account,
    };
    if let Some(other) = targets.iter().find(|s| s.account != account_address) {
        return Err(CliError::Input(format!(
            "session {} belongs to {}, not {account_address}: revoke one account's sessions at a time",
            other.hash, other.account
        )));
    }
    // Before asking for a key or a signature: a session revoked already costs nothing to keep so.
    let (already, targets) = if args.all {
        (Vec::new(), targets)
    } else {
        split_revoked(&args.chain, account_address, targets)?
    };
    for session in &already {
        store.set_status(session.hash, StoredStatus::Revoked)?;
        if !json {
            outln!("{} was already revoked: nothing sent", session.hash);
        }
    }
    if targets.is_empty() && !args.all {
        if json {
            outln!(
                "{}",
                serde_json::json!({"sentAs": null, "revoked": [], "alreadyRevoked": hashes_of(&already), "all": false})
            );
        }
        return Ok(());
    }
    let hashes: Vec<B256> = targets.iter().map(|s| s.hash).collect();
    let target = if args.all {
        RevokeTarget::All
    } else {
        RevokeTarget::Sessions(hashes.clone())
    };
    let relayer = args.relayer.signer()?;
    let wallet_signature = args.wallet.signature.bytes()?;
    if wallet_signature.is_some() && relayer.is_none() {
        return Err(wallet_needs_relayer().into());
    }
    // Only an owner userOp needs the bundler.
    let backend = args
        .chain
        .backend(relayer.is_none() && args.wallet.typed_data_out.is_none())?;
    if let Some(path) = &args.wallet.typed_data_out {
        revoke_wallet::write(backend.as_ref(), account_address, target, path, json)?;
        return Ok(());
    }
    // The owner's consent: its key here, or its wallet's signature of the typed data.
    let signer = match wallet_signature {
        Some(signature) => OwnerConsent::Wallet {
            owner: revoke_wallet::stored_owner(&store, account_address)?,
            signature,
        },
        None => OwnerConsent::Key(args.owner.signer()?),
    };
    let done = match (relayer, signer) {
        (Some(relayer), signer) => {
            progress(
                json,
                "relaying the owner's signed revocation to the validator",
            );
            let result = runtime()?.block_on(async {
                let approval =
                    RevokeRequest::new(backend.as_ref(), validator(), account_address, target)
                        .await?
                        .approve(&signer)?;
                relay::relay_revoke(backend.as_ref(), validator(), &approval, &relayer).await
            });
            match result {
                Ok(outcome) => format!("transaction {}", outcome.hash),
                Err(error) => return Err(error.into()),
            }
        }
        (None, OwnerConsent::Wallet { .. }) => return Err(wallet_needs_relayer().into()),
        (None, OwnerConsent::Key(owner)) => {
            let stored_version = store
                .list()?
                .sessions
                .iter()
                .rev()
                .find(|s| s.account == account_address)
                .map(|s| s.entry_point);
            let account = SmartAccount {
                address: account_address,
                owner: owner.address(),
                version: args
                    .entrypoint
                    .or(stored_version)
                    .unwrap_or(EntryPointVersion::V07),
                factory: None,
            };
            match revoke_by_owner_op(&args, &account, &owner, &hashes, backend.as_ref(), json)? {
                Ok(hash) => format!("userOp {hash}"),
                Err(error) => return Err(error.into()),
            }
        }
    };
    let revoked: Vec<B256> = if args.all {
        store
            .list()?
            .sessions
            .iter()
            .filter(|s| s.account == account_address)
            .map(|s| s.hash)
            .collect()
    } else {
        hashes
    };
    for hash in &revoked {
        store.set_status(*hash, StoredStatus::Revoked)?;
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({"sentAs": done, "revoked": revoked.iter().map(|h| h.to_string()).collect::<Vec<_>>(), "alreadyRevoked": hashes_of(&already), "all": args.all})
        );
    } else if args.all {
        outln!("revoked every session of {account_address} ({done})");
    } else {
        for hash in &revoked {
            outln!("revoked {hash}");
        }
    }
    Ok(())
}

fn wallet_needs_relayer() -> InputError {
    InputError(
        "a wallet's signed revocation is sent by a relayer: give --relayer-key-env VAR (any \
         funded key)"
            .into(),
    )
}

/// The owner's own userOp calling revokeSession / revokeSessions / revokeAll.
fn revoke_by_owner_op(
    args: &RevokeArgs,
    account: &SmartAccount,
    owner: &PrivateKeySigner,
    hashes: &[B256],
    backend: &dyn Backend,
    json: bool,
) -> Result<Result<B256, SdkError>, InputError> {
    let call = if args.all {
        Call::typed(validator(), &ISessionKeyValidator::revokeAllCall {})
    } else if let [hash] = hashes {
        Call::typed(
            validator(),
            &ISessionKeyValidator::revokeSessionCall { sessionHash: *hash },
        )
    } else {
        Call::typed(
            validator(),
            &ISessionKeyValidator::revokeSessionsCall {
                sessionHashes: hashes.to_vec(),
            },
        )
    };
    progress(json, "sending the owner's revoking userOp");
    let result = runtime()?.block_on(account.execute_as_owner(
        backend,
        owner,
        &[call],
        WaitPolicy::default(),
    ));
    Ok(result.map(|done| done.user_op_hash))
}
