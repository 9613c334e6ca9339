//! Request → approve: the owner approves a session with any wallet.
//!
//! [`request`] makes the session key (stored only encrypted), stores the pending session and
//! returns the EIP-712 typed data the owner signs (`eth_signTypedData_v4`, `cast wallet sign
//! --data`). [`approve`] checks the owner's signature against the digest and enables the
//! session: in its first op ([`Enable::FirstUse`], which also deploys a counterfactual account
//! with its factory) or now through the validator's relayable `enableSessionWithApproval`
//! ([`Enable::Relayed`]). [`grant`] is both in one step with the owner's key at hand, or an
//! owner userOp calling `enableSession`.
//!
//! A request or grant that fails after making the key deletes the key and the record again,
//! so the store never holds keys of nothing (docs/decisions.md, "Request and approve").

use crate::account::SmartAccount;
use crate::backend::Backend;
use crate::error::SdkError;
use crate::grant::SessionGrant;
use crate::lanes;
use crate::operation::WaitPolicy;
use crate::records::SessionRecords;
use crate::relay;
use crate::store::{StoredApproval, StoredFactory, StoredRequest, StoredSession, StoredStatus};
use crate::template::SessionTemplate;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::deployment;
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};

/// The owner's `SessionAccount`: counterfactual until its first op, made by the factory of
/// `factory_owner` with the default validator installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPlan {
    /// The account's owner (an address: its key may live in any wallet).
    pub owner: Address,
    /// The EntryPoint version.
    pub version: EntryPointVersion,
    /// The stake owner of the factories to use ([`deployment::DEFAULT_FACTORY_OWNER`] for the
    /// ones every chain shares).
    pub factory_owner: Address,
    /// Tells several accounts of one owner apart.
    pub salt: U256,
}

impl AccountPlan {
    /// The account of `owner` on `version` from the default (staked) factory, salt 0.
    pub fn new(owner: Address, version: EntryPointVersion) -> Self {
        Self {
            owner,
            version,
            factory_owner: deployment::DEFAULT_FACTORY_OWNER,
            salt: U256::ZERO,
        }
    }

    /// The validator sessions are granted under.
    pub fn validator(&self) -> Address {
        deployment::session_key_validator(Address::ZERO).address()
    }

    /// What the store keeps so the first op can deploy the account.
    pub fn stored_factory(&self) -> StoredFactory {
        StoredFactory {
            factory: deployment::session_account_factory(self.version, self.factory_owner)
                .address(),
            validators: vec![self.validator()],
            salt: self.salt,
        }
    }

    /// The account, after checking its factory and the validator are deployed.
    pub async fn account(&self, backend: &dyn Backend) -> Result<SmartAccount, SdkError> {
        let factory = deployment::session_account_factory(self.version, self.factory_owner);
        crate::deploy::ensure_deployed(
            backend,
            &[
                factory.clone(),
                deployment::session_key_validator(Address::ZERO),
            ],
        )
        .await?;
        SmartAccount::counterfactual(
            backend,
            self.version,
            factory.address(),
            self.owner,
            vec![self.validator()],
            self.salt,
        )
        .await
    }
}

/// A stored request awaiting the owner's signature.
#[derive(Debug, Clone)]
pub struct Requested {
    /// The stored record ([`StoredStatus::Requested`]).
    pub session: StoredSession,
    /// The spec the owner approves.
    pub spec: SessionSpec,
    /// The EIP-712 typed data to sign, as `eth_signTypedData_v4` takes it.
    pub typed_data: serde_json::Value,
    /// Its digest: what the signature must recover from.
    pub digest: B256,
    /// Salts tried to move the session off a nonce lane already taken (rule 19).
    pub resalted: u32,
}

/// How an approved session is enabled.
#[derive(Debug, Clone, Copy)]
pub enum Enable<'a> {
    /// By its first op, which carries the owner's approval (and deploys the account if it has
    /// no code yet).
    FirstUse,
    /// Now: this relayer key pays for deploying the account if needed and for
    /// `enableSessionWithApproval`.
    Relayed(&'a PrivateKeySigner),
}

/// How a [`grant`] enables the session.
#[derive(Debug, Clone, Copy)]
pub enum GrantRoute<'a> {
    /// An owner userOp calling `enableSession` (which deploys the account if needed).
    OwnerOp,
    /// The owner signs the typed data with the key, then as [`Enable`].
    Approval(Enable<'a>),
}

/// What enabled (or will enable) the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enabled {
    /// Its first op will, with the stored approval.
    AtFirstUse,
    /// A relayed transaction did.
    Relayed {
        /// The `enableSessionWithApproval` transaction.
        transaction: B256,
        /// Whether the relayer also deployed the account.
        deployed_account: bool,
    },
    /// The owner's userOp did.
    OwnerOp {
        /// The userOp hash.
        user_op_hash: B256,
    },
}

/// A session approved by its owner.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The stored record, as it stands now.
    pub session: StoredSession,
    /// How it is enabled.
    pub enabled: Enabled,
}

/// The request's settings beyond the account.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions {
    /// Go on although lint reports errors (the caller showed them to the owner).
    pub allow_lint_errors: bool,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The nonce lanes taken on `account`: its live sessions (none while it has no code) and the
/// sessions of these records requested or approved for it but not enabled yet.
async fn taken_lanes(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    validator: Address,
    account: &SmartAccount,
) -> Result<Vec<B256>, SdkError> {
    let mut taken = records.pending_on(account.address)?;
    if account.is_deployed(backend).await? {
        taken.extend(lanes::live_sessions(backend, validator, account.address).await?);
    }
    Ok(taken)
}

/// Requests a session of `template` for the account of `plan`: refuses a session already
/// ended at the chain's time or (unless allowed) one lint finds errors in, makes the key
/// (sealed as `records` seal keys), moves the spec to a free nonce lane, and stores the pending session
/// with the typed data's chain and epoch.
///
/// # Errors
/// [`SdkError::SessionExpired`], [`SdkError::LintErrors`], and whatever the chain or the
/// store report; on any error after the key is made, the key is deleted again.
///
/// # Security
/// The session key is random and written only encrypted; it never leaves the store.
pub async fn request(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    template: &SessionTemplate,
    plan: &AccountPlan,
    options: RequestOptions,
) -> Result<Requested, SdkError> {
    let now = backend.latest_timestamp().await?;
    template.ensure_not_expired(now)?;
    template.ensure_lint_clean(now, options.allow_lint_errors)?;
    let account = plan.account(backend).await?;
    let (key, key_file) = records.new_key()?;
    let made = request_with_key(
        backend,
        records,
        template,
        plan,
        &account,
        key.address(),
        &key_file,
    )
    .await;
    if made.is_err() {
        // The key belongs to no session: delete it (best effort; the error is what matters).
        let _ = records.remove_key(&key_file);
    }
    made
}

/// As [`request`], for a session key someone else holds (ERC-7715's `to`: the app keeps its
/// key): `signer` becomes the session's signer and no key is made or stored; the session's ops
/// are prepared and submitted signed ([`SessionClient::prepare_op`](crate::SessionClient::prepare_op)).
///
/// # Errors
/// As [`request`].
pub async fn request_for_signer(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    template: &SessionTemplate,
    plan: &AccountPlan,
    options: RequestOptions,
    signer: Address,
) -> Result<Requested, SdkError> {
    let now = backend.latest_timestamp().await?;
    template.ensure_not_expired(now)?;
    template.ensure_lint_clean(now, options.allow_lint_errors)?;
    let account = plan.account(backend).await?;
    request_with_key(
        backend,
        records,
        template,
        plan,
        &account,
        signer,
        crate::store::EXTERNAL_KEY,
    )
    .await
}

async fn request_with_key(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    template: &SessionTemplate,
    plan: &AccountPlan,
    account: &SmartAccount,
    signer: Address,
    key_file: &str,
) -> Result<Requested, SdkError> {
    let validator = plan.validator();
    let mut spec = template.with_signer(signer)?;
    let taken = taken_lanes(backend, records, validator, account).await?;
    let resalted = lanes::resalt_for_free_lane(&mut spec, &taken)?;
    let grant = SessionGrant::new(spec, validator)?;
    let chain = grant.current_chain(backend, account.address).await?;
    let chain_id = chain.chainId;
    let chains = vec![chain];
    let session = StoredSession {
        hash: grant.hash()?,
        chain_id,
        entry_point: plan.version,
        account: account.address,
        owner: plan.owner,
        validator,
        spec: grant.spec.abi_encode().into(),
        key_file: key_file.to_string(),
        status: StoredStatus::Requested,
        approval: None,
        created_at: unix_now(),
        factory: Some(plan.stored_factory()),
        request: Some(StoredRequest {
            chains: chains.iter().map(|c| (c.chainId, c.epoch)).collect(),
        }),
    };
    records.save(&session)?;
    Ok(Requested {
        typed_data: grant.typed_data(account.address, &chains),
        digest: signing::enable_digest(validator, account.address, &grant.spec, &chains),
        spec: grant.spec,
        session,
        resalted,
    })
}

/// The spec and chains of a session still waiting for its approval.
fn pending(session: &StoredSession) -> Result<(SessionSpec, Vec<ChainEpoch>), SdkError> {
    match (&session.status, &session.request) {
        (StoredStatus::Requested, Some(request)) => Ok((session.spec()?, request.chain_epochs())),
        (status, _) => Err(SdkError::NotRequested {
            hash: session.hash,
            status: *status,
        }),
    }
}

/// The typed data a requested `session` waits for the owner to sign, and its digest: the same
/// as [`request`] returned when it was asked for, rebuilt from the stored session.
///
/// # Errors
/// [`SdkError::NotRequested`] unless the session waits for its approval.
pub fn approval_of(session: &StoredSession) -> Result<(serde_json::Value, B256), SdkError> {
    let (spec, chains) = pending(session)?;
    Ok((
        sessionkeys_engine::typed_data::enable_typed_data(
            session.validator,
            session.account,
            &spec,
            &chains,
        ),
        signing::enable_digest(session.validator, session.account, &spec, &chains),
    ))
}

/// At approval the lanes are read again: refuse rather than enable a colliding session
/// (rule 19).
async fn ensure_lane_still_free(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    session: &StoredSession,
    account: &SmartAccount,
) -> Result<(), SdkError> {
    let taken = taken_lanes(backend, records, session.validator, account).await?;
    lanes::ensure_free_lane(session.hash, &taken)
}

/// Refuses an approval whose epochs the account has left (a `revokeAll` since the request).
async fn ensure_epochs_current(
    backend: &dyn Backend,
    session: &StoredSession,
    chains: &[ChainEpoch],
) -> Result<(), SdkError> {
    let now = crate::sessions::current_chain(backend, session.validator, session.account).await?;
    match chains.iter().find(|c| c.chainId == now.chainId) {
        Some(signed) if signed.epoch == now.epoch => Ok(()),
        Some(signed) => Err(SdkError::ApprovalStale {
            chain_id: now.chainId,
            signed: signed.epoch,
            current: now.epoch,
        }),
        None => Err(SdkError::Account(format!(
            "the request lists no approval for chain {} (the backend's chain): request the \
             session on this chain",
            now.chainId
        ))),
    }
}

/// Approves the stored request `hash` with the owner's wallet `signature` of its typed data,
/// and enables it as `how` says.
///
/// # Errors
/// [`SdkError::NotRequested`] unless the session waits for its approval,
/// [`SdkError::SessionExpired`] when the session has ended by the chain's time,
/// [`SdkError::MalformedSignature`] / [`SdkError::WrongSigner`] (expected and recovered
/// addresses) for a signature that is not the owner's of this typed data,
/// [`SdkError::ApprovalStale`] when the account's epoch moved since the request,
/// [`SdkError::LaneTaken`] when another session took the lane meanwhile, and the validator's
/// refusal of a relayed enable (checked with `eth_call` first: nothing is paid).
pub async fn approve(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    hash: B256,
    signature: &[u8],
    how: Enable<'_>,
) -> Result<Approved, SdkError> {
    let mut session = records.by_hash(hash)?;
    let (spec, chains) = pending(&session)?;
    // The owner may sign long after the request: an ended session is not enabled nor paid for.
    let now = backend.latest_timestamp().await?;
    crate::template::ensure_not_ended(spec.validUntil.to(), now)?;
    let digest = signing::enable_digest(session.validator, session.account, &spec, &chains);
    let owner_signature =
        crate::wallet::owner_signature(signature, digest, session.account, session.owner)?;
    ensure_epochs_current(backend, &session, &chains).await?;
    let account = session.account()?;
    ensure_lane_still_free(backend, records, &session, &account).await?;
    let approval = EnableApproval {
        chains,
        owner_signature,
    };
    let enabled = match how {
        Enable::FirstUse => {
            session.status = StoredStatus::Approved;
            session.approval = Some(StoredApproval::from_approval(&approval));
            Enabled::AtFirstUse
        }
        Enable::Relayed(relayer) => {
            let deployed_account = relay::relay_deploy_account(backend, &account, relayer)
                .await?
                .is_some();
            let outcome = relay::relay_enable(
                backend,
                session.validator,
                session.account,
                &spec,
                &approval,
                relayer,
            )
            .await?;
            session.status = StoredStatus::Granted;
            Enabled::Relayed {
                transaction: outcome.hash,
                deployed_account,
            }
        }
    };
    session.request = None;
    records.save(&session)?;
    Ok(Approved { session, enabled })
}

/// Grants a session of `template` in one step with the owner's key: [`request`], then the
/// owner's approval by `route`. On any failure the key and the record are deleted again —
/// except when what was sent may still land ([`may_still_land`]).
///
/// # Security
/// The owner key signs in memory only.
#[allow(clippy::too_many_arguments)] // the workflow's inputs, each named at the call site
pub async fn grant(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    template: &SessionTemplate,
    plan: &AccountPlan,
    owner: &PrivateKeySigner,
    route: GrantRoute<'_>,
    options: RequestOptions,
) -> Result<Approved, SdkError> {
    if owner.address() != plan.owner {
        return Err(SdkError::Account(format!(
            "the key given is {}, but the account's owner is {}",
            owner.address(),
            plan.owner
        )));
    }
    let requested = request(backend, records, template, plan, options).await?;
    let done = enable_requested(backend, records, &requested, owner, route).await;
    if let Err(error) = &done
        && !may_still_land(error)
    {
        // The session was never enabled: its record and key go (best effort).
        let _ = records.remove(&requested.session);
    }
    done
}

/// Whether a failed send may still be mined: an owner op or a transaction that timed out
/// waiting, or a request that timed out after it may have reached the node or bundler. The
/// record and key stay, so a session that lands is not left without them.
pub fn may_still_land(error: &SdkError) -> bool {
    matches!(
        error,
        SdkError::Timeout { .. }
            | SdkError::Backend(
                crate::BackendError::NotMined { .. } | crate::BackendError::TimedOut { .. }
            )
    )
}

async fn enable_requested(
    backend: &dyn Backend,
    records: &dyn SessionRecords,
    requested: &Requested,
    owner: &PrivateKeySigner,
    route: GrantRoute<'_>,
) -> Result<Approved, SdkError> {
    match route {
        GrantRoute::Approval(how) => {
            let signature = signing::sign_digest(owner, requested.digest);
            approve(backend, records, requested.session.hash, &signature, how).await
        }
        GrantRoute::OwnerOp => {
            let mut session = requested.session.clone();
            let account = session.account()?;
            ensure_lane_still_free(backend, records, &session, &account).await?;
            let grant = SessionGrant::new(requested.spec.clone(), session.validator)?;
            let done = grant
                .grant_on_chain(backend, &account, owner, WaitPolicy::default())
                .await?;
            session.status = StoredStatus::Granted;
            session.request = None;
            records.save(&session)?;
            Ok(Approved {
                session,
                enabled: Enabled::OwnerOp {
                    user_op_hash: done.user_op_hash,
                },
            })
        }
    }
}
