//! `sessionkeys serve` as real processes against anvil, Alto and a private PostgreSQL server
//! (issue 12's fault tier, docs/service.md "Faults" and "Replicas"): a server killed with
//! SIGKILL mid-executes and restarted on its database; two replicas on one PostgreSQL spending a
//! tight budget; the database stopped and started under a replica; the bundler down and then
//! silent. The chain is the judge: balances, and the nonces of the session's lane.

use super::support::scenario::*;
use super::support::stack::Stack;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use axum::http::StatusCode;
use serde_json::{Value, json};
use sessionkeys::backend::Backend;
use sessionkeys_contracts::abi::TestToken;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longer than any one execute may take (a session waited for 90 s, a receipt 60 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(200);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer: status, headers (names lower-case) and body (JSON, or the text as a string).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// One HTTP/1.1 request with `Connection: close`. An error is the connection's (a server that
/// died under the request), never an HTTP status.
fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<Answer> {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    request += &body;
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let Some((head, payload)) = response.split_once("\r\n\r\n") else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the connection closed before a whole answer: {response:?}"),
        ));
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("no HTTP status line in {head:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    let body = serde_json::from_str(&payload).unwrap_or(Value::String(payload));
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out += &tail[..size];
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// Where a server keeps its state.
#[derive(Clone)]
enum Store {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Store {
    fn args(&self) -> Vec<String> {
        match self {
            Store::Sqlite(path) => vec!["--db".into(), path.to_string_lossy().into_owned()],
            Store::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }
}

/// A fresh schema on the tier's private PostgreSQL server (scripts/with-postgres, which
/// scripts/e2e runs the tier beside), as a `--database-url`.
fn postgres_schema(name: &str) -> Store {
    let settings = std::env::var("SESSIONKEYS_TEST_POSTGRES").expect(
        "SESSIONKEYS_TEST_POSTGRES is not set: scripts/e2e runs this tier beside a private \
         PostgreSQL server (scripts/with-postgres)",
    );
    let schema = format!("faults_{name}_{}", std::process::id());
    let out = Command::new("psql")
        .arg(&settings)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!("CREATE SCHEMA {schema}"),
        ])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "{out:?}");
    let value = |key: &str| {
        settings
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {settings:?}"))
            .to_string()
    };
    Store::Postgres(format!(
        "postgres://{}@{}:{}/{}?options=-csearch_path%3D{schema}",
        value("user"),
        value("host"),
        value("port"),
        value("dbname")
    ))
}

/// Stops or starts the tier's PostgreSQL server (same data, same port).
fn postgres_ctl(action: &str) {
    let ctl = std::env::var("SESSIONKEYS_TEST_POSTGRES_CTL")
        .expect("SESSIONKEYS_TEST_POSTGRES_CTL is set by scripts/with-postgres");
    let status = Command::new(ctl).arg(action).status().expect("ctl runs");
    assert!(status.success(), "postgres {action}: {status}");
}

/// A working directory: the master key file and the servers' logs.
struct Place {
    dir: PathBuf,
}

impl Place {
    fn new(name: &str) -> Place {
        let dir = std::env::temp_dir().join(format!("sk-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("master.key"), "11".repeat(32)).unwrap();
        Place { dir }
    }

    fn master_key(&self) -> String {
        self.dir.join("master.key").to_string_lossy().into_owned()
    }

    /// `sessionkeys app create` on `store`: the app's API key.
    fn create_app(&self, store: &Store) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
            .args(["--json", "app", "create", "faults"])
            .args(store.args())
            .args(["--master-key-file", &self.master_key()])
            .output()
            .unwrap();
        assert!(out.status.success(), "app create: {out:?}");
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        printed["apiKey"].as_str().unwrap().to_string()
    }
}

/// One `sessionkeys serve` process; SIGKILLed when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    fn start(place: &Place, name: &str, store: &Store, node: &str, bundler: &str) -> Server {
        let url = format!("http://127.0.0.1:{}", free_port());
        let log = place.dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
            // A silent bundler fails an execute within seconds, not the default 30.
            .args(["--rpc-timeout", "3", "serve"])
            .args(["--rpc", node, "--bundler", bundler])
            .args(store.args())
            .args(["--master-key-file", &place.master_key()])
            .args(["--listen", url.trim_start_matches("http://")])
            .args(["--rate-limit", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sessionkeys serve starts");
        let mut server = Server { child, url, log };
        let started = Instant::now();
        loop {
            if let Ok(answer) = http(&server.url, "GET", "/healthz", &[], None)
                && answer.status == StatusCode::OK
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("serve {name} exited ({status}): {}", server.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve {name} did not come up: {}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no handler runs, no lease or key is given back.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- {} ---\n{}", self.log.display(), self.log_text());
        }
    }
}

/// An app's view of one server.
#[derive(Clone)]
struct App {
    url: String,
    key: String,
}

impl App {
    fn send(
        &self,
        method: &str,
        path: &str,
        idempotency: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<Answer> {
        let bearer = format!("Bearer {}", self.key);
        let mut headers = vec![("Authorization", bearer.as_str())];
        if let Some(key) = idempotency {
            headers.push(("Idempotency-Key", key));
        }
        http(&self.url, method, path, &headers, body)
    }

    fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, None)
            .expect("the server answers")
    }

    fn execute(
        &self,
        session: &str,
        amount: u64,
        idempotency: Option<&str>,
    ) -> std::io::Result<Answer> {
        self.send(
            "POST",
            &format!("/v1/sessions/{session}/execute"),
            idempotency,
            Some(&pay_alice(amount)),
        )
    }

    /// Retries an execute under `key` until it has a final answer (not 409 or 503).
    fn execute_until_final(
        &self,
        session: &str,
        amount: u64,
        key: &str,
        deadline: Instant,
    ) -> Answer {
        loop {
            match self.execute(session, amount, Some(key)) {
                Ok(answer)
                    if ![StatusCode::CONFLICT, StatusCode::SERVICE_UNAVAILABLE]
                        .contains(&answer.status) =>
                {
                    return answer;
                }
                Ok(answer) => assert!(
                    Instant::now() < deadline,
                    "{key}: still {} at the deadline: {}",
                    answer.status,
                    answer.body
                ),
                Err(error) => panic!("{key}: the restarted server did not answer: {error}"),
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

fn pay_alice(amount: u64) -> Value {
    let data = TestToken::transferCall {
        to: ALICE,
        amount: U256::from(amount),
    }
    .abi_encode();
    json!({ "calls": [{ "to": usdc(), "data": format!("0x{}", alloy::hex::encode(data)) }] })
}

/// An approved session of a fresh funded account: transfers to Alice, at most `budget` USDC
/// in all; its first op (which enables it) has paid Alice 1 USDC. Returns the session id, the
/// account and that op's userOp hash.
async fn approved_session(stack: &Stack, app: &App, budget: u64) -> (String, Address, B256) {
    let now = stack.backend.latest_timestamp().await.unwrap();
    let owner = PrivateKeySigner::random();
    let session = json!({
        "validAfter": now - 60,
        "validUntil": now + 3600,
        "feeLimit": { "limit": "500000000000000000" },
        "callPolicies": [{
            "target": usdc(),
            "selector": "transfer(address,uint256)",
            "constraints": [
                { "index": 0, "condition": "equal", "value": format!("{ALICE:#x}"), "bits": 160 },
                { "index": 1, "condition": "unconstrained", "limit": { "limit": budget.to_string() } }
            ]
        }]
    });
    let requested = app
        .send(
            "POST",
            "/v1/sessions",
            None,
            Some(&json!({ "owner": owner.address(), "session": session })),
        )
        .unwrap();
    assert_eq!(requested.status, StatusCode::CREATED, "{}", requested.body);
    let id = requested.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let account: Address = requested.body["session"]["account"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let digest: B256 = requested.body["digest"].as_str().unwrap().parse().unwrap();
    fund(&stack.backend, account).await;
    let signature = owner.sign_hash_sync(&digest).unwrap();
    let approved = app
        .send(
            "POST",
            &format!("/v1/sessions/{id}/approve"),
            None,
            Some(
                &json!({ "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())) }),
            ),
        )
        .unwrap();
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let first = app.execute(&id, USDC, None).unwrap();
    assert_eq!(
        first.status,
        StatusCode::OK,
        "the enabling op: {}",
        first.body
    );
    let hash = first.body["userOpHash"].as_str().unwrap().parse().unwrap();
    (id, account, hash)
}

/// The userOps' receipts: each landed, all from `account` on one nonce lane whose sequence
/// numbers are exactly 0, 1, … — no nonce used twice, none skipped.
async fn assert_gap_free_lane(stack: &Stack, account: Address, hashes: &[B256]) {
    let mut lane = None;
    let mut sequences = Vec::new();
    for hash in hashes {
        let receipt = stack
            .backend
            .user_operation_receipt(*hash)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no receipt for {hash}"));
        assert!(receipt.success, "{hash} reverted");
        assert_eq!(receipt.sender, account);
        let key = receipt.nonce >> 64;
        assert_eq!(*lane.get_or_insert(key), key, "one lane");
        sequences.push((receipt.nonce & U256::from(u64::MAX)).to::<u64>());
    }
    sequences.sort_unstable();
    let expected: Vec<u64> = (0..hashes.len() as u64).collect();
    assert_eq!(sequences, expected, "the lane's nonces");
}

fn user_op_hash(answer: &Answer) -> B256 {
    answer.body["userOpHash"]
        .as_str()
        .unwrap_or_else(|| panic!("no userOpHash in {}", answer.body))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn a_server_killed_mid_executes_and_restarted_loses_none_and_sends_none_twice() {
    let stack = Stack::start("faults-kill").await;
    let place = Place::new("kill");
    let store = Store::Sqlite(place.dir.join("service.sqlite"));
    let key = place.create_app(&store);
    let mut first = Server::start(&place, "first", &store, &stack.node_url, &stack.bundler_url);
    let app = App {
        url: first.url.clone(),
        key,
    };
    let (session, account, enabled) = approved_session(&stack, &app, 100 * USDC).await;
    let alice_before = usdc_balance(&stack.backend, ALICE).await;

    // Six executes of 1 USDC at once, each under its own Idempotency-Key; they take turns on
    // the session. The server is killed while they run: some have answered, one is waiting for
    // its receipt or sending, the rest are queued.
    const REQUESTS: usize = 6;
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let app = app.clone();
            let session = session.clone();
            std::thread::spawn(move || app.execute(&session, USDC, Some(&format!("pay-{i}"))))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.kill();
    let before_kill: Vec<std::io::Result<Answer>> =
        requests.into_iter().map(|r| r.join().unwrap()).collect();
    let answered = before_kill
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|a| a.status == StatusCode::OK))
        .count();
    eprintln!("{answered} of {REQUESTS} executes answered 200 before the kill");
    assert!(
        answered < REQUESTS,
        "the kill came after every execute answered: the test proved nothing"
    );

    // The restarted server: a second one on the same file is refused while it runs.
    let second = Server::start(
        &place,
        "second",
        &store,
        &stack.node_url,
        &stack.bundler_url,
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args([
            "serve",
            "--rpc",
            &stack.node_url,
            "--bundler",
            &stack.bundler_url,
        ])
        .args(store.args())
        .args(["--master-key-file", &place.master_key()])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an input error: {refused:?}"
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("another `sessionkeys serve` is running") && said.contains("--database-url"),
        "{said}"
    );

    // Every request's retry gets a final answer, and it is 200: none was lost.
    let app = App {
        url: second.url.clone(),
        key: app.key,
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut hashes = vec![enabled];
    for (i, earlier) in before_kill.iter().enumerate() {
        let retry = app.execute_until_final(&session, USDC, &format!("pay-{i}"), deadline);
        assert_eq!(retry.status, StatusCode::OK, "pay-{i}: {}", retry.body);
        if let Ok(earlier) = earlier
            && earlier.status == StatusCode::OK
        {
            assert_eq!(retry.header("idempotent-replayed"), Some("true"));
            assert_eq!(
                retry.body, earlier.body,
                "pay-{i}: the first answer, replayed"
            );
        }
        hashes.push(user_op_hash(&retry));
    }

    // Paid exactly once each: Alice got 6 USDC, and the lane has 7 ops, 0 to 6.
    assert_eq!(
        usdc_balance(&stack.backend, ALICE).await - alice_before,
        U256::from(REQUESTS as u64 * USDC)
    );
    assert_gap_free_lane(&stack, account, &hashes).await;

    // Every op is in the activity log in its final state, and the chain's budget is what was
    // paid: 7 of 100 USDC spent.
    let activity = app.get(&format!("/v1/activity?session={session}&limit=200"));
    assert_eq!(activity.status, StatusCode::OK, "{}", activity.body);
    let entries = activity.body["activity"].as_array().unwrap();
    for hash in &hashes {
        let hash = format!("{hash:#x}");
        assert!(
            entries
                .iter()
                .any(|e| e["userOpHash"] == hash.as_str() && e["verdict"] == "allowed"),
            "{hash} is not in the activity log as landed: {}",
            activity.body
        );
    }
    // (An op signed and journaled but cut off before the bundler saw it is settled `dropped`
    // after the lease term, and its request runs again: the one failure that may be logged.)
    assert!(
        !entries.iter().any(|e| e["verdict"] == "failed"
            && !e["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with("dropped")),
        "no op failed: {}",
        activity.body
    );
    let listed = app.get(&format!("/v1/accounts/{account}/sessions"));
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let spent = (REQUESTS as u64 + 1) * USDC;
    assert!(
        listed
            .body
            .to_string()
            .contains(&format!("\"{}\"", 100 * USDC - spent)),
        "{} USDC left of the budget: {}",
        100 * USDC - spent,
        listed.body
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil, Alto and PostgreSQL in a private network namespace; run scripts/e2e"]
async fn two_replicas_on_one_postgres_spend_a_tight_budget_once_and_survive_the_database_stopping()
{
    let stack = Stack::start("faults-replicas").await;
    let place = Place::new("replicas");
    let store = postgres_schema("replicas");
    let key = place.create_app(&store);
    let replicas = [
        Server::start(&place, "a", &store, &stack.node_url, &stack.bundler_url),
        Server::start(&place, "b", &store, &stack.node_url, &stack.bundler_url),
    ];
    let apps: Vec<App> = replicas
        .iter()
        .map(|r| App {
            url: r.url.clone(),
            key: key.clone(),
        })
        .collect();
    // 4 USDC in all; the enabling op paid 1, so 3 more fit.
    let (session, account, enabled) = approved_session(&stack, &apps[0], 4 * USDC).await;
    let alice_before = usdc_balance(&stack.backend, ALICE).await;

    // Ten executes of 1 USDC at once, alternating between the replicas.
    const REQUESTS: usize = 10;
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let app = apps[i % 2].clone();
            let session = session.clone();
            std::thread::spawn(move || app.execute(&session, USDC, None))
        })
        .collect();
    let answers: Vec<Answer> = requests
        .into_iter()
        .map(|r| r.join().unwrap().expect("the replicas answer"))
        .collect();
    let landed: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::UNPROCESSABLE_ENTITY)
        .collect();
    assert_eq!(
        (landed.len(), refused.len()),
        (3, REQUESTS - 3),
        "exactly the budget's 3 land, the rest are refused: {answers:#?}"
    );
    for answer in &refused {
        assert_eq!(answer.code(), "refused", "{}", answer.body);
        assert_eq!(
            answer.body["error"]["violation"], "LimitExceeded",
            "{}",
            answer.body
        );
    }
    assert_eq!(
        usdc_balance(&stack.backend, ALICE).await - alice_before,
        U256::from(3 * USDC)
    );
    let mut hashes = vec![enabled];
    hashes.extend(landed.iter().map(|a| user_op_hash(a)));
    assert_gap_free_lane(&stack, account, &hashes).await;

    // The database stops: the replicas answer 503 with Retry-After, and say which part is down.
    let activity_before = apps[1].get(&format!("/v1/activity?session={session}&limit=200"));
    assert_eq!(activity_before.status, StatusCode::OK);
    postgres_ctl("stop");
    let down = apps[1]
        .send("GET", &format!("/v1/sessions/{session}"), None, None)
        .unwrap();
    let ready = http(&apps[1].url, "GET", "/readyz", &[], None).unwrap();
    let check = apps[0]
        .send(
            "POST",
            &format!("/v1/sessions/{session}/check"),
            None,
            Some(&pay_alice(USDC)),
        )
        .unwrap();
    postgres_ctl("start");
    for answer in [&down, &check] {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert_eq!(answer.code(), "database_unavailable", "{}", answer.body);
        assert_eq!(answer.header("retry-after"), Some("5"));
    }
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.body
    );
    assert_eq!(ready.body["database"], "unavailable", "{}", ready.body);
    assert_eq!(ready.body["chain"], "ok", "{}", ready.body);

    // It returns: both replicas serve again with nothing lost — the session, its log, and the
    // budget it enforces (the next execute is refused, over the limit by one unit).
    let deadline = Instant::now() + Duration::from_secs(60);
    for app in &apps {
        loop {
            let answer = app.get(&format!("/v1/sessions/{session}"));
            if answer.status == StatusCode::OK {
                assert_eq!(answer.body["status"], "granted", "{}", answer.body);
                break;
            }
            assert!(Instant::now() < deadline, "no recovery: {}", answer.body);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // Each pooled connection the restart killed fails its first use with a 503 (Retry-After):
    // a client retries, and so does this one.
    let activity_after = loop {
        let answer = apps[0].get(&format!("/v1/activity?session={session}&limit=200"));
        if answer.status != StatusCode::SERVICE_UNAVAILABLE {
            break answer;
        }
        assert_eq!(answer.code(), "database_unavailable", "{}", answer.body);
        assert!(Instant::now() < deadline, "no recovery: {}", answer.body);
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        activity_after.status,
        StatusCode::OK,
        "{}",
        activity_after.body
    );
    assert_eq!(
        activity_after.body["activity"], activity_before.body["activity"],
        "the log survived the stop, unchanged"
    );
    let over = loop {
        let answer = apps[0].execute(&session, 1, None).unwrap();
        if answer.status != StatusCode::SERVICE_UNAVAILABLE {
            break answer;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", answer.body);
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        over.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        over.body
    );
    assert_eq!(over.body["error"]["violation"], "LimitExceeded");
}

/// A TCP proxy in front of the bundler that can be up (forwards), down (closes every
/// connection at once) or silent (accepts and never answers).
struct BundlerProxy {
    url: String,
    mode: Arc<AtomicU8>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const SILENT: u8 = 2;

impl BundlerProxy {
    fn start(upstream: &str) -> BundlerProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let mode = Arc::new(AtomicU8::new(UP));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accept_mode, accept_open) = (Arc::clone(&mode), Arc::clone(&open));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                match accept_mode.load(Ordering::SeqCst) {
                    DOWN => drop(client),
                    SILENT => accept_open.lock().unwrap().push(client),
                    _ => {
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        accept_open
                            .lock()
                            .unwrap()
                            .push(client.try_clone().unwrap());
                        pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pump(server, client);
                    }
                }
            }
        });
        BundlerProxy { url, mode, open }
    }

    /// Switches mode and cuts every open connection, so a pooled one cannot outlive it.
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end tier: needs anvil and Alto in a private network namespace; run scripts/e2e"]
async fn a_bundler_down_or_silent_fails_executes_clearly_and_leaves_nothing_stuck() {
    let stack = Stack::start("faults-bundler").await;
    let proxy = BundlerProxy::start(&stack.bundler_url);
    let place = Place::new("bundler");
    let store = Store::Sqlite(place.dir.join("service.sqlite"));
    let key = place.create_app(&store);
    let server = Server::start(&place, "server", &store, &stack.node_url, &proxy.url);
    let app = App {
        url: server.url.clone(),
        key,
    };
    let (session, account, enabled) = approved_session(&stack, &app, 100 * USDC).await;
    let alice_before = usdc_balance(&stack.backend, ALICE).await;

    for (mode, name) in [(DOWN, "down"), (SILENT, "silent")] {
        proxy.set(mode);
        let started = Instant::now();
        let failed = app.execute(&session, USDC, None).unwrap();
        let took = started.elapsed();
        assert_eq!(
            failed.status,
            StatusCode::BAD_GATEWAY,
            "bundler {name}: {}",
            failed.body
        );
        assert_eq!(
            failed.code(),
            "chain_unavailable",
            "bundler {name}: {}",
            failed.body
        );
        let message = failed.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("bundler"), "bundler {name}: {message}");
        assert!(
            !message.contains(proxy.url.trim_start_matches("http://")),
            "errors never quote the bundler's URL: {message}"
        );
        // Bounded by --rpc-timeout 3 (a few requests at most), not hung.
        assert!(
            took < Duration::from_secs(20),
            "bundler {name}: took {took:?}"
        );
        let ready = http(&app.url, "GET", "/readyz", &[], None).unwrap();
        assert_eq!(
            ready.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "bundler {name}: {}",
            ready.body
        );
        assert_eq!(ready.body["bundler"], "unavailable", "{}", ready.body);
        assert_eq!(ready.body["chain"], "ok", "{}", ready.body);
    }

    // Back up: the next execute runs at once (nothing was sent, so nothing is in flight), and
    // the chain saw only the ops that succeeded.
    proxy.set(UP);
    let paid = app.execute(&session, USDC, None).unwrap();
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(
        usdc_balance(&stack.backend, ALICE).await - alice_before,
        U256::from(USDC)
    );
    assert_gap_free_lane(&stack, account, &[enabled, user_op_hash(&paid)]).await;
    let activity = app.get(&format!(
        "/v1/activity?session={session}&kind=execute&limit=50"
    ));
    let failures: Vec<&Value> = activity.body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "failed")
        .collect();
    assert_eq!(
        failures.len(),
        2,
        "both failures are logged: {}",
        activity.body
    );
}
