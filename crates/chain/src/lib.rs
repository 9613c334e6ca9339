#![doc = include_str!("../README.md")]

pub mod deployment;
pub mod entrypoint;
pub mod execution;
pub mod offline_check;
pub mod revert;
pub mod signing;
pub mod userop;
pub mod validator_state;

pub use entrypoint::{EntryPointArtifact, EntryPointVersion};
pub use revert::{RevertReason, decode_revert};
pub use userop::{Paymaster, UserOperation};

use std::path::PathBuf;

/// Errors of the chain layer: finding the EntryPoint's artifacts.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The EntryPoint npm package is not installed where we look for it.
    #[error(
        "EntryPoint {version} not found; install it with `npm ci --prefix contracts` \
         or point {env} at a node_modules folder holding it (searched: {searched:?})",
        env = entrypoint::NODE_MODULES_ENV
    )]
    EntryPointNotInstalled {
        /// `v0.7` or `v0.8`.
        version: &'static str,
        /// Every path tried.
        searched: Vec<PathBuf>,
    },
    /// The EntryPoint artifact exists but cannot be read.
    #[error("cannot read EntryPoint artifact {path}: {reason}")]
    EntryPointArtifact {
        /// The artifact file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
