//! Gas per scenario (docs/benchmarks.md): `handleOps` receipt gas of a bundle of one on the
//! devnet, EntryPoint v0.7 and v0.8. Prints the markdown table recorded in
//! docs/benchmarks.md; `--check FILE` exits 1 if FILE does not hold exactly this table.
//!
//! Every transfer figure: TestToken (an OpenZeppelin-shaped ERC-20), recipient balance slot cold
//! and non-zero, steady state (a warm-up op ran first, so nonces and counters are non-zero), the
//! account paying its prefund, no paymaster, beneficiary = the bundler's EOA.

use alloy::primitives::{Address, B256, U256, address, aliases::U48};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use sessionkeys_chain::execution::{Call, encode_calls};
use sessionkeys_chain::signing::{self, EnableApproval};
use sessionkeys_chain::{EntryPointVersion, UserOperation};
use sessionkeys_contracts::abi::TestToken;
use sessionkeys_contracts::session::{
    CallPolicy, ChainEpoch, Constraint, ISessionKeyValidator, SessionSpec, TransferPolicy,
    UsageLimit,
};
use sessionkeys_contracts::vocabulary::PaymasterMode;
use sessionkeys_contracts::vocabulary::packed;
use sessionkeys_devnet::DevnetError;
use sessionkeys_devnet::devnet::{DEVNET_ADMIN, Devnet};
use sessionkeys_devnet::funded::Funds;

const WARMUP_RECIPIENT: Address = address!("0x00000000000000000000000000000000000c0de1");
const RECIPIENT: Address = address!("0x00000000000000000000000000000000000c0de2");
const TABLE_START: &str = "<!-- gas-table:start -->";
const TABLE_END: &str = "<!-- gas-table:end -->";

struct Bench {
    devnet: Devnet,
    version: EntryPointVersion,
    owner: PrivateKeySigner,
    session_key: PrivateKeySigner,
    account: Address,
}

impl Bench {
    fn new(base: &Devnet, version: EntryPointVersion) -> Result<Self, DevnetError> {
        let mut devnet = base.clone();
        let owner = PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).expect("valid key");
        let validators = vec![devnet.addresses.validator];
        let account = devnet.funded_account(
            version,
            owner.address(),
            validators,
            Funds::eth_and_usdc(10, 1000),
        )?;
        let usdc = devnet.addresses.usdc;
        for (to, amount) in [(RECIPIENT, 1), (WARMUP_RECIPIENT, 1)] {
            devnet.send(
                DEVNET_ADMIN,
                usdc,
                U256::ZERO,
                &TestToken::mintCall {
                    to,
                    amount: U256::from(amount),
                },
            )?;
        }
        Ok(Self {
            devnet,
            version,
            owner,
            session_key: PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).expect("valid key"),
            account,
        })
    }

    fn transfer(&self, to: Address) -> Call {
        Call::typed(
            self.devnet.addresses.usdc,
            &TestToken::transferCall {
                to,
                amount: U256::from(1_000_000u64),
            },
        )
    }

    fn spec(&self) -> SessionSpec {
        let unlimited = UsageLimit::unlimited();
        let now = self.devnet.chain.time();
        let recipients = vec![RECIPIENT.into_word(), WARMUP_RECIPIENT.into_word()];
        SessionSpec {
            signer: self.session_key.address(),
            validAfter: U48::from(now - 60),
            validUntil: U48::from(now + 86_400),
            feeLimit: unlimited.clone(),
            paymasterMode: PaymasterMode::None.into(),
            paymaster: Address::ZERO,
            opLimit: unlimited.clone(),
            callPolicies: vec![CallPolicy {
                target: self.devnet.addresses.usdc,
                selector: TestToken::transferCall::SELECTOR.into(),
                maxValuePerUse: U256::ZERO,
                valueLimit: unlimited.clone(),
                callLimit: unlimited.clone(),
                constraints: vec![
                    Constraint::one_of(0, recipients).with_bits(160),
                    Constraint::unconstrained(1).with_limit(UsageLimit::lifetime(100_000_000)),
                ],
            }],
            transferPolicies: vec![],
            salt: B256::ZERO,
        }
    }

    fn run(&mut self, op: UserOperation) -> Result<u64, DevnetError> {
        let receipt = self.devnet.handle_ops(self.version, &[op])?;
        if !receipt.ops.iter().all(|o| o.success) {
            return Err(DevnetError::Evm(format!(
                "benchmark op failed in execution: {:?}",
                receipt.ops
            )));
        }
        Ok(receipt.gas_used)
    }

    fn owner_op(&mut self, calls: &[Call]) -> Result<UserOperation, DevnetError> {
        self.devnet
            .owner_op(self.version, self.account, &self.owner, calls)
    }

    fn session_op(
        &mut self,
        spec: &SessionSpec,
        calls: &[Call],
        enable: Option<&EnableApproval>,
    ) -> Result<UserOperation, DevnetError> {
        let hint = self.devnet.chain.time();
        let validator = self.devnet.addresses.validator;
        self.devnet.session_op(
            self.version,
            validator,
            self.account,
            spec,
            &self.session_key,
            encode_calls(calls),
            hint,
            enable,
            |_| {},
        )
    }

    /// Receipt gas of a plain transaction to the validator from a relayer (the devnet admin).
    fn relay<C: SolCall>(&mut self, call: &C) -> Result<u64, DevnetError> {
        let validator = self.devnet.addresses.validator;
        let outcome = self.devnet.chain.transact(
            DEVNET_ADMIN,
            validator,
            U256::ZERO,
            call.abi_encode().into(),
        )?;
        if !outcome.success {
            return Err(DevnetError::Evm(format!(
                "relayed benchmark call reverted: {}",
                outcome.output
            )));
        }
        Ok(outcome.gas_used)
    }

    fn enable_call(&self, spec: &SessionSpec) -> Result<Call, DevnetError> {
        Ok(Call::typed(
            self.devnet.addresses.validator,
            &ISessionKeyValidator::enableSessionCall {
                spec: packed::encode_spec(spec)?.into(),
            },
        ))
    }
}

/// One scenario's figures: receipt gas, and the `userOp.signature` length (none for the plain
/// transactions of S6 and S7).
#[derive(Debug, Clone, Copy)]
struct Figure {
    gas: u64,
    signature: Option<usize>,
}

impl Bench {
    /// Runs `op` and records its gas and signature length.
    fn figure(&mut self, op: UserOperation) -> Result<Figure, DevnetError> {
        let signature = Some(op.signature.len());
        Ok(Figure {
            gas: self.run(op)?,
            signature,
        })
    }

    /// S1's session with `extra` more transfer policies (to addresses nobody calls): the op
    /// still carries the one USDC policy, with one proof hash per doubling of the count.
    fn spec_with(&self, extra: usize) -> SessionSpec {
        let mut spec = self.spec();
        spec.transferPolicies = (0..extra)
            .map(|i| TransferPolicy {
                target: Address::from_word(B256::from(U256::from(0x1000 + i))),
                maxValuePerUse: U256::ZERO,
                valueLimit: UsageLimit::unlimited(),
            })
            .collect();
        spec
    }

    /// S1 (steady state) under `spec`, enabled on-chain first.
    fn steady_transfer(&mut self, spec: &SessionSpec) -> Result<Figure, DevnetError> {
        let op = self.owner_op(&[self.enable_call(spec)?])?;
        self.run(op)?;
        let op = self.session_op(spec, &[self.transfer(WARMUP_RECIPIENT)], None)?;
        self.run(op)?;
        let op = self.session_op(spec, &[self.transfer(RECIPIENT)], None)?;
        self.figure(op)
    }
}

/// The scenarios of the table, in order.
const SCENARIOS: [&str; 11] = [
    "S0 owner-signed ERC-20 transfer (baseline)",
    "S1 session ERC-20 transfer, spending limit + recipient constraint",
    "S2 session batch of 5 such transfers",
    "S3 enable-in-first-use + S1",
    "S4 on-chain enableSession (owner op)",
    "S5 revokeSession (owner op)",
    "S6 relayed enableSessionWithApproval (plain transaction)",
    "S7 relayed revokeAllWithApproval (plain transaction)",
    "S1 in a session of 1 policy (the S1 session on a fresh account)",
    "S1 in a session of 20 policies",
    "S1 in a session of 100 policies",
];

/// The figures of every scenario on one EntryPoint version.
fn measure(base: &Devnet, version: EntryPointVersion) -> Result<Vec<Figure>, DevnetError> {
    // S0: owner transfer, after one warm-up owner op.
    let mut b = Bench::new(base, version)?;
    let warm = b.owner_op(&[b.transfer(WARMUP_RECIPIENT)])?;
    b.run(warm)?;
    let op = b.owner_op(&[b.transfer(RECIPIENT)])?;
    let s0 = b.figure(op)?;

    // S4: on-chain enable (owner op), then S1 after a warm-up session op, S2, S5.
    let spec = b.spec();
    let op = b.owner_op(&[b.enable_call(&spec)?])?;
    let s4 = b.figure(op)?;
    let op = b.session_op(&spec, &[b.transfer(WARMUP_RECIPIENT)], None)?;
    b.run(op)?;
    let op = b.session_op(&spec, &[b.transfer(RECIPIENT)], None)?;
    let s1 = b.figure(op)?;
    let five: Vec<Call> = (0..5).map(|_| b.transfer(RECIPIENT)).collect();
    let op = b.session_op(&spec, &five, None)?;
    let s2 = b.figure(op)?;
    let revoke = Call::typed(
        b.devnet.addresses.validator,
        &ISessionKeyValidator::revokeSessionCall {
            sessionHash: signing::session_hash(&spec)?,
        },
    );
    let op = b.owner_op(&[revoke])?;
    let s5 = b.figure(op)?;

    // S3: enable in first use + the S1 transfer, on an account that already did an owner op.
    let mut b = Bench::new(base, version)?;
    let warm = b.owner_op(&[b.transfer(WARMUP_RECIPIENT)])?;
    b.run(warm)?;
    let spec = b.spec();
    let chains = vec![ChainEpoch {
        chainId: b.devnet.chain.chain_id(),
        epoch: 0,
    }];
    let digest = signing::enable_digest(b.devnet.addresses.validator, b.account, &spec, &chains);
    let approval = EnableApproval {
        chains,
        owner_signature: signing::sign_digest(&b.owner, digest),
    };
    let op = b.session_op(&spec, &[b.transfer(RECIPIENT)], Some(&approval))?;
    let s3 = b.figure(op)?;

    // S6, S7: the owner's typed approvals relayed in plain transactions (rule 22), on a new
    // session of the same account.
    let mut spec = b.spec();
    spec.salt = B256::repeat_byte(6);
    let validator = b.devnet.addresses.validator;
    let chains = vec![ChainEpoch {
        chainId: b.devnet.chain.chain_id(),
        epoch: 0,
    }];
    let digest = signing::enable_digest(validator, b.account, &spec, &chains);
    let enable = ISessionKeyValidator::enableSessionWithApprovalCall {
        account: b.account,
        spec: packed::encode_spec(&spec)?.into(),
        chains: chains.clone(),
        ownerSignature: signing::sign_digest(&b.owner, digest),
    };
    let s6 = b.relay(&enable)?;
    let digest = signing::revoke_all_digest(validator, b.account, &chains);
    let revoke_all = ISessionKeyValidator::revokeAllWithApprovalCall {
        account: b.account,
        chains,
        ownerSignature: signing::sign_digest(&b.owner, digest),
    };
    let s7 = b.relay(&revoke_all)?;
    let plain = |gas| Figure {
        gas,
        signature: None,
    };

    // S1 in larger sessions: the same transfer, the same one policy carried.
    let mut sized = Vec::new();
    for policies in [1, 20, 100] {
        let mut b = Bench::new(base, version)?;
        let spec = b.spec_with(policies - 1);
        sized.push(b.steady_transfer(&spec)?);
    }
    Ok([s0, s1, s2, s3, s4, s5, plain(s6), plain(s7)]
        .into_iter()
        .chain(sized)
        .collect())
}

fn table(base: &Devnet) -> Result<String, DevnetError> {
    let v07 = measure(base, EntryPointVersion::V07)?;
    let v08 = measure(base, EntryPointVersion::V08)?;
    let mut out = String::from(
        "| scenario | v0.7 gas | v0.8 gas | signature bytes |\n|---|---:|---:|---:|\n",
    );
    for ((name, a), b) in SCENARIOS.iter().zip(&v07).zip(&v08) {
        let bytes = a.signature.map_or("—".to_string(), |n| n.to_string());
        out += &format!("| {name} | {} | {} | {bytes} |\n", a.gas, b.gas);
    }
    out += &format!(
        "| **S1 − S0: session overhead** | **{}** | **{}** | |\n",
        v07[1].gas as i64 - v07[0].gas as i64,
        v08[1].gas as i64 - v08[0].gas as i64
    );
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = match Devnet::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let table = match table(&base) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match args.as_slice() {
        [] => print!("{table}"),
        [flag, rest @ ..] if flag == "--profile" && rest.len() <= 1 => {
            // `--profile [POLICIES]`: S1 in a session of that many policies (default 1).
            let policies = match rest.first().map(|n| n.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                Some(_) => {
                    eprintln!("error: --profile takes a policy count of at least 1");
                    std::process::exit(2);
                }
            };
            for version in EntryPointVersion::ALL {
                if let Err(e) = profile_s1(&base, version, policies) {
                    eprintln!("error: {e}");
                    std::process::exit(2);
                }
            }
        }
        [flag, file] if flag == "--check" => {
            let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
                eprintln!("error: cannot read {file}: {e}");
                std::process::exit(2);
            });
            let recorded = text
                .split(TABLE_START)
                .nth(1)
                .and_then(|rest| rest.split(TABLE_END).next())
                .map(str::trim);
            if recorded == Some(table.trim()) {
                println!("gas table in {file} is current");
            } else {
                eprintln!(
                    "gas table in {file} is stale; regenerate with `cargo run -p sessionkeys-chain --bin sessionkeys-gas` and paste between the markers:\n{table}"
                );
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: sessionkeys-gas [--check docs/benchmarks.md | --profile [POLICIES]]");
            std::process::exit(2);
        }
    }
}

/// Prints the call trees of S0 and of S1 (in a session of `policies` policies) with the gas of
/// each frame, so S1 − S0 can be read line by line (docs/benchmarks.md).
fn profile_s1(
    base: &Devnet,
    version: EntryPointVersion,
    policies: usize,
) -> Result<(), DevnetError> {
    let mut b = Bench::new(base, version)?;
    let warm = b.owner_op(&[b.transfer(WARMUP_RECIPIENT)])?;
    b.run(warm)?;
    let op = b.owner_op(&[b.transfer(RECIPIENT)])?;
    print_profile(&mut b, version, "S0", op, false)?;
    let mut b = Bench::new(base, version)?;
    let spec = b.spec_with(policies - 1);
    let op = b.owner_op(&[b.enable_call(&spec)?])?;
    b.run(op)?;
    let op = b.session_op(&spec, &[b.transfer(WARMUP_RECIPIENT)], None)?;
    b.run(op)?;
    let op = b.session_op(&spec, &[b.transfer(RECIPIENT)], None)?;
    print_profile(&mut b, version, "S1", op, true)
}

/// Runs `op` with the call profiler and prints its tree: each frame's gas, the calldata's gas
/// (the receipt less the 21,000 intrinsic gas and the outermost frame), and each contract's own
/// opcodes. `write_pcs`: also honour SESSIONKEYS_GAS_PCS.
fn print_profile(
    b: &mut Bench,
    version: EntryPointVersion,
    name: &str,
    op: UserOperation,
    write_pcs: bool,
) -> Result<(), DevnetError> {
    println!(
        "{name} on EntryPoint {version}: signature {} bytes, callData {} bytes",
        op.signature.len(),
        op.call_data.len()
    );
    let (result, profiler) = b.devnet.handle_ops_inspect(
        version,
        &[op],
        sessionkeys_devnet::profile::CallProfiler::default(),
    )?;
    let receipt = result.map_err(DevnetError::Bundle)?;
    println!("handleOps receipt gas: {}", receipt.gas_used);
    if let Some(outer) = profiler.frames.first() {
        let calldata = receipt
            .gas_used
            .saturating_sub(21_000)
            .saturating_sub(outer.gas_spent);
        println!("transaction calldata (receipt - 21000 - handleOps frame): {calldata} gas");
    }
    for frame in &profiler.frames {
        let selector = frame
            .selector
            .map(|s| format!("0x{}", alloy::primitives::hex::encode(s)))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:indent$}{} {} ({} bytes in): {} gas",
            "",
            frame.target,
            selector,
            frame.input_len,
            frame.gas_spent,
            indent = 2 * frame.depth
        );
    }
    // SESSIONKEYS_GAS_PCS=FILE: gas per program counter of every contract, for mapping onto
    // source lines with the compiler's source map (docs/benchmarks.md, "Where S1 − S0 goes").
    if let (true, Ok(path)) = (write_pcs, std::env::var("SESSIONKEYS_GAS_PCS")) {
        let lines: Vec<String> = profiler
            .pc_gas
            .iter()
            .map(|((code, pc), (gas, count))| format!("{code} {pc} {gas} {count}"))
            .collect();
        if let Err(e) = std::fs::write(&path, lines.join("\n") + "\n") {
            eprintln!("error: cannot write {path}: {e}");
        }
    }
    let mut by_code: std::collections::BTreeMap<Address, Vec<(u8, u64, u64)>> = Default::default();
    for ((code, opcode), (gas, count)) in &profiler.opcode_gas {
        // Call-family costs include forwarded gas; the frames above show those.
        if !matches!(opcode, 0xf1 | 0xf2 | 0xf4 | 0xfa) {
            by_code
                .entry(*code)
                .or_default()
                .push((*opcode, *gas, *count));
        }
    }
    for (code, mut ops) in by_code {
        let total: u64 = ops.iter().map(|o| o.1).sum();
        ops.sort_by_key(|o| std::cmp::Reverse(o.1));
        let top: Vec<String> = ops
            .iter()
            .take(10)
            .map(|(op, gas, n)| format!("{}:{gas}/{n}", opcode_name(*op)))
            .collect();
        println!(
            "  {code}: {total} gas in own opcodes (no calls): {}",
            top.join(" ")
        );
    }
    Ok(())
}

fn opcode_name(op: u8) -> String {
    revm::bytecode::opcode::OpCode::new(op)
        .map(|o| o.as_str().to_string())
        .unwrap_or_else(|| format!("0x{op:02x}"))
}
