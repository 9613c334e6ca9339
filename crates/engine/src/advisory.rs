//! What the EntryPoint does with the validation data: the part of the verdict that depends on
//! the block, which the validator never sees.

use crate::Validation;

pub use sessionkeys_contracts::vocabulary::EntryPointVersion;

/// The EntryPoint version read as the rules it applies: the version itself carries them
/// ([`EntryPointVersion::valid_after_inclusive`], …). Kept as a name for existing callers.
pub type EntryPointRules = EntryPointVersion;

/// The EntryPoint's verdict on a validation result at a block time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPointVerdict {
    /// Accepted: the op executes.
    Accepted,
    /// `AA24 signature error` (checked before the time range).
    SignatureError,
    /// `AA22 expired or not due`.
    OutOfTimeRange,
}

/// Applies the EntryPoint's checks of `validationData` at `block_time`.
pub fn entry_point_verdict(
    rules: EntryPointVersion,
    validation: &Validation,
    block_time: u64,
) -> EntryPointVerdict {
    if validation.signature_failed {
        return EntryPointVerdict::SignatureError;
    }
    let too_early = if rules.valid_after_inclusive() {
        block_time < validation.valid_after
    } else {
        block_time <= validation.valid_after
    };
    // validUntil 0 means "no end" to the EntryPoint.
    let until = match validation.valid_until {
        0 => u64::MAX,
        until => until,
    };
    if too_early || block_time > until {
        return EntryPointVerdict::OutOfTimeRange;
    }
    EntryPointVerdict::Accepted
}
