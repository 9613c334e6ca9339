//! The MCP server: the session's tools over the Model Context Protocol (rmcp), for any MCP
//! client — a desktop assistant or an agent framework.
//!
//! Tools stay listed for the whole session. When what they say changes (a budget spent, the
//! session revoked or expired), their descriptions change and the server sends
//! `notifications/tools/list_changed`: after every tool call, and every
//! [`WATCH_EVERY`] while a client is connected (expiry and resets happen with no call).
//! Refusals are tool results with `isError` and a JSON body naming the reason, so an agent can
//! read them and correct itself; an unknown tool is answered the same way, listing the tools.

use crate::agent::{Agent, MOST_CALLS, Refusal};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How often a connected client's tools are looked at for changes no call made.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The session's MCP server. Cloned per connection (streamable HTTP makes one per session);
/// every clone shares the agent.
#[derive(Clone)]
pub struct AgentServer {
    agent: Arc<Agent>,
    /// The descriptions last listed to this connection, to tell when they change.
    listed: Arc<Mutex<Option<Vec<String>>>>,
    /// Whether this connection's watcher runs (a client that sends `initialized` twice gets
    /// one).
    watching: Arc<AtomicBool>,
}

impl std::fmt::Debug for AgentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentServer")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

const NO_ARGUMENTS: &str = r#"{"type":"object","properties":{},"additionalProperties":false}"#;

impl AgentServer {
    /// A server for `agent`.
    pub fn new(agent: Arc<Agent>) -> Self {
        Self {
            agent,
            listed: Arc::new(Mutex::new(None)),
            watching: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The agent it serves.
    pub fn agent(&self) -> &Arc<Agent> {
        &self.agent
    }

    /// Every tool, described as the session stands now.
    pub async fn tools(&self) -> Vec<Tool> {
        let state = self.agent.state().await;
        let mut tools: Vec<Tool> = self
            .agent
            .policy_tools()
            .iter()
            .map(|tool| {
                let description = match &state {
                    Ok(state) => self.agent.describe_tool(tool, state),
                    Err(refusal) => {
                        format!("{}. (Now unknown: {})", tool.sentence, refusal.message)
                    }
                };
                // Each moves the account's funds or acts for it: clients should ask first.
                Tool::new(tool.name.clone(), description, tool.input_schema())
                    .with_annotations(ToolAnnotations::new().read_only(false).destructive(true))
            })
            .collect();
        let names: Vec<Value> = self
            .agent
            .policy_tools()
            .iter()
            .map(|t| json!(t.name))
            .collect();
        let calls_schema = object(json!({
            "type": "object",
            "properties": {"calls": {
                "type": "array", "minItems": 1, "maxItems": MOST_CALLS,
                "description": "the calls of one userOp, each a policy tool and its arguments",
                "items": {
                    "type": "object",
                    "properties": {
                        "tool": {"type": "string", "enum": names},
                        "arguments": {"type": "object"},
                    },
                    "required": ["tool", "arguments"],
                    "additionalProperties": false,
                },
            }},
            "required": ["calls"],
            "additionalProperties": false,
        }));
        let none = object(serde_json::from_str(NO_ARGUMENTS).unwrap_or_default());
        let read_only = || ToolAnnotations::new().read_only(true);
        tools.extend([
            Tool::new(
                "describe_session",
                "The session's scope in plain words, the budgets left, the time left and when limits reset.",
                none.clone(),
            )
            .with_annotations(read_only()),
            Tool::new(
                "check",
                "Would the session's validator accept these calls now? Judged by the engine exactly as the chain's validator would, nothing signed or paid. If not: the named reason and what would pass instead. Fees and whether the calls themselves succeed (a balance too small) are judged only at execute.",
                calls_schema.clone(),
            )
            .with_annotations(read_only()),
            Tool::new(
                "execute",
                "Send these calls as one operation of the account: pre-checked, signed with the session key, sent, and its receipt awaited. Refused calls are never signed or paid for; a failure after signing says sent: maybe or mined, with the userOp hash (read history before trying again).",
                calls_schema,
            )
            .with_annotations(ToolAnnotations::new().read_only(false).destructive(true)),
            Tool::new(
                "history",
                "This session's operations on the chain, oldest first: userOp hash, success and gas paid.",
                none.clone(),
            )
            .with_annotations(read_only()),
            Tool::new(
                "revoke_session",
                "Give up this session for good: the session key revokes it on the chain. Every tool is refused afterwards.",
                none,
            )
            .with_annotations(ToolAnnotations::new().read_only(false).destructive(true)),
        ]);
        tools
    }

    /// Runs tool `name` with `arguments`.
    pub async fn call(&self, name: &str, arguments: &Map<String, Value>) -> Result<Value, Refusal> {
        let agent = &self.agent;
        let no_arguments = || match arguments.keys().next() {
            Some(other) => Err(Refusal {
                reason: "ArgumentUnknown".into(),
                message: format!("unknown argument {other:?}: {name} takes no arguments"),
                instead: None,
                sent: crate::agent::Sent::No,
            }),
            None => Ok(()),
        };
        match name {
            "describe_session" => {
                no_arguments()?;
                agent.describe().await
            }
            "history" => {
                no_arguments()?;
                agent.history().await
            }
            "revoke_session" => {
                no_arguments()?;
                agent.revoke().await
            }
            "check" => agent.check(&agent.calls_of(arguments)?).await,
            "execute" => agent.execute(&agent.calls_of(arguments)?).await,
            policy => {
                let call = agent.tool(policy)?.call(arguments).map_err(Refusal::from)?;
                agent.execute(&[call]).await
            }
        }
    }

    /// Whether the tools' descriptions differ from those last listed (and remembers them).
    async fn changed(&self) -> bool {
        let now: Vec<String> = self
            .tools()
            .await
            .into_iter()
            .map(|t| t.description.map(|d| d.to_string()).unwrap_or_default())
            .collect();
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = listed.as_ref().is_some_and(|before| *before != now);
        *listed = Some(now);
        changed
    }

    async fn notify_if_changed(&self, peer: &Peer<RoleServer>) {
        if self.changed().await {
            // A client that went away is the watcher's to notice; nothing else to do here.
            let _ = peer.notify_tool_list_changed().await;
        }
    }
}

fn object(value: Value) -> Arc<JsonObject> {
    Arc::new(match value {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

impl ServerHandler for AgentServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "sessionkeys-agent",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(format!(
            "You act for the smart account {} within one session key's scope. The chain refuses \
             anything outside it, so call describe_session first, use check when unsure, and read \
             a refusal's reason and `instead` to correct yourself. Amounts are decimal strings in \
             the token's units.",
            self.agent.account()
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tools().await;
        let descriptions = tools
            .iter()
            .map(|t| t.description.as_deref().unwrap_or_default().to_string())
            .collect();
        *self.listed.lock().unwrap_or_else(PoisonError::into_inner) = Some(descriptions);
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let result = match self.call(&request.name, &arguments).await {
            Ok(value) => CallToolResult::structured(value),
            Err(refusal) => CallToolResult::structured_error(refusal.to_json()),
        };
        self.notify_if_changed(&context.peer).await;
        Ok(result.into())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let server = self.clone();
        let peer = context.peer;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                if peer.is_transport_closed() {
                    return;
                }
                server.notify_if_changed(&peer).await;
            }
        });
    }
}

/// Serves `server` over MCP's streamable HTTP at `/mcp` on `listener` until `shutdown`
/// completes. Only loopback hosts are accepted in the `Host` header (DNS rebinding).
///
/// # Errors
/// The listener failed.
pub async fn serve_http(
    server: AgentServer,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let config = StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
    // A server per MCP session: its own listed descriptions and watcher, the agent shared.
    let agent = server.agent.clone();
    let service = StreamableHttpService::new(
        move || Ok(AgentServer::new(agent.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        })
        .await
}
