//! The JSON session format: the documented examples, round trips, and errors with paths.

use alloy::primitives::{Address, U256, address};
use sessionkeys_engine::format::{SessionJson, parse_session_json};
use sessionkeys_engine::session_hash;

fn example(name: &str) -> String {
    let path = format!(
        "{}/../../examples/sessions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_documented_example_parses_and_round_trips_to_the_same_session() {
    for name in [
        "usdc-spending-limit.json",
        "game.json",
        "agent-daily-allowance.json",
    ] {
        let spec = parse_session_json(&example(name))
            .unwrap()
            .to_spec(None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = serde_json::to_string_pretty(&SessionJson::from_spec(&spec)).unwrap();
        let again = parse_session_json(&printed).unwrap().to_spec(None).unwrap();
        assert_eq!(
            session_hash(&again).unwrap(),
            session_hash(&spec).unwrap(),
            "{name} round trip:\n{printed}"
        );
    }
}

#[test]
fn the_usdc_example_reads_as_written() {
    let spec = parse_session_json(&example("usdc-spending-limit.json"))
        .unwrap()
        .to_spec(None)
        .unwrap();
    assert_eq!(spec.validUntil.to::<u64>(), 1_795_543_200);
    let policy = &spec.callPolicies[0];
    assert_eq!(
        policy.target,
        address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
    );
    assert_eq!(policy.selector.0, [0xa9, 0x05, 0x9c, 0xbb]);
    assert_eq!(policy.constraints[0].bits, 160);
    assert_eq!(
        Address::from_word(policy.constraints[0].refValue),
        address!("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045")
    );
    assert_eq!(
        (
            policy.constraints[1].limit.limitType,
            policy.constraints[1].limit.limit
        ),
        (1, U256::from(100_000_000))
    );
    assert_eq!(
        spec.signer,
        address!("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"),
        "lower-case input is accepted"
    );
}

#[test]
fn output_uses_checksummed_addresses_hex_selectors_and_readable_times() {
    let spec = parse_session_json(&example("agent-daily-allowance.json"))
        .unwrap()
        .to_spec(None)
        .unwrap();
    let printed = serde_json::to_string(&SessionJson::from_spec(&spec)).unwrap();
    assert!(
        printed.contains("\"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913\""),
        "{printed}"
    );
    assert!(printed.contains("\"selector\":\"0xa9059cbb\""));
    assert!(printed.contains("\"validUntil\":\"2026-12-24T00:00:00Z\""));
    assert!(printed.contains("\"per\":\"1d\""));
}

#[test]
fn policies_are_sorted_so_any_order_is_the_same_session() {
    let game = parse_session_json(&example("game.json")).unwrap();
    let mut reversed = game.clone();
    reversed.call_policies.reverse();
    assert_eq!(
        session_hash(&game.to_spec(None).unwrap()),
        session_hash(&reversed.to_spec(None).unwrap())
    );
}

fn error_of(json: &str) -> String {
    match parse_session_json(json) {
        Err(e) => e.to_string(),
        Ok(session) => session
            .to_spec(None)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string()),
    }
}

#[test]
fn an_unknown_condition_names_its_path_and_the_choices() {
    let json = r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":100,
      "callPolicies":[{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"transfer(address,uint256)",
      "constraints":[{"index":0,"condition":"equal","value":1},{"index":1,"condition":"atMost","value":2}]}]}"#;
    let message = error_of(json);
    assert!(
        message.starts_with(
            "callPolicies[0].constraints[1].condition: unknown variant `atMost`, expected one of"
        ),
        "{message}"
    );
    assert!(message.contains("`lessOrEqual`"), "{message}");
}

#[test]
fn bad_values_are_reported_with_their_path_and_a_fix() {
    let base = |policy: &str| {
        format!(
            r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":"2026-11-24T18:00:00Z","callPolicies":[{policy}]}}"#
        )
    };
    let cases = [
        (base(r#"{"target":"0x1234","selector":"0xa9059cbb"}"#), "callPolicies[0].target: expected an address"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"transfer(address, uint256)"}"#), "callPolicies[0].selector: a signature is"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"0xa9059cbb","callLimit":{"limit":1,"per":"30s"}}"#), "callPolicies[0].callLimit.per: a period is at least 60 seconds"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"0xa9059cbb","constraints":[{"index":0,"condition":"equal"}]}"#), "callPolicies[0].constraints[0].value: this condition compares with a value"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"0xa9059cbb","maxValuePerUse":"-1"}"#), "callPolicies[0].maxValuePerUse: expected a decimal or 0x-hex integer"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"0xa9059cbb"},{"target":"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913","selector":"transfer(address,uint256)"}"#), "callPolicies[1]: duplicates callPolicies[0]"),
        (base(r#"{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"0xa9059cbb","colour":"red"}"#), "callPolicies[0].colour: unknown field `colour`, expected one of `target`"),
        (r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":"tomorrow"}"#.to_string(), "validUntil: expected RFC 3339 time"),
        (r#"{"validUntil":100}"#.to_string(), "signer: missing"),
        (r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":200,"validUntil":100}"#.to_string(), "validUntil: must be after validAfter"),
        (r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":100,"paymaster":"some"}"#.to_string(), "paymaster: expected \"none\", \"any\" or a paymaster address"),
    ];
    for (json, expected) in cases {
        let message = error_of(&json);
        assert!(
            message.starts_with(expected),
            "expected {expected:?}, got {message:?}"
        );
    }
}

#[test]
fn the_typed_data_json_hashes_to_the_contracts_enable_digest() {
    use alloy::dyn_abi::TypedData;
    use sessionkeys_contracts::session::ChainEpoch;
    let validator = address!("0x00000000000000000000000000000000000ba11d");
    let account = address!("0x00000000000000000000000000000000000acc01");
    for name in [
        "usdc-spending-limit.json",
        "game.json",
        "agent-daily-allowance.json",
    ] {
        let spec = parse_session_json(&example(name))
            .unwrap()
            .to_spec(None)
            .unwrap();
        let chains = vec![
            ChainEpoch {
                chainId: 8453,
                epoch: 0,
            },
            ChainEpoch {
                chainId: 10,
                epoch: 2,
            },
        ];
        let json =
            sessionkeys_engine::typed_data::enable_typed_data(validator, account, &spec, &chains);
        // What a wallet does with the JSON: parse it as EIP-712 typed data and hash it.
        let typed: TypedData =
            serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let digest = typed
            .eip712_signing_hash()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            digest,
            sessionkeys_engine::enable_digest(validator, account, &spec, &chains),
            "{name}"
        );
        assert!(
            json["domain"].get("chainId").is_none(),
            "no chainId in the domain: the chains are inside"
        );
    }
}

#[test]
fn revoke_typed_data_hashes_to_the_digests_the_validator_checks() {
    use alloy::dyn_abi::TypedData;
    use alloy::primitives::{B256, address};
    use sessionkeys_contracts::session::ChainEpoch;
    use sessionkeys_engine::spec::{revoke_all_digest, revoke_sessions_digest};
    use sessionkeys_engine::typed_data::{revoke_all_typed_data, revoke_sessions_typed_data};
    let validator = address!("0x1111111111111111111111111111111111111111");
    let account = address!("0x2222222222222222222222222222222222222222");
    let chains = vec![
        ChainEpoch {
            chainId: 8453,
            epoch: 3,
        },
        ChainEpoch {
            chainId: 10,
            epoch: 0,
        },
    ];
    let hashes = vec![B256::repeat_byte(0xaa), B256::repeat_byte(0xbb)];
    let wallet_hash = |json: serde_json::Value| {
        serde_json::from_value::<TypedData>(json)
            .unwrap()
            .eip712_signing_hash()
            .unwrap()
    };
    assert_eq!(
        wallet_hash(revoke_sessions_typed_data(
            validator, account, &hashes, &chains
        )),
        revoke_sessions_digest(validator, account, &hashes, &chains)
    );
    assert_eq!(
        wallet_hash(revoke_all_typed_data(validator, account, &chains)),
        revoke_all_digest(validator, account, &chains)
    );
    // The digests differ by account and by chain list: a revocation is not portable.
    assert_ne!(
        revoke_all_digest(validator, account, &chains),
        revoke_all_digest(validator, validator, &chains)
    );
    assert_ne!(
        revoke_all_digest(validator, account, &chains),
        revoke_all_digest(validator, account, &chains[..1])
    );
}
