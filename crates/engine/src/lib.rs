#![doc = include_str!("../README.md")]

pub mod advisory;
pub mod calldata;
pub mod context;
pub mod destinations;
pub mod evaluate;
pub mod execute;
pub mod explain;
pub mod format;
pub mod lint;
pub mod sender;
pub mod spec;
pub mod typed_data;
#[allow(non_snake_case)]
mod v;
pub mod violation;

pub use context::{
    Counter, CounterKey, CounterKind, EvalContext, FactoryOutcome, SenderState, SessionHeader,
    Status, UserOpInput,
};
pub use evaluate::{Validation, evaluate};
pub use spec::{enable_digest, session_hash, validate_spec};
pub use violation::{Violation, violation_from_revert};
