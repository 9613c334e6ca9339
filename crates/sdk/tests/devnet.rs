//! The SDK on the devnet and its in-process bundler: the same code path as against a
//! real node and bundler (tests/e2e.rs), in the default test run.

#[path = "support/scenario.rs"]
mod scenario;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use scenario::*;
use sessionkeys::backend::Backend;
use sessionkeys::{Call, DevnetBackend, EntryPointVersion, SdkError, SessionClient, SessionGrant};
use sessionkeys_chain::RevertReason;
use sessionkeys_contracts::session::ISessionKeyValidator;
use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as VErr;
use sessionkeys_contracts::vocabulary::{CounterKind, SignatureMode, Status};
use std::sync::Arc;

fn backend() -> Arc<DevnetBackend> {
    let backend = DevnetBackend::new().expect("the devnet (run `npm ci --prefix contracts`)");
    backend.with_devnet(|d| {
        d.chain
            .set_balance(funder().address(), U256::from(10u64).pow(U256::from(24)))
    });
    Arc::new(backend)
}

#[tokio::test]
async fn a_granted_session_spends_to_its_limit_and_the_bundler_names_the_refusal() {
    for version in EntryPointVersion::ALL {
        let backend = backend();
        let (client, _, account, _) = granted(backend.clone(), version).await;
        assert!(account.is_deployed(backend.as_ref()).await.unwrap());
        client.send(&[transfer(ALICE, 60 * USDC)]).await.unwrap();
        let over = [transfer(BOB, 40 * USDC + 1)];
        assert_eq!(refused_name(client.send(&over).await), "LimitExceeded");
        match client.send_without_precheck(&over).await {
            Err(SdkError::BundlerRefused { code, reason, .. }) => {
                assert_eq!(code, -32500);
                assert!(matches!(
                    reason.as_deref(),
                    Some(RevertReason::Validator(VErr::LimitExceeded(_)))
                ));
            }
            other => panic!("expected the bundler to refuse, got {other:?}"),
        }
        client.send(&[transfer(BOB, 40 * USDC)]).await.unwrap();
        assert_eq!(
            usdc_balance(backend.as_ref(), BOB).await,
            U256::from(40 * USDC)
        );
        let rows = client.usage().await.unwrap();
        let spent = rows
            .iter()
            .find(|r| r.kind == u8::from(CounterKind::ConstraintSum))
            .unwrap();
        assert_eq!(
            (spent.used, spent.remaining),
            (U256::from(100 * USDC), U256::ZERO)
        );
    }
}

#[tokio::test]
async fn a_batch_with_one_call_out_of_scope_is_refused_whole() {
    let backend = backend();
    let (client, ..) = granted(backend.clone(), EntryPointVersion::V07).await;
    let batch = [
        transfer(ALICE, USDC),
        transfer(BOB, USDC),
        transfer(CAROL, USDC),
        transfer(ALICE, USDC),
        transfer(BOB, USDC),
    ];
    assert_eq!(
        refused_name(client.send(&batch).await),
        "ConstraintViolated"
    );
    assert_eq!(usdc_balance(backend.as_ref(), ALICE).await, U256::ZERO);
    client.send(&batch[..2]).await.unwrap();
    assert_eq!(usdc_balance(backend.as_ref(), BOB).await, U256::from(USDC));
}

#[tokio::test]
async fn the_eleventh_op_in_a_minute_is_refused_by_the_rate_limit() {
    let backend = backend();
    let (client, ..) = granted(backend.clone(), EntryPointVersion::V08).await;
    // Start at the beginning of a minute so all ten fit in one period.
    backend.with_devnet(|d| {
        let now = d.chain.time();
        d.chain.set_time(now - now % 60 + 60 + 1);
    });
    for _ in 0..10 {
        client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    }
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, USDC)]).await),
        "LimitExceeded"
    );
    backend.with_devnet(|d| d.chain.advance(60));
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
}

#[tokio::test]
async fn enable_in_first_use_switches_to_plain_use_and_dies_with_revoke_all() {
    let backend = backend();
    let (account, owner) = new_account(backend.as_ref(), EntryPointVersion::V07).await;
    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
    let chain = grant
        .current_chain(backend.as_ref(), account.address)
        .await
        .unwrap();
    assert_eq!((chain.chainId, chain.epoch), (31337, 0));
    let approval = grant.approve(&owner, account.address, vec![chain]);
    let client = SessionClient::new(
        backend.clone(),
        account.clone(),
        grant.spec.clone(),
        key,
        validator(),
    )
    .unwrap()
    .with_enable_approval(approval);
    // The account is not deployed yet: the first op deploys it and enables the session.
    assert!(!account.is_deployed(backend.as_ref()).await.unwrap());
    assert_eq!(
        client.precheck(&[transfer(ALICE, 1)]).await.unwrap().mode,
        SignatureMode::Enable
    );
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert_eq!(
        client.precheck(&[transfer(ALICE, 1)]).await.unwrap().mode,
        SignatureMode::Use
    );
    account
        .execute_as_owner(
            backend.as_ref(),
            &owner,
            &[Call::typed(
                validator(),
                &ISessionKeyValidator::revokeAllCall {},
            )],
            wait(),
        )
        .await
        .unwrap();
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "SessionEpochStale"
    );
}

#[tokio::test]
async fn an_expired_session_is_refused_before_anything_is_sent() {
    let backend = backend();
    let (client, grant, ..) = granted(backend.clone(), EntryPointVersion::V07).await;
    let until: u64 = grant.spec.validUntil.to();
    backend.with_devnet(|d| d.chain.set_time(until + 1));
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "TimeHintOutsideSession"
    );
}

#[tokio::test]
async fn a_revoked_session_is_refused_locally_and_by_the_bundler() {
    let backend = backend();
    let (client, grant, account, owner) = granted(backend.clone(), EntryPointVersion::V08).await;
    revoke_session(backend.as_ref(), &account, &owner, grant.hash().unwrap()).await;
    assert_eq!(
        refused_name(client.send(&[transfer(ALICE, 1)]).await),
        "SessionRevoked"
    );
    match client.send_without_precheck(&[transfer(ALICE, 1)]).await {
        Err(SdkError::BundlerRefused { reason, .. }) => {
            assert!(matches!(
                reason.as_deref(),
                Some(RevertReason::Validator(VErr::SessionRevoked(_)))
            ))
        }
        other => panic!("expected the bundler to refuse, got {other:?}"),
    }
}

#[tokio::test]
async fn calls_that_would_revert_are_refused_at_estimation_with_the_reason_and_nothing_paid() {
    let backend = backend();
    let (client, _, account, _) = granted(backend.clone(), EntryPointVersion::V07).await;
    // Inside the session (≤ 100 USDC) but more than the account holds after spending 950.
    let burn = sessionkeys_contracts::abi::TestToken::transferCall {
        to: ALICE,
        amount: U256::from(950 * USDC),
    };
    backend.with_devnet(|d| {
        d.send(account.address, usdc(), U256::ZERO, &burn).unwrap();
    });
    let ether_before = backend.balance(account.address).await.unwrap();
    match client.send(&[transfer(BOB, 60 * USDC)]).await {
        Err(SdkError::BundlerRefused { code, reason, .. }) => {
            assert_eq!(code, sessionkeys::devnet::EXECUTION_REVERTED);
            assert!(reason.unwrap().to_string().contains("InsufficientBalance"));
        }
        other => panic!("expected the estimate to refuse, got {other:?}"),
    }
    assert_eq!(
        backend.balance(account.address).await.unwrap(),
        ether_before
    );
}

#[tokio::test]
async fn a_key_that_is_not_the_sessions_signer_or_the_owner_is_refused() {
    let backend = backend();
    let (client, grant, account, _) = granted(backend.clone(), EntryPointVersion::V07).await;
    let stranger = PrivateKeySigner::random();
    let error = SessionClient::new(
        backend.clone(),
        client.account().clone(),
        grant.spec.clone(),
        stranger.clone(),
        validator(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("signer"), "{error}");
    let error = account
        .execute_as_owner(backend.as_ref(), &stranger, &[], wait())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("owner"), "{error}");
}

#[tokio::test]
async fn an_accounts_sessions_are_listed_from_the_chain_with_status_and_budgets() {
    let backend = backend();
    let (client, grant, account, owner) = granted(backend.clone(), EntryPointVersion::V07).await;
    client.send(&[transfer(ALICE, 30 * USDC)]).await.unwrap();
    // A second session, enabled in its first use (its SessionEnabled comes from that op).
    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let mut spec = usdc_session(key.address(), now);
    spec.salt = alloy::primitives::B256::repeat_byte(2);
    let second = SessionGrant::new(spec, validator()).unwrap();
    let chain = second
        .current_chain(backend.as_ref(), account.address)
        .await
        .unwrap();
    let approval = second.approve(&owner, account.address, vec![chain]);
    SessionClient::new(
        backend.clone(),
        account.clone(),
        second.spec.clone(),
        key,
        validator(),
    )
    .unwrap()
    .with_enable_approval(approval)
    .send(&[transfer(BOB, USDC)])
    .await
    .unwrap();
    revoke_session(backend.as_ref(), &account, &owner, grant.hash().unwrap()).await;

    let sessions =
        sessionkeys::sessions::account_sessions(backend.as_ref(), validator(), account.address)
            .await
            .unwrap();
    let hashes: Vec<_> = sessions.iter().map(|s| s.hash).collect();
    assert_eq!(hashes, vec![grant.hash().unwrap(), second.hash().unwrap()]);
    assert_eq!(
        (sessions[0].status, sessions[0].usable),
        (Status::Revoked, false)
    );
    assert_eq!(
        (sessions[1].status, sessions[1].usable),
        (Status::Active, true)
    );
    assert_eq!(sessions[1].spec, second.spec);
    let spent = sessions[0]
        .usage
        .iter()
        .find(|r| r.kind == u8::from(CounterKind::ConstraintSum))
        .unwrap();
    assert_eq!(spent.used, U256::from(30 * USDC));
    // Another account's sessions are not listed.
    let (other, _) = new_account(backend.as_ref(), EntryPointVersion::V07).await;
    assert!(
        sessionkeys::sessions::account_sessions(backend.as_ref(), validator(), other.address)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The start of the minute after `now`.
fn next_minute(now: u64) -> u64 {
    now - now % 60 + 60
}

#[tokio::test]
async fn an_op_at_the_end_of_its_rate_limit_period_waits_for_the_next_period() {
    let backend = backend();
    let (client, ..) = granted(backend.clone(), EntryPointVersion::V08).await;
    // 3 s before a minute ends: an op under the 10-a-minute limit would be valid for 3 s only,
    // which bundlers refuse (they want 30 s); the client waits for the next minute.
    let boundary = backend.with_devnet(|d| {
        let boundary = next_minute(d.chain.time()) + 60;
        d.chain.set_time(boundary - 3);
        boundary
    });
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert!(backend.with_devnet(|d| d.chain.time()) >= boundary);
    let ops = client.usage().await.unwrap();
    let ops = ops
        .iter()
        .find(|r| r.kind == u8::from(CounterKind::Ops))
        .unwrap();
    assert_eq!(ops.used, U256::from(1), "charged in the new minute");

    // In the minute's very last second the op would be valid for this block only: it too
    // waits for the next minute instead of being refused (AA22 for the next block).
    let boundary = boundary + 60;
    backend.with_devnet(|d| d.chain.set_time(boundary - 1));
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert!(backend.with_devnet(|d| d.chain.time()) >= boundary);

    // 40 s before the end is enough: no wait.
    let boundary = boundary + 60;
    backend.with_devnet(|d| d.chain.set_time(boundary - 40));
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert!(backend.with_devnet(|d| d.chain.time()) < boundary);
}

#[tokio::test]
async fn an_op_under_a_session_that_ends_within_the_margin_is_refused_before_sending() {
    let backend = backend();
    let (client, grant, account, _) = granted(backend.clone(), EntryPointVersion::V07).await;
    let session_ends = grant.spec.validUntil.to::<u64>();
    backend.with_devnet(|d| d.chain.set_time(session_ends - 10));
    match client.send(&[transfer(ALICE, USDC)]).await {
        Err(SdkError::ExpiresTooSoon {
            valid_until,
            now,
            margin,
        }) => assert_eq!(
            (valid_until, now, margin),
            (session_ends, session_ends - 10, 30)
        ),
        other => panic!("expected ExpiresTooSoon, got {other:?}"),
    }
    assert_eq!(usdc_balance(backend.as_ref(), ALICE).await, U256::ZERO);
    assert_eq!(backend.with_devnet(|d| d.chain.time()), session_ends - 10);

    // A caller whose bundler asks less (Alto: 5 s) can say so.
    let client = client.with_expiry_margin(5);
    client.send(&[transfer(ALICE, USDC)]).await.unwrap();
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(USDC)
    );
    assert!(account.is_deployed(backend.as_ref()).await.unwrap());
}

#[tokio::test]
async fn the_owner_approves_and_revokes_with_typed_data_that_a_relayer_sends() {
    use sessionkeys::relay::{
        RevokeApproval, RevokeTarget, relay_deploy_account, relay_enable, relay_revoke,
    };
    for version in EntryPointVersion::ALL {
        let backend = backend();
        let relayer = funder();
        let (account, owner) = new_account(backend.as_ref(), version).await;
        let key = PrivateKeySigner::random();
        let now = backend.latest_timestamp().await.unwrap();
        let grant = SessionGrant::new(usdc_session(key.address(), now), validator()).unwrap();
        let chain = grant
            .current_chain(backend.as_ref(), account.address)
            .await
            .unwrap();
        let approval = grant.approve(&owner, account.address, vec![chain.clone()]);
        let relay = || {
            relay_enable(
                backend.as_ref(),
                validator(),
                account.address,
                &grant.spec,
                &approval,
                &relayer,
            )
        };

        // The account does not exist yet: refused by name before anything is sent.
        let sent_before = backend.transaction_count(relayer.address()).await.unwrap();
        match relay().await {
            Err(SdkError::Refused { violation }) => {
                assert_eq!(violation.name(), "AccountNotDeployed")
            }
            other => panic!("expected AccountNotDeployed, got {other:?}"),
        }
        assert_eq!(
            backend.transaction_count(relayer.address()).await.unwrap(),
            sent_before,
            "a refused relay sends nothing"
        );
        relay_deploy_account(backend.as_ref(), &account, &relayer)
            .await
            .unwrap()
            .expect("deployed now");
        relay().await.unwrap();
        relay().await.unwrap(); // a repeat (a front-run, a retry) is a no-op
        let client = SessionClient::new(
            backend.clone(),
            account.clone(),
            grant.spec.clone(),
            key,
            validator(),
        )
        .unwrap();
        client.send(&[transfer(ALICE, USDC)]).await.unwrap();

        let revoke = RevokeApproval::sign(
            &owner,
            validator(),
            account.address,
            RevokeTarget::Sessions(vec![grant.hash().unwrap()]),
            vec![chain.clone()],
        );
        relay_revoke(backend.as_ref(), validator(), &revoke, &relayer)
            .await
            .unwrap();
        assert_eq!(
            refused_name(client.send(&[transfer(ALICE, 1)]).await),
            "SessionRevoked"
        );

        let all = RevokeApproval::sign(
            &owner,
            validator(),
            account.address,
            RevokeTarget::All,
            vec![chain],
        );
        relay_revoke(backend.as_ref(), validator(), &all, &relayer)
            .await
            .unwrap();
        // Relayed again (a retry, a front-run): nothing changes and nothing fails.
        relay_revoke(backend.as_ref(), validator(), &all, &relayer)
            .await
            .unwrap();
        assert_eq!(
            grant
                .current_chain(backend.as_ref(), account.address)
                .await
                .unwrap()
                .epoch,
            1
        );
        // A revocation signed for the old epoch is refused by name, before anything is sent.
        let sent_before = backend.transaction_count(relayer.address()).await.unwrap();
        match relay_revoke(backend.as_ref(), validator(), &revoke, &relayer).await {
            Err(SdkError::Refused { violation }) => {
                assert_eq!(violation.name(), "RevokeEpochMismatch")
            }
            other => panic!("a revocation of an old epoch must be refused, got {other:?}"),
        }
        assert_eq!(
            backend.transaction_count(relayer.address()).await.unwrap(),
            sent_before
        );
    }
}

#[tokio::test]
async fn a_session_on_the_lane_of_a_live_one_is_resalted_at_request_and_refused_at_approval() {
    use sessionkeys::lanes::{ensure_free_lane, lane, live_sessions, resalt_for_free_lane};
    use std::collections::HashMap;
    let backend = backend();
    let (client, first, account, owner) = granted(backend.clone(), EntryPointVersion::V07).await;
    client.send(&[transfer(ALICE, 1)]).await.unwrap();

    // What a hostile or unlucky app can do: search salts until a spec shares a lane with
    // another (a birthday search over 32 bits). Two such specs, the first enabled.
    let key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let template = usdc_session(key.address(), now);
    let mut seen: HashMap<[u8; 4], alloy::primitives::B256> = HashMap::new();
    let (a, b) = (0u64..)
        .find_map(|i| {
            let mut spec = template.clone();
            spec.salt = alloy::primitives::B256::from(U256::from(i));
            let hash = sessionkeys_engine::session_hash(&spec).unwrap();
            match seen.insert(lane(hash).0, spec.salt) {
                Some(previous) => {
                    let mut other = template.clone();
                    other.salt = previous;
                    Some((other, spec))
                }
                None => None,
            }
        })
        .unwrap();
    let (hash_a, hash_b) = (
        sessionkeys_engine::session_hash(&a).unwrap(),
        sessionkeys_engine::session_hash(&b).unwrap(),
    );
    assert_eq!(lane(hash_a), lane(hash_b));
    SessionGrant::new(a, validator())
        .unwrap()
        .grant_on_chain(backend.as_ref(), &account, &owner, wait())
        .await
        .unwrap();

    let live = live_sessions(backend.as_ref(), validator(), account.address)
        .await
        .unwrap();
    assert_eq!(live, vec![first.hash().unwrap(), hash_a]);
    // At approval: refused, naming the session that holds the lane.
    match ensure_free_lane(hash_b, &live) {
        Err(SdkError::LaneTaken {
            lane: taken,
            session,
        }) => {
            assert_eq!((taken, session), (lane(hash_b), hash_a))
        }
        other => panic!("expected LaneTaken, got {other:?}"),
    }
    // A pending (approved, not yet enabled) session holds its lane too.
    assert!(ensure_free_lane(hash_b, &[hash_a]).is_err());
    // The same session is not a collision with itself.
    assert!(ensure_free_lane(hash_a, &live).is_ok());
    // At request: moved to a free lane by a new salt.
    let mut moved = b.clone();
    assert!(resalt_for_free_lane(&mut moved, &live).expect("encodable") >= 1);
    let moved_hash = sessionkeys_engine::session_hash(&moved).unwrap();
    assert_ne!(lane(moved_hash), lane(hash_a));
    assert!(ensure_free_lane(moved_hash, &live).is_ok());
    // A revoked session frees its lane.
    revoke_session(backend.as_ref(), &account, &owner, hash_a).await;
    let live = live_sessions(backend.as_ref(), validator(), account.address)
        .await
        .unwrap();
    assert!(ensure_free_lane(hash_b, &live).is_ok());
}

#[tokio::test]
async fn a_session_stored_for_the_previous_validator_is_listed_as_such_without_asking_it() {
    // A record of the store before the packed encoding: its hash is keccak256(abi.encode(spec)),
    // which no session of today's validator has. Listing it with a node must neither fail nor
    // ask a validator that reads another encoding.
    let dir = std::env::temp_dir().join(format!("sk-previous-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = sessionkeys::store::SessionStore::open(&dir).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v0/sessions")
        .join("232bac6f0955fad53227710736e9f574143fbae582694ec7cb70cd7e5c7445e1.json");
    std::fs::copy(
        &fixture,
        dir.join("sessions").join(fixture.file_name().unwrap()),
    )
    .unwrap();
    let stored = store.list().unwrap().sessions;
    assert_eq!(stored.len(), 1);
    let backend = backend();
    let rows = sessionkeys::session_rows::session_rows(&stored, Some(backend.as_ref()), None)
        .await
        .unwrap();
    let onchain = rows[0].onchain.as_ref().unwrap();
    assert_eq!(
        onchain.state,
        sessionkeys::session_rows::OnchainState::PreviousValidator
    );
    assert!(onchain.limits.is_empty());
    assert!(!onchain.state.usable());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn usage_on_a_chain_without_the_usage_lens_says_how_to_deploy_it() {
    let backend = backend();
    let (client, ..) = granted(backend.clone(), EntryPointVersion::V07).await;
    let lens = sessionkeys::deployment::session_usage_lens().address();
    backend.with_devnet(|d| d.chain.set_code(lens, Default::default()));
    match client.usage().await {
        Err(SdkError::NotDeployed(message)) => {
            assert!(message.contains(&format!("no SessionUsageLens at {lens}")));
            assert!(message.contains("sessionkeys deploy"));
        }
        other => panic!("expected NotDeployed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_held_elsewhere_signs_prepared_ops_and_only_its_signature_is_accepted() {
    use alloy::signers::SignerSync;
    let backend = backend();
    let (account, owner) = new_account(backend.as_ref(), EntryPointVersion::V07).await;
    // The app keeps its key: the client knows only its address.
    let app_key = PrivateKeySigner::random();
    let now = backend.latest_timestamp().await.unwrap();
    let grant = SessionGrant::new(usdc_session(app_key.address(), now), validator()).unwrap();
    let chain = grant
        .current_chain(backend.as_ref(), account.address)
        .await
        .unwrap();
    let client = SessionClient::for_external_signer(
        backend.clone(),
        account.clone(),
        grant.spec.clone(),
        validator(),
    )
    .unwrap()
    .with_enable_approval(grant.approve(&owner, account.address, vec![chain]));
    match client.send(&[transfer(ALICE, USDC)]).await {
        Err(SdkError::KeyHeldElsewhere { signer, .. }) => assert_eq!(signer, app_key.address()),
        other => panic!("expected KeyHeldElsewhere, got {other:?}"),
    }

    // Out of scope: refused at prepare, before anything exists to sign.
    assert_eq!(
        match client.prepare_op(&[transfer(CAROL, USDC)]).await {
            Err(SdkError::Refused { violation }) => violation.name(),
            other => panic!("expected a refusal, got {other:?}"),
        },
        "ConstraintViolated"
    );

    // The first op deploys the account and enables the session; another key's signature,
    // or the right key over an EIP-191-prefixed digest, is refused naming both keys.
    let prepared = client.prepare_op(&[transfer(ALICE, USDC)]).await.unwrap();
    assert_eq!(prepared.mode, SignatureMode::Enable);
    let stranger = PrivateKeySigner::random();
    let prefixed = app_key
        .sign_message_sync(prepared.digest.as_slice())
        .unwrap();
    for (signature, recovered) in [
        (
            stranger.sign_hash_sync(&prepared.digest).unwrap(),
            stranger.address(),
        ),
        (prefixed, {
            prefixed
                .recover_address_from_prehash(&prepared.digest)
                .unwrap()
        }),
    ] {
        match client
            .submit_prepared(
                prepared.op.clone(),
                prepared.mode,
                prepared.time_hint,
                &signature.as_bytes(),
            )
            .await
        {
            Err(SdkError::WrongSessionSigner {
                signer,
                recovered: r,
                ..
            }) => assert_eq!((signer, r), (app_key.address(), recovered)),
            other => panic!("expected WrongSessionSigner, got {other:?}"),
        }
    }
    assert!(!account.is_deployed(backend.as_ref()).await.unwrap());
    let signature = app_key.sign_hash_sync(&prepared.digest).unwrap();
    let landed = client
        .submit_prepared(
            prepared.op.clone(),
            prepared.mode,
            prepared.time_hint,
            &signature.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(landed.user_op_hash, prepared.user_op_hash);
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(USDC)
    );

    // Submitted again, the same op is refused before anything is sent: its nonce is spent.
    assert!(matches!(
        client
            .submit_prepared(
                prepared.op.clone(),
                prepared.mode,
                prepared.time_hint,
                &signature.as_bytes()
            )
            .await,
        Err(SdkError::NonceUsed { .. })
    ));
    // The app's key signs calls it put in itself, over the limit: correctly signed, still
    // judged by the engine before anything is sent.
    let next = client.prepare_op(&[transfer(ALICE, USDC)]).await.unwrap();
    assert_eq!(next.mode, SignatureMode::Use);
    let mut swapped = next.op.clone();
    swapped.call_data = sessionkeys_chain::execution::encode_calls(&[transfer(ALICE, 200 * USDC)]);
    let swapped_hash =
        sessionkeys::operation::user_op_hash(backend.as_ref(), EntryPointVersion::V07, &swapped)
            .await
            .unwrap();
    let swapped_digest = sessionkeys_chain::signing::session_digest(
        swapped_hash,
        client.session_hash(),
        next.time_hint,
        next.mode,
    );
    let signed_swap = app_key.sign_hash_sync(&swapped_digest).unwrap();
    assert_eq!(
        match client
            .submit_prepared(swapped, next.mode, next.time_hint, &signed_swap.as_bytes())
            .await
        {
            Err(SdkError::Refused { violation }) => violation.name(),
            other => panic!("expected the engine to refuse, got {other:?}"),
        },
        "LimitExceeded"
    );
    // Another mode than the session needs, or a hint after the chain's time: not this op.
    let signature = app_key.sign_hash_sync(&next.digest).unwrap();
    for (mode, hint) in [
        (SignatureMode::Enable, next.time_hint),
        (next.mode, next.time_hint + 3600),
    ] {
        assert!(matches!(
            client
                .submit_prepared(next.op.clone(), mode, hint, &signature.as_bytes())
                .await,
            Err(SdkError::ForeignOp { .. })
        ));
    }
    // The same key's signature in another encoding (v = 0/1, as some libraries write it) is
    // the key's: it is sent in the validator's form (v = 27/28, low s).
    let mut v01 = signature.as_bytes();
    v01[64] -= 27;
    client
        .submit_prepared(next.op, next.mode, next.time_hint, &v01)
        .await
        .unwrap();
    assert_eq!(
        usdc_balance(backend.as_ref(), ALICE).await,
        U256::from(2 * USDC)
    );
}
