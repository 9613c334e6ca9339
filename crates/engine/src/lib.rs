#![doc = include_str!("../README.md")]

pub mod advisory;
pub mod call_form;
pub mod carry;
pub mod context;
pub mod destinations;
pub mod evaluate;
pub mod execute;
pub mod explain;
pub mod format;
pub mod lint;
mod refusals;
pub mod sender;
pub mod spec;
pub mod typed_data;
pub mod violation;

pub use context::{
    Counter, CounterKey, CounterKind, EvalContext, FactoryOutcome, SenderState, SessionHeader,
    Status, UserOpInput,
};
pub use evaluate::{Validation, evaluate};
pub use sessionkeys_contracts::vocabulary::session_hash;
pub use spec::{enable_digest, validate_spec};
pub use violation::{Violation, violation_from_revert};
