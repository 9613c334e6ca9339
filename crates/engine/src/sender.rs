//! What happens to a userOp before the session validator runs: the EntryPoint's own checks of
//! the op's fields, its `initCode` handling, then `SessionAccount.validateUserOp` routing on the
//! nonce key (docs/decisions.md, "Validation order").

use crate::Violation;
use crate::context::{EvalContext, FactoryOutcome, UserOpInput};
use alloy::primitives::{Address, B256, U256};
use sessionkeys_contracts::vocabulary::EntryPointVersion;

/// The 20 bytes that mark an EIP-7702 `initCode` on v0.8 (0x7702 padded with zeros).
const EIP7702_MARKER: [u8; 20] = {
    let mut marker = [0u8; 20];
    marker[0] = 0x77;
    marker[1] = 0x02;
    marker
};

fn refused(reason: &str) -> Violation {
    Violation::EntryPoint(reason.to_string())
}

/// v0.8's `_isEip7702InitCode`: at least 2 bytes, whose first 20 (zero-padded) are the marker.
fn is_eip7702_init_code(init_code: &[u8]) -> bool {
    let mut head = [0u8; 20];
    let n = init_code.len().min(20);
    head[..n].copy_from_slice(&init_code[..n]);
    init_code.len() >= 2 && head == EIP7702_MARKER
}

/// The EntryPoint's checks of the op's own fields before anything runs (`_copyUserOpToMemory`,
/// then `_validatePrepayment`'s gas bound).
pub fn check_fields(ctx: &EvalContext, op: &UserOpInput) -> Result<(), Violation> {
    let (pm_verification, pm_post_op) =
        check_paymaster_and_data(ctx.sender.entry_point, &op.paymaster_and_data)?;
    let high = |word: &B256| U256::from_be_slice(&word[..16]);
    let low = |word: &B256| U256::from_be_slice(&word[16..]);
    let max = op.pre_verification_gas
        | high(&op.account_gas_limits)
        | low(&op.account_gas_limits)
        | pm_verification
        | pm_post_op
        | high(&op.gas_fees)
        | low(&op.gas_fees);
    if max > U256::MAX >> 136 {
        return Err(refused("AA94 gas values overflow"));
    }
    Ok(())
}

/// The EntryPoint's reading of `paymasterAndData` while it copies the op: `AA93` when it is
/// shorter than address + two gas limits, and on v0.8 `AA98` for a zero paymaster address (v0.7
/// reads one as no paymaster). Returns the paymaster's verification and post-op gas limits.
pub fn check_paymaster_and_data(
    rules: EntryPointVersion,
    pm: &[u8],
) -> Result<(U256, U256), Violation> {
    if pm.is_empty() {
        return Ok((U256::ZERO, U256::ZERO));
    }
    if pm.len() < 52 {
        return Err(refused("AA93 invalid paymasterAndData"));
    }
    if rules.refuses_zero_paymaster() && pm[..20] == [0u8; 20] {
        return Err(refused("AA98 invalid paymaster"));
    }
    Ok((
        U256::from_be_slice(&pm[20..36]),
        U256::from_be_slice(&pm[36..52]),
    ))
}

/// The EntryPoint's `_createSenderIfNeeded`, from the explicit [`crate::SenderState`].
pub fn create_sender(ctx: &EvalContext, op: &UserOpInput) -> Result<(), Violation> {
    let (state, init_code) = (&ctx.sender, &op.init_code[..]);
    if init_code.is_empty() {
        return Ok(());
    }
    if state.entry_point.reads_eip7702_init_code() && is_eip7702_init_code(init_code) {
        if init_code.len() > 20 && state.init_call_reverts {
            return Err(refused("AA13 EIP7702 sender init failed"));
        }
        return Ok(());
    }
    if state.has_code {
        return Err(refused("AA10 sender already constructed"));
    }
    if init_code.len() < 20 {
        // v0.7 names no reason: its SenderCreator reverts slicing the factory address.
        return Err(refused(state.entry_point.short_init_code_reason()));
    }
    match state.factory {
        FactoryOutcome::Fails => Err(refused("AA13 initCode failed or OOG")),
        FactoryOutcome::Returns { address, .. } if address == Address::ZERO => {
            Err(refused("AA13 initCode failed or OOG"))
        }
        FactoryOutcome::Returns { address, .. } if address != op.sender => {
            Err(refused("AA14 initCode must return sender"))
        }
        FactoryOutcome::Returns {
            deployed: false, ..
        } => Err(refused("AA15 initCode must create sender")),
        FactoryOutcome::Returns { .. } => Ok(()),
    }
}

/// Where `SessionAccount.validateUserOp` sends the op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Nonce key validator zero: the owner's raw ECDSA signature over the userOp hash.
    Owner,
    /// The session validator of the context.
    Session,
}

/// The validator named by the nonce key (its top 160 bits).
pub fn nonce_validator(op: &UserOpInput) -> Address {
    Address::from_slice(&B256::from(op.nonce)[..20])
}

/// `SessionAccount.validateUserOp`'s routing: the owner path, the session validator, or a
/// refusal for a validator that is not installed.
pub fn route(ctx: &EvalContext, op: &UserOpInput) -> Result<Route, Violation> {
    let validator = nonce_validator(op);
    if validator == Address::ZERO {
        return Ok(Route::Owner);
    }
    if !ctx.sender.validators.contains(&validator) {
        return Err(Violation::ValidatorNotInstalled(validator));
    }
    if validator != ctx.validator {
        return Err(Violation::OtherValidator(validator));
    }
    Ok(Route::Session)
}
