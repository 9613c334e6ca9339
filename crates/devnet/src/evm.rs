//! An in-process chain: revm (PRAGUE, like anvil) over an in-memory database, with time that
//! tests move by hand. Cloning an [`DevnetEvm`] snapshots the whole state, so tests deploy
//! once and clone per case.

use crate::DevnetError;
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::sol_types::SolCall;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::result::{ExecutionResult, HaltReason};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::MainnetContext;
use revm::primitives::{TxKind, hardfork::SpecId};
use revm::state::{AccountInfo, Bytecode};
use revm::{Context, ExecuteEvm, InspectCommitEvm, Inspector, MainBuilder};

pub use sessionkeys_chain::deployment::DETERMINISTIC_DEPLOYER;

/// Runtime code of our own deterministic deployer, placed at [`DETERMINISTIC_DEPLOYER`]. Same
/// interface as the one on public chains: calldata = salt (32 bytes) ‖ init code; it returns the
/// 20-byte address and reverts if CREATE2 fails. Hand-assembled:
/// `size = calldatasize - 32; calldatacopy(0, 32, size);
///  a = create2(callvalue, 0, size, calldataload(0)); if iszero(a) revert(0,0);
///  mstore(0, a); return(12, 20)`.
pub const DEPLOYER_RUNTIME: [u8; 31] = [
    0x60, 0x20, 0x36, 0x03, // size = calldatasize - 32
    0x80, 0x60, 0x20, 0x5f, 0x37, // calldatacopy(0, 32, size)
    0x5f, 0x35, 0x90, 0x5f, 0x34, 0xf5, // create2(callvalue, 0, size, salt)
    0x80, 0x15, 0x60, 0x1b, 0x57, // if iszero(addr) jump to revert
    0x5f, 0x52, 0x60, 0x14, 0x60, 0x0c, 0xf3, // mstore(0, addr); return(12, 20)
    0x5b, 0x5f, 0x80, 0xfd, // revert(0, 0)
];

/// Base fee of every embedded block (1 gwei).
pub const BASE_FEE: u64 = 1_000_000_000;
/// Gas limit of a transaction on the devnet.
pub const TX_GAS_LIMIT: u64 = 30_000_000;

/// What a committed transaction did.
#[derive(Debug, Clone)]
pub struct TxOutcome {
    /// True if the transaction did not revert or halt.
    pub success: bool,
    /// Receipt gas used.
    pub gas_used: u64,
    /// Return data, or revert data.
    pub output: Bytes,
    /// Logs of a successful transaction.
    pub logs: Vec<Log>,
    /// The halt reason, if it halted.
    pub halt: Option<String>,
}

/// A stamp no change has had yet, in this process.
fn next_change() -> u64 {
    static STAMPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    STAMPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The in-process chain.
#[derive(Clone, Debug)]
pub struct DevnetEvm {
    db: CacheDB<EmptyDB>,
    chain_id: u64,
    timestamp: u64,
    number: u64,
    /// The stamp of the latest change to the state or the clock: what a reader caching reads
    /// compares.
    changes: u64,
}

impl DevnetEvm {
    /// An empty chain with the deterministic deployer installed.
    pub fn new(chain_id: u64, timestamp: u64) -> Self {
        let mut chain = Self {
            db: CacheDB::new(EmptyDB::default()),
            chain_id,
            timestamp,
            number: 1,
            changes: next_change(),
        };
        chain.set_code(
            DETERMINISTIC_DEPLOYER,
            Bytes::from_static(&DEPLOYER_RUNTIME),
        );
        chain
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The timestamp of the next block.
    pub fn time(&self) -> u64 {
        self.timestamp
    }

    /// Sets the timestamp of the next block.
    pub fn set_time(&mut self, timestamp: u64) {
        self.timestamp = timestamp;
        self.changes = next_change();
    }

    /// Moves time forward.
    pub fn advance(&mut self, seconds: u64) {
        self.timestamp += seconds;
        self.changes = next_change();
    }

    /// The stamp of the latest change to the state or the clock (a transaction, a setter).
    /// Stamps are unique in the process, so two chains — a chain and a clone that went its own
    /// way — with equal stamps hold the same state: every read answers alike.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Installs runtime code at an address (keeping its balance).
    pub fn set_code(&mut self, at: Address, code: Bytes) {
        let mut info = self.account_info(at);
        let bytecode = Bytecode::new_raw(code);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.db.insert_account_info(at, info);
        self.changes = next_change();
    }

    /// Makes `eoa` an EIP-7702 account delegating to `delegate` (as a processed authorization would).
    pub fn set_delegation(&mut self, eoa: Address, delegate: Address) {
        let mut info = self.account_info(eoa);
        let bytecode = Bytecode::new_eip7702(delegate);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.db.insert_account_info(eoa, info);
        self.changes = next_change();
    }

    /// The runtime code at an address (empty if none).
    pub fn code(&self, at: Address) -> Bytes {
        self.db
            .cache
            .accounts
            .get(&at)
            .and_then(|a| a.info.code.as_ref())
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// A storage slot's value (zero if never written).
    pub fn storage(&self, at: Address, slot: U256) -> U256 {
        self.db
            .cache
            .accounts
            .get(&at)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// Sets an address's balance.
    pub fn set_balance(&mut self, at: Address, wei: U256) {
        let mut info = self.account_info(at);
        info.balance = wei;
        self.db.insert_account_info(at, info);
        self.changes = next_change();
    }

    /// An address's balance.
    pub fn balance(&self, at: Address) -> U256 {
        self.account_info(at).balance
    }

    /// An address's nonce.
    pub fn nonce(&self, at: Address) -> u64 {
        self.account_info(at).nonce
    }

    fn account_info(&self, at: Address) -> AccountInfo {
        self.db
            .cache
            .accounts
            .get(&at)
            .map(|a| a.info.clone())
            .unwrap_or_default()
    }

    /// A context over the chain's state; `free` makes gas free (for `eth_call`s).
    fn context(&mut self, free: bool) -> MainnetContext<CacheDB<EmptyDB>> {
        let db = std::mem::take(&mut self.db);
        let (chain_id, timestamp, number) = (self.chain_id, self.timestamp, self.number);
        Context::new(db, SpecId::PRAGUE)
            .modify_cfg_chained(|cfg: &mut CfgEnv| {
                cfg.chain_id = chain_id;
                cfg.disable_nonce_check = true;
                // Any address may send (EIP-3607 off): the in-process bundler estimates gas by
                // running an op's parts as the EntryPoint, on a copy of the chain.
                cfg.disable_eip3607 = true;
                cfg.disable_balance_check = free;
                cfg.disable_base_fee = free;
            })
            .modify_block_chained(|block: &mut BlockEnv| {
                block.number = U256::from(number);
                block.timestamp = U256::from(timestamp);
                block.basefee = BASE_FEE;
                block.gas_limit = 60_000_000;
                block.prevrandao = Some(B256::ZERO);
            })
    }

    fn tx(&self, from: Address, to: Option<Address>, value: U256, data: Bytes) -> TxEnv {
        TxEnv {
            caller: from,
            kind: to.map_or(TxKind::Create, TxKind::Call),
            value,
            data,
            gas_limit: TX_GAS_LIMIT,
            gas_price: u128::from(BASE_FEE),
            chain_id: Some(self.chain_id),
            ..TxEnv::default()
        }
    }

    /// Runs a transaction and commits its state; the sender pays gas at the base fee.
    pub fn transact(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        data: Bytes,
    ) -> Result<TxOutcome, DevnetError> {
        self.transact_inspect(from, to, value, data, NoInspector)
            .map(|(outcome, _)| outcome)
    }

    /// Like [`transact`](Self::transact), with an inspector watching every step; the inspector
    /// is handed back with what it recorded.
    pub fn transact_inspect<I>(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        data: Bytes,
        inspector: I,
    ) -> Result<(TxOutcome, I), DevnetError>
    where
        I: Inspector<MainnetContext<CacheDB<EmptyDB>>>,
    {
        let tx = self.tx(from, Some(to), value, data);
        let mut evm = self.context(false).build_mainnet_with_inspector(inspector);
        let result = evm.inspect_tx_commit(tx);
        self.db = std::mem::take(&mut evm.ctx.journaled_state.database);
        self.number += 1;
        self.changes = next_change();
        let result = result.map_err(|e| DevnetError::Evm(format!("{e:?}")))?;
        Ok((outcome(result), evm.inspector))
    }

    /// Runs a call without committing anything (an `eth_call`).
    pub fn call(&mut self, to: Address, data: Bytes) -> Result<Bytes, DevnetError> {
        let tx = TxEnv {
            gas_price: 0,
            ..self.tx(Address::ZERO, Some(to), U256::ZERO, data)
        };
        let mut evm = self.context(true).build_mainnet();
        let result = evm.transact(tx);
        self.db = std::mem::take(&mut evm.ctx.journaled_state.database);
        let result = result
            .map_err(|e| DevnetError::Evm(format!("{e:?}")))?
            .result;
        let outcome = outcome(result);
        if outcome.success {
            Ok(outcome.output)
        } else {
            Err(DevnetError::CallReverted {
                to,
                data: outcome.output,
            })
        }
    }

    /// Calls a typed function and decodes its return value.
    pub fn call_typed<C: SolCall>(
        &mut self,
        to: Address,
        call: &C,
    ) -> Result<C::Return, DevnetError> {
        let output = self.call(to, call.abi_encode().into())?;
        C::abi_decode_returns(&output)
            .map_err(|e| DevnetError::Decode(format!("{}: {e}", C::SIGNATURE)))
    }

    /// Deploys `init_code` with CREATE2 through the deterministic deployer and returns the address.
    pub fn deploy_create2(
        &mut self,
        deployer: Address,
        salt: B256,
        init_code: &[u8],
    ) -> Result<Address, DevnetError> {
        let expected = DETERMINISTIC_DEPLOYER.create2_from_code(salt, init_code);
        if !self.code(expected).is_empty() {
            return Ok(expected);
        }
        let data: Bytes = [salt.as_slice(), init_code].concat().into();
        let outcome = self.transact(deployer, DETERMINISTIC_DEPLOYER, U256::ZERO, data)?;
        if !outcome.success
            || outcome.output.len() != 20
            || Address::from_slice(&outcome.output) != expected
        {
            return Err(DevnetError::DeploymentFailed {
                expected,
                output: outcome.output,
            });
        }
        Ok(expected)
    }
}

/// An inspector that watches nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoInspector;
impl<CTX> Inspector<CTX> for NoInspector {}

fn outcome(result: ExecutionResult<HaltReason>) -> TxOutcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { logs, output, .. } => TxOutcome {
            success: true,
            gas_used,
            output: output.into_data(),
            logs,
            halt: None,
        },
        ExecutionResult::Revert { output, .. } => TxOutcome {
            success: false,
            gas_used,
            output,
            logs: vec![],
            halt: None,
        },
        ExecutionResult::Halt { reason, .. } => TxOutcome {
            success: false,
            gas_used,
            output: Bytes::new(),
            logs: vec![],
            halt: Some(format!("{reason:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_gets_a_new_stamp_and_a_read_none() {
        let mut chain = DevnetEvm::new(31337, 1_000);
        let mut seen = vec![chain.changes()];
        let mut stamp = |chain: &DevnetEvm, what: &str| {
            assert!(
                !seen.contains(&chain.changes()),
                "{what} left the stamp unchanged"
            );
            seen.push(chain.changes());
        };
        chain.set_time(2_000);
        stamp(&chain, "set_time");
        chain.advance(1);
        stamp(&chain, "advance");
        chain.set_balance(Address::with_last_byte(1), U256::from(1));
        stamp(&chain, "set_balance");
        chain.set_code(Address::with_last_byte(2), Bytes::from_static(&[0x00]));
        stamp(&chain, "set_code");
        chain.set_delegation(Address::with_last_byte(3), Address::with_last_byte(2));
        stamp(&chain, "set_delegation");
        chain.set_balance(
            Address::with_last_byte(4),
            U256::from(10u64).pow(U256::from(18)),
        );
        chain
            .transact(
                Address::with_last_byte(4),
                Address::with_last_byte(1),
                U256::from(1),
                Bytes::new(),
            )
            .unwrap();
        stamp(&chain, "transact");

        // Reads, and calls that commit nothing, keep it.
        let before = chain.changes();
        let _ = chain.storage(Address::with_last_byte(2), U256::ZERO);
        let _ = chain.call(Address::with_last_byte(2), Bytes::new());
        assert_eq!(chain.changes(), before);

        // A clone that goes its own way never meets the original's stamps.
        let mut fork = chain.clone();
        assert_eq!(fork.changes(), chain.changes());
        fork.advance(1);
        chain.advance(1);
        assert_ne!(fork.changes(), chain.changes());
    }
}
