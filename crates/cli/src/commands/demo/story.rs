//! The demo's cast and stage: the devnet, Ana's account, and how each action is judged
//! and told.

use crate::InputError;
use alloy::primitives::{Address, U256, address};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys_chain::EntryPointVersion;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::EnableApproval;
use sessionkeys_contracts::abi::TestToken;
use sessionkeys_contracts::session::SessionSpec;
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
