//! What sessionkeys deploys, as CREATE2 init codes through the deterministic deployer with salt
//! 0, so each contract has the same address on every chain (the devnet, anvil, any EVM chain
//! with the deployer at its standard address).

use crate::entrypoint::{EntryPointArtifact, EntryPointVersion};
use alloy::primitives::{Address, B256, Bytes, address};
use alloy::sol_types::SolValue;
use sessionkeys_contracts::artifacts;

/// The address of the deterministic CREATE2 deployer on every chain (as on anvil).
pub const DETERMINISTIC_DEPLOYER: Address = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");

/// The stake a factory, paymaster or aggregator needs to be treated as staked (ERC-7562
/// `MIN_STAKE_VALUE`: chain-specific; 1 ETH is the reference bundler's and Alto's default).
pub const MIN_STAKE_WEI: u128 = 1_000_000_000_000_000_000;
/// The unstake delay a staked entity needs (ERC-7562 `MIN_UNSTAKE_DELAY`: one day).
pub const MIN_UNSTAKE_DELAY: u32 = 86_400;

/// The CREATE2 salt of every sessionkeys contract.
pub const SALT: B256 = B256::ZERO;

/// One contract to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedContract {
    /// What it is, for people.
    pub name: String,
    /// The CREATE2 salt ([`SALT`] for ours, the canonical ones for the EntryPoints).
    pub salt: B256,
    /// Creation code with its constructor arguments.
    pub init_code: Bytes,
}

impl PlannedContract {
    fn new(name: impl Into<String>, code: &[u8], args: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            salt: SALT,
            init_code: [code, &args].concat().into(),
        }
    }

    /// Where the deterministic deployer puts it.
    pub fn address(&self) -> Address {
        DETERMINISTIC_DEPLOYER.create2_from_code(self.salt, &self.init_code)
    }

    /// The deployer's calldata: salt ‖ init code.
    pub fn deployer_calldata(&self) -> Bytes {
        [self.salt.as_slice(), &self.init_code].concat().into()
    }
}

/// A `SessionKeyValidator` for both EntryPoints, in registry mode when `registry` is not zero.
pub fn session_key_validator(registry: Address) -> PlannedContract {
    let name = if registry.is_zero() {
        "SessionKeyValidator".to_string()
    } else {
        format!("SessionKeyValidator (registry {registry})")
    };
    PlannedContract::new(
        name,
        &artifacts::session_key_validator().bytecode,
        (
            EntryPointVersion::V07.address(),
            EntryPointVersion::V08.address(),
            registry,
            session_spec_checks().address(),
        )
            .abi_encode_params(),
    )
}

/// The `SessionSpecChecks` every validator calls at enable: the spec checks (rules 4, 9, 17,
/// 18, 21) and the EIP-712 enable digest, which the validator's code has no room for beside the
/// one-pass check of the common op. Deploy it before the validator. One address on every chain.
pub fn session_spec_checks() -> PlannedContract {
    PlannedContract::new(
        "SessionSpecChecks",
        &artifacts::session_spec_checks().bytecode,
        vec![],
    )
}

/// The `SessionUsageLens`: the remaining budgets of a session on any validator (the
/// validator's code has no room for that view). One address on every chain.
pub fn session_usage_lens() -> PlannedContract {
    PlannedContract::new(
        "SessionUsageLens",
        &artifacts::session_usage_lens().bytecode,
        vec![],
    )
}

/// The stake owner of the default factories: the devnet's admin, an address whose key nobody
/// holds. With it the factories have the same address on every chain (the devnet, anvil, any
/// EVM chain), but only the devnet (which needs no key) can stake them. A factory that
/// bundlers enforcing ERC-7562 accept for new accounts is deployed with your own stake owner
/// (`sessionkeys deploy --factory-owner`), at another address. docs/decisions.md, "Deployment".
pub const DEFAULT_FACTORY_OWNER: Address =
    alloy::primitives::address!("0x5e55104000000000000000000000000000000a11");

/// The `SessionAccountFactory` of one EntryPoint version whose stake `stake_owner` manages.
pub fn session_account_factory(
    version: EntryPointVersion,
    stake_owner: Address,
) -> PlannedContract {
    let name = if stake_owner == DEFAULT_FACTORY_OWNER {
        format!("SessionAccountFactory ({version})")
    } else {
        format!("SessionAccountFactory ({version}, stake owner {stake_owner})")
    };
    PlannedContract::new(
        name,
        &artifacts::session_account_factory().bytecode,
        (version.address(), stake_owner).abi_encode_params(),
    )
}

/// A `PolicyRegistry` administered by `admin`.
pub fn policy_registry(admin: Address) -> PlannedContract {
    PlannedContract::new(
        "PolicyRegistry",
        &artifacts::policy_registry().bytecode,
        admin.abi_encode(),
    )
}

/// An EntryPoint with its canonical salt, its creation code read from the npm package at run
/// time (never embedded: it is GPL-3.0). For dev chains that lack it.
pub fn entry_point(version: EntryPointVersion) -> Result<PlannedContract, crate::ChainError> {
    Ok(PlannedContract {
        name: format!("EntryPoint {version}"),
        salt: version.salt(),
        init_code: version.load_creation_code()?,
    })
}

/// The contracts every chain needs: the validator's spec checks, the validator (no registry),
/// its usage lens and both factories, whose
/// stake `factory_owner` manages ([`DEFAULT_FACTORY_OWNER`] for the same addresses everywhere).
pub fn core_contracts(factory_owner: Address) -> Vec<PlannedContract> {
    vec![
        session_spec_checks(),
        session_key_validator(Address::ZERO),
        session_usage_lens(),
        session_account_factory(EntryPointVersion::V07, factory_owner),
        session_account_factory(EntryPointVersion::V08, factory_owner),
    ]
}

/// The test fixtures (kept apart from production contracts: deploy them on dev chains only).
pub mod fixtures {
    use super::*;
    use alloy::primitives::U256;

    /// An ERC-20 test token anyone can mint.
    pub fn test_token(name: &str, symbol: &str, decimals: u8) -> PlannedContract {
        PlannedContract::new(
            format!("TestToken {symbol}"),
            &artifacts::test_token().bytecode,
            (name, symbol, U256::from(decimals)).abi_encode_params(),
        )
    }

    /// The USDC-like token of the devnet (6 decimals).
    pub fn usdc() -> PlannedContract {
        test_token("USD Coin (test)", "USDC", 6)
    }

    /// The 18-decimal token of the devnet.
    pub fn gold() -> PlannedContract {
        test_token("Game Gold (test)", "GOLD", 18)
    }

    /// The game fixture.
    pub fn game() -> PlannedContract {
        PlannedContract::new("Game", &artifacts::game().bytecode, vec![])
    }

    /// A paymaster that sponsors every op of one EntryPoint version.
    pub fn sponsor_paymaster(version: EntryPointVersion) -> PlannedContract {
        PlannedContract::new(
            format!("SponsorPaymaster ({version})"),
            &artifacts::sponsor_paymaster().bytecode,
            version.address().abi_encode(),
        )
    }

    /// A validator that breaks ERC-7562 (reads TIMESTAMP): a negative fixture.
    pub fn timestamp_validator() -> PlannedContract {
        PlannedContract::new(
            "TimestampValidator",
            &artifacts::timestamp_validator().bytecode,
            vec![],
        )
    }

    /// The tokens and the game: what a session file on a dev chain names.
    pub fn all() -> Vec<PlannedContract> {
        vec![usdc(), gold(), game()]
    }
}
