//! The agent's MCP server, driven by rmcp's own client over an in-memory pipe, on the devnet:
//! the tools match the session, an in-scope payment goes through and its budget drops, and
//! every out-of-scope call comes back as a tool error naming its reason, with nothing moved.

use alloy::primitives::{Address, U256};
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, ProtocolVersion};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use sessionkeys::backend::Backend;
use sessionkeys_agent::AgentServer;
use sessionkeys_agent::agent::balance_of;
use sessionkeys_agent::dev::{ALICE, BOB, DevSetup, dev_agent};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Client {
    list_changed: Arc<AtomicUsize>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        // The lifecycle with `initialize`: server notifications ride its session.
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
    }
}

struct Harness {
    client: RunningService<RoleClient, Client>,
    counter: Client,
    backend: Arc<dyn Backend>,
    setup: DevSetup,
}

async fn harness() -> Harness {
    let (agent, backend, setup) = dev_agent().await.expect("the devnet starts");
    let (server_side, client_side) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = AgentServer::new(agent).serve(server_side).await {
            let _ = running.waiting().await;
        }
    });
    let counter = Client::default();
    let client = counter
        .clone()
        .serve(client_side)
        .await
        .expect("initialized");
    Harness {
        client,
        counter,
        backend,
        setup,
    }
}

impl Harness {
    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
            .await
            .expect("the call is answered")
    }

    /// The refusal's reason, failing the test if the call was not refused.
    async fn refused(&self, tool: &str, arguments: Value) -> (String, Value) {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} {arguments} was not refused: {result:?}"
        );
        let body = result.structured_content.expect("a JSON body");
        (
            body["reason"].as_str().unwrap_or_default().to_string(),
            body,
        )
    }

    async fn usdc(&self, of: Address) -> U256 {
        balance_of(self.backend.as_ref(), Some(self.setup.usdc), of)
            .await
            .unwrap()
    }

    async fn balances(&self) -> Vec<U256> {
        let b = self.backend.as_ref();
        let mut out = Vec::new();
        for who in [self.setup.account, ALICE, BOB] {
            out.push(balance_of(b, Some(self.setup.usdc), who).await.unwrap());
            out.push(balance_of(b, Some(self.setup.gold), who).await.unwrap());
        }
        out.push(balance_of(b, None, ALICE).await.unwrap());
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_are_shaped_by_the_session_scope() {
    let h = harness().await;
    let tools = h.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "send_usdc",
            "send_eth",
            "describe_session",
            "check",
            "execute",
            "history",
            "revoke_session"
        ]
    );
    let send_usdc = &tools[0];
    let schema = Value::Object((*send_usdc.input_schema).clone());
    assert_eq!(
        schema,
        json!({
            "type": "object",
            "properties": {
                "to": {"type": "string", "enum": [ALICE.to_checksum(None), BOB.to_checksum(None)],
                       "description": "an address the session allows here"},
                "amount": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,77})(\\.[0-9]{1,6})?$",
                           "description": "an amount, a decimal string in USDC, at most 25 USDC each time"},
            },
            "required": ["to", "amount"],
            "additionalProperties": false,
        })
    );
    let description = send_usdc.description.as_deref().unwrap();
    assert!(description.starts_with("Send USDC ("), "{description}");
    for words in [
        "at most 25 USDC each time",
        "at most 50 USDC a day",
        "Left now: 50 USDC of 50 USDC",
    ] {
        assert!(
            description.contains(words),
            "{words:?} not in {description}"
        );
    }
    let send_eth = Value::Object((*tools[1].input_schema).clone());
    assert_eq!(
        send_eth["properties"]["to"]["enum"],
        json!([ALICE.to_checksum(None)])
    );
    assert_eq!(
        send_eth["properties"]["amount"]["pattern"],
        "^(0|[1-9][0-9]{0,77})(\\.[0-9]{1,18})?$"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_scope_payment_goes_through_and_the_budget_left_drops() {
    let h = harness().await;
    h.client.list_all_tools().await.unwrap();
    let result = h
        .call(
            "send_usdc",
            json!({"to": ALICE.to_checksum(None), "amount": "10.5"}),
        )
        .await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let body = result.structured_content.unwrap();
    assert!(
        body["userOpHash"].is_string() && body["transactionHash"].is_string(),
        "{body}"
    );
    assert_eq!(h.usdc(ALICE).await, U256::from(10_500_000u64));
    let described = h
        .call("describe_session", json!({}))
        .await
        .structured_content
        .unwrap();
    assert_eq!(described["state"], "active");
    let budgets = described["budgets"].to_string();
    assert!(budgets.contains("39.5 USDC of 50 USDC"), "{budgets}");
    // The descriptions changed with the budget: the client was told to list again.
    assert!(h.counter.list_changed.load(Ordering::SeqCst) >= 1);
    let tools = h.client.list_all_tools().await.unwrap();
    assert!(
        tools[0]
            .description
            .as_deref()
            .unwrap()
            .contains("Left now: 39.5 USDC of 50 USDC")
    );
    let history = h
        .call("history", json!({}))
        .await
        .structured_content
        .unwrap();
    assert_eq!(
        history["ops"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    assert_eq!(history["ops"][0]["userOpHash"], body["userOpHash"]);
    // Plain ETH within the transfer policy.
    let sent = h
        .call(
            "send_eth",
            json!({"to": ALICE.to_checksum(None), "amount": "0.01"}),
        )
        .await;
    assert_eq!(sent.is_error, Some(false), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_calls_are_tool_errors_naming_the_reason_and_nothing_moves() {
    let h = harness().await;
    let alice = ALICE.to_checksum(None);
    let before = h.balances().await;
    let cases = [
        (
            "send_usdc",
            json!({"to": h.setup.account.to_checksum(None), "amount": "1"}),
            "ArgumentNotAllowed",
        ),
        (
            "send_usdc",
            json!({"to": h.setup.validator.to_checksum(None), "amount": "1"}),
            "ArgumentNotAllowed",
        ),
        (
            "send_usdc",
            json!({"to": "0x0000000000000000000000000000000000000c4e", "amount": "1"}),
            "ArgumentNotAllowed",
        ),
        (
            "send_usdc",
            json!({"to": alice, "amount": "25.000001"}),
            "ArgumentOverCap",
        ),
        (
            "send_usdc",
            json!({"to": alice, "amount": "1.0000001"}),
            "ArgumentAmount",
        ),
        (
            "send_usdc",
            json!({"to": alice, "amount": 1}),
            "ArgumentInvalid",
        ),
        (
            "send_usdc",
            json!({"to": alice, "amount": "-1"}),
            "ArgumentAmount",
        ),
        (
            "send_usdc",
            json!({"to": alice, "amount": "1", "data": "0x"}),
            "ArgumentUnknown",
        ),
        ("send_usdc", json!({"to": alice}), "ArgumentMissing"),
        (
            "send_eth",
            json!({"to": BOB.to_checksum(None), "amount": "0.001"}),
            "ArgumentNotAllowed",
        ),
        (
            "send_eth",
            json!({"to": alice, "amount": "0.010000000000000001"}),
            "ArgumentOverCap",
        ),
        (
            "approve_usdc",
            json!({"spender": alice, "amount": "1"}),
            "UnknownTool",
        ),
        (
            "send_gold",
            json!({"to": alice, "amount": "1"}),
            "UnknownTool",
        ),
        ("execute", json!({"calls": []}), "ArgumentInvalid"),
        (
            "execute",
            json!({"calls": [{"tool": "revoke_session", "arguments": {}}]}),
            "UnknownTool",
        ),
        (
            "describe_session",
            json!({"verbose": true}),
            "ArgumentUnknown",
        ),
    ];
    for (tool, arguments, reason) in cases {
        let (got, body) = h.refused(tool, arguments.clone()).await;
        assert_eq!(got, reason, "{tool} {arguments}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(h.balances().await, before, "a refused call moved funds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_is_refused_by_the_engine_with_what_is_left_and_revoke_ends_every_tool() {
    let h = harness().await;
    let alice = ALICE.to_checksum(None);
    let bob = BOB.to_checksum(None);
    for to in [&alice, &bob] {
        let paid = h.call("send_usdc", json!({"to": to, "amount": "20"})).await;
        assert_eq!(paid.is_error, Some(false), "{paid:?}");
    }
    // 40 of 50 spent today: 10.000001 more is within the per-use cap, over the day's budget.
    let checked = h
        .refused("check", json!({"calls": [{"tool": "send_usdc", "arguments": {"to": alice, "amount": "10.000001"}}]}))
        .await;
    assert_eq!(checked.0, "LimitExceeded", "{}", checked.1);
    let instead = checked.1["instead"].as_str().unwrap_or_default();
    assert!(
        instead.starts_with("at most 10 USDC left until "),
        "{instead}"
    );
    let before = h.balances().await;
    let (reason, _) = h
        .refused("send_usdc", json!({"to": alice, "amount": "10.000001"}))
        .await;
    assert_eq!(reason, "LimitExceeded");
    assert_eq!(h.balances().await, before);
    let fits = h
        .call(
            "check",
            json!({"calls": [{"tool": "send_usdc", "arguments": {"to": alice, "amount": "10"}}]}),
        )
        .await;
    assert_eq!(fits.structured_content.unwrap()["wouldPass"], true);

    let revoked = h.call("revoke_session", json!({})).await;
    assert_eq!(revoked.is_error, Some(false), "{revoked:?}");
    let tools = h.client.list_all_tools().await.unwrap();
    assert!(
        tools[0]
            .description
            .as_deref()
            .unwrap()
            .starts_with("UNAVAILABLE: the session is revoked"),
        "{:?}",
        tools[0].description
    );
    let before = h.balances().await;
    let (reason, body) = h
        .refused("send_usdc", json!({"to": alice, "amount": "1"}))
        .await;
    assert_eq!(reason, "SessionRevoked", "{body}");
    assert_eq!(h.balances().await, before);
}
