//! `sessionkeys revoke` with the owner's wallet: `--typed-data-out FILE` writes the
//! revocation's EIP-712 typed data for the wallet to sign (nothing is sent), and `--signature`
//! (or `--signature-file`) gives the wallet's signature back, checked against the account's
//! owner, for a relayer to send.

use crate::InputError;
use crate::onchain::{outcome, runtime, validator};
use crate::wallet_args::{SignatureArgs, write_typed_data};
use alloy::primitives::Address;
use sessionkeys::backend::Backend;
use sessionkeys::relay::{RevokeRequest, RevokeTarget};
use sessionkeys::store::SessionStore;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of revoking with a wallet's signature.
#[derive(clap::Args)]
pub struct WalletRevokeArgs {
    /// Write the revocation's EIP-712 typed data for the owner's wallet to sign to this new
    /// file (`-`: print it), and stop: nothing is sent. Then revoke again with --signature and
    /// a relayer.
    #[arg(long, conflicts_with_all = ["signature", "signature_file"])]
    pub typed_data_out: Option<PathBuf>,
    #[command(flatten)]
    pub signature: SignatureArgs,
}

/// The owner of `account` as this store knows it (from its sessions' records).
pub fn stored_owner(store: &SessionStore, account: Address) -> Result<Address, InputError> {
    store
        .list()?
        .sessions
        .iter()
        .rev()
        .find(|s| s.account == account)
        .map(|s| s.owner)
        .ok_or_else(|| {
            InputError(format!(
                "no session of {account} is stored here, so its owner is unknown: revoke with \
                 the owner's key instead"
            ))
        })
}

/// Writes the typed data of revoking `target` of `account` to `path`.
pub fn write(
    backend: &dyn Backend,
    account: Address,
    target: RevokeTarget,
    path: &std::path::Path,
    json: bool,
) -> Result<ExitCode, InputError> {
    let request =
        match runtime()?.block_on(RevokeRequest::new(backend, validator(), account, target)) {
            Ok(request) => request,
            Err(error) => return outcome(error),
        };
    write_typed_data(path, &request.typed_data())?;
    if path == std::path::Path::new("-") {
        // Printed: the typed data is the whole output.
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({"typedData": path, "digest": request.digest().to_string(), "account": account.to_checksum(None)})
        );
    } else {
        outln!("wrote {}", path.display());
        outln!(
            "Sign it with the owner's wallet (e.g. `cast wallet sign --data --from-file {}`), then \
             revoke again with --signature 0x… --relayer-key-env VAR",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
