#![doc = include_str!("../README.md")]

pub mod artifacts;
pub mod vocabulary;

/// Session types, the validator's interface, its errors and events, generated from
/// `contracts/src/SessionTypes.sol` (the single source of the ABI shared with Solidity).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod session {
    alloy::sol!(
        // `abi`: the JSON ABI, so refusals print with their argument names (engine's call form).
        #[sol(all_derives, abi)]
        "../../contracts/src/SessionTypes.sol"
    );
}

/// Bindings of our other contracts and fixtures, generated from the committed ABI artifacts.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod abi {
    alloy::sol!(
        #[sol(all_derives)]
        SessionAccount,
        "../../contracts/artifacts/SessionAccount.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        SessionAccountFactory,
        "../../contracts/artifacts/SessionAccountFactory.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        PolicyRegistry,
        "../../contracts/artifacts/PolicyRegistry.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        TestToken,
        "../../contracts/artifacts/TestToken.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        Game,
        "../../contracts/artifacts/Game.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        SponsorPaymaster,
        "../../contracts/artifacts/SponsorPaymaster.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        TestNFT,
        "../../contracts/artifacts/TestNFT.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        TestMultiToken,
        "../../contracts/artifacts/TestMultiToken.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        PackedSpecHarness,
        "../../contracts/artifacts/PackedSpecHarness.json"
    );
}
