//! The scalar values of the JSON form: each accepts the spellings people write and prints one
//! canonical spelling.

use alloy::primitives::{Address, B256, U256, keccak256};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An address, accepted in any letter case, printed checksummed (EIP-55).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressValue(pub Address);

/// An amount: a decimal string (`"100000000"`), a `0x` hex string, or a JSON integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amount(pub U256);

/// A point in time: RFC 3339 (`"2026-11-24T18:00:00Z"`, offsets allowed) or Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp(pub u64);

/// A duration: `"90s"`, `"10m"`, `"1h"`, `"1d"`, `"1w"`, or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub u64);

/// A function selector: `"0xa9059cbb"` or a signature `"transfer(address,uint256)"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector(pub [u8; 4]);

/// A 32-byte ABI word: an address (left-padded), a number (decimal or hex), or 32 bytes of hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Word(pub B256);

fn parse_hex_address(s: &str) -> Result<Address, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or("an address starts with 0x")?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "expected an address (0x and 40 hex digits), got {s:?}"
        ));
    }
    let address =
        Address::from_slice(&alloy::primitives::hex::decode(hex).map_err(|e| e.to_string())?);
    check_eip55(hex, address)?;
    Ok(address)
}

/// EIP-55: hex digits in mixed case are a checksum and must match it, so a mistyped address is
/// caught; all-lowercase (or all-uppercase) hex carries no checksum and is taken as it is.
fn check_eip55(hex: &str, address: Address) -> Result<(), String> {
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let checksummed = address.to_checksum(None);
    if has_lower && has_upper && hex != &checksummed[2..] {
        return Err(format!(
            "0x{hex} has a wrong EIP-55 checksum (its mixed case does not match): did you mean \
             {checksummed}? Copy the address again, or write it all in lowercase"
        ));
    }
    Ok(())
}

/// Parses a 0x-hex address, refusing a mixed-case one whose EIP-55 checksum does not match.
pub fn parse_address(s: &str) -> Result<Address, String> {
    parse_hex_address(s.trim())
}

/// Checks every 0x-hex address written in `text` (an ABI argument: an address, or an array or
/// tuple holding some) against its EIP-55 checksum.
pub fn check_addresses_in(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("0x").map(|p| p + i) {
        let digits = bytes[at + 2..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits == 40 {
            parse_hex_address(&text[at..at + 42])?;
        }
        i = at + 2 + digits;
    }
    Ok(())
}

/// Parses a decimal or 0x-hex unsigned integer of at most 256 bits.
pub fn parse_uint(s: &str) -> Result<U256, String> {
    let t = s.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        U256::from_str_radix(hex, 16)
    } else {
        U256::from_str_radix(t, 10)
    };
    parsed.map_err(|_| format!("expected a decimal or 0x-hex integer below 2^256, got {s:?}"))
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's days-from-civil: days since 1970-01-01 of a proleptic Gregorian date.
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses RFC 3339 (`2026-11-24T18:00:00Z`, `…+02:00`, fractional seconds ignored).
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("expected RFC 3339 time like \"2026-11-24T18:00:00Z\" or Unix seconds, got {s:?}")
    };
    let b = s.as_bytes();
    // RFC 3339 is ASCII; checking it first keeps every byte-position slice below on a char
    // boundary (a multibyte character there once panicked the parser; docs/fuzzing.md).
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let digits = &s[range];
        if !digits.bytes().all(|d| d.is_ascii_digit()) {
            return Err(bad());
        }
        digits.parse::<i64>().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let (h, m) = (
                rest[1..3].parse::<i64>().map_err(|_| bad())?,
                rest[4..6].parse::<i64>().map_err(|_| bad())?,
            );
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad()),
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).map_err(|_| format!("{s:?} is before 1970"))
}

/// The last second RFC 3339 can spell: 9999-12-31T23:59:59Z (its years have four digits).
/// Later times still fit a session's 48-bit times, so they are printed as Unix seconds.
pub const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Proleptic Gregorian year (more than four digits after 9999).
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u64,
    /// 0–59.
    pub minute: u64,
    /// 0–59.
    pub second: u64,
}

/// Unix seconds as a UTC date and time (civil-from-days, the inverse of `days_from_civil`).
pub fn civil_from_unix(seconds: u64) -> Civil {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + if month <= 2 { 1 } else { 0 },
        month: month as u32,
        day: day as u32,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
    }
}

/// Formats Unix seconds as RFC 3339 UTC, or `None` after [`LAST_RFC3339_SECOND`], which it
/// cannot spell.
pub fn format_rfc3339(seconds: u64) -> Option<String> {
    if seconds > LAST_RFC3339_SECOND {
        return None;
    }
    let c = civil_from_unix(seconds);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    ))
}

/// Parses `90s`, `10m`, `1h`, `1d`, `1w` or plain seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "expected a duration like \"60s\", \"10m\", \"1h\", \"1d\", \"1w\" or seconds, got {s:?}"
        )
    };
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

/// The shortest readable spelling of a duration.
pub fn format_duration(seconds: u64) -> String {
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// Parses a selector from hex or from a canonical function signature.
pub fn parse_selector(s: &str) -> Result<[u8; 4], String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        let bytes =
            alloy::primitives::hex::decode(hex).map_err(|_| format!("bad selector hex {s:?}"))?;
        return bytes
            .try_into()
            .map_err(|_| format!("a selector is 4 bytes (0x and 8 hex digits), got {s:?}"));
    }
    let open = t.find('(').ok_or_else(|| {
        format!("expected 0x-hex or a signature like \"transfer(address,uint256)\", got {s:?}")
    })?;
    let name = &t[..open];
    let valid_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid_name || !t.ends_with(')') || t.contains(char::is_whitespace) {
        return Err(format!(
            "a signature is a name and its argument types without spaces, like \"transfer(address,uint256)\"; got {s:?}"
        ));
    }
    Ok(keccak256(t.as_bytes())[..4].try_into().expect("4 bytes"))
}

/// Parses an ABI word from an address, a number or 32 bytes of hex.
pub fn parse_word(s: &str) -> Result<B256, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        if hex.len() == 40 {
            return Ok(parse_hex_address(t)?.into_word());
        }
        if hex.len() == 64 {
            return alloy::primitives::hex::decode(hex)
                .map(|b| B256::from_slice(&b))
                .map_err(|_| format!("bad hex word {s:?}"));
        }
    }
    parse_uint(t)
        .map(B256::from)
        .map_err(|_| format!("expected an address, a number or 32 bytes of 0x-hex, got {s:?}"))
}

macro_rules! string_or_number {
    ($ty:ident, $expecting:literal, |$s:ident| $from_str:expr, |$n:ident| $from_u64:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, $s: &str) -> Result<$ty, E> {
                        $from_str.map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, $n: u64) -> Result<$ty, E> {
                        $from_u64.map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, n: i64) -> Result<$ty, E> {
                        u64::try_from(n)
                            .map_err(|_| {
                                E::custom(concat!(
                                    "expected ",
                                    $expecting,
                                    ", got a negative number"
                                ))
                            })
                            .and_then(|n| self.visit_u64(n))
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

string_or_number!(
    Amount,
    "an amount (decimal or 0x-hex string, or an integer)",
    |s| parse_uint(s).map(Amount),
    |n| Ok::<_, String>(Amount(U256::from(n)))
);
string_or_number!(
    Timestamp,
    "a time (RFC 3339 string or Unix seconds)",
    |s| parse_rfc3339(s).map(Timestamp),
    |n| Ok::<_, String>(Timestamp(n))
);
string_or_number!(
    Duration,
    "a duration (\"60s\", \"10m\", \"1h\", \"1d\", \"1w\" or seconds)",
    |s| parse_duration(s).map(Duration),
    |n| Ok::<_, String>(Duration(n))
);
string_or_number!(
    Word,
    "an ABI word (address, number or 32 bytes of hex)",
    |s| parse_word(s).map(Word),
    |n| Ok::<_, String>(Word(B256::from(U256::from(n))))
);

impl<'de> Deserialize<'de> for AddressValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_hex_address(&s)
            .map(AddressValue)
            .map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_selector(&s).map(Selector).map_err(de::Error::custom)
    }
}

impl Serialize for AddressValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_checksum(None))
    }
}
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // After year 9999 the number is the one spelling that parses back.
        match format_rfc3339(self.0) {
            Some(text) => serializer.serialize_str(&text),
            None => serializer.serialize_u64(self.0),
        }
    }
}
impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}
impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("0x{}", alloy::primitives::hex::encode(self.0)))
    }
}
impl Serialize for Word {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // An address-shaped word prints as a checksummed address, small numbers in decimal.
        let value = U256::from_be_bytes(self.0.0);
        if self.0[..12].iter().all(|b| *b == 0) && self.0[12..16].iter().any(|b| *b != 0) {
            return serializer.serialize_str(&Address::from_word(self.0).to_checksum(None));
        }
        if value < U256::from(1u128 << 100) {
            return serializer.serialize_str(&value.to_string());
        }
        serializer.serialize_str(&format!("{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_honours_offsets() {
        let t = parse_rfc3339("2026-11-24T18:00:00Z").unwrap();
        assert_eq!(t, 1_795_543_200);
        assert_eq!(format_rfc3339(t).unwrap(), "2026-11-24T18:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-24T20:00:00+02:00").unwrap(), t);
        assert_eq!(parse_rfc3339("2026-11-24T18:00:00.250Z").unwrap(), t);
        assert_eq!(format_rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert!(
            parse_rfc3339("24/11/2026")
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_rfc3339("2026-13-24T18:00:00Z").is_err());
        // found by fuzzing: a multibyte character where a digit belongs
        assert!(parse_rfc3339("2026-12-24T00:00:0ʥZ").is_err());
        assert!(parse_rfc3339("ʥ026-12-24T00:00:00Z").is_err());
        // signs are not digits
        assert!(parse_rfc3339("2026-+1-24T18:00:00Z").is_err());
    }

    #[test]
    fn times_after_year_9999_are_not_rfc3339_and_serialize_as_unix_seconds() {
        assert_eq!(
            format_rfc3339(LAST_RFC3339_SECOND).unwrap(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(format_rfc3339(LAST_RFC3339_SECOND + 1), None);
        assert_eq!(civil_from_unix(LAST_RFC3339_SECOND + 1).year, 10_000);
        let late = Timestamp((1 << 48) - 1);
        let json = serde_json::to_string(&late).unwrap();
        assert_eq!(json, "281474976710655");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), late);
        // every u64 formats without a panic
        assert_eq!(civil_from_unix(u64::MAX).second, u64::MAX % 60);
    }

    #[test]
    fn durations_parse_and_print_in_the_largest_whole_unit() {
        assert_eq!(parse_duration("1d").unwrap(), 86_400);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(format_duration(60), "1m");
        assert_eq!(format_duration(90), "90s");
        assert_eq!(format_duration(604_800), "1w");
        assert!(parse_duration("1 day").unwrap_err().contains("\"1d\""));
    }

    #[test]
    fn selectors_come_from_hex_or_a_signature() {
        assert_eq!(
            parse_selector("transfer(address,uint256)").unwrap(),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert_eq!(
            parse_selector("0xa9059cbb").unwrap(),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert!(
            parse_selector("transfer(address, uint256)")
                .unwrap_err()
                .contains("without spaces")
        );
        assert!(parse_selector("0xa9059c").unwrap_err().contains("4 bytes"));
    }

    #[test]
    fn words_accept_addresses_numbers_and_hex() {
        let alice = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045";
        let word = parse_word(&alice.to_lowercase()).unwrap();
        assert_eq!(Address::from_word(word).to_checksum(None), alice);
        assert_eq!(
            U256::from_be_bytes(parse_word("100").unwrap().0),
            U256::from(100)
        );
        assert_eq!(
            U256::from_be_bytes(parse_word("0x64").unwrap().0),
            U256::from(100)
        );
        assert!(parse_word("alice").is_err());
    }
}
