#![doc = include_str!("../README.md")]

pub mod agent;
pub mod amount;
pub mod dev;
pub mod server;
pub mod tools;

pub use agent::{Agent, Refusal, SessionState};
pub use server::AgentServer;
