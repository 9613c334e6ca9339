//! SessionAccount receives ERC-721 and ERC-1155 safe transfers (which revert on a contract
//! that does not answer the receiver hook), as a clone and as an EIP-7702-delegated EOA.
mod common;

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use common::*;
use sessionkeys_contracts::abi::{SessionAccount, TestMultiToken, TestNFT};
use sessionkeys_contracts::artifacts;
use sessionkeys_devnet::devnet::DEVNET_ADMIN;

const HOLDER: Address = alloy::primitives::address!("0x00000000000000000000000000000000000a11ce");

fn deploy(h: &mut Harness, code: &[u8]) -> Address {
    h.devnet
        .chain
        .deploy_create2(DEVNET_ADMIN, B256::ZERO, code)
        .unwrap()
}

/// HOLDER calls `target`; panics if the call reverts.
fn send<C: SolCall>(h: &mut Harness, target: Address, call: &C) {
    let outcome = h
        .devnet
        .chain
        .transact(HOLDER, target, U256::ZERO, call.abi_encode().into())
        .unwrap();
    assert!(outcome.success, "{}: {:?}", C::SIGNATURE, outcome.output);
}

/// Sends HOLDER's NFT and multi-tokens to `to` with safe transfers; panics if any reverts.
fn safe_transfers_to(h: &mut Harness, to: Address) {
    h.devnet.chain.set_balance(HOLDER, U256::from(ETHER));
    let nft = deploy(h, &artifacts::test_nft().bytecode);
    let multi = deploy(h, &artifacts::test_multi_token().bytecode);
    let mint = TestNFT::mintCall {
        to: HOLDER,
        tokenId: U256::from(7),
    };
    send(h, nft, &mint);
    let transfer = TestNFT::safeTransferFromCall {
        from: HOLDER,
        to,
        tokenId: U256::from(7),
    };
    send(h, nft, &transfer);
    let owner: Address = h
        .devnet
        .chain
        .call_typed(
            nft,
            &TestNFT::ownerOfCall {
                tokenId: U256::from(7),
            },
        )
        .unwrap();
    assert_eq!(owner, to);

    // Minting to the account itself calls onERC1155Received.
    let mint = TestMultiToken::mintCall {
        to,
        id: U256::from(1),
        amount: U256::from(5),
    };
    send(h, multi, &mint);
    for id in [1u64, 2] {
        let mint = TestMultiToken::mintCall {
            to: HOLDER,
            id: U256::from(id),
            amount: U256::from(10),
        };
        send(h, multi, &mint);
    }
    let single = TestMultiToken::safeTransferFromCall {
        from: HOLDER,
        to,
        id: U256::from(1),
        amount: U256::from(3),
        _4: Default::default(),
    };
    send(h, multi, &single);
    let batch = TestMultiToken::safeBatchTransferFromCall {
        from: HOLDER,
        to,
        ids: vec![U256::from(1), U256::from(2)],
        amounts: vec![U256::from(2), U256::from(4)],
        _4: Default::default(),
    };
    send(h, multi, &batch);
    let balance = |h: &mut Harness, id: u64| -> U256 {
        h.devnet
            .chain
            .call_typed(
                multi,
                &TestMultiToken::balanceOfCall {
                    id: U256::from(id),
                    holder: to,
                },
            )
            .unwrap()
    };
    assert_eq!(balance(h, 1), U256::from(5 + 3 + 2));
    assert_eq!(balance(h, 2), U256::from(4));
}

#[test]
fn a_clone_receives_erc721_and_erc1155_safe_transfers() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let account = h.account;
        safe_transfers_to(&mut h, account);
    });
}

#[test]
fn a_delegated_eoa_receives_erc721_and_erc1155_safe_transfers() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let eoa = h.delegate_owner_eoa();
        safe_transfers_to(&mut h, eoa);
    });
}

#[test]
fn the_account_declares_its_receiver_interfaces_through_erc165() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let account = h.account;
    let mut supports = |id: [u8; 4]| -> bool {
        h.devnet
            .chain
            .call_typed(
                account,
                &SessionAccount::supportsInterfaceCall {
                    interfaceId: id.into(),
                },
            )
            .unwrap()
    };
    assert!(supports([0x01, 0xff, 0xc9, 0xa7]), "ERC-165");
    assert!(supports([0x15, 0x0b, 0x7a, 0x02]), "ERC-721 receiver");
    assert!(supports([0x4e, 0x23, 0x12, 0xe0]), "ERC-1155 receiver");
    assert!(
        !supports([0xff, 0xff, 0xff, 0xff]),
        "ERC-165 requires false for 0xffffffff"
    );
    assert!(!supports([0x12, 0x34, 0x56, 0x78]));
}
