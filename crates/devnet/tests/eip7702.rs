//! SessionAccount as an EIP-7702 delegation target: the EOA is its own owner (rule 20).
mod common;

use alloy::primitives::{Address, U256};
use alloy::sol_types::{SolCall, SolInterface};
use common::*;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_contracts::abi::{SessionAccount, TestToken};
use sessionkeys_contracts::session::ISessionKeyValidator as V;
use sessionkeys_devnet::devnet::DEVNET_ADMIN;

/// A harness whose account is the owner's EOA, delegated to the SessionAccount implementation
/// of the version's factory, funded, holding USDC, with no module installed yet.
fn delegated_eoa(version: sessionkeys_chain::EntryPointVersion) -> Harness {
    let mut h = Harness::new(version);
    let eoa = h.delegate_owner_eoa();
    h.devnet
        .chain
        .set_balance(eoa, U256::from(10u64) * U256::from(ETHER));
    let usdc = h.usdc();
    h.devnet
        .send(
            DEVNET_ADMIN,
            usdc,
            U256::ZERO,
            &TestToken::mintCall {
                to: eoa,
                amount: U256::from(1000 * USDC),
            },
        )
        .unwrap();
    h.account = eoa;
    h
}

fn install_validator(h: &mut Harness) {
    let (account, validator) = (h.account, h.validator);
    let install = SessionAccount::installModuleCall {
        moduleTypeId: U256::from(1),
        module: validator,
        initData: Default::default(),
    };
    h.owner_exec(&[Call::typed(account, &install)]);
}

#[test]
fn a_delegated_eoa_is_its_own_owner_and_runs_a_session() {
    each_version(|version| {
        let mut h = delegated_eoa(version);
        let account = h.account;
        let owner = h
            .devnet
            .chain
            .call_typed(account, &SessionAccount::ownerCall {})
            .unwrap();
        assert_eq!(owner, account, "the EOA owns itself");
        install_validator(&mut h);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::lifetime(100 * USDC),
        )];
        h.enable(&spec);
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 7 * USDC)]);
        h.submit(op).unwrap_ok();
        assert_eq!(h.usdc_balance(ALICE), U256::from(7 * USDC + 1));
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, 94 * USDC)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::LimitExceeded(_)
        ));
    });
}

#[test]
fn nobody_can_initialise_a_delegated_eoa_with_their_own_owner() {
    each_version(|version| {
        let mut h = delegated_eoa(version);
        let attacker = key(9).address();
        h.devnet.chain.set_balance(attacker, U256::from(ETHER));
        let init = SessionAccount::initializeCall {
            owner_: attacker,
            validators: vec![],
        };
        let account = h.account;
        let outcome = h
            .devnet
            .chain
            .transact(attacker, account, U256::ZERO, init.abi_encode().into())
            .unwrap();
        assert!(!outcome.success);
        let error = SessionAccount::SessionAccountErrors::abi_decode(&outcome.output).unwrap();
        assert!(
            matches!(error, SessionAccount::SessionAccountErrors::InitializationRefused(e) if e.caller == attacker)
        );
        let owner = h
            .devnet
            .chain
            .call_typed(account, &SessionAccount::ownerCall {})
            .unwrap();
        assert_eq!(owner, account);
    });
}

#[test]
fn the_eoa_revokes_with_a_plain_transaction_outside_the_mempool() {
    // Rule 19: even with the mempool full of a hostile session's ops, the EOA sends a plain
    // transaction to itself.
    each_version(|version| {
        let mut h = delegated_eoa(version);
        install_validator(&mut h);
        let mut spec = h.spec();
        let usdc = h.usdc();
        spec.callPolicies = vec![usdc_policy(
            usdc,
            &[ALICE],
            UsageLimit::lifetime(100 * USDC),
        )];
        let hash = h.enable(&spec);
        let (account, validator) = (h.account, h.validator);
        let revoke = Call::typed(validator, &V::revokeSessionCall { sessionHash: hash });
        let tx = h
            .devnet
            .chain
            .transact(account, account, U256::ZERO, encode_calls(&[revoke]))
            .unwrap();
        assert!(tx.success, "a self-call from the EOA may execute");
        let op = h.session_op(&spec, &[usdc_transfer(usdc, ALICE, USDC)]);
        assert!(matches!(
            h.submit(op).unwrap_refused(),
            VErr::SessionRevoked(_)
        ));
        // A stranger's plain transaction is refused.
        let stranger: Address = key(8).address();
        h.devnet.chain.set_balance(stranger, U256::from(ETHER));
        let call = encode_calls(&[usdc_transfer(usdc, stranger, USDC)]);
        let tx = h
            .devnet
            .chain
            .transact(stranger, account, U256::ZERO, call)
            .unwrap();
        assert!(!tx.success);
    });
}

#[test]
fn a_delegated_eoa_accepts_its_own_raw_signature_and_erc7739_wrapping() {
    // Under EIP-7702 the account is the EOA: no other account can present its raw signature,
    // so ERC-1271 accepts it as the EOA itself would be checked (ecrecover).
    use alloy::primitives::{B256, Bytes};
    use alloy::signers::SignerSync;
    each_version(|version| {
        let mut h = delegated_eoa(version);
        let eoa = h.account;
        let hash = B256::repeat_byte(0x42);
        let raw = h.owner.sign_hash_sync(&hash).unwrap().as_bytes().to_vec();
        let mut check = |signature: Vec<u8>| {
            h.devnet
                .chain
                .call_typed(
                    eoa,
                    &SessionAccount::isValidSignatureCall {
                        hash,
                        signature: Bytes::from(signature),
                    },
                )
                .unwrap()
                .0
        };
        assert_eq!(check(raw.clone()), [0x16, 0x26, 0xba, 0x7e]);
        // Another key's raw signature is refused.
        let stranger = key(9).sign_hash_sync(&hash).unwrap().as_bytes().to_vec();
        assert_eq!(check(stranger), [0xff, 0xff, 0xff, 0xff]);
        // ERC-7739 PersonalSign wrapping in the EOA's own domain works too.
        let separator = alloy::sol_types::eip712_domain! {
            name: "SessionAccount",
            version: "1",
            chain_id: 31337,
            verifying_contract: eoa,
        }
        .separator();
        let personal = alloy::primitives::keccak256(alloy::sol_types::SolValue::abi_encode(&(
            alloy::primitives::keccak256("PersonalSign(bytes prefixed)"),
            hash,
        )));
        let digest = alloy::primitives::keccak256(
            [
                &[0x19u8, 0x01][..],
                separator.as_slice(),
                personal.as_slice(),
            ]
            .concat(),
        );
        let wrapped = h.owner.sign_hash_sync(&digest).unwrap().as_bytes().to_vec();
        assert_eq!(check(wrapped), [0x16, 0x26, 0xba, 0x7e]);
    });
}
