//! `POST /dev/rpc` of `sessionkeys serve --dev`: the embedded chain's reads as JSON-RPC, so a
//! browser wallet (or the page's test wallet) reads what the page checks — the chain id, the
//! account's epoch, token symbols, the chain's time — from the chain rather than from the
//! service's API. Read-only: nothing that sends, signs or changes the chain is served.

use alloy::primitives::{Address, Bytes, U256};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use sessionkeys::DevnetBackend;
use sessionkeys::backend::Backend;
use std::sync::Arc;

/// The methods served, each a read.
pub const READ_METHODS: &[&str] = &[
    "eth_chainId",
    "net_version",
    "eth_call",
    "eth_getCode",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getBlockByNumber",
];

fn error(id: &Value, code: i64, message: String) -> Json<Value> {
    Json(json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }))
}

fn hex_u64(n: u64) -> String {
    format!("{n:#x}")
}

fn address_param(params: &Value, index: usize) -> Result<Address, String> {
    params[index]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("params[{index}]: give an address (0x and 40 hex digits)"))
}

/// Only the latest block is kept by the embedded chain.
fn latest_only(params: &Value, index: usize) -> Result<(), String> {
    match params.get(index) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(tag)) if tag == "latest" || tag == "pending" => Ok(()),
        Some(other) => Err(format!(
            "params[{index}] is {other}: the embedded chain answers for \"latest\" only"
        )),
    }
}

async fn answer(backend: &DevnetBackend, method: &str, params: &Value) -> Result<Value, String> {
    let failed = |e: sessionkeys::backend::BackendError| e.to_string();
    match method {
        "eth_chainId" => Ok(json!(hex_u64(backend.chain_id().await.map_err(failed)?))),
        "net_version" => Ok(json!(backend.chain_id().await.map_err(failed)?.to_string())),
        "eth_call" => {
            latest_only(params, 1)?;
            let call = &params[0];
            let to: Address = call["to"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or("params[0].to: give the address called")?;
            let data: Bytes = match call.get("data").or_else(|| call.get("input")) {
                None | Some(Value::Null) => Bytes::new(),
                Some(Value::String(hex)) => hex
                    .parse()
                    .map_err(|_| "params[0].data: give 0x-hex bytes".to_string())?,
                Some(_) => return Err("params[0].data: give 0x-hex bytes".into()),
            };
            match backend.call(to, data).await {
                Ok(out) => Ok(json!(out)),
                Err(e) => Err(format!("execution reverted: {e}")),
            }
        }
        "eth_getCode" => {
            latest_only(params, 1)?;
            let at = address_param(params, 0)?;
            Ok(json!(backend.code(at).await.map_err(failed)?))
        }
        "eth_getBalance" => {
            latest_only(params, 1)?;
            let of = address_param(params, 0)?;
            let balance: U256 = backend.balance(of).await.map_err(failed)?;
            Ok(json!(format!("{balance:#x}")))
        }
        "eth_getTransactionCount" => {
            latest_only(params, 1)?;
            let of = address_param(params, 0)?;
            Ok(json!(hex_u64(
                backend.transaction_count(of).await.map_err(failed)?
            )))
        }
        "eth_getBlockByNumber" => {
            latest_only(params, 0)?;
            let timestamp = backend.latest_timestamp().await.map_err(failed)?;
            Ok(json!({ "timestamp": hex_u64(timestamp) }))
        }
        other => Err(format!("no method {other}")),
    }
}

/// The handler: one JSON-RPC 2.0 request (no batches).
pub async fn dev_rpc(
    State(backend): State<Arc<DevnetBackend>>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request["method"].as_str() else {
        return error(
            &id,
            -32600,
            "give {\"jsonrpc\": \"2.0\", \"id\", \"method\", \"params\"} (one request, no batch)"
                .into(),
        );
    };
    if !READ_METHODS.contains(&method) {
        return error(
            &id,
            -32601,
            format!(
                "{method} is not served: this endpoint only reads the embedded chain ({}); \
                 nothing is sent or signed here",
                READ_METHODS.join(", ")
            ),
        );
    }
    let params = match &request["params"] {
        Value::Null => json!([]),
        Value::Array(_) => request["params"].clone(),
        _ => return error(&id, -32602, "params: give a list".into()),
    };
    match answer(&backend, method, &params).await {
        Ok(result) => Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
        Err(message) if message.starts_with("execution reverted") => error(&id, 3, message),
        Err(message) => error(&id, -32602, message),
    }
}
