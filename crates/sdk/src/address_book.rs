//! One address book for the names an ops file or a command line may use instead of an address
//! (`usdc`, `account`, `entryPoint`, …): `simulate`, `check` and `exec` each start from it and
//! add what they know. A written address is checked against its EIP-55 checksum.

use crate::EntryPointVersion;
use alloy::primitives::Address;
use sessionkeys_chain::deployment;

/// A name the book does not hold and that is no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected an address or one of {known}; got {name:?}{hint}")]
pub struct UnknownName {
    /// Where the name was written (`ops[0].calls[1].to`).
    pub path: String,
    /// The name as written.
    pub name: String,
    /// The names the book holds, comma-separated.
    pub known: String,
    /// Why the name would not do, when it looked like an address.
    pub hint: String,
}

/// Names and their addresses, looked up in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressBook {
    entries: Vec<(&'static str, Address)>,
}

impl AddressBook {
    /// A book with no names: only addresses resolve.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The deterministic deployment's names on any chain: the fixtures (`usdc`, `gold`,
    /// `game`), the `validator`, and `entryPoint` of `version`.
    pub fn deployment(version: EntryPointVersion) -> Self {
        Self::empty()
            .with("usdc", deployment::fixtures::usdc().address())
            .with("gold", deployment::fixtures::gold().address())
            .with("game", deployment::fixtures::game().address())
            .with(
                "validator",
                deployment::session_key_validator(Address::ZERO).address(),
            )
            .with("entryPoint", version.address())
    }

    /// Adds (or replaces) a name.
    pub fn with(mut self, name: &'static str, address: Address) -> Self {
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, address));
        self
    }

    /// The address of `name`, or `name` read as an address (EIP-55 checked); `path` says
    /// where it was written, for the error.
    pub fn resolve(&self, name: &str, path: &str) -> Result<Address, UnknownName> {
        if let Some((_, address)) = self.entries.iter().find(|(n, _)| *n == name) {
            return Ok(*address);
        }
        sessionkeys_engine::format::scalars::parse_address(name).map_err(|why| UnknownName {
            path: path.to_string(),
            name: name.to_string(),
            known: self.names(),
            hint: if name.starts_with("0x") {
                format!(" ({why})")
            } else {
                String::new()
            },
        })
    }

    /// The names, comma-separated.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.entries.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_the_deployment_and_addresses_pass_through() {
        let account = Address::repeat_byte(0xac);
        let book = AddressBook::deployment(EntryPointVersion::V07).with("account", account);
        assert_eq!(book.resolve("account", "to").unwrap(), account);
        assert_eq!(
            book.resolve("usdc", "to").unwrap(),
            deployment::fixtures::usdc().address()
        );
        let lower = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
        assert_eq!(
            book.resolve(lower, "to").unwrap().to_checksum(None),
            "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones_and_a_bad_checksum_the_right_form() {
        let book = AddressBook::empty().with("account", Address::ZERO);
        let error = book.resolve("usdc", "ops[0].calls[0].to").unwrap_err();
        assert_eq!(
            error.to_string(),
            "ops[0].calls[0].to: expected an address or one of account; got \"usdc\""
        );
        let wrong = "0x833589FCD6eDb6E08f4c7C32D4f71b54bdA02913";
        let error = book.resolve(wrong, "to").unwrap_err().to_string();
        assert!(
            error.contains("did you mean 0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
            "{error}"
        );
    }
}
