//! A refusal as the `simulate` and `check` verdict lines print it, `ErrorName(arg: value, …)`:
//! the name and argument names come from the error's ABI as alloy generates it from
//! `SessionTypes.sol`, the values from the error's own encoding.

use crate::Violation;
use crate::violation::validator_error_name;
use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::primitives::hex;
use alloy::sol_types::SolInterface;
use sessionkeys_contracts::session::ISessionKeyValidator::{self, ISessionKeyValidatorErrors as E};

impl Violation {
    /// `ErrorName(arg: value, …)`, e.g. `LimitExceeded(kind: 4, policyIndex: 0, …)`.
    pub fn call_form(&self) -> String {
        match self {
            Violation::Validator(e) => validator_call_form(e),
            Violation::ExecuteSelectorRequired(s) => {
                format!("ExecuteSelectorRequired(selector: 0x{})", hex::encode(s))
            }
            Violation::UnsupportedExecutionMode(m) => {
                format!("UnsupportedExecutionMode(mode: {m})")
            }
            Violation::NonCanonicalExecution(at) => {
                format!("NonCanonicalExecution(position: {at})")
            }
            Violation::ValidatorNotInstalled(validator) => {
                format!("ValidatorNotInstalled(validator: {validator})")
            }
            Violation::OtherValidator(validator) => {
                format!("OtherValidator(validator: {validator})")
            }
            Violation::EntryPoint(reason) => format!("EntryPoint({reason})"),
            Violation::EmptyRevert => "EmptyRevert()".to_string(),
            Violation::EmptyBatch => "EmptyBatch()".to_string(),
        }
    }
}

/// `ErrorName(arg: value, …)` of one of the validator's errors, from its generated ABI.
pub fn validator_call_form(e: &E) -> String {
    let selector = e.selector();
    let data = e.abi_encode();
    let errors = ISessionKeyValidator::abi::errors();
    let decoded = errors
        .values()
        .flatten()
        .find(|abi| abi.selector() == selector)
        .and_then(|abi| Some((abi, abi.abi_decode_input(&data[4..]).ok()?)));
    match decoded {
        Some((abi, values)) => {
            let args: Vec<String> = abi
                .inputs
                .iter()
                .zip(&values)
                .map(|(param, value)| format!("{}: {}", param.name, value_text(value)))
                .collect();
            format!("{}({})", abi.name, args.join(", "))
        }
        // Unreachable for errors of the generated enum; the name alone still says what it is.
        None => format!("{}()", validator_error_name(e)),
    }
}

/// A value as the typed error's fields print: numbers in decimal, addresses and bytes as
/// lowercase `0x` hex.
fn value_text(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Uint(n, _) => n.to_string(),
        DynSolValue::Int(n, _) => n.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Address(a) => hex::encode_prefixed(a),
        DynSolValue::FixedBytes(word, size) => hex::encode_prefixed(&word[..*size]),
        DynSolValue::Bytes(bytes) => hex::encode_prefixed(bytes),
        DynSolValue::String(s) => format!("{s:?}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{CounterKey, CounterKind};
    use alloy::primitives::{Address, B256, U256, address};

    #[test]
    fn validator_errors_print_with_their_abi_names_and_values() {
        let key = CounterKey {
            kind: CounterKind::ConstraintSum,
            policy: 0,
            constraint: 1,
        };
        let exceeded =
            Violation::limit_exceeded(key, U256::from(100), U256::from(60), U256::from(41));
        assert_eq!(
            exceeded.call_form(),
            "LimitExceeded(kind: 4, policyIndex: 0, constraintIndex: 1, limit: 100, used: 60, requested: 41)"
        );
        let target = address!("0xA11CE00000000000000000000000000000000001");
        assert_eq!(
            Violation::no_call_policy(2, target, [0xa9, 0x05, 0x9c, 0xbb]).call_form(),
            "NoCallPolicy(callIndex: 2, target: 0xa11ce00000000000000000000000000000000001, selector: 0xa9059cbb)"
        );
        assert_eq!(
            Violation::session_revoked(B256::repeat_byte(0x11)).call_form(),
            format!("SessionRevoked(sessionHash: 0x{})", "11".repeat(32))
        );
        assert_eq!(Violation::invalid_signer().call_form(), "InvalidSigner()");
        assert_eq!(
            Violation::paymaster_not_allowed(Address::ZERO).call_form(),
            format!("PaymasterNotAllowed(paymaster: 0x{})", "00".repeat(20))
        );
    }

    #[test]
    fn execute_errors_print_in_call_form() {
        assert_eq!(
            Violation::NonCanonicalExecution(68).call_form(),
            "NonCanonicalExecution(position: 68)"
        );
    }
}
