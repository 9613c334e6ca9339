//! Load on the session service over loopback HTTP: executes a second with p50/p99, and checks
//! a second, against the embedded devnet with SQLite (a file in WAL mode).
//!
//! ```sh
//! cargo run --release -p sessionkeys-service --bin sessionkeys-service-bench -- \
//!   [--seconds 10] [--sessions 8] [--database-url postgres://…]
//! scripts/service-bench        # both databases, PostgreSQL on a private server
//! ```
//!
//! Each of `--sessions` workers executes (then checks) under its own session of its own
//! account, one request at a time, for `--seconds` each; the table goes to standard output
//! (docs/benchmarks.md keeps the figures). The workers are threads of a small HTTP/1.1 client
//! ([`http1`]) so that the load costs the shared cores little; beside the rates, the table
//! gives the CPU time the service and the client each spent per request ([`cpu`]) and how much
//! of the time the devnet's lock was held (it runs one call at a time).

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sessionkeys::backend::Backend;
use sessionkeys::{AccountPlan, DevnetBackend, EntryPointVersion};
use sessionkeys_service::{Database, MasterKey, Service};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

mod cpu;
mod http1;

const ALICE: &str = "0x00000000000000000000000000000000000a11ce";

/// Load on the session service over loopback HTTP: executes and checks a second, with p50 and
/// p99, on the embedded devnet.
#[derive(clap::Parser)]
struct Options {
    /// How long each measurement runs, in seconds.
    #[arg(long, env = "SESSIONKEYS_BENCH_SECONDS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Concurrent workers, each with its own session of its own account.
    #[arg(long, env = "SESSIONKEYS_BENCH_SESSIONS", default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..=1024))]
    sessions: u16,
    /// Which measurements to run (one alone, to profile it).
    #[arg(long, value_enum, default_value_t = Only::Both)]
    only: Only,
    /// PostgreSQL instead of a SQLite file: a URL or key-value connection settings.
    #[arg(long, env = "SESSIONKEYS_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// Which measurements run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    /// Executes, then checks, then the HTTP floor.
    Both,
    /// Executes only.
    Execute,
    /// Checks only.
    Check,
    /// `GET /healthz` only: what the HTTP stack and this load client cost on their own, the
    /// ceiling any endpoint of the service can reach on this machine.
    Floor,
}

/// One worker's session: its id, and an execute body paying Alice one unit of USDC.
struct Session {
    id: String,
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> Result<(StatusCode, Value), String> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let value = response.json().await.map_err(|e| e.to_string())?;
    Ok((status, value))
}

async fn session(
    backend: &DevnetBackend,
    client: &reqwest::Client,
    base: &str,
    key: &str,
    usdc: Address,
) -> Result<Session, String> {
    let owner = PrivateKeySigner::random();
    let account = AccountPlan::new(owner.address(), EntryPointVersion::V07)
        .account(backend)
        .await
        .map_err(|e| e.to_string())?;
    backend
        .with_devnet(|d| {
            d.chain
                .set_balance(account.address, U256::from(10u64).pow(U256::from(24)));
            d.mint(
                account.address,
                sessionkeys_devnet::funded::Funds {
                    wei: U256::ZERO,
                    usdc: U256::from(10u64).pow(U256::from(18)),
                    gold: U256::ZERO,
                },
            )
        })
        .map_err(|e| e.to_string())?;
    let now = backend
        .latest_timestamp()
        .await
        .map_err(|e| e.to_string())?;
    let spec = json!({
        "validAfter": now - 60,
        "validUntil": now + 86_400,
        "feeLimit": { "limit": "100000000000000000000000" },
        "callPolicies": [{ "target": usdc, "selector": "transfer(address,uint256)",
            "constraints": [
                { "index": 0, "condition": "equal", "value": ALICE, "bits": 160 },
                { "index": 1, "condition": "unconstrained", "limit": { "limit": "1000000000000000000" } }
            ] }]
    });
    let (status, requested) = post(
        client,
        &format!("{base}/v1/sessions"),
        key,
        &json!({ "owner": owner.address(), "session": spec }),
    )
    .await?;
    if status != StatusCode::CREATED {
        return Err(format!("request: {status} {requested}"));
    }
    let id = requested["session"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let digest: B256 = requested["digest"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or("no digest")?;
    let signature = owner.sign_hash_sync(&digest).map_err(|e| e.to_string())?;
    let (status, approved) = post(
        client,
        &format!("{base}/v1/sessions/{id}/approve"),
        key,
        &json!({ "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes())) }),
    )
    .await?;
    if status != StatusCode::OK {
        return Err(format!("approve: {status} {approved}"));
    }
    Ok(Session { id })
}

fn transfer(usdc: Address) -> Value {
    json!({ "calls": [{ "to": usdc, "data": format!(
        "0xa9059cbb000000000000000000000000{}{:064x}", &ALICE[2..], 1) }] })
}

/// What one measurement saw: every latency, the failures, how long it ran, and the CPU time
/// the load client and the service spent meanwhile (when the kernel keeps it).
struct Measured {
    latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
    cpu: Option<cpu::CpuTime>,
    /// How long the devnet's lock was held meanwhile.
    chain_held: Duration,
    /// How long the SQLite connection was held meanwhile (`None`: PostgreSQL).
    database_held: Option<Duration>,
}

/// Runs one request per worker at a time for `seconds`, each worker a thread with its own
/// keep-alive connection ([`http1`]): `paths` one per worker, each a POST of `body` with the
/// app's key, or a GET without either.
fn drive(
    address: SocketAddr,
    paths: Vec<String>,
    key: &str,
    body: Option<&[u8]>,
    seconds: u64,
) -> Result<Measured, String> {
    let workers = paths.len();
    // Every worker is alive at both CPU readings: a thread that has ended is not counted.
    let start = Arc::new(Barrier::new(workers + 1));
    let end = Arc::new(Barrier::new(workers + 1));
    let release = Arc::new(Barrier::new(workers + 1));
    let seconds = Duration::from_secs(seconds);
    let mut threads = Vec::new();
    for (n, path) in paths.into_iter().enumerate() {
        let request = http1::Request::new(address, &path, body.map(|_| key), body);
        let (start, end, release) = (start.clone(), end.clone(), release.clone());
        let thread = std::thread::Builder::new()
            .name(format!("{}-{n}", cpu::CLIENT_THREAD))
            .spawn(move || {
                start.wait();
                // Whatever happens in the loop, the barriers are met: a worker that panicked
                // must not leave the others waiting for it.
                let measured = std::panic::catch_unwind(|| {
                    let mut connection = http1::Connection::new(address);
                    let mut latencies = Vec::new();
                    let mut failures = 0;
                    let deadline = Instant::now() + seconds;
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        match connection.exchange(&request) {
                            Ok(200) => latencies.push(sent.elapsed()),
                            _ => failures += 1,
                        }
                    }
                    (latencies, failures)
                });
                end.wait();
                release.wait();
                measured.ok()
            })
            .map_err(|e| format!("cannot start a load client thread: {e}"))?;
        threads.push(thread);
    }
    let before = cpu::now();
    let started = Instant::now();
    start.wait();
    end.wait();
    let elapsed = started.elapsed();
    let after = cpu::now();
    release.wait();
    let mut measured = Measured {
        latencies: Vec::new(),
        failures: 0,
        elapsed,
        cpu: before.zip(after).map(|(before, after)| after.since(before)),
        chain_held: Duration::ZERO,
        database_held: None,
    };
    for thread in threads {
        let (latencies, failures) = thread
            .join()
            .ok()
            .flatten()
            .ok_or_else(|| "a load client thread panicked".to_string())?;
        measured.latencies.extend(latencies);
        measured.failures += failures;
    }
    Ok(measured)
}

fn row(name: &str, mut measured: Measured, workers: usize) -> String {
    let latencies = &mut measured.latencies;
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    let done = latencies.len();
    // CPU time per answered request, in microseconds, for the service and the load client.
    let per_request = |spent: Duration| {
        if done == 0 {
            "–".to_string()
        } else {
            format!("{:.0}", spent.as_secs_f64() * 1e6 / done as f64)
        }
    };
    let (service, client) = match measured.cpu {
        Some(cpu) => (per_request(cpu.service), per_request(cpu.client)),
        None => ("n/a".to_string(), "n/a".to_string()),
    };
    let elapsed = measured.elapsed.as_secs_f64();
    let busy = |held: Duration| format!("{:.0} %", held.as_secs_f64() * 100.0 / elapsed);
    format!(
        "| {name} | {workers} | {done} | {} | {:.0} | {:.2} | {:.2} | {service} | {client} | {} | {} |",
        measured.failures,
        done as f64 / elapsed,
        at(0.5),
        at(0.99),
        busy(measured.chain_held),
        measured.database_held.map_or("n/a".to_string(), busy),
    )
}

fn main() {
    let options = <Options as clap::Parser>::parse();
    let runtime = match sessionkeys_service::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(message) = runtime.block_on(run(options)) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), String> {
    let backend = Arc::new(
        DevnetBackend::new()
            .map_err(|e| format!("the devnet (run `npm ci --prefix contracts`): {e}"))?,
    );
    let usdc = backend.with_devnet(|d| d.addresses.usdc);
    let dir = std::env::temp_dir().join(format!("sessionkeys-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (db, store) = match &options.database_url {
        Some(url) => (Database::postgres(url, MasterKey::random()), "PostgreSQL"),
        None => (
            Database::open(&dir.join("service.sqlite"), MasterKey::random()),
            "SQLite",
        ),
    };
    let db = db.map_err(|e| e.to_string())?;
    let (_, key) = db.create_app("bench").map_err(|e| e.to_string())?;
    let service = Arc::new(
        Service::new(db, backend.clone())
            .with_rate_limit(0)
            .with_log(|_| {}),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{address}");
    tokio::spawn(sessionkeys_service::serve(
        Arc::clone(&service),
        listener,
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.sessions.into())
        .build()
        .map_err(|e| e.to_string())?;
    let mut sessions = Vec::new();
    for _ in 0..options.sessions {
        sessions.push(session(&backend, &client, &base, &key, usdc).await?);
    }
    let body = transfer(usdc);
    let body_bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    // The first op of each session enables it: warm up before measuring.
    for session in &sessions {
        let (status, answer) = post(
            &client,
            &format!("{base}/v1/sessions/{}/execute", session.id),
            &key,
            &body,
        )
        .await?;
        if status != StatusCode::OK {
            return Err(format!("first execute: {status} {answer}"));
        }
    }
    let workers = usize::from(options.sessions);
    let mut rows = Vec::new();
    for (step, wanted) in [
        ("execute", Only::Execute),
        ("check", Only::Check),
        ("floor", Only::Floor),
    ] {
        if ![Only::Both, wanted].contains(&options.only) {
            continue;
        }
        let (paths, body, name) = if wanted == Only::Floor {
            let paths = vec!["/healthz".to_string(); workers];
            (paths, None, "GET /healthz (the HTTP floor)".to_string())
        } else {
            let paths = sessions
                .iter()
                .map(|s| format!("/v1/sessions/{}/{step}", s.id))
                .collect();
            (
                paths,
                Some(body_bytes.clone()),
                format!("{step} over HTTP (devnet, {store})"),
            )
        };
        let held = (backend.chain_held(), service.db().connection_held());
        let mut measured = drive(address, paths, &key, body.as_deref(), options.seconds)?;
        measured.chain_held = backend.chain_held().saturating_sub(held.0);
        measured.database_held = service
            .db()
            .connection_held()
            .zip(held.1)
            .map(|(after, before)| after.saturating_sub(before));
        rows.push(row(&name, measured, workers));
    }
    println!(
        "| path | workers | done | failed | per second | p50 ms | p99 ms | service CPU µs/request | client CPU µs/request | devnet held | SQLite held |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
