//! How far an act got when it failed, and the local route: the session key in this process,
//! a node and a bundler.
//!
//! Whether an op was sent decides what an agent may do next: an op refused before signing can
//! be corrected and tried again; one that was signed may land, and trying again could pay
//! twice. The local route learns the phase from the SDK's journal hook, which runs after
//! signing and before sending.

use alloy::primitives::{Address, B256};
use sessionkeys::backend::Backend;
use sessionkeys::{Call, Executed, SdkError, SessionClient};
use sessionkeys_chain::RevertReason;
use sessionkeys_engine::Violation;
use std::sync::{Arc, Mutex, PoisonError};

/// Why an act did not complete, by how far it got.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The validator would refuse it (the engine said so, or the bundler's simulation of the
    /// validator): nothing landed, nothing was paid.
    Refused(Violation),
    /// Nothing was sent.
    NotSent {
        /// A word for why (`Unavailable`, `BundlerRefused`, `SessionRevoked`, …).
        reason: String,
        /// A sentence.
        message: String,
    },
    /// The op was signed and sent, or may have been: it may land and be paid for.
    Sent {
        /// `ExecutionReverted` (mined, the calls reverted, the fee paid), `Timeout` (no
        /// receipt yet), or `Unknown` (no answer after it was signed).
        reason: String,
        /// A sentence.
        message: String,
        /// The userOp hash, when known.
        user_op_hash: Option<B256>,
    },
}

/// The local route: the session's key held by `client`, the chain through `backend`.
pub struct Local {
    client: SessionClient,
    backend: Arc<dyn Backend>,
    validator: Address,
    /// The hash of the op last signed, written by the journal hook just before it is sent.
    signed: Arc<Mutex<Option<B256>>>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Local {
    /// The route of `client` on `backend` under `validator`.
    pub fn new(client: SessionClient, backend: Arc<dyn Backend>, validator: Address) -> Self {
        let signed = Arc::new(Mutex::new(None));
        let slot = signed.clone();
        let client = client.with_journal(Arc::new(move |hash, _op| {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(hash);
            Ok(())
        }));
        Self {
            client,
            backend,
            validator,
            signed,
        }
    }

    /// The client (its key, account and session).
    pub fn client(&self) -> &SessionClient {
        &self.client
    }

    /// The chain.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The validator.
    pub fn validator(&self) -> Address {
        self.validator
    }

    /// Sends `calls` as one op and waits for its receipt; a failure says whether it was sent.
    /// The caller serializes sends (one op of this session at a time).
    pub async fn send(&self, calls: &[Call]) -> Result<Executed, Failure> {
        *self.signed.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let sent = self.client.send(calls).await;
        let signed = self
            .signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        sent.map_err(|error| failure_of(&error, signed))
    }
}

/// `error` of an op whose signed hash, if it got that far, is `signed`.
pub fn failure_of(error: &SdkError, signed: Option<B256>) -> Failure {
    match error {
        SdkError::Refused { violation } => Failure::Refused(violation.clone()),
        // The bundler's simulation refused it: it is not in any mempool.
        SdkError::BundlerRefused { reason, .. } => match reason.as_deref() {
            Some(RevertReason::Validator(e)) => {
                Failure::Refused(Violation::Validator(Box::new(e.clone())))
            }
            _ => Failure::NotSent {
                reason: "BundlerRefused".into(),
                message: format!("{error}; nothing was sent"),
            },
        },
        SdkError::ExecutionReverted { user_op_hash, .. } => Failure::Sent {
            reason: "ExecutionReverted".into(),
            message: format!(
                "{error}. The op was mined and its fee paid: do not send it again as it is"
            ),
            user_op_hash: Some(*user_op_hash),
        },
        SdkError::Timeout { user_op_hash, .. } => Failure::Sent {
            reason: "Timeout".into(),
            message: format!(
                "{error}. It was sent: read history before sending the calls again, or they may \
                 be paid for twice"
            ),
            user_op_hash: Some(*user_op_hash),
        },
        _ => match signed {
            Some(hash) => Failure::Sent {
                reason: "Unknown".into(),
                message: format!(
                    "the op was signed (userOp {hash}) and the node or the bundler then failed \
                     ({}): it may have been sent. Read history before sending the calls again, \
                     or they may be paid for twice",
                    public_message(error)
                ),
                user_op_hash: Some(hash),
            },
            None => Failure::NotSent {
                reason: not_sent_reason(error).into(),
                message: format!("{}; nothing was signed or sent", public_message(error)),
            },
        },
    }
}

/// The reason word of an error before anything was signed.
fn not_sent_reason(error: &SdkError) -> &'static str {
    match error {
        SdkError::OutOfTimeRange { .. } | SdkError::ExpiresTooSoon { .. } => "OutsideSessionWindow",
        SdkError::Backend(_) | SdkError::NotDeployed(_) => "Unavailable",
        _ => "Failed",
    }
}

/// An SDK error as an agent may read it: the node's and the bundler's failures name their URLs
/// (hosted ones carry API keys), so they are told without their text.
pub fn public_message(error: &SdkError) -> String {
    match error {
        SdkError::Backend(_) | SdkError::NotDeployed(_) => {
            "the node or the bundler did not answer, or answered with an error".to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeys::backend::BackendError;

    const SECRET_URL: &str = "https://rpc.example/v2/SECRET-API-KEY";

    fn unreachable() -> SdkError {
        SdkError::Backend(BackendError::Unreachable {
            url: SECRET_URL.into(),
            method: "eth_getUserOperationReceipt".into(),
            reason: "connection reset".into(),
        })
    }

    #[test]
    fn a_node_failure_after_signing_says_the_op_may_have_been_sent_with_its_hash() {
        let hash = B256::with_last_byte(7);
        let Failure::Sent {
            reason,
            message,
            user_op_hash,
        } = failure_of(&unreachable(), Some(hash))
        else {
            panic!("an op signed before the failure may have been sent");
        };
        assert_eq!(reason, "Unknown");
        assert_eq!(user_op_hash, Some(hash));
        assert!(message.contains("may have been sent"), "{message}");
        assert!(!message.contains("SECRET"), "the URL leaked: {message}");
    }

    #[test]
    fn a_node_failure_before_signing_says_nothing_was_sent_without_the_url() {
        let Failure::NotSent { reason, message } = failure_of(&unreachable(), None) else {
            panic!("nothing was signed: nothing was sent");
        };
        assert_eq!(reason, "Unavailable");
        assert!(message.contains("nothing was signed or sent"), "{message}");
        assert!(!message.contains("SECRET"), "the URL leaked: {message}");
    }

    #[test]
    fn a_reverted_or_unreceipted_op_was_sent_and_names_its_hash() {
        let hash = B256::with_last_byte(9);
        let reverted = SdkError::ExecutionReverted {
            user_op_hash: hash,
            reason: Box::new(RevertReason::Empty),
            actual_gas_cost: alloy::primitives::U256::from(5u64),
        };
        let timeout = SdkError::Timeout {
            user_op_hash: hash,
            waited_seconds: 60,
        };
        for (error, word) in [(reverted, "ExecutionReverted"), (timeout, "Timeout")] {
            // Whatever the journal saw: the error itself proves the op went out.
            let Failure::Sent {
                reason,
                user_op_hash,
                ..
            } = failure_of(&error, None)
            else {
                panic!("{word} is a sent op");
            };
            assert_eq!(reason, word);
            assert_eq!(user_op_hash, Some(hash));
        }
    }

    #[test]
    fn a_bundler_refusal_with_the_validators_error_is_that_refusal_and_nothing_was_sent() {
        use sessionkeys_contracts::session::ISessionKeyValidator;
        let revoked = ISessionKeyValidator::SessionRevoked {
            sessionHash: B256::with_last_byte(1),
        };
        let error = SdkError::BundlerRefused {
            code: -32500,
            message: "AA24".into(),
            reason: Some(Box::new(RevertReason::Validator(
                ISessionKeyValidator::ISessionKeyValidatorErrors::SessionRevoked(revoked),
            ))),
        };
        match failure_of(&error, Some(B256::with_last_byte(2))) {
            Failure::Refused(violation) => assert_eq!(violation.name(), "SessionRevoked"),
            other => panic!("not the validator's refusal: {other:?}"),
        }
        let other = SdkError::BundlerRefused {
            code: -32602,
            message: "gas price too low".into(),
            reason: None,
        };
        assert!(matches!(
            failure_of(&other, Some(B256::ZERO)),
            Failure::NotSent { reason, .. } if reason == "BundlerRefused"
        ));
    }
}
