//! The contract's words, one home: every `uint8` the ABI carries as a number (limit types,
//! conditions, paymaster modes, signature modes, statuses, counter kinds, the registry's review
//! status) as a Rust enum, the EntryPoint versions with their rules, the spec's bounds, readable
//! constructors of limits and constraints, and the session's digest and nonce lane.
//!
//! Nothing outside this module writes these words as integers: a test parses the workspace
//! with `syn` and fails on an integer literal compared with, matched against or assigned to one
//! (docs/decisions.md, "Vocabulary"); another reads `contracts/src/SessionTypes.sol` and checks
//! every `uint8 constant` against its word here.

mod constructors;
mod digest;
mod entry_point;
pub mod packed;
mod words;

pub use digest::{nonce_key, nonce_lane, session_digest, session_hash, session_lane};
pub use entry_point::{EntryPointVersion, UnknownEntryPoint};
pub use words::{
    Condition, CounterKind, LimitType, PaymasterMode, ReviewStatus, SignatureMode, Status,
    UnknownWord,
};

use alloy::primitives::U256;

/// Hardening rule 9: the shortest period of an allowance, in seconds (`MIN_PERIOD`).
pub const MIN_PERIOD: u64 = 60;
/// The most values a OneOf constraint may list (`MAX_ONE_OF`).
pub const MAX_ONE_OF: usize = 16;
/// The largest limit of a budget: counters are stored in 208 bits beside a 48-bit period id
/// (`MAX_LIMIT = type(uint208).max`).
pub const MAX_LIMIT: U256 = U256::from_limbs([u64::MAX, u64::MAX, u64::MAX, 0xffff]);
