//! The ERC-4337 EntryPoint: versions, canonical addresses, and its bytecode read at run time.
//!
//! The EntryPoint is GPL-3.0: it is never embedded in our binary nor committed. Its creation
//! code is read from the npm package `@account-abstraction/contracts` (installed under the
//! aliases `account-abstraction-v07` / `account-abstraction-v08` by `contracts/package.json`)
//! and deployed with CREATE2 through the deterministic deployer with the canonical salts, which
//! yields the canonical addresses.

use crate::ChainError;
use alloy::primitives::Bytes;
use std::path::{Path, PathBuf};

/// Environment variable naming a `node_modules` folder that holds the EntryPoint packages.
pub const NODE_MODULES_ENV: &str = "SESSIONKEYS_NODE_MODULES";

pub use sessionkeys_contracts::vocabulary::EntryPointVersion;

/// Reading a version's EntryPoint code from the npm package (the version itself, its address
/// and rules, live in `sessionkeys_contracts::vocabulary`).
pub trait EntryPointArtifact {
    /// Where the version's EntryPoint artifact is looked for, in order.
    fn artifact_candidates(self) -> Vec<PathBuf>;
    /// Reads the EntryPoint creation code from the first candidate that exists.
    fn load_creation_code(self) -> Result<Bytes, ChainError>;
}

impl EntryPointArtifact for EntryPointVersion {
    /// Where the version's EntryPoint artifact is looked for, in order: `$SESSIONKEYS_NODE_MODULES`,
    /// then `contracts/node_modules` and `node_modules` in the current directory and each parent,
    /// then this source tree's `contracts/node_modules`.
    fn artifact_candidates(self) -> Vec<PathBuf> {
        let relative = Path::new(self.package_dir())
            .join("artifacts")
            .join("EntryPoint.json");
        let mut roots = Vec::new();
        if let Some(dir) = std::env::var_os(NODE_MODULES_ENV) {
            roots.push(PathBuf::from(dir));
        }
        if let Ok(cwd) = std::env::current_dir() {
            for dir in cwd.ancestors() {
                roots.push(dir.join("contracts").join("node_modules"));
                roots.push(dir.join("node_modules"));
            }
        }
        roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/node_modules"));
        roots.into_iter().map(|root| root.join(&relative)).collect()
    }

    /// Reads the EntryPoint creation code from the first candidate that exists.
    fn load_creation_code(self) -> Result<Bytes, ChainError> {
        let candidates = self.artifact_candidates();
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            ChainError::EntryPointNotInstalled {
                version: self.label(),
                searched: candidates.clone(),
            }
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| ChainError::EntryPointArtifact {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ChainError::EntryPointArtifact {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        json["bytecode"]
            .as_str()
            .and_then(|s| s.parse::<Bytes>().ok())
            .ok_or_else(|| ChainError::EntryPointArtifact {
                path: path.clone(),
                reason: "no hex `bytecode` field".into(),
            })
    }
}

/// The EntryPoint ABI we use, written in Solidity (alloy-rs/core#966 breaks `sol!` on the
/// raw JSON ABI). Identical for v0.7 and v0.8 in these members.
#[allow(missing_docs)]
pub mod abi {
    alloy::sol! {
        #![sol(all_derives)]
        struct PackedUserOperation {
            address sender;
            uint256 nonce;
            bytes initCode;
            bytes callData;
            bytes32 accountGasLimits;
            uint256 preVerificationGas;
            bytes32 gasFees;
            bytes paymasterAndData;
            bytes signature;
        }

        struct DepositInfo {
            uint256 deposit;
            bool staked;
            uint112 stake;
            uint32 unstakeDelaySec;
            uint48 withdrawTime;
        }

        interface IEntryPoint {
            error FailedOp(uint256 opIndex, string reason);
            error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);

            event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
            event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
            event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);

            function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
            function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
            function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
            function depositTo(address account) external payable;
            function balanceOf(address account) external view returns (uint256);
            function senderCreator() external view returns (address);
            function getDepositInfo(address account) external view returns (DepositInfo memory info);
        }
    }
}
