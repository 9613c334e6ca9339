//! The agent's side of one session: what its tools do, judged by the engine before anything is
//! signed, sent through the SDK, and read back from the chain.
//!
//! Every answer is a JSON value; every refusal a [`Refusal`] with the validator's name for it
//! (or the argument rule it broke), a sentence, and when it can be computed what would pass
//! instead ("at most 7 USDC left until 4 Dec 2026 00:00 UTC").

use crate::route::{Failure, Local, failure_of, public_message};
use crate::tools::{Action, ArgumentError, ParamKind, PolicyTool, Unit, policy_tools};
use crate::via_service::{ServiceRoute, ServiceRouteError};
use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use serde_json::{Map, Value, json};
use sessionkeys::backend::{Backend, LogQuery};
use sessionkeys::client::session_usage;
use sessionkeys::session_rows::OnchainState;
use sessionkeys::sessions::session_status;
use sessionkeys::{Call, SdkError, SessionClient};
use sessionkeys_chain::entrypoint::abi::IEntryPoint;
use sessionkeys_contracts::session::{CounterUsage, ISessionKeyValidator, SessionSpec};
use sessionkeys_contracts::vocabulary::{CounterKind, LimitType};
use sessionkeys_contracts::vocabulary::{nonce_key, session_lane};
use sessionkeys_engine::Violation;
use sessionkeys_engine::explain::{Labels, explain, format_units, human_time};
use std::sync::Arc;

/// The most calls one `check` or `execute` takes (one userOp).
pub const MOST_CALLS: usize = 16;

/// Why a tool did not complete: refused before anything was signed (an agent may correct the
/// call and try again), or failed after its op was signed (`sent` says so: trying again could
/// pay twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The validator's error name (`LimitExceeded`, `SessionRevoked`, …), or the argument
    /// rule (`ArgumentNotAllowed`, `ArgumentOverCap`, …), or `Unavailable` when the chain did
    /// not answer, or after sending `ExecutionReverted`, `Timeout`, `Unknown`.
    pub reason: String,
    /// What was wrong, in a sentence.
    pub message: String,
    /// What would pass instead, when known.
    pub instead: Option<String>,
    /// Whether the op got out.
    pub sent: Sent,
}

/// Whether a failed act's op got out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sent {
    /// Nothing was signed or sent: nothing can land or be paid for.
    #[default]
    No,
    /// It was signed and may have been sent (no answer after signing, no receipt yet).
    Maybe(Option<B256>),
    /// It was mined (its calls reverted) and its fee paid.
    Mined(B256),
}

impl Refusal {
    fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            instead: None,
            sent: Sent::No,
        }
    }

    /// The JSON an agent reads: `refused` true when nothing was sent; otherwise `sent`
    /// (`maybe` or `mined`) and the userOp hash when known.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "refused": self.sent == Sent::No,
            "reason": self.reason,
            "message": self.message,
        });
        if let Some(instead) = &self.instead {
            body["instead"] = json!(instead);
        }
        match self.sent {
            Sent::No => {}
            Sent::Maybe(hash) => {
                body["sent"] = json!("maybe");
                if let Some(hash) = hash {
                    body["userOpHash"] = json!(hash);
                }
            }
            Sent::Mined(hash) => {
                body["sent"] = json!("mined");
                body["userOpHash"] = json!(hash);
            }
        }
        body
    }
}

impl From<ArgumentError> for Refusal {
    fn from(error: ArgumentError) -> Self {
        let reason = match &error {
            ArgumentError::Unknown { .. } => "ArgumentUnknown",
            ArgumentError::Missing { .. } => "ArgumentMissing",
            ArgumentError::Invalid { .. } => "ArgumentInvalid",
            ArgumentError::Amount { .. } => "ArgumentAmount",
            ArgumentError::NotAllowed { .. } => "ArgumentNotAllowed",
            ArgumentError::OverCap { .. } => "ArgumentOverCap",
        };
        Refusal::new(reason, error.to_string())
    }
}

/// Where the session stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// On-chain.
    pub state: OnchainState,
    /// The latest block's time.
    pub now: u64,
    /// Budgets in the current period (empty when the chain has no usage lens).
    pub usage: Vec<CounterUsage>,
}

impl SessionState {
    /// Why no op can pass now, if none can.
    pub fn unusable(&self, spec: &SessionSpec) -> Option<String> {
        let until: u64 = spec.validUntil.to();
        let after: u64 = spec.validAfter.to();
        if self.state.is_revoked() {
            return Some(format!(
                "the session is {}: ask the owner for a new one",
                self.state.word()
            ));
        }
        if self.now > until {
            return Some(format!("the session ended at {}", human_time(until)));
        }
        if self.now < after {
            return Some(format!("the session starts at {}", human_time(after)));
        }
        if !self.state.usable() && self.state != OnchainState::NotEnabled {
            return Some(format!("the session is {}", self.state.word()));
        }
        // Every op counts against the session-wide op and fee budgets: one spent stops all.
        self.usage
            .iter()
            .find(|row| {
                matches!(row.counter_kind(), Ok(CounterKind::Ops | CounterKind::Fee))
                    && row.limit > U256::ZERO
                    && row.remaining.is_zero()
            })
            .map(|row| {
                let what = match row.counter_kind() {
                    Ok(CounterKind::Fee) => "fee",
                    _ => "op",
                };
                let resets: u64 = row.resetsAt.to();
                if row.limit_type() == Ok(LimitType::Allowance) && resets > 0 {
                    format!("its {what} budget is spent until {}", human_time(resets))
                } else {
                    format!("its {what} budget is spent for good: ask the owner for a new session")
                }
            })
    }
}

/// Where the session's key is and how its ops go out.
#[derive(Debug)]
enum Route {
    /// In this process: a keystore's key, a node and a bundler (boxed: the client is large).
    Local(Box<Local>),
    /// In the session service, which signs and sends.
    Service {
        route: ServiceRoute,
        /// The service's id for the session.
        id: String,
    },
}

/// One session, acted in by an agent.
pub struct Agent {
    route: Route,
    session_hash: B256,
    account: Address,
    spec: SessionSpec,
    labels: Labels,
    tools: Vec<PolicyTool>,
    /// Held while an op of the session is on its way: one at a time, so two tool calls never
    /// sign for one nonce or both spend what is left of a budget.
    acting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("route", &self.route)
            .field("session", &self.session_hash)
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent acting through `client` (which holds the session key), on `backend`, with
    /// token names from `labels`.
    pub fn new(
        client: SessionClient,
        backend: Arc<dyn Backend>,
        validator: Address,
        spec: SessionSpec,
        labels: Labels,
    ) -> Self {
        let tools = policy_tools(&spec, &labels);
        Self {
            session_hash: client.session_hash(),
            account: client.account().address,
            route: Route::Local(Box::new(Local::new(client, backend, validator))),
            spec,
            labels,
            tools,
            acting: tokio::sync::Mutex::new(()),
        }
    }

    /// An agent acting through the session service (`sessionkeys serve`), which holds the key:
    /// the session's policies are read from it.
    ///
    /// # Errors
    /// The service did not answer, or has no such session for this app key.
    pub async fn through_service(
        route: ServiceRoute,
        labels: Labels,
    ) -> Result<Self, ServiceRouteError> {
        let scope = route.scope().await?;
        let tools = policy_tools(&scope.spec, &labels);
        Ok(Self {
            session_hash: scope.session_hash,
            account: scope.account,
            route: Route::Service {
                route,
                id: scope.id,
            },
            spec: scope.spec,
            labels,
            tools,
            acting: tokio::sync::Mutex::new(()),
        })
    }

    /// The tools of the session's policies.
    pub fn policy_tools(&self) -> &[PolicyTool] {
        &self.tools
    }

    /// The session hash.
    pub fn session_hash(&self) -> B256 {
        self.session_hash
    }

    /// The account acted for.
    pub fn account(&self) -> Address {
        self.account
    }

    /// Reads where the session stands.
    ///
    /// # Errors
    /// The node's failure, as a [`Refusal`] of reason `Unavailable`.
    pub async fn state(&self) -> Result<SessionState, Refusal> {
        let local = match &self.route {
            Route::Local(local) => local,
            Route::Service { route, .. } => {
                let scope = route.scope().await.map_err(service_unavailable)?;
                return Ok(SessionState {
                    state: scope.onchain,
                    now: scope.chain_time,
                    usage: scope.usage,
                });
            }
        };
        let backend = local.backend();
        let now = backend
            .latest_timestamp()
            .await
            .map_err(|e| unavailable(&SdkError::from(e)))?;
        let (status, usable) =
            session_status(backend, local.validator(), self.account, self.session_hash)
                .await
                .map_err(|e| unavailable(&e))?;
        let usage = match session_usage(backend, local.validator(), self.account, &self.spec).await
        {
            Ok(usage) => usage,
            Err(SdkError::NotDeployed(_)) => Vec::new(),
            Err(e) => return Err(unavailable(&e)),
        };
        Ok(SessionState {
            state: OnchainState::from_status(status, usable),
            now,
            usage,
        })
    }

    /// The description of `tool` in `state`: what it allows, and what is left of it now.
    pub fn describe_tool(&self, tool: &PolicyTool, state: &SessionState) -> String {
        let mut text = format!("{}.", tool.sentence);
        if let Some(why) = state.unusable(&self.spec) {
            return format!("UNAVAILABLE: {why}. (It allowed: {text})");
        }
        let left = self.budgets_of(tool, state);
        if !left.is_empty() {
            text += &format!(" Left now: {}.", left.join("; "));
        }
        text += &format!(
            " The session ends {}.",
            human_time(self.spec.validUntil.to())
        );
        text
    }

    /// What is left of each budget of `tool`'s policy, in words.
    fn budgets_of(&self, tool: &PolicyTool, state: &SessionState) -> Vec<String> {
        state
            .usage
            .iter()
            .filter(|row| self.counts_for(tool, row))
            .map(|row| self.budget_words(row))
            .collect()
    }

    /// Whether the budget `row` counts calls of `tool` (the session-wide op and fee budgets
    /// count every tool's, and belong to none).
    fn counts_for(&self, tool: &PolicyTool, row: &CounterUsage) -> bool {
        match (&tool.action, row.counter_kind()) {
            (
                Action::Call { policy, .. } | Action::RawCall { policy, .. },
                Ok(CounterKind::CallValue | CounterKind::CallCount | CounterKind::ConstraintSum),
            ) => usize::from(row.policyIndex) == *policy,
            (Action::Transfer { .. }, Ok(CounterKind::TransferValue)) => true,
            _ => false,
        }
    }

    /// `43 USDC of 50 USDC (resets 4 Dec 2026 00:00 UTC)`.
    fn budget_words(&self, row: &CounterUsage) -> String {
        let show = |amount: U256| {
            self.show_counter(row.kind, row.policyIndex, row.constraintIndex, amount)
        };
        let mut text = format!("{} of {}", show(row.remaining), show(row.limit));
        if row.counter_kind() == Ok(CounterKind::TransferValue)
            && let Some(policy) = self.spec.transferPolicies.get(usize::from(row.policyIndex))
        {
            text += &format!(" to {}", policy.target.to_checksum(None));
        }
        let resets: u64 = row.resetsAt.to();
        if row.limit_type() == Ok(LimitType::Allowance) && resets > 0 {
            text += &format!(" (resets {})", human_time(resets));
        }
        text
    }

    /// An amount of the counter `(kind, policy, constraint)` in its unit.
    fn show_counter(&self, kind: u8, policy: u16, constraint: u16, amount: U256) -> String {
        match CounterKind::try_from(kind) {
            Ok(CounterKind::Ops) => format!("{amount} ops"),
            Ok(CounterKind::CallCount) => format!("{amount} calls"),
            Ok(CounterKind::Fee | CounterKind::CallValue | CounterKind::TransferValue) => {
                format!("{} ETH", format_units(amount, 18))
            }
            Ok(CounterKind::ConstraintSum) => self.constraint_unit(policy, constraint).show(amount),
            Err(_) => amount.to_string(),
        }
    }

    /// The unit of the word a call policy's constraint sums.
    fn constraint_unit(&self, policy: u16, constraint: u16) -> Unit {
        let word = self
            .spec
            .callPolicies
            .get(usize::from(policy))
            .and_then(|p| p.constraints.get(usize::from(constraint)))
            .map(|c| c.index);
        self.tools
            .iter()
            .find_map(|tool| match &tool.action {
                Action::Call {
                    policy: p, params, ..
                } if *p == usize::from(policy) => params
                    .iter()
                    .find(|param| Some(param.word) == word)
                    .and_then(|param| match &param.kind {
                        ParamKind::Amount { unit, .. } => Some(unit.clone()),
                        _ => None,
                    }),
                _ => None,
            })
            .unwrap_or(Unit {
                symbol: "base units".into(),
                decimals: 0,
            })
    }

    /// `describe_session`: the scope in plain words, budgets left, time left.
    ///
    /// # Errors
    /// The chain did not answer.
    pub async fn describe(&self) -> Result<Value, Refusal> {
        let state = self.state().await?;
        let explanation = explain(&self.spec, &self.labels);
        let until: u64 = self.spec.validUntil.to();
        let budgets: Vec<Value> = state
            .usage
            .iter()
            .map(|row| {
                let kind = row.counter_kind().map(|k| k.text()).unwrap_or("budget");
                let tool = self
                    .tools
                    .iter()
                    .find(|t| self.counts_for(t, row))
                    .map(|t| t.name.clone());
                json!({"budget": kind, "tool": tool, "left": self.budget_words(row)})
            })
            .collect();
        Ok(json!({
            "session": self.session_hash(),
            "account": self.account(),
            "state": state.state.word(),
            "usable": state.unusable(&self.spec).is_none(),
            "unusableBecause": state.unusable(&self.spec),
            "now": human_time(state.now),
            "endsAt": human_time(until),
            "secondsLeft": until.saturating_sub(state.now),
            "scope": explanation.heading,
            "allows": explanation.lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>(),
            "notes": explanation.notes,
            "budgets": budgets,
            "tools": self.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            "balances": self.balances().await?,
            "actsThrough": match self.route {
                Route::Local(_) => "a local session key, a node and a bundler",
                Route::Service { .. } => "the session service, which holds the session key",
            },
        }))
    }

    /// What the account holds of ETH and of each known token the session's tools can move
    /// (`null` for one the chain did not tell); read from the chain on the local route, and
    /// not at all through the service (it tells no balances).
    async fn balances(&self) -> Result<Value, Refusal> {
        let Route::Local(local) = &self.route else {
            return Ok(Value::Null);
        };
        let backend = local.backend();
        let account = self.account;
        let mut balances = Map::new();
        let wei = balance_of(backend, None, account)
            .await
            .map_err(|e| unavailable(&e))?;
        balances.insert("ETH".into(), json!(format_units(wei, 18)));
        for policy in &self.spec.callPolicies {
            if let Some(token) = self.labels.token(policy.target) {
                let held = balance_of(backend, Some(policy.target), account).await.ok();
                balances.insert(
                    token.symbol.clone(),
                    held.map_or(Value::Null, |held| {
                        json!(format_units(held, token.decimals))
                    }),
                );
            }
        }
        Ok(Value::Object(balances))
    }

    /// The calls a `calls` argument (of `check` or `execute`) asks for.
    ///
    /// # Errors
    /// Anything but 1 to [`MOST_CALLS`] objects `{tool, arguments}` naming policy tools with
    /// arguments they accept.
    pub fn calls_of(&self, arguments: &Map<String, Value>) -> Result<Vec<Call>, Refusal> {
        if let Some(other) = arguments.keys().find(|k| *k != "calls") {
            return Err(Refusal::new(
                "ArgumentUnknown",
                format!("unknown argument {other:?}: this tool takes calls"),
            ));
        }
        let Some(Value::Array(calls)) = arguments.get("calls") else {
            return Err(Refusal::new(
                "ArgumentMissing",
                "give calls: a list of {\"tool\": a policy tool's name, \"arguments\": its arguments}",
            ));
        };
        if calls.is_empty() || calls.len() > MOST_CALLS {
            return Err(Refusal::new(
                "ArgumentInvalid",
                format!(
                    "give 1 to {MOST_CALLS} calls (one userOp), not {}",
                    calls.len()
                ),
            ));
        }
        calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let Value::Object(call) = call else {
                    return Err(Refusal::new(
                        "ArgumentInvalid",
                        format!("calls[{i}]: give an object {{\"tool\", \"arguments\"}}"),
                    ));
                };
                if let Some(other) = call.keys().find(|k| *k != "tool" && *k != "arguments") {
                    return Err(Refusal::new(
                        "ArgumentUnknown",
                        format!("calls[{i}]: unknown field {other:?}: give tool and arguments"),
                    ));
                }
                let Some(name) = call.get("tool").and_then(Value::as_str) else {
                    return Err(Refusal::new(
                        "ArgumentMissing",
                        format!("calls[{i}]: give tool, a policy tool's name (a string)"),
                    ));
                };
                let tool = self.tool(name).map_err(|mut r| {
                    r.message = format!("calls[{i}]: {}", r.message);
                    r
                })?;
                let arguments = match call.get("arguments") {
                    None => {
                        return Err(Refusal::new(
                            "ArgumentMissing",
                            format!("calls[{i}]: give arguments, an object ({{}} for none)"),
                        ));
                    }
                    Some(Value::Object(arguments)) => arguments,
                    Some(_) => {
                        return Err(Refusal::new(
                            "ArgumentInvalid",
                            format!("calls[{i}].arguments: give an object"),
                        ));
                    }
                };
                tool.call(arguments).map_err(|e| {
                    let mut refusal = Refusal::from(e);
                    refusal.message = format!("calls[{i}] ({name}): {}", refusal.message);
                    refusal
                })
            })
            .collect()
    }

    /// The policy tool named `name`.
    ///
    /// # Errors
    /// `UnknownTool`, listing the tools there are.
    pub fn tool(&self, name: &str) -> Result<&PolicyTool, Refusal> {
        self.tools.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_str()).collect();
            Refusal::new(
                "UnknownTool",
                format!(
                    "no tool {name:?}: this session's tools are {}",
                    names.join(", ")
                ),
            )
        })
    }

    /// `check`: whether `calls` would pass the validator now, judged by the engine against the
    /// chain's state; nothing is signed. Fees are judged only at `execute` (after the bundler
    /// prices the op), and so is whether the calls themselves succeed (a balance too small).
    ///
    /// # Errors
    /// Why they would not, and what would pass instead when known.
    pub async fn check(&self, calls: &[Call]) -> Result<Value, Refusal> {
        let checked = match &self.route {
            Route::Local(local) => local
                .client()
                .precheck(calls)
                .await
                .map(|_| ())
                .map_err(|e| failure_of(&e, None)),
            Route::Service { route, .. } => route.check(calls).await,
        };
        match checked {
            Ok(()) => Ok(json!({"wouldPass": true, "calls": calls.len()})),
            Err(failure) => Err(self.refusal(failure).await),
        }
    }

    /// `execute`: pre-checks `calls`, signs them as one userOp, sends it and waits for its
    /// receipt. A refusal of the pre-check signs and sends nothing. One op at a time.
    ///
    /// # Errors
    /// The refusal, or what went wrong after signing (its `sent` says the op may land).
    pub async fn execute(&self, calls: &[Call]) -> Result<Value, Refusal> {
        let _turn = self.acting.lock().await;
        let sent = match &self.route {
            Route::Local(local) => local.send(calls).await.map(|done| {
                json!({
                    "userOpHash": done.user_op_hash,
                    "transactionHash": done.transaction_hash,
                    "gasCostWei": done.actual_gas_cost.to_string(),
                })
            }),
            Route::Service { route, .. } => route.execute(calls).await,
        };
        match sent {
            Ok(mut done) => {
                let wei: U256 = done["gasCostWei"]
                    .as_str()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_default();
                done["done"] = json!(true);
                done["gasCost"] = json!(format!("{} ETH", format_units(wei, 18)));
                Ok(done)
            }
            Err(failure) => Err(self.refusal(failure).await),
        }
    }

    /// `revoke_session`: the agent gives up its session. Locally the session key revokes it
    /// on-chain (the validator's `revokeSession`, a session op under the session's own
    /// limits); through the service, the service stops signing for it at once and tries that
    /// same op.
    ///
    /// # Errors
    /// Why it could not.
    pub async fn revoke(&self) -> Result<Value, Refusal> {
        let _turn = self.acting.lock().await;
        let revoked = match &self.route {
            Route::Local(local) => {
                let call = Call::typed(
                    local.validator(),
                    &ISessionKeyValidator::revokeSessionCall {
                        sessionHash: self.session_hash,
                    },
                );
                local.send(&[call]).await.map(|done| {
                    json!({
                        "userOpHash": done.user_op_hash,
                        "transactionHash": done.transaction_hash,
                    })
                })
            }
            Route::Service { route, .. } => route.revoke().await,
        };
        match revoked {
            Ok(mut body) => {
                body["revoked"] = json!(true);
                body["session"] = json!(self.session_hash);
                Ok(body)
            }
            Err(failure) => {
                let mut refusal = self.refusal(failure).await;
                refusal.instead = None;
                Err(refusal)
            }
        }
    }

    /// `history`: this session's ops, oldest first: locally from the EntryPoint's
    /// `UserOperationEvent`s of the account on the session's nonce lane; through the service
    /// from its activity log.
    ///
    /// # Errors
    /// The node or the service did not answer.
    pub async fn history(&self) -> Result<Value, Refusal> {
        let local = match &self.route {
            Route::Local(local) => local,
            Route::Service { route, id } => {
                let ops = route.history(id).await.map_err(service_unavailable)?;
                return Ok(json!({"session": self.session_hash, "ops": ops}));
            }
        };
        let entry_point = local.client().account().version.address();
        let logs = local
            .backend()
            .logs(LogQuery {
                address: entry_point,
                topic0: IEntryPoint::UserOperationEvent::SIGNATURE_HASH,
                topic1: None,
                topic2: Some(self.account.into_word()),
            })
            .await
            .map_err(|e| unavailable(&SdkError::from(e)))?;
        let lane = U256::from(nonce_key(
            local.validator(),
            session_lane(self.session_hash),
        ));
        let ops: Vec<Value> = logs
            .iter()
            .filter_map(|log| IEntryPoint::UserOperationEvent::decode_log(log).ok())
            .filter(|event| event.data.nonce >> 64 == lane)
            .map(|event| {
                json!({
                    "userOpHash": event.data.userOpHash,
                    "nonce": event.data.nonce.to_string(),
                    "success": event.data.success,
                    "gasCost": format!("{} ETH", format_units(event.data.actualGasCost, 18)),
                })
            })
            .collect();
        Ok(json!({"session": self.session_hash, "ops": ops}))
    }

    /// The refusal of `failure`, with what would pass instead when the chain says.
    async fn refusal(&self, failure: Failure) -> Refusal {
        match failure {
            Failure::Refused(violation) => Refusal {
                reason: violation.name().to_string(),
                message: format!("refused before sending: {violation}"),
                instead: self.instead(&violation).await,
                sent: Sent::No,
            },
            Failure::NotSent { reason, message } => Refusal::new(reason, message),
            Failure::Sent {
                reason,
                message,
                user_op_hash,
            } => Refusal {
                sent: match (reason.as_str(), user_op_hash) {
                    ("ExecutionReverted", Some(hash)) => Sent::Mined(hash),
                    (_, hash) => Sent::Maybe(hash),
                },
                reason,
                message,
                instead: None,
            },
        }
    }

    /// What would pass instead of an op refused with `violation`.
    async fn instead(&self, violation: &Violation) -> Option<String> {
        use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
        match violation.as_validator()? {
            E::LimitExceeded(e) => {
                let kind: u8 = e.kind;
                let (policy, constraint) = (
                    e.policyIndex.saturating_to::<u16>(),
                    e.constraintIndex.saturating_to::<u16>(),
                );
                // What the chain has left now: in a batch the error's `used` counts the calls
                // before the one refused, which the op would have spent along with it.
                let row = self.state().await.ok().and_then(|state| {
                    state.usage.into_iter().find(|r| {
                        r.kind == kind && r.policyIndex == policy && r.constraintIndex == constraint
                    })
                });
                let left = row
                    .as_ref()
                    .map_or(e.limit.saturating_sub(e.used), |r| r.remaining);
                let resets = row
                    .filter(|r| r.limit_type() == Ok(LimitType::Allowance))
                    .map(|r| r.resetsAt.to::<u64>());
                let amount = self.show_counter(kind, policy, constraint, left);
                Some(match resets {
                    Some(at) => format!(
                        "at most {amount} left until {}, when it resets",
                        human_time(at)
                    ),
                    None => format!("at most {amount} left"),
                })
            }
            E::NoCallPolicy(_) | E::NoTransferPolicy(_) | E::BannedTarget(_) => Some(format!(
                "this session allows only: {}",
                self.tools
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.sentence))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            E::ConstraintViolated(e) => self
                .tools
                .iter()
                .find(|t| {
                    matches!(t.action, Action::Call { policy, .. } | Action::RawCall { policy, .. }
                        if U256::from(policy) == e.policyIndex)
                })
                .map(|t| format!("{}: {}", t.name, t.sentence)),
            E::SessionRevoked(_) | E::SessionEpochStale(_) => {
                Some("nothing: the session is revoked; ask the owner for a new session".into())
            }
            _ => None,
        }
    }
}

fn unavailable(error: &SdkError) -> Refusal {
    Refusal::new(
        "Unavailable",
        format!(
            "the chain did not answer ({}); nothing was signed or sent: try again",
            public_message(error)
        ),
    )
}

fn service_unavailable(error: ServiceRouteError) -> Refusal {
    Refusal::new(
        "Unavailable",
        format!("{error}; nothing was signed or sent: try again"),
    )
}

/// `account`'s balance of `token` (ERC-20 `balanceOf`), or of ETH when `token` is `None`.
///
/// # Errors
/// The chain's failure.
pub async fn balance_of(
    backend: &dyn Backend,
    token: Option<Address>,
    account: Address,
) -> Result<U256, SdkError> {
    use alloy::sol_types::SolCall;
    use sessionkeys_contracts::abi::TestToken;
    match token {
        None => Ok(backend.balance(account).await?),
        Some(token) => {
            let out = backend
                .call(
                    token,
                    TestToken::balanceOfCall::new((account,))
                        .abi_encode()
                        .into(),
                )
                .await?;
            TestToken::balanceOfCall::abi_decode_returns(&out)
                .map_err(|e| SdkError::Decode(format!("balanceOf: {e}")))
        }
    }
}
