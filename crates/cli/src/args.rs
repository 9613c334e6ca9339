//! The flags that on-chain commands share: where the chain is, whose keys sign, where sessions
//! are stored.

use crate::InputError;
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::password::PasswordSource;
use sessionkeys::store::SessionStore;
use sessionkeys::{RpcBackend, deployment};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Where the chain is.
#[derive(clap::Args, Clone)]
pub struct ChainArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, env = "SESSIONKEYS_RPC_URL", hide_env_values = true)]
    pub rpc: String,
    /// The ERC-4337 bundler's JSON-RPC URL (ERC-7769).
    #[arg(long, env = "SESSIONKEYS_BUNDLER_URL", hide_env_values = true)]
    pub bundler: Option<String>,
    /// Whose account factories to use: the stake owner they were deployed with (`deploy
    /// --factory-owner`). Default: the factories every chain shares, 0x5e55…0a11, which no
    /// one can stake outside the devnet.
    #[arg(long, env = "SESSIONKEYS_FACTORY_OWNER")]
    pub factory_owner: Option<Address>,
}

impl ChainArgs {
    pub fn factory_owner(&self) -> Address {
        self.factory_owner
            .unwrap_or(deployment::DEFAULT_FACTORY_OWNER)
    }

    pub fn backend(&self, needs_bundler: bool) -> Result<Arc<dyn Backend>, InputError> {
        let bundler = match (&self.bundler, needs_bundler) {
            (Some(url), _) => url.clone(),
            (None, false) => self.rpc.clone(),
            (None, true) => {
                return Err(InputError(
                    "this command sends userOps: give --bundler URL (or SESSIONKEYS_BUNDLER_URL)"
                        .into(),
                ));
            }
        };
        Ok(Arc::new(rpc_backend(&self.rpc, &bundler)?))
    }
}

/// A key that signs for the owner (or pays for deployments).
#[derive(clap::Args, Clone)]
pub struct OwnerKeyArgs {
    /// The owner's keystore v3 file (cast / geth / ethers format).
    #[arg(
        long,
        env = "SESSIONKEYS_OWNER_KEYSTORE",
        conflicts_with = "owner_key_env"
    )]
    pub owner_keystore: Option<PathBuf>,
    /// A file whose first line is the owner keystore's password (else asked on the terminal).
    #[arg(long, env = "SESSIONKEYS_OWNER_PASSWORD_FILE")]
    pub owner_password_file: Option<PathBuf>,
    /// The name of an environment variable holding the owner's hex private key (development
    /// chains: anvil's keys).
    #[arg(long, env = "SESSIONKEYS_OWNER_KEY_ENV")]
    pub owner_key_env: Option<String>,
}

impl OwnerKeyArgs {
    /// # Security
    /// The key is decrypted (or read) in memory only; errors never quote it.
    pub fn signer(&self) -> Result<PrivateKeySigner, InputError> {
        if let Some(var) = &self.owner_key_env {
            return key_in_env(var);
        }
        let Some(file) = &self.owner_keystore else {
            return Err(InputError(
                "no owner key: give --owner-keystore FILE or --owner-key-env VAR".into(),
            ));
        };
        let source = match &self.owner_password_file {
            Some(path) => PasswordSource::File(path.clone()),
            None => PasswordSource::Prompt,
        };
        let password = source.read(&format!("password of {}: ", file.display()))?;
        Ok(sessionkeys_keystore::open(file, &password)?)
    }
}

/// The hex private key in the environment variable `var`.
///
/// # Security
/// The key is read in memory only; errors name the variable, never its value.
pub fn key_in_env(var: &str) -> Result<PrivateKeySigner, InputError> {
    let text = std::env::var(var)
        .map_err(|_| InputError(format!("the environment variable {var} is not set")))?;
    text.trim().parse::<PrivateKeySigner>().map_err(|_| {
        InputError(format!(
            "the environment variable {var} does not hold a 32-byte hex private key"
        ))
    })
}

/// A funded key that pays for relaying the owner's signed approval to the validator (any key:
/// it gains no power over the account).
#[derive(clap::Args, Clone)]
pub struct RelayerKeyArgs {
    /// Relay the owner's EIP-712 approval in a plain transaction paid by the key in this
    /// environment variable (hex private key), instead of an owner userOp: what a wallet that
    /// only signs typed data, and registry sessions, need.
    #[arg(long, env = "SESSIONKEYS_RELAYER_KEY_ENV")]
    pub relayer_key_env: Option<String>,
}

impl RelayerKeyArgs {
    /// # Security
    /// The key is read in memory only; errors never quote it.
    pub fn signer(&self) -> Result<Option<PrivateKeySigner>, InputError> {
        self.relayer_key_env.as_deref().map(key_in_env).transpose()
    }
}

/// The local session store and the password of its session keys.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// The session store directory (default: ~/.sessionkeys).
    #[arg(long, env = "SESSIONKEYS_HOME")]
    pub home: Option<PathBuf>,
    /// A file whose first line is the session keys' password.
    #[arg(
        long,
        env = "SESSIONKEYS_PASSWORD_FILE",
        conflicts_with = "password_env"
    )]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the session keys' password.
    #[arg(long, env = "SESSIONKEYS_PASSWORD_ENV")]
    pub password_env: Option<String>,
}

impl StoreArgs {
    pub fn store(&self) -> Result<SessionStore, InputError> {
        let dir = self.home.clone().unwrap_or_else(SessionStore::default_dir);
        Ok(SessionStore::open(dir)?)
    }

    pub fn password(&self) -> Result<Vec<u8>, InputError> {
        let source = match (&self.password_file, &self.password_env) {
            (Some(path), _) => PasswordSource::File(path.clone()),
            (None, Some(var)) => PasswordSource::Env(var.clone()),
            (None, None) => PasswordSource::Prompt,
        };
        Ok(source.read("session key password: ")?)
    }
}

/// Which of the owner's `SessionAccount`s a new session is for.
#[derive(clap::Args, Clone)]
pub struct AccountArgs {
    /// The account's salt (as in `account create`).
    #[arg(long, default_value = "0")]
    pub salt: alloy::primitives::U256,
    /// EntryPoint version of the account.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = parse_version)]
    pub entrypoint: sessionkeys_chain::EntryPointVersion,
}

impl AccountArgs {
    /// The account of `owner` from the factories `chain` names.
    pub fn plan(&self, owner: Address, chain: &ChainArgs) -> sessionkeys::AccountPlan {
        sessionkeys::AccountPlan {
            owner,
            version: self.entrypoint,
            factory_owner: chain.factory_owner(),
            salt: self.salt,
        }
    }
}

/// The `--entrypoint` flag: `v0.7` or `v0.8`.
pub fn parse_version(s: &str) -> Result<sessionkeys_chain::EntryPointVersion, String> {
    s.parse()
        .map_err(|e: sessionkeys_contracts::vocabulary::UnknownEntryPoint| e.to_string())
}

/// The `--rpc-timeout` of this run, set once by main before any command runs.
static RPC_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Sets how long every node and bundler request may wait (`--rpc-timeout`).
pub fn set_rpc_timeout(seconds: u64) {
    let _ = RPC_TIMEOUT.set(Duration::from_secs(seconds));
}

/// A backend for a node and a bundler, every request bounded by `--rpc-timeout`: the one way
/// commands reach a chain.
pub fn rpc_backend(node: &str, bundler: &str) -> Result<RpcBackend, InputError> {
    let timeout = RPC_TIMEOUT
        .get()
        .copied()
        .unwrap_or(sessionkeys::rpc::DEFAULT_TIMEOUT);
    Ok(RpcBackend::with_timeout(node, bundler, timeout)?)
}

/// `--rpc-timeout`: whole seconds, at least 1.
pub fn parse_timeout(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!(
            "expected a number of seconds (1 or more), got {s:?}"
        )),
    }
}
