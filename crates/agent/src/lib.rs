#![doc = include_str!("../README.md")]

pub mod agent;
pub mod amount;
pub mod dev;
pub mod route;
pub mod server;
pub mod tools;
pub mod via_service;

pub use agent::{Agent, Refusal, Sent, SessionState};
pub use server::AgentServer;
