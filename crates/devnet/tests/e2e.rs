//! The end-to-end tier of the chain crate: what needs the npm packages of `e2e/` (not anvil).
//! Ignored by a plain `cargo test`; `scripts/e2e` runs it.
mod common;

use alloy::primitives::{B256, Bytes, U256};
use common::*;
use sessionkeys_contracts::abi::SessionAccount;
use std::path::Path;
use std::process::Command;

fn viem_signatures(
    owner_key: B256,
    account: alloy::primitives::Address,
    chain_id: u64,
) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/erc7739-sign.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(owner_key.to_string())
        .arg(account.to_string())
        .arg(chain_id.to_string())
        .output()
        .expect("node runs (install the e2e packages: scripts/e2e)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn field(v: &serde_json::Value, path: [&str; 2]) -> Bytes {
    v[path[0]][path[1]].as_str().unwrap().parse().unwrap()
}

#[test]
#[ignore = "end-to-end tier: needs the npm packages of e2e/ (viem); run scripts/e2e"]
fn an_erc7739_signature_built_by_viem_is_accepted_by_its_account_only() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let chain_id = h.devnet.chain.chain_id();
        let account = h.account;
        let (v, owner) = (h.version, h.owner.address());
        let validator = h.validator;
        let other = h
            .devnet
            .create_account(v, owner, vec![validator], U256::from(1))
            .unwrap();
        let signed = viem_signatures(B256::repeat_byte(1), account, chain_id);
        assert_eq!(
            signed["owner"]
                .as_str()
                .unwrap()
                .parse::<alloy::primitives::Address>()
                .unwrap(),
            owner
        );
        for workflow in ["personal", "typed"] {
            let hash = B256::from_slice(&field(&signed, [workflow, "hash"]));
            let signature = field(&signed, [workflow, "signature"]);
            let mut check = |at| {
                h.devnet
                    .chain
                    .call_typed(
                        at,
                        &SessionAccount::isValidSignatureCall {
                            hash,
                            signature: signature.clone(),
                        },
                    )
                    .unwrap()
                    .0
            };
            assert_eq!(
                check(account),
                [0x16, 0x26, 0xba, 0x7e],
                "{workflow} on its account"
            );
            assert_eq!(
                check(other),
                [0xff, 0xff, 0xff, 0xff],
                "{workflow} on another account of the owner"
            );
        }
    });
}
