//! Approvals anyone relays: the owner signs EIP-712 typed data — in any wallet, or with a key
//! here — and a relayer key pays for a plain transaction to the validator's
//! `enableSessionWithApproval`, `revokeSessionsWithApproval` or `revokeAllWithApproval`. So a
//! browser wallet never has to sign a raw userOp hash, and registry sessions (which cannot be
//! enabled in first use, rule 18) can be approved from a wallet.
//!
//! Each relay is checked with `eth_call` first: a refusal comes back as
//! [`SdkError::Refused`] with the validator's named error, and nothing is sent or paid. A
//! relayed enable on an account not deployed yet deploys it first (`relay_deploy_account`):
//! the enable cannot be simulated before the account exists, so that deployment is paid even
//! when the enable is then refused (the account is the owner's either way).

use crate::account::SmartAccount;
use crate::backend::{Backend, BackendError, PlainTransaction, TransactionOutcome};
use crate::error::SdkError;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_contracts::session::{ChainEpoch, ISessionKeyValidator, SessionSpec};

/// What a revocation approval revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// These sessions (a hash may be revoked before it was ever enabled).
    Sessions(Vec<B256>),
    /// Every session of the account: its revocation epoch moves on.
    All,
}

/// How the owner consents to an approval: with its key at hand, or with a signature its wallet
/// made of the typed data.
#[derive(Debug)]
pub enum OwnerConsent {
    /// The owner's key (it signs in memory only).
    Key(PrivateKeySigner),
    /// The owner's address and its wallet's signature.
    Wallet {
        /// The account's owner: the signature must recover to it.
        owner: Address,
        /// The wallet's signature (65 bytes).
        signature: Vec<u8>,
    },
}

/// A revocation for the owner to sign in any wallet: what, of which account, on the chain's
/// current epoch. Its typed data goes to the wallet; the wallet's signature comes back through
/// [`RevokeRequest::with_wallet_signature`], checked against the owner before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    /// The validator.
    pub validator: Address,
    /// The account whose sessions are revoked.
    pub account: Address,
    /// What is revoked.
    pub target: RevokeTarget,
    /// The backend's chain with the account's epoch now.
    pub chains: Vec<ChainEpoch>,
}

impl RevokeRequest {
    /// Reads the account's current epoch: the typed data is valid while it stands.
    pub async fn new(
        backend: &dyn Backend,
        validator: Address,
        account: Address,
        target: RevokeTarget,
    ) -> Result<Self, SdkError> {
        let chain = crate::sessions::current_chain(backend, validator, account).await?;
        Ok(Self {
            validator,
            account,
            target,
            chains: vec![chain],
        })
    }

    /// The EIP-712 typed data to sign (`eth_signTypedData_v4`, `cast wallet sign --data`).
    pub fn typed_data(&self) -> serde_json::Value {
        RevokeApproval::typed_data(self.validator, self.account, &self.target, &self.chains)
    }

    /// Its digest.
    pub fn digest(&self) -> B256 {
        RevokeApproval::digest(self.validator, self.account, &self.target, &self.chains)
    }

    /// The owner's approval from `consent`: signed here with the owner's key, or the wallet's
    /// signature checked against the owner.
    pub fn approve(self, consent: &OwnerConsent) -> Result<RevokeApproval, SdkError> {
        match consent {
            OwnerConsent::Key(owner) => Ok(RevokeApproval::sign(
                owner,
                self.validator,
                self.account,
                self.target,
                self.chains,
            )),
            OwnerConsent::Wallet { owner, signature } => {
                self.with_wallet_signature(*owner, signature)
            }
        }
    }

    /// The owner's approval from a wallet's `signature` of [`typed_data`](Self::typed_data).
    ///
    /// # Errors
    /// [`SdkError::WrongSigner`] with both addresses when it is not `owner`'s signature of this
    /// typed data (signed by another wallet, or when the account's epoch moved since),
    /// [`SdkError::MalformedSignature`] when it is no signature.
    pub fn with_wallet_signature(
        self,
        owner: Address,
        signature: &[u8],
    ) -> Result<RevokeApproval, SdkError> {
        let owner_signature =
            crate::wallet::owner_signature(signature, self.digest(), self.account, owner)?;
        Ok(RevokeApproval {
            account: self.account,
            target: self.target,
            chains: self.chains,
            owner_signature,
        })
    }
}

/// The owner's signed consent to a revocation, ready for anyone to relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeApproval {
    /// The account whose sessions are revoked.
    pub account: Address,
    /// What is revoked.
    pub target: RevokeTarget,
    /// The chains and the account's epoch on each that the owner signed.
    pub chains: Vec<ChainEpoch>,
    /// The owner's signature of [`RevokeApproval::digest`].
    pub owner_signature: Bytes,
}

impl RevokeApproval {
    /// The EIP-712 digest of revoking `target` of `account` on `chains` under `validator`.
    pub fn digest(
        validator: Address,
        account: Address,
        target: &RevokeTarget,
        chains: &[ChainEpoch],
    ) -> B256 {
        match target {
            RevokeTarget::Sessions(hashes) => {
                signing::revoke_sessions_digest(validator, account, hashes, chains)
            }
            RevokeTarget::All => signing::revoke_all_digest(validator, account, chains),
        }
    }

    /// The same as typed data JSON for a wallet's `eth_signTypedData_v4`.
    pub fn typed_data(
        validator: Address,
        account: Address,
        target: &RevokeTarget,
        chains: &[ChainEpoch],
    ) -> serde_json::Value {
        use sessionkeys_engine::typed_data::{revoke_all_typed_data, revoke_sessions_typed_data};
        match target {
            RevokeTarget::Sessions(hashes) => {
                revoke_sessions_typed_data(validator, account, hashes, chains)
            }
            RevokeTarget::All => revoke_all_typed_data(validator, account, chains),
        }
    }

    /// The owner signs the revocation.
    ///
    /// # Security
    /// The owner key signs in memory only. The approval is bound to the validator, the account
    /// and the listed `{chain, epoch}` pairs, so it dies with the account's next `revokeAll`.
    pub fn sign(
        owner: &PrivateKeySigner,
        validator: Address,
        account: Address,
        target: RevokeTarget,
        chains: Vec<ChainEpoch>,
    ) -> Self {
        let digest = Self::digest(validator, account, &target, &chains);
        Self {
            account,
            target,
            chains,
            owner_signature: signing::sign_digest(owner, digest),
        }
    }

    fn call_data(&self) -> Bytes {
        match &self.target {
            RevokeTarget::Sessions(hashes) => {
                ISessionKeyValidator::revokeSessionsWithApprovalCall {
                    account: self.account,
                    sessionHashes: hashes.clone(),
                    chains: self.chains.clone(),
                    ownerSignature: self.owner_signature.clone(),
                }
                .abi_encode()
            }
            RevokeTarget::All => ISessionKeyValidator::revokeAllWithApprovalCall {
                account: self.account,
                chains: self.chains.clone(),
                ownerSignature: self.owner_signature.clone(),
            }
            .abi_encode(),
        }
        .into()
    }
}

/// Enables `spec` for `account` with the owner's EnableSession `approval` (the one
/// [`crate::SessionGrant::approve`] makes), sent by `relayer`. The account must be deployed.
/// Relaying an approval of a session that is already active is a no-op.
///
/// # Security
/// The relayer key only pays gas; it gains no power over the account.
pub async fn relay_enable(
    backend: &dyn Backend,
    validator: Address,
    account: Address,
    spec: &SessionSpec,
    approval: &EnableApproval,
    relayer: &PrivateKeySigner,
) -> Result<TransactionOutcome, SdkError> {
    let data = ISessionKeyValidator::enableSessionWithApprovalCall {
        account,
        spec: sessionkeys_contracts::vocabulary::packed::encode_spec(spec)?.into(),
        chains: approval.chains.clone(),
        ownerSignature: approval.owner_signature.clone(),
    }
    .abi_encode()
    .into();
    relay(backend, validator, data, relayer).await
}

/// Deploys a counterfactual `account` through its factory's open `createAccount`, paid by
/// `relayer` (a relayed enable or revoke needs the account's code). A no-op if it has code.
pub async fn relay_deploy_account(
    backend: &dyn Backend,
    account: &SmartAccount,
    relayer: &PrivateKeySigner,
) -> Result<Option<TransactionOutcome>, SdkError> {
    let Some((factory, data)) = account.init_code(backend).await? else {
        return Ok(None);
    };
    let outcome = backend
        .send_transaction(
            relayer,
            PlainTransaction {
                to: factory,
                value: U256::ZERO,
                data,
                authorizations: Vec::new(),
            },
        )
        .await?;
    Ok(Some(outcome))
}

/// Sends the owner's revocation `approval`, paid by `relayer`.
///
/// # Security
/// The relayer key only pays gas; it gains no power over the account.
pub async fn relay_revoke(
    backend: &dyn Backend,
    validator: Address,
    approval: &RevokeApproval,
    relayer: &PrivateKeySigner,
) -> Result<TransactionOutcome, SdkError> {
    relay(backend, validator, approval.call_data(), relayer).await
}

async fn relay(
    backend: &dyn Backend,
    validator: Address,
    data: Bytes,
    relayer: &PrivateKeySigner,
) -> Result<TransactionOutcome, SdkError> {
    // Check first, so a refusal costs nothing and comes back with its name.
    if let Err(error) = backend.call(validator, data.clone()).await {
        return Err(refusal(error));
    }
    backend
        .send_transaction(
            relayer,
            PlainTransaction {
                to: validator,
                value: U256::ZERO,
                data,
                authorizations: Vec::new(),
            },
        )
        .await
        .map_err(refusal)
}

/// A validator revert becomes its named violation; anything else stays a backend error.
fn refusal(error: BackendError) -> SdkError {
    match error
        .revert_data()
        .and_then(|data| sessionkeys_engine::violation_from_revert(data))
    {
        Some(violation) => SdkError::Refused { violation },
        None => SdkError::Backend(error),
    }
}
