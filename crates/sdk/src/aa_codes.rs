//! What an EntryPoint error code (`AA10` … `AA99`, ERC-4337) in a bundler's answer means to the
//! person sending the op, and what to do next. Bundlers pass the EntryPoint's `FailedOp`
//! reason through in their message; the code is its first word.

/// One EntryPoint error code: what happened and the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AaAdvice {
    /// The code, e.g. `AA21`.
    pub code: &'static str,
    /// What it means, as a sentence.
    pub meaning: &'static str,
    /// What to do about it.
    pub next: &'static str,
}

const fn advice(code: &'static str, meaning: &'static str, next: &'static str) -> AaAdvice {
    AaAdvice {
        code,
        meaning,
        next,
    }
}

/// Every code the v0.7 and v0.8 EntryPoints raise (their `FailedOp` reasons).
pub const AA_CODES: &[AaAdvice] = &[
    advice(
        "AA10",
        "The op carries initCode but the account already exists.",
        "Send the op without initCode (the account is deployed).",
    ),
    advice(
        "AA13",
        "The account factory reverted or ran out of gas while deploying the account.",
        "Check the factory address and its staking; raise verificationGasLimit.",
    ),
    advice(
        "AA14",
        "The factory deployed an account at another address than the op's sender.",
        "Recompute the counterfactual address with the same owner, validators and salt.",
    ),
    advice(
        "AA15",
        "The factory did not deploy any code at the sender.",
        "Check the factory and its initCode data.",
    ),
    advice(
        "AA20",
        "The account has no code and the op carries no initCode to deploy it.",
        "Deploy the account first, or send its first op with the factory's initCode.",
    ),
    advice(
        "AA21",
        "The account cannot pay for the op: its balance and EntryPoint deposit are below the op's maximum fee.",
        "Fund the account with ETH (or deposit for it in the EntryPoint), or use a paymaster.",
    ),
    advice(
        "AA22",
        "The op's time range does not include the block time: the session is expired or not valid yet.",
        "Grant a new session, or wait until it starts.",
    ),
    advice(
        "AA23",
        "The account's validation reverted.",
        "Read the named validator error, if any; otherwise check the account's modules.",
    ),
    advice(
        "AA24",
        "The signature does not verify for this account.",
        "Sign with the right key: the account's owner key, or the session key the session names.",
    ),
    advice(
        "AA25",
        "The op's nonce is not the account's next nonce for its key.",
        "Read the nonce again (another op may have used it) and send again.",
    ),
    advice(
        "AA26",
        "Validation used more gas than verificationGasLimit.",
        "Estimate again or raise verificationGasLimit.",
    ),
    advice(
        "AA30",
        "The paymaster has no code.",
        "Check the paymaster address (and that it is deployed on this chain).",
    ),
    advice(
        "AA31",
        "The paymaster's EntryPoint deposit is too low to pay for the op.",
        "Top up the paymaster's deposit in the EntryPoint, or pay from the account.",
    ),
    advice(
        "AA32",
        "The paymaster's approval is expired or not valid yet.",
        "Ask the paymaster for a fresh approval.",
    ),
    advice(
        "AA33",
        "The paymaster's validation reverted.",
        "Check the paymaster's data and its rules for this op.",
    ),
    advice(
        "AA34",
        "The paymaster's signature does not verify.",
        "Ask the paymaster for a fresh signature over this op.",
    ),
    advice(
        "AA36",
        "The paymaster used more gas than paymasterVerificationGasLimit.",
        "Estimate again or raise paymasterVerificationGasLimit.",
    ),
    advice(
        "AA40",
        "Validation used more gas than verificationGasLimit.",
        "Estimate again or raise verificationGasLimit.",
    ),
    advice(
        "AA41",
        "Too little verificationGas was left for the paymaster.",
        "Raise verificationGasLimit.",
    ),
    advice(
        "AA50",
        "The paymaster's postOp reverted.",
        "Check the paymaster; the op's fee was still charged.",
    ),
    advice(
        "AA51",
        "The prefund was below the op's actual gas cost.",
        "Estimate again with higher gas limits.",
    ),
    advice(
        "AA90",
        "The bundle's beneficiary is the zero address.",
        "A bundler bug: report it to the bundler's operator.",
    ),
    advice(
        "AA91",
        "The EntryPoint could not pay the bundle's beneficiary.",
        "A bundler problem: report it to the bundler's operator.",
    ),
    advice(
        "AA92",
        "An EntryPoint function that only it may call was called from outside.",
        "A bundler bug: report it to the bundler's operator.",
    ),
    advice(
        "AA93",
        "paymasterAndData is too short to hold a paymaster address and its gas limits.",
        "Give a paymaster address and both gas limits, or no paymaster at all.",
    ),
    advice(
        "AA94",
        "A gas value of the op does not fit its field.",
        "Lower the op's gas limits and fees.",
    ),
    advice(
        "AA95",
        "The bundle ran out of gas.",
        "Retry: the bundler should give the bundle more gas.",
    ),
    advice(
        "AA96",
        "The op names an invalid signature aggregator.",
        "Send the op without an aggregator.",
    ),
    advice(
        "AA98",
        "The paymaster address is zero (EntryPoint v0.8).",
        "Leave paymasterAndData empty for no paymaster.",
    ),
    advice(
        "AA99",
        "initCode is too short to hold a factory address (EntryPoint v0.8).",
        "Give the factory address and its data, or no initCode.",
    ),
];

/// The advice for the first EntryPoint code (`AA` and two digits) in `message`, if it is one
/// the EntryPoints raise.
pub fn aa_advice(message: &str) -> Option<&'static AaAdvice> {
    let bytes = message.as_bytes();
    (0..bytes.len().saturating_sub(3))
        .filter(|&i| {
            &bytes[i..i + 2] == b"AA" && bytes[i + 2..i + 4].iter().all(u8::is_ascii_digit)
        })
        .find_map(|i| {
            AA_CODES
                .iter()
                .find(|a| a.code.as_bytes() == &bytes[i..i + 4])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_in_a_bundler_message_is_found_and_explained() {
        let advice = aa_advice(
            "UserOperation reverted during simulation with reason: AA21 didn't pay prefund",
        )
        .unwrap();
        assert_eq!(advice.code, "AA21");
        assert!(advice.next.contains("Fund the account"));
        assert_eq!(aa_advice("AA24 signature error").unwrap().code, "AA24");
    }

    #[test]
    fn a_message_without_a_known_code_has_no_advice() {
        assert_eq!(aa_advice("execution reverted"), None);
        assert_eq!(aa_advice("AA7"), None);
        assert_eq!(aa_advice("AA77 made up"), None);
    }

    #[test]
    fn every_code_is_listed_once() {
        for (i, a) in AA_CODES.iter().enumerate() {
            assert!(
                AA_CODES[i + 1..].iter().all(|b| b.code != a.code),
                "{} twice",
                a.code
            );
        }
    }
}
