//! Both verdicts on one session op — the contract's through `handleOps` and the engine's
//! against the same state — in one vocabulary (docs/simulate-format.md).

use crate::devnet::Devnet;
use crate::state::{eval_context, sender_state};
use crate::{BundleError, BundleReceipt, DevnetError};
use alloy::primitives::{Address, B256};
use sessionkeys_chain::RevertReason;
use sessionkeys_chain::validator_state::ValidatorSetting;
use sessionkeys_chain::{EntryPointVersion, UserOperation, decode_revert};
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::advisory::{EntryPointRules, EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate::carried_session_hash;
use sessionkeys_engine::{EvalContext, UserOpInput, Violation, evaluate};

/// Why one side refused an op, typed: the validator's violation, or (contract side only) a
/// revert during validation that is no known violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A refusal both sides can give, exactly the contract's error.
    Violation(Violation),
    /// Revert data of the account's validation that decodes to no violation.
    Revert(RevertReason),
}

impl std::fmt::Display for Refusal {
    /// `ErrorName(args)` for a violation, the decoded revert otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Violation(violation) => f.write_str(&violation.call_form()),
            Refusal::Revert(reason) => write!(f, "{reason}"),
        }
    }
}

/// One side's verdict on an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Validation passed and the op ran.
    Ok,
    /// The validator refused; printed `ErrorName(args)`.
    Refused(Refusal),
    /// A session-key or owner signature is wrong (AA24).
    SignatureFailed,
    /// The EntryPoint refused for its own reason (`AA22 …`, `AA3x …`).
    EntryPoint(String),
    /// Validation passed but the calls reverted (the engine cannot see execution).
    ExecutionReverted(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Refused(e) => write!(f, "refused: {e}"),
            Verdict::SignatureFailed => f.write_str("signature failed"),
            Verdict::EntryPoint(reason) => write!(f, "entrypoint: {reason}"),
            Verdict::ExecutionReverted(reason) => write!(f, "execution reverted: {reason}"),
        }
    }
}

impl Verdict {
    /// Whether the op went through validation.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Ok | Verdict::ExecutionReverted(_))
    }
}

/// `ErrorName(args)` of a violation ([`Violation::call_form`]).
pub fn violation_call_form(violation: &Violation) -> String {
    violation.call_form()
}

/// Both verdicts on one op, and the receipt when it ran.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// What `handleOps` did.
    pub contract: Verdict,
    /// What the engine predicted against the same state.
    pub engine: Verdict,
    /// The engine's sentence for a refusal.
    pub explanation: Option<String>,
    /// The bundle's receipt, if it landed.
    pub receipt: Option<BundleReceipt>,
}

impl Judgement {
    /// Whether the two sides agree (execution is invisible to the engine).
    pub fn agrees(&self) -> bool {
        match (&self.contract, &self.engine) {
            (Verdict::ExecutionReverted(_), Verdict::Ok) => true,
            (Verdict::EntryPoint(reason), engine) if reason.starts_with("AA3") => engine.passed(),
            (contract, engine) => contract == engine,
        }
    }
}

/// The devnet's validator setting for `validator`.
pub fn devnet_setting(devnet: &Devnet, validator: Address) -> ValidatorSetting {
    ValidatorSetting {
        validator,
        entry_points: [
            EntryPointVersion::V07.address(),
            EntryPointVersion::V08.address(),
        ],
        registry: (validator == devnet.addresses.registry_validator)
            .then_some(devnet.addresses.registry),
    }
}

/// The engine's view of a userOp.
pub fn engine_input(op: &UserOperation, user_op_hash: B256) -> UserOpInput {
    let packed = op.pack();
    UserOpInput {
        sender: packed.sender,
        nonce: packed.nonce,
        init_code: packed.initCode,
        call_data: packed.callData,
        account_gas_limits: packed.accountGasLimits,
        pre_verification_gas: packed.preVerificationGas,
        gas_fees: packed.gasFees,
        paymaster_and_data: packed.paymasterAndData,
        signature: packed.signature,
        user_op_hash,
    }
}

/// The engine's verdict: the EntryPoint's checks before it calls the account, the validator's
/// checks, then the EntryPoint's reading of the validation data at `block_time`.
fn engine_verdict(
    rules: EntryPointRules,
    context: &EvalContext,
    input: &UserOpInput,
    block_time: u64,
) -> (Verdict, Option<String>) {
    match evaluate(context, input) {
        Err(Violation::EntryPoint(reason)) => (Verdict::EntryPoint(reason), None),
        Err(violation) => {
            let explanation = violation.to_string();
            (
                Verdict::Refused(Refusal::Violation(violation)),
                Some(explanation),
            )
        }
        Ok(validation) => match entry_point_verdict(rules, &validation, block_time) {
            EntryPointVerdict::Accepted => (Verdict::Ok, None),
            EntryPointVerdict::SignatureError => (Verdict::SignatureFailed, None),
            EntryPointVerdict::OutOfTimeRange => {
                (Verdict::EntryPoint("AA22 expired or not due".into()), None)
            }
        },
    }
}

/// The engine's verdict on `op` against the devnet's current state, without running it.
/// `installed` are the account's installed modules (rule 6 bans calls to them); `validator` is
/// always among them.
pub fn predict(
    devnet: &mut Devnet,
    version: EntryPointVersion,
    validator: Address,
    installed: &[Address],
    owner: Option<Address>,
    spec: &SessionSpec,
    op: &UserOperation,
) -> Result<(Verdict, Option<String>), DevnetError> {
    let mut installed = installed.to_vec();
    if !installed.contains(&validator) {
        installed.push(validator);
    }
    let setting = devnet_setting(devnet, validator);
    let input = engine_input(op, devnet.user_op_hash(version, op)?);
    let carried: B256 = match carried_session_hash(&input) {
        Some(hash) => hash,
        None => sessionkeys_engine::session_hash(spec)?,
    };
    let rules = version;
    let context = EvalContext {
        sender: sender_state(&mut devnet.chain, rules, &input, installed.clone()),
        ..eval_context(
            &devnet.chain,
            &setting,
            op.sender,
            owner,
            installed,
            spec,
            carried,
        )
    };
    let block_time = devnet.chain.time();
    Ok(engine_verdict(rules, &context, &input, block_time))
}

/// The contract's verdict on a bundle of one op, from what `handleOps` did. A bundle that
/// reverted for a reason other than the EntryPoint's own `AAxx` checks is handed back: it is a
/// failure of the tool, not a verdict.
pub fn contract_verdict(
    result: Result<BundleReceipt, BundleError>,
) -> Result<(Verdict, Option<BundleReceipt>), BundleError> {
    Ok(match result {
        Ok(receipt) => {
            let op = &receipt.ops[0];
            let verdict = if op.success {
                Verdict::Ok
            } else {
                Verdict::ExecutionReverted(
                    op.decoded_revert()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                )
            };
            (verdict, Some(receipt))
        }
        Err(BundleError::FailedOp { reason, inner, .. }) => {
            let verdict = if reason.starts_with("AA24") {
                Verdict::SignatureFailed
            } else if reason.starts_with("AA23") && inner.is_empty() {
                // A revert without data: Solidity's own calldata checks (or running out of gas).
                Verdict::Refused(Refusal::Violation(Violation::EmptyRevert))
            } else if reason.starts_with("AA23") {
                Verdict::Refused(match sessionkeys_engine::violation_from_revert(&inner) {
                    Some(v) => Refusal::Violation(v),
                    None => Refusal::Revert(decode_revert(&inner)),
                })
            } else {
                Verdict::EntryPoint(reason)
            };
            (verdict, None)
        }
        // The EntryPoint's `require`s while it copies the op (AA93, AA98 on v0.8) revert the
        // whole bundle with `Error("AAxx …")`: an EntryPoint verdict, not a failure of the tool.
        Err(BundleError::Reverted(data)) => match decode_revert(&data) {
            RevertReason::Message(reason) if reason.starts_with("AA") => {
                (Verdict::EntryPoint(reason), None)
            }
            _ => return Err(BundleError::Reverted(data)),
        },
    })
}

/// Evaluates `op` with the engine against the chain's state, then submits it.
pub fn judge(
    devnet: &mut Devnet,
    version: EntryPointVersion,
    validator: Address,
    owner: Option<Address>,
    spec: &SessionSpec,
    op: UserOperation,
) -> Result<Judgement, DevnetError> {
    let (engine, explanation) = predict(devnet, version, validator, &[], owner, spec, &op)?;
    let result = match devnet.handle_ops(version, &[op]) {
        Ok(receipt) => Ok(receipt),
        Err(DevnetError::Bundle(bundle)) => Err(bundle),
        Err(other) => return Err(other),
    };
    let (contract, receipt) = contract_verdict(result)?;
    Ok(Judgement {
        contract,
        engine,
        explanation,
        receipt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;
    use sessionkeys_contracts::session::ISessionKeyValidator;

    #[test]
    fn refusals_print_in_call_form() {
        let refused = Verdict::Refused(Refusal::Violation(Violation::NonCanonicalExecution(68)));
        assert_eq!(
            refused.to_string(),
            "refused: NonCanonicalExecution(position: 68)"
        );
        let revert = Refusal::Revert(decode_revert(&[1, 2, 3, 4, 5]));
        assert_eq!(revert.to_string(), "unknown revert 0x0102030405");
    }

    #[test]
    fn a_decoded_validator_revert_and_the_engine_violation_are_the_same_refusal() {
        let data = ISessionKeyValidator::InvalidSigner {}.abi_encode();
        let decoded = sessionkeys_engine::violation_from_revert(&data).unwrap();
        assert_eq!(
            Refusal::Violation(decoded),
            Refusal::Violation(Violation::invalid_signer())
        );
    }
}
