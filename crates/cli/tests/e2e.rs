//! The CLI's real-chain commands against anvil and Alto (the end-to-end tier): deploy, account
//! create, session grant (every way), session request → approve with signatures made by `cast
//! wallet sign`, exec, sessions list, revoke (by the owner's key or wallet), revoke --all. Ignored by a
//! plain `cargo test`; `scripts/e2e` runs them in a private network namespace.

#[path = "../../sdk/tests/support/mod.rs"]
mod support;

#[path = "e2e/service_faults.rs"]
mod service_faults;

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use serde_json::Value;
use sessionkeys::backend::Backend;
use sessionkeys::deploy::deploy;
use sessionkeys::deployment;
use sessionkeys_contracts::abi::PolicyRegistry;
use sessionkeys_contracts::vocabulary::ReviewStatus;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::scenario::*;
use support::stack::Stack;

const FUNDER_ENV: &str = "SESSIONKEYS_E2E_FUNDER_KEY";

/// Every command here finishes in seconds; a hung one fails the test instead of stalling CI.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `command` to completion, or kills it and fails the test after `timeout`.
fn output_within(mut command: Command, args: &[&str], timeout: Duration) -> Output {
    let mut child = command.spawn().expect("the binary runs");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // Drained on their own threads so a chatty command cannot block on a full pipe.
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).map(|_| bytes)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on the binary") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sessionkeys {args:?} did not finish within {timeout:?}; it was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader").expect("stdout read"),
        stderr: err.join().expect("stderr reader").expect("stderr read"),
    }
}

struct Cli {
    dir: PathBuf,
    stack_rpc: String,
    stack_bundler: String,
}

impl Cli {
    fn new(stack: &Stack, name: &str) -> Cli {
        let dir = std::env::temp_dir().join(format!("sk-cli-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("password"), "e2e password\n").unwrap();
        Cli {
            dir,
            stack_rpc: stack.node_url.clone(),
            stack_bundler: stack.bundler_url.clone(),
        }
    }

    /// Runs `sessionkeys --json ARGS` with the chain, the store and its password from the
    /// environment (as a script would).
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sessionkeys"));
        command
            .arg("--json")
            .args(args)
            .env("SESSIONKEYS_RPC_URL", &self.stack_rpc)
            .env("SESSIONKEYS_BUNDLER_URL", &self.stack_bundler)
            .env("SESSIONKEYS_HOME", self.dir.join("home"))
            .env("SESSIONKEYS_PASSWORD_FILE", self.dir.join("password"))
            .env("SESSIONKEYS_OWNER_PASSWORD_FILE", self.dir.join("password"))
            .env(FUNDER_ENV, ANVIL_KEYS[0])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        output_within(command, args, COMMAND_TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
    }

    fn refused(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

/// An owner key made by `key new` (a keystore file) and its counterfactual account, as
/// `account create` prints it.
fn owner_and_account(cli: &Cli) -> (String, Value) {
    let owner = cli.ok(&[
        "key",
        "new",
        "--dir",
        &cli.path("owner"),
        "--password-file",
        &cli.path("password"),
    ]);
    let owner_file = owner["file"].as_str().unwrap().to_string();
    let account = cli.ok(&["account", "create", "--owner-keystore", &owner_file]);
    (owner_file, account)
}

/// A fresh stack, a CLI with its own store, an owner (keystore file) and its counterfactual
/// account, funded; and the chain's time.
struct Funded {
    stack: Stack,
    cli: Cli,
    owner_file: String,
    owner: String,
    account: Address,
    now: u64,
}

async fn funded_owner(name: &str) -> Funded {
    let stack = Stack::start(&format!("cli-{name}")).await;
    let cli = Cli::new(&stack, name);
    let (owner_file, created) = owner_and_account(&cli);
    let account: Address = created["account"].as_str().unwrap().parse().unwrap();
    fund(&stack.backend, account).await;
    let now = stack.backend.latest_timestamp().await.unwrap();
    Funded {
        owner: created["owner"].as_str().unwrap().to_string(),
        stack,
        cli,
        owner_file,
        account,
        now,
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn session_file(dir: &Path, name: &str, now: u64) -> String {
    let json = format!(
        r#"{{
          "validAfter": {after},
          "validUntil": {until},
          "feeLimit": {{ "limit": "50000000000000000" }},
          "opLimit": {{ "limit": 10, "per": "1m" }},
          "callPolicies": [{{
            "target": "{usdc}",
            "selector": "transfer(address,uint256)",
            "constraints": [
              {{ "index": 0, "condition": "oneOf", "oneOf": ["{ALICE}", "{BOB}"], "bits": 160 }},
              {{ "index": 1, "condition": "unconstrained", "limit": {{ "limit": "100000000" }} }}
            ]
          }}]
        }}"#,
        after = now - 60,
        until = now + 3600,
        usdc = usdc(),
    );
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path.to_string_lossy().into_owned()
}

fn pay(to: Address, amount: u64) -> Vec<String> {
    [
        "--to",
        "usdc",
        "--function",
        "transfer(address,uint256)",
        "--arg",
        &to.to_string(),
        "--arg",
        &amount.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn args<'a>(fixed: &[&'a str], extra: &'a [String]) -> Vec<&'a str> {
    fixed
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn the_cli_runs_the_whole_lifecycle_on_anvil_and_alto() {
    let stack = Stack::start("cli").await;
    let cli = Cli::new(&stack, "lifecycle");

    // Deploying again changes nothing: every contract is already at its CREATE2 address.
    let deployed = cli.ok(&["deploy", "--owner-key-env", FUNDER_ENV, "--fixtures"]);
    assert!(
        deployed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["newlyDeployed"] == false)
    );

    // An operator's own factories, staked as ERC-7562 bundlers require: `--stake` needs the
    // payer to be the stake owner.
    let operator = funder().address().to_string();
    let refused = cli.run(&["deploy", "--owner-key-env", FUNDER_ENV, "--stake", "1"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("--factory-owner"),
        "{}",
        text(&refused)
    );
    cli.ok(&[
        "deploy",
        "--owner-key-env",
        FUNDER_ENV,
        "--factory-owner",
        &operator,
        "--stake",
        "1",
    ]);
    for version in sessionkeys::EntryPointVersion::ALL {
        use sessionkeys_chain::entrypoint::abi::IEntryPoint;
        let factory = deployment::session_account_factory(version, funder().address()).address();
        let info = stack
            .backend
            .call(
                version.address(),
                IEntryPoint::getDepositInfoCall { account: factory }
                    .abi_encode()
                    .into(),
            )
            .await
            .unwrap();
        let info = IEntryPoint::getDepositInfoCall::abi_decode_returns(&info).unwrap();
        assert!(info.staked, "{version}");
        assert_eq!(
            info.stake.to::<u128>(),
            sessionkeys_chain::deployment::MIN_STAKE_WEI
        );
        assert_eq!(info.unstakeDelaySec, 86_400);
    }

    // The owner's key is a keystore file made by `key new`.
    let (owner_file, account) = owner_and_account(&cli);
    assert_eq!(account["deployed"], false);
    let account: Address = account["account"].as_str().unwrap().parse().unwrap();
    fund(&stack.backend, account).await;

    let now = stack.backend.latest_timestamp().await.unwrap();
    let file = session_file(&cli.dir, "usdc.json", now);

    // Review against the chain: the token's symbol from the token, statuses from a registry.
    let explained = cli.ok(&["session", "explain", &file, "--rpc", &cli.stack_rpc]);
    assert!(explained.to_string().contains("100 USDC"), "{explained}");
    let registry = deployment::policy_registry(funder().address());
    deploy(&stack.backend, &funder(), std::slice::from_ref(&registry))
        .await
        .unwrap();
    let lint = |cli: &Cli| {
        cli.run(&[
            "session",
            "lint",
            &file,
            "--rpc",
            &cli.stack_rpc,
            "--registry",
            &registry.address().to_string(),
        ])
    };
    let unreviewed = lint(&cli);
    assert_eq!(unreviewed.status.code(), Some(1), "{}", text(&unreviewed));
    assert!(text(&unreviewed).contains("SK020"), "{}", text(&unreviewed));
    let allow = PolicyRegistry::setCallStatusCall {
        target: usdc(),
        selector: [0xa9, 0x05, 0x9c, 0xbb].into(),
        status: ReviewStatus::Allowed.into(),
    };
    send_plain(
        &stack.backend,
        registry.address(),
        U256::ZERO,
        allow.abi_encode(),
    )
    .await;
    let reviewed = lint(&cli);
    assert_eq!(reviewed.status.code(), Some(0), "{}", text(&reviewed));
    let report: Value = serde_json::from_slice(&reviewed.stdout).unwrap();
    assert_eq!(report["registry"][0]["statusName"], "allowed", "{report}");

    let granted = cli.ok(&["session", "grant", &file, "--owner-keystore", &owner_file]);
    assert_eq!(granted["status"], "granted");
    assert_eq!(
        granted["account"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        account
    );
    let hash = granted["sessionHash"].as_str().unwrap().to_string();

    let sixty = pay(ALICE, 60 * USDC);
    let sent = cli.ok(&args(&["exec"], &sixty));
    assert_eq!(sent[0]["verdict"], "ok");
    // The hashes to look the op up by, and what its receipt says it cost.
    for field in ["userOpHash", "transactionHash"] {
        assert_eq!(sent[0][field].as_str().unwrap().len(), 66, "{sent}");
    }
    for field in ["actualGasUsed", "bundleGasUsed"] {
        assert!(
            sent[0][field].as_str().unwrap().parse::<u64>().unwrap() > 0,
            "{sent}"
        );
    }
    assert_eq!(
        usdc_balance(&stack.backend, ALICE).await,
        U256::from(60 * USDC)
    );

    // The node given as the bundler is a usage error with the fix, not a refusal.
    let one = pay(ALICE, 1);
    let out = cli.run(&args(&["exec", "--bundler", cli.stack_rpc.as_str()], &one));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["outcome"], "error", "{error}");
    assert!(
        error["next"].as_str().unwrap().contains("--bundler"),
        "{error}"
    );

    let over = pay(BOB, 40 * USDC + 1);
    let refused = cli.refused(&args(&["exec"], &over));
    assert_eq!(refused[0]["error"], "LimitExceeded");
    let refused = cli.refused(&args(&["exec", "--no-precheck"], &over));
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("LimitExceeded"),
        "{refused}"
    );

    let listed = cli.ok(&["sessions", "list"]);
    let row = &listed[0];
    assert_eq!(row["sessionHash"], hash.as_str());
    assert_eq!(
        (row["onchain"].as_str(), row["usable"].as_bool()),
        (Some("active"), Some(true))
    );
    assert!(
        row["limits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["remaining"] == "40000000"),
        "{row}"
    );

    let revoked = cli.ok(&[
        "revoke",
        "--session",
        &hash[..10],
        "--owner-keystore",
        &owner_file,
    ]);
    assert_eq!(revoked["revoked"][0], hash.as_str());
    let refused = cli.refused(&args(&["exec", "--session", &hash], &pay(ALICE, 1)));
    assert_eq!(refused[0]["error"], "SessionRevoked");
    let listed = cli.ok(&["sessions", "list"]);
    assert_eq!(
        (listed[0]["stored"].as_str(), listed[0]["onchain"].as_str()),
        (Some("revoked"), Some("revoked"))
    );
    // Revoking it again says so and sends nothing.
    let again = cli.ok(&[
        "revoke",
        "--session",
        &hash[..10],
        "--owner-keystore",
        &owner_file,
    ]);
    assert_eq!(again["alreadyRevoked"][0], hash.as_str(), "{again}");
    assert_eq!(again["sentAs"], Value::Null, "{again}");

    // A second session, enabled by its first op; then revoke --all ends it.
    let file = session_file(&cli.dir, "usdc2.json", now);
    let approved = cli.ok(&[
        "session",
        "grant",
        &file,
        "--first-use",
        "--owner-keystore",
        &owner_file,
    ]);
    assert_eq!(approved["status"], "approved");
    cli.ok(&args(&["exec"], &pay(BOB, USDC)));
    assert_eq!(usdc_balance(&stack.backend, BOB).await, U256::from(USDC));
    let listed = cli.ok(&["sessions", "list", "--account", &account.to_string()]);
    assert_eq!(listed[1]["stored"], "granted");
    cli.ok(&["revoke", "--all", "--owner-keystore", &owner_file]);
    let refused = cli.refused(&args(&["exec"], &pay(BOB, 1)));
    assert_eq!(refused[0]["error"], "SessionEpochStale");
    // The list shows it revoked, here and on-chain, after revoke --all.
    let listed = cli.ok(&["sessions", "list"]);
    assert_eq!(
        (
            listed[1]["stored"].as_str(),
            listed[1]["onchain"].as_str(),
            listed[1]["usable"].as_bool()
        ),
        (Some("revoked"), Some("revoked (all)"), Some(false)),
        "{listed}"
    );

    // Another machine, with an empty store, sees both sessions from the chain's events.
    let elsewhere = Cli::new(&stack, "elsewhere");
    let seen = elsewhere.ok(&["sessions", "list", "--account", &account.to_string()]);
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r["stored"] == "not on this machine" && r["usable"] == false)
    );
    assert_eq!(seen[0]["onchain"], "revoked");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn the_owner_grants_and_revokes_through_a_relayer_on_anvil() {
    // The owner's key only signs EIP-712 typed data (what any wallet does); a funded relayer key
    // deploys the account and sends the approvals in plain transactions.
    let Funded {
        stack,
        cli,
        owner_file,
        account,
        now,
        ..
    } = funded_owner("relayed").await;
    let relayed = [
        "--owner-keystore",
        owner_file.as_str(),
        "--relayer-key-env",
        FUNDER_ENV,
    ];

    let file = session_file(&cli.dir, "usdc.json", now);
    let granted = cli.ok(&args(
        &["session", "grant", &file],
        &relayed.map(String::from),
    ));
    assert_eq!(granted["status"], "granted");
    assert!(
        !stack.backend.code(account).await.unwrap().is_empty(),
        "the relayer deployed it"
    );
    let hash = granted["sessionHash"].as_str().unwrap().to_string();
    cli.ok(&args(&["exec"], &pay(ALICE, USDC)));
    let revoked = cli.ok(&args(
        &["revoke", "--session", &hash],
        &relayed.map(String::from),
    ));
    assert_eq!(revoked["revoked"][0], hash.as_str());
    assert!(
        revoked["sentAs"]
            .as_str()
            .unwrap()
            .starts_with("transaction"),
        "{revoked}"
    );
    let refused = cli.refused(&args(&["exec", "--session", &hash], &pay(ALICE, 1)));
    assert_eq!(refused[0]["error"], "SessionRevoked");

    let file = session_file(&cli.dir, "usdc2.json", now);
    cli.ok(&args(
        &["session", "grant", &file],
        &relayed.map(String::from),
    ));
    cli.ok(&args(&["exec"], &pay(BOB, USDC)));
    cli.ok(&args(&["revoke", "--all"], &relayed.map(String::from)));
    let refused = cli.refused(&args(&["exec"], &pay(BOB, 1)));
    assert_eq!(refused[0]["error"], "SessionEpochStale");
}

/// What the owner's wallet does: `cast wallet sign --data --from-file TYPED_DATA` with the
/// owner's keystore (or another key, to show a wrong signer is refused).
fn cast_sign(typed_data: &str, key: CastKey<'_>) -> String {
    let mut command = Command::new(support::stack::foundry_binary("cast"));
    command.args(["wallet", "sign", "--data", "--from-file", typed_data]);
    match key {
        CastKey::Keystore(file) => command.args(["--keystore", file, "--password", "e2e password"]),
        CastKey::Private(key) => command.args(["--private-key", key]),
    };
    let out = command.output().expect("cast runs");
    assert!(out.status.success(), "cast wallet sign: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

enum CastKey<'a> {
    Keystore(&'a str),
    Private(&'a str),
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil, cast and Alto in a private network namespace; run scripts/e2e"]
async fn an_owner_who_only_signs_typed_data_with_cast_requests_approves_and_revokes_on_anvil() {
    let Funded {
        stack,
        cli,
        owner_file,
        owner,
        account,
        now,
    } = funded_owner("wallet").await;
    let owner_key = CastKey::Keystore(&owner_file);

    // 1. Request on the fresh (counterfactual) account: a key, a stored request, typed data.
    let file = session_file(&cli.dir, "usdc.json", now);
    // Typed data that cannot be written (no such folder): nobody could sign the request, so
    // it leaves no key and no record behind.
    let unwritable = cli.path("no-such-folder/enable.json");
    let failed = cli.run(&[
        "session",
        "request",
        &file,
        "--owner",
        &owner,
        "--out",
        &unwritable,
    ]);
    assert_eq!(failed.status.code(), Some(2), "{}", text(&failed));
    let keys = std::fs::read_dir(cli.dir.join("home/keys")).map_or(0, |d| d.count());
    assert_eq!(keys, 0, "a failed request left a key");
    let listed = cli.ok(&["sessions", "list"]);
    assert_eq!(listed, serde_json::json!([]), "{listed}");
    let typed = cli.path("enable.json");
    let requested = cli.ok(&[
        "session", "request", &file, "--owner", &owner, "--out", &typed,
    ]);
    assert_eq!(requested["status"], "requested");
    let hash = requested["sessionHash"].as_str().unwrap().to_string();
    let refused = cli.run(&args(&["exec"], &pay(ALICE, USDC)));
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("session approve"),
        "{}",
        text(&refused)
    );

    // Signed by another wallet: refused, naming the owner and who signed.
    let stranger = cast_sign(&typed, CastKey::Private(ANVIL_KEYS[1]));
    let wrong = cli.run(&["session", "approve", "--signature", &stranger]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    let stranger_address = ANVIL_KEYS[1]
        .parse::<alloy::signers::local::PrivateKeySigner>()
        .unwrap()
        .address();
    assert!(
        text(&wrong).contains(&owner) && text(&wrong).contains(&stranger_address.to_string()),
        "{}",
        text(&wrong)
    );

    // Signed by the owner's wallet, given in a file: enabled by the first op, which also
    // deploys the account with the (staked) default factory.
    let signature = cast_sign(&typed, owner_key);
    std::fs::write(cli.dir.join("enable.sig"), format!("{signature}\n")).unwrap();
    let approved = cli.ok(&[
        "session",
        "approve",
        "--session",
        &hash[..12],
        "--signature-file",
        &cli.path("enable.sig"),
    ]);
    assert_eq!(approved["status"], "approved");
    assert!(stack.backend.code(account).await.unwrap().is_empty());
    let sent = cli.ok(&args(&["exec"], &pay(ALICE, 60 * USDC)));
    assert_eq!(sent[0]["verdict"], "ok");
    assert!(!stack.backend.code(account).await.unwrap().is_empty());
    assert_eq!(
        usdc_balance(&stack.backend, ALICE).await,
        U256::from(60 * USDC)
    );
    let over = cli.refused(&args(&["exec"], &pay(BOB, 40 * USDC + 1)));
    assert_eq!(over[0]["error"], "LimitExceeded");

    // 2. Revoke with the wallet: typed data out, cast signs, a relayer sends it.
    let revoke_typed = cli.path("revoke.json");
    cli.ok(&[
        "revoke",
        "--session",
        &hash,
        "--typed-data-out",
        &revoke_typed,
    ]);
    let stranger = cast_sign(&revoke_typed, CastKey::Private(ANVIL_KEYS[1]));
    let wrong = cli.run(&[
        "revoke",
        "--session",
        &hash,
        "--signature",
        &stranger,
        "--relayer-key-env",
        FUNDER_ENV,
    ]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    let signature = cast_sign(&revoke_typed, CastKey::Keystore(&owner_file));
    let revoked = cli.ok(&[
        "revoke",
        "--session",
        &hash,
        "--signature",
        &signature,
        "--relayer-key-env",
        FUNDER_ENV,
    ]);
    assert_eq!(revoked["revoked"][0], hash.as_str());
    let refused = cli.refused(&args(&["exec", "--session", &hash], &pay(ALICE, 1)));
    assert_eq!(refused[0]["error"], "SessionRevoked");

    // 3. The account is deployed now: a relayer enables the next approved request at once.
    let file = session_file(&cli.dir, "usdc2.json", now);
    let typed = cli.path("enable2.json");
    let requested = cli.ok(&[
        "session", "request", &file, "--owner", &owner, "--out", &typed,
    ]);
    let second = requested["sessionHash"].as_str().unwrap().to_string();
    let signature = cast_sign(&typed, CastKey::Keystore(&owner_file));
    let approved = cli.ok(&[
        "session",
        "approve",
        "--signature",
        &signature,
        "--relayer-key-env",
        FUNDER_ENV,
    ]);
    assert_eq!(approved["status"], "granted");
    assert!(
        approved["sentAs"]
            .as_str()
            .unwrap()
            .starts_with("transaction"),
        "{approved}"
    );
    cli.ok(&args(&["exec"], &pay(BOB, USDC)));
    assert_eq!(usdc_balance(&stack.backend, BOB).await, U256::from(USDC));

    // 4. Revoke every session with the wallet: the epoch moves, the session is dead.
    let printed = cli.ok(&["revoke", "--all", "--typed-data-out", "-"]);
    assert_eq!(printed["primaryType"], "RevokeAllSessions", "{printed}");
    let all_typed = cli.path("revoke-all.json");
    cli.ok(&["revoke", "--all", "--typed-data-out", &all_typed]);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&all_typed).unwrap()).unwrap();
    assert_eq!(written, printed);
    let signature = cast_sign(&all_typed, CastKey::Keystore(&owner_file));
    cli.ok(&[
        "revoke",
        "--all",
        "--signature",
        &signature,
        "--relayer-key-env",
        FUNDER_ENV,
    ]);
    let refused = cli.refused(&args(&["exec", "--session", &second], &pay(BOB, 1)));
    assert_eq!(refused[0]["error"], "SessionEpochStale");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn a_first_use_grant_on_a_fresh_account_deploys_it_with_its_first_op() {
    let Funded {
        stack,
        cli,
        owner_file,
        account,
        now,
        ..
    } = funded_owner("counterfactual").await;
    let file = session_file(&cli.dir, "usdc.json", now);
    let approved = cli.ok(&[
        "session",
        "grant",
        &file,
        "--first-use",
        "--owner-keystore",
        &owner_file,
    ]);
    assert_eq!(approved["status"], "approved");
    assert!(stack.backend.code(account).await.unwrap().is_empty());
    cli.ok(&args(&["exec"], &pay(ALICE, USDC)));
    assert!(!stack.backend.code(account).await.unwrap().is_empty());
    assert_eq!(usdc_balance(&stack.backend, ALICE).await, U256::from(USDC));
}

/// `sessionkeys agent` on stdio, spoken to as an MCP client does: one JSON-RPC message a line.
struct McpChild {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
}

impl McpChild {
    fn start(cli: &Cli) -> McpChild {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
            .args(["agent", "--session", "latest"])
            .env("SESSIONKEYS_RPC_URL", &cli.stack_rpc)
            .env("SESSIONKEYS_BUNDLER_URL", &cli.stack_bundler)
            .env("SESSIONKEYS_HOME", cli.dir.join("home"))
            .env("SESSIONKEYS_PASSWORD_FILE", cli.dir.join("password"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the agent starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut mcp = McpChild {
            child,
            stdin,
            lines,
            next_id: 0,
        };
        let hello = mcp.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "e2e", "version": "1"}}),
        );
        assert!(hello["capabilities"]["tools"].is_object(), "{hello}");
        mcp.send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    fn send(&mut self, message: Value) {
        use std::io::Write;
        writeln!(self.stdin, "{message}").expect("the agent reads its stdin");
        self.stdin.flush().expect("flushed");
    }

    /// Sends a request and returns its result, skipping the server's notifications.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        loop {
            let line = self
                .lines
                .recv_timeout(COMMAND_TIMEOUT)
                .unwrap_or_else(|e| {
                    panic!("no answer to {method} within {COMMAND_TIMEOUT:?}: {e}")
                });
            let message: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if message["id"] == id {
                assert!(message["error"].is_null(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// Calls `tool`: its `structuredContent`, and whether it is a tool error.
    fn call(&mut self, tool: &str, arguments: Value) -> (Value, bool) {
        let result = self.request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": arguments}),
        );
        (
            result["structuredContent"].clone(),
            result["isError"] == true,
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn an_agent_acts_within_a_stored_session_over_mcp_on_anvil_and_alto() {
    let funded = funded_owner("agent").await;
    let (cli, backend) = (&funded.cli, &funded.stack.backend);
    let file = session_file(&cli.dir, "usdc.json", funded.now);
    cli.ok(&[
        "session",
        "grant",
        &file,
        "--owner-keystore",
        &funded.owner_file,
    ]);
    let mut agent = McpChild::start(cli);

    // Named from the token itself (symbol, decimals), recipients as the session's enum.
    let listed = agent.request("tools/list", serde_json::json!({}));
    let tools = listed["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "send_usdc",
            "describe_session",
            "check",
            "execute",
            "history",
            "revoke_session"
        ]
    );
    assert_eq!(
        tools[0]["inputSchema"]["properties"]["to"]["enum"],
        serde_json::json!([ALICE.to_checksum(None), BOB.to_checksum(None)])
    );
    assert!(
        tools[0]["description"]
            .as_str()
            .unwrap()
            .contains("Left now: 100 USDC of 100 USDC")
    );

    let (paid, refused) = agent.call(
        "send_usdc",
        serde_json::json!({"to": ALICE.to_string(), "amount": "30"}),
    );
    assert!(!refused, "{paid}");
    assert_eq!(usdc_balance(backend, ALICE).await, U256::from(30 * USDC));
    let (history, _) = agent.call("history", serde_json::json!({}));
    assert_eq!(
        history["ops"][0]["userOpHash"], paid["userOpHash"],
        "{history}"
    );
    assert_eq!(history["ops"][0]["success"], true);

    let before = usdc_balance(backend, funded.account).await;
    let (other, refused) = agent.call(
        "send_usdc",
        serde_json::json!({"to": "0x0000000000000000000000000000000000000c4e", "amount": "1"}),
    );
    assert!(refused);
    assert_eq!(other["reason"], "ArgumentNotAllowed", "{other}");
    let (over, refused) = agent.call(
        "check",
        serde_json::json!({"calls": [{"tool": "send_usdc", "arguments": {"to": BOB.to_string(), "amount": "70.000001"}}]}),
    );
    assert!(refused);
    assert_eq!(over["reason"], "LimitExceeded", "{over}");
    assert_eq!(over["instead"], "at most 70 USDC left", "{over}");

    let (revoked, refused) = agent.call("revoke_session", serde_json::json!({}));
    assert!(!refused, "{revoked}");
    let (after, refused) = agent.call(
        "send_usdc",
        serde_json::json!({"to": ALICE.to_string(), "amount": "1"}),
    );
    assert!(refused);
    assert_eq!(after["reason"], "SessionRevoked", "{after}");
    assert_eq!(usdc_balance(backend, funded.account).await, before);

    // Closing stdin ends the server.
    let McpChild {
        mut child, stdin, ..
    } = agent;
    drop(stdin);
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while child.try_wait().expect("waiting on the agent").is_none() {
        assert!(
            Instant::now() < deadline,
            "the agent did not stop when its stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
