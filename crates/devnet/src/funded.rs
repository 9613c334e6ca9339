//! One funded-devnet setup: an account deployed with its validators, holding ETH and the test
//! tokens, as the demo, `simulate`, the gas table and the chain tests all start from.

use crate::DevnetError;
use crate::devnet::{DEVNET_ADMIN, Devnet};
use alloy::primitives::{Address, U256};
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_contracts::abi::TestToken;

/// What a funded account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Funds {
    /// ETH, in wei, to pay for its ops.
    pub wei: U256,
    /// The USDC-like fixture, in base units (6 decimals).
    pub usdc: U256,
    /// The GOLD fixture, in base units (18 decimals).
    pub gold: U256,
}

impl Funds {
    /// `eth` whole ETH and `usdc` whole USDC, no GOLD.
    pub fn eth_and_usdc(eth: u64, usdc: u64) -> Self {
        Self {
            wei: U256::from(eth) * U256::from(10u64).pow(U256::from(18)),
            usdc: U256::from(usdc) * U256::from(1_000_000u64),
            gold: U256::ZERO,
        }
    }

    /// Adds `gold` whole GOLD.
    pub fn with_gold(mut self, gold: u64) -> Self {
        self.gold = U256::from(gold) * U256::from(10u64).pow(U256::from(18));
        self
    }
}

impl Devnet {
    /// Deploys `owner`'s account (salt 0) with `validators` installed and gives it `funds`.
    pub fn funded_account(
        &mut self,
        version: EntryPointVersion,
        owner: Address,
        validators: Vec<Address>,
        funds: Funds,
    ) -> Result<Address, DevnetError> {
        let account = self.create_account(version, owner, validators, U256::ZERO)?;
        self.chain.set_balance(account, funds.wei);
        self.mint(account, funds)?;
        Ok(account)
    }

    /// Mints `funds`' tokens to `to` (its ETH is left alone).
    pub fn mint(&mut self, to: Address, funds: Funds) -> Result<(), DevnetError> {
        for (token, amount) in [
            (self.addresses.usdc, funds.usdc),
            (self.addresses.token18, funds.gold),
        ] {
            if !amount.is_zero() {
                self.send(
                    DEVNET_ADMIN,
                    token,
                    U256::ZERO,
                    &TestToken::mintCall { to, amount },
                )?;
            }
        }
        Ok(())
    }
}
