//! Amounts as agents write them: decimal strings in a token's units, parsed exactly.
//!
//! JSON numbers are refused: `25.000001` USDC and 18-decimal amounts do not survive a trip
//! through a 64-bit float, and a model that writes `1e3` means something no token has. A string
//! with more fractional digits than the token has is refused, never rounded.

use alloy::primitives::U256;

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a decimal string: digits, at most one `.`, no sign, exponent or spaces.
    #[error(
        "{text:?} is not a decimal amount: write digits with at most one '.', e.g. \"25\" or \"0.5\" (no sign, exponent, spaces or separators)"
    )]
    NotDecimal {
        /// What was given.
        text: String,
    },
    /// More fractional digits than the token has.
    #[error("{text:?} has more than {decimals} digits after the '.', the most this token has")]
    TooPrecise {
        /// What was given.
        text: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// Larger than a 256-bit word holds.
    #[error("{text:?} is larger than any amount a token can hold (2^256 - 1 base units)")]
    TooLarge {
        /// What was given.
        text: String,
    },
}

/// The longest integer part accepted: 2^256 has 78 digits.
const MOST_DIGITS: usize = 78;

/// `text` in base units of a token with `decimals`: `"25.5"` with 6 decimals is 25,500,000.
///
/// # Errors
/// [`AmountError`] for anything but an exact decimal that fits 256 bits.
pub fn parse_units(text: &str, decimals: u8) -> Result<U256, AmountError> {
    let not_decimal = || AmountError::NotDecimal {
        text: text.to_string(),
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(not_decimal());
    }
    // One spelling per amount: no leading zeros ("007"), no trailing '.'.
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(not_decimal());
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > usize::from(decimals) {
        return Err(AmountError::TooPrecise {
            text: text.to_string(),
            decimals,
        });
    }
    let too_large = || AmountError::TooLarge {
        text: text.to_string(),
    };
    if whole.len() > MOST_DIGITS {
        return Err(too_large());
    }
    let padded = format!("{fraction:0<width$}", width = usize::from(decimals));
    let all = format!("{whole}{padded}");
    U256::from_str_radix(&all, 10).map_err(|_| too_large())
}

/// The JSON Schema `pattern` of [`parse_units`]'s accepted strings for `decimals`.
pub fn units_pattern(decimals: u8) -> String {
    if decimals == 0 {
        "^(0|[1-9][0-9]{0,77})$".to_string()
    } else {
        format!("^(0|[1-9][0-9]{{0,77}})(\\.[0-9]{{1,{decimals}}})?$")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeys_engine::explain::format_units;

    #[test]
    fn amounts_round_trip_exactly_at_every_precision_the_token_has() {
        for (text, decimals, base) in [
            ("25", 6, "25000000"),
            ("25.000001", 6, "25000001"),
            ("0.000001", 6, "1"),
            ("0", 6, "0"),
            ("1.5", 18, "1500000000000000000"),
            ("0.000000000000000001", 18, "1"),
            (
                "123456789.123456789123456789",
                18,
                "123456789123456789123456789",
            ),
            ("7", 0, "7"),
        ] {
            let parsed = parse_units(text, decimals).unwrap();
            assert_eq!(parsed.to_string(), base, "{text}");
            let back = format_units(parsed, decimals);
            assert_eq!(
                parse_units(&back, decimals).unwrap(),
                parsed,
                "{text} -> {back}"
            );
        }
        assert_eq!(
            parse_units(&format!("{}", U256::MAX), 0).unwrap(),
            U256::MAX
        );
    }

    #[test]
    fn amounts_that_are_not_exact_decimals_are_refused_with_the_reason() {
        for text in [
            "", ".", "1.", ".5", "-1", "+1", "1e3", "1,000", " 1", "1 ", "0x10", "007", "1.2.3",
            "NaN", "١",
        ] {
            assert!(
                matches!(parse_units(text, 6), Err(AmountError::NotDecimal { .. })),
                "{text:?} was accepted"
            );
        }
        assert_eq!(
            parse_units("25.0000001", 6),
            Err(AmountError::TooPrecise {
                text: "25.0000001".into(),
                decimals: 6
            })
        );
        assert!(matches!(
            parse_units("0.5", 0),
            Err(AmountError::TooPrecise { .. })
        ));
        let over = format!("{}0", U256::MAX);
        assert!(matches!(
            parse_units(&over, 0),
            Err(AmountError::TooLarge { .. })
        ));
        // Fits as digits, overflows once the decimals are appended.
        let near = U256::MAX.to_string();
        assert!(matches!(
            parse_units(&near, 6),
            Err(AmountError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_pattern_names_the_decimals() {
        assert_eq!(units_pattern(6), "^(0|[1-9][0-9]{0,77})(\\.[0-9]{1,6})?$");
        assert_eq!(units_pattern(0), "^(0|[1-9][0-9]{0,77})$");
    }
}
