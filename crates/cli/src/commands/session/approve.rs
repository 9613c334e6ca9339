//! `sessionkeys session approve`: the second half of approving with any wallet. The owner's
//! signature of the request's typed data is checked against its digest, then the session is
//! enabled by its first op or, with a relayer, now. The workflow is the SDK's
//! `request::approve`.

use crate::args::{ChainArgs, RelayerKeyArgs, StoreArgs};
use crate::commands::session::grant::print_approved;
use crate::error::CliError;
use crate::onchain::{progress, runtime};
use crate::wallet_args::SignatureArgs;
use sessionkeys::Enable;
use sessionkeys::request;

/// `sessionkeys session approve`.
#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The requested session: `latest` or (a prefix of) its hash.
    #[arg(long, default_value = "latest")]
    session: String,
    #[command(flatten)]
    signature: SignatureArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
}

pub fn run(args: ApproveArgs, json: bool) -> Result<(), CliError> {
    let Some(signature) = args.signature.bytes()? else {
        return Err(CliError::Input(
            "give the owner's signature of the request's typed data: --signature 0x… or \
             --signature-file FILE"
                .into(),
        ));
    };
    let store = args.store.store()?;
    let session = store.find(&args.session)?;
    let relayer = args.relayer.signer()?;
    let backend = args.chain.backend(false)?;
    let how = match &relayer {
        Some(relayer) => {
            progress(
                json,
                "relaying the owner's signed approval to the validator",
            );
            Enable::Relayed(relayer)
        }
        None => Enable::FirstUse,
    };
    match runtime()?.block_on(request::approve(
        backend.as_ref(),
        &store.records(),
        session.hash,
        &signature,
        how,
    )) {
        Ok(approved) => {
            print_approved(&approved, &store, json)?;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
