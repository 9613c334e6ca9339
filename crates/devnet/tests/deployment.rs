//! The devnet deploys the canonical EntryPoints and our contracts.
mod common;

use alloy::primitives::{Address, U256, keccak256};
use common::*;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::{EntryPointArtifact, EntryPointVersion};
use sessionkeys_devnet::evm::DETERMINISTIC_DEPLOYER;

#[test]
fn entrypoints_deploy_to_their_canonical_addresses_from_the_npm_code() {
    let mut devnet = devnet();
    for version in EntryPointVersion::ALL {
        let init = version.load_creation_code().unwrap();
        assert_eq!(
            DETERMINISTIC_DEPLOYER.create2(version.salt(), keccak256(&init)),
            version.address()
        );
        let code = devnet.chain.code(version.address());
        assert!(code.len() > 10_000, "{version} runtime code is deployed");
        // The EntryPoint answers as an EntryPoint: a fresh sender's nonce is 0.
        assert_eq!(
            devnet.nonce(version, ALICE, Default::default()).unwrap(),
            U256::ZERO
        );
    }
}

#[test]
fn a_missing_entrypoint_package_is_reported_with_the_install_command() {
    let error = sessionkeys_chain::ChainError::EntryPointNotInstalled {
        version: "v0.7",
        searched: vec![],
    };
    assert!(error.to_string().contains("npm ci --prefix contracts"));
}

#[test]
fn the_owner_moves_tokens_with_an_owner_signed_op() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let usdc = h.usdc();
        h.owner_exec(&[usdc_transfer(usdc, ALICE, 5 * USDC)]);
        assert_eq!(h.usdc_balance(ALICE), U256::from(5 * USDC + 1));
    });
}

#[test]
fn an_op_signed_by_another_key_fails_owner_validation() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let usdc = h.usdc();
        let mut op = h.owner_op(&[usdc_transfer(usdc, ALICE, 1)]);
        let hash = h.devnet.user_op_hash(version, &op).unwrap();
        op.signature = sessionkeys_chain::signing::sign_digest(&key(9), hash);
        assert_eq!(h.submit(op).unwrap_entrypoint(), "AA24 signature error");
    });
}

#[test]
fn installing_a_module_twice_reverts_in_execution_with_a_decoded_reason() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let validator = h.validator;
        let install = sessionkeys_contracts::abi::SessionAccount::installModuleCall {
            moduleTypeId: U256::from(1),
            module: validator,
            initData: Default::default(),
        };
        let account = h.account;
        let op = h.owner_op(&[Call::typed(account, &install)]);
        assert!(
            matches!(h.submit(op), Verdict::ExecutionReverted(_)),
            "installing twice reverts in execution"
        );
    });
}

#[test]
fn each_validator_reports_the_contracts_it_was_deployed_with() {
    use sessionkeys_contracts::session::ISessionKeyValidator;
    let mut devnet = devnet();
    let addresses = devnet.addresses;
    let spec_checks = sessionkeys_chain::deployment::session_spec_checks().address();
    for (validator, registry) in [
        (addresses.validator, Address::ZERO),
        (addresses.registry_validator, addresses.registry),
    ] {
        let settings = devnet
            .chain
            .call_typed(validator, &ISessionKeyValidator::settingsCall {})
            .unwrap();
        assert_eq!(settings.entryPointV07, EntryPointVersion::V07.address());
        assert_eq!(settings.entryPointV08, EntryPointVersion::V08.address());
        assert_eq!(settings.registry, registry, "the registry of {validator}");
        assert_eq!(settings.specChecks, spec_checks);
    }
}
