//! Test harness: a deployed devnet snapshot, an account with an owner key, sessions signed by a
//! session key, and bundles checked by the ERC-7562 inspector.
#![allow(dead_code)]

use alloy::primitives::{Address, B256, Bytes, U256, aliases::U48};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolInterface};
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::{SessionAccount, TestToken};
use sessionkeys_contracts::session::{
    CallPolicy, ChainEpoch, ISessionKeyValidator, SessionSpec, TransferPolicy,
};
use sessionkeys_contracts::vocabulary::packed::decode_signature;
use sessionkeys_devnet::devnet::{DEVNET_ADMIN, Devnet};
use sessionkeys_devnet::erc7562::Erc7562Inspector;
use sessionkeys_devnet::funded::Funds;
use sessionkeys_devnet::judge;
use sessionkeys_devnet::{BundleError, BundleReceipt, DevnetError};
use std::sync::OnceLock;

pub use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as VErr;
pub use sessionkeys_contracts::session::{Constraint, UsageLimit};
// The vocabulary for every test file that globs this harness (each uses a few of them).
#[allow(unused_imports)]
pub use sessionkeys_contracts::vocabulary::{
    Condition, CounterKind, LimitType, PaymasterMode, ReviewStatus, SignatureMode, Status,
};

pub const ETHER: u64 = 1_000_000_000_000_000_000;
/// 1 USDC in base units.
pub const USDC: u64 = 1_000_000;

/// Well-known recipients in tests.
pub const ALICE: Address =
    alloy::primitives::address!("0xA11CE00000000000000000000000000000000001");
pub const BOB: Address = alloy::primitives::address!("0xB0B0000000000000000000000000000000000002");
pub const CAROL: Address =
    alloy::primitives::address!("0xCA401000000000000000000000000000000000C3");

fn base() -> &'static Devnet {
    static BASE: OnceLock<Devnet> = OnceLock::new();
    BASE.get_or_init(|| {
        Devnet::new().expect("devnet deploys (run `npm ci --prefix contracts` first)")
    })
}

/// A fresh copy of the deployed devnet.
pub fn devnet() -> Devnet {
    base().clone()
}

pub fn key(seed: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).expect("non-zero key")
}

/// What a bundle of one op ended as.
#[derive(Debug)]
pub enum Verdict {
    /// Validation passed and execution succeeded.
    Ok(BundleReceipt),
    /// Validation passed, execution reverted (data of the revert).
    ExecutionReverted(Bytes),
    /// The validator (through the account) reverted with one of its named errors.
    Refused(VErr),
    /// The EntryPoint refused for another reason (e.g. "AA24 signature error").
    EntryPoint(String, Bytes),
}

impl Verdict {
    pub fn unwrap_ok(self) -> BundleReceipt {
        match self {
            Verdict::Ok(r) => r,
            other => panic!("expected the op to pass, got {other:?}"),
        }
    }
    pub fn unwrap_refused(self) -> VErr {
        match self {
            Verdict::Refused(e) => e,
            other => panic!("expected a named refusal, got {other:?}"),
        }
    }
    pub fn unwrap_entrypoint(self) -> String {
        match self {
            Verdict::EntryPoint(reason, _) => reason,
            other => panic!("expected an EntryPoint refusal, got {other:?}"),
        }
    }
}

pub struct Harness {
    pub devnet: Devnet,
    pub version: EntryPointVersion,
    pub owner: PrivateKeySigner,
    pub account: Address,
    pub session_key: PrivateKeySigner,
    pub validator: Address,
    /// Every whole spec an op was built for, by session hash: a use-mode op carries only the
    /// policies its calls use, and the judge's snapshot needs the session's counters.
    pub specs: std::collections::HashMap<B256, SessionSpec>,
}

impl Harness {
    /// A deployed account (owner key 1) with the session validator installed, 10 ETH and
    /// 1,000 USDC.
    pub fn new(version: EntryPointVersion) -> Self {
        Self::with_validator(version, base().addresses.validator)
    }

    pub fn with_validator(version: EntryPointVersion, validator: Address) -> Self {
        let mut devnet = devnet();
        let owner = key(1);
        let account = devnet
            .funded_account(
                version,
                owner.address(),
                vec![validator],
                Funds::eth_and_usdc(10, 1000),
            )
            .unwrap();
        let usdc = devnet.addresses.usdc;
        // A non-zero recipient balance, as in the pinned S1 scenario.
        for r in [ALICE, BOB, CAROL] {
            devnet
                .send(
                    DEVNET_ADMIN,
                    usdc,
                    U256::ZERO,
                    &TestToken::mintCall {
                        to: r,
                        amount: U256::from(1u64),
                    },
                )
                .unwrap();
        }
        Self {
            devnet,
            version,
            owner,
            account,
            session_key: key(2),
            validator,
            specs: std::collections::HashMap::new(),
        }
    }

    pub fn now(&self) -> u64 {
        self.devnet.chain.time()
    }

    pub fn usdc(&self) -> Address {
        self.devnet.addresses.usdc
    }

    pub fn usdc_balance(&mut self, who: Address) -> U256 {
        let usdc = self.usdc();
        self.devnet
            .chain
            .call_typed(usdc, &TestToken::balanceOfCall::new((who,)))
            .unwrap()
    }

    /// An owner-signed op (nonce key 0).
    pub fn owner_op(&mut self, calls: &[Call]) -> UserOperation {
        self.devnet
            .owner_op(self.version, self.account, &self.owner, calls)
            .unwrap()
    }

    /// Runs the owner's calls; panics if they do not succeed.
    pub fn owner_exec(&mut self, calls: &[Call]) -> BundleReceipt {
        let op = self.owner_op(calls);
        match self.submit(op) {
            Verdict::Ok(r) => r,
            other => panic!("owner op failed: {other:?}"),
        }
    }

    /// A spec skeleton: signer = the session key, valid from now for an hour, nothing allowed.
    pub fn spec(&self) -> SessionSpec {
        SessionSpec {
            signer: self.session_key.address(),
            validAfter: U48::from(self.now() - 60),
            validUntil: U48::from(self.now() + 3600),
            feeLimit: UsageLimit::unlimited(),
            paymasterMode: PaymasterMode::None.into(),
            paymaster: Address::ZERO,
            opLimit: UsageLimit::unlimited(),
            callPolicies: vec![],
            transferPolicies: vec![],
            salt: B256::ZERO,
        }
    }

    /// Enables the session on-chain through an owner op calling `enableSession`.
    pub fn enable(&mut self, spec: &SessionSpec) -> B256 {
        let call = Call::typed(
            self.validator,
            &ISessionKeyValidator::enableSessionCall { spec: packed(spec) },
        );
        self.owner_exec(&[call]);
        signing::session_hash(spec).unwrap()
    }

    /// A session op in use mode, signed by the session key, with the hint = now.
    pub fn session_op(&mut self, spec: &SessionSpec, calls: &[Call]) -> UserOperation {
        let hint = self.now();
        self.session_op_with(spec, encode_calls(calls), hint, None, |_| {})
    }

    /// A session op with every part chosen: raw callData, hint, enable approval, and a hook to
    /// change the op before it is signed.
    pub fn session_op_with(
        &mut self,
        spec: &SessionSpec,
        call_data: Bytes,
        hint: u64,
        enable: Option<&EnableApproval>,
        adjust: impl FnOnce(&mut UserOperation),
    ) -> UserOperation {
        let (version, validator, account) = (self.version, self.validator, self.account);
        if let Ok(hash) = signing::session_hash(spec) {
            self.specs.insert(hash, spec.clone());
        }
        self.devnet
            .session_op(
                version,
                validator,
                account,
                spec,
                &self.session_key,
                call_data,
                hint,
                enable,
                adjust,
            )
            .unwrap()
    }

    /// A second account owned by `key(seed)` with this harness's validator and 1 ETH.
    pub fn other_account(&mut self, seed: u8) -> Address {
        let (version, validator) = (self.version, self.validator);
        let account = self
            .devnet
            .create_account(version, key(seed).address(), vec![validator], U256::ZERO)
            .unwrap();
        self.devnet.chain.set_balance(account, U256::from(ETHER));
        account
    }

    /// Delegates the owner's EOA (EIP-7702) to the `SessionAccount` implementation behind this
    /// version's factory, and returns the EOA.
    pub fn delegate_owner_eoa(&mut self) -> Address {
        let factory = self.devnet.addresses.factory(self.version);
        let implementation = self
            .devnet
            .chain
            .call_typed(
                factory,
                &sessionkeys_contracts::abi::SessionAccountFactory::IMPLEMENTATIONCall {},
            )
            .unwrap();
        let eoa = self.owner.address();
        self.devnet.chain.set_delegation(eoa, implementation);
        eoa
    }

    /// The owner's approval of `spec` for this account on `chains`.
    pub fn approval(&self, spec: &SessionSpec, chains: Vec<ChainEpoch>) -> EnableApproval {
        let digest = signing::enable_digest(self.validator, self.account, spec, &chains);
        EnableApproval {
            chains,
            owner_signature: signing::sign_digest(&self.owner, digest),
        }
    }

    /// This chain at the account's current epoch.
    pub fn this_chain(&mut self) -> ChainEpoch {
        let epoch = self.epoch();
        ChainEpoch {
            chainId: self.devnet.chain.chain_id(),
            epoch,
        }
    }

    pub fn epoch(&mut self) -> u64 {
        let (validator, account) = (self.validator, self.account);
        self.devnet
            .chain
            .call_typed(validator, &ISessionKeyValidator::epochOfCall { account })
            .unwrap()
    }

    /// Submits one op as a bundle under the ERC-7562 inspector; a successful validation must
    /// show no violation. A session op (its nonce key names a session validator) is first judged
    /// by the Rust engine against the same state, and the contract's verdict must equal the
    /// engine's: every chain test that submits a session op proves both sides of its rule.
    pub fn submit(&mut self, op: UserOperation) -> Verdict {
        let prediction = self.engine_prediction(&op);
        // STO-022: a deploying op's factory must be staked (read from the EntryPoint).
        let mut staked = Vec::new();
        if let Some((factory, _)) = &op.factory
            && self.devnet.is_staked(self.version, *factory).unwrap()
        {
            staked.push(*factory);
        }
        let inspector = Erc7562Inspector::new(self.version.address()).with_staked_factories(staked);
        let (result, inspector) = self
            .devnet
            .handle_ops_inspect(self.version, &[op], inspector)
            .unwrap();
        if let Some((engine, explanation)) = prediction {
            let (contract, receipt) = judge::contract_verdict(result.clone())
                .expect("the bundle reverted outside the EntryPoint's own checks");
            let judgement = judge::Judgement {
                contract,
                engine,
                explanation,
                receipt,
            };
            assert!(
                judgement.agrees(),
                "the engine and the contract disagree: contract {}, engine {}",
                judgement.contract,
                judgement.engine
            );
        }
        match result {
            Ok(receipt) => {
                assert!(
                    inspector.validations_seen >= 1,
                    "the inspector saw the validation"
                );
                assert!(
                    inspector.violations.is_empty(),
                    "ERC-7562 violations on an accepted op: {:#?}",
                    inspector.violations
                );
                let op = &receipt.ops[0];
                if op.success {
                    Verdict::Ok(receipt)
                } else {
                    Verdict::ExecutionReverted(op.revert_reason.clone().unwrap_or_default())
                }
            }
            Err(BundleError::FailedOp { reason, inner, .. }) => match VErr::abi_decode(&inner) {
                Ok(e) => Verdict::Refused(e),
                Err(_) => Verdict::EntryPoint(reason, inner),
            },
            Err(BundleError::Reverted(data)) => {
                panic!("handleOps reverted without FailedOp: {data}")
            }
        }
    }

    /// The engine's verdict on a session op, judged on a copy of the state before it runs;
    /// `None` for ops of other validators (the owner's, the EIP-7702 EOA's), which the engine
    /// routes away (`OtherValidator`).
    fn engine_prediction(
        &mut self,
        op: &UserOperation,
    ) -> Option<(judge::Verdict, Option<String>)> {
        let validator = Address::from_slice(&B256::from(op.nonce).as_slice()[..20]);
        let validators = [
            self.devnet.addresses.validator,
            self.devnet.addresses.registry_validator,
        ];
        if !validators.contains(&validator) {
            return None;
        }
        // The session the op names: the whole spec when the harness built it (a use-mode op
        // carries only the policies its calls use), else what it carries. An op whose signature
        // does not decode is refused before the engine reads any counter, so any spec judges it.
        let spec = decode_signature(&op.signature)
            .ok()
            .map(|decoded| {
                self.specs
                    .get(&decoded.session_hash)
                    .cloned()
                    .unwrap_or_else(|| decoded.spec())
            })
            .unwrap_or_default();
        let owner = self
            .devnet
            .chain
            .call_typed(op.sender, &SessionAccount::ownerCall {})
            .unwrap_or(self.owner.address());
        // Rule 6 bans calls to every installed module: ask the account about each we deploy.
        let installed: Vec<Address> = validators
            .into_iter()
            .filter(|module| {
                self.devnet
                    .chain
                    .call_typed(
                        op.sender,
                        &SessionAccount::isModuleInstalledCall {
                            moduleTypeId: U256::from(1),
                            module: *module,
                            _2: Default::default(),
                        },
                    )
                    .unwrap_or(false)
            })
            .collect();
        let mut copy = self.devnet.clone();
        Some(
            judge::predict(
                &mut copy,
                self.version,
                validator,
                &installed,
                Some(owner),
                &spec,
                op,
            )
            .expect("the engine judges the op"),
        )
    }

    pub fn session_usage(
        &mut self,
        spec: &SessionSpec,
        hint: u64,
    ) -> Vec<sessionkeys_contracts::session::CounterUsage> {
        let (validator, account) = (self.validator, self.account);
        let lens = self.devnet.addresses.usage_lens;
        self.devnet
            .chain
            .call_typed(
                lens,
                &sessionkeys_contracts::session::ISessionUsageLens::sessionUsageCall {
                    validator,
                    account,
                    spec: packed(spec),
                    timeHint: U48::from(hint),
                },
            )
            .unwrap()
    }
}

/// The packed spec the validator's enable paths and views take (docs/compact-signatures.md).
pub fn packed(spec: &SessionSpec) -> Bytes {
    sessionkeys_contracts::vocabulary::packed::encode_spec(spec)
        .expect("the test's spec has a packed form")
        .into()
}

/// The harness's session with one policy: USDC transfers to ALICE, 100 USDC in total.
pub fn spending_session(h: &Harness) -> SessionSpec {
    let mut spec = h.spec();
    spec.callPolicies = vec![usdc_policy(
        h.usdc(),
        &[ALICE],
        UsageLimit::lifetime(100 * USDC),
    )];
    spec
}

pub fn word(address: Address) -> B256 {
    address.into_word()
}

/// A call policy with no value and no limits.
pub fn call_policy(target: Address, selector: [u8; 4], constraints: Vec<Constraint>) -> CallPolicy {
    CallPolicy {
        target,
        selector: selector.into(),
        maxValuePerUse: U256::ZERO,
        valueLimit: UsageLimit::unlimited(),
        callLimit: UsageLimit::unlimited(),
        constraints,
    }
}

pub fn transfer_policy(target: Address, max_per_use: u64, limit: UsageLimit) -> TransferPolicy {
    TransferPolicy {
        target,
        maxValuePerUse: U256::from(max_per_use),
        valueLimit: limit,
    }
}

/// USDC transfer policy: recipient one of `recipients`, at most `total` in all (word 1 sum).
pub fn usdc_policy(usdc: Address, recipients: &[Address], total: UsageLimit) -> CallPolicy {
    let recipient = if recipients.len() == 1 {
        Constraint::equal(0, word(recipients[0]))
    } else {
        Constraint::one_of(0, recipients.iter().map(|r| word(*r)).collect())
    };
    let amount = Constraint::unconstrained(1).with_limit(total);
    call_policy(
        usdc,
        TestToken::transferCall::SELECTOR,
        vec![recipient, amount],
    )
}

pub fn usdc_transfer(usdc: Address, to: Address, amount: u64) -> Call {
    Call::typed(
        usdc,
        &TestToken::transferCall {
            to,
            amount: U256::from(amount),
        },
    )
}

/// Runs `f` on both EntryPoint versions.
pub fn each_version(mut f: impl FnMut(EntryPointVersion)) {
    for version in EntryPointVersion::ALL {
        f(version);
    }
}

/// The name of a validator error, for readable assertions: from alloy's selector table.
pub fn error_name(e: &VErr) -> &'static str {
    sessionkeys_engine::violation::validator_error_name(e)
}

pub fn chain_error_data(e: DevnetError) -> Bytes {
    match e {
        DevnetError::CallReverted { data, .. } => data,
        other => panic!("expected a revert, got {other}"),
    }
}

pub fn decode_execution_error<E: SolError>(data: &Bytes) -> E {
    E::abi_decode(data).unwrap_or_else(|_| panic!("expected {} in 0x{data:x}", E::SIGNATURE))
}
