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

/// The largest amount the header slot's hosted counter holds (136 bits).
pub const MAX_HOSTED: U256 = U256::from_limbs([u64::MAX, u64::MAX, 0xff, 0]);

/// The budget whose counter the session's header slot hosts (docs/storage.md): the op count when
/// limited, else the fee budget when limited, else the first limited budget of the leaf at
/// position 0 (the first call policy, or the first transfer policy of a session without call
/// policies) — the fee or leaf budget only when its limit fits in 136 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosted {
    /// The op count (the engine's header fields).
    Ops,
    /// The counter of this budget.
    Counter(CounterKey),
    /// Nothing: every counter has its own slot.
    Nothing,
}

/// Which budget the header slot of `spec`'s session hosts.
pub fn hosted(spec: &SessionSpec) -> Hosted {
    use sessionkeys_contracts::session::UsageLimit;
    if !spec.opLimit.is_unlimited() {
        return Hosted::Ops;
    }
    let key = |kind, constraint: usize| CounterKey {
        kind,
        policy: 0,
        constraint: constraint as u16,
    };
    let mut leaf: Vec<(CounterKey, &UsageLimit)> = Vec::new();
    if !spec.feeLimit.is_unlimited() {
        leaf.push((key(CounterKind::Fee, 0), &spec.feeLimit));
    } else if let Some(policy) = spec.callPolicies.first() {
        leaf.push((key(CounterKind::CallValue, 0), &policy.valueLimit));
        leaf.push((key(CounterKind::CallCount, 0), &policy.callLimit));
        for (c, constraint) in policy.constraints.iter().enumerate() {
            leaf.push((key(CounterKind::ConstraintSum, c), &constraint.limit));
        }
    } else if let Some(policy) = spec.transferPolicies.first() {
        leaf.push((key(CounterKind::TransferValue, 0), &policy.valueLimit));
    }
    match leaf.into_iter().find(|(_, limit)| !limit.is_unlimited()) {
        Some((key, limit)) if limit.limit <= MAX_HOSTED => Hosted::Counter(key),
        _ => Hosted::Nothing,
    }
}

/// Unpacks a header word into status, epoch and the hosted counter: in the header's op fields
/// when the op count is hosted (zero otherwise), or as the hosted budget's counter.
pub fn decode_header(word: U256, hosted: Hosted) -> (SessionHeader, Option<(CounterKey, Counter)>) {
    let bits = |from: usize, width: usize| -> U256 {
        (word >> from) & ((U256::from(1) << width) - U256::from(1))
    };
    // The contract writes only known statuses; anything else reads as never enabled.
    let status = Status::try_from(bits(0, 8).to::<u8>()).unwrap_or_default();
    let period = bits(72, 48).to::<u64>();
    let used = bits(120, 136);
    let mut header = SessionHeader {
        status,
        epoch: bits(8, 64).to(),
        ops_period: 0,
        ops_used: 0,
    };
    match hosted {
        Hosted::Ops => {
            header.ops_period = period;
            // The op limit is at most 2^64 - 1 (rule 9), so a stored count fits.
            header.ops_used = used.saturating_to();
            (header, None)
        }
        Hosted::Counter(key) => (header, Some((key, Counter { period, used }))),
        Hosted::Nothing => (header, None),
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
    let (header, hosted_counter) = decode_header(word(1), hosted(spec));
    let counters: BTreeMap<CounterKey, Counter> = counter_keys(spec)
        .into_iter()
        .enumerate()
        .map(|(i, key)| match hosted_counter {
            Some((hosted_key, counter)) if hosted_key == key => (key, counter),
            _ => (key, decode_counter(word(2 + i))),
        })
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
        header,
        counters,
        owner: None,
        sender: SenderState::deployed(EntryPointRules::V07, setting.validator),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;
    use sessionkeys_contracts::session::{CallPolicy, Constraint, TransferPolicy, UsageLimit};
    use sessionkeys_contracts::vocabulary::LimitType;

    fn spec() -> SessionSpec {
        SessionSpec {
            signer: Address::repeat_byte(1),
            validAfter: Default::default(),
            validUntil: alloy::primitives::aliases::U48::from(1000u64),
            feeLimit: UsageLimit::unlimited(),
            paymasterMode: sessionkeys_contracts::vocabulary::PaymasterMode::None.into(),
            paymaster: Address::ZERO,
            opLimit: UsageLimit::unlimited(),
            callPolicies: vec![],
            transferPolicies: vec![],
            salt: B256::ZERO,
        }
    }

    fn call(constraint_limit: UsageLimit) -> CallPolicy {
        CallPolicy {
            target: Address::repeat_byte(2),
            selector: [1, 2, 3, 4].into(),
            maxValuePerUse: U256::ZERO,
            valueLimit: UsageLimit::unlimited(),
            callLimit: UsageLimit::unlimited(),
            constraints: vec![
                Constraint::unconstrained(0),
                Constraint::unconstrained(1).with_limit(constraint_limit),
            ],
        }
    }

    fn key(kind: CounterKind, policy: u16, constraint: u16) -> CounterKey {
        CounterKey {
            kind,
            policy,
            constraint,
        }
    }

    #[test]
    fn the_op_count_then_the_fee_then_the_first_leaf_is_hosted() {
        let mut s = spec();
        assert_eq!(hosted(&s), Hosted::Nothing);
        s.callPolicies = vec![call(UsageLimit::lifetime(5))];
        assert_eq!(
            hosted(&s),
            Hosted::Counter(key(CounterKind::ConstraintSum, 0, 1))
        );
        s.feeLimit = UsageLimit::lifetime(7);
        assert_eq!(hosted(&s), Hosted::Counter(key(CounterKind::Fee, 0, 0)));
        s.opLimit = UsageLimit::lifetime(3);
        assert_eq!(hosted(&s), Hosted::Ops);
    }

    #[test]
    fn a_transfer_policy_is_at_position_zero_only_without_call_policies() {
        let mut s = spec();
        s.transferPolicies = vec![TransferPolicy {
            target: Address::repeat_byte(3),
            maxValuePerUse: U256::from(10),
            valueLimit: UsageLimit::lifetime(100),
        }];
        assert_eq!(
            hosted(&s),
            Hosted::Counter(key(CounterKind::TransferValue, 0, 0))
        );
        s.callPolicies = vec![call(UsageLimit::unlimited())];
        assert_eq!(hosted(&s), Hosted::Nothing);
    }

    #[test]
    fn a_limit_beyond_136_bits_hosts_nothing() {
        let mut s = spec();
        let wide = UsageLimit::new(LimitType::Lifetime, MAX_HOSTED + U256::from(1), 0);
        s.callPolicies = vec![call(wide)];
        assert_eq!(hosted(&s), Hosted::Nothing);
        s.callPolicies = vec![call(UsageLimit::new(LimitType::Lifetime, MAX_HOSTED, 0))];
        assert_eq!(
            hosted(&s),
            Hosted::Counter(key(CounterKind::ConstraintSum, 0, 1))
        );
    }

    #[test]
    fn the_header_word_splits_into_status_epoch_and_the_hosted_counter() {
        let word =
            U256::from(1) | (U256::from(9) << 8) | (U256::from(4) << 72) | (MAX_HOSTED << 120);
        let sum = key(CounterKind::ConstraintSum, 0, 1);
        let (header, counter) = decode_header(word, Hosted::Counter(sum));
        assert_eq!(
            (header.status, header.epoch, header.ops_used),
            (Status::Active, 9, 0)
        );
        assert_eq!(
            counter,
            Some((
                sum,
                Counter {
                    period: 4,
                    used: MAX_HOSTED
                }
            ))
        );
        let (header, counter) = decode_header(U256::from(1) | (U256::from(6) << 120), Hosted::Ops);
        assert_eq!((header.ops_used, counter), (6, None));
    }
}
