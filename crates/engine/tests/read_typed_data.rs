//! Reading the enable typed data back into the session it approves: what the owner's page does
//! before it asks a wallet to sign. Only the canonical form is accepted, so what the wallet
//! shows is what is explained.

use alloy::primitives::{Address, U256, address};
use serde_json::{Value, json};
use sessionkeys_contracts::session::{ChainEpoch, SessionSpec};
use sessionkeys_engine::format::parse_session_json;
use sessionkeys_engine::typed_data::{
    EnableRequest, FieldKind, TypedDataError, enable_typed_data, read_enable_typed_data,
};

const VALIDATOR: Address = address!("0x00000000000000000000000000000000000ba11d");
const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");

fn example(name: &str) -> SessionSpec {
    let path = format!(
        "{}/../../examples/sessions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_session_json(&text).unwrap().to_spec(None).unwrap()
}

fn chains() -> Vec<ChainEpoch> {
    vec![
        ChainEpoch {
            chainId: 8453,
            epoch: 0,
        },
        ChainEpoch {
            chainId: 10,
            epoch: 2,
        },
    ]
}

fn usdc_typed_data() -> Value {
    enable_typed_data(
        VALIDATOR,
        ACCOUNT,
        &example("usdc-spending-limit.json"),
        &chains(),
    )
}

/// A change made to canonical typed data.
type Tamper = Box<dyn Fn(&mut Value)>;

/// The error of reading `typed`, which must be refused, as its message.
fn refusal(typed: &Value) -> String {
    match read_enable_typed_data(typed) {
        Ok(read) => panic!("accepted: {read:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_example_reads_back_as_the_session_account_validator_and_chains_it_was_made_from() {
    for name in [
        "usdc-spending-limit.json",
        "game.json",
        "agent-daily-allowance.json",
    ] {
        let spec = example(name);
        let typed = enable_typed_data(VALIDATOR, ACCOUNT, &spec, &chains());
        assert_eq!(
            read_enable_typed_data(&typed),
            Ok(EnableRequest {
                validator: VALIDATOR,
                account: ACCOUNT,
                spec,
                chains: chains(),
            }),
            "{name}"
        );
    }
}

#[test]
fn what_a_wallet_or_proxy_sends_back_lowercased_still_reads() {
    let typed = usdc_typed_data();
    let lowered: Value = serde_json::from_str(&typed.to_string().to_lowercase()).unwrap();
    // Lowercasing also lowercases type names and field names: only hex may change case.
    assert!(read_enable_typed_data(&lowered).is_err());
    let mut hex_lowered = typed.clone();
    hex_lowered["domain"]["verifyingContract"] = json!(format!("{VALIDATOR:#x}"));
    hex_lowered["message"]["account"] = json!(format!("{ACCOUNT:#x}"));
    assert_eq!(
        read_enable_typed_data(&hex_lowered).map(|r| r.account),
        Ok(ACCOUNT)
    );
}

#[test]
fn a_changed_amount_reads_as_a_different_session_with_a_different_digest() {
    let mut typed = usdc_typed_data();
    let before = read_enable_typed_data(&typed).unwrap();
    let limit =
        &mut typed["message"]["session"]["callPolicies"][0]["constraints"][1]["limit"]["limit"];
    let raised = U256::from_str_radix(limit.as_str().unwrap(), 10).unwrap() * U256::from(1000);
    *limit = json!(raised.to_string());
    let after = read_enable_typed_data(&typed).unwrap();
    assert_ne!(after.spec, before.spec);
    assert_ne!(
        sessionkeys_engine::enable_digest(VALIDATOR, ACCOUNT, &after.spec, &after.chains),
        sessionkeys_engine::enable_digest(VALIDATOR, ACCOUNT, &before.spec, &before.chains),
        "the page's digest check catches what the service changed"
    );
}

#[test]
fn an_extra_field_the_wallet_would_show_but_the_contract_ignores_is_refused() {
    let mut typed = usdc_typed_data();
    typed["message"]["session"]["note"] = json!("only 5 USDC, promise");
    let message = refusal(&typed);
    assert!(message.contains("message.session"), "{message}");
    assert!(message.contains("\"note\""), "{message}");
}

#[test]
fn changed_types_domain_or_primary_type_are_refused_with_their_place() {
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "types.UsageLimit",
            Box::new(|t| t["types"]["UsageLimit"][1]["type"] = json!("uint8")),
        ),
        (
            "types.SessionSpec",
            Box::new(|t| t["types"]["SessionSpec"].as_array_mut().unwrap().swap(1, 2)),
        ),
        (
            "types",
            Box::new(|t| t["types"]["Extra"] = json!([{"name": "x", "type": "uint256"}])),
        ),
        (
            "domain.name",
            Box::new(|t| t["domain"]["name"] = json!("SessionKeyValidatr")),
        ),
        ("domain", Box::new(|t| t["domain"]["chainId"] = json!("1"))),
        (
            "primaryType",
            Box::new(|t| t["primaryType"] = json!("RevokeSessions")),
        ),
    ];
    for (place, tamper) in cases {
        let mut typed = usdc_typed_data();
        tamper(&mut typed);
        let message = refusal(&typed);
        assert!(message.contains(place), "{place}: {message}");
    }
}

#[test]
fn fields_that_are_missing_malformed_or_out_of_range_are_named() {
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "message.account",
            Box::new(|t| t["message"]["account"] = json!("0x1234")),
        ),
        (
            "message.session.validUntil",
            Box::new(|t| {
                t["message"]["session"]["validUntil"] = json!("281474976710656") // 2^48
            }),
        ),
        (
            "message.session.callPolicies[0].selector",
            Box::new(|t| {
                t["message"]["session"]["callPolicies"][0]["selector"] = json!("0xa9059c")
            }),
        ),
        (
            "message.chains",
            Box::new(|t| {
                t["message"].as_object_mut().unwrap().remove("chains");
            }),
        ),
        (
            "message.session.opLimit.limitType",
            // A number the canonical form writes as a JSON number, given as a string.
            Box::new(|t| t["message"]["session"]["opLimit"]["limitType"] = json!(-1)),
        ),
    ];
    for (place, tamper) in cases {
        let mut typed = usdc_typed_data();
        tamper(&mut typed);
        let message = refusal(&typed);
        assert!(message.contains(place), "{place}: {message}");
    }
    // A canonical number in another JSON spelling is not the canonical form.
    let mut typed = usdc_typed_data();
    typed["message"]["session"]["paymasterMode"] = json!("0");
    assert!(refusal(&typed).contains("message.session.paymasterMode"));
    assert!(refusal(&json!(null)).contains("verifyingContract"));
    assert!(refusal(&json!("text")).contains("verifyingContract"));
}

#[test]
fn a_refusal_is_a_typed_value_that_names_the_field_and_what_it_needs() {
    let mut typed = usdc_typed_data();
    typed["message"]["session"]["callPolicies"][0]["selector"] = json!("0xa9059c");
    assert_eq!(
        read_enable_typed_data(&typed),
        Err(TypedDataError::Field {
            at: "message.session.callPolicies[0].selector".into(),
            expected: FieldKind::Selector,
        })
    );
    let mut typed = usdc_typed_data();
    typed["message"]["session"]["note"] = json!("only 5 USDC, promise");
    assert!(matches!(
        read_enable_typed_data(&typed),
        Err(TypedDataError::NotCanonical { path }) if path.starts_with("message.session")
    ));
}
