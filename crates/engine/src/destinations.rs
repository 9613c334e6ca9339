//! The one table of token functions whose destination, spender or operator argument decides
//! where value can go. Lint SK001 requires that word pinned; the registry review (SK020) looks
//! up the pinned spenders of its approvals, as the validator's `_checkRegistry` does.

/// What a function does to its destination word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    /// Lets the word (a spender or operator) move the account's tokens later, outliving the
    /// session.
    Approval,
    /// Moves tokens to the word (a recipient) now.
    Transfer,
}

/// One token function of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationFunction {
    /// The 4-byte selector.
    pub selector: [u8; 4],
    /// The canonical signature, e.g. `transfer(address,uint256)`.
    pub signature: &'static str,
    /// Which argument word is the recipient, spender or operator (0 = the first argument).
    pub word: u32,
    /// Approval or transfer.
    pub kind: DestinationKind,
    /// The argument word holding a fungible amount, if the function has one in its static head.
    pub amount: Option<u32>,
}

const fn entry(
    selector: [u8; 4],
    signature: &'static str,
    word: u32,
    kind: DestinationKind,
    amount: Option<u32>,
) -> DestinationFunction {
    DestinationFunction {
        selector,
        signature,
        word,
        kind,
        amount,
    }
}

use DestinationKind::{Approval, Transfer};

/// ERC-20, ERC-721, ERC-1155 and ERC-777 functions with a destination word.
pub const DESTINATION_FUNCTIONS: &[DestinationFunction] = &[
    entry(
        [0x09, 0x5e, 0xa7, 0xb3],
        "approve(address,uint256)",
        0,
        Approval,
        Some(1),
    ),
    entry(
        [0x39, 0x50, 0x93, 0x51],
        "increaseAllowance(address,uint256)",
        0,
        Approval,
        Some(1),
    ),
    // Older OpenZeppelin / StandardToken name of increaseAllowance.
    entry(
        [0xd7, 0x3d, 0xd6, 0x23],
        "increaseApproval(address,uint256)",
        0,
        Approval,
        Some(1),
    ),
    entry(
        [0xa2, 0x2c, 0xb4, 0x65],
        "setApprovalForAll(address,bool)",
        0,
        Approval,
        None,
    ),
    entry(
        [0xa9, 0x05, 0x9c, 0xbb],
        "transfer(address,uint256)",
        0,
        Transfer,
        Some(1),
    ),
    entry(
        [0x23, 0xb8, 0x72, 0xdd],
        "transferFrom(address,address,uint256)",
        1,
        Transfer,
        Some(2),
    ),
    // ERC-721: the third word is a token id, not an amount.
    entry(
        [0x42, 0x84, 0x2e, 0x0e],
        "safeTransferFrom(address,address,uint256)",
        1,
        Transfer,
        None,
    ),
    entry(
        [0xb8, 0x8d, 0x4f, 0xde],
        "safeTransferFrom(address,address,uint256,bytes)",
        1,
        Transfer,
        None,
    ),
    // ERC-1155.
    entry(
        [0xf2, 0x42, 0x43, 0x2a],
        "safeTransferFrom(address,address,uint256,uint256,bytes)",
        1,
        Transfer,
        Some(3),
    ),
    // The amounts are a dynamic array, out of a constraint's reach (rule 3).
    entry(
        [0x2e, 0xb2, 0xc2, 0xd6],
        "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        1,
        Transfer,
        None,
    ),
    // ERC-777.
    entry(
        [0x9b, 0xd9, 0xbb, 0xc6],
        "send(address,uint256,bytes)",
        0,
        Transfer,
        Some(1),
    ),
    entry(
        [0x62, 0xad, 0x1b, 0x83],
        "operatorSend(address,address,uint256,bytes,bytes)",
        1,
        Transfer,
        Some(2),
    ),
];

impl DestinationFunction {
    /// The number of words in the function's static head: one per parameter, since every
    /// parameter here is a single word or the offset of a dynamic one (no tuples in the table).
    pub fn head_words(&self) -> u32 {
        let params = &self.signature[self.signature.find('(').map_or(0, |i| i + 1)..];
        let params = params.trim_end_matches(')');
        if params.is_empty() {
            0
        } else {
            params.split(',').count() as u32
        }
    }
}

/// The table's entry for `selector`, if any.
pub fn destination_function(selector: [u8; 4]) -> Option<&'static DestinationFunction> {
    DESTINATION_FUNCTIONS
        .iter()
        .find(|f| f.selector == selector)
}

/// The entry for `selector` if it is an approval: the functions whose spender a registry
/// reviews.
pub fn approval_function(selector: [u8; 4]) -> Option<&'static DestinationFunction> {
    destination_function(selector).filter(|f| f.kind == DestinationKind::Approval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::scalars::parse_selector;

    #[test]
    fn every_selector_is_the_keccak_of_its_signature() {
        for f in DESTINATION_FUNCTIONS {
            assert_eq!(
                parse_selector(f.signature).unwrap(),
                f.selector,
                "{}",
                f.signature
            );
        }
    }

    #[test]
    fn head_words_count_one_word_per_parameter() {
        let head = |s: &str| {
            destination_function(parse_selector(s).unwrap())
                .unwrap()
                .head_words()
        };
        assert_eq!(head("transfer(address,uint256)"), 2);
        assert_eq!(head("send(address,uint256,bytes)"), 3);
        assert_eq!(
            head("safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)"),
            5
        );
        assert!(
            DESTINATION_FUNCTIONS
                .iter()
                .all(|f| f.signature.matches('(').count() == 1),
            "no tuple parameters"
        );
    }

    #[test]
    fn each_selector_appears_once() {
        for (i, f) in DESTINATION_FUNCTIONS.iter().enumerate() {
            assert!(
                DESTINATION_FUNCTIONS[i + 1..]
                    .iter()
                    .all(|g| g.selector != f.selector),
                "{}",
                f.signature
            );
        }
    }
}
