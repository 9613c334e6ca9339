//! Reads a session's validator state straight from storage, at the slots docs/storage.md
//! documents, into the engine's [`EvalContext`].

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::advisory::EntryPointRules;
use sessionkeys_engine::{
    Counter, CounterKey, CounterKind, EvalContext, SenderState, SessionHeader, Status,
};
use std::collections::BTreeMap;

const HEADERS_SLOT: u64 = 0;
const EPOCHS_SLOT: u64 = 1;
const COUNTERS_SLOT: u64 = 2;

fn mapping_slot(key: B256, slot: U256) -> U256 {
    U256::from_be_bytes(keccak256((key, slot).abi_encode_params()).0)
}

fn account_key(account: Address) -> B256 {
    account.into_word()
}

/// `_headers[sessionHash][account]`.
pub fn header_slot(session_hash: B256, account: Address) -> U256 {
    let inner = mapping_slot(session_hash, U256::from(HEADERS_SLOT));
    mapping_slot(account_key(account), inner)
}

/// `_epochs[account]`.
pub fn epoch_slot(account: Address) -> U256 {
    mapping_slot(account_key(account), U256::from(EPOCHS_SLOT))
}

/// `_counters[counterKey][account]`.
pub fn counter_slot(session_hash: B256, key: CounterKey, account: Address) -> U256 {
    let id = (U256::from(u8::from(key.kind)) << 32)
        | (U256::from(key.policy) << 16)
        | U256::from(key.constraint);
    let counter_key = keccak256((session_hash, id).abi_encode_params());
    let inner = mapping_slot(counter_key, U256::from(COUNTERS_SLOT));
    mapping_slot(account_key(account), inner)
}

/// Unpacks a header word.
pub fn decode_header(word: U256) -> SessionHeader {
    let bits = |from: usize, width: usize| -> u64 {
        ((word >> from) & ((U256::from(1) << width) - U256::from(1))).to()
    };
    // The contract writes only known statuses; anything else reads as never enabled.
    let status = Status::try_from(bits(0, 8) as u8).unwrap_or_default();
    SessionHeader {
        status,
        epoch: bits(8, 64),
        ops_period: bits(72, 48),
        ops_used: bits(120, 64),
    }
}

/// Unpacks a counter word.
pub fn decode_counter(word: U256) -> Counter {
    Counter {
        period: (word >> 208usize).to::<u64>(),
        used: word & ((U256::from(1) << 208) - U256::from(1)),
    }
}

/// Every counter key a spec can charge (limited budgets only), in the view's order.
pub fn counter_keys(spec: &SessionSpec) -> Vec<CounterKey> {
    let key = |kind, policy: usize, constraint: usize| CounterKey {
        kind,
        policy: policy as u16,
        constraint: constraint as u16,
    };
    let mut keys = Vec::new();
    if !spec.feeLimit.is_unlimited() {
        keys.push(key(CounterKind::Fee, 0, 0));
    }
    for (p, policy) in spec.callPolicies.iter().enumerate() {
        if !policy.valueLimit.is_unlimited() {
            keys.push(key(CounterKind::CallValue, p, 0));
        }
        if !policy.callLimit.is_unlimited() {
            keys.push(key(CounterKind::CallCount, p, 0));
        }
        for (c, constraint) in policy.constraints.iter().enumerate() {
            if !constraint.limit.is_unlimited() {
                keys.push(key(CounterKind::ConstraintSum, p, c));
            }
        }
    }
    for (p, policy) in spec.transferPolicies.iter().enumerate() {
        if !policy.valueLimit.is_unlimited() {
            keys.push(key(CounterKind::TransferValue, p, 0));
        }
    }
    keys
}

/// Where the validator is and what surrounds it, for building contexts.
#[derive(Debug, Clone)]
pub struct ValidatorSetting {
    /// The validator.
    pub validator: Address,
    /// The EntryPoints it bans.
    pub entry_points: [Address; 2],
    /// Its registry, if any.
    pub registry: Option<Address>,
}

/// The validator storage slots an [`EvalContext`] is read from, in the order
/// [`eval_context_from_words`] takes their values: the account's epoch, the session's header,
/// then one slot per key of [`counter_keys`]. For backends that read storage remotely.
pub fn context_slots(account: Address, spec: &SessionSpec, session_hash: B256) -> Vec<U256> {
    let mut slots = vec![epoch_slot(account), header_slot(session_hash, account)];
    slots.extend(
        counter_keys(spec)
            .into_iter()
            .map(|key| counter_slot(session_hash, key, account)),
    );
    slots
}

/// Builds the context from the words at [`context_slots`] (same order). The owner and the
/// installed modules are left empty for the caller to fill.
///
/// # Panics
/// Never: missing words read as zero.
pub fn eval_context_from_words(
    chain_id: u64,
    setting: &ValidatorSetting,
    account: Address,
    spec: &SessionSpec,
    words: &[U256],
) -> EvalContext {
    let word = |i: usize| words.get(i).copied().unwrap_or_default();
    let counters: BTreeMap<CounterKey, Counter> = counter_keys(spec)
        .into_iter()
        .enumerate()
        .map(|(i, key)| (key, decode_counter(word(2 + i))))
        .filter(|(_, c)| *c != Counter::default())
        .collect();
    EvalContext {
        chain_id,
        validator: setting.validator,
        account,
        entry_points: setting.entry_points,
        registry: setting.registry,
        installed_modules: Vec::new(),
        account_epoch: word(0).to(),
        header: decode_header(word(1)),
        counters,
        owner: None,
        sender: SenderState::deployed(EntryPointRules::V07, setting.validator),
    }
}
