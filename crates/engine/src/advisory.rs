//! What the EntryPoint does with the validation data: the part of the verdict that depends on
//! the block, which the validator never sees.

use crate::Validation;

/// The EntryPoint's version, which decides how `validAfter` is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPointRules {
    /// v0.7: valid when `validAfter <= now <= validUntil`.
    V07,
    /// v0.8: valid when `validAfter < now <= validUntil`.
    V08,
}

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
    rules: EntryPointRules,
    validation: &Validation,
    block_time: u64,
) -> EntryPointVerdict {
    if validation.signature_failed {
        return EntryPointVerdict::SignatureError;
    }
    let too_early = match rules {
        EntryPointRules::V07 => block_time < validation.valid_after,
        EntryPointRules::V08 => block_time <= validation.valid_after,
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
