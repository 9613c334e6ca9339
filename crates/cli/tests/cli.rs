//! Every command: its happy path and a bad input, through the built `sessionkeys` binary.

use std::process::{Command, Output};

fn sessionkeys(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn example(name: &str) -> String {
    format!(
        "{}/../../examples/sessions/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The command ended with `code` and said `needle` (on stdout or stderr).
fn assert_exit(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    assert!(
        text(out).contains(needle),
        "expected {needle:?} in:\n{}",
        text(out)
    );
}

fn write_temp(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("sessionkeys-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn demo_tells_the_story_and_ends_with_the_allowed_amount_moved() {
    let out = sessionkeys(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let story = text(&out);
    for expected in [
        "refused by the chain: call 0: 0xcA40…00C3 is not one of the values",
        "the sum of the constrained argument of policy 1 (constraint 1) would be exceeded: 80000000 of 100000000 used, 25000000 more asked",
        "the session's op count would be exceeded: 10 of 10 used",
        "is outside the session",
        "was revoked",
        "still holds 900 USDC",
        "Gas of each action",
    ] {
        assert!(
            story.contains(expected),
            "missing {expected:?} in:\n{story}"
        );
    }
}

#[test]
fn demo_json_is_one_document_for_scripts() {
    let out = sessionkeys(&["--json", "demo"]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(value["usdcLeft"], "900");
    assert!(value["actions"].as_array().unwrap().len() > 10);
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = sessionkeys(&["dance"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lint_passes_a_scoped_session_and_fails_an_unconstrained_approval() {
    // Linted inside its window: the example's dates are fixed for check and simulate.
    let usdc = example("usdc-spending-limit.json");
    let out = sessionkeys(&["session", "lint", &usdc, "--at", "2026-11-24T12:00:00Z"]);
    assert_eq!(
        (out.status.code(), text(&out).trim()),
        (Some(0), "no findings")
    );
    // After its end it is an error: it can never be used (SK021).
    let out = sessionkeys(&["session", "lint", &usdc, "--at", "2026-11-25T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error[SK021] validUntil"),
        "{}",
        text(&out)
    );
    let risky = write_temp(
        "risky.json",
        r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":"2026-11-24T18:00:00Z",
            "callPolicies":[{"target":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","selector":"approve(address,uint256)"}]}"#,
    );
    let out = sessionkeys(&["session", "lint", &risky]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("error[SK001] callPolicies[0]: Unconstrained token approval/transfer destination in call policy"), "{}", text(&out));
    let out = sessionkeys(&["--json", "session", "lint", &risky]);
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings[0]["code"], "SK001");
}

#[test]
fn a_missing_or_malformed_session_file_is_an_input_error_with_the_path() {
    let out = sessionkeys(&["session", "explain", "/nonexistent/session.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read /nonexistent/session.json"));
    let bad = write_temp("bad.json", r#"{"validUntil":"soon"}"#);
    let out = sessionkeys(&["session", "lint", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("validUntil: expected RFC 3339 time"),
        "{}",
        text(&out)
    );
}

#[test]
fn explain_prints_plain_english() {
    let out = sessionkeys(&["session", "explain", &example("usdc-spending-limit.json")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out)
            .contains("send USDC (0x8335…2913), only to 0xd8dA…6045, at most 100 USDC in total")
    );
    let out = sessionkeys(&["--json", "session", "explain", &example("game.json")]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["lines"].as_array().unwrap().len() >= 4);
}

#[test]
fn hash_prints_the_session_identity() {
    let out = sessionkeys(&["session", "hash", &example("game.json")]);
    assert_eq!(out.status.code(), Some(0));
    let hash = text(&out).trim().to_string();
    assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
    let out = sessionkeys(&["--json", "session", "hash", &example("game.json")]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["sessionHash"], hash);
    assert_eq!(value["session"]["opLimit"]["per"], "1m");
}

#[test]
fn typed_data_prints_what_a_wallet_signs_and_refuses_a_bad_chain() {
    let args = [
        "session",
        "typed-data",
        &example("usdc-spending-limit.json"),
        "--validator",
        "0x00000000000000000000000000000000000ba11d",
        "--account",
        "0x00000000000000000000000000000000000acc01",
        "--chain",
        "8453",
        "--chain",
        "10:2",
    ];
    let out = sessionkeys(
        &args
            .map(String::from)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["primaryType"], "EnableSession");
    assert_eq!(value["message"]["chains"][1]["epoch"], "2");
    let mut bad = args.to_vec();
    bad[8] = "base";
    let out = sessionkeys(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("the chain id must be a number"),
        "{}",
        text(&out)
    );
}

#[test]
fn simulate_prints_both_verdicts_and_exits_1_when_an_op_is_refused() {
    let session = example("../simulate/session.json");
    let calls = example("../simulate/ops.json");
    let out = sessionkeys(&["simulate", "--session", &session, "--calls", &calls]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("contract: refused: LimitExceeded(kind: 4, policyIndex: 1, constraintIndex: 1, limit: 100000000, used: 60000000, requested: 40000001)"), "{report}");
    assert!(
        report.contains("engine:   refused: LimitExceeded(kind: 4"),
        "{report}"
    );
    assert!(!report.contains("DISAGREEMENT"), "{report}");
    let out = sessionkeys(&[
        "--json",
        "simulate",
        "--session",
        &session,
        "--calls",
        &calls,
        "--entrypoint",
        "v0.8",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        value["ops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|op| op["agree"] == true)
    );
}

#[test]
fn simulate_exits_0_when_every_op_passes() {
    let calls = write_temp(
        "allowed.json",
        r#"{"ops":[{"calls":[{"to":"usdc","function":"transfer(address,uint256)","args":["0xB0B0000000000000000000000000000000000002",5]}]},
                   {"at":"+61s","calls":[{"to":"game","function":"move(uint8)","args":["3"]}]}]}"#,
    );
    let out = sessionkeys(&[
        "simulate",
        "--session",
        &example("../simulate/session.json"),
        "--calls",
        &calls,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn simulate_agrees_on_the_first_error_of_a_bad_inner_execute_encoding() {
    // An empty batch (the inner encoding, checked after the status) with a hint outside the
    // session (checked before it): both sides report the hint, and simulate exits 1, not 3.
    let ops = write_temp(
        "empty-batch.json",
        r#"{"ops":[{"callData":"0xe9ae5c5301000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000040000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000000","timeHint":4000000000}]}"#,
    );
    let out = sessionkeys(&[
        "simulate",
        "--session",
        &example("../simulate/session.json"),
        "--calls",
        &ops,
    ]);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("contract: refused: TimeHintOutsideSession"),
        "{report}"
    );
    assert!(
        report.contains("engine:   refused: TimeHintOutsideSession"),
        "{report}"
    );
}

#[test]
fn simulate_refuses_bad_input_with_the_field() {
    let session = example("../simulate/session.json");
    let unknown = write_temp(
        "unknown.json",
        r#"{"ops":[{"calls":[{"to":"bank","data":"0x"}]}]}"#,
    );
    let out = sessionkeys(&["simulate", "--session", &session, "--calls", &unknown]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("ops[0].calls[0].to: expected an address or one of usdc"),
        "{}",
        text(&out)
    );
    let bad_arg = write_temp(
        "bad-arg.json",
        r#"{"ops":[{"calls":[{"to":"usdc","function":"transfer(address,uint256)","args":["0xB0B0000000000000000000000000000000000002","lots"]}]}]}"#,
    );
    let out = sessionkeys(&["simulate", "--session", &session, "--calls", &bad_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("ops[0].calls[0].args[1]: not a uint256"),
        "{}",
        text(&out)
    );
    // a session that names its own signer cannot be signed by simulate
    let out = sessionkeys(&[
        "simulate",
        "--session",
        &example("usdc-spending-limit.json"),
        "--calls",
        &bad_arg,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("leave \"signer\" out"),
        "{}",
        text(&out)
    );
    let out = sessionkeys(&[
        "simulate",
        "--session",
        &session,
        "--calls",
        &bad_arg,
        "--entrypoint",
        "v0.6",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn devnet_prints_the_documented_addresses() {
    let out = sessionkeys(&["--json", "devnet"]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let doc = std::fs::read_to_string(format!(
        "{}/../../docs/simulate-format.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let table = doc
        .split("<!-- devnet-addresses:start -->")
        .nth(1)
        .unwrap()
        .split("<!-- devnet-addresses:end -->")
        .next()
        .unwrap();
    let documented: Vec<(String, String)> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter(|l| !l.starts_with("name") && !l.starts_with("---"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_end_matches(" |").split(" | ").collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    let printed = value.as_object().unwrap();
    assert_eq!(documented.len(), printed.len(), "{table}");
    for (name, address) in documented {
        assert_eq!(
            printed[&name], address,
            "docs/simulate-format.md is stale for {name}; run scripts/devnet-addresses"
        );
    }
    assert_eq!(sessionkeys(&["devnet", "--colour"]).status.code(), Some(2));
}

fn check_example(extra: &[&str]) -> Output {
    let session = example("usdc-spending-limit.json");
    let calls = example("../check/ops.json");
    let usage = example("../check/usage.json");
    let mut args = vec![
        "check",
        "--session",
        &session,
        "--calls",
        &calls,
        "--usage",
        &usage,
        "--at",
        "2026-11-24T12:00:00Z",
    ];
    args.extend_from_slice(extra);
    sessionkeys(&args)
}

#[test]
fn check_carries_usage_from_op_to_op_and_refuses_one_unit_over() {
    let out = check_example(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = text(&out);
    assert!(
        report.contains("op 0 at 24 Nov 2026 12:00 UTC: ok"),
        "{report}"
    );
    assert!(report.contains("refused: LimitExceeded(kind: 4, policyIndex: 0, constraintIndex: 1, limit: 100000000, used: 70000000, requested: 30000001)"), "{report}");
    assert!(report.contains("refused: NoCallPolicy("), "{report}");
    assert!(report.contains("is outside the session"), "{report}");
    let out = check_example(&["--max-fee-per-gas", "10000000000"]);
    assert!(
        text(&out).contains("op 0 at 24 Nov 2026 12:00 UTC: refused: LimitExceeded(kind: 1"),
        "a 10 gwei op exceeds the 0.001 ETH fee budget: {}",
        text(&out)
    );
}

#[test]
fn check_exits_0_when_every_op_would_pass() {
    let calls = write_temp(
        "check-allowed.json",
        r#"{"ops":[{"calls":[{"to":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","function":"transfer(address,uint256)","args":["0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","1"]}]}]}"#,
    );
    let out = sessionkeys(&[
        "--json",
        "check",
        "--session",
        &example("usdc-spending-limit.json"),
        "--calls",
        &calls,
        "--at",
        "1795500000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["ops"][0]["verdict"], "ok");
}

#[test]
fn check_refuses_bad_usage_and_devnet_names() {
    let usage = write_temp(
        "bad-usage.json",
        r#"{"counters":[{"kind":"spent","used":"1"}]}"#,
    );
    let out = sessionkeys(&[
        "check",
        "--session",
        &example("usdc-spending-limit.json"),
        "--calls",
        &example("../check/ops.json"),
        "--usage",
        &usage,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("counters[0].kind: unknown variant `spent`"),
        "{}",
        text(&out)
    );
    let out = sessionkeys(&[
        "check",
        "--session",
        &example("usdc-spending-limit.json"),
        "--calls",
        &example("../simulate/ops.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains(
            "ops[0].calls[0].to: expected an address or one of account, validator, entryPoint; got \"usdc\""
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn key_new_stores_a_fresh_key_that_opens_with_the_password() {
    let dir = std::env::temp_dir().join(format!("sessionkeys-cli-keys-{}", std::process::id()));
    let password = write_temp("password.txt", "s3cret pass\n");
    let out = sessionkeys(&[
        "--json",
        "key",
        "new",
        "--dir",
        dir.to_str().unwrap(),
        "--password-file",
        &password,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = std::path::PathBuf::from(value["file"].as_str().unwrap());
    let key = sessionkeys_keystore::open(&file, b"s3cret pass").unwrap();
    assert_eq!(
        key.address().to_checksum(None),
        value["address"].as_str().unwrap()
    );
    assert!(
        !text(&out).contains("s3cret"),
        "the password is never printed"
    );
}

#[test]
fn key_new_without_a_password_is_an_input_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["key", "new", "--dir", "/tmp/sessionkeys-never"])
        .env_remove("SESSIONKEYS_KEY_PASSWORD")
        .env_remove("SESSIONKEYS_KEY_PASSWORD_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no password: give --password-file or set SESSIONKEYS_KEY_PASSWORD"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_node_is_named_with_what_was_tried() {
    let owner_key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args([
            "account",
            "create",
            "--rpc",
            "http://127.0.0.1:9",
            "--owner-key-env",
            "SK_TEST_OWNER",
        ])
        .env("SK_TEST_OWNER", owner_key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(message.contains("http://127.0.0.1:9"), "{message}");
    assert!(
        message.contains("eth_getCode") || message.contains("eth_call"),
        "{message}"
    );
    assert!(
        !message.contains(&owner_key[2..]),
        "the key leaked into an error"
    );
}

#[test]
fn a_grant_refuses_a_session_file_that_names_its_own_signer() {
    let out = sessionkeys(&[
        "session",
        "grant",
        &example("usdc-spending-limit.json"),
        "--rpc",
        "http://127.0.0.1:9",
    ]);
    assert_exit(&out, 2, "remove \"signer\"");
}

#[test]
fn exec_without_a_stored_session_says_where_it_looked() {
    let home =
        std::env::temp_dir().join(format!("sessionkeys-cli-empty-home-{}", std::process::id()));
    let out = sessionkeys(&[
        "exec",
        "--rpc",
        "http://127.0.0.1:9",
        "--home",
        &home.to_string_lossy(),
        "--to",
        "usdc",
        "--data",
        "0x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("no stored session matches \"latest\""),
        "{message}"
    );
    assert!(message.contains(&*home.to_string_lossy()), "{message}");
}

#[test]
fn sessions_list_of_an_empty_store_says_so() {
    let home =
        std::env::temp_dir().join(format!("sessionkeys-cli-list-home-{}", std::process::id()));
    let out = sessionkeys(&["sessions", "list", "--home", &home.to_string_lossy()]);
    assert_exit(&out, 0, "no sessions in");
}

#[test]
fn deploy_without_a_key_asks_for_one() {
    let out = sessionkeys(&["deploy", "--rpc", "http://127.0.0.1:9"]);
    assert_exit(&out, 2, "--owner-keystore");
}

#[test]
fn revoke_needs_a_session_or_all() {
    let out = sessionkeys(&["revoke", "--rpc", "http://127.0.0.1:9"]);
    assert_exit(&out, 2, "--session");
}

#[test]
fn session_new_writes_a_file_that_lint_and_explain_read() {
    let dir = std::env::temp_dir().join(format!("sessionkeys-cli-new-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("new-session.json");
    let _ = std::fs::remove_file(&out_file);
    let out_path = out_file.to_string_lossy().into_owned();
    let out = sessionkeys(&[
        "session",
        "new",
        "--call",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913:transfer(address,uint256)",
        "--ops",
        "10/1m",
        "--valid-for",
        "2h",
        "--out",
        &out_path,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The starter is deliberately loose: lint points at what to constrain next.
    assert!(text(&out).contains("SK001"), "{}", text(&out));
    let lint = sessionkeys(&["session", "lint", &out_path]);
    assert_eq!(lint.status.code(), Some(1), "{}", text(&lint));
    let explain = sessionkeys(&["session", "explain", &out_path]);
    assert_eq!(explain.status.code(), Some(0), "{}", text(&explain));
    assert!(text(&explain).contains("10"), "{}", text(&explain));
    // Never overwrites.
    let again = sessionkeys(&[
        "session",
        "new",
        "--call",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913:transfer(address,uint256)",
        "--out",
        &out_path,
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("cannot create"), "{}", text(&again));
}

#[test]
fn session_new_refuses_flags_that_make_no_session() {
    let out = sessionkeys(&["session", "new"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--call"), "{}", text(&out));
    let out = sessionkeys(&[
        "session",
        "new",
        "--call",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("TARGET:FUNCTION"), "{}", text(&out));
    let out = sessionkeys(&["session", "new", "--call", "0x12:transfer(address,uint256)"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("invalid session"), "{}", text(&out));
}

#[test]
fn explain_with_an_unreachable_node_fails_instead_of_guessing() {
    let out = sessionkeys(&[
        "session",
        "explain",
        &example("usdc-spending-limit.json"),
        "--rpc",
        "http://127.0.0.1:9",
    ]);
    assert_exit(&out, 2, "http://127.0.0.1:9");
}

#[test]
fn lint_against_a_registry_needs_a_node() {
    let out = sessionkeys(&[
        "session",
        "lint",
        &example("game.json"),
        "--registry",
        "0x38A0339b6308D026427D204617f66FF3832e095e",
    ]);
    assert_exit(&out, 2, "--rpc");
}

fn clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn valid_from_zero_until(name: &str, until: u64) -> String {
    write_temp(
        name,
        &format!(
            r#"{{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validAfter":0,"validUntil":{until},
            "feeLimit":{{"limit":"1000000000000000"}},
            "transferPolicies":[{{"target":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","maxValuePerUse":"5","valueLimit":{{"limit":"5"}}}}]}}"#
        ),
    )
}

#[test]
fn lint_measures_a_session_valid_from_zero_from_the_clock() {
    let day = valid_from_zero_until("one-day.json", clock() + 86_400);
    let out = sessionkeys(&["session", "lint", &day]);
    assert_eq!(
        (out.status.code(), text(&out).trim()),
        (Some(0), "no findings")
    );
    let long = valid_from_zero_until("long.json", clock() + 400 * 86_400);
    let out = sessionkeys(&["session", "lint", &long]);
    assert!(
        text(&out).contains("warning[SK010] validUntil: the session runs for 399 more days")
            || text(&out).contains("the session runs for 400 more days"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_grant_refuses_unlimited_fees_unless_forced() {
    let session = write_temp(
        "unlimited-fees.json",
        r#"{"validUntil":"2999-01-01T00:00:00Z",
            "transferPolicies":[{"target":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","maxValuePerUse":"5","valueLimit":{"limit":"5"}}]}"#,
    );
    let out = sessionkeys(&["session", "grant", &session, "--rpc", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error[SK011] feeLimit")
            && text(&out).contains("spend ALL the account's ETH on gas")
            && text(&out).contains("refused: lint reports 1 error(s)"),
        "{}",
        text(&out)
    );
    // --force passes the lint gate; the unreachable node then stops it as bad input.
    let out = sessionkeys(&[
        "session",
        "grant",
        &session,
        "--rpc",
        "http://127.0.0.1:9",
        "--force",
    ]);
    assert!(
        !text(&out).contains("refused: lint reports"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

// Inputs that once panicked (exit 101): each now gets its exit code, 2 bad input, 1 refused.

fn simulate(ops: &str, extra: &[&str]) -> Output {
    let calls = write_temp(&format!("ops-{}.json", ops.len()), ops);
    let session = example("../simulate/session.json");
    let mut args = vec!["simulate", "--session", &session, "--calls", &calls];
    args.extend_from_slice(extra);
    sessionkeys(&args)
}

fn check(ops: &str, extra: &[&str]) -> Output {
    let calls = write_temp(&format!("check-ops-{}.json", ops.len()), ops);
    let session = example("../simulate/session.json");
    let mut args = vec![
        "check",
        "--session",
        &session,
        "--calls",
        &calls,
        "--at",
        "2026-11-24T05:00:00Z",
    ];
    args.extend_from_slice(extra);
    sessionkeys(&args)
}

fn assert_no_panic(out: &Output) {
    assert_ne!(out.status.code(), Some(101), "{}", text(out));
    assert!(!text(out).contains("panicked"), "{}", text(out));
}

const MOVE: &str = r#""calls":[{"to":"0x39D94E384a8815EC9a9D8c50Acb0E20FB79cC16c","function":"move(uint8)","args":[1]}]"#;

#[test]
fn a_time_hint_beyond_uint48_is_bad_input_for_simulate_and_check() {
    let ops = format!(r#"{{"ops":[{{{MOVE},"timeHint":281474976710656}}]}}"#);
    for out in [simulate(&ops, &[]), check(&ops, &[])] {
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out)
                .contains("ops[0].timeHint: 281474976710656 does not fit the signature's uint48"),
            "{}",
            text(&out)
        );
    }
    // so is a block time past it, absolute or relative
    for at in [r#""281474976710656""#, r#""+18446744073709551615s""#] {
        let ops = format!(r#"{{"ops":[{{{MOVE},"at":{at}}}]}}"#);
        let out = check(&ops, &[]);
        assert_exit(&out, 2, "ops[0].at: ");
    }
}

#[test]
fn a_nonce_key_of_another_lane_is_refused_by_both_sides() {
    // The validator's address with lane 0xdeadbeef: the account routes the op to the validator,
    // which refuses a lane that is not the session's.
    let devnet: serde_json::Value =
        serde_json::from_slice(&sessionkeys(&["--json", "devnet"]).stdout).unwrap();
    let validator = devnet["validator"].as_str().unwrap().to_string();
    let ops = format!(r#"{{"ops":[{{{MOVE},"nonceKey":"{validator}deadbeef"}}]}}"#);
    let out = simulate(&ops, &[]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("contract: refused: WrongNonceLane"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("DISAGREEMENT"), "{}", text(&out));
    let out = check(
        &ops.replace(&validator, "0x000000000000000000000000000000000000ba11"),
        &[],
    );
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("refused: WrongNonceLane"),
        "{}",
        text(&out)
    );
    // a key that is not hex is bad input
    let ops = format!(r#"{{"ops":[{{{MOVE},"nonceKey":"lane 7"}}]}}"#);
    let out = check(&ops, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("ops[0].nonceKey: expected 0x-hex"),
        "{}",
        text(&out)
    );
}

#[test]
fn times_after_year_9999_print_as_unix_seconds() {
    let session = write_temp(
        "far-future.json",
        r#"{"validUntil":281474976710655,"callPolicies":[{"target":"0x39D94E384a8815EC9a9D8c50Acb0E20FB79cC16c","selector":"move(uint8)"}]}"#,
    );
    let out = sessionkeys(&["session", "explain", &session]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Unix time 281474976710655 (after year 9999)"),
        "{}",
        text(&out)
    );
    // the canonical JSON keeps such a time as a number, which reads back
    let signed = write_temp(
        "far-future-signed.json",
        &std::fs::read_to_string(&session).unwrap().replacen(
            '{',
            r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","#,
            1,
        ),
    );
    let out = sessionkeys(&["--json", "session", "hash", &signed]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["session"]["validUntil"], 281474976710655u64);
    let ops = write_temp(
        "far-future-ops.json",
        &format!(r#"{{"ops":[{{{MOVE},"at":"300000000000"}}]}}"#),
    );
    let out = sessionkeys(&["simulate", "--session", &session, "--calls", &ops]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("op 0 at Unix time 300000000000 (after year 9999)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_zero_paymaster_is_the_entrypoints_aa98_on_v08_and_no_paymaster_on_v07() {
    // 20 zero bytes of address, then the two 16-byte gas limits.
    let ops = format!(
        r#"{{"ops":[{{{MOVE},"paymasterAndData":"0x{}{}"}}]}}"#,
        "00".repeat(20),
        "00000000000000000000000000030d40".repeat(2)
    );
    let out = simulate(&ops, &["--entrypoint", "v0.8"]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for side in [
        "contract: entrypoint: AA98 invalid paymaster",
        "engine:   entrypoint: AA98 invalid paymaster",
    ] {
        assert!(text(&out).contains(side), "{side} in {}", text(&out));
    }
    assert!(!text(&out).contains("0x0x"), "{}", text(&out));
    let out = check(&ops, &["--entrypoint", "v0.8"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("entrypoint: AA98 invalid paymaster"),
        "{}",
        text(&out)
    );
    let out = simulate(&ops, &["--entrypoint", "v0.7"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // shorter than the 52-byte static part: the EntryPoint's AA93 on both versions
    let ops = format!(
        r#"{{"ops":[{{{MOVE},"paymasterAndData":"0x{}"}}]}}"#,
        "11".repeat(51)
    );
    for version in ["v0.7", "v0.8"] {
        let out = simulate(&ops, &["--entrypoint", version]);
        assert_eq!(out.status.code(), Some(1), "{version}: {}", text(&out));
        assert!(
            text(&out).contains("contract: entrypoint: AA93 invalid paymasterAndData"),
            "{version}: {}",
            text(&out)
        );
        assert!(!text(&out).contains("DISAGREEMENT"), "{}", text(&out));
    }
}

#[test]
fn usage_already_past_a_limit_is_refused_not_a_panic() {
    // the session allows 3 ops a minute; 29924940 is the minute of --at
    let usage = write_temp(
        "usage-past.json",
        r#"{"opsUsed":18446744073709551615,"opsPeriod":29924940}"#,
    );
    let ops = format!(r#"{{"ops":[{{{MOVE}}}]}}"#);
    let out = check(&ops, &["--usage", &usage]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("refused: LimitExceeded(kind: 0"),
        "{}",
        text(&out)
    );
}

/// Runs `args` with stdout a pipe whose reader is gone before the first write, as with
/// `sessionkeys … | head -0`.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn every_command_ends_quietly_with_its_exit_code_when_its_reader_goes_away() {
    let session = example("../simulate/session.json");
    let simulate_ops = example("../simulate/ops.json");
    let check_ops = example("../check/ops.json");
    let usdc = example("usdc-spending-limit.json");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["devnet"], 0),
        (vec!["--json", "devnet"], 0),
        (vec!["session", "explain", &usdc], 0),
        (
            vec!["session", "lint", &usdc, "--at", "2026-11-24T12:00:00Z"],
            0,
        ),
        (vec!["session", "hash", &usdc], 0),
        (
            vec![
                "check",
                "--session",
                &usdc,
                "--calls",
                &check_ops,
                "--at",
                "2026-11-24T12:00:00Z",
            ],
            1,
        ),
        (
            vec!["simulate", "--session", &session, "--calls", &simulate_ops],
            1,
        ),
        (vec!["session", "explain", "/nonexistent/session.json"], 2),
    ];
    for (args, code) in cases {
        let out = with_closed_stdout(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_time_with_a_multibyte_character_is_bad_input_not_a_panic() {
    // Found by the session_json fuzz target (docs/fuzzing.md).
    let session = write_temp(
        "multibyte-time.json",
        r#"{"signer":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf","validUntil":"2026-12-24T00:00:0ʥZ","callPolicies":[{"target":"0x39D94E384a8815EC9a9D8c50Acb0E20FB79cC16c","selector":"move(uint8)"}]}"#,
    );
    let out = sessionkeys(&["session", "lint", &session]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("validUntil: expected RFC 3339 time"),
        "{}",
        text(&out)
    );
    let ops = format!(r#"{{"ops":[{{{MOVE},"at":"2026-11-24T05:00:0ʥZ"}}]}}"#);
    let out = check(&ops, &[]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("ops[0].at: expected RFC 3339"),
        "{}",
        text(&out)
    );
}

#[test]
fn session_new_refuses_a_duration_past_the_end_of_time() {
    let out = sessionkeys(&[
        "session",
        "new",
        "--call",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913:transfer(address,uint256)",
        "--valid-for",
        "18446744073709551615",
    ]);
    assert_no_panic(&out);
    assert_exit(&out, 2, "--valid-for");
}

#[test]
fn lint_runs_with_the_node_url_exported_as_the_real_chain_tour_does() {
    // docs/real-chain.md exports SESSIONKEYS_RPC_URL before linting: without --registry the
    // node is not needed, and its URL must not make lint a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["session", "lint", &example("usdc-spending-limit.json")])
        .args(["--at", "2026-11-24T12:00:00Z"])
        .env("SESSIONKEYS_RPC_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), text(&out).trim()),
        (Some(0), "no findings")
    );
}

// ---- the user-facing edges of a real chain: timeouts, checksums, JSON, listing ----

/// A "node" on 127.0.0.1 that takes every connection and never answers, as a hung node does.
/// It stops by itself when dropped, or after a minute at the latest.
struct SilentNode {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentNode {
    fn start() -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Self { url, stop }
    }
}

impl Drop for SilentNode {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

const TEST_OWNER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const STORE_PASSWORD: &str = "correct horse";

/// A session store holding one granted session (for exec, sessions list and revoke), without
/// any chain: what `session grant` leaves behind.
fn home_with_a_stored_session(name: &str) -> String {
    use alloy::sol_types::SolValue;
    use sessionkeys::store::{SessionStore, StoredSession, StoredStatus};
    let dir = std::env::temp_dir().join(format!("sessionkeys-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SessionStore::open(&dir).unwrap();
    let (key, key_file) = store.new_key(STORE_PASSWORD.as_bytes()).unwrap();
    let spec = sessionkeys_engine::format::parse_session_json(
        r#"{ "validAfter": 1, "validUntil": 4000000000,
             "transferPolicies": [{ "target": "0x000000000000000000000000000000000000b0b0",
                                    "maxValuePerUse": "1000" }] }"#,
    )
    .unwrap()
    .to_spec(Some(key.address()))
    .unwrap();
    let grant = sessionkeys::SessionGrant::new(
        spec,
        sessionkeys::deployment::session_key_validator(alloy::primitives::Address::ZERO).address(),
    )
    .unwrap();
    store
        .save(&StoredSession {
            hash: grant.hash().unwrap(),
            chain_id: 31337,
            entry_point: sessionkeys::EntryPointVersion::V07,
            account: alloy::primitives::Address::repeat_byte(0xac),
            owner: alloy::primitives::Address::repeat_byte(0x0e),
            validator: grant.validator,
            spec: grant.spec.abi_encode().into(),
            key_file,
            status: StoredStatus::Granted,
            approval: None,
            factory: None,
            request: None,
            created_at: 1_700_000_000,
        })
        .unwrap();
    dir.to_string_lossy().into_owned()
}

/// Runs the binary with the test owner key and the store password in its environment.
fn sessionkeys_with_keys(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(args)
        .env("SK_TEST_OWNER", TEST_OWNER_KEY)
        .env("SK_TEST_PASSWORD", STORE_PASSWORD)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

#[test]
fn every_command_gives_up_on_a_node_that_never_answers_and_names_its_url() {
    let node = SilentNode::start();
    let url = node.url.as_str();
    let home = home_with_a_stored_session("silent-node");
    let session = write_temp(
        "silent-node-session.json",
        r#"{"validUntil":"2999-01-01T00:00:00Z","feeLimit":{"limit":"1000000000000000"},
            "transferPolicies":[{"target":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","maxValuePerUse":"5","valueLimit":{"limit":"5"}}]}"#,
    );
    let account = "0x00000000000000000000000000000000000acc01";
    let started = std::time::Instant::now();
    let commands: Vec<Vec<&str>> = vec![
        vec![
            "sessions",
            "list",
            "--rpc",
            url,
            "--account",
            account,
            "--home",
            &home,
        ],
        vec![
            "account",
            "create",
            "--rpc",
            url,
            "--owner-key-env",
            "SK_TEST_OWNER",
        ],
        vec!["session", "explain", &session, "--rpc", url],
        vec![
            "session",
            "grant",
            &session,
            "--rpc",
            url,
            "--bundler",
            url,
            "--owner-key-env",
            "SK_TEST_OWNER",
            "--home",
            &home,
            "--password-env",
            "SK_TEST_PASSWORD",
        ],
        vec![
            "exec",
            "--rpc",
            url,
            "--bundler",
            url,
            "--home",
            &home,
            "--password-env",
            "SK_TEST_PASSWORD",
            "--to",
            "usdc",
            "--data",
            "0x",
        ],
    ];
    for (i, args) in commands.iter().enumerate() {
        // Half through the flag, half through the environment.
        let out = if i % 2 == 0 {
            let mut with_flag = vec!["--rpc-timeout", "1"];
            with_flag.extend(args.iter().copied());
            sessionkeys_with_keys(&with_flag, &[])
        } else {
            sessionkeys_with_keys(args, &[("SESSIONKEYS_RPC_TIMEOUT", "1")])
        };
        let message = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(url), "{args:?}: {message}");
        assert!(message.contains("did not answer"), "{args:?}: {message}");
        assert!(message.contains("--rpc-timeout"), "{args:?}: {message}");
        assert!(!message.contains(&TEST_OWNER_KEY[2..]), "the key leaked");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn request_and_approve_refuse_bad_input_before_touching_the_chain() {
    // A session file naming its own signer: request makes the key.
    let out = sessionkeys(&[
        "session",
        "request",
        &example("usdc-spending-limit.json"),
        "--owner",
        "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf",
        "--out",
        "/nonexistent/typed.json",
        "--rpc",
        "http://127.0.0.1:9",
    ]);
    assert_exit(&out, 2, "remove \"signer\"");
    // Approve without a signature says how to give one; a signature that is not hex says so.
    let out = sessionkeys(&["session", "approve", "--rpc", "http://127.0.0.1:9"]);
    assert_exit(&out, 2, "--signature 0x");
    let out = sessionkeys(&[
        "session",
        "approve",
        "--signature",
        "0xnothex",
        "--rpc",
        "http://127.0.0.1:9",
    ]);
    assert_exit(&out, 2, "65 bytes");
}

#[test]
fn a_wallet_signed_revocation_without_a_relayer_is_a_usage_error_naming_the_flag() {
    let home = std::env::temp_dir().join(format!("sessionkeys-cli-revoke-{}", std::process::id()));
    let out = sessionkeys(&[
        "revoke",
        "--all",
        "--account",
        "0x00000000000000000000000000000000000acc01",
        "--signature",
        &format!("0x{}", "11".repeat(65)),
        "--rpc",
        "http://127.0.0.1:9",
        "--home",
        &home.to_string_lossy(),
    ]);
    assert_exit(&out, 2, "--relayer-key-env");
}

#[test]
fn a_timeout_of_zero_seconds_is_a_usage_error() {
    let out = sessionkeys(&["--rpc-timeout", "0", "devnet"]);
    assert_exit(&out, 2, "seconds (1 or more)");
}

/// USDC on Base, with its checksum, and with one letter's case flipped.
const CHECKSUMMED: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const WRONG_CASE: &str = "0x833589FCD6eDb6E08f4c7C32D4f71b54bdA02913";

fn assert_checksum_refused(out: &Output) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert!(
        text(out).contains("wrong EIP-55 checksum")
            && text(out).contains(&format!("did you mean {CHECKSUMMED}")),
        "{}",
        text(out)
    );
}

#[test]
fn a_mixed_case_address_with_a_wrong_checksum_is_refused_with_the_right_form() {
    let session = |target: &str| {
        format!(
            r#"{{"validUntil":"2999-01-01T00:00:00Z","feeLimit":{{"limit":"1000"}},
                "callPolicies":[{{"target":"{target}","selector":"transfer(address,uint256)",
                  "constraints":[{{"index":0,"condition":"equal","value":"0x000000000000000000000000000000000000b0b0"}},
                                 {{"index":1,"condition":"lessOrEqual","value":"5","limit":{{"limit":"5"}}}}]}}]}}"#
        )
    };
    // A session file.
    let wrong = write_temp("wrong-checksum.json", &session(WRONG_CASE));
    assert_checksum_refused(&sessionkeys(&["session", "lint", &wrong]));
    // All-lowercase carries no checksum and stays accepted; so does the checksummed form.
    for accepted in [CHECKSUMMED.to_lowercase(), CHECKSUMMED.to_string()] {
        let file = write_temp("right-checksum.json", &session(&accepted));
        let out = sessionkeys(&["session", "lint", &file]);
        assert_ne!(out.status.code(), Some(2), "{}", text(&out));
    }
    // session new.
    let call = format!("{WRONG_CASE}:transfer(address,uint256)");
    assert_checksum_refused(&sessionkeys(&["session", "new", "--call", &call]));
    // An ops file's `to` and `args`.
    let check_calls = |to: &str, arg: &str| {
        let ops = write_temp(
            "checksum-ops.json",
            &format!(
                r#"{{"ops":[{{"calls":[{{"to":"{to}","function":"transfer(address,uint256)","args":["{arg}","1"]}}]}}]}}"#
            ),
        );
        sessionkeys(&[
            "check",
            "--session",
            &example("usdc-spending-limit.json"),
            "--calls",
            &ops,
        ])
    };
    assert_checksum_refused(&check_calls(WRONG_CASE, CHECKSUMMED));
    assert_checksum_refused(&check_calls(CHECKSUMMED, WRONG_CASE));
    // exec --to and --arg: refused before any node is asked (this one is unreachable).
    let home = home_with_a_stored_session("checksum");
    for (to, arg) in [(WRONG_CASE, CHECKSUMMED), (CHECKSUMMED, WRONG_CASE)] {
        let out = sessionkeys_with_keys(
            &[
                "exec",
                "--rpc",
                "http://127.0.0.1:9",
                "--bundler",
                "http://127.0.0.1:9",
                "--home",
                &home,
                "--password-env",
                "SK_TEST_PASSWORD",
                "--to",
                to,
                "--function",
                "transfer(address,uint256)",
                "--arg",
                arg,
                "--arg",
                "1",
            ],
            &[],
        );
        assert_checksum_refused(&out);
    }
}

#[test]
fn json_errors_and_refusals_are_one_object_with_an_exit_code() {
    /// The one JSON object of a failed command: its outcome, exit code and reason.
    fn failure(out: &Output, outcome: &str, code: i32, reason: &str) -> serde_json::Value {
        assert_eq!(out.status.code(), Some(code), "{}", text(out));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(value["outcome"], outcome, "{value}");
        assert_eq!(value["exitCode"], code, "{value}");
        assert!(
            value["reason"].as_str().unwrap().contains(reason),
            "{value}"
        );
        value
    }
    let out = sessionkeys(&["--json", "session", "lint", "/nonexistent/session.json"]);
    let error = failure(&out, "error", 2, "/nonexistent/session.json");
    assert!(error.get("error").is_none(), "no empty error name: {error}");

    let session = write_temp(
        "json-unlimited-fees.json",
        r#"{"validUntil":"2999-01-01T00:00:00Z",
            "transferPolicies":[{"target":"0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045","maxValuePerUse":"5","valueLimit":{"limit":"5"}}]}"#,
    );
    let rpc = "http://127.0.0.1:9";
    let out = sessionkeys(&["--json", "session", "grant", &session, "--rpc", rpc]);
    failure(&out, "refused", 1, "lint reports 1 error(s)");
}

#[test]
fn check_and_simulate_report_a_refused_op_with_the_same_fields() {
    let session = example("../simulate/session.json");
    let calls = example("../simulate/ops.json");
    let simulated = sessionkeys(&[
        "--json",
        "simulate",
        "--session",
        &session,
        "--calls",
        &calls,
    ]);
    assert_eq!(simulated.status.code(), Some(1), "{}", text(&simulated));
    let simulated: serde_json::Value = serde_json::from_slice(&simulated.stdout).unwrap();
    let refused = simulated["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["verdict"] != "ok")
        .unwrap()
        .clone();
    // The error's name is the one its verdict line carries.
    let name = refused["error"].as_str().unwrap();
    let verdict = refused["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with(&format!("refused: {name}(")),
        "{refused}"
    );
    assert!(refused["reason"].is_string(), "{refused}");
    let ok = &simulated["ops"][0];
    assert_eq!(ok["verdict"], "ok");
    assert!(ok.get("error").is_none(), "no empty error name: {ok}");
    // check's entries carry the same fields with the same meaning.
    let checked = check_example(&["--json"]);
    let checked: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let refused = checked["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["verdict"] != "ok")
        .unwrap();
    for field in ["op", "time", "verdict", "error", "reason"] {
        assert!(
            refused.get(field).is_some(),
            "check lacks {field}: {refused}"
        );
    }
    let name = refused["error"].as_str().unwrap();
    let verdict = refused["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with(&format!("refused: {name}(")),
        "{refused}"
    );
}

#[test]
fn sessions_list_labels_its_columns_and_says_statuses_in_words() {
    let home = home_with_a_stored_session("labelled-list");
    let out = sessionkeys(&["sessions", "list", "--home", &home]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = listing.lines();
    let header = lines.next().unwrap();
    for column in ["SESSION", "ACCOUNT", "STORED"] {
        assert!(header.contains(column), "{listing}");
    }
    assert!(lines.next().unwrap().contains("granted"), "{listing}");
    let out = sessionkeys(&["--json", "sessions", "list", "--home", &home]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["stored"], "granted");
    assert_eq!(rows[0]["entryPoint"], "v0.7");
}

#[test]
fn explain_names_the_functions_the_session_file_writes_as_signatures() {
    let out = sessionkeys(&["session", "explain", &example("game.json")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let explanation = text(&out);
    for name in ["call move on", "call attack on", "call buyItem on"] {
        assert!(explanation.contains(name), "{explanation}");
    }
    assert!(!explanation.contains("0x70e87aaf"), "{explanation}");
}

#[test]
fn a_usage_error_under_json_is_json_too() {
    let out = sessionkeys(&["--json", "exec", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (error["outcome"].as_str(), error["exitCode"].as_i64()),
        (Some("error"), Some(2))
    );
    assert!(
        error["reason"].as_str().unwrap().contains("--no-such-flag"),
        "{error}"
    );
    // Help is not an error.
    let out = sessionkeys(&["--json", "--help"]);
    assert_exit(&out, 0, "Usage");
}

#[test]
fn agent_refuses_to_listen_beyond_loopback_and_needs_a_chain() {
    let out = sessionkeys(&["agent", "--dev", "--http", "0.0.0.0:8788"]);
    assert_exit(&out, 2, "listens on loopback only");
    let out = sessionkeys(&["agent"]);
    assert_exit(&out, 2, "give --dev; or --rpc URL and --bundler URL");
    // A chain named in the environment does not stand in --dev's way (clap would count an
    // environment variable as given, and refuse the pair).
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["agent", "--dev", "--http", "0.0.0.0:8788"])
        .env("SESSIONKEYS_RPC_URL", "http://127.0.0.1:1")
        .env("SESSIONKEYS_SERVICE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_exit(&out, 2, "listens on loopback only");
    // --service needs the app's key, and an http(s) URL.
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["agent", "--service", "http://127.0.0.1:1"])
        .env_remove("SESSIONKEYS_APP_KEY")
        .output()
        .unwrap();
    assert_exit(&out, 2, "--service needs the app's API key");
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["agent", "--service", "ftp://127.0.0.1"])
        .env("SESSIONKEYS_APP_KEY", "sk_app_0123_secret")
        .output()
        .unwrap();
    assert_exit(&out, 2, "is not an http:// or https:// URL");
    // Nobody there: a clear error that does not echo the key.
    let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args([
            "agent",
            "--service",
            "http://127.0.0.1:1",
            "--session",
            "ses_0",
        ])
        .env("SESSIONKEYS_APP_KEY", "sk_app_0123_secret")
        .output()
        .unwrap();
    assert_exit(&out, 2, "the session service did not answer");
    assert!(!text(&out).contains("secret"), "{}", text(&out));
}

/// `sessionkeys check` gives the verdicts of the engine's case file (packages/engine/cases.json,
/// the answers the WebAssembly build must give byte for byte): both run one function,
/// `sessionkeys_chain::offline_check::check_ops`, and this proves the CLI's reading of the
/// files and flags adds nothing of its own.
#[test]
fn check_gives_the_verdicts_of_the_engines_case_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packages/engine/cases.json"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = file["cases"].as_array().unwrap();
    let mut compared = 0;
    for (i, case) in cases.iter().enumerate().step_by(cases.len() / 40) {
        let session = &file["sessions"][case["session"].as_u64().unwrap() as usize];
        let session = write_temp(&format!("case-{i}-session.json"), &session.to_string());
        let ops = write_temp(&format!("case-{i}-ops.json"), &case["ops"].to_string());
        let at = case["at"].to_string();
        let mut args = vec![
            "--json",
            "check",
            "--session",
            &session,
            "--calls",
            &ops,
            "--at",
            &at,
        ];
        let usage;
        if let Some(value) = case.get("usage") {
            usage = write_temp(&format!("case-{i}-usage.json"), &value.to_string());
            args.extend(["--usage", &usage]);
        }
        let out = sessionkeys(&args);
        let expected: Vec<&str> = case["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if expected[0].starts_with("error:") {
            assert_eq!(out.status.code(), Some(2), "case {i}: {}", text(&out));
            continue;
        }
        let report: serde_json::Value = serde_json::from_str(&text(&out))
            .unwrap_or_else(|e| panic!("case {i}: {e}: {}", text(&out)));
        let got: Vec<&str> = report["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "case {i}");
        let all_ok = expected.iter().all(|v| *v == "ok");
        assert_eq!(
            out.status.code(),
            Some(if all_ok { 0 } else { 1 }),
            "case {i}"
        );
        compared += 1;
    }
    assert!(compared >= 30, "{compared} cases compared");
}
