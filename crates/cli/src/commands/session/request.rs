//! `sessionkeys session request`: the first half of approving with any wallet. A fresh key,
//! the pending session stored, and the EIP-712 typed data the owner signs written to a file.
//! The workflow is the SDK's `request::request`.

use crate::args::{AccountArgs, ChainArgs, StoreArgs};
use crate::commands::session::file::reviewed_template;
use crate::commands::session::grant::{session_fields, with_fields};
use crate::error::CliError;
use crate::onchain::{progress, runtime};
use crate::wallet_args::write_typed_data;
use alloy::primitives::Address;
use sessionkeys::request::{self, RequestOptions};
use std::path::PathBuf;

/// `sessionkeys session request`.
#[derive(clap::Args)]
pub struct RequestArgs {
    /// Session JSON file, without "signer": a fresh key is made for the session.
    file: PathBuf,
    /// The account's owner: the address of the wallet that will sign the typed data.
    #[arg(long, env = "SESSIONKEYS_OWNER")]
    owner: Address,
    /// Write the typed data to sign here (a new file; never overwritten).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    account: AccountArgs,
    /// Request even if lint reports errors.
    #[arg(long)]
    force: bool,
}

pub fn run(args: RequestArgs, json: bool) -> Result<(), CliError> {
    let template = reviewed_template(&args.file, args.force, json, Some(&args.chain.rpc))?;
    if args.out == std::path::Path::new("-") {
        return Err(CliError::Input(
            "give --out a file for the typed data: the request's summary is printed".into(),
        ));
    }
    if args.out.exists() {
        return Err(CliError::Input(format!(
            "{} exists: give --out a new file for the typed data",
            args.out.display()
        )));
    }
    let backend = args.chain.backend(false)?;
    let store = args.store.store()?;
    let password = args.store.password()?;
    let plan = args.account.plan(args.owner, &args.chain);
    let requested = runtime()?.block_on(request::request(
        backend.as_ref(),
        &store.unlocked(&password),
        &template,
        &plan,
        RequestOptions {
            allow_lint_errors: args.force,
        },
    ))?;
    if requested.resalted > 0 {
        progress(
            json,
            "re-salted the session: its nonce lane was taken (rule 19)",
        );
    }
    if let Err(error) = write_typed_data(&args.out, &requested.typed_data) {
        // Nobody could sign a request whose typed data was never written: no key of nothing.
        let _ = store.remove(&requested.session);
        return Err(error.into());
    }
    let session = &requested.session;
    if json {
        outln!(
            "{}",
            serde_json::Value::Object(with_fields(
                session_fields(session, requested.spec.signer),
                [
                    ("digest", requested.digest.to_string().into()),
                    ("typedData", serde_json::json!(args.out)),
                ]
            ))
        );
    } else {
        outln!("session  {}", session.hash);
        outln!("account  {}", session.account.to_checksum(None));
        outln!("owner    {}", session.owner.to_checksum(None));
        outln!(
            "signer   {} (key stored encrypted in {})",
            requested.spec.signer.to_checksum(None),
            store.keys_dir().display()
        );
        outln!("digest   {}", requested.digest);
        outln!("status   requested: waiting for the owner's signature");
        outln!(
            "Sign {} with the owner's wallet (e.g. `cast wallet sign --data --from-file {}`),\n\
             then: sessionkeys session approve --session {} --signature 0x…",
            args.out.display(),
            args.out.display(),
            &format!("{:x}", session.hash)[..10]
        );
    }
    Ok(())
}
