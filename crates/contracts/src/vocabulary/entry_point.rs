//! The ERC-4337 EntryPoint versions sessionkeys supports, with what differs between them: the
//! canonical address and salt, the npm package, and the rules the engine applies.

use alloy::primitives::{Address, B256, address, b256};
use serde::{Deserialize, Serialize};

/// The EntryPoint versions sessionkeys supports. Written `v0.7` / `v0.8` (also read without the
/// `v`), in files, on the command line and in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntryPointVersion {
    /// v0.7.0: userOpHash = keccak(packed fields, entryPoint, chainId); validAfter inclusive.
    #[serde(rename = "v0.7", alias = "0.7")]
    V07,
    /// v0.8.0: userOpHash is an EIP-712 digest; validAfter exclusive; EIP-7702 initCode marker.
    #[serde(rename = "v0.8", alias = "0.8")]
    V08,
}

/// A string that names no supported EntryPoint version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected v0.7 or v0.8, got {0:?}")]
pub struct UnknownEntryPoint(pub String);

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

    /// Whether an op is already valid at its `validAfter` second: v0.7 accepts
    /// `validAfter <= now`, v0.8 only `validAfter < now`.
    pub const fn valid_after_inclusive(self) -> bool {
        matches!(self, Self::V07)
    }

    /// Whether an `initCode` starting with the EIP-7702 marker is an init call on the delegated
    /// sender (v0.8) rather than a factory address (v0.7).
    pub const fn reads_eip7702_init_code(self) -> bool {
        matches!(self, Self::V08)
    }

    /// What the EntryPoint says of an `initCode` too short to name a factory: v0.8 checks it
    /// (`AA99`), v0.7 reverts the whole `handleOps`.
    pub const fn short_init_code_reason(self) -> &'static str {
        match self {
            Self::V08 => "AA99 initCode too small",
            Self::V07 => "initCode shorter than a factory address (handleOps reverts)",
        }
    }

    /// Whether a paymasterAndData naming the zero address is refused before validation (v0.8:
    /// `AA98`); v0.7 goes on and fails later.
    pub const fn refuses_zero_paymaster(self) -> bool {
        matches!(self, Self::V08)
    }
}

impl std::str::FromStr for EntryPointVersion {
    type Err = UnknownEntryPoint;

    fn from_str(s: &str) -> Result<Self, UnknownEntryPoint> {
        match s {
            "v0.7" | "0.7" => Ok(Self::V07),
            "v0.8" | "0.8" => Ok(Self::V08),
            other => Err(UnknownEntryPoint(other.to_string())),
        }
    }
}

impl std::fmt::Display for EntryPointVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_or_without_the_v_and_refuse_others_by_name() {
        assert_eq!("v0.7".parse(), Ok(EntryPointVersion::V07));
        assert_eq!("0.8".parse(), Ok(EntryPointVersion::V08));
        let error = "v0.6".parse::<EntryPointVersion>().unwrap_err();
        assert_eq!(error.to_string(), "expected v0.7 or v0.8, got \"v0.6\"");
    }

    #[test]
    fn versions_serialize_as_their_label() {
        for version in EntryPointVersion::ALL {
            let json = serde_json::to_string(&version).unwrap();
            assert_eq!(json, format!("\"{}\"", version.label()));
            assert_eq!(
                serde_json::from_str::<EntryPointVersion>(&json).unwrap(),
                version
            );
        }
    }
}
