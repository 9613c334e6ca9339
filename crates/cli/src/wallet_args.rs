//! What the owner's wallet exchanges with the CLI: typed data written to a file for it to sign
//! (`cast wallet sign --data --from-file FILE`, or any `eth_signTypedData_v4` wallet), and the
//! signature it made, given back on the command line or in a file.

use crate::InputError;
use std::path::{Path, PathBuf};

/// The owner's signature of the typed data.
#[derive(clap::Args, Clone)]
pub struct SignatureArgs {
    /// The owner's signature of the typed data: 0x-hex, 65 bytes (r, s, v), as `cast wallet
    /// sign` or eth_signTypedData_v4 print it.
    #[arg(long, conflicts_with = "signature_file")]
    pub signature: Option<String>,
    /// A file holding that signature (as hex).
    #[arg(long)]
    pub signature_file: Option<PathBuf>,
}

impl SignatureArgs {
    /// The signature's bytes, if one was given.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, InputError> {
        let text = match (&self.signature, &self.signature_file) {
            (Some(hex), _) => hex.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?,
            (None, None) => return Ok(None),
        };
        Ok(Some(sessionkeys::wallet::parse_signature_hex(&text)?))
    }
}

/// Writes typed data for a wallet to `path` (`-`: prints it), never over an existing file (an
/// old request's typed data signed by mistake would be refused, but better not to leave it
/// there to sign).
pub fn write_typed_data(path: &Path, typed_data: &serde_json::Value) -> Result<(), InputError> {
    let text = serde_json::to_string_pretty(typed_data)? + "\n";
    if path == Path::new("-") {
        out!("{text}");
        return Ok(());
    }
    crate::files::write_new_file(path, &text)
}
