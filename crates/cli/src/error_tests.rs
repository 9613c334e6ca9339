//! The exit code and the words of each kind of failure.

use super::*;

fn bundler_refused(code: i64, message: &str) -> CliError {
    CliError::Sdk(SdkError::BundlerRefused {
        code,
        message: message.into(),
        reason: None,
    })
}

#[test]
fn exit_codes_are_decided_by_the_kind_of_failure() {
    assert_eq!(exit_code(&Ok(())), 0);
    assert_eq!(exit_code(&Err(CliError::Input("bad flag".into()))), 2);
    assert_eq!(exit_code(&Err(CliError::Refused("lint".into()))), 1);
    assert_eq!(exit_code(&Err(CliError::RefusedReported)), 1);
    assert_eq!(exit_code(&Err(CliError::DisagreementReported)), 3);
    assert_eq!(exit_code(&Err(CliError::ErrorReported)), 2);
    assert_eq!(
        exit_code(&Err(bundler_refused(-32500, "AA21 didn't pay prefund"))),
        1
    );
}

#[test]
fn a_node_given_as_the_bundler_is_a_usage_error_with_the_fix() {
    let refused = bundler_refused(-32601, "the method eth_sendUserOperation does not exist");
    assert_eq!(refused.exit_code(), 2);
    let asked = CliError::Sdk(SdkError::Backend(BackendError::Rpc {
        url: "http://127.0.0.1:8545/".into(),
        method: "eth_supportedEntryPoints".into(),
        code: -32601,
        message: "Method not found".into(),
        data: None,
    }));
    assert_eq!(asked.exit_code(), 2);
    for error in [refused, asked] {
        let report = report(&error).unwrap();
        assert_eq!(report.outcome, "error");
        assert!(
            report.reason.contains("not an ERC-4337 bundler"),
            "{}",
            report.reason
        );
        assert!(report.next.unwrap().contains("--bundler"));
    }
}

#[test]
fn a_bundler_refusal_with_an_entrypoint_code_says_what_to_do() {
    let report = report(&bundler_refused(
        -32500,
        "UserOperation reverted during simulation with reason: AA21 didn't pay prefund",
    ))
    .unwrap();
    assert_eq!(report.outcome, "refused");
    assert!(report.next.unwrap().contains("Fund the account"));
    let report = report_of_aa24();
    assert!(report.contains("the account's owner key"), "{report}");
}

fn report_of_aa24() -> String {
    report(&bundler_refused(-32507, "AA24 signature error"))
        .and_then(|r| r.next)
        .unwrap_or_default()
}

#[test]
fn a_timeout_names_the_flag_that_allows_longer() {
    let error = CliError::Sdk(SdkError::Backend(BackendError::TimedOut {
        url: "http://127.0.0.1:1/".into(),
        method: "eth_chainId".into(),
        seconds: 1,
    }));
    assert_eq!(error.exit_code(), 2);
    let report = report(&error).unwrap();
    assert!(report.reason.contains("http://127.0.0.1:1/"));
    assert!(report.next.unwrap().contains("--rpc-timeout"));
}

#[test]
fn a_bundler_refusal_carrying_a_validator_error_names_it() {
    use sessionkeys_contracts::session::ISessionKeyValidator::{
        ISessionKeyValidatorErrors, SessionRevoked,
    };
    let hash = alloy::primitives::B256::repeat_byte(7);
    let error = CliError::Sdk(SdkError::BundlerRefused {
        code: -32500,
        message: "AA23 reverted".into(),
        reason: Some(Box::new(sessionkeys_chain::RevertReason::Validator(
            ISessionKeyValidatorErrors::SessionRevoked(SessionRevoked { sessionHash: hash }),
        ))),
    });
    assert_eq!(error.exit_code(), 1);
    let report = report(&error).unwrap();
    assert_eq!(report.outcome, "refused");
    assert_eq!(report.error.as_deref(), Some("SessionRevoked"));
    // Without a decoded reason there is no name to give.
    let unnamed = report_of(&bundler_refused(-32500, "AA23 reverted"));
    assert_eq!(unnamed.error, None);
}

fn report_of(error: &CliError) -> Report {
    report(error).expect("a failure the command did not report itself")
}

#[test]
fn an_entrypoint_code_quoted_in_our_own_sentence_gets_no_bundler_advice() {
    // LaneTaken's sentence quotes AA25; the advice for a bundler's AA25 ("read the nonce again
    // and send again") would contradict it ("request the session again").
    let lane_taken = CliError::Sdk(SdkError::LaneTaken {
        lane: alloy::primitives::FixedBytes([1, 1, 1, 1]),
        session: alloy::primitives::B256::repeat_byte(2),
    });
    let report = report_of(&lane_taken);
    assert!(report.reason.contains("AA25"), "{}", report.reason);
    assert_eq!(report.next, None);
}
