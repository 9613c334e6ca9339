//! Commands against a real chain: a node (`--rpc`) and an ERC-4337 bundler (`--bundler`).
//! `deploy`, `account create`, `session grant`, `exec`, `sessions list`, `revoke`.

use crate::InputError;
use crate::ops_file;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use sessionkeys::backend::Backend;
use sessionkeys::lanes;
use sessionkeys::password::PasswordSource;
use sessionkeys::relay::{self, RevokeApproval, RevokeTarget};
use sessionkeys::store::{SessionStore, StoredApproval, StoredSession, StoredStatus};
use sessionkeys::{
    Call, EntryPointVersion, RpcBackend, SdkError, SessionClient, SessionGrant, SmartAccount,
    WaitPolicy, deployment,
};
use sessionkeys_contracts::session::ISessionKeyValidator;
use sessionkeys_contracts::vocabulary::Status;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::lint::Severity;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Where the chain is.
#[derive(clap::Args, Clone)]
pub struct ChainArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    pub rpc: String,
    /// The ERC-4337 bundler's JSON-RPC URL (ERC-7769).
    #[arg(long, env = "SESSIONKEYS_BUNDLER_URL")]
    pub bundler: Option<String>,
    /// Whose account factories to use: the stake owner they were deployed with (`deploy
    /// --factory-owner`). Default: the factories every chain shares, 0x5e55…0a11, which no
    /// one can stake outside the devnet.
    #[arg(long, env = "SESSIONKEYS_FACTORY_OWNER")]
    pub factory_owner: Option<Address>,
}

impl ChainArgs {
    fn factory_owner(&self) -> Address {
        self.factory_owner
            .unwrap_or(deployment::DEFAULT_FACTORY_OWNER)
    }

    fn backend(&self, needs_bundler: bool) -> Result<Arc<dyn Backend>, InputError> {
        let bundler = match (&self.bundler, needs_bundler) {
            (Some(url), _) => url.clone(),
            (None, false) => self.rpc.clone(),
            (None, true) => {
                return Err(InputError(
                    "this command sends userOps: give --bundler URL (or SESSIONKEYS_BUNDLER_URL)"
                        .into(),
                ));
            }
        };
        Ok(Arc::new(RpcBackend::new(&self.rpc, &bundler)?))
    }
}

/// A key that signs for the owner (or pays for deployments).
#[derive(clap::Args, Clone)]
pub struct OwnerKeyArgs {
    /// The owner's keystore v3 file (cast / geth / ethers format).
    #[arg(
        long,
        env = "SESSIONKEYS_OWNER_KEYSTORE",
        conflicts_with = "owner_key_env"
    )]
    pub owner_keystore: Option<PathBuf>,
    /// A file whose first line is the owner keystore's password (else asked on the terminal).
    #[arg(long, env = "SESSIONKEYS_OWNER_PASSWORD_FILE")]
    pub owner_password_file: Option<PathBuf>,
    /// The name of an environment variable holding the owner's hex private key (development
    /// chains: anvil's keys).
    #[arg(long, env = "SESSIONKEYS_OWNER_KEY_ENV")]
    pub owner_key_env: Option<String>,
}

impl OwnerKeyArgs {
    /// # Security
    /// The key is decrypted (or read) in memory only; errors never quote it.
    fn signer(&self) -> Result<PrivateKeySigner, InputError> {
        if let Some(var) = &self.owner_key_env {
            let text = std::env::var(var)
                .map_err(|_| InputError(format!("the environment variable {var} is not set")))?;
            return text.trim().parse::<PrivateKeySigner>().map_err(|_| {
                InputError(format!(
                    "the environment variable {var} does not hold a 32-byte hex private key"
                ))
            });
        }
        let Some(file) = &self.owner_keystore else {
            return Err(InputError(
                "no owner key: give --owner-keystore FILE or --owner-key-env VAR".into(),
            ));
        };
        let source = match &self.owner_password_file {
            Some(path) => PasswordSource::File(path.clone()),
            None => PasswordSource::Prompt,
        };
        let password = source.read(&format!("password of {}: ", file.display()))?;
        Ok(sessionkeys_keystore::open(file, &password)?)
    }
}

/// A funded key that pays for relaying the owner's signed approval to the validator (any key:
/// it gains no power over the account).
#[derive(clap::Args, Clone)]
pub struct RelayerKeyArgs {
    /// Relay the owner's EIP-712 approval in a plain transaction paid by the key in this
    /// environment variable (hex private key), instead of an owner userOp: what a wallet that
    /// only signs typed data, and registry sessions, need.
    #[arg(long, env = "SESSIONKEYS_RELAYER_KEY_ENV")]
    pub relayer_key_env: Option<String>,
}

impl RelayerKeyArgs {
    /// # Security
    /// The key is read in memory only; errors never quote it.
    fn signer(&self) -> Result<Option<PrivateKeySigner>, InputError> {
        let Some(var) = &self.relayer_key_env else {
            return Ok(None);
        };
        let text = std::env::var(var)
            .map_err(|_| InputError(format!("the environment variable {var} is not set")))?;
        text.trim()
            .parse::<PrivateKeySigner>()
            .map(Some)
            .map_err(|_| {
                InputError(format!(
                    "the environment variable {var} does not hold a 32-byte hex private key"
                ))
            })
    }
}

/// The local session store and the password of its session keys.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// The session store directory (default: ~/.sessionkeys).
    #[arg(long, env = "SESSIONKEYS_HOME")]
    pub home: Option<PathBuf>,
    /// A file whose first line is the session keys' password.
    #[arg(
        long,
        env = "SESSIONKEYS_PASSWORD_FILE",
        conflicts_with = "password_env"
    )]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the session keys' password.
    #[arg(long, env = "SESSIONKEYS_PASSWORD_ENV")]
    pub password_env: Option<String>,
}

impl StoreArgs {
    fn store(&self) -> Result<SessionStore, InputError> {
        let dir = self.home.clone().unwrap_or_else(SessionStore::default_dir);
        Ok(SessionStore::open(dir)?)
    }

    fn password(&self) -> Result<Vec<u8>, InputError> {
        let source = match (&self.password_file, &self.password_env) {
            (Some(path), _) => PasswordSource::File(path.clone()),
            (None, Some(var)) => PasswordSource::Env(var.clone()),
            (None, None) => PasswordSource::Prompt,
        };
        Ok(source.read("session key password: ")?)
    }
}

/// `sessionkeys deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    payer: OwnerKeyArgs,
    /// Also deploy the test fixtures (USDC-like token, GOLD, game) at their devnet addresses.
    #[arg(long)]
    fixtures: bool,
    /// Also deploy both EntryPoints (read from npm) at their canonical addresses, for
    /// development chains that lack them.
    #[arg(long)]
    entrypoints: bool,
    /// Stake both factories in their EntryPoints with this much ETH each, so bundlers that
    /// enforce ERC-7562 accept a new account's first op (STO-022). The payer must be the stake
    /// owner (--factory-owner). ERC-7562's reference minimum is 1 ETH.
    #[arg(long)]
    stake: Option<String>,
    /// The unstake delay of --stake, in seconds (ERC-7562's minimum: one day).
    #[arg(long, default_value_t = sessionkeys_chain::erc7562::MIN_UNSTAKE_DELAY)]
    unstake_delay: u32,
}

/// `sessionkeys account create`.
#[derive(clap::Args)]
pub struct AccountCreateArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    /// Tells several accounts of one owner apart.
    #[arg(long, default_value = "0")]
    salt: U256,
    /// EntryPoint version of the account.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::parse_version)]
    entrypoint: EntryPointVersion,
}

/// `sessionkeys session grant`.
#[derive(clap::Args)]
pub struct GrantArgs {
    /// Session JSON file, without "signer": a fresh key is made for the session.
    file: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// The account's salt (as in `account create`).
    #[arg(long, default_value = "0")]
    salt: U256,
    /// EntryPoint version of the account.
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", default_value = "v0.7", value_parser = crate::parse_version)]
    entrypoint: EntryPointVersion,
    /// Do not enable on-chain now: the owner signs an approval and the session's first op
    /// enables it.
    #[arg(long)]
    first_use: bool,
    /// Grant even if lint reports errors.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
}

/// The calls of `exec`: a file of ops, or one call on the command line.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// The session: `latest` or (a prefix of) its hash.
    #[arg(long, env = "SESSIONKEYS_SESSION_HASH", default_value = "latest")]
    session: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Ops file (docs/simulate-format.md); each op is sent as one userOp, in order.
    #[arg(long, conflicts_with_all = ["to", "function", "data"])]
    calls: Option<PathBuf>,
    /// One call: its target (an address, or usdc / gold / game for the fixtures).
    #[arg(long)]
    to: Option<String>,
    /// Wei sent with the call.
    #[arg(long)]
    value: Option<String>,
    /// The function, e.g. "transfer(address,uint256)", with --arg for each argument.
    #[arg(long, requires = "to")]
    function: Option<String>,
    /// One argument of --function (repeat in order).
    #[arg(long = "arg")]
    args: Vec<String>,
    /// Raw calldata hex instead of --function.
    #[arg(long, conflicts_with = "function")]
    data: Option<String>,
    /// Skip the engine's pre-check and let the bundler and the chain judge (diagnostics).
    #[arg(long)]
    no_precheck: bool,
}

/// `sessionkeys sessions list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Read status and remaining limits from this node.
    #[arg(long, env = "SESSIONKEYS_RPC_URL")]
    rpc: Option<String>,
    /// The session store directory (default: ~/.sessionkeys).
    #[arg(long, env = "SESSIONKEYS_HOME")]
    home: Option<PathBuf>,
    /// Only this account's sessions.
    #[arg(long)]
    account: Option<Address>,
}

/// `sessionkeys revoke`.
#[derive(clap::Args)]
pub struct RevokeArgs {
    /// Sessions to revoke: `latest` or (prefixes of) hashes; repeat for several.
    #[arg(long = "session", required_unless_present = "all")]
    sessions: Vec<String>,
    /// Revoke every session of the account (bumps its epoch).
    #[arg(long, conflicts_with = "sessions")]
    all: bool,
    /// The account for --all (default: the latest stored session's).
    #[arg(long)]
    account: Option<Address>,
    /// EntryPoint version of the account (default: its stored sessions', else v0.7).
    #[arg(long, env = "SESSIONKEYS_ENTRYPOINT", value_parser = crate::parse_version)]
    entrypoint: Option<EntryPointVersion>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    owner: OwnerKeyArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    relayer: RelayerKeyArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| InputError(format!("cannot start the async runtime: {e}")))
}

/// Runs one future to completion on a fresh runtime.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, InputError> {
    Ok(runtime()?.block_on(future))
}

fn progress(json: bool, message: &str) {
    if !json {
        errln!("… {message}");
    }
}

/// Refusals are exit 1; anything else the user must fix is exit 2.
fn outcome(error: SdkError) -> Result<ExitCode, InputError> {
    match error {
        SdkError::Refused { .. }
        | SdkError::LaneTaken { .. }
        | SdkError::OutOfTimeRange { .. }
        | SdkError::BundlerRefused { .. }
        | SdkError::ExecutionReverted { .. } => {
            errln!("refused: {error}");
            Ok(ExitCode::from(1))
        }
        other => Err(InputError(other.to_string())),
    }
}

fn validator() -> Address {
    deployment::session_key_validator(Address::ZERO).address()
}

async fn counterfactual(
    backend: &dyn Backend,
    version: EntryPointVersion,
    factory_owner: Address,
    owner: Address,
    salt: U256,
) -> Result<SmartAccount, SdkError> {
    let factory = deployment::session_account_factory(version, factory_owner);
    sessionkeys::deploy::ensure_deployed(
        backend,
        &[
            factory.clone(),
            deployment::session_key_validator(Address::ZERO),
        ],
    )
    .await?;
    SmartAccount::counterfactual(
        backend,
        version,
        factory.address(),
        owner,
        vec![validator()],
        salt,
    )
    .await
}

pub fn deploy(args: DeployArgs, json: bool) -> Result<ExitCode, InputError> {
    let backend = args.chain.backend(false)?;
    let payer = args.payer.signer()?;
    let mut plan = Vec::new();
    if args.entrypoints {
        for version in EntryPointVersion::ALL {
            plan.push(deployment::entry_point(version)?);
        }
    }
    let factory_owner = args.chain.factory_owner();
    let stake = match &args.stake {
        Some(eth) => {
            if factory_owner != payer.address() {
                return Err(InputError(format!(
                    "--stake needs the factories' stake owner to pay: deploy with --factory-owner {} \
                     (the payer) or pay with the key of {factory_owner}",
                    payer.address()
                )));
            }
            Some(alloy::primitives::utils::parse_ether(eth).map_err(|_| {
                InputError(format!(
                    "--stake {eth:?}: give an amount of ETH, e.g. 1 or 0.5"
                ))
            })?)
        }
        None => None,
    };
    plan.extend(deployment::core_contracts(factory_owner));
    if args.fixtures {
        plan.extend(deployment::fixtures::all());
    }
    progress(
        json,
        &format!(
            "deploying {} contracts through the deterministic deployer",
            plan.len()
        ),
    );
    // One runtime for every call: the backend's pooled connections belong to it.
    let rt = runtime()?;
    let report = match rt.block_on(sessionkeys::deploy::deploy(backend.as_ref(), &payer, &plan)) {
        Ok(report) => report,
        Err(error) => return outcome(error),
    };
    if let Some(wei) = stake {
        progress(
            json,
            &format!(
                "staking both factories: {} ETH each, unstake delay {} s",
                args.stake.as_deref().unwrap_or_default(),
                args.unstake_delay
            ),
        );
        let staked = rt.block_on(async {
            for version in EntryPointVersion::ALL {
                let factory = deployment::session_account_factory(version, factory_owner).address();
                sessionkeys::deploy::stake_factory(
                    backend.as_ref(),
                    &payer,
                    factory,
                    wei,
                    args.unstake_delay,
                )
                .await?;
            }
            Ok::<(), SdkError>(())
        });
        if let Err(error) = staked {
            return outcome(error);
        }
    }
    if json {
        let rows: Vec<_> = report
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "address": c.address.to_checksum(None), "newlyDeployed": c.newly_deployed}))
            .collect();
        outln!("{}", serde_json::Value::Array(rows));
    } else {
        for c in &report {
            let state = if c.newly_deployed {
                "deployed"
            } else {
                "already there"
            };
            outln!("{:<36} {} {state}", c.name, c.address.to_checksum(None));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn account_create(args: AccountCreateArgs, json: bool) -> Result<ExitCode, InputError> {
    let backend = args.chain.backend(false)?;
    let owner = args.owner.signer()?;
    let version = args.entrypoint;
    let rt = runtime()?;
    let account = match rt.block_on(counterfactual(
        backend.as_ref(),
        version,
        args.chain.factory_owner(),
        owner.address(),
        args.salt,
    )) {
        Ok(account) => account,
        Err(error) => return outcome(error),
    };
    let deployed = match rt.block_on(account.is_deployed(backend.as_ref())) {
        Ok(deployed) => deployed,
        Err(error) => return outcome(error),
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "account": account.address.to_checksum(None),
                "owner": owner.address().to_checksum(None),
                "entryPoint": version.label(),
                "salt": args.salt.to_string(),
                "deployed": deployed,
            })
        );
    } else {
        outln!("account  {}", account.address.to_checksum(None));
        outln!("owner    {}", owner.address().to_checksum(None));
        outln!("deployed {}", if deployed { "yes" } else { "not yet" });
        if !deployed {
            outln!(
                "Send it some ETH for fees; its first userOp (`sessionkeys session grant`) deploys it."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The clock, in unix seconds.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub fn grant(args: GrantArgs, json: bool) -> Result<ExitCode, InputError> {
    // Read and check the file before asking for any password.
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", args.file.display())))?;
    let session = sessionkeys_engine::format::parse_session_json(&text)
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    if session.signer.is_some() {
        return Err(InputError(format!(
            "{}: remove \"signer\": sessionkeys makes a fresh key for every session",
            args.file.display()
        )));
    }
    let placeholder = session
        .to_spec(Some(Address::repeat_byte(1)))
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    let findings = sessionkeys_engine::lint::lint(&placeholder, unix_now());
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if !json {
        out!(
            "{}",
            sessionkeys_engine::explain::explain(&placeholder, &Labels::well_known())
        );
        for finding in &findings {
            outln!("{finding}");
        }
    }
    if errors > 0 && !args.force {
        errln!("refused: lint reports {errors} error(s); fix the session or pass --force");
        return Ok(ExitCode::from(1));
    }
    if args.first_use && args.relayer.relayer_key_env.is_some() {
        return Err(InputError(
            "--first-use and --relayer-key-env exclude each other: the first op enables the \
             session, or a relayer does now"
                .into(),
        ));
    }
    let relayer = args.relayer.signer()?;
    let backend = args.chain.backend(true)?;
    let owner = args.owner.signer()?;
    let store = args.store.store()?;
    let password = args.store.password()?;
    let (key, key_file) = store.new_key(&password)?;
    let mut spec = session
        .to_spec(Some(key.address()))
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    let version = args.entrypoint;
    let stored_sessions = store.list()?.sessions;
    let rt = runtime()?;
    let result: Result<(SessionGrant, SmartAccount, Option<StoredApproval>, u64), SdkError> = rt
        .block_on(async {
            let account = counterfactual(
                backend.as_ref(),
                version,
                args.chain.factory_owner(),
                owner.address(),
                args.salt,
            )
            .await?;
            // Rule 19: the new session's nonce lane must be free among the account's live
            // sessions and the ones approved here but not used yet. At request: re-salt.
            let pending: Vec<B256> = stored_sessions
                .iter()
                .filter(|s| s.account == account.address && s.status == StoredStatus::Approved)
                .map(|s| s.hash)
                .collect();
            let taken = taken_lanes(backend.as_ref(), &account, &pending).await?;
            if lanes::resalt_for_free_lane(&mut spec, &taken) > 0 {
                progress(json, "re-salted the session: its nonce lane was taken");
            }
            let grant = SessionGrant::new(spec, validator())?;
            // At approval: read again and refuse rather than sign a colliding session.
            let taken = taken_lanes(backend.as_ref(), &account, &pending).await?;
            lanes::ensure_free_lane(grant.hash(), &taken)?;
            let chain_id = backend.chain_id().await?;
            if args.first_use {
                let chain = grant
                    .current_chain(backend.as_ref(), account.address)
                    .await?;
                let approval = grant.approve(&owner, account.address, vec![chain]);
                Ok((
                    grant,
                    account,
                    Some(StoredApproval::from_approval(&approval)),
                    chain_id,
                ))
            } else if let Some(relayer) = &relayer {
                let chain = grant
                    .current_chain(backend.as_ref(), account.address)
                    .await?;
                let approval = grant.approve(&owner, account.address, vec![chain]);
                if relay::relay_deploy_account(backend.as_ref(), &account, relayer)
                    .await?
                    .is_some()
                {
                    progress(json, "the relayer deployed the account");
                }
                progress(
                    json,
                    "relaying the owner's signed approval to the validator",
                );
                relay::relay_enable(
                    backend.as_ref(),
                    grant.validator,
                    account.address,
                    &grant.spec,
                    &approval,
                    relayer,
                )
                .await?;
                Ok((grant, account, None, chain_id))
            } else {
                progress(json, "sending the owner's userOp that enables the session");
                grant
                    .grant_on_chain(backend.as_ref(), &account, &owner, WaitPolicy::default())
                    .await?;
                Ok((grant, account, None, chain_id))
            }
        });
    let (grant, account, approval, chain_id) = match result {
        Ok(done) => done,
        Err(error) => return outcome(error),
    };
    let stored = StoredSession {
        hash: grant.hash(),
        chain_id,
        entry_point: version,
        account: account.address,
        owner: owner.address(),
        validator: grant.validator,
        spec: alloy::sol_types::SolValue::abi_encode(&grant.spec).into(),
        key_file,
        status: if approval.is_some() {
            StoredStatus::Approved
        } else {
            StoredStatus::Granted
        },
        approval,
        created_at: unix_now(),
    };
    store.save(&stored)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "sessionHash": stored.hash.to_string(),
                "account": account.address.to_checksum(None),
                "signer": key.address().to_checksum(None),
                "status": stored.status,
            })
        );
    } else {
        outln!("session  {}", stored.hash);
        outln!("account  {}", account.address.to_checksum(None));
        outln!(
            "signer   {} (key stored encrypted in {})",
            key.address().to_checksum(None),
            store.keys_dir().display()
        );
        outln!(
            "status   {}",
            if args.first_use {
                "approved: its first op enables it"
            } else {
                "enabled on-chain"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored session, its account and a client for it.
fn client_for(
    store: &SessionStore,
    stored: &StoredSession,
    backend: Arc<dyn Backend>,
    password: &[u8],
) -> Result<SessionClient, InputError> {
    let spec = stored.spec()?;
    let key = store.open_key(stored, password)?;
    let version = stored.entry_point;
    let account = SmartAccount {
        address: stored.account,
        owner: stored.owner,
        version,
        factory: None,
    };
    let mut client = SessionClient::new(backend, account, spec, key, stored.validator)?;
    if let (StoredStatus::Approved, Some(approval)) = (stored.status, &stored.approval) {
        client = client.with_enable_approval(approval.to_approval());
    }
    Ok(client)
}

fn resolve_target(name: &str, account: Address, path: &str) -> Result<Address, InputError> {
    let fixture = match name {
        "usdc" => Some(deployment::fixtures::usdc().address()),
        "gold" => Some(deployment::fixtures::gold().address()),
        "game" => Some(deployment::fixtures::game().address()),
        "account" => Some(account),
        "validator" => Some(validator()),
        _ => None,
    };
    match fixture {
        Some(address) => Ok(address),
        None => name.parse::<Address>().map_err(|_| {
            InputError(format!(
                "{path}: expected an address or one of usdc, gold, game, account, validator; got {name:?}"
            ))
        }),
    }
}

fn exec_batches(args: &ExecArgs, account: Address) -> Result<Vec<Vec<Call>>, InputError> {
    if let Some(file) = &args.calls {
        let ops = ops_file::load(file)?;
        let mut batches = Vec::new();
        for (i, op) in ops.ops.iter().enumerate() {
            let path = format!("ops[{i}]");
            if op.at.is_some()
                || op.time_hint.is_some()
                || op.nonce_key.is_some()
                || op.call_data.is_some()
                || op.paymaster_and_data.is_some()
            {
                return Err(InputError(format!(
                    "{path}: exec sends real userOps: only \"calls\" is allowed (at, timeHint, nonceKey, callData and paymasterAndData are for simulate)"
                )));
            }
            batches.push(ops_file::calls(op, &path, &mut |name, p| {
                resolve_target(name, account, p)
            })?);
        }
        return Ok(batches);
    }
    let Some(to) = &args.to else {
        return Err(InputError(
            "give --calls FILE, or --to with --function/--data".into(),
        ));
    };
    let call = ops_file::CallJson {
        to: to.clone(),
        value: args.value.clone(),
        data: args.data.clone(),
        function: args.function.clone(),
        args: args
            .args
            .iter()
            .cloned()
            .map(serde_json::Value::String)
            .collect(),
    };
    let op = ops_file::OpJson::from_calls(vec![call]);
    Ok(vec![ops_file::calls(&op, "call", &mut |name, p| {
        resolve_target(name, account, p)
    })?])
}

pub fn exec(args: ExecArgs, json: bool) -> Result<ExitCode, InputError> {
    let store = args.store.store()?;
    let stored = store.find(&args.session)?;
    let batches = exec_batches(&args, stored.account)?;
    let backend = args.chain.backend(true)?;
    let password = args.store.password()?;
    let client = client_for(&store, &stored, backend, &password)?;
    let rt = runtime()?;
    let mut results = Vec::new();
    let mut refused = false;
    for (i, calls) in batches.iter().enumerate() {
        progress(
            json,
            &format!("op {i}: pre-check, estimate, sign, send, wait"),
        );
        let sent = rt.block_on(async {
            if args.no_precheck {
                client.send_without_precheck(calls).await
            } else {
                client.send(calls).await
            }
        });
        match sent {
            Ok(done) => {
                if stored.status == StoredStatus::Approved {
                    store.set_status(stored.hash, StoredStatus::Granted)?;
                }
                if !json {
                    outln!(
                        "op {i}: ok — userOp {} in tx {} (gas {}, paid {} wei)",
                        done.user_op_hash,
                        done.transaction_hash,
                        done.actual_gas_used,
                        done.actual_gas_cost
                    );
                }
                results.push(serde_json::json!({"op": i, "verdict": "ok", "userOpHash": done.user_op_hash.to_string(), "transactionHash": done.transaction_hash.to_string(), "actualGasUsed": done.actual_gas_used.to_string(), "actualGasCost": done.actual_gas_cost.to_string()}));
            }
            Err(
                error @ (SdkError::Refused { .. }
                | SdkError::OutOfTimeRange { .. }
                | SdkError::BundlerRefused { .. }
                | SdkError::ExecutionReverted { .. }),
            ) => {
                refused = true;
                let name = match &error {
                    SdkError::Refused { violation } => violation.name().to_string(),
                    _ => String::new(),
                };
                if !json {
                    outln!("op {i}: refused — {error}");
                }
                results.push(serde_json::json!({"op": i, "verdict": "refused", "error": name, "reason": error.to_string()}));
                break;
            }
            Err(other) => return Err(InputError(other.to_string())),
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(results));
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn usage_rows(usage: &[sessionkeys_contracts::session::CounterUsage]) -> serde_json::Value {
    serde_json::Value::Array(
        usage
            .iter()
            .map(|u| serde_json::json!({"kind": u.kind, "policy": u.policyIndex, "constraint": u.constraintIndex, "limit": u.limit.to_string(), "used": u.used.to_string(), "remaining": u.remaining.to_string()}))
            .collect(),
    )
}

/// The stored status in words; a number the contract never writes reads as not enabled.
fn status_name(status: u8) -> &'static str {
    Status::try_from(status).unwrap_or_default().text()
}

pub fn list(args: ListArgs, json: bool) -> Result<ExitCode, InputError> {
    let dir = args.home.clone().unwrap_or_else(SessionStore::default_dir);
    let store = SessionStore::open(dir)?;
    let listing = store.list()?;
    for problem in &listing.unreadable {
        errln!("warning: {problem}");
    }
    let backend: Option<Arc<dyn Backend>> = match &args.rpc {
        Some(rpc) => Some(Arc::new(RpcBackend::new(rpc, rpc)?)),
        None => None,
    };
    let rt = runtime()?;
    let mut rows = Vec::new();
    for stored in listing
        .sessions
        .iter()
        .filter(|s| args.account.is_none_or(|a| a == s.account))
    {
        let mut row = serde_json::json!({
            "sessionHash": stored.hash.to_string(),
            "account": stored.account.to_checksum(None),
            "chainId": stored.chain_id,
            "entryPoint": stored.entry_point,
            "stored": stored.status,
        });
        if let Some(backend) = &backend {
            let spec = stored.spec()?;
            let onchain = rt.block_on(async {
                let call = ISessionKeyValidator::sessionStatusCall {
                    account: stored.account,
                    sessionHash: stored.hash,
                };
                let out = backend
                    .call(stored.validator, alloy::sol_types::SolCall::abi_encode(&call).into())
                    .await?;
                let status = <ISessionKeyValidator::sessionStatusCall as alloy::sol_types::SolCall>::abi_decode_returns(&out)
                    .map_err(|e| SdkError::Decode(format!("sessionStatus: {e}")))?;
                let usage = sessionkeys::client::session_usage(backend.as_ref(), stored.validator, stored.account, &spec).await?;
                Ok::<_, SdkError>((status, usage))
            });
            match onchain {
                Ok((status, usage)) => {
                    row["onchain"] = serde_json::json!(status_name(status.status));
                    row["usable"] = serde_json::json!(status.usable);
                    row["limits"] = usage_rows(&usage);
                }
                Err(error) => return Err(InputError(error.to_string())),
            }
        }
        rows.push(row);
    }
    // With a node and an account, also the sessions granted from elsewhere (SessionEnabled).
    if let (Some(backend), Some(account)) = (&backend, args.account) {
        // The same runtime as above: the backend's pooled connections belong to it.
        let onchain = rt.block_on(sessionkeys::sessions::account_sessions(
            backend.as_ref(),
            validator(),
            account,
        ))?;
        for session in onchain {
            if listing.sessions.iter().any(|s| s.hash == session.hash) {
                continue;
            }
            rows.push(serde_json::json!({
                "sessionHash": session.hash.to_string(),
                "account": account.to_checksum(None),
                "stored": "not on this machine",
                "onchain": session.status.text(),
                "usable": session.usable,
                "limits": usage_rows(&session.usage),
            }));
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(rows));
    } else if rows.is_empty() {
        outln!("no sessions in {}", store.dir().display());
    } else {
        for row in &rows {
            let mut line = format!(
                "{} account {} ({})",
                row["sessionHash"].as_str().unwrap_or_default(),
                row["account"].as_str().unwrap_or_default(),
                row["stored"].as_str().unwrap_or_default()
            );
            if let Some(onchain) = row.get("onchain") {
                line.push_str(&format!(
                    ", on-chain {}{}",
                    onchain.as_str().unwrap_or_default(),
                    if row["usable"] == serde_json::json!(true) {
                        ", usable"
                    } else {
                        ", not usable"
                    }
                ));
            }
            outln!("{line}");
            if let Some(limits) = row.get("limits").and_then(|l| l.as_array()) {
                for limit in limits {
                    outln!(
                        "    {} used of {}, {} left",
                        limit["used"].as_str().unwrap_or_default(),
                        limit["limit"].as_str().unwrap_or_default(),
                        limit["remaining"].as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn revoke(args: RevokeArgs, json: bool) -> Result<ExitCode, InputError> {
    let store = args.store.store()?;
    let targets: Vec<StoredSession> = args
        .sessions
        .iter()
        .map(|q| store.find(q))
        .collect::<Result<_, _>>()?;
    let account_address = match (&args.account, targets.first()) {
        (Some(a), _) => *a,
        (None, Some(first)) => first.account,
        (None, None) => store.find("latest")?.account,
    };
    if let Some(other) = targets.iter().find(|s| s.account != account_address) {
        return Err(InputError(format!(
            "session {} belongs to {}, not {account_address}: revoke one account's sessions at a time",
            other.hash, other.account
        )));
    }
    let backend = args.chain.backend(true)?;
    let owner = args.owner.signer()?;
    let stored_version = store
        .list()?
        .sessions
        .iter()
        .rev()
        .find(|s| s.account == account_address)
        .map(|s| s.entry_point);
    let account = SmartAccount {
        address: account_address,
        owner: owner.address(),
        version: args
            .entrypoint
            .or(stored_version)
            .unwrap_or(EntryPointVersion::V07),
        factory: None,
    };
    let hashes: Vec<B256> = targets.iter().map(|s| s.hash).collect();
    let relayer = args.relayer.signer()?;
    let done = match relayer {
        Some(relayer) => {
            let target = if args.all {
                RevokeTarget::All
            } else {
                RevokeTarget::Sessions(hashes.clone())
            };
            progress(
                json,
                "relaying the owner's signed revocation to the validator",
            );
            let result = runtime()?.block_on(async {
                let chains = vec![
                    sessionkeys::sessions::current_chain(
                        backend.as_ref(),
                        validator(),
                        account_address,
                    )
                    .await?,
                ];
                let approval =
                    RevokeApproval::sign(&owner, validator(), account_address, target, chains);
                relay::relay_revoke(backend.as_ref(), validator(), &approval, &relayer).await
            });
            match result {
                Ok(outcome) => format!("transaction {}", outcome.hash),
                Err(error) => return outcome(error),
            }
        }
        None => match revoke_by_owner_op(&args, &account, &owner, &hashes, backend.as_ref(), json)?
        {
            Ok(hash) => format!("userOp {hash}"),
            Err(error) => return outcome(error),
        },
    };
    let revoked: Vec<B256> = if args.all {
        store
            .list()?
            .sessions
            .iter()
            .filter(|s| s.account == account_address)
            .map(|s| s.hash)
            .collect()
    } else {
        hashes
    };
    for hash in &revoked {
        store.set_status(*hash, StoredStatus::Revoked)?;
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({"sentAs": done, "revoked": revoked.iter().map(|h| h.to_string()).collect::<Vec<_>>(), "all": args.all})
        );
    } else if args.all {
        outln!("revoked every session of {account_address} ({done})");
    } else {
        for hash in &revoked {
            outln!("revoked {hash}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The hashes whose nonce lanes are taken on `account`: its live sessions (none while it has
/// no code) and `pending` ones.
async fn taken_lanes(
    backend: &dyn Backend,
    account: &SmartAccount,
    pending: &[B256],
) -> Result<Vec<B256>, SdkError> {
    let mut taken = pending.to_vec();
    if account.is_deployed(backend).await? {
        taken.extend(lanes::live_sessions(backend, validator(), account.address).await?);
    }
    Ok(taken)
}

/// The owner's own userOp calling revokeSession / revokeSessions / revokeAll.
fn revoke_by_owner_op(
    args: &RevokeArgs,
    account: &SmartAccount,
    owner: &PrivateKeySigner,
    hashes: &[B256],
    backend: &dyn Backend,
    json: bool,
) -> Result<Result<B256, SdkError>, InputError> {
    let call = if args.all {
        Call::typed(validator(), &ISessionKeyValidator::revokeAllCall {})
    } else if let [hash] = hashes {
        Call::typed(
            validator(),
            &ISessionKeyValidator::revokeSessionCall { sessionHash: *hash },
        )
    } else {
        Call::typed(
            validator(),
            &ISessionKeyValidator::revokeSessionsCall {
                sessionHashes: hashes.to_vec(),
            },
        )
    };
    progress(json, "sending the owner's revoking userOp");
    let result = runtime()?.block_on(account.execute_as_owner(
        backend,
        owner,
        &[call],
        WaitPolicy::default(),
    ));
    Ok(result.map(|done| done.user_op_hash))
}
