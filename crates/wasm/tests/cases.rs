//! The case file of the engine's JavaScript package (`packages/engine/cases.json`): sessions,
//! ops, usage and times, each with the verdicts the Rust engine gives and the SHA-256 of its
//! whole answer. The node test (`packages/engine/test.mjs`) requires the WebAssembly build to
//! give the same answer byte for byte; `crates/cli/tests/cli.rs` requires `sessionkeys check`
//! to give the same verdicts.
//!
//! The file is generated here from a fixed seed: the test fails when the committed file differs
//! from what the engine answers today. Rewrite it with
//! `SESSIONKEYS_WRITE_CASES=1 cargo test -p sessionkeys-engine-wasm --test cases`.

use serde_json::{Value, json};
use sessionkeys_engine::format::parse_session_json;
use sha2::{Digest, Sha256};

/// How many cases: a few thousand, small enough to commit.
const CASES: usize = 2_000;

/// The seed of the generator.
const SEED: u64 = 0x5e55_10f5_c0de_2026;

const CASE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../packages/engine/cases.json"
);

/// splitmix64: deterministic on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn address(&mut self) -> String {
        format!(
            "0x{:016x}{:016x}{:08x}",
            self.next(),
            self.next(),
            self.next() as u32
        )
    }
}

/// The example sessions, and one with every kind of budget, allowance periods and transfers.
fn sessions() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sessions");
    let mut sessions: Vec<Value> = [
        "usdc-spending-limit.json",
        "agent-daily-allowance.json",
        "game.json",
    ]
    .iter()
    .map(|name| {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
    .collect();
    sessions.push(json!({
        "signer": "0x1111111111111111111111111111111111111112",
        "validAfter": 1_795_478_400u64,
        "validUntil": 1_795_478_400u64 + 3 * 86_400,
        "feeLimit": { "limit": "3000000000000000", "per": "1h" },
        "opLimit": { "limit": 3, "per": "1m" },
        "callPolicies": [
            {
                "target": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "selector": "transfer(address,uint256)",
                "valueLimit": { "limit": "0" },
                "callLimit": { "limit": 5, "per": "1h" },
                "constraints": [
                    { "index": 0, "condition": "notEqual", "value": "0x0000000000000000000000000000000000000000", "bits": 160 },
                    { "index": 1, "condition": "greaterOrEqual", "value": "1000", "limit": { "limit": "9000000", "per": "1h" } }
                ]
            },
            {
                "target": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "selector": "approve(address,uint256)",
                "constraints": [
                    { "index": 0, "condition": "equal", "value": "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B", "bits": 160 },
                    { "index": 1, "condition": "less", "value": "1000000" }
                ]
            }
        ],
        "transferPolicies": [
            { "target": "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045", "maxValuePerUse": "1000", "valueLimit": { "limit": "2500", "per": "1h" } },
            { "target": "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B", "maxValuePerUse": "60", "valueLimit": { "limit": "100" } }
        ],
        "salt": 7
    }));
    sessions
}

/// Signatures of the selectors the example sessions give as hex.
fn signature_of(selector: &str) -> Option<&str> {
    if selector.contains('(') {
        return Some(selector);
    }
    match selector.to_ascii_lowercase().as_str() {
        "0xa9059cbb" => Some("transfer(address,uint256)"),
        "0x095ea7b3" => Some("approve(address,uint256)"),
        _ => None,
    }
}

/// A value near `reference` (a decimal or hex string, or a number): it, one off, or far.
fn near(rng: &mut Rng, reference: &Value) -> String {
    let base: u128 = match reference {
        Value::Number(n) => n.as_u64().unwrap_or(0).into(),
        Value::String(s) if s.starts_with("0x") => u128::from_str_radix(&s[2..], 16).unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    };
    match rng.below(6) {
        0 => base.to_string(),
        1 => base.saturating_sub(1).to_string(),
        2 => base.saturating_add(1).to_string(),
        3 => (base / 2).to_string(),
        4 => base.saturating_mul(3).to_string(),
        _ => rng.below(1_000_000_000).to_string(),
    }
}

/// One call to `policy` (a call policy of the session JSON), its arguments in and around the
/// constraints.
fn policy_call(rng: &mut Rng, policy: &Value) -> Value {
    let target = policy["target"].as_str().unwrap().to_string();
    let selector = policy["selector"].as_str().unwrap();
    let Some(signature) = signature_of(selector) else {
        return json!({"to": target, "data": format!("{selector}{:064x}", rng.below(10))});
    };
    let inside = signature.split_once('(').unwrap().1.trim_end_matches(')');
    let types: Vec<&str> = if inside.is_empty() {
        vec![]
    } else {
        inside.split(',').collect()
    };
    let constraints = policy["constraints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let args: Vec<Value> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let constraint = constraints.iter().find(|c| c["index"] == i);
            let reference = constraint.map(|c| match c["condition"].as_str() {
                Some("oneOf") => rng.pick(c["oneOf"].as_array().unwrap()).clone(),
                _ => c["value"].clone(),
            });
            match (*ty, reference) {
                ("address", Some(value)) if rng.chance(75) => value,
                ("address", _) => json!(rng.address()),
                ("bool", _) => json!(rng.chance(50).to_string()),
                (_, Some(value)) => json!(near(rng, &value)),
                (_, None) => json!(rng.below(1_000_000).to_string()),
            }
        })
        .collect();
    let mut call = json!({"to": target, "function": signature, "args": args});
    if let Some(most) = policy.get("maxValuePerUse") {
        if rng.chance(50) {
            call["value"] = json!(near(rng, most));
        }
    } else if rng.chance(5) {
        call["value"] = json!("1");
    }
    call
}

/// One call: mostly within a policy's reach, sometimes to what no policy allows.
fn call(rng: &mut Rng, session: &Value) -> Value {
    let policies = session["callPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let transfers = session["transferPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match rng.below(10) {
        0..=6 if !policies.is_empty() => {
            let policy = rng_pick_clone(rng, &policies);
            policy_call(rng, &policy)
        }
        7 if !transfers.is_empty() => {
            let transfer = rng_pick_clone(rng, &transfers);
            let reference = transfer
                .get("maxValuePerUse")
                .cloned()
                .unwrap_or_else(|| transfer["valueLimit"]["limit"].clone());
            json!({"to": transfer["target"], "value": near(rng, &reference)})
        }
        8 => {
            // A banned or unknown target with a policy's function.
            let to = rng
                .pick(&["account", "validator", "entryPoint"])
                .to_string();
            let to = if rng.chance(50) { to } else { rng.address() };
            json!({"to": to, "function": "transfer(address,uint256)", "args": [rng.address(), "1"]})
        }
        9 if rng.chance(50) => {
            // A policy's target with another function, or with short or long raw data.
            let target = policies
                .first()
                .map(|p| p["target"].clone())
                .unwrap_or_else(|| json!(rng.address()));
            let data = match rng.below(3) {
                0 => "0x095ea7b3".to_string(),
                1 => format!("0xa9059cbb{:062x}", rng.below(1 << 20)),
                _ => format!("0x23b872dd{:064x}{:064x}{:064x}", 1, 2, rng.below(100)),
            };
            json!({"to": target, "data": data})
        }
        _ => json!({"to": rng.address(), "value": rng.below(3).to_string()}),
    }
}

fn rng_pick_clone(rng: &mut Rng, items: &[Value]) -> Value {
    rng.pick(items).clone()
}

/// An op: one call, a batch, or raw callData the validator must refuse.
fn op(rng: &mut Rng, session: &Value) -> Value {
    let mut op = match rng.below(20) {
        0 => json!({"callData": format!("0x{:016x}", rng.next())}),
        1..=4 => {
            let n = 2 + rng.below(3);
            json!({"calls": (0..n).map(|_| call(rng, session)).collect::<Vec<_>>()})
        }
        _ => json!({"calls": [call(rng, session)]}),
    };
    if rng.chance(25) {
        // Mostly within a period (ops of a minute, budgets of an hour or a day), at times past it.
        let later = ["+1s", "+30s", "+59s", "+1m", "+10m", "+1h", "+1h", "+1d"];
        op["at"] = json!(rng.pick(&later).to_string());
    }
    if rng.chance(3) {
        op["paymasterAndData"] = json!(format!("0x{}", rng.address().trim_start_matches("0x")));
    }
    op
}

/// What the session already used: none, or one of its budgets part or all spent.
fn usage(rng: &mut Rng, session: &Value) -> Option<Value> {
    if rng.chance(60) {
        return None;
    }
    let mut counters = Vec::new();
    let policies = session["callPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (p, policy) in policies.iter().enumerate() {
        for (c, constraint) in policy["constraints"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if !constraint["limit"].is_null() && rng.chance(50) {
                counters.push(
                    json!({"kind": "constraintSum", "policy": p, "constraint": c,
                    "used": near(rng, &constraint["limit"]["limit"])}),
                );
            }
        }
    }
    let mut usage = json!({"counters": counters});
    if rng.chance(30) {
        usage["opsUsed"] = json!(rng.below(60));
    }
    Some(usage)
}

/// The owner's page's requests on `session`: a review of its enable typed data (the digest
/// expected, one not expected, and the typed data changed under the expected digest), and the
/// revocations of it and of every session.
fn review_requests(session: &Value, now: u64) -> Vec<Value> {
    let account = "0x00000000000000000000000000000000000acc01";
    let validator = "0x000000000000000000000000000000000000ba11";
    let chains = json!([{"chainId": 31337, "epoch": 0}, {"chainId": 8453, "epoch": 2}]);
    let made = sessionkeys_engine_wasm::answer(
        json!({"fn": "typedData", "session": session, "account": account,
            "validator": validator, "chains": chains})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let hash = sessionkeys_engine_wasm::answer(
        json!({"fn": "sessionHash", "session": session})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let typed = made["typedData"].clone();
    let digest = made["digest"].clone();
    let mut raised = typed.clone();
    raised["message"]["session"]["validUntil"] = json!("281474976710655");
    let mut noted = typed.clone();
    noted["message"]["session"]["note"] = json!("harmless");
    vec![
        json!({"fn": "review", "typedData": typed, "expectedDigest": digest, "now": now}),
        json!({"fn": "review", "typedData": typed, "now": now, "tokens": [
            {"address": "0x1111111111111111111111111111111111111111", "symbol": "GAME", "decimals": 0}
        ]}),
        json!({"fn": "review", "typedData": typed, "expectedDigest": hash, "now": now}),
        json!({"fn": "review", "typedData": raised, "expectedDigest": digest, "now": now}),
        json!({"fn": "review", "typedData": noted, "now": now}),
        json!({"fn": "revokeTypedData", "account": account, "validator": validator,
            "chains": chains, "sessionHashes": [hash]}),
        json!({"fn": "revokeTypedData", "account": account, "validator": validator,
            "chains": chains}),
    ]
}

/// The case file.
fn generate() -> Value {
    let mut rng = Rng(SEED);
    let sessions = sessions();
    let windows: Vec<(u64, u64)> = sessions
        .iter()
        .map(|s| {
            let spec = parse_session_json(&s.to_string())
                .unwrap()
                .to_spec(Some(sessionkeys_chain::offline_check::PLACEHOLDER_SIGNER))
                .unwrap();
            (spec.validAfter.to(), spec.validUntil.to())
        })
        .collect();
    let cases: Vec<Value> = (0..CASES)
        .map(|_| {
            let index = rng.below(sessions.len() as u64) as usize;
            let session = &sessions[index];
            let (after, until) = windows[index];
            let at = match rng.below(20) {
                0 => after.saturating_sub(1),
                1 => until,
                2 => until + 1,
                _ => after + rng.below(until.saturating_sub(after).max(1) / 2),
            };
            let n = 1 + rng.below(3);
            let ops = json!({"ops": (0..n).map(|_| op(&mut rng, session)).collect::<Vec<_>>()});
            let usage = usage(&mut rng, session);
            let mut request = json!({"fn": "check", "session": session, "ops": ops, "at": at});
            if let Some(usage) = &usage {
                request["usage"] = usage.clone();
            }
            let answer = sessionkeys_engine_wasm::respond(request.to_string().as_bytes());
            let parsed: Value = serde_json::from_str(&answer).unwrap();
            let verdicts: Vec<Value> = match &parsed["ok"]["ops"] {
                Value::Array(ops) => ops.iter().map(|o| o["verdict"].clone()).collect(),
                _ => vec![json!(format!(
                    "error: {}",
                    parsed["error"]["code"].as_str().unwrap_or("")
                ))],
            };
            let mut case = json!({
                "session": index,
                "at": at,
                "ops": ops,
                "verdicts": verdicts,
                "answerSha256": alloy::hex::encode(Sha256::digest(answer.as_bytes())),
            });
            if let Some(usage) = usage {
                case["usage"] = usage;
            }
            case
        })
        .collect();
    // Every other function on every session, with its whole answer.
    let mut functions = Vec::new();
    for (index, session) in sessions.iter().enumerate() {
        let (after, _) = windows[index];
        for request in [
            json!({"fn": "sessionHash", "session": session}),
            json!({"fn": "explain", "session": session, "tokens": [
                {"address": "0x1111111111111111111111111111111111111111", "symbol": "GAME", "decimals": 0}
            ]}),
            json!({"fn": "lint", "session": session, "now": after}),
            json!({"fn": "typedData", "session": session,
                "account": "0x00000000000000000000000000000000000acc01",
                "validator": "0x000000000000000000000000000000000000ba11",
                "chains": [{"chainId": 31337, "epoch": 0}, {"chainId": 8453, "epoch": 2}]}),
        ]
        .into_iter()
        .chain(review_requests(session, after))
        {
            let answer = sessionkeys_engine_wasm::respond(request.to_string().as_bytes());
            let mut request = request;
            request["session"] = json!(index);
            functions.push(json!({
                "request": request,
                "answer": serde_json::from_str::<Value>(&answer).unwrap(),
                "answerSha256": alloy::hex::encode(Sha256::digest(answer.as_bytes())),
            }));
        }
    }
    json!({
        "about": "The engine's answers, generated by crates/wasm/tests/cases.rs: rewrite with SESSIONKEYS_WRITE_CASES=1 cargo test -p sessionkeys-engine-wasm --test cases",
        "sessions": sessions,
        "functions": functions,
        "cases": cases,
    })
}

/// One case per line: a reviewable diff when the engine's answers change.
fn render(file: &Value) -> String {
    let mut out = String::from("{\n");
    out += &format!("\"about\": {},\n", file["about"]);
    out += "\"sessions\": [\n";
    let sessions = file["sessions"].as_array().unwrap();
    for (i, s) in sessions.iter().enumerate() {
        out += &format!("{s}{}\n", if i + 1 < sessions.len() { "," } else { "" });
    }
    out += "],\n\"functions\": [\n";
    let functions = file["functions"].as_array().unwrap();
    for (i, f) in functions.iter().enumerate() {
        out += &format!("{f}{}\n", if i + 1 < functions.len() { "," } else { "" });
    }
    out += "],\n\"cases\": [\n";
    let cases = file["cases"].as_array().unwrap();
    for (i, c) in cases.iter().enumerate() {
        out += &format!("{c}{}\n", if i + 1 < cases.len() { "," } else { "" });
    }
    out += "]\n}\n";
    out
}

#[test]
fn the_committed_case_file_is_what_the_engine_answers_today() {
    let file = sessionkeys_engine_wasm::api::sorted_keys(generate());
    let text = render(&file);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        file,
        "the rendering is the file"
    );
    if std::env::var_os("SESSIONKEYS_WRITE_CASES").is_some() {
        std::fs::write(CASE_FILE, &text).unwrap();
    }
    let committed = std::fs::read_to_string(CASE_FILE).unwrap_or_default();
    assert!(
        committed == text,
        "packages/engine/cases.json is not what the engine answers today: rewrite it with \
         SESSIONKEYS_WRITE_CASES=1 cargo test -p sessionkeys-engine-wasm --test cases, and \
         review the diff"
    );
}

#[test]
fn the_cases_cover_passes_refusals_of_many_kinds_and_bad_input() {
    let file = generate();
    let verdicts: Vec<&str> = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["verdicts"].as_array().unwrap())
        .map(|v| v.as_str().unwrap())
        .collect();
    let count = |prefix: &str| verdicts.iter().filter(|v| v.starts_with(prefix)).count();
    let total = verdicts.len();
    assert!(
        count("ok") * 5 > total,
        "too few passes: {} of {total}",
        count("ok")
    );
    for refusal in [
        "refused: LimitExceeded",
        "refused: ConstraintViolated",
        "refused: NoCallPolicy",
        "refused: NoTransferPolicy",
        "refused: BannedTarget",
        "refused: ValuePerUseExceeded",
        "refused: ExecuteSelectorRequired",
        "refused: CalldataTooShortForConstraint",
        "refused: TimeHintOutsideSession",
        "entrypoint: AA93",
        "error: bad_ops",
    ] {
        assert!(count(refusal) > 0, "no case ends in {refusal}");
    }
    let kinds: std::collections::BTreeSet<&str> = verdicts
        .iter()
        .map(|v| v.split('(').next().unwrap())
        .collect();
    assert!(kinds.len() >= 10, "{kinds:?}");
}

#[test]
fn a_review_answers_the_typed_data_it_was_given_and_refuses_it_changed_behind_its_digest() {
    let file = generate();
    let functions = file["functions"].as_array().unwrap();
    for index in 0..sessions().len() {
        let answers: Vec<&Value> = functions
            .iter()
            .filter(|f| f["request"]["session"] == index && f["request"]["fn"] == "review")
            .map(|f| &f["answer"])
            .collect();
        let hash = functions
            .iter()
            .find(|f| f["request"]["session"] == index && f["request"]["fn"] == "sessionHash")
            .map(|f| &f["answer"]["ok"])
            .unwrap();
        // As review_requests orders them: expected digest, none, another digest, the typed data
        // changed under the expected digest, an extra field.
        assert_eq!(&answers[0]["ok"]["sessionHash"], hash, "session {index}");
        assert_eq!(
            answers[0]["ok"], answers[1]["ok"],
            "session {index}: GAME is not used"
        );
        assert_eq!(
            answers[2]["error"]["code"], "digest_mismatch",
            "session {index}"
        );
        assert_eq!(
            answers[3]["error"]["code"], "digest_mismatch",
            "session {index}"
        );
        assert_eq!(
            answers[4]["error"]["code"], "bad_typed_data",
            "session {index}"
        );
        let reread = sessionkeys_engine_wasm::answer(
            json!({"fn": "sessionHash", "session": answers[0]["ok"]["session"]})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            &reread, hash,
            "session {index}: the session read back is the session"
        );
    }
}
