//! The compact use-mode signature on the validator (docs/compact-signatures.md): an op carries
//! only the policies its calls use, with a multiproof; every way of presenting a policy other
//! than as the owner approved it is refused, and counters stay with the policy's position.
mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use common::*;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::signing;
use sessionkeys_chain::userop::{UserOperation, nonce_key, session_lane};
use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as VErr;
use sessionkeys_contracts::session::{SessionSpec, TransferPolicy, UsageLimit};
use sessionkeys_contracts::vocabulary::packed::{
    self, SignatureError, decode_signature, encode_header, leaf_hash, leaves,
};
use sessionkeys_contracts::vocabulary::{CounterKind, SignatureMode};

const HINT_LEN: usize = 6;

/// A session of five policies (a depth-3 tree): USDC transfers to ALICE or BOB (10 USDC in
/// all) at position 0, then ETH transfers to four recipients (1,000 wei each in all), sorted.
fn five_policies(h: &Harness) -> SessionSpec {
    let mut spec = h.spec();
    let mut recipients = [ALICE, BOB, CAROL, Address::repeat_byte(0xd4)];
    recipients.sort();
    spec.callPolicies = vec![usdc_policy(
        h.usdc(),
        &[ALICE, BOB],
        UsageLimit::lifetime(10 * USDC),
    )];
    spec.transferPolicies = recipients
        .iter()
        .map(|&target| TransferPolicy {
            target,
            maxValuePerUse: U256::from(1000u64),
            valueLimit: UsageLimit::lifetime(1000),
        })
        .collect();
    spec
}

/// A use-mode signature written field by field: the header of `spec`, the leaves given as
/// (claimed position, bytes), the proof hashes, and a signature the validator will check last.
fn raw_use_signature(
    spec: &SessionSpec,
    hint: u64,
    carried: &[(usize, Vec<u8>)],
    proof: &[B256],
) -> Vec<u8> {
    let mut out = vec![SignatureMode::Use.code()];
    out.extend_from_slice(&hint.to_be_bytes()[8 - HINT_LEN..]);
    out.extend_from_slice(&encode_header(spec).unwrap());
    out.extend_from_slice(&(carried.len() as u16).to_be_bytes());
    for (position, _) in carried {
        out.extend_from_slice(&(*position as u16).to_be_bytes());
    }
    for (_, leaf) in carried {
        out.extend_from_slice(leaf);
    }
    for hash in proof {
        out.extend_from_slice(hash.as_slice());
    }
    out.extend_from_slice(&signing::UNSIGNED);
    out
}

/// `op` with `signature`, moved to the lane of the session hash the validator will read from it
/// (so the refusal is about the session, not the lane), and signed by the session key.
fn resigned(h: &mut Harness, mut op: UserOperation, signature: Vec<u8>) -> UserOperation {
    if let Ok(decoded) = decode_signature(&signature) {
        let key = nonce_key(h.validator, session_lane(decoded.session_hash));
        op.nonce = h.devnet.nonce(h.version, h.account, key).unwrap();
    }
    op.signature = signature.into();
    op
}

/// The leaf position of the transfer policy to BOB (after the one call policy).
fn bob_position(spec: &SessionSpec) -> usize {
    let index = spec.transferPolicies.iter().position(|p| p.target == BOB);
    spec.callPolicies.len() + index.expect("the session has a transfer policy to BOB")
}

/// The tree's leaf hashes of `spec`, in position order.
fn leaf_hashes(spec: &SessionSpec) -> Vec<B256> {
    leaves(spec)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, leaf)| leaf_hash(i, leaf))
        .collect()
}

#[test]
fn an_op_carries_only_the_policies_its_calls_use() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let op = h.session_op(&spec, &[Call::transfer(BOB, U256::from(5u64))]);
    let decoded = decode_signature(&op.signature).unwrap();
    let bob = bob_position(&spec);
    assert_eq!(
        decoded
            .carried
            .iter()
            .map(|c| c.position)
            .collect::<Vec<_>>(),
        vec![bob]
    );
    // 5 policies: a depth-3 tree, so one leaf needs 3 proof hashes.
    let full = packed::encode_spec(&spec).unwrap().len();
    assert!(
        op.signature.len() < full,
        "{} >= {full}",
        op.signature.len()
    );
    h.submit(op).unwrap_ok();
}

#[test]
fn a_policy_presented_at_another_position_names_no_enabled_session() {
    // Counters are keyed by the policy's position: presenting BOB's transfer policy as the
    // policy at another position would give it a fresh counter. The position is inside the leaf
    // hash, so the op names another session, which was never enabled.
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let hashes = leaf_hashes(&spec);
    let leaves = leaves(&spec).unwrap();
    let bob = bob_position(&spec);
    let other = if bob == 4 { 3 } else { 4 };
    let op = h.session_op(&spec, &[Call::transfer(BOB, U256::from(5u64))]);
    let proof = packed::multiproof(&hashes, &[other]);
    let signature = raw_use_signature(&spec, h.now(), &[(other, leaves[bob].clone())], &proof);
    let wrong = decode_signature(&signature).unwrap().session_hash;
    assert_ne!(wrong, signing::session_hash(&spec).unwrap());
    let op = resigned(&mut h, op, signature);
    match h.submit(op).unwrap_refused() {
        VErr::SessionNotEnabled(e) => assert_eq!(e.sessionHash, wrong),
        other => panic!("expected SessionNotEnabled, got {}", error_name(&other)),
    }
}

#[test]
fn an_inner_node_passed_as_a_leaf_is_refused() {
    // The 64-byte preimage of the node above positions 0 and 1, offered as the leaf at position
    // 0 with the proof of that node's place: leaves and nodes hash with different prefixes, so
    // it never reproduces the root.
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let hashes = leaf_hashes(&spec);
    let mut preimage = hashes[0].to_vec();
    preimage.extend_from_slice(hashes[1].as_slice());
    let op = h.session_op(&spec, &pay(&h));
    // The proof the node would need at level 1 and up.
    let proof: Vec<B256> = packed::multiproof(&hashes, &[0, 1]);
    let signature = raw_use_signature(&spec, h.now(), &[(0, preimage)], &proof);
    let expected = decode_signature(&signature).map(|d| d.session_hash);
    let op = resigned(&mut h, op, signature.clone());
    let refusal = h.submit(op).unwrap_refused();
    match (expected, refusal) {
        (Err(SignatureError::Malformed(m)), VErr::MalformedEncoding(e)) => {
            assert_eq!(e.offset, U256::from(m.offset))
        }
        (Ok(carried), VErr::SessionNotEnabled(e)) => {
            assert_ne!(carried, signing::session_hash(&spec).unwrap());
            assert_eq!(e.sessionHash, carried);
        }
        (expected, other) => panic!("{expected:?} but the validator said {}", error_name(&other)),
    }
}

#[test]
fn a_multiproof_that_proves_a_leaf_twice_is_malformed_at_the_repeated_position() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let leaves = leaves(&spec).unwrap();
    let hashes = leaf_hashes(&spec);
    let op = h.session_op(&spec, &pay(&h));
    let proof = packed::multiproof(&hashes, &[0]);
    let signature = raw_use_signature(
        &spec,
        h.now(),
        &[(0, leaves[0].clone()), (0, leaves[0].clone())],
        &proof,
    );
    // mode, hint, header, k, then the second position.
    let second = 1 + HINT_LEN + encode_header(&spec).unwrap().len() + 2 + 2;
    op_refused_malformed_at(&mut h, op, signature, second);
}

#[test]
fn a_policy_no_call_uses_is_refused() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let leaves = leaves(&spec).unwrap();
    let hashes = leaf_hashes(&spec);
    let op = h.session_op(&spec, &pay(&h));
    let bob = bob_position(&spec);
    let proof = packed::multiproof(&hashes, &[0, bob]);
    let signature = raw_use_signature(
        &spec,
        h.now(),
        &[(0, leaves[0].clone()), (bob, leaves[bob].clone())],
        &proof,
    );
    let op = resigned(&mut h, op, signature);
    match h.submit(op).unwrap_refused() {
        VErr::PolicyNotUsed(e) => assert_eq!(e.leafIndex, U256::from(bob)),
        other => panic!("expected PolicyNotUsed, got {}", error_name(&other)),
    }
}

#[test]
fn a_missing_or_extra_proof_hash_is_malformed() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let op = h.session_op(&spec, &pay(&h));
    let end = op.signature.len() - 65;
    // One hash fewer: the walk needs it at the end of the proof.
    let mut short = op.signature[..end - 32].to_vec();
    short.extend_from_slice(&op.signature[end..]);
    op_refused_malformed_at(&mut h, op.clone(), short, end - 32);
    // One hash more: left over after the walk, at its own offset.
    let mut long = op.signature[..end].to_vec();
    long.extend_from_slice(&[0x77; 32]);
    long.extend_from_slice(&op.signature[end..]);
    op_refused_malformed_at(&mut h, op, long, end);
}

#[test]
fn counters_follow_the_policy_position() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = five_policies(&h);
    h.enable(&spec);
    let bob = spec
        .transferPolicies
        .iter()
        .position(|p| p.target == BOB)
        .unwrap();
    let op = h.session_op(&spec, &[Call::transfer(BOB, U256::from(7u64))]);
    h.submit(op).unwrap_ok();
    let hint = h.now();
    let rows = h.session_usage(&spec, hint);
    let row = rows
        .iter()
        .find(|r| {
            r.counter_kind() == Ok(CounterKind::TransferValue) && usize::from(r.policyIndex) == bob
        })
        .unwrap();
    assert_eq!(row.used, U256::from(7u64));
    assert_eq!(row.remaining, U256::from(993u64));
}

fn pay(h: &Harness) -> Vec<Call> {
    vec![usdc_transfer(h.usdc(), ALICE, USDC)]
}

fn op_refused_malformed_at(h: &mut Harness, op: UserOperation, signature: Vec<u8>, offset: usize) {
    assert_eq!(
        decode_signature(&signature).err(),
        Some(SignatureError::Malformed(packed::Malformed { offset }))
    );
    let mut op = op;
    op.signature = Bytes::from(signature);
    match h.submit(op).unwrap_refused() {
        VErr::MalformedEncoding(e) => assert_eq!(e.offset, U256::from(offset)),
        other => panic!(
            "expected MalformedEncoding({offset}), got {}",
            error_name(&other)
        ),
    }
}
