//! Every `uint8 constant` of the Solidity sources is a Rust word with the same number, and the
//! spec's bounds agree: read from `contracts/src/SessionTypes.sol` and
//! `contracts/src/interfaces/IPolicyRegistry.sol`, so a constant added or renumbered on one side
//! fails here.

use alloy::primitives::U256;
use sessionkeys_contracts::vocabulary::{
    Condition, CounterKind, LimitType, MAX_LIMIT, MAX_ONE_OF, MIN_PERIOD, PaymasterMode,
    ReviewStatus, SignatureMode, Status,
};
use std::collections::BTreeMap;

const SOURCES: [&str; 2] = [
    "../../contracts/src/SessionTypes.sol",
    "../../contracts/src/interfaces/IPolicyRegistry.sol",
];

/// `NAME → value text` of every `<type> constant NAME = value;` at file level.
fn sol_constants(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (ty, rest) = line.split_once(" constant ")?;
            let (name, value) = rest.split_once('=')?;
            Some((
                ty.trim().to_string(),
                name.trim().to_string(),
                value.trim().trim_end_matches(';').trim().to_string(),
            ))
        })
        .collect()
}

/// Every Rust word as `(Solidity name, number)`.
fn rust_words() -> BTreeMap<&'static str, u8> {
    fn add<W: Copy + Into<u8>>(
        map: &mut BTreeMap<&'static str, u8>,
        all: &[W],
        name: fn(W) -> &'static str,
    ) {
        for word in all {
            assert!(
                map.insert(name(*word), (*word).into()).is_none(),
                "two words are named {}",
                name(*word)
            );
        }
    }
    let mut map = BTreeMap::new();
    add(&mut map, LimitType::ALL, LimitType::sol_name);
    add(&mut map, Condition::ALL, Condition::sol_name);
    add(&mut map, PaymasterMode::ALL, PaymasterMode::sol_name);
    add(&mut map, SignatureMode::ALL, SignatureMode::sol_name);
    add(&mut map, Status::ALL, Status::sol_name);
    add(&mut map, CounterKind::ALL, CounterKind::sol_name);
    add(&mut map, ReviewStatus::ALL, ReviewStatus::sol_name);
    map
}

fn read_constants() -> Vec<(String, String, String)> {
    SOURCES
        .iter()
        .flat_map(|source| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            sol_constants(&text)
        })
        .collect()
}

#[test]
fn every_uint8_constant_of_the_solidity_is_a_rust_word_with_its_number() {
    let mut words = rust_words();
    let mut problems = Vec::new();
    for (ty, name, value) in read_constants().iter().filter(|(ty, ..)| ty == "uint8") {
        let value: u8 = value
            .parse()
            .unwrap_or_else(|_| panic!("{ty} constant {name} = {value}: not a number"));
        match words.remove(name.as_str()) {
            Some(code) if code == value => {}
            Some(code) => problems.push(format!("{name} is {value} in Solidity, {code} in Rust")),
            None => problems.push(format!(
                "{name} = {value} has no Rust word: add it to crates/contracts/src/vocabulary/words.rs"
            )),
        }
    }
    for (name, code) in words {
        problems.push(format!(
            "the Rust word {name} = {code} is not a constant in Solidity"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_spec_bounds_match_the_solidity_constants() {
    let constants = read_constants();
    let value = |wanted: &str| {
        constants
            .iter()
            .find(|(_, name, _)| name == wanted)
            .map(|(_, _, value)| value.clone())
            .unwrap_or_else(|| panic!("{wanted} is not a constant of the Solidity sources"))
    };
    assert_eq!(value("MIN_PERIOD"), MIN_PERIOD.to_string());
    assert_eq!(value("MAX_ONE_OF"), MAX_ONE_OF.to_string());
    assert_eq!(value("MAX_LIMIT"), "type(uint208).max");
    assert_eq!(MAX_LIMIT, (U256::from(1) << 208) - U256::from(1));
}

#[test]
fn the_reader_sees_constants_and_nothing_else() {
    let text = "/// @dev x\nuint8 constant LIMIT_LIFETIME = 1;\nstruct S { uint8 limitType; }\n";
    assert_eq!(
        sol_constants(text),
        vec![("uint8".into(), "LIMIT_LIFETIME".into(), "1".into())]
    );
}
