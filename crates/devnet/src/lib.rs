#![doc = include_str!("../README.md")]

pub mod devnet;
pub mod erc7562;
pub mod evm;
pub mod funded;
pub mod judge;
pub mod profile;
pub mod state;

pub use devnet::{BundleError, BundleReceipt, Devnet, DevnetAddresses, OpResult};
pub use evm::DevnetEvm;

use alloy::primitives::{Address, Bytes};
use sessionkeys_chain::{ChainError, decode_revert};

/// Errors of the devnet.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The EntryPoint's artifacts could not be found or read.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// revm refused the transaction itself (not a revert).
    #[error("the EVM refused the transaction: {0}")]
    Evm(String),
    /// An `eth_call` reverted.
    #[error("call to {to} reverted: {}", decode_revert(data))]
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
    /// The session has no packed form (docs/compact-signatures.md).
    #[error(transparent)]
    Unencodable(#[from] sessionkeys_contracts::vocabulary::packed::UnencodableSpec),
    /// A CREATE2 deployment did not land at the expected address.
    #[error("deployment to {expected} failed (deployer returned {output})")]
    DeploymentFailed {
        /// The address CREATE2 should give.
        expected: Address,
        /// What the deployer returned.
        output: Bytes,
    },
}
