//! `sessionkeys agent`: an MCP server through which an AI agent acts within one session
//! (docs/agents.md). stdio by default (what desktop clients launch); `--http` serves MCP's
//! streamable HTTP on loopback.

use crate::args::{StoreArgs, rpc_backend};
use crate::error::CliError;
use crate::onchain::client_for;
use rmcp::ServiceExt;
use sessionkeys::backend::Backend;
use sessionkeys_agent::via_service::ServiceRoute;
use sessionkeys_agent::{Agent, AgentServer};
use sessionkeys_engine::explain::Labels;
use std::net::SocketAddr;
use std::sync::Arc;

/// `sessionkeys agent`.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// Act on the embedded devnet: a funded demo account and a session for the agent (USDC to
    /// Alice or Bob, ETH to Alice, daily caps). --rpc, --bundler, --service and --session are
    /// not read (nor their environment variables).
    #[arg(long)]
    dev: bool,
    /// The session the agent acts in: in the local store `latest` or (a prefix of) its hash;
    /// with --service its id (`ses_…`), its hash, or `latest?account=0x…`.
    #[arg(long, env = "SESSIONKEYS_SESSION_HASH", default_value = "latest")]
    session: String,
    /// Act through the session service at this URL (`sessionkeys serve`), which holds the
    /// session key, instead of a local keystore; the app's API key from --app-key-file or
    /// SESSIONKEYS_APP_KEY. --rpc and --bundler are not read then.
    #[arg(long, env = "SESSIONKEYS_SERVICE_URL")]
    service: Option<String>,
    /// A file holding the app's API key (`sk_app_…`, from `sessionkeys app create`), for
    /// --service. Without it the key is read from SESSIONKEYS_APP_KEY.
    #[arg(long)]
    app_key_file: Option<std::path::PathBuf>,
    /// The node's JSON-RPC URL (required without --dev).
    // No `requires = "bundler"`: clap counts an environment variable as given, and a URL
    // left in the environment must not stop a --dev run; `stored_agent` asks for both.
    #[arg(long, env = "SESSIONKEYS_RPC_URL", hide_env_values = true)]
    rpc: Option<String>,
    /// The ERC-4337 bundler's JSON-RPC URL (ERC-7769).
    #[arg(long, env = "SESSIONKEYS_BUNDLER_URL", hide_env_values = true)]
    bundler: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// Serve MCP's streamable HTTP at http://ADDR/mcp instead of stdio; a loopback address
    /// only (port 0 picks a free one).
    #[arg(long, env = "SESSIONKEYS_AGENT_HTTP")]
    http: Option<SocketAddr>,
}

pub fn run(args: AgentArgs) -> Result<(), CliError> {
    if let Some(address) = args.http
        && !address.ip().is_loopback()
    {
        return Err(CliError::Input(format!(
            "--http {address}: the agent's server listens on loopback only (e.g. \
             127.0.0.1:8788): anyone who reaches it acts within the session"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(args))
}

async fn serve(args: AgentArgs) -> Result<(), CliError> {
    let agent = if args.dev {
        let (agent, _backend, setup) = sessionkeys_agent::dev::dev_agent().await?;
        // stdout is the MCP channel: everything for the person goes to stderr.
        errln!("sessionkeys agent --dev: the embedded devnet (EntryPoint v0.7)");
        errln!(
            "  account  {} (1 ETH, 1000 USDC at {}, 100 GOLD)",
            setup.account,
            setup.usdc
        );
        errln!("  session  {}", setup.session);
        agent
    } else if let Some(url) = &args.service {
        let agent = service_agent(url, &args).await?;
        errln!("sessionkeys agent: through the session service (it holds the session key)");
        errln!("  account  {}", agent.account());
        errln!("  session  {}", agent.session_hash());
        Arc::new(agent)
    } else {
        Arc::new(stored_agent(&args).await?)
    };
    let tools: Vec<String> = agent
        .policy_tools()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    errln!(
        "  tools    {}, describe_session, check, execute, history, revoke_session",
        tools.join(", ")
    );
    let server = AgentServer::new(agent);
    match args.http {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| CliError::Input(format!("cannot listen on {address}: {e}")))?;
            let bound = listener
                .local_addr()
                .map_err(|e| CliError::Input(format!("cannot read the bound address: {e}")))?;
            errln!("  MCP      http://{bound}/mcp (streamable HTTP); stop with Ctrl-C");
            sessionkeys_agent::server::serve_http(server, listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::Input(format!("the server stopped: {e}")))
        }
        None => {
            errln!("  MCP      stdio (JSON-RPC on stdin and stdout)");
            let running = server
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| CliError::Input(format!("the MCP client did not initialize: {e}")))?;
            running
                .waiting()
                .await
                .map_err(|e| CliError::Input(format!("the MCP connection failed: {e}")))?;
            Ok(())
        }
    }
}

/// The agent of a stored session, its key opened with the store's password; tokens the
/// built-in list does not know are named by their `symbol()` and `decimals()` on the chain.
async fn stored_agent(args: &AgentArgs) -> Result<Agent, CliError> {
    let (Some(rpc), Some(bundler)) = (&args.rpc, &args.bundler) else {
        return Err(CliError::Input(
            "give --dev; or --rpc URL and --bundler URL with a stored session (--session); or \
             --service URL with the app's key"
                .into(),
        ));
    };
    let store = args.store.store()?;
    let stored = store.find(&args.session)?;
    let backend: Arc<dyn Backend> = Arc::new(rpc_backend(rpc, bundler)?);
    let password = args.store.password()?;
    let client = client_for(&store, &stored, backend.clone(), &password)?;
    let spec = stored.spec()?;
    let labels =
        sessionkeys::review::with_chain_tokens(backend.as_ref(), &spec, Labels::well_known()).await;
    Ok(Agent::new(client, backend, stored.validator, spec, labels))
}

/// The environment variable an app's API key is read from, for --service.
const APP_KEY_ENV: &str = "SESSIONKEYS_APP_KEY";

/// The agent of a session the service at `url` holds, acted in with the app's key.
async fn service_agent(url: &str, args: &AgentArgs) -> Result<Agent, CliError> {
    let key = match &args.app_key_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| {
                CliError::Input(format!(
                    "cannot read the app key file {}: {e}",
                    path.display()
                ))
            })?
            .trim()
            .to_string(),
        None => std::env::var(APP_KEY_ENV).map_err(|_| {
            CliError::Input(format!(
                "--service needs the app's API key: put it in {APP_KEY_ENV} or in a file given \
                 with --app-key-file (`sessionkeys app create` prints it once)"
            ))
        })?,
    };
    if key.is_empty() {
        return Err(CliError::Input(format!(
            "the app's API key is empty: give the sk_app_… key in {APP_KEY_ENV} or --app-key-file"
        )));
    }
    let route = ServiceRoute::new(url, key, args.session.clone())
        .map_err(|e| CliError::Input(e.to_string()))?;
    Agent::through_service(route, Labels::well_known())
        .await
        .map_err(|e| CliError::Input(format!("{e} (session {:?})", args.session)))
}
