//! A `SessionAccount`: its counterfactual address, deployment on its first userOp, and ops
//! signed by its owner.

use crate::backend::Backend;
use crate::error::SdkError;
use crate::operation::{self, Executed, WaitPolicy};
use alloy::primitives::{Address, Bytes, U256, aliases::U192};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::{EntryPointVersion, UserOperation, signing};
use sessionkeys_contracts::abi::SessionAccountFactory;

/// A 65-byte signature of the right shape that recovers to no one: lets the bundler estimate
/// validation gas before the real signature exists. Its `s` is in the lower half of the curve
/// order and `v` is 27, so the account runs `ecrecover` exactly as for a real signature (a stub
/// the low-s check refused early would under-estimate by the precompile's 3,000 gas), then
/// returns SIG_VALIDATION_FAILED.
pub const STUB_ECDSA_SIGNATURE: [u8; 65] = {
    let mut stub = [0x11u8; 65];
    let mut i = 32;
    while i < 64 {
        stub[i] = 0x22;
        i += 1;
    }
    stub[64] = 27;
    stub
};

/// A smart account the SDK can act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartAccount {
    /// The account's address.
    pub address: Address,
    /// Its owner (the EOA itself for an EIP-7702 account).
    pub owner: Address,
    /// The EntryPoint version it runs on.
    pub version: EntryPointVersion,
    /// The factory and its `createAccount` calldata, used while the account has no code.
    pub factory: Option<(Address, Bytes)>,
}

impl SmartAccount {
    /// The counterfactual `SessionAccount` of `owner` from `factory`, with `validators`
    /// installed at creation and `salt` to tell several accounts of one owner apart. Nothing
    /// is deployed: the first userOp deploys it.
    pub async fn counterfactual(
        backend: &dyn Backend,
        version: EntryPointVersion,
        factory: Address,
        owner: Address,
        validators: Vec<Address>,
        salt: U256,
    ) -> Result<Self, SdkError> {
        let output = backend
            .call(
                factory,
                SessionAccountFactory::getAddressCall {
                    owner,
                    validators: validators.clone(),
                    salt,
                }
                .abi_encode()
                .into(),
            )
            .await?;
        let address = SessionAccountFactory::getAddressCall::abi_decode_returns(&output)
            .map_err(|e| SdkError::Decode(format!("SessionAccountFactory.getAddress: {e}")))?;
        let create = SessionAccountFactory::createAccountCall {
            owner,
            validators,
            salt,
        };
        Ok(Self {
            address,
            owner,
            version,
            factory: Some((factory, create.abi_encode().into())),
        })
    }

    /// An EOA that delegates to `SessionAccount` with EIP-7702: its own owner, nothing to deploy.
    pub fn eip7702(eoa: Address, version: EntryPointVersion) -> Self {
        Self {
            address: eoa,
            owner: eoa,
            version,
            factory: None,
        }
    }

    /// Whether the account has code.
    pub async fn is_deployed(&self, backend: &dyn Backend) -> Result<bool, SdkError> {
        Ok(!backend.code(self.address).await?.is_empty())
    }

    /// The factory part of the next userOp: `Some` only while the account has no code.
    pub async fn init_code(
        &self,
        backend: &dyn Backend,
    ) -> Result<Option<(Address, Bytes)>, SdkError> {
        if self.is_deployed(backend).await? {
            return Ok(None);
        }
        match &self.factory {
            Some(factory) => Ok(Some(factory.clone())),
            None => Err(SdkError::Account(format!(
                "account {} has no code and no factory: deploy it or delegate the EOA first",
                self.address
            ))),
        }
    }

    /// Runs `calls` as the owner (nonce key 0), deploying the account first if needed.
    ///
    /// # Security
    /// `owner` signs the userOp hash in memory only.
    pub async fn execute_as_owner(
        &self,
        backend: &dyn Backend,
        owner: &PrivateKeySigner,
        calls: &[Call],
        wait: WaitPolicy,
    ) -> Result<Executed, SdkError> {
        if owner.address() != self.owner {
            return Err(SdkError::Account(format!(
                "the key given is {}, but the owner of {} is {}",
                owner.address(),
                self.address,
                self.owner
            )));
        }
        let nonce = operation::next_nonce(backend, self.version, self.address, U192::ZERO).await?;
        let mut op = UserOperation::new(self.address, nonce, encode_calls(calls));
        op.factory = self.init_code(backend).await?;
        operation::submit(
            backend,
            self.version,
            op,
            Bytes::from_static(&STUB_ECDSA_SIGNATURE),
            |hash| signing::sign_digest(owner, hash),
            wait,
        )
        .await
    }
}
