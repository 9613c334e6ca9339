//! `SessionClient`: acts for an account with a session key. Every op is pre-checked by the
//! engine (and refused locally with the validator's reason), routed on the session's nonce lane,
//! priced from the bundler's estimate, signed, sent and waited for.

use crate::account::{STUB_ECDSA_SIGNATURE, SmartAccount};
use crate::backend::Backend;
use crate::error::SdkError;
use crate::operation::{self, Executed, WaitPolicy};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::deployment;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::{self, EnableApproval, SignatureMode};
use sessionkeys_chain::userop::{nonce_key, session_lane};
use sessionkeys_chain::validator_state::{self, ValidatorSetting};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::{SessionAccount, SessionAccountFactory};
use sessionkeys_contracts::session::{CounterUsage, ISessionUsageLens, SessionSpec};
use sessionkeys_engine::advisory::{EntryPointRules, EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
use sessionkeys_engine::{EvalContext, Status, Validation};
use std::sync::Arc;

/// Module types the validator bans as call targets (ERC-7579 validator, executor, hook).
const BANNED_MODULE_TYPES: [u64; 3] = [1, 2, 4];

/// What the engine says of an op before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precheck {
    /// The validator's result: window, and the counters after the op.
    pub validation: Validation,
    /// Use, or enable in first use.
    pub mode: SignatureMode,
    /// The time hint the op will carry.
    pub time_hint: u64,
}

/// What the chain said, at one block, that judging an op of one session calling some targets
/// needs ([`SessionClient::chain_view`]). It holds no key.
#[derive(Debug, Clone)]
pub struct ChainView {
    /// The engine's context: the validator's words for the session, the account's epoch, the
    /// installed-module answers for the targets.
    pub ctx: EvalContext,
    /// The latest block's time: the op's time hint.
    pub time_hint: u64,
    /// The next nonce on the session's lane.
    pub nonce: U256,
    /// The factory and its data while the account is still to be deployed.
    pub factory: Option<(Address, Bytes)>,
}

/// Sends calls for an account as one session's key.
///
/// A whole session on the devnet (this example runs as a doc test; against a node and
/// a bundler only the backend changes, see [`crate::RpcBackend`]):
///
/// ```rust
/// use alloy::primitives::{Address, U256};
/// use alloy::signers::local::PrivateKeySigner;
/// use alloy::sol_types::SolCall;
/// use sessionkeys::backend::{Backend, PlainTransaction};
/// use sessionkeys::{Call, DevnetBackend, EntryPointVersion, SdkError, SessionClient,
///     SessionGrant, SmartAccount, WaitPolicy, deployment};
/// use sessionkeys_contracts::abi::TestToken;
/// use sessionkeys_engine::format::parse_session_json;
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The devnet (EntryPoints read from `npm ci --prefix contracts`) and its in-process bundler.
/// let backend = Arc::new(DevnetBackend::new()?);
/// let validator = deployment::session_key_validator(Address::ZERO).address();
/// let usdc = deployment::fixtures::usdc().address();
/// let alice = Address::repeat_byte(0xa1);
///
/// // The owner's account (deployed by its first op), given ETH for fees and 50 USDC.
/// let owner = PrivateKeySigner::random();
/// let version = EntryPointVersion::V08;
/// let factory = deployment::session_account_factory(version, deployment::DEFAULT_FACTORY_OWNER).address();
/// let account = SmartAccount::counterfactual(backend.as_ref(), version, factory,
///     owner.address(), vec![validator], U256::ZERO).await?;
/// let payer = PrivateKeySigner::random();
/// backend.with_devnet(|d| d.chain.set_balance(payer.address(), U256::from(10u128.pow(19))));
/// let mint = TestToken::mintCall { to: account.address, amount: U256::from(50_000_000) };
/// for (to, value, data) in [
///     (account.address, U256::from(10u128.pow(18)), Vec::new()),
///     (usdc, U256::ZERO, mint.abi_encode()),
/// ] {
///     let tx = PlainTransaction { to, value, data: data.into(), authorizations: Vec::new() };
///     backend.send_transaction(&payer, tx).await?;
/// }
///
/// // The session: at most 10 USDC in all, only to Alice, for an hour.
/// let key = PrivateKeySigner::random();
/// let now = backend.latest_timestamp().await?;
/// let spec = parse_session_json(&format!(r#"{{
///     "validAfter": {after}, "validUntil": {until},
///     "callPolicies": [{{ "target": "{usdc}", "selector": "transfer(address,uint256)",
///       "constraints": [
///         {{ "index": 0, "condition": "equal", "value": "{alice}", "bits": 160 }},
///         {{ "index": 1, "condition": "unconstrained", "limit": {{ "limit": "10000000" }} }}
///       ] }}]
/// }}"#, after = now - 60, until = now + 3600))?.to_spec(Some(key.address()))?;
///
/// // The owner approves once, on-chain (this first owner op also deploys the account).
/// let grant = SessionGrant::new(spec, validator)?;
/// grant.grant_on_chain(backend.as_ref(), &account, &owner, WaitPolicy::default()).await?;
///
/// // The app acts with the session key.
/// let client = SessionClient::new(backend.clone(), account, grant.spec.clone(), key, validator)?;
/// let pay = |amount: u64| Call::typed(usdc, &TestToken::transferCall { to: alice, amount: U256::from(amount) });
/// client.send(&[pay(7_000_000)]).await?;
///
/// // One unit over what is left is refused here, with the validator's own reason: nothing is
/// // signed, sent or paid.
/// match client.send(&[pay(3_000_001)]).await {
///     Err(SdkError::Refused { violation }) => assert_eq!(violation.name(), "LimitExceeded"),
///     other => panic!("expected a refusal, got {other:?}"),
/// }
/// let left = client.usage().await?;
/// assert_eq!(left[0].remaining, U256::from(3_000_000));
/// # Ok(()) }
/// ```
///
/// # Security
/// The session key signs in memory and is never logged or sent; the client refuses to sign an
/// op the engine says the validator would refuse.
#[derive(Clone)]
pub struct SessionClient {
    backend: Arc<dyn Backend>,
    account: SmartAccount,
    spec: SessionSpec,
    hash: B256,
    /// The session key, when this client holds it; `None` when the app that asked for the
    /// session keeps it ([`for_external_signer`](Self::for_external_signer)).
    key: Option<PrivateKeySigner>,
    setting: ValidatorSetting,
    approval: Option<EnableApproval>,
    wait: WaitPolicy,
    expiry_margin: u64,
    journal: Option<Arc<operation::RecordBeforeSend>>,
}

/// An op priced and judged, waiting for the session key's signature (a key held elsewhere):
/// made by [`SessionClient::prepare_op`], sent by [`SessionClient::submit_prepared`].
#[derive(Debug, Clone)]
pub struct PreparedOp {
    /// The op; its signature field holds a stub of the real one's length (the userOp hash
    /// leaves it out).
    pub op: UserOperation,
    /// The EntryPoint's hash of the op.
    pub user_op_hash: B256,
    /// What the session key signs (rule 10): `keccak256(userOpHash, sessionHash, timeHint,
    /// mode)`, raw ECDSA over these 32 bytes.
    pub digest: B256,
    /// The time hint the digest binds.
    pub time_hint: u64,
    /// Use, or enable in first use.
    pub mode: SignatureMode,
}

/// How far ahead of a bundler's clock an op's `validUntil` must be for the bundler to accept it:
/// 30 s in the ERC-4337 reference bundler (Alto asks 5).
pub const DEFAULT_EXPIRY_MARGIN: u64 = 30;

impl std::fmt::Debug for SessionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClient")
            .field("backend", &self.backend.describe())
            .field("account", &self.account.address)
            .field("session", &self.hash)
            .field("signer", &self.spec.signer)
            .field("holds_key", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl SessionClient {
    /// A client for `account` under `spec`, enforced by `validator`, signing with `key`.
    ///
    /// # Errors
    /// [`SdkError::Account`] when `key` is not the session's signer.
    pub fn new(
        backend: Arc<dyn Backend>,
        account: SmartAccount,
        spec: SessionSpec,
        key: PrivateKeySigner,
        validator: Address,
    ) -> Result<Self, SdkError> {
        Self::for_external_signer(backend, account, spec, validator)?.with_key(key)
    }

    /// This client signing with `key`, which must be the session's signer.
    fn with_key(mut self, key: PrivateKeySigner) -> Result<Self, SdkError> {
        if key.address() != self.spec.signer {
            return Err(SdkError::Account(format!(
                "the session key given is {}, but the session's signer is {}",
                key.address(),
                self.spec.signer
            )));
        }
        self.key = Some(key);
        Ok(self)
    }

    /// A client for a session whose key someone else holds (ERC-7715: the app keeps its key
    /// and the service never sees it): it prepares ops ([`prepare_op`](Self::prepare_op)) and
    /// submits them signed ([`submit_prepared`](Self::submit_prepared)); [`send`](Self::send)
    /// is [`SdkError::KeyHeldElsewhere`].
    ///
    /// # Errors
    /// A spec that does not hash ([`SdkError::InvalidSpec`]).
    pub fn for_external_signer(
        backend: Arc<dyn Backend>,
        account: SmartAccount,
        spec: SessionSpec,
        validator: Address,
    ) -> Result<Self, SdkError> {
        Ok(Self {
            backend,
            account,
            hash: sessionkeys_engine::session_hash(&spec)?,
            spec,
            key: None,
            setting: ValidatorSetting {
                validator,
                entry_points: [
                    EntryPointVersion::V07.address(),
                    EntryPointVersion::V08.address(),
                ],
                registry: None,
            },
            approval: None,
            wait: WaitPolicy::default(),
            expiry_margin: DEFAULT_EXPIRY_MARGIN,
            journal: None,
        })
    }

    /// A client for a stored session: its key opened with `password`, its account deployable
    /// by the first op when the store keeps the factory, and the owner's approval carried while
    /// the session waits for its first use.
    ///
    /// # Errors
    /// As [`from_records`](Self::from_records); a wrong password is [`SdkError::Store`].
    pub fn from_store(
        backend: Arc<dyn Backend>,
        store: &crate::store::SessionStore,
        stored: &crate::store::StoredSession,
        password: &[u8],
    ) -> Result<Self, SdkError> {
        Self::from_records(backend, &store.unlocked(password), stored)
    }

    /// A client for a session kept in `records`: its key opened there, its account deployable
    /// by the first op when the record keeps the factory, and the owner's approval carried
    /// while the session waits for its first use.
    ///
    /// # Errors
    /// A session still waiting for the owner's signature is [`SdkError::Account`], saying to
    /// approve it first; a key that does not open is [`SdkError::Store`].
    pub fn from_records(
        backend: Arc<dyn Backend>,
        records: &dyn crate::records::SessionRecords,
        stored: &crate::store::StoredSession,
    ) -> Result<Self, SdkError> {
        let client = Self::without_key(backend, stored)?;
        if stored.key_is_external() {
            return Ok(client);
        }
        client.with_key(records.open_key(stored)?)
    }

    /// A client for a stored session that judges ops ([`precheck`](Self::precheck)) and signs
    /// none: the key stays sealed in its store (a pre-check needs none, and opening a key
    /// costs a public-key derivation).
    ///
    /// # Errors
    /// As [`from_records`](Self::from_records), less the key's.
    pub fn without_key(
        backend: Arc<dyn Backend>,
        stored: &crate::store::StoredSession,
    ) -> Result<Self, SdkError> {
        use crate::store::StoredStatus;
        if stored.status == StoredStatus::Requested {
            return Err(SdkError::Account(format!(
                "session {} waits for the owner's approval: sign its typed data and run \
                 `sessionkeys session approve` first",
                stored.hash
            )));
        }
        let client = Self::for_external_signer(
            backend,
            stored.account()?,
            stored.spec()?,
            stored.validator,
        )?;
        Ok(match (stored.status, &stored.approval) {
            (StoredStatus::Approved, Some(approval)) => {
                client.with_enable_approval(approval.to_approval())
            }
            _ => client,
        })
    }

    /// Carries the owner's approval: until the session is enabled, ops enable it in their
    /// first use.
    pub fn with_enable_approval(mut self, approval: EnableApproval) -> Self {
        self.approval = Some(approval);
        self
    }

    /// The validator runs in registry mode with `registry`.
    pub fn with_registry(mut self, registry: Address) -> Self {
        self.setting.registry = Some(registry);
        self
    }

    /// How long to wait for receipts.
    pub fn with_wait(mut self, wait: WaitPolicy) -> Self {
        self.wait = wait;
        self
    }

    /// How many seconds ahead of now an op's `validUntil` must be ([`DEFAULT_EXPIRY_MARGIN`]).
    /// An op whose rate-limit or allowance period ends sooner waits for the next period; a
    /// session that ends sooner is [`SdkError::ExpiresTooSoon`].
    pub fn with_expiry_margin(mut self, seconds: u64) -> Self {
        self.expiry_margin = seconds;
        self
    }

    /// Runs `record` on every op this client signs, just before it is sent (with the userOp
    /// hash): a journal that outlives a crash learns of every op that may land. When `record`
    /// fails, nothing is sent.
    pub fn with_journal(mut self, record: Arc<operation::RecordBeforeSend>) -> Self {
        self.journal = Some(record);
        self
    }

    /// The session hash.
    pub fn session_hash(&self) -> B256 {
        self.hash
    }

    /// The account.
    pub fn account(&self) -> &SmartAccount {
        &self.account
    }

    /// The engine's context: what the validator will read for this account, session and calls.
    pub async fn context(&self, calls: &[Call]) -> Result<EvalContext, SdkError> {
        self.context_for_targets(calls.iter().map(|c| c.to).collect())
            .await
    }

    /// The engine's context for an op calling `targets`.
    async fn context_for_targets(&self, targets: Vec<Address>) -> Result<EvalContext, SdkError> {
        let backend = self.backend.as_ref();
        let account = self.account.address;
        let slots = validator_state::context_slots(account, &self.spec, self.hash);
        let mut words = Vec::with_capacity(slots.len());
        for slot in slots {
            words.push(backend.storage(self.setting.validator, slot).await?);
        }
        let chain_id = backend.chain_id().await?;
        let mut ctx = validator_state::eval_context_from_words(
            chain_id,
            &self.setting,
            account,
            &self.spec,
            &words,
        );
        ctx.owner = Some(self.account.owner);
        ctx.installed_modules = self.installed_modules(targets).await?;
        Ok(ctx)
    }

    /// Which call targets the account reports as installed modules (the validator bans them).
    async fn installed_modules(&self, mut targets: Vec<Address>) -> Result<Vec<Address>, SdkError> {
        let backend = self.backend.as_ref();
        if !self.account.is_deployed(backend).await? {
            // Deployed by this op: the modules are those the factory installs.
            return Ok(match &self.account.factory {
                Some((_, data)) => SessionAccountFactory::createAccountCall::abi_decode(data)
                    .map(|c| c.validators)
                    .unwrap_or_default(),
                None => Vec::new(),
            });
        }
        let mut installed = Vec::new();
        targets.sort();
        targets.dedup();
        for target in targets {
            for module_type in BANNED_MODULE_TYPES {
                let query = SessionAccount::isModuleInstalledCall {
                    moduleTypeId: U256::from(module_type),
                    module: target,
                    _2: Bytes::new(),
                };
                let answer = backend
                    .call(self.account.address, query.abi_encode().into())
                    .await
                    .ok()
                    .and_then(|out| {
                        SessionAccount::isModuleInstalledCall::abi_decode_returns(&out).ok()
                    })
                    .unwrap_or(false);
                if answer {
                    installed.push(target);
                    break;
                }
            }
        }
        Ok(installed)
    }

    fn mode(&self, ctx: &EvalContext) -> SignatureMode {
        let enabled = ctx.header.status == Status::Active && ctx.header.epoch == ctx.account_epoch;
        if !enabled && self.approval.is_some() {
            SignatureMode::Enable
        } else {
            SignatureMode::Use
        }
    }

    fn evaluate(
        &self,
        ctx: &EvalContext,
        op: &UserOperation,
        mode: SignatureMode,
        time_hint: u64,
    ) -> Result<Validation, SdkError> {
        let packed = op.pack();
        let chains = match (&self.approval, mode) {
            (Some(approval), SignatureMode::Enable) => approval.chains.as_slice(),
            _ => &[],
        };
        evaluate_session_op(
            ctx,
            &SessionOp {
                sender: op.sender,
                spec: &self.spec,
                session_hash: self.hash,
                mode,
                time_hint,
                nonce: op.nonce,
                call_data: &op.call_data,
                account_gas_limits: packed.accountGasLimits,
                pre_verification_gas: packed.preVerificationGas,
                gas_fees: packed.gasFees,
                paymaster_and_data: &packed.paymasterAndData,
                chains,
                signatures: None,
            },
        )
        .map_err(|violation| SdkError::Refused { violation })
    }

    fn rules(&self) -> EntryPointRules {
        self.account.version
    }

    fn check_window(&self, validation: &Validation, now: u64) -> Result<(), SdkError> {
        // The bundler simulates at the latest block (`now`) and the op lands in a later one:
        // both must be inside the window.
        for time in [now, now + 1] {
            if entry_point_verdict(self.rules(), validation, time)
                == EntryPointVerdict::OutOfTimeRange
            {
                return Err(SdkError::OutOfTimeRange {
                    valid_after: validation.valid_after,
                    valid_until: validation.valid_until,
                    now,
                });
            }
        }
        Ok(())
    }

    /// The engine's verdict on `calls` now, without fees (those are checked again after the
    /// bundler's estimate, in [`send`](Self::send)).
    pub async fn precheck(&self, calls: &[Call]) -> Result<Precheck, SdkError> {
        let view = self
            .chain_view(calls.iter().map(|c| c.to).collect())
            .await?;
        self.precheck_on(&view, calls)
    }

    /// What the chain says now that judging an op calling `targets` needs: the validator's
    /// words for this session, the installed-module answers for `targets`, the time, the
    /// nonce and whether the account is still to be deployed. Read once, it judges any number
    /// of calls to those targets ([`precheck_on`](Self::precheck_on)) until the chain moves.
    ///
    /// # Errors
    /// The node's failure.
    pub async fn chain_view(&self, targets: Vec<Address>) -> Result<ChainView, SdkError> {
        let backend = self.backend.as_ref();
        let ctx = self.context_for_targets(targets).await?;
        // The bundler simulates at the latest block: the hint must not be later.
        let time_hint = backend.latest_timestamp().await?;
        let key = nonce_key(self.setting.validator, session_lane(self.hash));
        let nonce =
            operation::next_nonce(backend, self.account.version, self.account.address, key).await?;
        let factory = self.account.init_code(backend).await?;
        Ok(ChainView {
            ctx,
            time_hint,
            nonce,
            factory,
        })
    }

    /// The engine's verdict on `calls` against `view` (read for their targets by
    /// [`chain_view`](Self::chain_view)), without fees: no chain read.
    ///
    /// # Errors
    /// [`SdkError::Refused`] with the validator's violation, [`SdkError::OutOfTimeRange`].
    pub fn precheck_on(&self, view: &ChainView, calls: &[Call]) -> Result<Precheck, SdkError> {
        let (mode, op) = self.op_on(view, calls);
        let validation = self.evaluate(&view.ctx, &op, mode, view.time_hint)?;
        self.check_window(&validation, view.time_hint)?;
        Ok(Precheck {
            validation,
            mode,
            time_hint: view.time_hint,
        })
    }

    /// The unpriced op for `calls` on `view`, and its mode.
    fn op_on(&self, view: &ChainView, calls: &[Call]) -> (SignatureMode, UserOperation) {
        let mode = self.mode(&view.ctx);
        let mut op = UserOperation::new(self.account.address, view.nonce, encode_calls(calls));
        op.factory = view.factory.clone();
        // Fees are judged after the estimate; zero here keeps the first check to the policies.
        op.max_fee_per_gas = 0;
        op.max_priority_fee_per_gas = 0;
        (mode, op)
    }

    async fn prepare(
        &self,
        calls: &[Call],
    ) -> Result<(EvalContext, UserOperation, SignatureMode, u64), SdkError> {
        let view = self
            .chain_view(calls.iter().map(|c| c.to).collect())
            .await?;
        let (mode, op) = self.op_on(&view, calls);
        Ok((view.ctx, op, mode, view.time_hint))
    }

    /// Sends `calls` (one call as a single execution, several as a batch) as the session key,
    /// and waits for the receipt.
    ///
    /// # Errors
    /// [`SdkError::Refused`] (nothing sent) when the engine says the validator would refuse,
    /// [`SdkError::BundlerRefused`] with the validator's reason when the bundler refuses,
    /// [`SdkError::ExecutionReverted`] when the calls themselves revert.
    pub async fn send(&self, calls: &[Call]) -> Result<Executed, SdkError> {
        self.send_checked(calls, true).await
    }

    /// Like [`send`](Self::send) but without the engine's pre-checks: the bundler and the chain
    /// judge alone. For diagnostics and for tests that the on-chain refusal matches the engine's.
    pub async fn send_without_precheck(&self, calls: &[Call]) -> Result<Executed, SdkError> {
        self.send_checked(calls, false).await
    }

    /// What to do when the op's window ends within the expiry margin: `Some(t)` to wait until
    /// `t`, one second into the next period, or the error when it is the session that ends.
    fn next_period_if_expiring(
        &self,
        validation: &Validation,
        now: u64,
    ) -> Result<Option<u64>, SdkError> {
        let ends = validation.valid_until;
        // 0 is "no end" in ERC-4337 validation data.
        if ends == 0 || ends >= now.saturating_add(self.expiry_margin) {
            return Ok(None);
        }
        let session_ends = self.spec.validUntil.to::<u64>();
        if ends >= session_ends {
            return Err(SdkError::ExpiresTooSoon {
                valid_until: session_ends,
                now,
                margin: self.expiry_margin,
            });
        }
        // A periodic limit's window ends first: its next period starts one second later, and
        // EntryPoint v0.8 wants the block time strictly after `validAfter`, so one more.
        Ok(Some(ends + 2))
    }

    /// Prepares the op and judges it with the engine; when its window ends within the expiry
    /// margin because a period ends, waits once for a block of the next period and prepares it
    /// again there (the next period is a whole period long).
    async fn prepare_judged(
        &self,
        calls: &[Call],
    ) -> Result<(EvalContext, UserOperation, SignatureMode, u64), SdkError> {
        let mut waited = false;
        loop {
            let (ctx, op, mode, time_hint) = self.prepare(calls).await?;
            let validation = self.evaluate(&ctx, &op, mode, time_hint)?;
            let clock = self.backend.clock().await?;
            // The expiry wait comes first: in a period's last second the window fails for the
            // next block too, and the answer is the next period, not a refusal.
            match self.next_period_if_expiring(&validation, clock)? {
                Some(next) if !waited => {
                    self.backend.wait_for_block_time(next).await?;
                    waited = true;
                }
                _ => {
                    self.check_window(&validation, time_hint)?;
                    return Ok((ctx, op, mode, time_hint));
                }
            }
        }
    }

    async fn send_checked(&self, calls: &[Call], precheck: bool) -> Result<Executed, SdkError> {
        let Some(key) = &self.key else {
            return Err(SdkError::KeyHeldElsewhere {
                session: self.hash,
                signer: self.spec.signer,
            });
        };
        let (priced, mode, time_hint) = self.priced(calls, precheck).await?;
        self.sign_record_and_send(priced, mode, time_hint, |digest| {
            signing::sign_digest(key, digest)
        })
        .await
    }

    /// The op for `calls`, judged by the engine, priced by the bundler (its signature field
    /// holds a stub of the real one's length), judged again with its fees.
    async fn priced(
        &self,
        calls: &[Call],
        precheck: bool,
    ) -> Result<(UserOperation, SignatureMode, u64), SdkError> {
        let (ctx, op, mode, time_hint) = if precheck {
            self.prepare_judged(calls).await?
        } else {
            self.prepare(calls).await?
        };
        let stub = self.stub_signature(&op.call_data, mode, time_hint)?;
        let priced =
            operation::price(self.backend.as_ref(), self.account.version, op, stub).await?;
        if precheck {
            // The fee budget (rule 11) is charged at the op's maximum prefund: judge it now.
            self.evaluate(&ctx, &priced, mode, time_hint)?;
        }
        Ok((priced, mode, time_hint))
    }

    /// The session signature with a stub key signature: its length and every byte but the
    /// last 65 are the real one's.
    fn stub_signature(
        &self,
        call_data: &[u8],
        mode: SignatureMode,
        time_hint: u64,
    ) -> Result<Bytes, SdkError> {
        let enable = match mode {
            SignatureMode::Enable => Some(self.approval.as_ref().ok_or_else(|| {
                SdkError::Account(format!(
                    "session {} is not enabled and this client carries no owner's approval to \
                     enable it in its first use",
                    self.hash
                ))
            })?),
            SignatureMode::Use => None,
        };
        Ok(signing::encode_session_signature(
            &self.spec,
            time_hint,
            call_data,
            &STUB_ECDSA_SIGNATURE,
            enable,
        )?)
    }

    /// Signs a priced op (its signature field the stub) with `sign` (given the rule-10 digest,
    /// the key's 65-byte signature), records it in the journal, sends it, waits for it.
    async fn sign_record_and_send(
        &self,
        priced: UserOperation,
        mode: SignatureMode,
        time_hint: u64,
        sign: impl FnOnce(B256) -> Bytes,
    ) -> Result<Executed, SdkError> {
        let hash = self.hash;
        let stub = priced.signature.clone();
        let journal = self.journal.clone();
        operation::sign_record_and_send(
            self.backend.as_ref(),
            self.account.version,
            priced,
            |user_op_hash| {
                let signature = sign(signing::session_digest(user_op_hash, hash, time_hint, mode));
                // The stub's bytes, signed: only the last 65 bytes differ.
                signing::with_session_signature(&stub, &signature)
            },
            |user_op_hash, op| match &journal {
                Some(record) => record(user_op_hash, op),
                None => Ok(()),
            },
            self.wait,
        )
        .await
    }

    /// The op for `calls`, judged by the engine and priced, for a key held elsewhere to sign:
    /// it signs [`PreparedOp::digest`] (raw ECDSA over the 32 bytes) and the op goes back
    /// through [`submit_prepared`](Self::submit_prepared). Nothing is kept between the two.
    ///
    /// # Errors
    /// As [`send`](Self::send) before signing: [`SdkError::Refused`] with the validator's
    /// reason, the backend's failures.
    pub async fn prepare_op(&self, calls: &[Call]) -> Result<PreparedOp, SdkError> {
        let (op, mode, time_hint) = self.priced(calls, true).await?;
        let user_op_hash =
            operation::user_op_hash(self.backend.as_ref(), self.account.version, &op).await?;
        Ok(PreparedOp {
            digest: signing::session_digest(user_op_hash, self.hash, time_hint, mode),
            user_op_hash,
            op,
            mode,
            time_hint,
        })
    }

    /// Sends an op [`prepare_op`](Self::prepare_op) made (its gas fields possibly changed by
    /// the signer) with the session key's `signature` over its digest: the signature is checked
    /// to be the session key's, the op is judged by the engine again, then recorded, sent and
    /// waited for as [`send`](Self::send) does.
    ///
    /// # Errors
    /// [`SdkError::WrongSessionSigner`] naming both keys; [`SdkError::MalformedSignature`];
    /// [`SdkError::Account`] for an op of another account or lane; then as [`send`](Self::send).
    pub async fn submit_prepared(
        &self,
        mut op: UserOperation,
        mode: SignatureMode,
        time_hint: u64,
        signature: &[u8],
    ) -> Result<Executed, SdkError> {
        let backend = self.backend.as_ref();
        let foreign = |reason: String| SdkError::ForeignOp {
            session: self.hash,
            reason,
        };
        let lane = nonce_key(self.setting.validator, session_lane(self.hash));
        if op.sender != self.account.address || op.nonce >> 64 != U256::from(lane) {
            return Err(foreign(format!(
                "its sender must be {} and its nonce on the session's lane",
                self.account.address
            )));
        }
        let next = operation::next_nonce(backend, self.account.version, op.sender, lane).await?;
        if op.nonce < next {
            return Err(SdkError::NonceUsed {
                session: self.hash,
                nonce: op.nonce,
            });
        }
        // The hint the digest binds must be one the chain could have given: not after its
        // latest block (the bundler simulates there), and the op judged at the chain's time.
        let now = backend.latest_timestamp().await?;
        if time_hint > now {
            return Err(foreign(format!(
                "its time hint {time_hint} is after the chain's time {now}"
            )));
        }
        let targets: Vec<Address> = sessionkeys_engine::execute::decode_execute(&op.call_data)
            .map_err(|violation| SdkError::Refused { violation })?
            .iter()
            .map(|call| call.target)
            .collect();
        let ctx = self.context_for_targets(targets).await?;
        if self.mode(&ctx) != mode {
            return Err(foreign(format!(
                "its mode is {mode:?}, but the session needs {:?} now",
                self.mode(&ctx)
            )));
        }
        op.signature = self.stub_signature(&op.call_data, mode, time_hint)?;
        let user_op_hash = operation::user_op_hash(backend, self.account.version, &op).await?;
        let digest = signing::session_digest(user_op_hash, self.hash, time_hint, mode);
        // The validator takes v = 27 or 28 and a low s only: the signature is checked, then sent,
        // in that one form (the same key's signature, whatever form it came in).
        let parsed = alloy::primitives::Signature::try_from(signature)
            .map_err(|e| {
                SdkError::MalformedSignature(format!("{e} ({} bytes given)", signature.len()))
            })?
            .normalized_s();
        let recovered = parsed
            .recover_address_from_prehash(&digest)
            .map_err(|e| SdkError::MalformedSignature(e.to_string()))?;
        if recovered != self.spec.signer {
            return Err(SdkError::WrongSessionSigner {
                session: self.hash,
                signer: self.spec.signer,
                recovered,
            });
        }
        let validation = self.evaluate(&ctx, &op, mode, time_hint)?;
        self.check_window(&validation, now)?;
        let signature = Bytes::copy_from_slice(&parsed.as_bytes());
        self.sign_record_and_send(op, mode, time_hint, move |_| signature)
            .await
    }

    /// Remaining budgets in the current period (the validator's `sessionUsage` view).
    pub async fn usage(&self) -> Result<Vec<CounterUsage>, SdkError> {
        session_usage(
            self.backend.as_ref(),
            self.setting.validator,
            self.account.address,
            &self.spec,
        )
        .await
    }
}

/// The `sessionUsage` rows of `spec` on `account` under `validator`, at the latest block's
/// time, from the usage lens at its one address ([`deployment::session_usage_lens`]).
///
/// # Errors
/// [`SdkError::NotDeployed`] when the chain has no lens (deployed before it existed).
pub async fn session_usage(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
    spec: &SessionSpec,
) -> Result<Vec<CounterUsage>, SdkError> {
    let now = backend.latest_timestamp().await?;
    let call = ISessionUsageLens::sessionUsageCall {
        validator,
        account,
        spec: sessionkeys_contracts::vocabulary::packed::encode_spec(spec)?.into(),
        timeHint: alloy::primitives::aliases::U48::from(now),
    };
    let lens = deployment::session_usage_lens().address();
    let output = backend.call(lens, call.abi_encode().into()).await?;
    if output.is_empty() {
        // A call to an address without code returns nothing: a chain deployed before the lens.
        return Err(SdkError::NotDeployed(format!(
            "no SessionUsageLens at {lens} on {}; run `sessionkeys deploy` (it deploys the \
             lens beside the validator; contracts already there are left as they are)",
            backend.describe()
        )));
    }
    ISessionUsageLens::sessionUsageCall::abi_decode_returns(&output)
        .map_err(|e| SdkError::Decode(format!("sessionUsage: {e}")))
}
