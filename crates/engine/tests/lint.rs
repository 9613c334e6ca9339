//! Each lint rule fires on the mistake it names and stays quiet on the fixed session.

use sessionkeys_contracts::session::{SessionSpec, UsageLimit};
use sessionkeys_contracts::vocabulary::LimitType;
use sessionkeys_engine::format::parse_session_json;
use sessionkeys_engine::lint::{Finding, Severity, UNCONSTRAINED_DESTINATION, lint};

/// The time the sessions below are linted at: the start of `session`'s window.
const NOW: u64 = 1000;
const DAY: u64 = 86_400;

fn spec_of(json: &str) -> SessionSpec {
    parse_session_json(json).unwrap().to_spec(None).unwrap()
}

fn codes(json: &str) -> Vec<(&'static str, Severity, String)> {
    lint(&spec_of(json), NOW)
        .into_iter()
        .map(|f| (f.code, f.severity, f.location))
        .collect()
}

fn session(policies: &str, extra: &str) -> String {
    format!(
        r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":1000,"validUntil":87400,
        "feeLimit":{{"limit":"1000000000000000"}}{extra},"callPolicies":[{policies}]}}"#
    )
}

const USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const ALICE: &str = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045";

fn policy(selector: &str, constraints: &str) -> String {
    format!(r#"{{"target":"{USDC}","selector":"{selector}","constraints":[{constraints}]}}"#)
}

fn has(json: &str, code: &str) -> bool {
    codes(json).iter().any(|(c, _, _)| *c == code)
}

#[test]
fn a_well_scoped_spending_session_has_no_findings() {
    let pinned = format!(
        r#"{{"index":0,"condition":"equal","value":"{ALICE}"}},{{"index":1,"condition":"unconstrained","limit":{{"limit":"100"}}}}"#
    );
    assert_eq!(
        codes(&session(&policy("transfer(address,uint256)", &pinned), "")),
        vec![]
    );
}

#[test]
fn sk001_an_unconstrained_recipient_is_an_error_with_the_exact_message() {
    let json = session(
        &policy(
            "transfer(address,uint256)",
            r#"{"index":1,"condition":"unconstrained","limit":{"limit":"100"}}"#,
        ),
        "",
    );
    let finding = lint(&spec_of(&json), NOW)
        .into_iter()
        .find(|f| f.code == "SK001")
        .expect("SK001");
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.location, "callPolicies[0]");
    assert!(finding.message.starts_with(UNCONSTRAINED_DESTINATION));
    assert_eq!(
        UNCONSTRAINED_DESTINATION,
        "Unconstrained token approval/transfer destination in call policy"
    );
    for selector in [
        "approve(address,uint256)",
        "setApprovalForAll(address,bool)",
        "increaseAllowance(address,uint256)",
        "safeTransferFrom(address,address,uint256)",
    ] {
        assert!(
            has(&session(&policy(selector, ""), ""), "SK001"),
            "{selector}"
        );
    }
    // pinned with oneOf: fine
    let pinned = format!(
        r#"{{"index":0,"condition":"oneOf","oneOf":["{ALICE}"]}},{{"index":1,"condition":"lessOrEqual","value":5}}"#
    );
    assert!(!has(
        &session(&policy("approve(address,uint256)", &pinned), ""),
        "SK001"
    ));
}

#[test]
fn sk001_erc1155_batch_erc777_and_increase_approval_need_a_pinned_destination() {
    // (function, its destination word, another word that pinning does not help)
    let cases = [
        (
            "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
            1,
            0,
        ),
        ("increaseApproval(address,uint256)", 0, 1),
        ("send(address,uint256,bytes)", 0, 1),
        ("operatorSend(address,address,uint256,bytes,bytes)", 1, 0),
    ];
    let equal = |word: u32| format!(r#"{{"index":{word},"condition":"equal","value":"{ALICE}"}}"#);
    let one_of =
        |word: u32| format!(r#"{{"index":{word},"condition":"oneOf","oneOf":["{ALICE}"]}}"#);
    for (function, word, other) in cases {
        let free = session(&policy(function, ""), "");
        assert!(has(&free, "SK001"), "{function} without constraints");
        let wrong = session(&policy(function, &equal(other)), "");
        assert!(has(&wrong, "SK001"), "{function} pinned on word {other}");
        for pin in [equal(word), one_of(word)] {
            let pinned = session(&policy(function, &pin), "");
            assert!(!has(&pinned, "SK001"), "{function} with {pin}");
        }
    }
}

#[test]
fn sk013_an_increase_approval_without_an_amount_limit() {
    let spender = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}}"#);
    assert!(has(
        &session(&policy("increaseApproval(address,uint256)", &spender), ""),
        "SK013"
    ));
    let capped = format!(r#"{spender},{{"index":1,"condition":"lessOrEqual","value":5}}"#);
    assert!(!has(
        &session(&policy("increaseApproval(address,uint256)", &capped), ""),
        "SK013"
    ));
}

#[test]
fn sk014_an_erc777_send_without_an_amount_limit() {
    let to = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}}"#);
    assert!(has(
        &session(&policy("send(address,uint256,bytes)", &to), ""),
        "SK014"
    ));
    let capped =
        format!(r#"{to},{{"index":1,"condition":"unconstrained","limit":{{"limit":"100"}}}}"#);
    assert!(!has(
        &session(&policy("send(address,uint256,bytes)", &capped), ""),
        "SK014"
    ));
}

#[test]
fn sk002_transfer_from_without_a_pinned_from() {
    let to = format!(r#"{{"index":1,"condition":"equal","value":"{ALICE}"}}"#);
    assert!(has(
        &session(&policy("transferFrom(address,address,uint256)", &to), ""),
        "SK002"
    ));
    let both = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}},{to}"#);
    assert!(!has(
        &session(&policy("transferFrom(address,address,uint256)", &both), ""),
        "SK002"
    ));
}

#[test]
fn sk002_nft_and_operator_pulls_without_a_pinned_from() {
    for signature in [
        "safeTransferFrom(address,address,uint256)",
        "safeTransferFrom(address,address,uint256,bytes)",
        "safeTransferFrom(address,address,uint256,uint256,bytes)",
        "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        "operatorSend(address,address,uint256,bytes,bytes)",
    ] {
        let to = format!(r#"{{"index":1,"condition":"equal","value":"{ALICE}"}}"#);
        assert!(
            has(&session(&policy(signature, &to), ""), "SK002"),
            "{signature}"
        );
        let both = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}},{to}"#);
        assert!(
            !has(&session(&policy(signature, &both), ""), "SK002"),
            "{signature}"
        );
    }
}

#[test]
fn sk003_routers_and_multicalls() {
    for selector in [
        "multicall(bytes[])",
        "aggregate3((address,bool,bytes)[])",
        "execute(bytes,bytes[],uint256)",
    ] {
        assert!(
            has(&session(&policy(selector, ""), ""), "SK003"),
            "{selector}"
        );
    }
}

#[test]
fn sk004_permit2_approve_with_a_free_spender() {
    let permit2 = r#"{"target":"0x000000000022D473030F116dDEE9F6B43aC78BA3","selector":"approve(address,address,uint160,uint48)"}"#;
    assert!(has(&session(permit2, ""), "SK004"));
    let pinned = format!(
        r#"{{"target":"0x000000000022D473030F116dDEE9F6B43aC78BA3","selector":"approve(address,address,uint160,uint48)","constraints":[{{"index":1,"condition":"equal","value":"{ALICE}"}}]}}"#
    );
    assert!(!has(&session(&pinned, ""), "SK004"));
}

#[test]
fn sk005_callback_functions() {
    assert!(has(
        &session(&policy("transferAndCall(address,uint256,bytes)", ""), ""),
        "SK005"
    ));
    assert!(has(
        &session(&policy("authorizeOperator(address)", ""), ""),
        "SK005"
    ));
}

#[test]
fn sk010_sk015_sk016_session_wide_warnings() {
    let long = r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":0,"validUntil":"2027-01-01T00:00:00Z",
        "feeLimit":{"limit":"1000000000000000"},"paymaster":"any"}"#;
    let found = codes(long);
    for code in ["SK010", "SK015", "SK016"] {
        assert!(
            found
                .iter()
                .any(|(c, s, _)| *c == code && *s == Severity::Warning),
            "{code} in {found:?}"
        );
    }
}

fn window(valid_after: u64, valid_until: u64) -> String {
    format!(
        r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":{valid_after},"validUntil":{valid_until},
        "feeLimit":{{"limit":"1000000000000000"}},"transferPolicies":[{{"target":"{ALICE}","maxValuePerUse":"5","valueLimit":{{"limit":"5"}}}}]}}"#
    )
}

fn sk010(json: &str, now: u64) -> Option<Finding> {
    lint(&spec_of(json), now)
        .into_iter()
        .find(|f| f.code == "SK010")
}

#[test]
fn sk010_a_session_valid_from_zero_is_measured_from_now() {
    let now = 1_796_083_200; // 1 Dec 2026
    assert_eq!(sk010(&window(0, now + DAY), now), None);
    let long = sk010(&window(0, now + 400 * DAY), now).expect("SK010");
    assert_eq!(long.severity, Severity::Warning);
    assert_eq!(long.message, "the session runs for 400 more days");
}

#[test]
fn sk010_a_session_starting_later_is_measured_from_its_start() {
    let now = 1_796_083_200;
    let start = now + 100 * DAY;
    assert_eq!(sk010(&window(start, start + 20 * DAY), now), None);
    let long = sk010(&window(start, start + 31 * DAY), now).expect("SK010");
    assert_eq!(long.message, "the session lasts 31 days");
}

fn sk011(spec: &SessionSpec) -> Option<Finding> {
    lint(spec, NOW).into_iter().find(|f| f.code == "SK011")
}

fn with_unlimited_fees(extra: &str) -> SessionSpec {
    // Built with a fee limit, then made unlimited: the JSON loader refuses a named paymaster
    // without a fee limit (rule 21), but lint must still judge such a spec.
    let mut spec = spec_of(&session(&policy("move(uint8)", ""), extra));
    spec.feeLimit = UsageLimit {
        limitType: LimitType::Unlimited.into(),
        limit: Default::default(),
        period: Default::default(),
    };
    spec
}

#[test]
fn sk011_unlimited_fees_without_a_paymaster_are_an_error_that_says_all_eth_can_go() {
    let finding = sk011(&with_unlimited_fees("")).expect("SK011");
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.location, "feeLimit");
    assert!(
        finding.message.contains("all the account's ETH on gas")
            && finding.message.contains("itself as the beneficiary"),
        "{finding}"
    );
    assert!(finding.hint.starts_with("set feeLimit"), "{finding}");
}

#[test]
fn sk011_unlimited_fees_with_a_named_paymaster_are_refused_by_rule_21() {
    for paymaster in [
        r#","paymaster":"any""#,
        r#","paymaster":"0x0c88A8b7BFC80b6052037672128835d45603164c""#,
    ] {
        let finding = sk011(&with_unlimited_fees(paymaster)).expect("SK011");
        assert_eq!(finding.severity, Severity::Error, "{paymaster}");
        assert!(
            finding.message.contains("rule 21, FeeLimitRequired")
                && finding.message.contains("pays for itself"),
            "{finding}"
        );
    }
}

#[test]
fn sk011_a_finite_fee_limit_even_zero_is_clean() {
    for fee in [r#"{"limit":"0"}"#, r#"{"limit":"1000","per":"1d"}"#] {
        let json = format!(
            r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":1000,"validUntil":87400,
            "feeLimit":{fee},"paymaster":"0x0c88A8b7BFC80b6052037672128835d45603164c","callPolicies":[{}]}}"#,
            policy("move(uint8)", "")
        );
        assert!(!has(&json, "SK011"), "{fee}");
    }
}

#[test]
fn sk012_value_without_a_cap() {
    let game = r#"{"target":"0x1111111111111111111111111111111111111111","selector":"buyItem(uint256)","maxValuePerUse":"1000"}"#;
    assert!(codes(&session(game, "")).contains(&(
        "SK012",
        Severity::Warning,
        "callPolicies[0].valueLimit".into()
    )));
    let transfers = r#","transferPolicies":[{"target":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","maxValuePerUse":"5"}]"#;
    assert!(codes(&session("", transfers)).contains(&(
        "SK012",
        Severity::Warning,
        "transferPolicies[0].valueLimit".into()
    )));
}

#[test]
fn sk013_sk014_amounts_without_limits() {
    let spender = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}}"#);
    assert!(has(
        &session(&policy("approve(address,uint256)", &spender), ""),
        "SK013"
    ));
    assert!(has(
        &session(&policy("transfer(address,uint256)", &spender), ""),
        "SK014"
    ));
}

#[test]
fn sk017_approve_and_transfer_on_one_token() {
    let pin = format!(
        r#"{{"index":0,"condition":"equal","value":"{ALICE}"}},{{"index":1,"condition":"lessOrEqual","value":5}}"#
    );
    let both = format!(
        "{},{}",
        policy("approve(address,uint256)", &pin),
        policy("transfer(address,uint256)", &pin)
    );
    assert!(has(&session(&both, ""), "SK017"));
}

#[test]
fn sk018_a_constraint_past_the_static_head() {
    let past = format!(
        r#"{{"index":0,"condition":"equal","value":"{ALICE}"}},{{"index":2,"condition":"equal","value":1}}"#
    );
    let found = codes(&session(&policy("transfer(address,uint256)", &past), ""));
    assert!(
        found.contains(&(
            "SK018",
            Severity::Error,
            "callPolicies[0].constraints[1]".into()
        )),
        "{found:?}"
    );
}

#[test]
fn sk018_covers_the_new_table_functions_by_their_parameter_count() {
    let to = format!(r#"{{"index":0,"condition":"equal","value":"{ALICE}"}}"#);
    // send(address,uint256,bytes): words 0..=2 are the head (2 is the bytes offset).
    let offset = format!(r#"{to},{{"index":2,"condition":"equal","value":96}}"#);
    assert!(!has(
        &session(&policy("send(address,uint256,bytes)", &offset), ""),
        "SK018"
    ));
    let past = format!(r#"{to},{{"index":3,"condition":"equal","value":1}}"#);
    let found = codes(&session(&policy("send(address,uint256,bytes)", &past), ""));
    assert!(
        found.contains(&(
            "SK018",
            Severity::Error,
            "callPolicies[0].constraints[1]".into()
        )),
        "{found:?}"
    );
}

#[test]
fn errors_come_before_warnings() {
    let json = session(
        &policy("approve(address,uint256)", ""),
        r#","paymaster":"any""#,
    );
    let found = codes(&json);
    let first_warning = found
        .iter()
        .position(|(_, s, _)| *s == Severity::Warning)
        .unwrap();
    assert!(
        found[..first_warning]
            .iter()
            .all(|(_, s, _)| *s == Severity::Error)
    );
    assert!(
        found[first_warning..]
            .iter()
            .all(|(_, s, _)| *s == Severity::Warning)
    );
}

#[test]
fn sk019_duplicate_policies_built_outside_the_json_loader() {
    let json = session(&policy("move(uint8)", ""), "");
    let mut spec = spec_of(&json);
    spec.callPolicies.push(spec.callPolicies[0].clone());
    assert!(
        lint(&spec, NOW)
            .iter()
            .any(|f| f.code == "SK019" && f.severity == Severity::Error)
    );
}

#[test]
fn sk021_a_session_that_has_already_ended_is_an_error() {
    // `session` ends at 87400: linted then or later, it can never be used.
    let json = session(&policy("transfer(address,uint256)", ""), "");
    for now in [87_400, 87_401, 10 * DAY] {
        let findings = lint(&spec_of(&json), now);
        let ended = findings
            .iter()
            .find(|f| f.code == "SK021")
            .unwrap_or_else(|| panic!("no SK021 at {now}: {findings:?}"));
        assert_eq!(
            (ended.severity, ended.location.as_str()),
            (Severity::Error, "validUntil")
        );
    }
    // One second before its end it is still usable.
    assert!(
        lint(&spec_of(&json), 87_399)
            .iter()
            .all(|f| f.code != "SK021")
    );
}
