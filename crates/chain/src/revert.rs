//! Turns revert data into a named reason: the validator's errors, the `execute` decoder's,
//! the account's, the fixtures', `Error(string)` and `Panic(uint256)`.

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{Panic, Revert, SolError, SolInterface};
use sessionkeys_contracts::abi::{Game, SessionAccount, TestToken};
use sessionkeys_contracts::session::{
    EmptyBatch, ExecuteSelectorRequired, ISessionKeyValidator::ISessionKeyValidatorErrors,
    NonCanonicalExecution, UnsupportedExecutionMode,
};

/// A decoded revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertReason {
    /// A SessionKeyValidator error: a policy violation or a refused enable/revoke.
    Validator(ISessionKeyValidatorErrors),
    /// Another known custom error, rendered as `Name { args }`.
    Known(String),
    /// `Error(string)`.
    Message(String),
    /// `Panic(uint256)` with its code.
    Panic(U256),
    /// Empty revert data.
    Empty,
    /// Data no known error matches.
    Unknown(Bytes),
}

impl std::fmt::Display for RevertReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Validator(e) => {
                f.write_str(&sessionkeys_engine::call_form::validator_call_form(e))
            }
            Self::Known(s) => f.write_str(s),
            Self::Message(m) => write!(f, "Error({m:?})"),
            Self::Panic(code) => write!(f, "Panic(0x{code:x})"),
            Self::Empty => f.write_str("reverted without data"),
            // `Bytes` prints its own 0x.
            Self::Unknown(data) => write!(f, "unknown revert {data}"),
        }
    }
}

/// Decodes revert data.
pub fn decode_revert(data: &[u8]) -> RevertReason {
    if data.is_empty() {
        return RevertReason::Empty;
    }
    if let Ok(e) = ISessionKeyValidatorErrors::abi_decode(data) {
        return RevertReason::Validator(e);
    }
    macro_rules! known {
        ($($ty:ty),*) => {$(
            if let Ok(e) = <$ty>::abi_decode(data) {
                return RevertReason::Known(format!("{e:?}"));
            }
        )*};
    }
    known!(
        ExecuteSelectorRequired,
        UnsupportedExecutionMode,
        NonCanonicalExecution,
        EmptyBatch
    );
    if let Ok(e) = SessionAccount::SessionAccountErrors::abi_decode(data) {
        return RevertReason::Known(format!("{e:?}"));
    }
    if let Ok(e) = TestToken::TestTokenErrors::abi_decode(data) {
        return RevertReason::Known(format!("{e:?}"));
    }
    if let Ok(e) = Game::GameErrors::abi_decode(data) {
        return RevertReason::Known(format!("{e:?}"));
    }
    if let Ok(e) = Revert::abi_decode(data) {
        return RevertReason::Message(e.reason);
    }
    if let Ok(e) = Panic::abi_decode(data) {
        return RevertReason::Panic(e.code);
    }
    RevertReason::Unknown(Bytes::copy_from_slice(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeys_contracts::session::ISessionKeyValidator;
    use sessionkeys_contracts::vocabulary::CounterKind;

    #[test]
    fn a_validator_error_decodes_with_its_arguments() {
        let data = ISessionKeyValidator::LimitExceeded {
            kind: CounterKind::ConstraintSum.into(),
            policyIndex: U256::ZERO,
            constraintIndex: U256::from(1),
            limit: U256::from(100),
            used: U256::from(60),
            requested: U256::from(41),
        }
        .abi_encode();
        let reason = decode_revert(&data);
        assert!(matches!(
            reason,
            RevertReason::Validator(ISessionKeyValidatorErrors::LimitExceeded(_))
        ));
        let text = reason.to_string();
        assert!(
            text.contains("LimitExceeded") && text.contains("requested: 41"),
            "{text}"
        );
    }

    #[test]
    fn error_strings_panics_and_unknown_data_are_told_apart() {
        assert_eq!(
            decode_revert(&Revert::from("no").abi_encode()),
            RevertReason::Message("no".into())
        );
        assert_eq!(
            decode_revert(&Panic::from(0x11).abi_encode()),
            RevertReason::Panic(U256::from(0x11))
        );
        assert_eq!(decode_revert(&[]), RevertReason::Empty);
        assert!(matches!(
            decode_revert(&[1, 2, 3, 4, 5]),
            RevertReason::Unknown(_)
        ));
    }

    #[test]
    fn execute_decoder_errors_are_named() {
        let data = NonCanonicalExecution {
            position: U256::from(36),
        }
        .abi_encode();
        assert_eq!(
            decode_revert(&data).to_string(),
            "NonCanonicalExecution { position: 36 }"
        );
    }
}
