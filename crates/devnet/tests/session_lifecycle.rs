//! Enabling, expiry, revocation, replay, registry mode, fees and ERC-7562 compliance.
mod common;

use sessionkeys_engine::CounterKind;

use alloy::primitives::{Address, U256, aliases::U48};
use alloy::sol_types::{SolCall, SolInterface};
use common::*;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing;
use sessionkeys_chain::userop::Paymaster;
use sessionkeys_contracts::abi::{PolicyRegistry, SessionAccount, TestToken};
use sessionkeys_contracts::session::{ChainEpoch, ISessionKeyValidator as V, SessionSpec};
use sessionkeys_devnet::devnet::DEVNET_ADMIN;
use sessionkeys_devnet::erc7562::{Erc7562Inspector, Erc7562Violation};

fn pay_alice(h: &Harness) -> Vec<Call> {
    vec![usdc_transfer(h.usdc(), ALICE, USDC)]
}

#[test]
fn an_expired_session_is_refused_by_the_entrypoint() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        let until = spec.validUntil.to::<u64>();
        h.devnet.chain.set_time(until + 1);
        // Signing with the last valid hint: the window ends before the block time.
        let data = encode_calls(&pay_alice(&h));
        let op = h.session_op_with(&spec, data, until, None, |_| {});
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA22 expired or not due");
    });
}

#[test]
fn a_session_not_yet_valid_is_refused_by_the_entrypoint() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = spending_session(&h);
        spec.validAfter = U48::from(h.now() + 600);
        h.enable(&spec);
        let data = encode_calls(&pay_alice(&h));
        let op = h.session_op_with(&spec, data, h.now() + 600, None, |_| {});
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA22 expired or not due");
    });
}

#[test]
fn a_session_never_enabled_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionNotEnabled(_)
        ));
    });
}

#[test]
fn a_revoked_session_is_refused_and_cannot_be_enabled_again() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let hash = h.enable(&spec);
        let validator = h.validator;
        h.owner_exec(&[Call::typed(
            validator,
            &V::revokeSessionCall { sessionHash: hash },
        )]);
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::SessionRevoked(e) if e.sessionHash == hash)
        );
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&spec),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("re-enable must revert")
        };
        assert!(
            matches!(VErr::abi_decode(&data), Ok(VErr::SessionAlreadyExists(e)) if e.status == u8::from(Status::Revoked))
        );
    });
}

#[test]
fn revoke_sessions_revokes_several_and_a_hash_can_be_revoked_before_it_exists() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let first = spending_session(&h);
        let mut second = spending_session(&h);
        second.salt = alloy::primitives::B256::repeat_byte(1);
        let first_hash = h.enable(&first);
        let second_hash = signing::session_hash(&second).unwrap();
        let validator = h.validator;
        h.owner_exec(&[Call::typed(
            validator,
            &V::revokeSessionsCall {
                sessionHashes: vec![first_hash, second_hash],
            },
        )]);
        let op = h.session_op(&first, &pay_alice(&h));
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionRevoked(_)
        ));
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&second),
            },
        )]);
        assert!(
            matches!(h.submit(op), Verdict::ExecutionReverted(_)),
            "a pre-revoked hash stays revoked"
        );
    });
}

#[test]
fn revoke_all_logs_out_every_session_at_once() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let hash = h.enable(&spec);
        let validator = h.validator;
        h.owner_exec(&[Call::typed(validator, &V::revokeAllCall {})]);
        let op = h.session_op(&spec, &pay_alice(&h));
        match h.submit(op).unwrap_refused() {
            VErr::SessionEpochStale(e) => assert_eq!(
                (e.sessionHash, e.sessionEpoch, e.accountEpoch),
                (hash, 0, 1)
            ),
            other => panic!("expected SessionEpochStale, got {}", error_name(&other)),
        }
    });
}

#[test]
fn the_session_key_may_revoke_its_own_session_and_nothing_else() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let hash = h.enable(&spec);
        let validator = h.validator;
        let op = h.session_op(&spec, &[Call::typed(validator, &V::revokeAllCall {})]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::BannedTarget(_)
        ));
        let other = alloy::primitives::B256::repeat_byte(7);
        let op = h.session_op(
            &spec,
            &[Call::typed(
                validator,
                &V::revokeSessionCall { sessionHash: other },
            )],
        );
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::BannedTarget(_)
        ));
        let op = h.session_op(
            &spec,
            &[Call::typed(
                validator,
                &V::revokeSessionCall { sessionHash: hash },
            )],
        );
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionRevoked(_)
        ));
    });
}

#[test]
fn a_wrong_session_signature_fails_validation_without_reverting() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        h.session_key = key(3); // signs with a key that is not the spec's signer
        let op = h.session_op(&spec, &pay_alice(&h));
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA24 signature error");
    });
}

#[test]
fn a_signature_for_another_hint_fails() {
    // Rule 10: the hint is signed; a relayer cannot swap it.
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        let mut op = h.session_op(&spec, &pay_alice(&h));
        let now = h.now();
        let signed = sessionkeys_contracts::vocabulary::packed::decode_signature(&op.signature)
            .unwrap()
            .session_signature
            .to_vec();
        op.signature =
            signing::encode_session_signature(&spec, now - 1, &op.call_data, &signed, None)
                .unwrap();
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA24 signature error");
    });
}

#[test]
fn enable_in_first_use_enables_and_runs_in_one_op_and_is_idempotent() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let chain = h.this_chain();
        let approval = h.approval(
            &spec,
            vec![
                ChainEpoch {
                    chainId: 1,
                    epoch: 0,
                },
                chain,
            ],
        );
        let data = encode_calls(&pay_alice(&h));
        let op = h.session_op_with(&spec, data.clone(), h.now(), Some(&approval), |_| {});
        h.submit(op).unwrap_ok();
        assert_eq!(h.usdc_balance(ALICE), U256::from(USDC + 1));
        // The same enable op again proceeds (charged once more, not enabled twice).
        let op = h.session_op_with(&spec, data, h.now(), Some(&approval), |_| {});
        h.submit(op).unwrap_ok();
        let usage = h.session_usage(&spec, h.now());
        assert_eq!(usage[0].used, U256::from(2 * USDC));
        // And plain use works too.
        let op = h.session_op(&spec, &pay_alice(&h));
        h.submit(op).unwrap_ok();
    });
}

#[test]
fn the_rust_enable_digest_equals_the_contracts() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = spending_session(&h);
    let chains = vec![
        h.this_chain(),
        ChainEpoch {
            chainId: 10,
            epoch: 3,
        },
    ];
    let (validator, account) = (h.validator, h.account);
    let on_chain = h
        .devnet
        .chain
        .call_typed(
            validator,
            &V::enableDigestCall {
                account,
                spec: packed(&spec),
                chains: chains.clone(),
            },
        )
        .unwrap();
    assert_eq!(
        on_chain,
        signing::enable_digest(validator, account, &spec, &chains)
    );
    let hash = h
        .devnet
        .chain
        .call_typed(
            validator,
            &V::sessionHashOfCall {
                spec: packed(&spec),
            },
        )
        .unwrap();
    assert_eq!(hash, signing::session_hash(&spec).unwrap());
}

#[test]
fn an_enable_approval_for_other_chains_only_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let approval = h.approval(
            &spec,
            vec![
                ChainEpoch {
                    chainId: 1,
                    epoch: 0,
                },
                ChainEpoch {
                    chainId: 0,
                    epoch: 0,
                },
            ],
        );
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            |_| {},
        );
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::ChainNotApproved(e) if e.chainId == U256::from(31337))
        );
    });
}

#[test]
fn an_enable_approval_of_an_old_epoch_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        let validator = h.validator;
        h.owner_exec(&[Call::typed(validator, &V::revokeAllCall {})]);
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            |_| {},
        );
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::EnableEpochMismatch(e) if e.signedEpoch == 0 && e.accountEpoch == 1)
        );
    });
}

#[test]
fn an_enable_approval_replayed_on_another_account_fails_its_signature() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        // A second account of another owner, with the same validator.
        let other = h.other_account(5);
        h.account = other;
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            |_| {},
        );
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA24 signature error");
    });
}

#[test]
fn a_session_of_account_a_cannot_be_used_on_account_b() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        let other = h.other_account(6);
        h.account = other;
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionNotEnabled(_)
        ));
    });
}

#[test]
fn nobody_but_the_sender_can_run_validation() {
    // Rule 7: replaying a victim's op against the validator directly is refused.
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let spec = spending_session(&h);
    h.enable(&spec);
    let op = h.session_op(&spec, &pay_alice(&h));
    let mut data = alloy::primitives::keccak256(
        "validateUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32)",
    )[..4]
        .to_vec();
    data.extend(alloy::sol_types::SolValue::abi_encode_params(&(
        op.pack(),
        alloy::primitives::B256::ZERO,
    )));
    let validator = h.validator;
    let outcome = h
        .devnet
        .chain
        .transact(DEVNET_ADMIN, validator, U256::ZERO, data.into())
        .unwrap();
    assert!(!outcome.success);
    assert!(
        matches!(VErr::abi_decode(&outcome.output), Ok(VErr::SenderMismatch(e)) if e.caller == DEVNET_ADMIN && e.sender == h.account)
    );
}

#[test]
fn the_fee_limit_is_charged_at_the_full_prefund_unless_a_paymaster_pays() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = spending_session(&h);
        let paymaster = h.devnet.addresses.paymaster(version);
        let prefund =
            sessionkeys_chain::UserOperation::new(Address::ZERO, U256::ZERO, Default::default())
                .max_prefund();
        spec.feeLimit = UsageLimitExt::lifetime_u256(prefund * U256::from(2));
        spec.paymasterMode = PaymasterMode::One.into();
        spec.paymaster = paymaster;
        h.enable(&spec);
        for _ in 0..2 {
            let op = h.session_op(&spec, &pay_alice(&h));
            h.submit(op).unwrap_ok();
        }
        let op = h.session_op(&spec, &pay_alice(&h));
        match h.submit(op).unwrap_refused() {
            VErr::LimitExceeded(e) => assert_eq!(
                (e.kind, e.used, e.requested),
                (1, prefund * U256::from(2), prefund)
            ),
            other => panic!("expected the fee limit, got {}", error_name(&other)),
        }
        // With the named paymaster the fee budget is not charged.
        let sponsored = |op: &mut sessionkeys_chain::UserOperation| {
            op.paymaster = Some(Paymaster {
                address: paymaster,
                verification_gas_limit: 100_000,
                post_op_gas_limit: 50_000,
                data: Default::default(),
            })
        };
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            None,
            sponsored,
        );
        h.submit(op).unwrap_ok();
        // Another paymaster is refused.
        let other_pm =
            h.devnet
                .addresses
                .paymaster(if version == sessionkeys_chain::EntryPointVersion::V07 {
                    sessionkeys_chain::EntryPointVersion::V08
                } else {
                    sessionkeys_chain::EntryPointVersion::V07
                });
        let op = h.session_op_with(&spec, encode_calls(&pay_alice(&h)), h.now(), None, |op| {
            op.paymaster = Some(Paymaster {
                address: other_pm,
                verification_gas_limit: 100_000,
                post_op_gas_limit: 50_000,
                data: Default::default(),
            })
        });
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::PaymasterNotAllowed(e) if e.paymaster == other_pm)
        );
    });
}

#[test]
fn a_session_naming_a_paymaster_needs_a_fee_budget_so_the_key_cannot_drain_the_account() {
    // Rule 21, in first use (on-chain enable: degenerate_specs_are_refused_at_enable). The
    // drain it closes: the key holder sends self-paid ops at a huge gas price and bundles them
    // itself, collecting the fees.
    each_version(|version| {
        let mut h = Harness::new(version);
        let paymaster = h.devnet.addresses.paymaster(version);
        let sponsored = |op: &mut sessionkeys_chain::UserOperation| {
            op.paymaster = Some(Paymaster {
                address: paymaster,
                verification_gas_limit: 100_000,
                post_op_gas_limit: 50_000,
                data: Default::default(),
            })
        };
        let mut spec = spending_session(&h);
        spec.paymasterMode = PaymasterMode::Any.into();
        spec.feeLimit = UsageLimit::unlimited();
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain.clone()]);
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            sponsored,
        );
        match h.submit(op).unwrap_refused() {
            VErr::FeeLimitRequired(e) => {
                assert_eq!(e.paymasterMode, u8::from(PaymasterMode::Any))
            }
            other => panic!("expected FeeLimitRequired, got {}", error_name(&other)),
        }
        // A zero budget is finite: sponsored ops run, a self-paid one is refused.
        spec.feeLimit = UsageLimit::lifetime(0);
        let approval = h.approval(&spec, vec![chain]);
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            sponsored,
        );
        h.submit(op).unwrap_ok();
        let op = h.session_op(&spec, &pay_alice(&h));
        match h.submit(op).unwrap_refused() {
            VErr::LimitExceeded(e) => {
                assert_eq!((e.kind, e.limit), (CounterKind::Fee as u8, U256::ZERO))
            }
            other => panic!("expected the fee limit, got {}", error_name(&other)),
        }
    });
}

#[test]
fn a_wrong_signature_masks_the_fee_limit_so_stub_estimation_matches() {
    // Rule 12.
    each_version(|version| {
        let mut h = Harness::new(version);
        let mut spec = spending_session(&h);
        spec.feeLimit = UsageLimit::lifetime(1);
        h.enable(&spec);
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(
            matches!(h.submit(op).unwrap_refused(), VErr::LimitExceeded(e) if e.kind == u8::from(CounterKind::Fee))
        );
        h.session_key = key(3);
        let op = h.session_op(&spec, &pay_alice(&h));
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA24 signature error");
    });
}

#[test]
fn registry_mode_refuses_unreviewed_policies_and_first_use_enable() {
    each_version(|version| {
        let mut h = Harness::with_validator(version, devnet().addresses.registry_validator);
        let spec = spending_session(&h);
        let validator = h.validator;
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&spec),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("unreviewed policy must not enable")
        };
        assert!(
            matches!(VErr::abi_decode(&data), Ok(VErr::RegistryCallNotAllowed(e)) if e.status == u8::from(ReviewStatus::Unset))
        );
        // Blocked is refused as well.
        let (registry, usdc) = (h.devnet.addresses.registry, h.usdc());
        let set = |status: ReviewStatus| PolicyRegistry::setCallStatusCall {
            target: usdc,
            selector: TestToken::transferCall::SELECTOR.into(),
            status: status.into(),
        };
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &set(ReviewStatus::Blocked),
            )
            .unwrap();
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&spec),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("blocked policy must not enable")
        };
        assert!(
            matches!(VErr::abi_decode(&data), Ok(VErr::RegistryCallNotAllowed(e)) if e.status == u8::from(ReviewStatus::Blocked))
        );
        // First-use enable is never possible under a registry (rule 18).
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &set(ReviewStatus::Allowed),
            )
            .unwrap();
        let chain = h.this_chain();
        let approval = h.approval(&spec, vec![chain]);
        let op = h.session_op_with(
            &spec,
            encode_calls(&pay_alice(&h)),
            h.now(),
            Some(&approval),
            |_| {},
        );
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::RegistryRequiresOnchainEnable(_)
        ));
        // Reviewed: enables and runs.
        h.enable(&spec);
        let op = h.session_op(&spec, &pay_alice(&h));
        h.submit(op).unwrap_ok();
    });
}

#[test]
fn blocking_a_policy_stops_new_enables_but_not_enabled_sessions() {
    // The decision in docs/decisions.md ("Registry mode"): validation may not read the registry
    // (ERC-7562), so a Block reaches new enables only; the owner revokes what is enabled.
    each_version(|version| {
        let mut h = Harness::with_validator(version, devnet().addresses.registry_validator);
        let (registry, usdc, validator) = (h.devnet.addresses.registry, h.usdc(), h.validator);
        let set = |status: ReviewStatus| PolicyRegistry::setCallStatusCall {
            target: usdc,
            selector: TestToken::transferCall::SELECTOR.into(),
            status: status.into(),
        };
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &set(ReviewStatus::Allowed),
            )
            .unwrap();
        let spec = spending_session(&h);
        h.enable(&spec);
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &set(ReviewStatus::Blocked),
            )
            .unwrap();
        let op = h.session_op(&spec, &pay_alice(&h));
        h.submit(op).unwrap_ok();
        let mut other = spec.clone();
        other.salt = alloy::primitives::B256::repeat_byte(9);
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&other),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("a blocked policy must not enable")
        };
        assert!(
            matches!(VErr::abi_decode(&data), Ok(VErr::RegistryCallNotAllowed(e)) if e.status == u8::from(ReviewStatus::Blocked))
        );
        // The owner's revoke ends the enabled one.
        let hash = signing::session_hash(&spec).unwrap();
        h.owner_exec(&[Call::typed(
            validator,
            &V::revokeSessionCall { sessionHash: hash },
        )]);
        let op = h.session_op(&spec, &pay_alice(&h));
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionRevoked(_)
        ));
    });
}

#[test]
fn registry_mode_reviews_the_spender_of_every_approval_in_the_destination_table() {
    // The registry's spender review covers the approvals lint knows (engine destinations):
    // approve, increaseAllowance, increaseApproval, setApprovalForAll.
    let mut h = Harness::with_validator(
        sessionkeys_chain::EntryPointVersion::V08,
        devnet().addresses.registry_validator,
    );
    let (registry, usdc, validator) = (h.devnet.addresses.registry, h.usdc(), h.validator);
    let approvals = sessionkeys_engine::destinations::DESTINATION_FUNCTIONS
        .iter()
        .filter(|d| d.kind == sessionkeys_engine::destinations::DestinationKind::Approval);
    let mut seen = 0;
    for approval in approvals {
        seen += 1;
        let selector = approval.selector;
        h.devnet
            .send(
                DEVNET_ADMIN,
                registry,
                U256::ZERO,
                &PolicyRegistry::setCallStatusCall {
                    target: usdc,
                    selector: selector.into(),
                    status: ReviewStatus::Allowed.into(),
                },
            )
            .unwrap();
        let mut spec = h.spec();
        spec.callPolicies = vec![call_policy(usdc, selector, vec![])];
        let op = h.owner_op(&[Call::typed(
            validator,
            &V::enableSessionCall {
                spec: packed(&spec),
            },
        )]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!(
                "{}: an unpinned spender must not enable",
                approval.signature
            )
        };
        assert!(
            matches!(
                VErr::abi_decode(&data),
                Ok(VErr::RegistryApprovalUnconstrained(_))
            ),
            "{}",
            approval.signature
        );
    }
    assert_eq!(
        seen, 4,
        "approve, increaseAllowance, increaseApproval, setApprovalForAll"
    );
}

#[test]
fn registry_mode_requires_reviewed_approval_spenders() {
    let mut h = Harness::with_validator(
        sessionkeys_chain::EntryPointVersion::V07,
        devnet().addresses.registry_validator,
    );
    let mut spec = h.spec();
    let usdc = h.usdc();
    spec.callPolicies = vec![call_policy(usdc, TestToken::approveCall::SELECTOR, vec![])];
    let registry = h.devnet.addresses.registry;
    h.devnet
        .send(
            DEVNET_ADMIN,
            registry,
            U256::ZERO,
            &PolicyRegistry::setCallStatusCall {
                target: usdc,
                selector: TestToken::approveCall::SELECTOR.into(),
                status: ReviewStatus::Allowed.into(),
            },
        )
        .unwrap();
    let validator = h.validator;
    let op = h.owner_op(&[Call::typed(
        validator,
        &V::enableSessionCall {
            spec: packed(&spec),
        },
    )]);
    let Verdict::ExecutionReverted(data) = h.submit(op) else {
        panic!("unpinned spender must not enable")
    };
    assert!(matches!(
        VErr::abi_decode(&data),
        Ok(VErr::RegistryApprovalUnconstrained(_))
    ));
    spec.callPolicies[0].constraints = vec![Constraint::new(
        Condition::Equal,
        0,
        word(BOB),
        UsageLimit::unlimited(),
    )];
    let op = h.owner_op(&[Call::typed(
        validator,
        &V::enableSessionCall {
            spec: packed(&spec),
        },
    )]);
    let Verdict::ExecutionReverted(data) = h.submit(op) else {
        panic!("unreviewed spender must not enable")
    };
    assert!(
        matches!(VErr::abi_decode(&data), Ok(VErr::RegistryApprovalNotAllowed(e)) if e.spender == BOB)
    );
    h.devnet
        .send(
            DEVNET_ADMIN,
            registry,
            U256::ZERO,
            &PolicyRegistry::setApprovalStatusCall {
                token: usdc,
                spender: BOB,
                status: ReviewStatus::Allowed.into(),
            },
        )
        .unwrap();
    h.enable(&spec);
}

#[test]
fn degenerate_specs_are_refused_at_enable() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V08);
    let good = spending_session(&h);
    let mut cases: Vec<(SessionSpec, &str)> = Vec::new();
    // An unknown condition has no packed form: the byte that names it is refused as malformed.
    // Find that byte as the first one two conditions change.
    let with = |condition: Condition| {
        let mut s = good.clone();
        s.callPolicies[0].constraints[0].condition = condition.code();
        s.callPolicies[0].constraints[0].oneOf = vec![];
        packed(&s).to_vec()
    };
    let (equal, less) = (with(Condition::Equal), with(Condition::Less));
    let at = equal.iter().zip(&less).position(|(a, b)| a != b).unwrap();
    let mut unknown_condition = equal;
    unknown_condition[at] = Condition::UNKNOWN;
    let mut s = good.clone();
    s.signer = Address::ZERO;
    cases.push((s, "InvalidSigner"));
    let mut s = good.clone();
    s.validUntil = U48::ZERO;
    cases.push((s, "InvalidWindow"));
    let mut s = good.clone();
    s.validAfter = s.validUntil;
    cases.push((s, "InvalidWindow"));
    let mut s = good.clone();
    s.opLimit = UsageLimit::allowance(1, 59);
    cases.push((s, "InvalidUsageLimit"));
    let mut s = good.clone();
    s.opLimit = UsageLimit::allowance(1, 0);
    cases.push((s, "InvalidUsageLimit"));
    let mut s = good.clone();
    s.callPolicies.push(s.callPolicies[0].clone());
    cases.push((s, "CallPoliciesNotSorted"));
    let mut s = good.clone();
    s.callPolicies[0].constraints[0] = Constraint::one_of(
        0,
        (0..17).map(alloy::primitives::B256::repeat_byte).collect(),
    );
    cases.push((s, "InvalidConstraint"));
    let mut s = good.clone();
    s.paymasterMode = PaymasterMode::One.into();
    cases.push((s, "InvalidPaymasterPolicy"));
    // Rule 21: a named paymaster (any, or one) with an unlimited fee budget.
    let mut s = good.clone();
    s.paymasterMode = PaymasterMode::Any.into();
    s.feeLimit = UsageLimit::unlimited();
    cases.push((s, "FeeLimitRequired"));
    let mut s = good.clone();
    s.paymasterMode = PaymasterMode::One.into();
    s.paymaster = h.devnet.addresses.paymaster(h.version);
    s.feeLimit = UsageLimit::unlimited();
    cases.push((s, "FeeLimitRequired"));
    let validator = h.validator;
    let mut encoded: Vec<(alloy::primitives::Bytes, &str)> = cases
        .iter()
        .map(|(spec, expected)| (packed(spec), *expected))
        .collect();
    encoded.push((unknown_condition.into(), "MalformedEncoding"));
    for (spec, expected) in encoded {
        let op = h.owner_op(&[Call::typed(validator, &V::enableSessionCall { spec })]);
        let Verdict::ExecutionReverted(data) = h.submit(op) else {
            panic!("{expected}: enable must revert")
        };
        let error = VErr::abi_decode(&data).unwrap();
        assert_eq!(error_name(&error), expected);
        if let VErr::MalformedEncoding(e) = error {
            assert_eq!(e.offset, U256::from(at));
        }
    }
}

#[test]
fn uninstalling_the_validator_revokes_every_session() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        let (account, validator) = (h.account, h.validator);
        let uninstall = SessionAccount::uninstallModuleCall {
            moduleTypeId: U256::from(1),
            module: validator,
            deInitData: Default::default(),
        };
        h.owner_exec(&[Call::typed(account, &uninstall)]);
        assert_eq!(h.epoch(), 1);
    });
}

#[test]
fn the_inspector_flags_a_validator_that_reads_timestamp_and_foreign_storage() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let bad = h.devnet.addresses.timestamp_validator;
        let account = h.account;
        let install = SessionAccount::installModuleCall {
            moduleTypeId: U256::from(1),
            module: bad,
            initData: Default::default(),
        };
        h.owner_exec(&[Call::typed(account, &install)]);
        let key = sessionkeys_chain::userop::nonce_key(bad, 0);
        let nonce = h.devnet.nonce(version, account, key).unwrap();
        let op =
            sessionkeys_chain::UserOperation::new(account, nonce, encode_calls(&pay_alice(&h)));
        let (result, inspector) = h
            .devnet
            .handle_ops_inspect(version, &[op], Erc7562Inspector::new(version.address()))
            .unwrap();
        assert!(
            result.is_ok(),
            "the EntryPoint itself accepts it: {:?}",
            result.as_ref().err()
        );
        assert!(inspector.violations.iter().any(|v| matches!(v, Erc7562Violation::BannedOpcode { opcode: "TIMESTAMP", contract, .. } if *contract == bad)), "{:?}", inspector.violations);
        assert!(inspector.violations.iter().any(|v| matches!(v, Erc7562Violation::UnassociatedStorage { access: "SSTORE", contract, .. } if *contract == bad)));
    });
}

trait UsageLimitExt {
    fn lifetime_u256(limit: U256) -> Self;
}
impl UsageLimitExt for sessionkeys_contracts::session::UsageLimit {
    fn lifetime_u256(limit: U256) -> Self {
        Self {
            limitType: LimitType::Lifetime.into(),
            limit,
            period: U48::ZERO,
        }
    }
}

#[test]
fn a_nonce_lane_other_than_the_sessions_is_refused() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let spec = spending_session(&h);
        h.enable(&spec);
        let validator = h.validator;
        let key = sessionkeys_chain::userop::nonce_key(validator, 0x01020304);
        let nonce = h.devnet.nonce(version, h.account, key).unwrap();
        let op = h.session_op_with(&spec, encode_calls(&pay_alice(&h)), h.now(), None, |op| {
            op.nonce = nonce
        });
        match h.submit(op).unwrap_refused() {
            VErr::WrongNonceLane(e) => {
                assert_eq!(e.expected.0, signing::session_hash(&spec).unwrap()[..4]);
                assert_eq!(e.actual.0, [1, 2, 3, 4]);
            }
            other => panic!("expected WrongNonceLane, got {}", error_name(&other)),
        }
    });
}
