#![doc = include_str!("../README.md")]

pub mod aa_codes;
pub mod account;
pub mod address_book;
pub mod backend;
pub mod client;
pub mod delegation;
pub mod deploy;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod erc7769;
pub mod error;
pub mod grant;
pub mod held_lock;
pub mod lanes;
pub mod operation;
pub mod password;
pub mod records;
pub mod relay;
pub mod request;
pub mod review;
pub mod rpc;
pub mod session_rows;
pub mod sessions;
pub mod store;
pub mod template;
pub mod wallet;

pub use account::SmartAccount;
pub use address_book::AddressBook;
pub use backend::{Backend, BackendError};
pub use client::{ChainView, Precheck, PreparedOp, SessionClient};
#[cfg(feature = "devnet")]
pub use devnet::DevnetBackend;
pub use error::SdkError;
pub use grant::SessionGrant;
pub use operation::{Executed, WaitPolicy};
pub use records::SessionRecords;
pub use request::{AccountPlan, Approved, Enable, Enabled, GrantRoute, Requested};
pub use rpc::RpcBackend;
pub use sessionkeys_chain::EntryPointVersion;
pub use sessionkeys_chain::deployment;
pub use sessionkeys_chain::execution::Call;
pub use sessionkeys_contracts::session::SessionSpec;
pub use template::SessionTemplate;
