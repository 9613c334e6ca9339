//! Reviewing a session against the chain: registry statuses (lint SK020) and token symbols for
//! `explain`, on the devnet.

use alloy::primitives::{Address, FixedBytes, U256, address};
use sessionkeys::DevnetBackend;
use sessionkeys::review::{registry_review, with_chain_tokens};
use sessionkeys_contracts::abi::PolicyRegistry;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_contracts::vocabulary::ReviewStatus;
use sessionkeys_devnet::devnet::DEVNET_ADMIN;
use sessionkeys_engine::explain::{Labels, explain};
use sessionkeys_engine::format::parse_session_json;

const SPENDER: Address = address!("0x0000000000000000000000000000000000005e11");

fn spec(json: &str) -> SessionSpec {
    parse_session_json(json)
        .unwrap()
        .to_spec(Some(Address::repeat_byte(1)))
        .unwrap()
}

#[tokio::test]
async fn each_policy_reports_its_registry_status_and_anything_not_allowed_is_sk020() {
    let backend = DevnetBackend::new().unwrap();
    let (registry, usdc, game) =
        backend.with_devnet(|d| (d.addresses.registry, d.addresses.usdc, d.addresses.game));
    let transfer = FixedBytes::<4>::from([0xa9, 0x05, 0x9c, 0xbb]);
    let approve = FixedBytes::<4>::from([0x09, 0x5e, 0xa7, 0xb3]);
    backend.with_devnet(|d| {
        let set = |target, selector, status: ReviewStatus| PolicyRegistry::setCallStatusCall {
            target,
            selector,
            status: status.into(),
        };
        d.send(
            DEVNET_ADMIN,
            registry,
            U256::ZERO,
            &set(usdc, transfer, ReviewStatus::Allowed),
        )
        .unwrap();
        d.send(
            DEVNET_ADMIN,
            registry,
            U256::ZERO,
            &set(usdc, approve, ReviewStatus::Allowed),
        )
        .unwrap();
        let blocked = PolicyRegistry::setApprovalStatusCall {
            token: usdc,
            spender: SPENDER,
            status: ReviewStatus::Blocked.into(),
        };
        d.send(DEVNET_ADMIN, registry, U256::ZERO, &blocked)
            .unwrap();
    });
    let session = spec(&format!(
        r#"{{
          "validUntil": 1900000000,
          "callPolicies": [
            {{ "target": "{usdc}", "selector": "transfer(address,uint256)",
               "constraints": [{{ "index": 0, "condition": "equal", "value": "{SPENDER}", "bits": 160 }}] }},
            {{ "target": "{usdc}", "selector": "approve(address,uint256)",
               "constraints": [{{ "index": 0, "condition": "equal", "value": "{SPENDER}", "bits": 160 }}] }},
            {{ "target": "{game}", "selector": "move(uint8)" }}
          ],
          "transferPolicies": [{{ "target": "{SPENDER}", "maxValuePerUse": "1" }}]
        }}"#
    ));
    let entries = registry_review(&backend, registry, &session).await.unwrap();
    let statuses: Vec<(String, Option<ReviewStatus>)> = entries
        .iter()
        .map(|e| (e.location.clone(), e.status))
        .collect();
    // Policies are sorted by (target, selector) in the spec; find them by subject.
    let status_of = |needle: &str| {
        entries
            .iter()
            .find(|e| e.subject.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not reviewed: {statuses:?}"))
            .status
    };
    assert_eq!(status_of("0xa9059cbb"), Some(ReviewStatus::Allowed));
    assert_eq!(status_of("0x095ea7b3"), Some(ReviewStatus::Allowed));
    assert_eq!(
        status_of(&format!("spender {SPENDER}")),
        Some(ReviewStatus::Blocked)
    );
    assert_eq!(status_of(&format!("on {game}")), Some(ReviewStatus::Unset));
    assert_eq!(status_of("plain transfers"), Some(ReviewStatus::Unset));
    let findings: Vec<_> = entries.iter().filter_map(|e| e.finding()).collect();
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert!(findings.iter().all(|f| f.code == "SK020"));
    assert!(findings.iter().any(|f| f.message.contains("blocked")));
    assert!(
        findings
            .iter()
            .any(|f| f.location.starts_with("transferPolicies"))
    );
}

#[tokio::test]
async fn an_approval_without_a_pinned_spender_cannot_be_reviewed() {
    let backend = DevnetBackend::new().unwrap();
    let (registry, usdc) = backend.with_devnet(|d| (d.addresses.registry, d.addresses.usdc));
    let session = spec(&format!(
        r#"{{ "validUntil": 1900000000,
             "callPolicies": [{{ "target": "{usdc}", "selector": "approve(address,uint256)" }}] }}"#
    ));
    let entries = registry_review(&backend, registry, &session).await.unwrap();
    let unpinned = entries
        .iter()
        .find(|e| e.status.is_none())
        .expect("an unpinned entry");
    let finding = unpinned.finding().unwrap();
    assert!(finding.hint.contains("pin the spender"), "{finding}");
}

#[tokio::test]
async fn an_increase_approval_spender_is_reviewed_like_an_approve_spender() {
    let backend = DevnetBackend::new().unwrap();
    let (registry, usdc) = backend.with_devnet(|d| (d.addresses.registry, d.addresses.usdc));
    backend.with_devnet(|d| {
        let blocked = PolicyRegistry::setApprovalStatusCall {
            token: usdc,
            spender: SPENDER,
            status: ReviewStatus::Blocked.into(),
        };
        d.send(DEVNET_ADMIN, registry, U256::ZERO, &blocked)
            .unwrap();
    });
    let pinned = spec(&format!(
        r#"{{ "validUntil": 1900000000,
             "callPolicies": [{{ "target": "{usdc}", "selector": "increaseApproval(address,uint256)",
               "constraints": [{{ "index": 0, "condition": "equal", "value": "{SPENDER}", "bits": 160 }}] }}] }}"#
    ));
    let entries = registry_review(&backend, registry, &pinned).await.unwrap();
    let spender = entries
        .iter()
        .find(|e| e.subject.contains(&format!("spender {SPENDER}")))
        .unwrap_or_else(|| panic!("the spender is not reviewed: {entries:?}"));
    assert_eq!(spender.status, Some(ReviewStatus::Blocked));
    assert!(spender.finding().unwrap().message.contains("blocked"));

    let free = spec(&format!(
        r#"{{ "validUntil": 1900000000,
             "callPolicies": [{{ "target": "{usdc}", "selector": "increaseApproval(address,uint256)" }}] }}"#
    ));
    let entries = registry_review(&backend, registry, &free).await.unwrap();
    let unpinned = entries
        .iter()
        .find(|e| e.status.is_none())
        .unwrap_or_else(|| panic!("an unpinned spender is not flagged: {entries:?}"));
    assert!(
        unpinned
            .subject
            .contains("the spender (argument 0) of increaseApproval(address,uint256)"),
        "{}",
        unpinned.subject
    );
}

#[tokio::test]
async fn explain_reads_symbols_and_decimals_from_the_chain_and_admits_unknown_targets() {
    let backend = DevnetBackend::new().unwrap();
    let (usdc, game) = backend.with_devnet(|d| (d.addresses.usdc, d.addresses.game));
    let session = spec(&format!(
        r#"{{ "validUntil": 1900000000,
             "callPolicies": [
               {{ "target": "{usdc}", "selector": "transfer(address,uint256)",
                  "constraints": [
                    {{ "index": 0, "condition": "equal", "value": "{SPENDER}", "bits": 160 }},
                    {{ "index": 1, "condition": "unconstrained", "limit": {{ "limit": "25000000" }} }}] }},
               {{ "target": "{game}", "selector": "move(uint8)" }}
             ] }}"#
    ));
    let offline = explain(&session, &Labels::well_known()).to_string();
    let labels = with_chain_tokens(&backend, &session, Labels::well_known()).await;
    assert_eq!(
        labels.token(usdc).map(|t| (t.symbol.as_str(), t.decimals)),
        Some(("USDC", 6))
    );
    assert!(labels.token(game).is_none(), "the game is not a token");
    let online = explain(&session, &labels).to_string();
    assert!(online.contains("25 USDC"), "{online}");
    assert!(!offline.contains("25 USDC"), "{offline}");
}
