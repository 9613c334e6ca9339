//! The first op of a new account (initCode) under ERC-7562: the validator's `onInstall` writes
//! `_installed[account]` while the factory deploys the account, and a first-use enable writes
//! the session header during validation — storage associated with a sender that had no code
//! before the op, allowed only with a staked factory (STO-022). The inspector watches the
//! SenderCreator → factory → account frames too, and the factory is stakeable.
mod common;

use alloy::primitives::{Address, Bytes, U256, address};
use alloy::sol_types::{SolCall, SolInterface};
use common::*;
use sessionkeys_chain::deployment;
use sessionkeys_chain::execution::encode_calls;
use sessionkeys_chain::signing;
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::SessionAccountFactory;
use sessionkeys_devnet::erc7562::{Erc7562Inspector, Erc7562Violation};

/// Another operator's stake owner: its factories sit at other addresses, unstaked at first.
const OPERATOR: Address = address!("0x00000000000000000000000000000000000093e7");

/// The factory of `stake_owner` for the harness's version, deployed if needed.
fn factory_of(h: &mut Harness, stake_owner: Address) -> Address {
    let planned = deployment::session_account_factory(h.version, stake_owner);
    h.devnet
        .chain
        .deploy_create2(
            sessionkeys_devnet::devnet::DEVNET_ADMIN,
            planned.salt,
            &planned.init_code,
        )
        .unwrap()
}

/// The counterfactual account of the harness's owner under `factory`, funded, and its initCode.
fn new_account(h: &mut Harness, factory: Address) -> (Address, (Address, Bytes)) {
    let create = SessionAccountFactory::createAccountCall {
        owner: h.owner.address(),
        validators: vec![h.validator],
        salt: U256::from(77),
    };
    let account: Address = h
        .devnet
        .chain
        .call_typed(
            factory,
            &SessionAccountFactory::getAddressCall {
                owner: create.owner,
                validators: create.validators.clone(),
                salt: create.salt,
            },
        )
        .unwrap();
    assert!(h.devnet.chain.code(account).is_empty(), "not deployed yet");
    h.devnet.chain.set_balance(account, U256::from(ETHER));
    (account, (factory, create.abi_encode().into()))
}

/// Runs one op under the inspector told the factory's stake as the EntryPoint records it;
/// returns the inspector's findings and whether the op passed.
fn inspect(h: &mut Harness, op: UserOperation, factory: Address) -> (Vec<Erc7562Violation>, bool) {
    let staked = h.devnet.is_staked(h.version, factory).unwrap();
    let inspector = Erc7562Inspector::new(h.version.address()).with_staked_factories(if staked {
        vec![factory]
    } else {
        vec![]
    });
    let (result, inspector) = h
        .devnet
        .handle_ops_inspect(h.version, &[op], inspector)
        .unwrap();
    assert_eq!(
        inspector.deployments_seen, 1,
        "the inspector saw the deployment"
    );
    (inspector.violations, result.is_ok())
}

fn owner_op_deploying(h: &mut Harness, factory: Address) -> UserOperation {
    let (account, init) = new_account(h, factory);
    let mut op = UserOperation::new(account, U256::ZERO, encode_calls(&[]));
    op.call_data = Bytes::new();
    op.factory = Some(init);
    op.signature = signing::sign_digest(&h.owner, h.devnet.user_op_hash(h.version, &op).unwrap());
    op
}

fn session_op_deploying(h: &mut Harness, factory: Address) -> UserOperation {
    let (account, init) = new_account(h, factory);
    h.account = account;
    let spec = spending_session(h);
    let chain = h.this_chain();
    let approval = h.approval(&spec, vec![chain]);
    // The account holds no USDC yet: the op is judged at validation; its call may revert.
    let calls = encode_calls(&[usdc_transfer(h.usdc(), ALICE, 0)]);
    h.session_op_with(&spec, calls, h.now(), Some(&approval), |op| {
        op.factory = Some(init)
    })
}

fn sto_022(violations: &[Erc7562Violation]) -> Vec<Address> {
    violations
        .iter()
        .filter_map(|v| match v {
            Erc7562Violation::UnstakedFactoryStorage { contract, .. } => Some(*contract),
            _ => None,
        })
        .collect()
}

#[test]
fn the_devnet_factories_are_staked_as_bundlers_require() {
    let mut h = Harness::new(EntryPointVersion::V07);
    for version in EntryPointVersion::ALL {
        let factory = h.devnet.addresses.factory(version);
        assert!(h.devnet.is_staked(version, factory).unwrap(), "{version}");
        assert_eq!(
            factory,
            deployment::session_account_factory(version, deployment::DEFAULT_FACTORY_OWNER)
                .address()
        );
    }
    let other = factory_of(&mut h, OPERATOR);
    assert!(!h.devnet.is_staked(EntryPointVersion::V07, other).unwrap());
}

#[test]
fn a_deploying_owner_op_is_flagged_with_an_unstaked_factory_and_clean_with_a_staked_one() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let unstaked = factory_of(&mut h, OPERATOR);
        let op = owner_op_deploying(&mut h, unstaked);
        let (violations, passed) = inspect(&mut h, op, unstaked);
        assert!(
            passed,
            "the EntryPoint itself accepts it; bundlers must not"
        );
        // onInstall's read and write of `_installed[account]` in the validator.
        let flagged = sto_022(&violations);
        assert_eq!(violations.len(), flagged.len(), "{violations:#?}");
        assert!(!flagged.is_empty() && flagged.iter().all(|c| *c == h.validator));

        let staked = h.devnet.addresses.factory(version);
        let op = owner_op_deploying(&mut h, staked);
        let (violations, passed) = inspect(&mut h, op, staked);
        assert!(passed);
        assert!(violations.is_empty(), "{violations:#?}");
    });
}

#[test]
fn a_deploying_first_use_enable_is_flagged_with_an_unstaked_factory_and_clean_with_a_staked_one() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let unstaked = factory_of(&mut h, OPERATOR);
        let op = session_op_deploying(&mut h, unstaked);
        let (violations, passed) = inspect(&mut h, op, unstaked);
        assert!(
            passed,
            "the EntryPoint itself accepts it; bundlers must not"
        );
        // onInstall during deployment, then the session header and epoch during validation.
        let flagged = sto_022(&violations);
        assert!(flagged.len() >= 2, "{violations:#?}");
        assert!(flagged.iter().all(|c| *c == h.validator), "{violations:#?}");

        let staked = h.devnet.addresses.factory(version);
        let op = session_op_deploying(&mut h, staked);
        let (violations, passed) = inspect(&mut h, op, staked);
        assert!(passed);
        assert!(violations.is_empty(), "{violations:#?}");
    });
}

#[test]
fn only_the_stake_owner_stakes_unlocks_and_withdraws_and_a_staked_factory_passes() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let factory = factory_of(&mut h, OPERATOR);
        h.devnet.chain.set_balance(OPERATOR, U256::from(10 * ETHER));
        let stake = SessionAccountFactory::addStakeCall {
            unstakeDelaySec: sessionkeys_chain::deployment::MIN_UNSTAKE_DELAY,
        };
        let one_eth = U256::from(ETHER);
        let stranger = sessionkeys_devnet::devnet::DEVNET_ADMIN;
        let err = h
            .devnet
            .send(stranger, factory, one_eth, &stake)
            .unwrap_err();
        let data = chain_error_data(err);
        assert!(matches!(
            SessionAccountFactory::SessionAccountFactoryErrors::abi_decode(&data),
            Ok(SessionAccountFactory::SessionAccountFactoryErrors::NotStakeOwner(e)) if e.caller == stranger
        ));
        h.devnet.send(OPERATOR, factory, one_eth, &stake).unwrap();
        assert!(h.devnet.is_staked(version, factory).unwrap());
        let op = owner_op_deploying(&mut h, factory);
        let (violations, _) = inspect(&mut h, op, factory);
        assert!(violations.is_empty(), "{violations:#?}");

        // Unlocking makes it unstaked for bundlers at once; others cannot unlock or withdraw.
        let unlock = SessionAccountFactory::unlockStakeCall {};
        assert!(
            h.devnet
                .send(stranger, factory, U256::ZERO, &unlock)
                .is_err()
        );
        h.devnet
            .send(OPERATOR, factory, U256::ZERO, &unlock)
            .unwrap();
        assert!(!h.devnet.is_staked(version, factory).unwrap());
        let withdraw = SessionAccountFactory::withdrawStakeCall { to: stranger };
        assert!(
            h.devnet
                .send(stranger, factory, U256::ZERO, &withdraw)
                .is_err()
        );
        h.devnet
            .chain
            .advance(u64::from(sessionkeys_chain::deployment::MIN_UNSTAKE_DELAY) + 1);
        let before = h.devnet.chain.balance(OPERATOR);
        h.devnet
            .send(
                OPERATOR,
                factory,
                U256::ZERO,
                &SessionAccountFactory::withdrawStakeCall { to: OPERATOR },
            )
            .unwrap();
        assert!(
            h.devnet.chain.balance(OPERATOR) > before,
            "the stake came back"
        );
    });
}

#[test]
fn the_inspector_judges_each_deployment_by_the_factory_it_called() {
    // Being told that some other factory is staked does not excuse an unstaked one.
    each_version(|version| {
        let mut h = Harness::new(version);
        let unstaked = factory_of(&mut h, OPERATOR);
        let staked = h.devnet.addresses.factory(version);
        let op = owner_op_deploying(&mut h, unstaked);
        let inspector =
            Erc7562Inspector::new(version.address()).with_staked_factories(vec![staked]);
        let (_, inspector) = h
            .devnet
            .handle_ops_inspect(version, &[op], inspector)
            .unwrap();
        assert!(
            !sto_022(&inspector.violations).is_empty(),
            "{:#?}",
            inspector.violations
        );
    });
}
