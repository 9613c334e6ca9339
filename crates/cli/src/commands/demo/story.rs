//! The demo's cast and stage: the devnet, Ana's account, and how each action is judged
//! and told.

use crate::InputError;
use alloy::primitives::B256;
use alloy::primitives::{Address, U256, address, aliases::U48};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::EnableApproval;
use sessionkeys_contracts::abi::{Game, TestToken};
use sessionkeys_contracts::session::{CallPolicy, Constraint, SessionSpec, UsageLimit};
use sessionkeys_contracts::vocabulary::PaymasterMode;
use sessionkeys_devnet::devnet::Devnet;
use sessionkeys_devnet::judge::{Verdict, judge};

pub const ALICE: Address = address!("0xA11CE00000000000000000000000000000000001");
pub const BOB: Address = address!("0xB0B0000000000000000000000000000000000002");
pub const CAROL: Address = address!("0xCA401000000000000000000000000000000000C3");
pub const VERSION: EntryPointVersion = EntryPointVersion::V07;

pub struct Story {
    pub devnet: Devnet,
    pub owner: PrivateKeySigner,
    pub account: Address,
    pub json: bool,
    pub events: Vec<serde_json::Value>,
    pub gas: Vec<(String, u64)>,
}

impl Story {
    pub fn say(&mut self, text: impl AsRef<str>) {
        if !self.json {
            outln!("{}", text.as_ref());
        }
    }

    pub fn usdc(&self) -> Address {
        self.devnet.addresses.usdc
    }

    pub fn pay(&self, to: Address, usdc: u64) -> Call {
        Call::typed(
            self.usdc(),
            &TestToken::transferCall {
                to,
                amount: U256::from(usdc * 1_000_000),
            },
        )
    }

    /// Judges an op (the engine's prediction, then the chain) and tells what happened.
    /// Returns true if it ran.
    pub fn act(
        &mut self,
        what: &str,
        spec: &SessionSpec,
        key: &PrivateKeySigner,
        calls: &[Call],
        enable: Option<&EnableApproval>,
    ) -> Result<bool, InputError> {
        let validator = self.devnet.addresses.validator;
        let hint = self.devnet.chain.time();
        let op = self.devnet.session_op(
            VERSION,
            validator,
            self.account,
            spec,
            key,
            encode_calls(calls),
            hint,
            enable,
            |_| {},
        )?;
        let judgement = judge(
            &mut self.devnet,
            VERSION,
            validator,
            Some(self.owner.address()),
            spec,
            op,
        )?;
        let ran = judgement.contract.passed();
        if let Some(receipt) = &judgement.receipt {
            self.gas.push((what.to_string(), receipt.gas_used));
        }
        let verdict = match (&judgement.contract, &judgement.explanation) {
            (Verdict::Ok, _) => "done".to_string(),
            (Verdict::Refused(_), Some(sentence)) if judgement.agrees() => {
                format!("refused by the chain: {sentence}")
            }
            (Verdict::EntryPoint(reason), _) if reason.starts_with("AA22") => {
                "refused by the EntryPoint: the session is expired or not yet valid".to_string()
            }
            (other, _) => other.to_string(),
        };
        self.say(format!("  {what:<44} {verdict}"));
        if !ran {
            let note = if judgement.agrees() {
                "(the app's engine predicted this before sending)".to_string()
            } else {
                format!("(the app's engine said: {})", judgement.engine)
            };
            self.say(format!("  {:<44} {note}", ""));
        }
        self.events.push(serde_json::json!({
            "action": what, "outcome": verdict, "engine": judgement.engine.to_string(), "agree": judgement.agrees(),
        }));
        Ok(ran)
    }
}

/// Ana's session for the game app: pay Alice or Bob at most 100 USDC in total, and move in the
/// game in four directions at most 10 times a minute, for an hour from `now`.
pub fn game_session(usdc: Address, game: Address, signer: Address, now: u64) -> SessionSpec {
    let recipients = Constraint::one_of(0, vec![ALICE.into_word(), BOB.into_word()]).with_bits(160);
    let amount = Constraint::unconstrained(1).with_limit(UsageLimit::lifetime(100_000_000));
    let direction = Constraint::less(0, U256::from(4).into()).with_bits(8);
    let mut policies = vec![
        CallPolicy {
            target: usdc,
            selector: TestToken::transferCall::SELECTOR.into(),
            maxValuePerUse: U256::ZERO,
            valueLimit: UsageLimit::unlimited(),
            callLimit: UsageLimit::unlimited(),
            constraints: vec![recipients, amount],
        },
        CallPolicy {
            target: game,
            selector: Game::moveCall::SELECTOR.into(),
            maxValuePerUse: U256::ZERO,
            valueLimit: UsageLimit::unlimited(),
            callLimit: UsageLimit::unlimited(),
            constraints: vec![direction],
        },
    ];
    policies.sort_by_key(|p| (p.target, p.selector));
    SessionSpec {
        signer,
        validAfter: U48::from(now - 60),
        validUntil: U48::from(now + 3600),
        feeLimit: UsageLimit::lifetime(100_000_000_000_000_000),
        paymasterMode: PaymasterMode::None.into(),
        paymaster: Address::ZERO,
        opLimit: UsageLimit::allowance(10, 60),
        callPolicies: policies,
        transferPolicies: vec![],
        salt: B256::ZERO,
    }
}
