#![doc = include_str!("../README.md")]

pub mod deployment;
pub mod devnet;
pub mod embedded;
pub mod entrypoint;
pub mod erc7562;
pub mod execution;
pub mod judge;
pub mod profile;
pub mod revert;
pub mod signing;
pub mod userop;
pub mod validator_state;

pub use devnet::{BundleError, BundleReceipt, Devnet, DevnetAddresses, OpResult};
pub use embedded::EmbeddedChain;
pub use entrypoint::{EntryPointArtifact, EntryPointVersion};
pub use revert::{RevertReason, decode_revert};
pub use userop::{Paymaster, UserOperation};

use alloy::primitives::{Address, Bytes};
use std::path::PathBuf;

/// Errors of the chain layer.
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
    /// revm refused the transaction itself (not a revert).
    #[error("the EVM refused the transaction: {0}")]
    Evm(String),
    /// An `eth_call` reverted.
    #[error("call to {to} reverted: {}", crate::decode_revert(data))]
    CallReverted {
        /// The callee.
        to: Address,
        /// Revert data.
        data: Bytes,
    },
    /// Return data did not decode.
    #[error("cannot decode the return data of {0}")]
    Decode(String),
    /// The bundle did not land.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A CREATE2 deployment did not land at the expected address.
    #[error("deployment to {expected} failed (deployer returned {output})")]
    DeploymentFailed {
        /// The address CREATE2 should give.
        expected: Address,
        /// What the deployer returned.
        output: Bytes,
    },
}
