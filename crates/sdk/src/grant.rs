//! Requesting a session: the spec checked, linted and explained, the owner's EIP-712 approval,
//! and the grant itself, either on-chain (an owner op calling `enableSession`) or carried by the
//! session's first op (enable-in-first-use).

use crate::account::SmartAccount;
use crate::backend::Backend;
use crate::error::SdkError;
use crate::operation::{Executed, WaitPolicy};
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_contracts::session::{ChainEpoch, ISessionKeyValidator, SessionSpec};
use sessionkeys_contracts::vocabulary::packed;
use sessionkeys_engine::explain::{Explanation, Labels};
use sessionkeys_engine::lint::Finding;

/// A session to be approved by an account's owner.
///
/// Before approving, check that its nonce lane is free on the account
/// ([`crate::lanes::ensure_free_lane`] against [`crate::lanes::live_sessions`] and the sessions
/// approved but not used yet): two sessions on one lane invalidate each other's ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    /// The session.
    pub spec: SessionSpec,
    /// The validator that will enforce it.
    pub validator: Address,
}

impl SessionGrant {
    /// A grant of `spec` under `validator`, refused if the validator would refuse to enable it
    /// (malformed or degenerate specs: rules 4, 9, 17 in docs/rules.md).
    pub fn new(spec: SessionSpec, validator: Address) -> Result<Self, SdkError> {
        sessionkeys_engine::validate_spec(&spec).map_err(SdkError::InvalidSpec)?;
        Ok(Self { spec, validator })
    }

    /// The session hash (docs/compact-signatures.md).
    ///
    /// # Errors
    /// [`SdkError::Unencodable`] for a spec with no packed form (more than 255 constraints on a
    /// policy, say), which no validator could be given.
    pub fn hash(&self) -> Result<B256, SdkError> {
        Ok(sessionkeys_engine::session_hash(&self.spec)?)
    }

    /// Lint findings (docs/lint.md) at `now` (unix seconds, e.g. the latest block's time): a
    /// session's length counts from `now` or its start, whichever is later.
    pub fn lint(&self, now: u64) -> Vec<Finding> {
        sessionkeys_engine::lint::lint(&self.spec, now)
    }

    /// The plain-English explanation a person approves.
    pub fn explain(&self, labels: &Labels) -> Explanation {
        sessionkeys_engine::explain::explain(&self.spec, labels)
    }

    /// The owner's approval as EIP-712 typed data (`eth_signTypedData_v4` takes it unchanged).
    pub fn typed_data(&self, account: Address, chains: &[ChainEpoch]) -> serde_json::Value {
        sessionkeys_engine::typed_data::enable_typed_data(
            self.validator,
            account,
            &self.spec,
            chains,
        )
    }

    /// The chain the backend is on, with the account's current revocation epoch: what an
    /// approval must list to be usable there.
    pub async fn current_chain(
        &self,
        backend: &dyn Backend,
        account: Address,
    ) -> Result<ChainEpoch, SdkError> {
        crate::sessions::current_chain(backend, self.validator, account).await
    }

    /// The owner signs the approval of this session for `account` on `chains`, for an
    /// enable-in-first-use op.
    ///
    /// # Security
    /// The owner key signs in memory only. The approval is usable only on the listed chains, by
    /// `account`, while its epoch there is unchanged (rules 13 and 14 in docs/rules.md).
    pub fn approve(
        &self,
        owner: &PrivateKeySigner,
        account: Address,
        chains: Vec<ChainEpoch>,
    ) -> EnableApproval {
        let digest = signing::enable_digest(self.validator, account, &self.spec, &chains);
        EnableApproval {
            owner_signature: signing::sign_digest(owner, digest),
            chains,
        }
    }

    /// Grants the session on-chain: an owner op that calls `enableSession(spec)` on the
    /// validator (and deploys the account if needed).
    pub async fn grant_on_chain(
        &self,
        backend: &dyn Backend,
        account: &SmartAccount,
        owner: &PrivateKeySigner,
        wait: WaitPolicy,
    ) -> Result<Executed, SdkError> {
        let enable = ISessionKeyValidator::enableSessionCall {
            spec: packed::encode_spec(&self.spec)?.into(),
        };
        account
            .execute_as_owner(
                backend,
                owner,
                &[Call::typed(self.validator, &enable)],
                wait,
            )
            .await
    }
}
