//! The owner approves and revokes with any wallet: EIP-712 approvals that anyone relays to the
//! validator in a plain transaction (execution phase), so a browser wallet never signs a raw
//! userOp hash and registry sessions can be approved at all.
// The helpers return the decoded validator error by value so tests can match on it.
#![allow(clippy::result_large_err)]

mod common;

use alloy::primitives::{Address, B256, U256, address};
use alloy::sol_types::{SolCall, SolInterface};
use common::*;
use sessionkeys_chain::signing;
use sessionkeys_contracts::abi::PolicyRegistry;
use sessionkeys_contracts::session::{ChainEpoch, ISessionKeyValidator as V, SessionSpec};
use sessionkeys_devnet::devnet::DEVNET_ADMIN;
use sessionkeys_engine::Status;

/// Anyone with ETH for gas: the relayer is not the owner and holds no role.
const RELAYER: Address = address!("0x000000000000000000000000000000000000feed");

/// Builds the call from the harness, then relays it.
fn relay_new<C: SolCall>(h: &mut Harness, build: impl FnOnce(&Harness) -> C) -> Result<(), VErr> {
    let call = build(h);
    relay(h, &call)
}

/// The relayer sends `call` to the validator: Ok, or the validator's named error.
fn relay<C: SolCall>(h: &mut Harness, call: &C) -> Result<(), VErr> {
    h.devnet.chain.set_balance(RELAYER, U256::from(ETHER));
    let validator = h.validator;
    let outcome = h
        .devnet
        .chain
        .transact(RELAYER, validator, U256::ZERO, call.abi_encode().into())
        .unwrap();
    if outcome.success {
        Ok(())
    } else {
        Err(VErr::abi_decode(&outcome.output).expect("a named validator error"))
    }
}

fn relayed_enable(
    h: &Harness,
    spec: &SessionSpec,
    approval: &signing::EnableApproval,
) -> V::enableSessionWithApprovalCall {
    V::enableSessionWithApprovalCall {
        account: h.account,
        spec: packed(spec),
        chains: approval.chains.clone(),
        ownerSignature: approval.owner_signature.clone(),
    }
}

fn revoke_approval(
    h: &Harness,
    hashes: &[B256],
    chains: Vec<ChainEpoch>,
) -> V::revokeSessionsWithApprovalCall {
    let digest = signing::revoke_sessions_digest(h.validator, h.account, hashes, &chains);
    V::revokeSessionsWithApprovalCall {
        account: h.account,
        sessionHashes: hashes.to_vec(),
        chains,
        ownerSignature: signing::sign_digest(&h.owner, digest),
    }
}

fn revoke_all_approval(h: &Harness, chains: Vec<ChainEpoch>) -> V::revokeAllWithApprovalCall {
    let digest = signing::revoke_all_digest(h.validator, h.account, &chains);
    V::revokeAllWithApprovalCall {
        account: h.account,
        chains,
        ownerSignature: signing::sign_digest(&h.owner, digest),
    }
}

/// A second account of the same owner (another salt): the approval must not carry over.
fn second_account(h: &mut Harness) -> Address {
    let (version, owner, validator) = (h.version, h.owner.address(), h.validator);
    h.devnet
        .create_account(version, owner, vec![validator], U256::from(1))
        .unwrap()
}

fn status(h: &mut Harness, hash: B256) -> u8 {
    let (validator, account) = (h.validator, h.account);
    h.devnet
        .chain
        .call_typed(
            validator,
            &V::sessionStatusCall {
                account,
                sessionHash: hash,
            },
        )
        .unwrap()
        .status
}

#[test]
fn a_relayer_enables_a_session_with_the_owners_typed_approval_and_a_repeat_is_a_no_op() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        let call = relayed_enable(&h, &spec, &approval);
        relay(&mut h, &call).unwrap();
        let hash = signing::session_hash(&spec).unwrap();
        assert_eq!(status(&mut h, hash), Status::Active.code());
        let op = h.session_op(&spec, &[usdc_transfer(h.usdc(), ALICE, USDC)]);
        h.submit(op).unwrap_ok();
        // The approval is public once relayed: the same call again (a front-run, a retry) passes
        // and changes nothing.
        relay(&mut h, &call).unwrap();
        assert_eq!(h.session_usage(&spec, h.now())[0].used, U256::from(USDC));
        // A first-use op carrying the same approval also proceeds (rule 15).
        let op = h.session_op_with(
            &spec,
            sessionkeys_chain::execution::encode_calls(&[usdc_transfer(h.usdc(), ALICE, USDC)]),
            h.now(),
            Some(&approval),
            |_| {},
        );
        h.submit(op).unwrap_ok();
    });
}

#[test]
fn a_relayed_enable_is_refused_for_a_wrong_signer_another_account_an_unlisted_chain_or_a_stale_epoch()
 {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let chain = h.this_chain();

        // Signed by a key that is not the owner.
        let mut approval = h.approval(&spec, vec![chain.clone()]);
        let digest = signing::enable_digest(h.validator, h.account, &spec, &approval.chains);
        approval.owner_signature = signing::sign_digest(&key(7), digest);
        let account = h.account;
        match relay_new(&mut h, |h| relayed_enable(h, &spec, &approval)) {
            Err(VErr::OwnerApprovalInvalid(e)) => assert_eq!(e.account, account),
            other => panic!("expected OwnerApprovalInvalid, got {other:?}"),
        }

        // The owner's approval for this account, submitted for another account of the owner.
        let approval = h.approval(&spec, vec![chain.clone()]);
        let other = second_account(&mut h);
        let mut call = relayed_enable(&h, &spec, &approval);
        call.account = other;
        assert!(
            matches!(relay(&mut h, &call), Err(VErr::OwnerApprovalInvalid(e)) if e.account == other)
        );

        // A chain not listed.
        let approval = h.approval(
            &spec,
            vec![ChainEpoch {
                chainId: 1,
                epoch: 0,
            }],
        );
        assert!(matches!(
            relay_new(&mut h, |h| relayed_enable(h, &spec, &approval)),
            Err(VErr::ChainNotApproved(e)) if e.chainId == U256::from(h.devnet.chain.chain_id())
        ));

        // An approval of epoch 0 after the owner logged every app out (epoch 1).
        let stale = h.approval(&spec, vec![chain]);
        let validator = h.validator;
        h.owner_exec(&[sessionkeys_chain::execution::Call::typed(
            validator,
            &V::revokeAllCall {},
        )]);
        assert!(matches!(
            relay_new(&mut h, |h| relayed_enable(h, &spec, &stale)),
            Err(VErr::EnableEpochMismatch(e)) if (e.signedEpoch, e.accountEpoch) == (0, 1)
        ));

        // An account that does not exist yet.
        let mut call = relayed_enable(&h, &spec, &stale);
        call.account = address!("0x00000000000000000000000000000000000c0de0");
        assert!(matches!(
            relay(&mut h, &call),
            Err(VErr::AccountNotDeployed(_))
        ));

        // Rule 21 and the other enable checks apply as in every enable.
        let mut drained = spending_session(&h);
        drained.paymasterMode = PaymasterMode::Any.into();
        let chain = h.this_chain();
        let approval = h.approval(&drained, vec![chain]);
        assert!(matches!(
            relay_new(&mut h, |h| relayed_enable(h, &drained, &approval)),
            Err(VErr::FeeLimitRequired(_))
        ));
    });
}

#[test]
fn registry_sessions_are_approved_from_a_wallet_through_the_relayed_enable() {
    // Rule 18 forbids first-use enable under a registry; the relayed enable runs in the
    // execution phase, where the registry may be read.
    each_version(|version| {
        let mut h = Harness::with_validator(version, devnet().addresses.registry_validator);
        let spec = spending_session(&h);
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        let call = relayed_enable(&h, &spec, &approval);
        assert!(matches!(
            relay(&mut h, &call),
            Err(VErr::RegistryCallNotAllowed(_))
        ));
        let (registry, usdc) = (h.devnet.addresses.registry, h.usdc());
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &PolicyRegistry::setCallStatusCall {
                    target: usdc,
                    selector: sessionkeys_contracts::abi::TestToken::transferCall::SELECTOR.into(),
                    status: ReviewStatus::Allowed.into(),
                },
            )
            .unwrap();
        relay(&mut h, &call).unwrap();
        let op = h.session_op(&spec, &[usdc_transfer(h.usdc(), ALICE, USDC)]);
        h.submit(op).unwrap_ok();
    });
}

#[test]
fn a_relayer_revokes_one_or_several_sessions_with_the_owners_typed_approval() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let first = spending_session(&h);
        let mut second = spending_session(&h);
        second.salt = B256::repeat_byte(2);
        let mut third = spending_session(&h);
        third.salt = B256::repeat_byte(3);
        let hashes: Vec<B256> = [&first, &second, &third].map(|s| h.enable(s)).to_vec();
        let chain = h.this_chain();

        relay_new(&mut h, |h| {
            revoke_approval(h, &hashes[..1], vec![chain.clone()])
        })
        .unwrap();
        assert_eq!(status(&mut h, hashes[0]), Status::Revoked.code());
        assert_eq!(status(&mut h, hashes[1]), Status::Active.code());
        let op = h.session_op(&first, &[usdc_transfer(h.usdc(), ALICE, USDC)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionRevoked(_)
        ));

        relay_new(&mut h, |h| {
            revoke_approval(h, &hashes[1..], vec![chain.clone()])
        })
        .unwrap();
        assert_eq!(
            (status(&mut h, hashes[1]), status(&mut h, hashes[2])),
            (Status::Revoked.code(), Status::Revoked.code())
        );

        // A wrong signer, and the owner's approval for this account used on another one.
        let mut forged = revoke_approval(&h, &hashes, vec![chain.clone()]);
        let digest =
            signing::revoke_sessions_digest(h.validator, h.account, &hashes, &forged.chains);
        forged.ownerSignature = signing::sign_digest(&key(7), digest);
        assert!(matches!(
            relay(&mut h, &forged),
            Err(VErr::OwnerApprovalInvalid(_))
        ));
        let other = second_account(&mut h);
        let mut moved = revoke_approval(&h, &hashes, vec![chain]);
        moved.account = other;
        assert!(
            matches!(relay(&mut h, &moved), Err(VErr::OwnerApprovalInvalid(e)) if e.account == other)
        );
        // A chain not listed.
        let unlisted = revoke_approval(
            &h,
            &hashes,
            vec![ChainEpoch {
                chainId: 1,
                epoch: 0,
            }],
        );
        assert!(matches!(
            relay(&mut h, &unlisted),
            Err(VErr::ChainNotApproved(_))
        ));
    });
}

#[test]
fn a_relayed_revoke_all_logs_every_app_out_and_its_approvals_die_with_the_epoch() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let hash = h.enable(&spec);
        let chain = h.this_chain();
        let revoke_one = revoke_approval(&h, &[hash], vec![chain.clone()]);
        let revoke_all = revoke_all_approval(&h, vec![chain]);

        relay(&mut h, &revoke_all).unwrap();
        assert_eq!(h.epoch(), 1);
        let op = h.session_op(&spec, &[usdc_transfer(h.usdc(), ALICE, USDC)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionEpochStale(_)
        ));

        // The same approval again (a front-run, a retry, a replay) changes nothing and does
        // not revert: the epoch it revoked is gone.
        relay(&mut h, &revoke_all).unwrap();
        assert_eq!(h.epoch(), 1, "a replay does not bump the epoch again");
        // A revoke approval signed for epoch 0 cannot be spent any more.
        assert!(matches!(
            relay(&mut h, &revoke_one),
            Err(VErr::RevokeEpochMismatch(e)) if (e.signedEpoch, e.accountEpoch) == (0, 1)
        ));
        let chain = h.this_chain();
        // Signed by another key.
        let mut forged = revoke_all_approval(&h, vec![chain.clone()]);
        let digest = signing::revoke_all_digest(h.validator, h.account, &forged.chains);
        forged.ownerSignature = signing::sign_digest(&key(7), digest);
        assert!(matches!(
            relay(&mut h, &forged),
            Err(VErr::OwnerApprovalInvalid(_))
        ));
        // The owner's approval for this account, on another account of the owner.
        // (signed for epoch 0, the other account's current epoch, so the signature is judged)
        let other = second_account(&mut h);
        let epoch_zero = ChainEpoch {
            chainId: chain.chainId,
            epoch: 0,
        };
        let mut moved = revoke_all_approval(&h, vec![epoch_zero.clone()]);
        moved.account = other;
        assert!(
            matches!(relay(&mut h, &moved), Err(VErr::OwnerApprovalInvalid(e)) if e.account == other)
        );
        // Another approval type in its place: the owner's EnableSession and RevokeSessions
        // signatures are not a RevokeAllSessions one.
        let approval = h.approval(&spec, vec![chain.clone()]);
        let mut confused = revoke_all_approval(&h, vec![chain.clone()]);
        confused.ownerSignature = approval.owner_signature;
        assert!(matches!(
            relay(&mut h, &confused),
            Err(VErr::OwnerApprovalInvalid(_))
        ));
        let sessions = revoke_approval(&h, &[], vec![chain.clone()]);
        confused.ownerSignature = sessions.ownerSignature;
        assert!(matches!(
            relay(&mut h, &confused),
            Err(VErr::OwnerApprovalInvalid(_))
        ));
        // An approval for the plain validator, sent to the registry-mode validator.
        let valid = revoke_all_approval(&h, vec![epoch_zero]);
        let registry_validator = h.devnet.addresses.registry_validator;
        h.validator = registry_validator;
        assert!(matches!(
            relay(&mut h, &valid),
            Err(VErr::OwnerApprovalInvalid(_))
        ));
        assert_eq!(h.epoch(), 0, "the registry validator's epoch did not move");
    });
}
