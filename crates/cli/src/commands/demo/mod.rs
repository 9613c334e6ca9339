//! `sessionkeys demo`: the whole story on the devnet, in a couple of seconds.

mod story;

use crate::error::CliError;
use alloy::primitives::{B256, U256, aliases::U48};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::execution::Call;
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_contracts::abi::{Game, TestToken};
use sessionkeys_contracts::session::{ChainEpoch, ISessionKeyValidator};
use sessionkeys_contracts::vocabulary::packed;
use sessionkeys_devnet::devnet::Devnet;
use sessionkeys_devnet::funded::Funds;
use sessionkeys_engine::explain::{Labels, explain, format_units, short};
use sessionkeys_engine::lint::lint;
use story::{ALICE, BOB, CAROL, Story, VERSION, game_session};

pub fn run(json: bool) -> Result<(), CliError> {
    let mut devnet = Devnet::new()?;
    let owner = PrivateKeySigner::random();
    let validator = devnet.addresses.validator;
    let account = devnet.funded_account(
        VERSION,
        owner.address(),
        vec![validator],
        Funds::eth_and_usdc(1, 1000),
    )?;
    let usdc = devnet.addresses.usdc;
    let mut story = Story {
        devnet,
        owner,
        account,
        json,
        events: vec![],
        gas: vec![],
    };

    story.say("sessionkeys demo — a devnet with EntryPoint v0.7 at its canonical address.\n");
    story.say(format!(
        "1. Ana owns the smart account {} holding 1000 USDC.",
        short(account)
    ));
    story.say("   A game app asks her for a session key, so it can act without a wallet pop-up each time.\n");

    let key = PrivateKeySigner::random();
    let now = story.devnet.chain.time();
    let game = story.devnet.addresses.game;
    let spec = game_session(usdc, game, key.address(), now);
    let labels = Labels::well_known()
        .with_token(usdc, "USDC", 6)
        .with_function("move(uint8)");
    story.say("2. What Ana is asked to approve, in plain words:\n");
    for line in explain(&spec, &labels).to_string().lines() {
        story.say(format!("   {line}"));
    }
    let findings = lint(&spec, now);
    story.say(format!(
        "\n   The linter checked it: {}",
        if findings.is_empty() {
            "no findings.".to_string()
        } else {
            format!("{} finding(s)", findings.len())
        }
    ));
    for finding in &findings {
        story.say(format!("   {finding}"));
    }

    story.say("\n3. Ana signs the session once (EIP-712 typed data, the whole session shown in her wallet).");
    story.say(
        "   The app's first action carries her signature and enables the session on the way.\n",
    );
    let chains = vec![ChainEpoch {
        chainId: story.devnet.chain.chain_id(),
        epoch: 0,
    }];
    let digest = signing::enable_digest(validator, account, &spec, &chains);
    let approval = EnableApproval {
        chains,
        owner_signature: signing::sign_digest(&story.owner, digest),
    };

    story.say(
        "4. The app acts with its own key. The chain checks every action against the session:\n",
    );
    story.act(
        "pay Alice 30 USDC (enables the session)",
        &spec,
        &key,
        &[story.pay(ALICE, 30)],
        Some(&approval),
    )?;
    story.act("pay Bob 50 USDC", &spec, &key, &[story.pay(BOB, 50)], None)?;
    story.act(
        "pay Carol 1 USDC",
        &spec,
        &key,
        &[story.pay(CAROL, 1)],
        None,
    )?;
    story.act(
        "pay Alice 25 USDC (80 of 100 already spent)",
        &spec,
        &key,
        &[story.pay(ALICE, 25)],
        None,
    )?;
    story.act(
        "pay Alice 20 USDC (exactly the rest)",
        &spec,
        &key,
        &[story.pay(ALICE, 20)],
        None,
    )?;
    let mv = Call::typed(game, &Game::moveCall { direction: 1 });
    let mut moves = 0;
    while story.act(
        &format!("move in the game (action {} this minute)", moves + 4),
        &spec,
        &key,
        std::slice::from_ref(&mv),
        None,
    )? {
        moves += 1;
        if moves > 10 {
            break;
        }
    }
    story.devnet.chain.advance(60);
    story.act(
        "move again a minute later",
        &spec,
        &key,
        std::slice::from_ref(&mv),
        None,
    )?;
    story.devnet.chain.advance(3600);
    story.act(
        "move after the hour is over",
        &spec,
        &key,
        std::slice::from_ref(&mv),
        None,
    )?;

    story.say("\n5. Ana grants a new session, then changes her mind and revokes it:\n");
    let mut second = spec.clone();
    let second_key = PrivateKeySigner::random();
    let now = story.devnet.chain.time();
    second.signer = second_key.address();
    second.validAfter = U48::from(now - 60);
    second.validUntil = U48::from(now + 3600);
    second.salt = B256::with_last_byte(1);
    let enable = Call::typed(
        validator,
        &ISessionKeyValidator::enableSessionCall {
            spec: packed::encode_spec(&second)?.into(),
        },
    );
    let revoke = Call::typed(
        validator,
        &ISessionKeyValidator::revokeSessionCall {
            sessionHash: signing::session_hash(&second)?,
        },
    );
    for (what, call) in [
        ("enable it on-chain (Ana's own op)", enable),
        ("revoke it (Ana's own op)", revoke),
    ] {
        let op = story
            .devnet
            .owner_op(VERSION, account, &story.owner, &[call])?;
        let receipt = story.devnet.handle_ops(VERSION, &[op])?;
        story.gas.push((what.to_string(), receipt.gas_used));
        story.say(format!("  {what:<44} done"));
    }
    story.act(
        "pay Alice 1 USDC with the revoked session",
        &second,
        &second_key,
        &[story.pay(ALICE, 1)],
        None,
    )?;

    let usdc_left: U256 = story
        .devnet
        .chain
        .call_typed(usdc, &TestToken::balanceOfCall::new((account,)))?;
    story.say(format!(
        "\n6. Ana's account still holds {} USDC: the app moved exactly what she allowed.\n",
        format_units(usdc_left, 6)
    ));
    story.say("Gas of each action that ran (handleOps receipt gas, bundle of one):");
    for (what, gas) in story.gas.clone() {
        story.say(format!("  {what:<44} {gas:>8}"));
    }
    if json {
        let gas: Vec<_> = story
            .gas
            .iter()
            .map(|(w, g)| serde_json::json!({"action": w, "gas": g}))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"account": account, "actions": story.events, "gas": gas, "usdcLeft": format_units(usdc_left, 6)})
        );
    }
    Ok(())
}
