//! The engine's verdict on a sequence of ops, offline — no chain, no keys: what `sessionkeys
//! check` prints and what the engine's WebAssembly build (`packages/engine`) answers, from
//! the same function so the two cannot differ. Each allowed op's charges carry over to the
//! next, as on-chain.

use crate::execution::{Call, encode_calls};
use crate::userop::{nonce_key, nonce_with_key, session_lane};
use crate::{EntryPointVersion, UserOperation};
use alloy::primitives::{Address, B256, Bytes, U256, address};
use serde::Serialize;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_contracts::vocabulary::SignatureMode;
use sessionkeys_engine::advisory::{EntryPointVerdict, entry_point_verdict};
use sessionkeys_engine::evaluate::{SessionOp, evaluate_session_op};
use sessionkeys_engine::format::FormatError;
use sessionkeys_engine::format::ops::{OpsFile, hex_bytes, parse_time};
use sessionkeys_engine::format::usage::UsageFile;
use sessionkeys_engine::sender::check_paymaster_and_data;
use sessionkeys_engine::{EvalContext, SenderState, SessionHeader, Status, Violation};

/// Stands in for a signer the session file leaves out (the pre-check verifies no signature).
pub const PLACEHOLDER_SIGNER: Address = address!("0x000000000000000000000000000000000000dEaD");

/// The account `check` judges for when none is given.
pub const DEFAULT_ACCOUNT: Address = address!("0x00000000000000000000000000000000000acc01");

/// The validator `check` judges under when none is given.
pub const DEFAULT_VALIDATOR: Address = address!("0x000000000000000000000000000000000000ba11");

/// The chain `check` judges on when none is given (anvil's).
pub const DEFAULT_CHAIN_ID: u64 = 31_337;

/// The `maxFeePerGas` of each op when none is given: 1 gwei.
pub const DEFAULT_MAX_FEE_PER_GAS: u128 = 1_000_000_000;

/// Where and when the ops are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// The account (for the banned-target checks).
    pub account: Address,
    /// The validator (for the banned-target checks and the nonce lane).
    pub validator: Address,
    /// The chain id.
    pub chain_id: u64,
    /// `maxFeePerGas` of each op, in wei (gas limits: 200k verification, 200k call, 60k
    /// pre-verification).
    pub max_fee_per_gas: u128,
    /// The EntryPoint whose rules judge the time window.
    pub entry_point: EntryPointVersion,
    /// The time of the first op (unix seconds); an op's `at` moves it.
    pub at: u64,
}

impl CheckOptions {
    /// The defaults of `sessionkeys check`, at time `at`.
    pub fn at(at: u64) -> Self {
        Self {
            account: DEFAULT_ACCOUNT,
            validator: DEFAULT_VALIDATOR,
            chain_id: DEFAULT_CHAIN_ID,
            max_fee_per_gas: DEFAULT_MAX_FEE_PER_GAS,
            entry_point: EntryPointVersion::V07,
            at,
        }
    }
}

/// One op's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpVerdict {
    /// Its place in the file.
    pub op: usize,
    /// The time it was judged at.
    pub time: u64,
    /// `ok`, `refused: ErrorName(args)`, `entrypoint: …`, or `signature failed`.
    pub verdict: String,
    /// The validator's error name, when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why, as a sentence (null when the op passed).
    pub reason: Option<String>,
}

impl OpVerdict {
    /// Whether the op would pass.
    pub fn passed(&self) -> bool {
        self.verdict == "ok"
    }
}

/// The verdicts of a whole ops file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The session's hash.
    pub session_hash: B256,
    /// One verdict per op, in order.
    pub ops: Vec<OpVerdict>,
}

/// The ops file asked for something it cannot be: a bad field, an unknown name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckInputError(pub String);

impl From<FormatError> for CheckInputError {
    fn from(error: FormatError) -> Self {
        Self(error.to_string())
    }
}

/// Judges each op of `ops` under `spec`, after `usage`, as the validator and the EntryPoint
/// would; `resolve` turns a call's `to` that is a name (`usdc`, `account`) into an address
/// (given the name and the field's path).
///
/// # Errors
/// A field of the ops file that cannot be read, or a name `resolve` does not know.
pub fn check_ops(
    spec: &SessionSpec,
    ops: &OpsFile,
    usage: &UsageFile,
    options: &CheckOptions,
    resolve: &mut dyn FnMut(&str, &str) -> Result<Address, CheckInputError>,
) -> Result<CheckReport, CheckInputError> {
    let rules = options.entry_point;
    let mut ctx = EvalContext {
        chain_id: options.chain_id,
        validator: options.validator,
        account: options.account,
        entry_points: [
            EntryPointVersion::V07.address(),
            EntryPointVersion::V08.address(),
        ],
        registry: None,
        installed_modules: vec![options.validator],
        account_epoch: 0,
        header: SessionHeader {
            status: Status::Active,
            epoch: 0,
            ops_period: usage.ops_period,
            ops_used: usage.ops_used,
        },
        counters: usage.counters(),
        owner: None,
        sender: SenderState::deployed(rules, options.validator),
    };
    let hash = sessionkeys_engine::session_hash(spec)
        .map_err(|e| CheckInputError(format!("the session: {e}")))?;
    // Gas of a typical session op (validation ~100k, a token call, bundler overhead): the fee
    // budget is charged at maxFeePerGas × all of it (rule 11).
    let mut defaults = UserOperation::new(options.account, U256::ZERO, Default::default());
    defaults.verification_gas_limit = 200_000;
    defaults.call_gas_limit = 200_000;
    defaults.pre_verification_gas = U256::from(60_000);
    defaults.max_fee_per_gas = options.max_fee_per_gas;
    defaults.max_priority_fee_per_gas = options.max_fee_per_gas.min(1_000_000_000);
    let defaults = defaults.pack();
    let mut time = options.at;
    let mut verdicts = Vec::with_capacity(ops.ops.len());
    for (i, op) in ops.ops.iter().enumerate() {
        let path = format!("ops[{i}]");
        if let Some(at) = &op.at {
            time = parse_time(at, time, &format!("{path}.at"))?;
        }
        let call_data = match op.raw_call_data(&path)? {
            Some(raw) => raw,
            None => {
                let calls: Vec<Call> = op
                    .calls(&path, resolve)?
                    .into_iter()
                    .map(|c| Call {
                        to: c.to,
                        value: c.value,
                        data: c.data,
                    })
                    .collect();
                encode_calls(&calls)
            }
        };
        let key = op
            .nonce_key(&path)?
            .unwrap_or_else(|| nonce_key(options.validator, session_lane(hash)));
        let paymaster_and_data: Bytes = match op.paymaster_and_data.as_deref() {
            None => Bytes::new(),
            Some(raw) => hex_bytes(raw, &format!("{path}.paymasterAndData"))?,
        };
        let session_op = SessionOp {
            sender: options.account,
            spec,
            session_hash: hash,
            mode: SignatureMode::Use,
            time_hint: op.time_hint(time, &path)?,
            nonce: nonce_with_key(key, 0),
            call_data: &call_data,
            account_gas_limits: defaults.accountGasLimits,
            pre_verification_gas: defaults.preVerificationGas,
            gas_fees: defaults.gasFees,
            paymaster_and_data: &paymaster_and_data,
            chains: &[],
            signatures: None,
        };
        let checked = check_paymaster_and_data(rules, &paymaster_and_data)
            .and_then(|_| evaluate_session_op(&ctx, &session_op));
        let (verdict, error, reason) = match checked {
            Err(Violation::EntryPoint(reason)) => (format!("entrypoint: {reason}"), None, None),
            Err(violation) => (
                format!("refused: {}", violation.call_form()),
                Some(violation.name().to_string()),
                Some(violation.to_string()),
            ),
            Ok(validation) => match entry_point_verdict(rules, &validation, time) {
                EntryPointVerdict::Accepted => {
                    ctx.header = validation.header;
                    ctx.counters.extend(validation.counters);
                    ("ok".to_string(), None, None)
                }
                EntryPointVerdict::OutOfTimeRange => (
                    "entrypoint: AA22 expired or not due".to_string(),
                    None,
                    None,
                ),
                EntryPointVerdict::SignatureError => ("signature failed".to_string(), None, None),
            },
        };
        verdicts.push(OpVerdict {
            op: i,
            time,
            verdict,
            error,
            reason,
        });
    }
    Ok(CheckReport {
        session_hash: hash,
        ops: verdicts,
    })
}
