//! `sessionkeys key new`: a fresh session key, stored only as a keystore v3 (scrypt) file.

use crate::InputError;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make a fresh session key and store it encrypted (mode 0600); prints its address and file.
    New {
        /// Directory of the keystore files (created with mode 0700).
        #[arg(long, env = "SESSIONKEYS_KEY_DIR", default_value = ".sessionkeys/keys")]
        dir: std::path::PathBuf,
        /// File name (default: the key's address).
        #[arg(long)]
        name: Option<String>,
        /// A file holding the password (its first line).
        #[arg(long, env = "SESSIONKEYS_KEY_PASSWORD_FILE")]
        password_file: Option<std::path::PathBuf>,
    },
}

/// The keystore password: the first line of `--password-file`, else `SESSIONKEYS_KEY_PASSWORD`.
fn key_password(file: Option<&std::path::Path>) -> Result<String, InputError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    std::env::var("SESSIONKEYS_KEY_PASSWORD").map_err(|_| {
        InputError("no password: give --password-file or set SESSIONKEYS_KEY_PASSWORD".into())
    })
}

pub fn run(command: KeyCommand, json: bool) -> Result<ExitCode, InputError> {
    let KeyCommand::New {
        dir,
        name,
        password_file,
    } = command;
    let password = key_password(password_file.as_deref())?;
    let (key, path) = sessionkeys_keystore::create(&dir, password.as_bytes(), name.as_deref())?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"address": key.address().to_checksum(None), "file": path})
        );
    } else {
        outln!("{} {}", key.address().to_checksum(None), path.display());
    }
    Ok(ExitCode::SUCCESS)
}
