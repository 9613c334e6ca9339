//! The engine's context read from the devnet: the validator's storage (through the pure slot
//! readers of `sessionkeys_chain::validator_state`) and what the EntryPoint and the account find
//! before the validator runs.

use crate::evm::DevnetEvm;
use alloy::primitives::{Address, B256, U256};
use sessionkeys_chain::validator_state::{
    ValidatorSetting, context_slots, eval_context_from_words,
};
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::advisory::EntryPointRules;
use sessionkeys_engine::{EvalContext, FactoryOutcome, SenderState, UserOpInput};

/// The engine's context for `spec` on `account`, read from the chain's storage. `session_hash`
/// is the hash the op will carry (the spec's own for canonical encodings).
pub fn eval_context(
    chain: &DevnetEvm,
    setting: &ValidatorSetting,
    account: Address,
    owner: Option<Address>,
    installed_modules: Vec<Address>,
    spec: &SessionSpec,
    session_hash: B256,
) -> EvalContext {
    let slots = context_slots(account, spec, session_hash);
    let words = slots
        .iter()
        .map(|slot| chain.storage(setting.validator, *slot))
        .collect::<Vec<_>>();
    EvalContext {
        owner,
        installed_modules,
        ..eval_context_from_words(chain.chain_id(), setting, account, spec, &words)
    }
}

/// What the EntryPoint and the account will find before the validator runs, read from the
/// chain: code at the sender, what the `initCode`'s factory returns (an `eth_call`), whether a
/// v0.8 EIP-7702 init call reverts, and `installed` plus the nonce key's validator if the
/// account reports it installed.
pub fn sender_state(
    chain: &mut DevnetEvm,
    entry_point: EntryPointRules,
    op: &UserOpInput,
    installed: Vec<Address>,
) -> SenderState {
    use sessionkeys_contracts::abi::SessionAccount;
    let has_code = !chain.code(op.sender).is_empty();
    let mut validators = installed;
    let named = sessionkeys_engine::sender::nonce_validator(op);
    let reports_installed = has_code
        && chain
            .call_typed(
                op.sender,
                &SessionAccount::isModuleInstalledCall {
                    moduleTypeId: U256::from(1),
                    module: named,
                    _2: Default::default(),
                },
            )
            .unwrap_or(false);
    if reports_installed && !validators.contains(&named) {
        validators.push(named);
    }
    let init = &op.init_code;
    let factory = if init.len() >= 20 && !has_code {
        let address = Address::from_slice(&init[..20]);
        match chain.call(address, init.slice(20..)) {
            Ok(out) if out.len() >= 32 => FactoryOutcome::Returns {
                address: Address::from_slice(&out[12..32]),
                deployed: true,
            },
            _ => FactoryOutcome::Fails,
        }
    } else {
        FactoryOutcome::Fails
    };
    let init_call_reverts = init.len() > 20 && chain.call(op.sender, init.slice(20..)).is_err();
    SenderState {
        entry_point,
        has_code,
        factory,
        init_call_reverts,
        validators,
    }
}
