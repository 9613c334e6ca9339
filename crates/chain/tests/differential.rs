//! Differential test: random sessions and sequences of ops, each judged by the Rust engine and
//! by the contract through `handleOps`. Verdicts must be identical (the same error with the
//! same arguments, or the same EntryPoint refusal), and after every accepted op the header and
//! counters the engine computed must equal the validator's storage.
//!
//! `SESSIONKEYS_DIFF_OPS` sets how many ops to run (default 2,000); `SESSIONKEYS_DIFF_SEED`
//! the seed. A failure prints the seed, the session and the op to replay it.
mod common;

use alloy::primitives::{Address, B256, Bytes, U256, aliases::U48};
use alloy::sol_types::SolCall;
use common::*;
use sessionkeys_chain::execution::{Call, encode_calls, encode_with_mode};
use sessionkeys_chain::userop::Paymaster;
use sessionkeys_chain::validator_state::{
    ValidatorSetting, counter_slot, decode_counter, decode_header, eval_context, header_slot,
};
use sessionkeys_chain::{BundleError, EntryPointVersion, UserOperation, signing};
use sessionkeys_contracts::abi::{Game, TestToken};
use sessionkeys_contracts::session::{
    ChainEpoch, ISessionKeyValidator as V, SessionSpec, UsageLimit,
};
use sessionkeys_engine::advisory::{EntryPointRules, EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate;
use std::collections::BTreeMap;

/// splitmix64: small, seedable, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

fn random_limit(rng: &mut Rng, scale: u64) -> UsageLimit {
    match rng.below(3) {
        0 => unlimited(),
        1 => lifetime(rng.below(scale * 3) + 1),
        _ => allowance(rng.below(scale * 2) + 1, rng.pick(&[60, 120, 3600, 86_400])),
    }
}

fn random_spec(rng: &mut Rng, h: &Harness) -> SessionSpec {
    let now = h.now();
    let (usdc, token18, game) = (
        h.usdc(),
        h.devnet.addresses.token18,
        h.devnet.addresses.game,
    );
    let mut spec = h.spec();
    spec.validAfter = U48::from(now - rng.below(7200));
    spec.validUntil = U48::from(now + 3600 + rng.below(3 * 86_400));
    if rng.chance(3) {
        spec.validUntil = spec.validAfter; // degenerate
    }
    if rng.chance(3) {
        spec.signer = Address::ZERO;
    }
    let prefund = UserOperation::new(Address::ZERO, U256::ZERO, Bytes::new())
        .max_prefund()
        .to::<u64>();
    spec.feeLimit = random_limit(rng, prefund * 3);
    spec.opLimit = random_limit(rng, 4);
    spec.paymasterMode = rng.pick(&[0, 1, 2]);
    if spec.paymasterMode == 2 {
        spec.paymaster = h.devnet.addresses.paymaster(h.version);
    }
    if spec.paymasterMode != 0 && spec.feeLimit.limitType == 0 {
        // Rule 21: a named paymaster needs a finite fee budget (the refusal comes below).
        spec.feeLimit = lifetime(prefund * 3);
    }
    let mut policies = Vec::new();
    if rng.chance(80) {
        let recipient = match rng.below(3) {
            0 => constraint(1, 0, word(ALICE), unlimited()),
            1 => one_of(0, vec![word(ALICE), word(BOB)]),
            _ => constraint(0, 0, B256::ZERO, unlimited()),
        };
        let mut recipient = recipient;
        recipient.bits = rng.pick(&[160, 256, 160]);
        let mut amount = constraint(
            rng.pick(&[0, 5, 3]),
            1,
            U256::from(20 * USDC).into(),
            random_limit(rng, 60 * USDC),
        );
        amount.bits = rng.pick(&[256, 256, 64, 16]);
        let mut p = call_policy(
            usdc,
            TestToken::transferCall::SELECTOR,
            vec![recipient, amount],
        );
        p.callLimit = random_limit(rng, 4);
        policies.push(p);
    }
    if rng.chance(30) {
        policies.push(call_policy(
            usdc,
            TestToken::approveCall::SELECTOR,
            vec![constraint(1, 0, word(BOB), unlimited())],
        ));
    }
    if rng.chance(30) {
        policies.push(call_policy(
            token18,
            TestToken::transferCall::SELECTOR,
            vec![],
        ));
    }
    if rng.chance(50) {
        let mut direction = constraint(3, 0, U256::from(4).into(), unlimited());
        direction.bits = 8;
        policies.push(call_policy(game, Game::moveCall::SELECTOR, vec![direction]));
    }
    if rng.chance(50) {
        let mut p = call_policy(game, Game::buyItemCall::SELECTOR, vec![]);
        p.maxValuePerUse = U256::from(rng.pick(&[1u64, 2, 3]) * 1_000_000_000_000_000);
        p.valueLimit = random_limit(rng, 5_000_000_000_000_000);
        policies.push(p);
    }
    policies.sort_by_key(|p| (p.target, p.selector));
    if rng.chance(4) && policies.len() > 1 {
        policies.swap(0, 1); // unsorted
    }
    spec.callPolicies = policies;
    if rng.chance(50) {
        spec.transferPolicies = vec![transfer_policy(
            ALICE,
            rng.pick(&[100, 1000, 10_000]),
            random_limit(rng, 3000),
        )];
    }
    spec.salt = B256::from(U256::from(rng.next()));
    // Now and then a spec the contract must refuse when first-use enable checks it.
    match rng.below(40) {
        0 => spec.opLimit = allowance(1, 30),
        1 => {
            // "only this paymaster" naming no paymaster
            spec.paymasterMode = 2;
            spec.paymaster = Address::ZERO;
        }
        2 => {
            if let Some(p) = spec.callPolicies.first_mut() {
                p.constraints
                    .push(constraint(9, 0, B256::ZERO, unlimited()));
            }
        }
        4 => {
            // rule 21: a named paymaster with an unlimited fee budget
            spec.paymasterMode = 1;
            spec.paymaster = Address::ZERO;
            spec.feeLimit = unlimited();
        }
        3 => {
            spec.transferPolicies = vec![
                transfer_policy(BOB, 1, unlimited()),
                transfer_policy(ALICE, 1, unlimited()),
            ];
        }
        _ => {}
    }
    spec
}

fn random_call(rng: &mut Rng, h: &Harness) -> Call {
    let (usdc, token18, game) = (
        h.usdc(),
        h.devnet.addresses.token18,
        h.devnet.addresses.game,
    );
    match rng.below(18) {
        0..=8 => {
            let to = rng.pick(&[ALICE, ALICE, ALICE, BOB, CAROL]);
            let amount = rng.pick(&[0, 1, USDC, 5 * USDC, 20 * USDC, 20 * USDC + 1, 45 * USDC]);
            let mut call = usdc_transfer(usdc, to, amount);
            if rng.chance(5) {
                let mut data = call.data.to_vec();
                data[4] = 0x01; // a dirty high byte in the recipient word
                call.data = data.into();
            }
            call
        }
        9 => Call::typed(
            usdc,
            &TestToken::approveCall {
                spender: rng.pick(&[BOB, CAROL]),
                amount: U256::from(1),
            },
        ),
        10 => Call::typed(
            token18,
            &TestToken::transferCall {
                to: ALICE,
                amount: U256::ZERO,
            },
        ),
        11 => Call::typed(
            game,
            &Game::moveCall {
                direction: rng.below(6) as u8,
            },
        ),
        12 => {
            let item = rng.below(3) + 1;
            Call {
                to: game,
                value: U256::from(item * 1_000_000_000_000_000),
                data: Game::buyItemCall {
                    itemId: U256::from(item),
                }
                .abi_encode()
                .into(),
            }
        }
        13 => Call::transfer(
            rng.pick(&[ALICE, BOB]),
            U256::from(rng.pick(&[1u64, 100, 1000, 1001])),
        ),
        14 => Call::new(usdc, vec![0xa9, 0x05]),
        15 => Call::new(
            usdc,
            TestToken::transferCall {
                to: ALICE,
                amount: U256::from(1),
            }
            .abi_encode()[..36]
                .to_vec(),
        ),
        16 => Call::typed(
            rng.pick(&[h.account, h.validator, h.version.address()]),
            &TestToken::transferCall {
                to: ALICE,
                amount: U256::from(1),
            },
        ),
        _ => Call::typed(
            h.validator,
            &V::revokeSessionCall {
                sessionHash: B256::from(U256::from(rng.next())),
            },
        ),
    }
}

/// Sometimes breaks the signature: an unknown mode, a non-canonical spec encoding (on that
/// encoding's own lane, or on the original lane), or a truncated signature.
fn tamper_signature(rng: &mut Rng, h: &mut Harness, op: &mut UserOperation) {
    use alloy::sol_types::SolValue;
    use sessionkeys_contracts::session::SessionSignature;
    let Ok(mut sig) = SessionSignature::abi_decode(&op.signature) else {
        return;
    };
    match rng.below(100) {
        0 | 1 => sig.mode = 2,
        2 | 3 => {
            let mut padded = sig.spec.to_vec();
            padded.extend_from_slice(&[0u8; 32]);
            let lane =
                sessionkeys_chain::userop::session_lane(alloy::primitives::keccak256(&padded));
            let key = sessionkeys_chain::userop::nonce_key(h.validator, lane);
            op.nonce = h.devnet.nonce(h.version, h.account, key).unwrap();
            sig.spec = padded.into();
        }
        4 => {
            op.signature = op.signature.slice(..31);
            return;
        }
        5 => {
            // a second encoding left on the first one's lane
            let mut padded = sig.spec.to_vec();
            padded.extend_from_slice(&[0u8; 32]);
            sig.spec = padded.into();
        }
        _ => return,
    }
    op.signature = sig.abi_encode().into();
}

#[derive(Debug)]
enum Outcome {
    Accepted,
    SignatureError,
    OutOfTimeRange,
    Refused(Bytes),
    /// AA3x: the paymaster's own validation, which the EntryPoint runs after the account's
    /// and before it reads the account's validation data. Outside the session's semantics.
    PaymasterRefused(String),
}

fn contract_outcome(h: &mut Harness, op: UserOperation) -> Outcome {
    match h.devnet.handle_ops(h.version, &[op]) {
        Ok(_) => Outcome::Accepted,
        Err(sessionkeys_chain::ChainError::Bundle(BundleError::FailedOp {
            reason, inner, ..
        })) => match reason.as_str() {
            "AA24 signature error" => Outcome::SignatureError,
            "AA22 expired or not due" => Outcome::OutOfTimeRange,
            "AA23 reverted" => Outcome::Refused(inner),
            paymaster if paymaster.starts_with("AA3") => Outcome::PaymasterRefused(reason),
            other => panic!("unexpected EntryPoint refusal {other}"),
        },
        Err(e) => panic!("bundle failed: {e}"),
    }
}

#[test]
fn the_engine_agrees_with_the_contract_on_random_sessions_and_ops() {
    let total_ops: usize = std::env::var("SESSIONKEYS_DIFF_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("SESSIONKEYS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5e55_104e);
    let mut rng = Rng(seed);
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    let mut ops_run = 0;
    let mut session_index = 0;
    while ops_run < total_ops {
        session_index += 1;
        let version = if session_index % 2 == 0 {
            EntryPointVersion::V07
        } else {
            EntryPointVersion::V08
        };
        let rules = if version == EntryPointVersion::V07 {
            EntryPointRules::V07
        } else {
            EntryPointRules::V08
        };
        // One session in ten runs under the registry-mode validator.
        let registry_mode = rng.chance(10);
        let mut h = if registry_mode {
            Harness::with_validator(version, devnet().addresses.registry_validator)
        } else {
            Harness::new(version)
        };
        let token18 = h.devnet.addresses.token18;
        let account = h.account;
        h.devnet
            .send(
                sessionkeys_chain::devnet::DEVNET_ADMIN,
                token18,
                U256::ZERO,
                &TestToken::mintCall {
                    to: account,
                    amount: U256::from(ETHER),
                },
            )
            .unwrap();
        let spec = random_spec(&mut rng, &h);
        let hash = signing::session_hash(&spec);
        // Enable on-chain half of the time (if the spec is valid); otherwise ops carry approvals.
        let onchain = rng.chance(50) && {
            let validator = h.validator;
            let op = h.owner_op(&[Call::typed(
                validator,
                &V::enableSessionCall { spec: spec.clone() },
            )]);
            matches!(h.submit(op), Verdict::Ok(_))
        };
        let setting = ValidatorSetting {
            validator: h.validator,
            entry_points: [
                EntryPointVersion::V07.address(),
                EntryPointVersion::V08.address(),
            ],
            registry: registry_mode.then_some(h.devnet.addresses.registry),
        };
        for op_index in 0..20 {
            if ops_run >= total_ops {
                break;
            }
            ops_run += 1;
            let step = if rng.chance(3) {
                86_400
            } else {
                rng.pick(&[0, 1, 7, 30, 30, 61, 61, 120, 600, 3600])
            };
            h.devnet.chain.advance(step);
            if rng.chance(1) {
                let validator = h.validator;
                let revoke = if rng.chance(50) {
                    Call::typed(validator, &V::revokeAllCall {})
                } else {
                    Call::typed(validator, &V::revokeSessionCall { sessionHash: hash })
                };
                h.owner_exec(&[revoke]);
            }
            let calls: Vec<Call> = (0..rng.below(3) + 1)
                .map(|_| random_call(&mut rng, &h))
                .collect();
            let mut call_data = encode_calls(&calls);
            if rng.chance(3) {
                let mut mode = [0u8; 32];
                mode[0] = rng.pick(&[0xff, 0xfe, 0x00]);
                mode[1] = 1;
                call_data = encode_with_mode(B256::from(mode), call_data.slice(100..));
            }
            let now = h.now();
            let hint = match rng.below(20) {
                0 => now.saturating_sub(rng.below(90_000)),
                1 => now + rng.below(90_000),
                _ => now,
            };
            let enable_mode = !onchain && rng.chance(85) || rng.chance(5);
            let approval = enable_mode.then(|| {
                let epoch = h.epoch();
                let chain = match rng.below(12) {
                    0 => ChainEpoch { chainId: 1, epoch },
                    1 => ChainEpoch {
                        chainId: h.devnet.chain.chain_id(),
                        epoch: epoch + 1,
                    },
                    _ => ChainEpoch {
                        chainId: h.devnet.chain.chain_id(),
                        epoch,
                    },
                };
                let mut approval = h.approval(&spec, vec![chain]);
                if rng.chance(5) {
                    approval.owner_signature = signing::sign_digest(&key(7), B256::ZERO);
                }
                approval
            });
            let wrong_key = rng.chance(5);
            let sponsor = rng.below(10);
            let (paymaster_ours, paymaster_other) = (
                h.devnet.addresses.paymaster(version),
                h.devnet
                    .addresses
                    .paymaster(if version == EntryPointVersion::V07 {
                        EntryPointVersion::V08
                    } else {
                        EntryPointVersion::V07
                    }),
            );
            let real_key = h.session_key.clone();
            if wrong_key {
                h.session_key = key(3);
            }
            let op = h.session_op_with(&spec, call_data, hint, approval.as_ref(), |op| {
                let pm = |address| {
                    Some(Paymaster {
                        address,
                        verification_gas_limit: 100_000,
                        post_op_gas_limit: 50_000,
                        data: Bytes::new(),
                    })
                };
                match sponsor {
                    0 => op.paymaster = pm(paymaster_ours),
                    1 => op.paymaster = pm(paymaster_other),
                    _ => {}
                }
            });
            h.session_key = real_key;
            let mut op = op;
            tamper_signature(&mut rng, &mut h, &mut op);
            let carried_hash =
                <sessionkeys_contracts::session::SessionSignature as alloy::sol_types::SolValue>::abi_decode(&op.signature)
                    .map(|s| alloy::primitives::keccak256(&s.spec))
                    .unwrap_or(hash);

            let user_op_hash = h.devnet.user_op_hash(version, &op).unwrap();
            let context = eval_context(
                &h.devnet.chain,
                &setting,
                h.account,
                Some(h.owner.address()),
                vec![h.validator],
                &spec,
                carried_hash,
            );
            let input = sessionkeys_chain::judge::engine_input(&op, user_op_hash);
            let engine = evaluate(&context, &input);
            let block_time = h.now();
            let contract = contract_outcome(&mut h, op);
            let replay = || {
                format!(
                    "seed {seed}, session {session_index}, op {op_index}, {version}\nspec: {spec:?}\ncalls: {calls:?}"
                )
            };
            let label = match (&engine, &contract) {
                (Err(violation), Outcome::Refused(data)) => {
                    assert_eq!(
                        &violation.revert_data(),
                        data,
                        "engine {violation} vs contract {}\n{}",
                        sessionkeys_chain::decode_revert(data),
                        replay()
                    );
                    violation.name().to_string()
                }
                (Ok(_), Outcome::PaymasterRefused(reason)) => format!("paymaster: {reason}"),
                (Ok(validation), outcome) => {
                    let expected = entry_point_verdict(rules, validation, block_time);
                    let agrees = matches!(
                        (expected, outcome),
                        (EntryPointVerdict::Accepted, Outcome::Accepted)
                            | (EntryPointVerdict::SignatureError, Outcome::SignatureError)
                            | (EntryPointVerdict::OutOfTimeRange, Outcome::OutOfTimeRange)
                    );
                    assert!(
                        agrees,
                        "engine {expected:?} ({validation:?}) vs contract {outcome:?}\n{}",
                        replay()
                    );
                    if expected == EntryPointVerdict::Accepted {
                        let validator = h.validator;
                        let stored = decode_header(
                            h.devnet
                                .chain
                                .storage(validator, header_slot(hash, h.account)),
                        );
                        assert_eq!(
                            stored,
                            validation.header,
                            "header after the op\n{}",
                            replay()
                        );
                        for (key, counter) in &validation.counters {
                            let stored = decode_counter(
                                h.devnet
                                    .chain
                                    .storage(validator, counter_slot(hash, *key, h.account)),
                            );
                            assert_eq!(
                                stored,
                                *counter,
                                "counter {key:?} after the op\n{}",
                                replay()
                            );
                        }
                    }
                    format!("{expected:?}")
                }
                (engine, contract) => {
                    panic!("engine {engine:?} vs contract {contract:?}\n{}", replay())
                }
            };
            *histogram.entry(label).or_default() += 1;
        }
    }
    println!("differential: {ops_run} ops over {session_index} sessions, seed {seed}");
    for (verdict, count) in &histogram {
        println!("  {verdict:<32} {count}");
    }
    // The generator must reach every refusal it is built to provoke. (InvalidWindow cannot come
    // out of validateUserOp in practice: the hint must lie inside the window before the spec
    // checks run; session_lifecycle::degenerate_specs_are_refused_at_enable covers it.)
    for expected in [
        "Accepted",
        "SignatureError",
        "OutOfTimeRange",
        "NoCallPolicy",
        "NoTransferPolicy",
        "ConstraintViolated",
        "LimitExceeded",
        "ValuePerUseExceeded",
        "BannedTarget",
        "WordTooWide",
        "CalldataTooShortForSelector",
        "CalldataTooShortForConstraint",
        "TimeHintOutsideSession",
        "SessionNotEnabled",
        "UnsupportedExecutionMode",
        "PaymasterNotAllowed",
        "ChainNotApproved",
        "EnableEpochMismatch",
        "InvalidSigner",
        "SessionRevoked",
        "SessionEpochStale",
        "CallPoliciesNotSorted",
        "UnknownSignatureMode",
        "NonCanonicalSpec",
        "WrongNonceLane",
        "InvalidUsageLimit",
        "InvalidPaymasterPolicy",
        "FeeLimitRequired",
        "InvalidConstraint",
        "TransferPoliciesNotSorted",
        "MalformedSignature",
        "RegistryRequiresOnchainEnable",
    ] {
        assert!(
            histogram.contains_key(expected),
            "the generator never produced {expected}: {histogram:#?}"
        );
    }
}
