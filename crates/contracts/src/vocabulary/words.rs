//! The contract's `uint8` words as Rust enums, with the numbers of `contracts/src/SessionTypes.sol`
//! (and `interfaces/IPolicyRegistry.sol` for the registry's review status).

use serde::{Deserialize, Serialize};

/// A number that is not one of a word's values, e.g. limit type 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{code} is not a {word} (known: {known})")]
pub struct UnknownWord {
    /// Which word was read, e.g. `limit type`.
    pub word: &'static str,
    /// The number that matches none of its values.
    pub code: u8,
    /// The values it may take, e.g. `0 unlimited, 1 lifetime, 2 allowance`.
    pub known: &'static str,
}

/// Declares one word: the enum, its Solidity constant names, `TryFrom<u8>` and `From<_> for u8`.
macro_rules! word {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal, $known:literal {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal, $sol:literal, $text:literal;)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What the word is called in messages.
            pub const WORD: &'static str = $what;
            /// The first number that is none of the values (they run from 0 to `UNKNOWN - 1`):
            /// what a test of the refusal of an unknown word writes.
            pub const UNKNOWN: u8 = Self::ALL.len() as u8;

            /// The number the contract stores.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The name of its `uint8 constant` in the Solidity sources.
            pub const fn sol_name(self) -> &'static str {
                match self {
                    $($name::$variant => $sol,)+
                }
            }

            /// The value in words, as messages print it.
            pub const fn text(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl TryFrom<u8> for $name {
            type Error = UnknownWord;
            fn try_from(code: u8) -> Result<Self, UnknownWord> {
                $(if code == $code {
                    return Ok($name::$variant);
                })+
                Err(UnknownWord { word: $what, code, known: $known })
            }
        }

        impl From<$name> for u8 {
            fn from(word: $name) -> u8 {
                word as u8
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.text())
            }
        }
    };
}

word! {
    /// `UsageLimit.limitType`: no budget, a lifetime total, or an allowance that resets every
    /// period.
    LimitType, "limit type", "0 unlimited, 1 lifetime, 2 allowance" {
        /// No budget (limit and period 0).
        Unlimited = 0, "LIMIT_UNLIMITED", "unlimited";
        /// A total for the session's life.
        Lifetime = 1, "LIMIT_LIFETIME", "lifetime";
        /// A total per fixed window of `period` seconds.
        Allowance = 2, "LIMIT_ALLOWANCE", "allowance";
    }
}

word! {
    /// `Constraint.condition`: how a calldata word compares with the reference value.
    Condition, "condition", "0 unconstrained, 1 equal, 2 greater, 3 less, 4 greaterOrEqual, 5 lessOrEqual, 6 notEqual, 7 oneOf" {
        /// Any value (only the word's width and budget apply).
        Unconstrained = 0, "COND_UNCONSTRAINED", "unconstrained";
        /// Equal to the reference.
        Equal = 1, "COND_EQUAL", "equal to";
        /// Greater than the reference.
        Greater = 2, "COND_GREATER", "greater than";
        /// Less than the reference.
        Less = 3, "COND_LESS", "less than";
        /// At least the reference.
        GreaterOrEqual = 4, "COND_GREATER_OR_EQUAL", "at least";
        /// At most the reference.
        LessOrEqual = 5, "COND_LESS_OR_EQUAL", "at most";
        /// Different from the reference.
        NotEqual = 6, "COND_NOT_EQUAL", "different from";
        /// One of the listed values.
        OneOf = 7, "COND_ONE_OF", "one of";
    }
}

word! {
    /// `SessionSpec.paymasterMode`: which paymasters may sponsor the session's ops.
    PaymasterMode, "paymaster mode", "0 none, 1 any, 2 one" {
        /// No paymaster; the account pays.
        None = 0, "PAYMASTER_NONE", "no paymaster";
        /// Any paymaster.
        Any = 1, "PAYMASTER_ANY", "any paymaster";
        /// Exactly `SessionSpec.paymaster`.
        One = 2, "PAYMASTER_ONE", "one paymaster";
    }
}

word! {
    /// `SessionSignature.mode`: use an enabled session, or enable it in its first use.
    SignatureMode, "signature mode", "0 use, 1 enable" {
        /// The session is enabled already.
        Use = 0, "MODE_USE", "use";
        /// The op carries the owner's approval and enables the session.
        Enable = 1, "MODE_ENABLE", "enable";
    }
}

word! {
    /// A session's stored status.
    #[derive(Default)]
    Status, "session status", "0 none, 1 active, 2 revoked" {
        /// Never enabled nor revoked.
        #[default]
        None = 0, "STATUS_NONE", "not enabled";
        /// Enabled.
        Active = 1, "STATUS_ACTIVE", "active";
        /// Revoked for good.
        Revoked = 2, "STATUS_REVOKED", "revoked";
    }
}

word! {
    /// Which budget a counter tracks, as named in `LimitExceeded` and `sessionUsage`.
    CounterKind, "counter kind", "0 ops, 1 fee, 2 callValue, 3 callCount, 4 constraintSum, 5 transferValue" {
        /// The op count (kept in the header).
        Ops = 0, "COUNTER_OPS", "op count";
        /// Gas fees the account pays.
        Fee = 1, "COUNTER_FEE", "fee budget";
        /// Value sent by calls of one call policy.
        CallValue = 2, "COUNTER_CALL_VALUE", "value budget";
        /// Calls of one call policy.
        CallCount = 3, "COUNTER_CALL_COUNT", "call count";
        /// Sum of one constrained word.
        ConstraintSum = 4, "COUNTER_CONSTRAINT_SUM", "sum of the constrained argument";
        /// Value sent by plain transfers of one transfer policy.
        TransferValue = 5, "COUNTER_TRANSFER_VALUE", "transfer value budget";
    }
}

word! {
    /// A `PolicyRegistry`'s review of a call, transfer target or approval spender.
    ReviewStatus, "review status", "0 unset, 1 allowed, 2 blocked" {
        /// Not reviewed.
        Unset = 0, "REVIEW_UNSET", "unset (not reviewed)";
        /// Reviewed and allowed.
        Allowed = 1, "REVIEW_ALLOWED", "allowed";
        /// Reviewed and blocked.
        Blocked = 2, "REVIEW_BLOCKED", "blocked";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_outside_the_word_is_refused_with_the_value_and_the_known_ones() {
        let error = LimitType::try_from(3).unwrap_err();
        assert_eq!(error.code, 3);
        assert_eq!(
            error.to_string(),
            "3 is not a limit type (known: 0 unlimited, 1 lifetime, 2 allowance)"
        );
        assert_eq!(Condition::UNKNOWN, 8);
        assert_eq!(
            Condition::try_from(Condition::UNKNOWN).unwrap_err().word,
            "condition"
        );
    }

    #[test]
    fn every_word_round_trips_through_its_number() {
        for word in CounterKind::ALL {
            assert_eq!(CounterKind::try_from(u8::from(*word)), Ok(*word));
        }
        for word in Condition::ALL {
            assert_eq!(Condition::try_from(word.code()), Ok(*word));
        }
    }
}
