//! Reviewing a session against the live chain: each policy's status in a `PolicyRegistry`
//! (what a registry-mode validator checks at enable), and token symbols and decimals read from
//! the token contracts for `explain`.

use crate::backend::Backend;
use crate::error::SdkError;
use alloy::primitives::{Address, B256, FixedBytes};
use alloy::sol_types::SolCall;
use sessionkeys_contracts::abi::PolicyRegistry;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_contracts::vocabulary::{Condition, ReviewStatus};
use sessionkeys_engine::destinations::approval_function;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::lint::{Finding, Severity};

/// `PolicyRegistry`'s status of a reviewed policy that a registry-mode validator accepts.
pub const ALLOWED: ReviewStatus = ReviewStatus::Allowed;

/// One reviewed item of a session: a call policy, an approval spender, or a transfer target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// Where in the spec, e.g. `callPolicies[0]`.
    pub location: String,
    /// What was looked up, e.g. `transfer(address,uint256) selector 0xa9059cbb on 0x…`.
    pub subject: String,
    /// The registry's review; `None` for an approval whose spender is not pinned (the registry
    /// cannot review it at all).
    pub status: Option<ReviewStatus>,
}

impl RegistryEntry {
    /// The status in words.
    pub fn status_name(&self) -> &'static str {
        self.status.map_or("spender not pinned", ReviewStatus::text)
    }

    /// A lint finding (SK020) for an entry a registry-mode validator would refuse.
    pub fn finding(&self) -> Option<Finding> {
        (self.status != Some(ALLOWED)).then(|| Finding {
            code: "SK020",
            severity: Severity::Error,
            location: self.location.clone(),
            message: format!(
                "the registry's review of {} is {}: a registry-mode validator refuses to enable this session",
                self.subject,
                self.status_name()
            ),
            hint: if self.status.is_none() {
                "pin the spender with an equal or oneOf constraint on its argument".into()
            } else {
                "ask the registry's admin to review it, or drop the policy".into()
            },
        })
    }
}

async fn status<C: SolCall<Return = u8>>(
    backend: &dyn Backend,
    registry: Address,
    call: C,
) -> Result<ReviewStatus, SdkError> {
    let out = backend.call(registry, call.abi_encode().into()).await?;
    let code = C::abi_decode_returns(&out)
        .map_err(|e| SdkError::Decode(format!("{}: {e}", C::SIGNATURE)))?;
    ReviewStatus::try_from(code).map_err(|e| SdkError::Decode(format!("{}: {e}", C::SIGNATURE)))
}

/// The registry's status of every policy of `spec`, in the order the validator checks them.
pub async fn registry_review(
    backend: &dyn Backend,
    registry: Address,
    spec: &SessionSpec,
) -> Result<Vec<RegistryEntry>, SdkError> {
    let mut entries = Vec::new();
    for (p, policy) in spec.callPolicies.iter().enumerate() {
        let location = format!("callPolicies[{p}]");
        let selector: FixedBytes<4> = policy.selector;
        let call = PolicyRegistry::callStatusCall {
            target: policy.target,
            selector,
        };
        entries.push(RegistryEntry {
            location: location.clone(),
            subject: format!("selector {selector} on {}", policy.target),
            status: Some(status(backend, registry, call).await?),
        });
        // The approvals of lint's destination table, as the validator's `_checkRegistry`.
        let Some(approval) = approval_function(selector.0) else {
            continue;
        };
        let mut spenders: Vec<B256> = Vec::new();
        for constraint in policy
            .constraints
            .iter()
            .filter(|c| c.index == approval.word)
        {
            match constraint.condition() {
                Ok(Condition::Equal) => spenders.push(constraint.refValue),
                Ok(Condition::OneOf) => spenders.extend(constraint.oneOf.iter().copied()),
                _ => {}
            }
        }
        if spenders.is_empty() {
            entries.push(RegistryEntry {
                location: location.clone(),
                subject: format!(
                    "the spender (argument {}) of {} on {}",
                    approval.word, approval.signature, policy.target
                ),
                status: None,
            });
        }
        for word in spenders {
            let spender = Address::from_word(word);
            let call = PolicyRegistry::approvalStatusCall {
                token: policy.target,
                spender,
            };
            entries.push(RegistryEntry {
                location: location.clone(),
                subject: format!("spender {spender} of {}", policy.target),
                status: Some(status(backend, registry, call).await?),
            });
        }
    }
    for (p, policy) in spec.transferPolicies.iter().enumerate() {
        let call = PolicyRegistry::transferStatusCall {
            target: policy.target,
        };
        entries.push(RegistryEntry {
            location: format!("transferPolicies[{p}]"),
            subject: format!("plain transfers to {}", policy.target),
            status: Some(status(backend, registry, call).await?),
        });
    }
    Ok(entries)
}

alloy::sol! {
    interface IErc20Metadata {
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
    }
}

/// `labels` plus the symbol and decimals of every call-policy target the labels do not know
/// and that answers `symbol()` and `decimals()`. Targets that do not answer stay unknown, and
/// `explain` says so rather than guessing.
pub async fn with_chain_tokens(
    backend: &dyn Backend,
    spec: &SessionSpec,
    mut labels: Labels,
) -> Labels {
    let mut targets: Vec<Address> = spec.callPolicies.iter().map(|p| p.target).collect();
    targets.sort();
    targets.dedup();
    for target in targets {
        if labels.token(target).is_some() {
            continue;
        }
        let symbol = backend
            .call(target, IErc20Metadata::symbolCall {}.abi_encode().into())
            .await
            .ok()
            .and_then(|out| IErc20Metadata::symbolCall::abi_decode_returns(&out).ok());
        let decimals = backend
            .call(target, IErc20Metadata::decimalsCall {}.abi_encode().into())
            .await
            .ok()
            .and_then(|out| IErc20Metadata::decimalsCall::abi_decode_returns(&out).ok());
        if let (Some(symbol), Some(decimals)) = (symbol, decimals)
            && !symbol.is_empty()
            && symbol.len() <= 32
            && symbol.chars().all(|c| c.is_ascii_graphic())
        {
            labels = labels.with_token(target, &symbol, decimals);
        }
    }
    labels
}
