//! `sessionkeys serve --dev` over a real loopback socket: the flow its banner prints (request,
//! the owner's stand-in wallet signs, approve, execute) works with plain HTTP; and `app create`
//! prints a key once and refuses to run without a master key.

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// The server, killed when the test ends (pass or fail).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body as JSON (or text).
fn http(
    base: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(key) = key {
        request += &format!("Authorization: Bearer {key}\r\n");
    }
    request += "\r\n";
    request += &body;
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = StatusCode::from_bytes(head.split(' ').nth(1).unwrap().as_bytes()).unwrap();
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, value)
}

#[test]
fn serve_dev_runs_the_whole_flow_its_banner_prints_over_http() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args(["--json", "serve", "--dev", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let banner: Value = serde_json::from_str(&line).expect("the --json banner");
    let base = banner["url"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let key = banner["apiKey"].as_str().unwrap();

    let (status, ok) = http(base, "GET", "/healthz", None, None);
    assert_eq!((status, ok), (StatusCode::OK, Value::String("ok".into())));

    // Sign-in messages name where the service is (EIP-4361 domain and URI).
    let (status, challenge) = http(
        base,
        "POST",
        "/v1/owner/challenge",
        None,
        Some(&json!({ "address": banner["owner"] })),
    );
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let message = challenge["message"].as_str().unwrap();
    let host = base.trim_start_matches("http://");
    assert!(
        message.starts_with(&format!("{host} wants you to sign in")),
        "{message}"
    );
    assert!(message.contains(&format!("URI: {base}\n")), "{message}");

    let usdc = banner["usdc"].as_str().unwrap();
    let alice = "0x00000000000000000000000000000000000a11ce";
    let session = json!({
        "validUntil": 4_000_000_000u64,
        "feeLimit": { "limit": "10000000000000000" },
        "callPolicies": [{ "target": usdc, "selector": "transfer(address,uint256)",
            "constraints": [
                { "index": 0, "condition": "equal", "value": alice, "bits": 160 },
                { "index": 1, "condition": "unconstrained", "limit": { "limit": "50000000" } }
            ] }]
    });
    let (status, requested) = http(
        base,
        "POST",
        "/v1/sessions",
        Some(key),
        Some(&json!({ "owner": banner["owner"], "session": session })),
    );
    assert_eq!(status, StatusCode::CREATED, "{requested}");
    let id = requested["session"]["id"].as_str().unwrap();

    let (status, signed) = http(
        base,
        "POST",
        "/dev/owner/sign",
        None,
        Some(&json!({ "digest": requested["digest"] })),
    );
    assert_eq!(status, StatusCode::OK, "{signed}");
    let (status, approved) = http(
        base,
        "POST",
        &format!("/v1/sessions/{id}/approve"),
        Some(key),
        Some(&signed),
    );
    assert_eq!(status, StatusCode::OK, "{approved}");

    let transfer = |amount: u64| {
        json!({ "calls": [{ "to": usdc, "data": format!(
            "0xa9059cbb000000000000000000000000{}{amount:064x}", &alice[2..]) }] })
    };
    let (status, executed) = http(
        base,
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(key),
        Some(&transfer(10_000_000)),
    );
    assert_eq!(status, StatusCode::OK, "{executed}");
    assert!(executed["userOpHash"].as_str().unwrap().starts_with("0x"));
    // 40 USDC are left of the 50: one unit more than that is refused, naming the limit.
    let (status, refused) = http(
        base,
        "POST",
        &format!("/v1/sessions/{id}/execute"),
        Some(key),
        Some(&transfer(40_000_001)),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["violation"], "LimitExceeded");
    drop(server);
}

#[test]
fn app_create_prints_a_key_once_and_needs_a_master_key() {
    let dir = std::env::temp_dir().join(format!("sk-app-create-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("service.sqlite");
    let run = |master: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sessionkeys"));
        command
            .args(["--json", "app", "create", "shop", "--db"])
            .arg(&db)
            .env_remove("SESSIONKEYS_MASTER_KEY")
            .env_remove("SESSIONKEYS_MASTER_KEY_FILE");
        if let Some(master) = master {
            command.env("SESSIONKEYS_MASTER_KEY", master);
        }
        command.output().unwrap()
    };
    // With --json the refusal is a JSON line naming what is missing.
    let said = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(2));
        let error: Value = serde_json::from_slice(&out.stdout).unwrap();
        error["reason"].as_str().unwrap().to_string()
    };
    assert!(said(&run(None)).contains("SESSIONKEYS_MASTER_KEY"));
    let reason = said(&run(Some("not hex")));
    assert!(
        reason.contains("64 hex digits") && !reason.contains("not hex"),
        "{reason}"
    );

    let master = "ab".repeat(32);
    let first: Value = serde_json::from_slice(&run(Some(&master)).stdout).unwrap();
    let second: Value = serde_json::from_slice(&run(Some(&master)).stdout).unwrap();
    let key = first["apiKey"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("sk_app_{}_", first["app"].as_str().unwrap())),
        "{key}"
    );
    assert_ne!(first["apiKey"], second["apiKey"]);
    let stored = std::fs::read(&db).unwrap();
    assert!(
        !stored
            .windows(64)
            .any(|w| w == &key.as_bytes()[key.len() - 64..]),
        "the key is stored"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_dev_serves_the_owners_page_and_a_read_only_chain_for_a_wallet() {
    let owner = alloy::signers::local::PrivateKeySigner::random();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionkeys"))
        .args([
            "--json",
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--engine-wasm",
            "/nonexistent/sessionkeys_engine.wasm",
            "--dev-owner-key-env",
            "SK_SERVE_TEST_OWNER",
        ])
        .env("SK_SERVE_TEST_OWNER", alloy::hex::encode(owner.to_bytes()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let banner: Value = serde_json::from_str(&line).expect("the --json banner");
    let base = banner["url"].as_str().unwrap();
    assert_eq!(
        banner["owner"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", owner.address()),
        "the demo owner is the key given"
    );
    // No engine module: said at start, and the page's module route says how to build one.
    let missing = banner["page"]["engineMissing"].as_str().unwrap();
    assert!(missing.contains("scripts/engine-wasm"), "{missing}");
    let (status, body) = http(base, "GET", "/engine.wasm", None, None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signs nothing")
    );
    // The page itself, as the banner hashes it.
    let (status, page) = http(base, "GET", "/", None, None);
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("Your sessions"));
    assert!(banner["page"]["assets"]["/app.js"].is_string());

    // The chain's reads for a wallet; nothing else.
    let rpc = |method: &str, params: Value| {
        http(
            base,
            "POST",
            "/dev/rpc",
            None,
            Some(&json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params })),
        )
        .1
    };
    assert_eq!(rpc("eth_chainId", json!([]))["result"], "0x7a69");
    let block = rpc("eth_getBlockByNumber", json!(["latest", false]));
    assert!(
        block["result"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );
    for method in [
        "eth_sendRawTransaction",
        "eth_sign",
        "eth_sendTransaction",
        "anvil_setBalance",
    ] {
        let refused = rpc(method, json!(["0x00"]));
        assert_eq!(refused["error"]["code"], -32601, "{method}: {refused}");
        assert_eq!(refused["id"], 7);
    }
    let old = rpc("eth_getBalance", json!([banner["account"], "0x1"]));
    assert!(
        old["error"]["message"].as_str().unwrap().contains("latest"),
        "{old}"
    );
    let balance = rpc("eth_getBalance", json!([banner["account"], "latest"]));
    assert_eq!(balance["result"], "0xde0b6b3a7640000", "1 ETH");
}
