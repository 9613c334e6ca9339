//! Alerts on unusual use, per account, with defaults that need no setup.
//!
//! | rule | fires when | default |
//! |---|---|---|
//! | `refusalBurst` | a session's checks and executes are refused `count` times within `seconds` | 5 in 60 s |
//! | `budgetPercent` | an execute leaves any budget of the session used past this share | 80 % |
//! | `firstTarget` | an execute calls a target the account never called through this app | on |
//! | `rateSpike` | a session lands at least `minPerMinute` ops in a minute, over `factor` times its own average per minute before | 10×, 10 a minute |
//! | `afterRevoke` | anything is attempted under a session revoked here | on |
//!
//! Each alert fires once per occasion (a window, a budget period, a target, a minute), is kept,
//! is streamed to the app's and the owner's server-sent-event streams, and is delivered to the
//! app's webhooks (docs/service.md).

use crate::activity::{ActivityBody, Kind, Verdict};
use crate::db::{Database, SessionRow, db_error, unix_now};
use crate::sql::values;
use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use sessionkeys::store::StoreError;
use sessionkeys_contracts::session::CounterUsage;
use utoipa::ToSchema;

/// A burst of refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Burst {
    /// How many refusals.
    pub count: u32,
    /// Within how many seconds.
    pub seconds: u32,
}

/// A rate far above the session's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spike {
    /// How many times its average per minute before.
    pub factor: u32,
    /// The fewest ops in a minute that can be a spike.
    pub min_per_minute: u32,
}

/// An account's alert rules; `null` turns a rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRules {
    /// A burst of refusals.
    pub refusal_burst: Option<Burst>,
    /// A budget used past this percentage (1 to 100).
    pub budget_percent: Option<u8>,
    /// A first call to a target.
    pub first_target: bool,
    /// A rate far above the session's history.
    pub rate_spike: Option<Spike>,
    /// Any attempt after revoke.
    pub after_revoke: bool,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            refusal_burst: Some(Burst {
                count: 5,
                seconds: 60,
            }),
            budget_percent: Some(80),
            first_target: true,
            rate_spike: Some(Spike {
                factor: 10,
                min_per_minute: 10,
            }),
            after_revoke: true,
        }
    }
}

impl AlertRules {
    /// Refuses settings that would fire on nothing or on everything, saying which.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(burst) = self.refusal_burst
            && (burst.count == 0 || !(1..=86_400).contains(&burst.seconds))
        {
            return Err("refusalBurst needs count ≥ 1 and seconds in 1..=86400".into());
        }
        if let Some(percent) = self.budget_percent
            && !(1..=100).contains(&percent)
        {
            return Err(format!("budgetPercent {percent} is not in 1..=100"));
        }
        if let Some(spike) = self.rate_spike
            && (spike.factor < 2 || spike.min_per_minute == 0)
        {
            return Err("rateSpike needs factor ≥ 2 and minPerMinute ≥ 1".into());
        }
        Ok(())
    }
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertBody {
    /// Its id.
    pub id: i64,
    /// When (unix seconds).
    pub at: i64,
    /// The rule: `refusal_burst`, `budget`, `first_target`, `rate_spike`, `after_revoke`.
    pub rule: String,
    /// What happened, in a sentence.
    pub message: String,
    /// The app whose session it is.
    pub app_id: String,
    /// The session's id.
    pub session_id: String,
    /// The session hash.
    #[schema(value_type = String)]
    pub session_hash: B256,
    /// The account.
    #[schema(value_type = String)]
    pub account: Address,
    /// The account's owner.
    #[schema(value_type = String)]
    pub owner: Address,
}

/// Whether `used` of `limit` is past `percent`.
pub fn budget_past(used: U256, limit: U256, percent: u8) -> bool {
    // In 512 bits: a limit near 2^256 (the usual "no limit") must not wrap.
    let wide = |x: U256| alloy::primitives::U512::from_be_slice(&x.to_be_bytes::<32>());
    !limit.is_zero()
        && wide(used) * alloy::primitives::U512::from(100u8)
            >= wide(limit) * alloy::primitives::U512::from(percent)
}

/// Whether `last_minute` ops are a spike over `earlier_ops` in `earlier_minutes` before them.
/// A session with less than a minute of history has none to compare with: no spike.
pub fn rate_spike(last_minute: u64, earlier_ops: u64, earlier_minutes: u64, rule: Spike) -> bool {
    if last_minute < u64::from(rule.min_per_minute) || earlier_minutes == 0 {
        return false;
    }
    // last > factor × earlier / minutes, in integers.
    u128::from(last_minute) * u128::from(earlier_minutes)
        > u128::from(rule.factor) * u128::from(earlier_ops)
}

impl Database {
    /// `account`'s rules (the defaults until its owner sets others).
    pub fn alert_rules(&self, account: Address) -> Result<AlertRules, StoreError> {
        let text = self
            .sql()
            .query_one(
                "SELECT rules FROM alert_rules WHERE account = ?1",
                values![format!("{account:x}")],
            )?
            .map(|row| row.text(0))
            .transpose()?;
        match text {
            Some(text) => serde_json::from_str(&text).map_err(db_error),
            None => Ok(AlertRules::default()),
        }
    }

    /// Sets `account`'s rules.
    pub fn set_alert_rules(&self, account: Address, rules: &AlertRules) -> Result<(), StoreError> {
        self.sql().execute(
            "INSERT INTO alert_rules (account, rules) VALUES (?1, ?2) \
             ON CONFLICT(account) DO UPDATE SET rules = excluded.rules",
            values![
                format!("{account:x}"),
                serde_json::to_string(rules).map_err(db_error)?
            ],
        )?;
        Ok(())
    }

    /// Keeps an alert unless one with `dedup` was kept already; the new alert, if any.
    fn raise(
        &self,
        row: &SessionRow,
        rule: &str,
        message: String,
        dedup: String,
    ) -> Result<Option<AlertBody>, StoreError> {
        let at = unix_now();
        let inserted = self.sql().query_one(
            "INSERT INTO alerts (at, app_id, owner, account, session_id, \
             session_hash, rule, message, dedup) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (dedup) DO NOTHING RETURNING id",
            values![
                at,
                &row.app_id,
                format!("{:x}", row.record.owner),
                format!("{:x}", row.record.account),
                &row.id,
                format!("{:x}", row.record.hash),
                rule,
                &message,
                dedup
            ],
        )?;
        let Some(inserted) = inserted else {
            return Ok(None);
        };
        Ok(Some(AlertBody {
            id: inserted.int(0)?,
            at,
            rule: rule.to_string(),
            message,
            app_id: row.app_id.clone(),
            session_id: row.id.clone(),
            session_hash: row.record.hash,
            account: row.record.account,
            owner: row.record.owner,
        }))
    }

    /// The alerts of an app or of an owner's accounts, newest first.
    pub fn alerts(
        &self,
        app_id: Option<&str>,
        owner: Option<Address>,
        account: Option<Address>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AlertBody>, StoreError> {
        self.sql()
            .query(
                "SELECT id, at, rule, message, app_id, session_id, session_hash, account, owner \
                 FROM alerts WHERE (CAST(?1 AS TEXT) IS NULL OR app_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR owner = ?2) \
                 AND (CAST(?3 AS TEXT) IS NULL OR account = ?3) AND (CAST(?4 AS BIGINT) IS NULL OR id < ?4) \
                 ORDER BY id DESC LIMIT ?5",
                values![
                    app_id,
                    owner.map(|o| format!("{o:x}")),
                    account.map(|a| format!("{a:x}")),
                    before,
                    limit
                ],
            )?
            .iter()
            .map(|r| {
                Ok(AlertBody {
                    id: r.int(0)?,
                    at: r.int(1)?,
                    rule: r.text(2)?,
                    message: r.text(3)?,
                    app_id: r.text(4)?,
                    session_id: r.text(5)?,
                    session_hash: r.text(6)?.parse().map_err(db_error)?,
                    account: r.text(7)?.parse().map_err(db_error)?,
                    owner: r.text(8)?.parse().map_err(db_error)?,
                })
            })
            .collect()
    }

    /// The alerts `entry` (just recorded for `row`) raises under its account's rules; `usage`
    /// is the session's budgets after a landed execute.
    pub fn evaluate_alerts(
        &self,
        row: &SessionRow,
        entry: &ActivityBody,
        usage: &[CounterUsage],
    ) -> Result<Vec<AlertBody>, StoreError> {
        let rules = self.alert_rules(row.record.account)?;
        let mut raised = Vec::new();
        let kind = Kind::ALL.into_iter().find(|k| k.word() == entry.kind);
        let landed = kind == Some(Kind::Execute) && entry.verdict.as_deref() == Some("allowed");
        let refused = matches!(kind, Some(Kind::Check | Kind::Execute))
            && entry.verdict.as_deref() == Some("refused");
        if rules.after_revoke && kind == Some(Kind::AttemptAfterRevoke) {
            raised.extend(self.raise(
                row,
                "after_revoke",
                format!(
                    "something was attempted under session {} after it was revoked",
                    row.id
                ),
                format!("after_revoke:{}:{}", row.id, entry.at / 60),
            )?);
        }
        if let (Some(burst), true) = (rules.refusal_burst, refused) {
            let since = entry.at - i64::from(burst.seconds) + 1;
            let count = self.count_activity(&row.id, Kind::Check, Some(Verdict::Refused), since)?
                + self.count_activity(&row.id, Kind::Execute, Some(Verdict::Refused), since)?;
            // One alert per burst: none while an earlier one is within the window.
            let recent: u64 = self
                .sql()
                .query_one(
                    "SELECT COUNT(*) FROM alerts WHERE session_id = ?1 AND rule = 'refusal_burst' \
                     AND at >= ?2",
                    values![&row.id, since],
                )?
                .ok_or_else(|| db_error("COUNT returned no row"))?
                .number(0)?;
            if count >= u64::from(burst.count) && recent == 0 {
                raised.extend(self.raise(
                    row,
                    "refusal_burst",
                    format!(
                        "{count} refusals within {} s under session {} (the latest: {})",
                        burst.seconds,
                        row.id,
                        entry.reason.as_deref().unwrap_or("no reason given")
                    ),
                    format!("refusal_burst:{}:{}", row.id, entry.id),
                )?);
            }
        }
        if let (Some(percent), true) = (rules.budget_percent, landed) {
            for counter in usage {
                if budget_past(counter.used, counter.limit, percent) {
                    raised.extend(self.raise(
                        row,
                        "budget",
                        format!(
                            "session {} has used {} of its {} budget of {} (policy {}, constraint {}), past {percent} %",
                            row.id,
                            counter.used,
                            sessionkeys::session_rows::counter_kind_name(counter.kind),
                            counter.limit,
                            counter.policyIndex,
                            counter.constraintIndex,
                        ),
                        format!(
                            "budget:{}:{}:{}:{}:{}",
                            row.id,
                            counter.kind,
                            counter.policyIndex,
                            counter.constraintIndex,
                            counter.resetsAt
                        ),
                    )?);
                }
            }
        }
        if rules.first_target && landed {
            for target in &entry.targets {
                if self.first_call_to(&row.app_id, row.record.account, *target)? {
                    raised.extend(self.raise(
                        row,
                        "first_target",
                        format!(
                            "account {} called {target} for the first time (session {})",
                            row.record.account, row.id
                        ),
                        format!(
                            "first_target:{}:{:x}:{target:x}",
                            row.app_id, row.record.account
                        ),
                    )?);
                }
            }
        }
        if let (Some(spike), true) = (rules.rate_spike, landed) {
            let minute_ago = entry.at - 59;
            // The history is the hour before: counting it costs the same at the session's
            // thousandth op as at its millionth.
            let history_from = minute_ago - RATE_HISTORY_SECONDS;
            let last =
                self.count_activity(&row.id, Kind::Execute, Some(Verdict::Allowed), minute_ago)?;
            let all =
                self.count_activity(&row.id, Kind::Execute, Some(Verdict::Allowed), history_from)?;
            let first = self
                .first_activity(&row.id, Kind::Execute, Verdict::Allowed)?
                .unwrap_or(entry.at)
                .max(history_from);
            let earlier_minutes = u64::try_from((minute_ago - first) / 60).unwrap_or(0);
            if rate_spike(last, all - last, earlier_minutes, spike) {
                raised.extend(self.raise(
                    row,
                    "rate_spike",
                    format!(
                        "session {} landed {last} ops in the last minute, over {}× its average of {} a minute before",
                        row.id,
                        spike.factor,
                        (all - last) / earlier_minutes.max(1)
                    ),
                    format!("rate_spike:{}:{}", row.id, entry.at / 60),
                )?);
            }
        }
        Ok(raised)
    }
}

/// How far back the rate-spike rule's history reaches (before the last minute).
pub const RATE_HISTORY_SECONDS: i64 = 3_600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_past_its_share_at_exactly_the_share() {
        let limit = U256::from(100u8);
        assert!(!budget_past(U256::from(79u8), limit, 80));
        assert!(budget_past(U256::from(80u8), limit, 80));
        assert!(
            !budget_past(U256::from(80u8), U256::ZERO, 80),
            "no limit, no alert"
        );
        assert!(
            budget_past(U256::MAX, U256::MAX, 100),
            "no overflow at the top"
        );
    }

    #[test]
    fn a_spike_needs_history_a_floor_and_the_factor() {
        let rule = Spike {
            factor: 10,
            min_per_minute: 10,
        };
        assert!(!rate_spike(50, 0, 0, rule), "no history to compare with");
        assert!(!rate_spike(9, 0, 10, rule), "below the floor");
        assert!(rate_spike(10, 0, 10, rule), "a quiet session wakes up");
        // 60 ops in 60 minutes is 1 a minute: 10 is not over 10×, 11 is.
        assert!(!rate_spike(10, 60, 60, rule));
        assert!(rate_spike(11, 60, 60, rule));
    }

    #[test]
    fn rules_that_fire_on_nothing_or_everything_are_refused() {
        assert!(AlertRules::default().validate().is_ok());
        let zero_percent = AlertRules {
            budget_percent: Some(0),
            ..AlertRules::default()
        };
        assert!(
            zero_percent
                .validate()
                .unwrap_err()
                .contains("budgetPercent")
        );
        let no_count = AlertRules {
            refusal_burst: Some(Burst {
                count: 0,
                seconds: 60,
            }),
            ..AlertRules::default()
        };
        assert!(no_count.validate().unwrap_err().contains("refusalBurst"));
        let factor_one = AlertRules {
            rate_spike: Some(Spike {
                factor: 1,
                min_per_minute: 5,
            }),
            ..AlertRules::default()
        };
        assert!(factor_one.validate().unwrap_err().contains("rateSpike"));
        let off = AlertRules {
            refusal_burst: None,
            budget_percent: None,
            first_target: false,
            rate_spike: None,
            after_revoke: false,
        };
        assert!(off.validate().is_ok(), "every rule may be off");
    }
}
