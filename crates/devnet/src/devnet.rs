//! The devnet: both EntryPoints at their canonical addresses, the sessionkeys contracts
//! and the test fixtures, all deployed with CREATE2 (salt 0) through the deterministic deployer,
//! so every address below is fixed and the same on every run.

use crate::DevnetError;
use crate::evm::{DevnetEvm, TxOutcome};
use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::UserOperation;
use sessionkeys_chain::deployment::{self, fixtures};
use sessionkeys_chain::entrypoint::{EntryPointVersion, abi::IEntryPoint};
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_chain::userop::{nonce_key, session_lane};
use sessionkeys_contracts::abi;
use sessionkeys_contracts::session::SessionSpec;

/// Chain id of the devnet (as anvil's default).
pub const DEVNET_CHAIN_ID: u64 = 31337;
/// Start time of the devnet: 2026-11-24T03:25:45Z (off every period boundary).
pub const DEVNET_GENESIS_TIME: u64 = 1_795_478_400 + 12_345;
/// Pays for deployments and owns the registry on the devnet.
pub const DEVNET_ADMIN: Address = deployment::DEFAULT_FACTORY_OWNER;
/// The bundler's EOA: sends `handleOps` and is the beneficiary.
pub const DEVNET_BUNDLER: Address = address!("0x5e55104000000000000000000000000000000b0b");

/// Addresses of everything the devnet deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevnetAddresses {
    /// SessionKeyValidator without a registry.
    pub validator: Address,
    /// SessionUsageLens (the remaining budgets of a session on either validator).
    pub usage_lens: Address,
    /// PolicyRegistry administered by [`DEVNET_ADMIN`].
    pub registry: Address,
    /// SessionKeyValidator in registry mode.
    pub registry_validator: Address,
    /// SessionAccountFactory for EntryPoint v0.7.
    pub factory_v07: Address,
    /// SessionAccountFactory for EntryPoint v0.8.
    pub factory_v08: Address,
    /// A USDC-like test token (6 decimals).
    pub usdc: Address,
    /// An 18-decimal test token.
    pub token18: Address,
    /// The game fixture.
    pub game: Address,
    /// Sponsoring paymaster for v0.7.
    pub paymaster_v07: Address,
    /// Sponsoring paymaster for v0.8.
    pub paymaster_v08: Address,
    /// A validator that breaks ERC-7562 (negative fixture).
    pub timestamp_validator: Address,
}

impl DevnetAddresses {
    /// The factory for an EntryPoint version.
    pub fn factory(&self, version: EntryPointVersion) -> Address {
        match version {
            EntryPointVersion::V07 => self.factory_v07,
            EntryPointVersion::V08 => self.factory_v08,
        }
    }

    /// The sponsoring paymaster for an EntryPoint version.
    pub fn paymaster(&self, version: EntryPointVersion) -> Address {
        match version {
            EntryPointVersion::V07 => self.paymaster_v07,
            EntryPointVersion::V08 => self.paymaster_v08,
        }
    }
}

/// What a userOp did inside a bundle (from the EntryPoint's events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// The userOp hash.
    pub user_op_hash: B256,
    /// Whether its execution succeeded (validation always did, or the bundle would revert).
    pub success: bool,
    /// What the account or paymaster paid.
    pub actual_gas_cost: U256,
    /// Gas the EntryPoint accounted for the op.
    pub actual_gas_used: U256,
    /// The execution's revert data, if it reverted.
    pub revert_reason: Option<Bytes>,
}

impl OpResult {
    /// The execution's revert reason, decoded.
    pub fn decoded_revert(&self) -> Option<sessionkeys_chain::RevertReason> {
        self.revert_reason
            .as_ref()
            .map(|data| sessionkeys_chain::decode_revert(data))
    }
}

impl BundleError {
    /// The validator's or account's revert, decoded (for `FailedOpWithRevert`).
    pub fn decoded_inner(&self) -> Option<sessionkeys_chain::RevertReason> {
        match self {
            Self::FailedOp { inner, .. } if !inner.is_empty() => {
                Some(sessionkeys_chain::decode_revert(inner))
            }
            _ => None,
        }
    }
}

/// A mined bundle.
#[derive(Debug, Clone)]
pub struct BundleReceipt {
    /// Receipt gas of the `handleOps` transaction.
    pub gas_used: u64,
    /// One result per op.
    pub ops: Vec<OpResult>,
    /// Every log of the transaction.
    pub logs: Vec<alloy::primitives::Log>,
}

/// Why a bundle did not land.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The EntryPoint refused an op in validation (`FailedOp` / `FailedOpWithRevert`).
    #[error("userOp {op_index} refused: {reason}{}", if inner.is_empty() { String::new() } else { format!(": {}", sessionkeys_chain::decode_revert(inner)) })]
    FailedOp {
        /// Index of the op in the bundle.
        op_index: usize,
        /// The EntryPoint's `AAxx` reason.
        reason: String,
        /// The account's or validator's revert data, for `FailedOpWithRevert`.
        inner: Bytes,
    },
    /// `handleOps` reverted in another way.
    #[error("handleOps reverted: {}", sessionkeys_chain::decode_revert(.0))]
    Reverted(Bytes),
}

/// The devnet with everything deployed, and an in-process bundler.
#[derive(Clone, Debug)]
pub struct Devnet {
    /// The chain itself.
    pub chain: DevnetEvm,
    /// Where everything is.
    pub addresses: DevnetAddresses,
}

impl Devnet {
    /// Deploys the EntryPoints (read from npm), our contracts and fixtures on a fresh chain.
    pub fn new() -> Result<Self, DevnetError> {
        let mut chain = DevnetEvm::new(DEVNET_CHAIN_ID, DEVNET_GENESIS_TIME);
        let ether = U256::from(10u64).pow(U256::from(18));
        chain.set_balance(DEVNET_ADMIN, ether * U256::from(1_000_000u64));
        chain.set_balance(DEVNET_BUNDLER, ether * U256::from(1_000u64));
        for version in EntryPointVersion::ALL {
            let entry_point = deployment::entry_point(version)?;
            let deployed =
                chain.deploy_create2(DEVNET_ADMIN, entry_point.salt, &entry_point.init_code)?;
            debug_assert_eq!(deployed, version.address());
        }
        let mut planned = |contract: deployment::PlannedContract| {
            chain.deploy_create2(DEVNET_ADMIN, contract.salt, &contract.init_code)
        };
        planned(deployment::session_spec_checks())?;
        let validator = planned(deployment::session_key_validator(Address::ZERO))?;
        let usage_lens = planned(deployment::session_usage_lens())?;
        let registry = planned(deployment::policy_registry(DEVNET_ADMIN))?;
        let registry_validator = planned(deployment::session_key_validator(registry))?;
        let factory_v07 = planned(deployment::session_account_factory(
            EntryPointVersion::V07,
            DEVNET_ADMIN,
        ))?;
        let factory_v08 = planned(deployment::session_account_factory(
            EntryPointVersion::V08,
            DEVNET_ADMIN,
        ))?;
        let usdc = planned(fixtures::usdc())?;
        let token18 = planned(fixtures::gold())?;
        let game = planned(fixtures::game())?;
        let paymaster_v07 = planned(fixtures::sponsor_paymaster(EntryPointVersion::V07))?;
        let paymaster_v08 = planned(fixtures::sponsor_paymaster(EntryPointVersion::V08))?;
        let timestamp_validator = planned(fixtures::timestamp_validator())?;
        let addresses = DevnetAddresses {
            validator,
            usage_lens,
            registry,
            registry_validator,
            factory_v07,
            factory_v08,
            usdc,
            token18,
            game,
            paymaster_v07,
            paymaster_v08,
            timestamp_validator,
        };
        let mut devnet = Self { chain, addresses };
        for version in EntryPointVersion::ALL {
            devnet.send(
                DEVNET_ADMIN,
                addresses.paymaster(version),
                ether * U256::from(100u64),
                &abi::SponsorPaymaster::depositCall {},
            )?;
            // Staked as ERC-7562 bundlers require, so a new account's first op (initCode) may
            // touch the validator's storage of the new sender (STO-022).
            devnet.send(
                DEVNET_ADMIN,
                addresses.factory(version),
                U256::from(crate::erc7562::MIN_STAKE_WEI),
                &abi::SessionAccountFactory::addStakeCall {
                    unstakeDelaySec: crate::erc7562::MIN_UNSTAKE_DELAY,
                },
            )?;
        }
        Ok(devnet)
    }

    /// Sends a typed call from `from` and commits it; a revert is an error carrying its data.
    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        call: &C,
    ) -> Result<TxOutcome, DevnetError> {
        let outcome = self
            .chain
            .transact(from, to, value, call.abi_encode().into())?;
        if outcome.success {
            Ok(outcome)
        } else {
            Err(DevnetError::CallReverted {
                to,
                data: outcome.output,
            })
        }
    }

    /// The EntryPoint's hash of `op` (computed by the EntryPoint itself).
    pub fn user_op_hash(
        &mut self,
        version: EntryPointVersion,
        op: &UserOperation,
    ) -> Result<B256, DevnetError> {
        self.chain.call_typed(
            version.address(),
            &IEntryPoint::getUserOpHashCall { userOp: op.pack() },
        )
    }

    /// The next nonce of `sender` for a nonce key.
    pub fn nonce(
        &mut self,
        version: EntryPointVersion,
        sender: Address,
        key: alloy::primitives::aliases::U192,
    ) -> Result<U256, DevnetError> {
        self.chain.call_typed(
            version.address(),
            &IEntryPoint::getNonceCall { sender, key },
        )
    }

    /// Whether `entity` (a factory, say) is staked in the version's EntryPoint as ERC-7562
    /// bundlers require: staked, at least `MIN_STAKE_WEI`, an unstake delay of at least
    /// `MIN_UNSTAKE_DELAY`, and not unlocking.
    pub fn is_staked(
        &mut self,
        version: EntryPointVersion,
        entity: Address,
    ) -> Result<bool, DevnetError> {
        let info = self.chain.call_typed(
            version.address(),
            &sessionkeys_chain::entrypoint::abi::IEntryPoint::getDepositInfoCall {
                account: entity,
            },
        )?;
        Ok(info.staked
            && info.stake.to::<u128>() >= crate::erc7562::MIN_STAKE_WEI
            && info.unstakeDelaySec >= crate::erc7562::MIN_UNSTAKE_DELAY
            && info.withdrawTime.is_zero())
    }

    /// Creates a `SessionAccount` for `owner` through the version's factory (paid by the admin)
    /// and returns its address.
    pub fn create_account(
        &mut self,
        version: EntryPointVersion,
        owner: Address,
        validators: Vec<Address>,
        salt: U256,
    ) -> Result<Address, DevnetError> {
        let factory = self.addresses.factory(version);
        let account = self.chain.call_typed(
            factory,
            &abi::SessionAccountFactory::getAddressCall {
                owner,
                validators: validators.clone(),
                salt,
            },
        )?;
        self.send(
            DEVNET_ADMIN,
            factory,
            U256::ZERO,
            &abi::SessionAccountFactory::createAccountCall {
                owner,
                validators,
                salt,
            },
        )?;
        Ok(account)
    }

    /// An op of `account` signed by its owner (nonce key 0).
    pub fn owner_op(
        &mut self,
        version: EntryPointVersion,
        account: Address,
        owner: &PrivateKeySigner,
        calls: &[Call],
    ) -> Result<UserOperation, DevnetError> {
        let nonce = self.nonce(version, account, Default::default())?;
        let mut op = UserOperation::new(account, nonce, encode_calls(calls));
        op.signature = signing::sign_digest(owner, self.user_op_hash(version, &op)?);
        Ok(op)
    }

    /// An op of `account` under `spec`, signed by `session_key` with `time_hint`, on the
    /// session's nonce lane of `validator`; `enable` makes it an enable-in-first-use op and
    /// `adjust` may change gas or paymaster fields before signing.
    #[allow(clippy::too_many_arguments)]
    pub fn session_op(
        &mut self,
        version: EntryPointVersion,
        validator: Address,
        account: Address,
        spec: &SessionSpec,
        session_key: &PrivateKeySigner,
        call_data: Bytes,
        time_hint: u64,
        enable: Option<&EnableApproval>,
        adjust: impl FnOnce(&mut UserOperation),
    ) -> Result<UserOperation, DevnetError> {
        let hash = signing::session_hash(spec)?;
        let nonce = self.nonce(version, account, nonce_key(validator, session_lane(hash)))?;
        let mut op = UserOperation::new(account, nonce, call_data);
        adjust(&mut op);
        // The userOp hash excludes the signature: hash with an unsigned placeholder.
        op.signature = signing::encode_session_signature(
            spec,
            time_hint,
            &op.call_data,
            &signing::UNSIGNED,
            enable,
        )?;
        let user_op_hash = self.user_op_hash(version, &op)?;
        let mode = if enable.is_some() {
            signing::SignatureMode::Enable
        } else {
            signing::SignatureMode::Use
        };
        let signature = signing::sign_digest(
            session_key,
            signing::session_digest(user_op_hash, hash, time_hint, mode),
        );
        op.signature = signing::with_session_signature(&op.signature, &signature);
        Ok(op)
    }

    /// Submits `ops` as one `handleOps` bundle from the bundler's EOA.
    pub fn handle_ops(
        &mut self,
        version: EntryPointVersion,
        ops: &[UserOperation],
    ) -> Result<BundleReceipt, DevnetError> {
        self.handle_ops_inspect(version, ops, crate::evm::NoInspector)?
            .0
            .map_err(DevnetError::Bundle)
    }

    /// Like [`handle_ops`](Self::handle_ops) with an inspector, handed back with its findings;
    /// the bundle's own failure is the inner result so the findings come back either way.
    pub fn handle_ops_inspect<I>(
        &mut self,
        version: EntryPointVersion,
        ops: &[UserOperation],
        inspector: I,
    ) -> Result<(Result<BundleReceipt, BundleError>, I), DevnetError>
    where
        I: revm::Inspector<
                revm::handler::MainnetContext<revm::database::CacheDB<revm::database::EmptyDB>>,
            >,
    {
        let call = IEntryPoint::handleOpsCall {
            ops: ops.iter().map(UserOperation::pack).collect(),
            beneficiary: DEVNET_BUNDLER,
        };
        let (outcome, inspector) = self.chain.transact_inspect(
            DEVNET_BUNDLER,
            version.address(),
            U256::ZERO,
            call.abi_encode().into(),
            inspector,
        )?;
        Ok((bundle_result(version, outcome), inspector))
    }
}

fn bundle_result(
    version: EntryPointVersion,
    outcome: TxOutcome,
) -> Result<BundleReceipt, BundleError> {
    use alloy::sol_types::{SolError, SolEvent};
    if !outcome.success {
        if let Ok(e) = IEntryPoint::FailedOp::abi_decode(&outcome.output) {
            return Err(BundleError::FailedOp {
                op_index: e.opIndex.to(),
                reason: e.reason,
                inner: Bytes::new(),
            });
        }
        if let Ok(e) = IEntryPoint::FailedOpWithRevert::abi_decode(&outcome.output) {
            return Err(BundleError::FailedOp {
                op_index: e.opIndex.to(),
                reason: e.reason,
                inner: e.inner,
            });
        }
        return Err(BundleError::Reverted(outcome.output));
    }
    let mut ops: Vec<OpResult> = Vec::new();
    let mut reasons = std::collections::HashMap::new();
    for log in &outcome.logs {
        if log.address != version.address() {
            continue;
        }
        if let Ok(e) = IEntryPoint::UserOperationRevertReason::decode_log(log) {
            reasons.insert(e.userOpHash, e.revertReason.clone());
        }
        if let Ok(e) = IEntryPoint::UserOperationEvent::decode_log(log) {
            ops.push(OpResult {
                user_op_hash: e.userOpHash,
                success: e.success,
                actual_gas_cost: e.actualGasCost,
                actual_gas_used: e.actualGasUsed,
                revert_reason: None,
            });
        }
    }
    for op in &mut ops {
        op.revert_reason = reasons.remove(&op.user_op_hash);
    }
    Ok(BundleReceipt {
        gas_used: outcome.gas_used,
        ops,
        logs: outcome.logs,
    })
}
