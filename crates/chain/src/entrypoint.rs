//! The ERC-4337 EntryPoint: versions, canonical addresses, and its bytecode read at run time.
//!
//! The EntryPoint is GPL-3.0: it is never embedded in our binary nor committed. Its creation
//! code is read from the npm package `@account-abstraction/contracts` (installed under the
//! aliases `account-abstraction-v07` / `account-abstraction-v08` by `contracts/package.json`)
//! and deployed with CREATE2 through the deterministic deployer with the canonical salts, which
//! yields the canonical addresses.

use crate::ChainError;
use alloy::primitives::{Address, B256, Bytes, address, b256};
use std::path::{Path, PathBuf};

/// Environment variable naming a `node_modules` folder that holds the EntryPoint packages.
pub const NODE_MODULES_ENV: &str = "SESSIONKEYS_NODE_MODULES";

/// The EntryPoint versions sessionkeys supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryPointVersion {
    /// v0.7.0: userOpHash = keccak(packed fields, entryPoint, chainId); validAfter inclusive.
    V07,
    /// v0.8.0: userOpHash is an EIP-712 digest; validAfter exclusive; EIP-7702 initCode marker.
    V08,
}

impl EntryPointVersion {
    /// Both versions, for tests that run on each.
    pub const ALL: [EntryPointVersion; 2] = [EntryPointVersion::V07, EntryPointVersion::V08];

    /// The canonical address on every chain.
    pub const fn address(self) -> Address {
        match self {
            Self::V07 => address!("0x0000000071727De22E5E9d8BAf0edAc6f37da032"),
            Self::V08 => address!("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"),
        }
    }

    /// The CREATE2 salt that, through the deterministic deployer, gives the canonical address.
    pub const fn salt(self) -> B256 {
        match self {
            Self::V07 => {
                b256!("0x90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3")
            }
            Self::V08 => {
                b256!("0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9")
            }
        }
    }

    /// The npm alias folder under `node_modules`.
    pub const fn package_dir(self) -> &'static str {
        match self {
            Self::V07 => "account-abstraction-v07",
            Self::V08 => "account-abstraction-v08",
        }
    }

    /// `v0.7` or `v0.8`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::V07 => "v0.7",
            Self::V08 => "v0.8",
        }
    }

    /// Where the version's EntryPoint artifact is looked for, in order: `$SESSIONKEYS_NODE_MODULES`,
    /// then `contracts/node_modules` and `node_modules` in the current directory and each parent,
    /// then this source tree's `contracts/node_modules`.
    pub fn artifact_candidates(self) -> Vec<PathBuf> {
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
    pub fn load_creation_code(self) -> Result<Bytes, ChainError> {
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

impl std::fmt::Display for EntryPointVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
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
