//! Inputs the fuzz targets share: a snapshot to evaluate against, a session from the examples,
//! and the canonical `execute` encoding, built from fuzzer bytes by `arbitrary`.

use alloy::primitives::{Address, B256, U256, address, aliases::U48};
use alloy::sol_types::SolValue;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use sessionkeys_contracts::session::{
    CallPolicy, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{Condition, LimitType, PaymasterMode};
use sessionkeys_engine::{EvalContext, SessionHeader, Status};

/// The account every target's ops come from.
pub const ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");
/// The validator of the snapshot.
pub const VALIDATOR: Address = address!("0x000000000000000000000000000000000000ba11");

/// A snapshot with the session's header and counters as the fuzzer makes them.
pub fn context(header: SessionHeader, account_epoch: u64) -> EvalContext {
    EvalContext {
        chain_id: 31_337,
        validator: VALIDATOR,
        account: ACCOUNT,
        entry_points: [
            address!("0x0000000071727De22E5E9d8BAf0edAc6f37da032"),
            address!("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"),
        ],
        registry: None,
        installed_modules: vec![VALIDATOR],
        account_epoch,
        header,
        counters: Default::default(),
        owner: Some(address!("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")),
        sender: sessionkeys_engine::SenderState::deployed(
            sessionkeys_engine::advisory::EntryPointRules::V07,
            VALIDATOR,
        ),
    }
}

/// A usage limit from fuzzer bytes; the type is kept small so every branch is reached.
#[derive(Arbitrary, Debug, Clone)]
pub struct LimitInput {
    kind: u8,
    limit: [u8; 32],
    small: bool,
    period: u64,
}

impl LimitInput {
    fn limit(&self) -> UsageLimit {
        let limit = U256::from_be_bytes(self.limit);
        UsageLimit {
            limitType: self.kind % (LimitType::UNKNOWN + 1),
            // Small limits make budgets run out within a few ops.
            limit: if self.small {
                limit % U256::from(1000)
            } else {
                limit
            },
            period: U48::from(self.period & ((1 << 48) - 1)),
        }
    }
}

/// A constraint from fuzzer bytes.
#[derive(Arbitrary, Debug, Clone)]
pub struct ConstraintInput {
    index: u8,
    condition: u8,
    bits: u16,
    reference: [u8; 32],
    one_of: Vec<[u8; 32]>,
    limit: LimitInput,
}

/// A call policy from fuzzer bytes.
#[derive(Arbitrary, Debug, Clone)]
pub struct CallPolicyInput {
    target: [u8; 20],
    selector: [u8; 4],
    max_value_per_use: u64,
    value_limit: LimitInput,
    call_limit: LimitInput,
    constraints: Vec<ConstraintInput>,
}

/// A session spec from fuzzer bytes: any field any value, so malformed specs too.
#[derive(Arbitrary, Debug, Clone)]
pub struct SpecInput {
    signer: [u8; 20],
    valid_after: u64,
    valid_until: u64,
    fee_limit: LimitInput,
    paymaster_mode: u8,
    paymaster: [u8; 20],
    op_limit: LimitInput,
    call_policies: Vec<CallPolicyInput>,
    transfer_policies: Vec<([u8; 20], u64, LimitInput)>,
    salt: [u8; 32],
}

impl SpecInput {
    /// The spec.
    pub fn spec(&self) -> SessionSpec {
        let time = |t: u64| U48::from(t & ((1 << 48) - 1));
        SessionSpec {
            signer: Address::from(self.signer),
            validAfter: time(self.valid_after),
            validUntil: time(self.valid_until),
            feeLimit: self.fee_limit.limit(),
            paymasterMode: self.paymaster_mode % (PaymasterMode::UNKNOWN + 1),
            paymaster: Address::from(self.paymaster),
            opLimit: self.op_limit.limit(),
            callPolicies: self
                .call_policies
                .iter()
                .map(|p| CallPolicy {
                    target: Address::from(p.target),
                    selector: p.selector.into(),
                    maxValuePerUse: U256::from(p.max_value_per_use),
                    valueLimit: p.value_limit.limit(),
                    callLimit: p.call_limit.limit(),
                    constraints: p
                        .constraints
                        .iter()
                        .map(|c| Constraint {
                            index: c.index.into(),
                            condition: c.condition % (Condition::UNKNOWN + 1),
                            bits: c.bits % 258,
                            refValue: c.reference.into(),
                            oneOf: c.one_of.iter().map(|w| B256::from(*w)).collect(),
                            limit: c.limit.limit(),
                        })
                        .collect(),
                })
                .collect(),
            transferPolicies: self
                .transfer_policies
                .iter()
                .map(|(target, max, limit)| TransferPolicy {
                    target: Address::from(*target),
                    maxValuePerUse: U256::from(*max),
                    valueLimit: limit.limit(),
                })
                .collect(),
            salt: self.salt.into(),
        }
    }
}

/// A call from fuzzer bytes: to one of the spec's policies (so it gets past the policy
/// lookup) or anywhere.
#[derive(Arbitrary, Debug, Clone)]
pub struct CallInput {
    policy: Option<u8>,
    target: [u8; 20],
    value: u64,
    words: Vec<[u8; 32]>,
    tail: Vec<u8>,
}

/// One call: target, value, data.
pub type Call = (Address, U256, Vec<u8>);

impl CallInput {
    /// The call, aimed at `spec`'s policies when `policy` is set.
    pub fn call(&self, spec: &SessionSpec) -> Call {
        let mut data = Vec::new();
        let target = match self.policy {
            Some(p) if !spec.callPolicies.is_empty() => {
                let policy = &spec.callPolicies[p as usize % spec.callPolicies.len()];
                data.extend_from_slice(policy.selector.as_slice());
                policy.target
            }
            Some(p) if !spec.transferPolicies.is_empty() => {
                spec.transferPolicies[p as usize % spec.transferPolicies.len()].target
            }
            _ => Address::from(self.target),
        };
        if !data.is_empty() || self.policy.is_none() {
            for word in &self.words {
                data.extend_from_slice(word);
            }
            data.extend_from_slice(&self.tail);
        }
        (target, U256::from(self.value), data)
    }
}

#[allow(missing_docs)]
mod abi {
    alloy::sol! {
        struct Execution { address target; uint256 value; bytes callData; }
        function execute(bytes32 mode, bytes executionCalldata);
    }
}

/// `execute(mode, …)` exactly as `ExecutionLib` accepts it: one call packed, several as
/// `abi.encode(Execution[])`.
pub fn encode_execute(calls: &[Call], batch: bool) -> Vec<u8> {
    use alloy::sol_types::SolCall;
    let mut mode = [0u8; 32];
    let payload = if batch {
        mode[0] = 1;
        calls
            .iter()
            .map(|(target, value, data)| abi::Execution {
                target: *target,
                value: *value,
                callData: data.clone().into(),
            })
            .collect::<Vec<_>>()
            .abi_encode()
    } else {
        let (target, value, data) = calls.first().cloned().unwrap_or_default();
        [target.as_slice(), &value.to_be_bytes::<32>(), &data].concat()
    };
    abi::executeCall {
        mode: mode.into(),
        executionCalldata: payload.into(),
    }
    .abi_encode()
}

/// The header of the snapshot from fuzzer bytes.
#[derive(Arbitrary, Debug, Clone)]
pub struct HeaderInput {
    status: u8,
    epoch: u64,
    ops_period: u64,
    ops_used: u64,
}

impl HeaderInput {
    /// The header.
    pub fn header(&self) -> SessionHeader {
        SessionHeader {
            status: Status::ALL[usize::from(self.status) % Status::ALL.len()],
            epoch: self.epoch % 4,
            ops_period: self.ops_period,
            ops_used: self.ops_used,
        }
    }
}

/// Fails the run unless `ok` holds: a broken invariant is a crash like a panic.
pub fn require(ok: bool, what: &str) {
    assert!(ok, "invariant broken: {what}");
}

/// The example sessions, for targets that need a valid spec.
pub fn example_sessions() -> Vec<SessionSpec> {
    [
        include_str!("../../examples/sessions/usdc-spending-limit.json"),
        include_str!("../../examples/sessions/agent-daily-allowance.json"),
        include_str!("../../examples/sessions/game.json"),
        include_str!("../../examples/simulate/session.json"),
    ]
    .iter()
    .filter_map(|text| {
        sessionkeys_engine::format::parse_session_json(text)
            .ok()?
            .to_spec(Some(address!("0x0000000000000000000000000000000000005e55")))
            .ok()
    })
    .collect()
}
