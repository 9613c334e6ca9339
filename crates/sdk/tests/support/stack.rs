//! anvil + the Alto bundler, started for one test on loopback ports of a private network
//! namespace (Alto listens on 0.0.0.0 and has no flag to change it), and killed when dropped.

use sessionkeys::backend::Backend;
use sessionkeys::deploy::{DeployedContract, deploy};
use sessionkeys::{EntryPointVersion, RpcBackend};
use sessionkeys_chain::deployment::{self, fixtures};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::{ANVIL_KEYS, funder};

fn node_modules() -> PathBuf {
    std::env::var_os("SESSIONKEYS_E2E_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/node_modules"))
}

/// The native binary of a foundry tool (`anvil`, `cast`) from its npm platform package; the
/// npm wrapper is a node script whose child would outlive a kill.
pub fn foundry_binary(tool: &str) -> PathBuf {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let native = node_modules()
        .join(format!("@foundry-rs/{tool}-linux-{arch}"))
        .join("bin")
        .join(tool);
    assert!(
        native.is_file(),
        "{tool} not found at {}: run `npm install --prefix e2e --no-save` (scripts/e2e does)",
        native.display()
    );
    native
}

fn alto_script() -> PathBuf {
    let script = node_modules().join("@pimlico/alto/esm/cli/alto.js");
    assert!(
        script.is_file(),
        "alto not found at {}: run `npm install --prefix e2e --no-save` (scripts/e2e does)",
        script.display()
    );
    script
}

/// Only loopback exists in a private network namespace (`/proc/net/dev` is per namespace;
/// `/sys/class/net` is not unless sysfs is remounted).
fn assert_private_network() {
    let text = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    let interfaces: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    assert!(
        interfaces.iter().all(|i| *i == "lo"),
        "the end-to-end tier must run in a private network namespace (Alto listens on \
         0.0.0.0); run it with scripts/e2e. Interfaces here: {interfaces:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Stack {
    children: Vec<Child>,
    pub node_url: String,
    #[allow(dead_code)] // read by the CLI's end-to-end tests
    pub bundler_url: String,
    pub backend: RpcBackend,
    pub deployed: Vec<DeployedContract>,
    logs: PathBuf,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking()
            && let Ok(text) = std::fs::read_to_string(self.logs.join("alto.log"))
        {
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("--- alto.log (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

async fn wait_until<F, Fut, T>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "{what} did not come up in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An anvil that takes transactions and never mines them (`--no-mining`), on a loopback port of
/// the private network; it is killed when the guard drops.
#[allow(dead_code)] // the SDK's e2e tests use it; the CLI's include this module too
pub struct StalledNode {
    child: std::process::Child,
    /// Its JSON-RPC URL.
    pub url: String,
}

#[allow(dead_code)]
impl StalledNode {
    pub async fn start() -> StalledNode {
        assert_private_network();
        let url = format!("http://127.0.0.1:{}", free_port());
        let child = Command::new(foundry_binary("anvil"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                url.rsplit(':').next().unwrap(),
            ])
            .args(["--hardfork", "prague", "--no-mining", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start anvil");
        let node = StalledNode { child, url };
        let backend = RpcBackend::new(&node.url, &node.url).unwrap();
        wait_until("anvil", Duration::from_secs(20), || {
            let backend = backend.clone();
            async move { backend.chain_id().await.ok() }
        })
        .await;
        node
    }
}

impl Drop for StalledNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stack {
    /// Starts anvil, deploys the EntryPoints, sessionkeys and the fixtures through our own
    /// `deploy`, then starts Alto against it.
    pub async fn start(name: &str) -> Stack {
        assert_private_network();
        let logs =
            std::env::temp_dir().join(format!("sessionkeys-e2e-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&logs).unwrap();
        let (node_port, bundler_port) = (free_port(), free_port());
        let node_url = format!("http://127.0.0.1:{node_port}");
        let bundler_url = format!("http://127.0.0.1:{bundler_port}");
        let anvil = Command::new(foundry_binary("anvil"))
            .args(["--host", "127.0.0.1", "--port", &node_port.to_string()])
            // Blocks on a timer, as on a real chain: a client that waits for the next
            // rate-limit period waits for a block in it.
            .args(["--hardfork", "prague", "--block-time", "1", "--silent"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs.join("anvil.log")).unwrap())
            .spawn()
            .expect("start anvil");
        let mut stack = Stack {
            children: vec![anvil],
            backend: RpcBackend::new(&node_url, &bundler_url).unwrap(),
            node_url,
            bundler_url,
            deployed: Vec::new(),
            logs,
        };
        let backend = stack.backend.clone();
        wait_until("anvil", Duration::from_secs(20), || {
            let backend = backend.clone();
            async move { backend.chain_id().await.ok() }
        })
        .await;
        let mut plan = vec![
            deployment::entry_point(EntryPointVersion::V07).unwrap(),
            deployment::entry_point(EntryPointVersion::V08).unwrap(),
        ];
        plan.extend(deployment::core_contracts(
            deployment::DEFAULT_FACTORY_OWNER,
        ));
        plan.extend(fixtures::all());
        stack.deployed = deploy(&stack.backend, &funder(), &plan)
            .await
            .expect("deploy");
        stake_default_factories(&stack.node_url).await;
        // ERC-7562 enforced by Alto itself (its JS tracer runs on anvil) when asked; the
        // inspector is the evidence either way (docs/real-chain.md).
        let safe_mode = std::env::var("SESSIONKEYS_E2E_ALTO_SAFE_MODE")
            .map(|v| v == "true")
            .unwrap_or(false);
        let alto_log = std::fs::File::create(stack.logs.join("alto.log")).unwrap();
        let alto = Command::new("node")
            .arg(alto_script())
            .args([
                "--entrypoints",
                &format!(
                    "{},{}",
                    EntryPointVersion::V07.address(),
                    EntryPointVersion::V08.address()
                ),
            ])
            .args(["--rpc-url", &stack.node_url])
            .args(["--executor-private-keys", ANVIL_KEYS[1]])
            .args(["--utility-private-key", ANVIL_KEYS[2]])
            .args(["--safe-mode", if safe_mode { "true" } else { "false" }])
            .args([
                "--min-entity-stake",
                "1",
                "--min-entity-unstake-delay",
                "86400",
            ])
            .args(["--port", &bundler_port.to_string()])
            .args(["--log-level", "info"])
            .stdout(alto_log.try_clone().unwrap())
            .stderr(alto_log)
            .spawn()
            .expect("start alto (node)");
        stack.children.push(alto);
        let backend = stack.backend.clone();
        wait_until("alto", Duration::from_secs(60), || {
            let backend = backend.clone();
            async move { backend.supported_entry_points().await.ok() }
        })
        .await;
        stack
    }
}

/// Stakes the default factories on anvil as the devnet does (1 ETH, one day), sending as their
/// stake owner through anvil's impersonation: its key is nobody's (deployment.rs).
async fn stake_default_factories(node_url: &str) {
    use alloy::network::TransactionBuilder;
    use alloy::providers::{Provider, ProviderBuilder};
    use alloy::rpc::types::TransactionRequest;
    use alloy::sol_types::SolCall;
    let provider = ProviderBuilder::new().connect_http(node_url.parse().unwrap());
    let owner = deployment::DEFAULT_FACTORY_OWNER;
    let ether = alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18));
    let _: serde_json::Value = provider
        .raw_request("anvil_impersonateAccount".into(), (owner,))
        .await
        .unwrap();
    let _: serde_json::Value = provider
        .raw_request(
            "anvil_setBalance".into(),
            (owner, ether * alloy::primitives::U256::from(10)),
        )
        .await
        .unwrap();
    for version in EntryPointVersion::ALL {
        let factory = deployment::session_account_factory(version, owner).address();
        let stake = sessionkeys_contracts::abi::SessionAccountFactory::addStakeCall {
            unstakeDelaySec: sessionkeys_chain::deployment::MIN_UNSTAKE_DELAY,
        };
        let tx = TransactionRequest::default()
            .with_from(owner)
            .with_to(factory)
            .with_value(ether)
            .with_input(stake.abi_encode());
        let receipt = provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "staking the {version} factory");
    }
}
