//! EIP-7702: an EOA delegates to `SessionAccount` and becomes its own smart account.

use crate::backend::{Backend, PlainTransaction, TransactionOutcome};
use crate::error::SdkError;
use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::deployment;
use sessionkeys_contracts::abi::SessionAccountFactory;

/// The `SessionAccount` implementation behind the version's factory (of `factory_owner`,
/// [`deployment::DEFAULT_FACTORY_OWNER`] for the default): the delegation target.
pub async fn implementation(
    backend: &dyn Backend,
    version: EntryPointVersion,
    factory_owner: Address,
) -> Result<Address, SdkError> {
    let factory = deployment::session_account_factory(version, factory_owner).address();
    let output = backend
        .call(
            factory,
            SessionAccountFactory::IMPLEMENTATIONCall {}
                .abi_encode()
                .into(),
        )
        .await?;
    SessionAccountFactory::IMPLEMENTATIONCall::abi_decode_returns(&output)
        .map_err(|e| SdkError::Decode(format!("IMPLEMENTATION: {e}")))
}

/// Delegates `eoa`'s code to `target` with an EIP-7702 authorization signed by `eoa`, in a
/// type-4 transaction sent (and paid) by `payer`.
///
/// # Security
/// Whoever controls `target` controls the EOA: delegate only to a contract you trust.
pub async fn delegate(
    backend: &dyn Backend,
    payer: &PrivateKeySigner,
    eoa: &PrivateKeySigner,
    target: Address,
) -> Result<TransactionOutcome, SdkError> {
    let chain_id = backend.chain_id().await?;
    let mut nonce = backend.transaction_count(eoa.address()).await?;
    if payer.address() == eoa.address() {
        // The sender's own nonce is bumped before the authorization is processed.
        nonce += 1;
    }
    let authorization = Authorization {
        chain_id: U256::from(chain_id),
        address: target,
        nonce,
    };
    let signature = eoa
        .sign_hash_sync(&authorization.signature_hash())
        .map_err(|e| SdkError::Account(format!("signing the authorization failed: {e}")))?;
    let signed = authorization.into_signed(signature);
    Ok(backend
        .send_transaction(
            payer,
            PlainTransaction {
                to: eoa.address(),
                value: U256::ZERO,
                data: Default::default(),
                authorizations: vec![signed],
            },
        )
        .await?)
}
