//! `sessionkeys serve`: the session service over HTTP (docs/service.md), and `sessionkeys app
//! create`, which makes an app and prints its API key once.

use crate::args::ChainArgs;
use crate::args::key_in_env;
use crate::error::CliError;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::{AccountPlan, DevnetBackend, EntryPointVersion};
use sessionkeys_service::page::Page;
use sessionkeys_service::{Database, MasterKey, Service, SignInOrigin};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the database is and the key its session keys are sealed under.
#[derive(clap::Args, Clone)]
pub struct DatabaseArgs {
    /// The SQLite database file (created if missing).
    #[arg(long, env = "SESSIONKEYS_DB", default_value = "sessionkeys.sqlite")]
    pub db: PathBuf,
    /// A PostgreSQL database instead of SQLite, for several replicas:
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (the schema is created if missing).
    #[arg(
        long,
        env = "SESSIONKEYS_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    pub database_url: Option<String>,
    /// A file holding the master key, 64 hex digits (`openssl rand -hex 32`); else the
    /// environment variable SESSIONKEYS_MASTER_KEY holds them.
    #[arg(long, env = "SESSIONKEYS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl DatabaseArgs {
    /// # Security
    /// The master key is read into memory only; errors name where it came from, never it.
    fn open(&self) -> Result<Database, CliError> {
        let master = match &self.master_key_file {
            Some(file) => MasterKey::from_file(file),
            None => match std::env::var("SESSIONKEYS_MASTER_KEY") {
                Ok(hex) => MasterKey::from_hex(&hex, "SESSIONKEYS_MASTER_KEY"),
                Err(_) => {
                    return Err(CliError::Input(
                        "no master key: give --master-key-file FILE or set \
                         SESSIONKEYS_MASTER_KEY (64 hex digits, e.g. from `openssl rand -hex \
                         32`); `sessionkeys serve --dev` needs none"
                            .into(),
                    ));
                }
            },
        }
        .map_err(|e| CliError::Input(e.to_string()))?;
        // The URL may carry a password: errors say what failed, not the URL.
        match &self.database_url {
            Some(url) => Database::postgres(url, master)
                .map_err(|e| CliError::Input(format!("PostgreSQL (--database-url): {e}"))),
            None => Database::open(&self.db, master).map_err(|e| CliError::Input(e.to_string())),
        }
    }
}

/// `sessionkeys serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Run on the embedded devnet with a database in memory, a demo app and a funded demo
    /// owner, and print what to curl.
    #[arg(long, conflicts_with_all = ["rpc", "db", "database_url", "master_key_file"])]
    pub dev: bool,
    /// The address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, env = "SESSIONKEYS_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// The service's public URL, as owners' wallets see it in sign-in messages (EIP-4361
    /// `domain` and `URI`). Default: `http://` and the listening address.
    #[arg(long, env = "SESSIONKEYS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests a second each app may make (bursts of twice that); 0 turns the limit off.
    #[arg(long, env = "SESSIONKEYS_RATE_LIMIT", default_value_t = sessionkeys_service::DEFAULT_RATE_PER_SECOND)]
    pub rate_limit: u32,
    /// An origin whose pages may call the API from a browser (the owner's page), e.g.
    /// `https://owner.example.com`; repeat for several.
    #[arg(
        long = "cors-origin",
        env = "SESSIONKEYS_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// The node's JSON-RPC URL (required without --dev).
    #[arg(
        long,
        env = "SESSIONKEYS_RPC_URL",
        hide_env_values = true,
        requires = "bundler"
    )]
    pub rpc: Option<String>,
    /// The ERC-4337 bundler's JSON-RPC URL (ERC-7769).
    #[arg(long, env = "SESSIONKEYS_BUNDLER_URL", hide_env_values = true)]
    pub bundler: Option<String>,
    /// Whose account factories new accounts come from (see `deploy --factory-owner`).
    #[arg(long, env = "SESSIONKEYS_FACTORY_OWNER")]
    pub factory_owner: Option<Address>,
    /// The EntryPoint version of new accounts.
    #[arg(long, env = "SESSIONKEYS_ENTRY_POINT", default_value = "v0.7")]
    pub entry_point: EntryPointVersion,
    /// The name of an environment variable holding the hex key that pays for relayed enables
    /// (`"enable": "relayed"`); without it only enable-in-first-use is offered.
    #[arg(long, env = "SESSIONKEYS_RELAYER_KEY_ENV")]
    pub relayer_key_env: Option<String>,
    /// The SQLite database file (created if missing; default `sessionkeys.sqlite`). One
    /// replica only: for several, use --database-url.
    #[arg(long, env = "SESSIONKEYS_DB")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL database instead of SQLite, shared by any number of replicas:
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (the schema is created if missing).
    #[arg(
        long,
        env = "SESSIONKEYS_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    pub database_url: Option<String>,
    /// A file holding the master key (64 hex digits); else SESSIONKEYS_MASTER_KEY.
    #[arg(long, env = "SESSIONKEYS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The engine's WebAssembly module for the owner's page at `/` (built by
    /// scripts/engine-wasm). Default: `sessionkeys_engine.wasm` beside this binary, then
    /// `packages/engine/sessionkeys_engine.wasm`; without one the page signs nothing.
    #[arg(long, env = "SESSIONKEYS_ENGINE_WASM")]
    pub engine_wasm: Option<PathBuf>,
    /// With --dev: the name of an environment variable holding the demo owner's hex key, so a
    /// test's wallet can play the owner (default: a fresh random key).
    #[arg(long, env = "SESSIONKEYS_DEV_OWNER_KEY_ENV", requires = "dev")]
    pub dev_owner_key_env: Option<String>,
}

/// `sessionkeys app …`.
#[derive(clap::Subcommand)]
pub enum AppCommand {
    /// Make an app (a tenant of the service) and print its API key, once.
    Create {
        /// The app's name.
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub fn run_app(command: AppCommand, json: bool) -> Result<(), CliError> {
    match command {
        AppCommand::Create { name, database } => {
            let (app, key) = database
                .open()?
                .create_app(&name)
                .map_err(|e| CliError::Input(e.to_string()))?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "app": app.id, "name": app.name, "apiKey": key })
                );
            } else {
                outln!("app      {} ({})", app.id, app.name);
                outln!("api key  {key}");
                outln!(
                    "Keep the key now: the service stores only its SHA-256 and never shows it again."
                );
            }
            Ok(())
        }
    }
}

pub fn run(args: ServeArgs, json: bool) -> Result<(), CliError> {
    let runtime = sessionkeys_service::runtime()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(args, json))
}

async fn serve(args: ServeArgs, json: bool) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Input(format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::Input(format!("cannot read the listening address: {e}")))?;
    let origin = sign_in_origin(args.public_url.as_deref(), bound)?;
    let settings = |service: Service| {
        service
            .with_origin(origin.clone())
            .with_rate_limit(args.rate_limit)
            .with_cors_origins(args.cors_origins.clone())
    };
    let page = Page::load(&match &args.engine_wasm {
        Some(path) => vec![path.clone()],
        None => sessionkeys_service::page::default_engine_paths(),
    });
    if let Some(missing) = page.engine_missing() {
        crate::onchain::progress(
            json,
            &format!("sessionkeys serve: the owner's page has {missing}"),
        );
    }
    // `_sole_replica`: the SQLite lock, held (open and locked) until the server stops.
    let (router, _sole_replica) = if args.dev {
        let owner = match &args.dev_owner_key_env {
            Some(var) => key_in_env(var)?,
            None => PrivateKeySigner::random(),
        };
        (
            dev_service(bound, settings, owner, &page, json).await?,
            None,
        )
    } else {
        let rpc = args.rpc.clone().ok_or_else(|| {
            CliError::Input(
                "give --rpc URL and --bundler URL (or SESSIONKEYS_RPC_URL and \
                 SESSIONKEYS_BUNDLER_URL), or --dev for the embedded devnet"
                    .into(),
            )
        })?;
        let chain = ChainArgs {
            rpc,
            bundler: args.bundler.clone(),
            factory_owner: args.factory_owner,
        };
        let database = DatabaseArgs {
            db: args
                .db
                .clone()
                .unwrap_or_else(|| PathBuf::from("sessionkeys.sqlite")),
            database_url: args.database_url.clone(),
            master_key_file: args.master_key_file.clone(),
        };
        // SQLite serves one replica: its file is locked for as long as this process runs, so
        // whatever an earlier process left held (leases, idempotency keys) is a dead one's.
        let sole_replica = match &database.database_url {
            Some(_) => None,
            None => Some(lock_sole_replica(&database.db)?),
        };
        let mut service = settings(Service::new(database.open()?, chain.backend(true)?))
            .with_entry_point(args.entry_point)
            .with_factory_owner(chain.factory_owner());
        if sole_replica.is_some() {
            let (leases, keys) = service
                .recover_as_sole_replica()
                .map_err(|e| CliError::Input(e.public_message()))?;
            if leases + keys > 0 {
                crate::onchain::progress(
                    json,
                    &format!(
                        "sessionkeys serve: an earlier run stopped with {leases} session(s) busy \
                         and {keys} request(s) unanswered; their retries settle them now"
                    ),
                );
            }
        }
        if let Some(var) = &args.relayer_key_env {
            service = service.with_relayer(key_in_env(var)?);
        }
        crate::onchain::progress(
            json,
            &format!("sessionkeys serve: listening on http://{bound} (OpenAPI at /openapi.json)"),
        );
        crate::onchain::progress(json, &page_banner(&format!("http://{bound}"), &page));
        let service = Arc::new(service);
        // Ops sent before a restart whose requests never saw the receipt: settle them now
        // (each session's next execute would, too).
        let reconciling = Arc::clone(&service);
        tokio::spawn(async move {
            match reconciling.reconcile().await {
                Ok(0) => {}
                Ok(in_flight) => eprintln!(
                    "sessionkeys serve: {in_flight} op(s) sent before the restart may still land; \
                     their sessions wait for them"
                ),
                Err(error) => eprintln!(
                    "sessionkeys serve: could not settle the ops sent before the restart yet \
                     ({}); each session settles its own before its next op",
                    error.public_message()
                ),
            }
        });
        (service.router(), sole_replica)
    };
    // Ctrl-C or SIGTERM: stop accepting, finish the requests in flight.
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    let router = router.merge(page.router());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::Input(format!("the server stopped: {e}")))
}

/// The `--dev` service: the devnet, a demo app, and a demo owner whose funded account sessions
/// are requested for. The owner's wallet is stood in for by `POST /dev/owner/sign`, mounted
/// only here.
/// Locks `<db>.lock` beside the SQLite file for this process's lifetime: a second `serve` on
/// the same file is refused (two replicas need PostgreSQL), and the lock dies with the
/// process however it ends, `kill -9` included.
fn lock_sole_replica(db: &std::path::Path) -> Result<std::fs::File, CliError> {
    // Named from the file's canonical path, so a symlink or a relative path to the same
    // database finds the same lock (the directory exists; the file may not yet).
    let name = db.file_name().ok_or_else(|| {
        CliError::Input(format!(
            "--db {}: give the database's file name",
            db.display()
        ))
    })?;
    let dir = match db.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| CliError::Input(format!("--db {}: its directory: {e}", db.display())))?;
    let target = std::fs::canonicalize(dir.join(name)).unwrap_or_else(|_| dir.join(name));
    let mut path = target.into_os_string();
    path.push(".lock");
    let path = PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            CliError::Input(format!("cannot open the lock file {}: {e}", path.display()))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError::Input(format!(
            "another `sessionkeys serve` is running on {} (it holds {}): SQLite serves one \
             replica; for several, give each --database-url postgres://…",
            db.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(CliError::Input(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// The EIP-4361 origin from `--public-url`: its host (and port) and the URL itself.
fn sign_in_origin(public_url: Option<&str>, bound: SocketAddr) -> Result<SignInOrigin, CliError> {
    let uri = public_url
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{bound}"));
    let domain = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_string())
        .filter(|host| !host.is_empty())
        .ok_or_else(|| {
            CliError::Input(format!(
                "--public-url {uri:?} is not an http(s) URL: give e.g. https://sessions.example.com"
            ))
        })?;
    Ok(SignInOrigin { domain, uri })
}

/// What the banner says of the owner's page: where it is and the SHA-256 of each asset.
fn page_banner(base: &str, page: &Page) -> String {
    let mut text = format!("  page       {base}/  (the owner's page; SHA-256 of what it serves:");
    for (path, digest) in page.digests() {
        text += &format!("\n               {path} {digest}");
    }
    text + ")"
}

async fn dev_service(
    bound: SocketAddr,
    settings: impl FnOnce(Service) -> Service,
    owner: PrivateKeySigner,
    page: &Page,
    json: bool,
) -> Result<axum::Router, CliError> {
    let backend = Arc::new(DevnetBackend::new()?);
    let db =
        Database::in_memory(MasterKey::random()).map_err(|e| CliError::Input(e.to_string()))?;
    let (app, key) = db
        .create_app("demo")
        .map_err(|e| CliError::Input(e.to_string()))?;
    let plan = AccountPlan::new(owner.address(), EntryPointVersion::V07);
    let account = plan.account(backend.as_ref()).await?;
    let usdc = backend.with_devnet(|d| {
        let funds = sessionkeys_devnet::funded::Funds::eth_and_usdc(1, 1000);
        d.chain.set_balance(account.address, funds.wei);
        d.mint(account.address, funds).map(|_| d.addresses.usdc)
    })?;
    let relayer = PrivateKeySigner::random();
    backend.with_devnet(|d| {
        d.chain
            .set_balance(relayer.address(), U256::from(10u64).pow(U256::from(20)))
    });
    let service = Arc::new(
        settings(Service::new(db, backend.clone()))
            .with_relayer(relayer)
            .with_private_webhooks(true),
    );
    let dev_owner = owner.clone();
    let rpc = axum::Router::new()
        .route("/dev/rpc", axum::routing::post(super::dev_rpc::dev_rpc))
        .with_state(backend.clone());
    let dev_routes = axum::Router::new().route(
        "/dev/owner/sign",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let owner = dev_owner.clone();
            async move {
                // A 32-byte digest (typed data), or a message to `personal_sign` (sign-in).
                let signed = match (body["digest"].as_str(), body["message"].as_str()) {
                    (Some(digest), None) => digest
                        .parse::<B256>()
                        .ok()
                        .and_then(|d| owner.sign_hash_sync(&d).ok()),
                    (None, Some(message)) => owner.sign_message_sync(message.as_bytes()).ok(),
                    _ => None,
                };
                match signed {
                    Some(signature) => (
                        axum::http::StatusCode::OK,
                        axum::Json(serde_json::json!({
                            "signature": format!("0x{}", alloy::hex::encode(signature.as_bytes()))
                        })),
                    ),
                    None => (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(serde_json::json!({ "error": { "code": "bad_request",
                            "message": "give {\"digest\": \"0x…\"} (the 32-byte digest a request returned) or {\"message\": \"…\"} (a sign-in message)" } })),
                    ),
                }
            }
        }),
    );
    let until = backend
        .latest_timestamp()
        .await
        .map_err(sessionkeys::SdkError::from)?
        + 3600;
    let base = format!("http://{bound}");
    let alice = "0x00000000000000000000000000000000000a11ce";
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "url": base, "app": app.id, "apiKey": key,
                "owner": owner.address(), "account": account.address, "usdc": usdc,
                "rpc": format!("{base}/dev/rpc"),
                "page": {
                    "url": format!("{base}/"),
                    "assets": page.digests().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                    "engineMissing": page.engine_missing().map(|m| m.to_string()),
                },
            })
        );
    } else {
        outln!("sessionkeys serve --dev: the embedded devnet, a database in memory");
        outln!("  listening  {base}  (OpenAPI at {base}/openapi.json)");
        outln!("  app        demo, API key {key}");
        outln!(
            "  owner      {} (its wallet, --dev only: POST /dev/owner/sign with a digest or a message)",
            owner.address()
        );
        outln!(
            "  account    {} holding 1 ETH and 1000 USDC ({usdc})",
            account.address
        );
        outln!(
            "  chain      {base}/dev/rpc (read-only JSON-RPC of the embedded chain, for a wallet)"
        );
        outln!("{}", page_banner(&base, page));
        outln!();
        outln!("Try it (docs/service.md walks through each step):");
        outln!("  K='{key}'");
        outln!(
            "  curl -s {base}/v1/sessions -H \"authorization: Bearer $K\" -H 'content-type: application/json' \\\n    -d '{{\"owner\":\"{}\",\"session\":{{\"validUntil\":{until},\"callPolicies\":[{{\"target\":\"{usdc}\",\"selector\":\"transfer(address,uint256)\",\"constraints\":[{{\"index\":0,\"condition\":\"equal\",\"value\":\"{alice}\",\"bits\":160}},{{\"index\":1,\"condition\":\"unconstrained\",\"limit\":{{\"limit\":\"50000000\"}}}}]}}],\"feeLimit\":{{\"limit\":\"10000000000000000\"}}}}}}' > requested.json",
            owner.address()
        );
        outln!(
            "  curl -s {base}/dev/owner/sign -H 'content-type: application/json' -d \"{{\\\"digest\\\":\\\"$(jq -r .digest requested.json)\\\"}}\" > signed.json"
        );
        outln!(
            "  curl -s {base}/v1/sessions/$(jq -r .session.id requested.json)/approve -H \"authorization: Bearer $K\" -H 'content-type: application/json' -d @signed.json"
        );
        outln!(
            "  curl -s {base}/v1/sessions/$(jq -r .session.id requested.json)/execute -H \"authorization: Bearer $K\" -H 'content-type: application/json' \\\n    -d '{{\"calls\":[{{\"to\":\"{usdc}\",\"data\":\"0xa9059cbb000000000000000000000000{}0000000000000000000000000000000000000000000000000000000000989680\"}}]}}'",
            &alice[2..]
        );
        outln!("Stop with Ctrl-C.");
    }
    Ok(service.router().merge(dev_routes).merge(rpc))
}
