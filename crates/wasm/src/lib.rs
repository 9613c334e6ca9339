#![doc = include_str!("../README.md")]

#[cfg(target_arch = "wasm32")]
pub mod abi;
pub mod api;

pub use api::{ApiError, answer, respond};
