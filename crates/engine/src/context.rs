//! The explicit inputs of an evaluation: a snapshot of what the validator would read.

use alloy::primitives::{Address, B256, Bytes, U256};
use std::collections::BTreeMap;

pub use sessionkeys_contracts::vocabulary::{CounterKind, Status};

/// The session's header slot: status, the epoch it was recorded under, and the op count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionHeader {
    /// Stored status.
    pub status: Status,
    /// The account epoch at enable (or revoke).
    pub epoch: u64,
    /// Period id of the last op-count charge.
    pub ops_period: u64,
    /// Ops counted in that period.
    pub ops_used: u64,
}

/// One counter's identity within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    /// The budget.
    pub kind: CounterKind,
    /// Call or transfer policy index (0 for session-wide budgets).
    pub policy: u16,
    /// Constraint index (0 unless a constraint sum).
    pub constraint: u16,
}

/// A counter's stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    /// Period id of the last charge (0 for lifetime budgets).
    pub period: u64,
    /// Used in that period.
    pub used: U256,
}

/// Everything the validator would read for one account and one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalContext {
    /// `block.chainid`.
    pub chain_id: u64,
    /// The validator's own address.
    pub validator: Address,
    /// The account (the validator's caller).
    pub account: Address,
    /// The EntryPoints the validator bans as targets.
    pub entry_points: [Address; 2],
    /// The registry, if the validator runs in registry mode.
    pub registry: Option<Address>,
    /// Modules the account reports as installed (types 1, 2, 4).
    pub installed_modules: Vec<Address>,
    /// The account's revocation epoch.
    pub account_epoch: u64,
    /// The session's header.
    pub header: SessionHeader,
    /// The session's counters (absent = zero).
    pub counters: BTreeMap<CounterKey, Counter>,
    /// The owner whose signature `isOwnerSignature` accepts, if the account is a SessionAccount.
    pub owner: Option<Address>,
    /// What the EntryPoint and the account decide before the validator runs.
    pub sender: SenderState,
}

/// What the factory call of a factory `initCode` does (the EntryPoint's `createSender`): an
/// explicit input, since the engine runs no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FactoryOutcome {
    /// It reverts, runs out of gas or returns the zero address (`AA13`).
    #[default]
    Fails,
    /// It returns `address`; `deployed` tells whether code is there afterwards (`AA15`).
    Returns {
        /// The address returned (`AA14` unless it is the sender).
        address: Address,
        /// Code at that address after the call.
        deployed: bool,
    },
}

/// The sender as the EntryPoint and a SessionAccount see it before the validator runs
/// (docs/decisions.md, "Validation order"). Read only for full userOps ([`crate::evaluate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderState {
    /// The EntryPoint version: v0.8 reads an `initCode` starting with the EIP-7702 marker as an
    /// init call on the delegated sender, v0.7 as a factory address.
    pub entry_point: sessionkeys_contracts::vocabulary::EntryPointVersion,
    /// Code at the sender before the op (a deployed account or a delegated EOA).
    pub has_code: bool,
    /// What the factory of a factory `initCode` returns.
    pub factory: FactoryOutcome,
    /// Whether the EIP-7702 init call (v0.8, `initCode` = marker ‖ calldata) reverts.
    pub init_call_reverts: bool,
    /// The validators installed on the account after any deployment: the account routes the op
    /// to the one named by the nonce key's top 160 bits (zero: the owner's own signature).
    pub validators: Vec<Address>,
}

impl SenderState {
    /// A deployed account with `validator` installed, on `entry_point`.
    pub fn deployed(
        entry_point: sessionkeys_contracts::vocabulary::EntryPointVersion,
        validator: Address,
    ) -> Self {
        Self {
            entry_point,
            has_code: true,
            factory: FactoryOutcome::Fails,
            init_call_reverts: false,
            validators: vec![validator],
        }
    }
}

/// The parts of a userOp the validator reads, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOpInput {
    /// `userOp.sender`.
    pub sender: Address,
    /// `userOp.nonce`.
    pub nonce: U256,
    /// `userOp.initCode` (factory address ‖ data, or on v0.8 the EIP-7702 marker ‖ init call).
    pub init_code: Bytes,
    /// `userOp.callData`.
    pub call_data: Bytes,
    /// `userOp.accountGasLimits`.
    pub account_gas_limits: B256,
    /// `userOp.preVerificationGas`.
    pub pre_verification_gas: U256,
    /// `userOp.gasFees`.
    pub gas_fees: B256,
    /// `userOp.paymasterAndData`.
    pub paymaster_and_data: Bytes,
    /// `userOp.signature`.
    pub signature: Bytes,
    /// The EntryPoint's hash of the op.
    pub user_op_hash: B256,
}
