//! Explanations read as a person would need them: riskiest first, tokens named, unknowns said.

use alloy::primitives::U256;
use sessionkeys_contracts::vocabulary::LimitType;
use sessionkeys_engine::explain::{Labels, explain, format_units, human_time, short};
use sessionkeys_engine::format::parse_session_json;

fn explained(json: &str, labels: &Labels) -> sessionkeys_engine::explain::Explanation {
    explain(
        &parse_session_json(json).unwrap().to_spec(None).unwrap(),
        labels,
    )
}

fn example(name: &str) -> String {
    let path = format!(
        "{}/../../examples/sessions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn game_labels() -> Labels {
    Labels::well_known()
        .with_function("move(uint8)")
        .with_function("attack(uint256,uint256)")
        .with_function("buyItem(uint256)")
}

#[test]
fn the_usdc_spending_limit_reads_as_the_design_example() {
    let text = explained(&example("usdc-spending-limit.json"), &Labels::well_known()).to_string();
    assert_eq!(
        text,
        "From 24 Nov 2026 00:00 UTC until 24 Nov 2026 18:00 UTC this app may:\n  \
         - send USDC (0x8335…2913), only to 0xd8dA…6045, at most 100 USDC in total\n  \
         - spend at most 0.001 ETH in total on gas, paid from the account; the key holder can take the whole budget, since it sets the gas price and can be its own bundler\n"
    );
}

#[test]
fn value_that_can_leave_comes_first_and_limits_last() {
    let e = explained(&example("game.json"), &game_labels());
    let risks: Vec<u8> = e.lines.iter().map(|l| l.risk).collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "{risks:?}");
    assert!(
        e.lines[0]
            .text
            .starts_with("call buyItem on 0x1111…1111 where argument 0 is at most 3, sending at most 0.003 ETH each time"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("call move on 0x1111…1111 where argument 0 is less than 4"),
        "{e}"
    );
    assert!(
        e.to_string().contains("act at most 10 times a minute"),
        "{e}"
    );
    assert!(
        e.notes.iter().any(|n| n
            .starts_with("per-minute limits reset at the start of every minute")
            && n.contains("twice such a limit")),
        "fixed windows are explained: {:?}",
        e.notes
    );
    assert!(
        e.notes.iter().any(|n| n.contains("token paymaster")),
        "paymaster any is explained"
    );
}

#[test]
fn an_unknown_token_is_called_unknown_not_guessed() {
    let json = r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":100000,
      "callPolicies":[{"target":"0x1234567890123456789012345678901234567890","selector":"transfer(address,uint256)",
      "constraints":[{"index":0,"condition":"equal","value":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"},
                     {"index":1,"condition":"unconstrained","limit":{"limit":"500"}}]}]}"#;
    let text = explained(json, &Labels::well_known()).to_string();
    assert!(text.contains("send an unknown token or contract at 0x1234…7890, only to 0xd8dA…6045, at most 500 base units in total"), "{text}");
    let named = Labels::well_known().with_token(
        "0x1234567890123456789012345678901234567890"
            .parse()
            .unwrap(),
        "GOLD",
        2,
    );
    assert!(
        explained(json, &named)
            .to_string()
            .contains("at most 5 GOLD in total")
    );
}

#[test]
fn approvals_warn_that_they_outlive_the_session() {
    let json = r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":100000,
      "callPolicies":[{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"approve(address,uint256)"}]}"#;
    let e = explained(json, &Labels::well_known());
    assert_eq!(e.lines[0].risk, 3);
    assert!(
        e.lines[0]
            .text
            .contains("let others spend USDC (0x8335…2913), for anyone, any amount"),
        "{e}"
    );
    assert!(e.notes.iter().any(|n| n.contains("outlive it")));
    assert!(
        e.to_string()
            .contains("spend ALL the account's ETH on gas: there is no fee limit"),
        "{e}"
    );
}

#[test]
fn units_times_and_addresses_are_formatted_for_people() {
    assert_eq!(format_units(U256::from(100_000_000u64), 6), "100");
    assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
    assert_eq!(format_units(U256::from(1u64), 18), "0.000000000000000001");
    assert_eq!(human_time(1_795_543_200), "24 Nov 2026 18:00 UTC");
    assert_eq!(human_time(253_402_300_799), "31 Dec 9999 23:59 UTC");
    // RFC 3339 has four-digit years; later times (sessions may run to 2^48 - 1) are raw.
    assert_eq!(
        human_time(253_402_300_800),
        "Unix time 253402300800 (after year 9999)"
    );
    assert_eq!(
        human_time(u64::MAX),
        format!("Unix time {} (after year 9999)", u64::MAX)
    );
    assert_eq!(
        short(
            "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
                .parse()
                .unwrap()
        ),
        "0xd8dA…6045"
    );
}

#[test]
fn daily_limits_print_when_they_first_reset() {
    let e = explained(
        &example("agent-daily-allowance.json"),
        &Labels::well_known(),
    );
    assert!(
        e.notes.iter().any(|n| n.starts_with(
            "daily limits reset every day at 00:00 UTC, first on 25 Nov 2026 00:00 UTC"
        )),
        "{:?}",
        e.notes
    );
}

fn gas_lines(json: &str, unlimited: bool) -> sessionkeys_engine::explain::Explanation {
    let mut spec = parse_session_json(json).unwrap().to_spec(None).unwrap();
    if unlimited {
        // Made unlimited after loading: the loader refuses a named paymaster without a fee
        // limit (rule 21), but explain must still describe such a spec honestly.
        spec.feeLimit.limitType = LimitType::Unlimited.into();
        spec.feeLimit.limit = U256::ZERO;
    }
    explain(&spec, &Labels::well_known())
}

fn paymaster_session(paymaster: &str, fee: &str) -> String {
    format!(
        r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":100000,"feeLimit":{fee},
        "paymaster":{paymaster},"callPolicies":[{{"target":"0x1111111111111111111111111111111111111111","selector":"move(uint8)"}}]}}"#
    )
}

const PAYMASTER: &str = r#""0x0c88A8b7BFC80b6052037672128835d45603164c""#;

#[test]
fn the_gas_budget_says_how_much_eth_and_that_the_key_holder_can_take_it_all() {
    let e = gas_lines(
        &paymaster_session(r#""none""#, r#"{"limit":"5000000000000000","per":"1d"}"#),
        false,
    );
    let gas = e
        .lines
        .iter()
        .find(|l| l.text.contains("on gas"))
        .expect("a gas line");
    assert_eq!(
        gas.text,
        "spend at most 0.005 ETH a day on gas, paid from the account; the key holder can take the whole budget, since it sets the gas price and can be its own bundler"
    );
    assert_eq!(gas.risk, 2, "ETH that can leave the account, within a cap");
}

#[test]
fn unlimited_fees_say_all_the_accounts_eth_can_go_and_rank_with_uncapped_value() {
    let e = gas_lines(&paymaster_session(r#""none""#, r#"{"limit":"1"}"#), true);
    assert_eq!(e.lines[0].risk, 3, "{e}");
    assert!(
        e.lines[0]
            .text
            .starts_with("spend ALL the account's ETH on gas")
            && e.lines[0].text.contains("its own bundler"),
        "{e}"
    );
}

#[test]
fn a_named_paymaster_does_not_read_as_if_it_always_pays() {
    for paymaster in [PAYMASTER, r#""any""#] {
        let text = gas_lines(
            &paymaster_session(paymaster, r#"{"limit":"1000000000000000"}"#),
            false,
        )
        .to_string();
        assert!(!text.contains("paid by the paymaster"), "{text}");
        assert!(
            text.contains("spend at most 0.001 ETH in total on gas, paid from the account; the key holder can take the whole budget"),
            "{text}"
        );
        assert!(
            text.contains("but that is optional: ops the account pays for itself stay possible, up to the gas budget above"),
            "{text}"
        );
    }
    let named = gas_lines(&paymaster_session(PAYMASTER, r#"{"limit":"1"}"#), false).to_string();
    assert!(
        named.contains("have its gas sponsored by the paymaster 0x0c88…164c"),
        "{named}"
    );
}

#[test]
fn a_zero_fee_limit_with_a_paymaster_means_every_op_is_sponsored() {
    let text = gas_lines(&paymaster_session(PAYMASTER, r#"{"limit":"0"}"#), false).to_string();
    assert!(
        text.contains("spend none of the account's ETH on gas"),
        "{text}"
    );
    assert!(
        text.contains("every op must be sponsored, since the account pays no gas"),
        "{text}"
    );
}

#[test]
fn a_paymaster_with_unlimited_fees_is_explained_as_refused_by_rule_21() {
    let e = gas_lines(&paymaster_session(PAYMASTER, r#"{"limit":"1"}"#), true);
    assert!(
        e.notes.iter().any(
            |n| n.contains("the validator refuses to enable this session") && n.contains("rule 21")
        ),
        "{:?}",
        e.notes
    );
    assert!(
        e.to_string().contains("spend ALL the account's ETH on gas"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("ops the account pays for itself stay possible, with no fee limit"),
        "{e}"
    );
}
