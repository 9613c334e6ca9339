//! The usage file of `check` (docs/simulate-format.md): what a session already used, as the
//! header's op count and the counters, so an offline check starts where the chain is.

use super::FormatError;
use super::scalars::Amount;
use crate::context::{Counter, CounterKey, CounterKind};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What the session already used.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageFile {
    /// Ops counted in `ops_period`.
    #[serde(default)]
    pub ops_used: u64,
    /// Period id of the last op-count charge.
    #[serde(default)]
    pub ops_period: u64,
    /// The other counters.
    #[serde(default)]
    pub counters: Vec<CounterJson>,
}

/// One counter's stored value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CounterJson {
    /// Which budget.
    pub kind: KindJson,
    /// Call or transfer policy index, in on-chain (sorted) order.
    #[serde(default)]
    pub policy: u16,
    /// Constraint index.
    #[serde(default)]
    pub constraint: u16,
    /// Used in `period`.
    pub used: Amount,
    /// Period id of the last charge (0 for lifetime budgets).
    #[serde(default)]
    pub period: u64,
}

/// A counter kind as written in the file (the op count is `opsUsed`).
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum KindJson {
    /// Gas fees.
    Fee,
    /// Value of a call policy.
    CallValue,
    /// Calls of a call policy.
    CallCount,
    /// Sum of a constrained word.
    ConstraintSum,
    /// Value of a transfer policy.
    TransferValue,
}

impl From<KindJson> for CounterKind {
    fn from(kind: KindJson) -> Self {
        match kind {
            KindJson::Fee => CounterKind::Fee,
            KindJson::CallValue => CounterKind::CallValue,
            KindJson::CallCount => CounterKind::CallCount,
            KindJson::ConstraintSum => CounterKind::ConstraintSum,
            KindJson::TransferValue => CounterKind::TransferValue,
        }
    }
}

/// Parses a usage file, reporting the path of the first bad field.
pub fn parse_usage_json(text: &str) -> Result<UsageFile, FormatError> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| FormatError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

impl UsageFile {
    /// The counters as the engine's snapshot holds them (a later entry for the same counter
    /// wins).
    pub fn counters(&self) -> BTreeMap<CounterKey, Counter> {
        self.counters
            .iter()
            .map(|c| {
                (
                    CounterKey {
                        kind: c.kind.into(),
                        policy: c.policy,
                        constraint: c.constraint,
                    },
                    Counter {
                        period: c.period,
                        used: c.used.0,
                    },
                )
            })
            .collect()
    }
}
