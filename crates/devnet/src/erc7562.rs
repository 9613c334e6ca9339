//! An ERC-7562 checker: an revm inspector that watches the validation phase of every userOp in
//! a bundle — the deployment of a new sender (the EntryPoint's `createSender` call into its
//! SenderCreator, the factory and the new account under it) and the EntryPoint's call of
//! `validateUserOp` on the account with everything under it — and records each use of a banned
//! opcode (OP-011, OP-012, OP-031) and each storage access the rules do not allow: outside the
//! account's own storage and its associated slots (STO-010, STO-021), or associated storage of
//! a sender that had no code before the op while the factory is not staked (STO-022).
//!
//! Associated slots of account A are `A` itself and `keccak256(A ‖ x) + n` for n ≤ 128; the
//! inspector learns them by watching KECCAK256 inputs that start with A padded to 32 bytes.
//! During deployment the sender's address is known only when `createSender` returns, so its
//! accesses and hashes are kept and judged then.
//!
//! Which factories are staked is read from the EntryPoint by the caller
//! ([`Erc7562Inspector::with_staked_factories`], e.g. with `Devnet::is_staked`), against
//! [`MIN_STAKE_WEI`] and [`MIN_UNSTAKE_DELAY`]; the inspector judges each deployment by the
//! factory the SenderCreator actually called.
//!
//! Not covered: paymaster validation (`validatePaymasterUserOp`), calls into the EntryPoint
//! (OP-051–054), transient storage, and whether the one CREATE2 deploys the sender.

use alloy::primitives::{Address, U256};
use revm::Inspector;
use revm::context_interface::ContextTr;
use revm::interpreter::interpreter_types::{InputsTr, Jumps, MemoryTr};
use revm::interpreter::{CallInputs, CallOutcome, Interpreter, interpreter::EthInterpreter};

/// `validateUserOp(PackedUserOperation,bytes32,uint256)` on the account.
const VALIDATE_USER_OP: [u8; 4] = [0x19, 0x82, 0x2f, 0x7c];
/// `createSender(bytes)` on the EntryPoint's SenderCreator (v0.7 and v0.8).
const CREATE_SENDER: [u8; 4] = [0x57, 0x0e, 0x1a, 0x36];

pub use sessionkeys_chain::deployment::{MIN_STAKE_WEI, MIN_UNSTAKE_DELAY};

/// One breach of ERC-7562 during validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erc7562Violation {
    /// A banned opcode ran (OP-011), or GAS was not followed by a call (OP-012).
    BannedOpcode {
        /// The rule, e.g. `OP-011`.
        rule: &'static str,
        /// The opcode's name.
        opcode: &'static str,
        /// The contract whose code ran it.
        contract: Address,
    },
    /// Storage associated with a sender that had no code before the op (it is deployed by the
    /// op's initCode), while the factory is not staked (STO-022).
    UnstakedFactoryStorage {
        /// `SLOAD` or `SSTORE`.
        access: &'static str,
        /// The contract whose storage it is.
        contract: Address,
        /// The slot.
        slot: U256,
    },
    /// A storage slot outside the account's storage and its associated slots (STO-021).
    UnassociatedStorage {
        /// `SLOAD` or `SSTORE`.
        access: &'static str,
        /// The contract whose storage it is.
        contract: Address,
        /// The slot.
        slot: U256,
    },
}

impl std::fmt::Display for Erc7562Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BannedOpcode {
                rule,
                opcode,
                contract,
            } => write!(f, "ERC-7562 {rule}: {opcode} in {contract}"),
            Self::UnstakedFactoryStorage {
                access,
                contract,
                slot,
            } => write!(
                f,
                "ERC-7562 STO-022: {access} of slot {slot:#x} of {contract}, associated with a sender deployed by this op, but the factory is not staked"
            ),
            Self::UnassociatedStorage {
                access,
                contract,
                slot,
            } => {
                write!(
                    f,
                    "ERC-7562 STO-021: {access} of slot {slot:#x} of {contract}, not associated with the sender"
                )
            }
        }
    }
}

/// Records ERC-7562 violations during the validation phase.
#[derive(Debug, Clone, Default)]
pub struct Erc7562Inspector {
    entry_point: Address,
    /// Call depth of the current frame.
    depth: usize,
    /// Depth of the `validateUserOp` frame while inside one, and its sender.
    validating: Option<(usize, Address)>,
    /// Bases `keccak256(sender ‖ x)` seen in this validation.
    associated: Vec<U256>,
    /// KECCAK256 input starting with the sender, whose result is read after the step.
    pending_keccak: bool,
    last_was_gas: bool,
    /// The factories that are staked (read from the EntryPoint).
    staked_factories: Vec<Address>,
    /// The factory the SenderCreator called in the current deployment.
    deploy_factory: Option<Address>,
    /// Whether the factory of the last deployment is staked.
    created_by_staked: bool,
    /// Depth of the `createSender` frame while inside one.
    deploying: Option<usize>,
    /// Storage accesses during deployment, judged when the sender is known.
    deploy_accesses: Vec<(&'static str, Address, U256)>,
    /// KECCAK256 first input words and results during deployment.
    deploy_hashes: Vec<([u8; 32], U256)>,
    /// First word of a KECCAK256 input during deployment, whose result is read after the step.
    pending_deploy_keccak: Option<[u8; 32]>,
    /// CREATE2 runs during this deployment (OP-031 allows one, for the sender).
    deploy_creates: usize,
    /// The sender the last `createSender` deployed: its validation is STO-022's case.
    created_sender: Option<Address>,
    /// Validation frames entered (at least one per op, to prove the inspector saw them).
    pub validations_seen: usize,
    /// Deployment frames entered (one per op with initCode).
    pub deployments_seen: usize,
    /// Everything found.
    pub violations: Vec<Erc7562Violation>,
}

impl Erc7562Inspector {
    /// Watches bundles sent to `entry_point`.
    pub fn new(entry_point: Address) -> Self {
        Self {
            entry_point,
            ..Self::default()
        }
    }

    /// The factories that are staked (STO-022), as the EntryPoint's `getDepositInfo` reports
    /// them: staked, with at least [`MIN_STAKE_WEI`] and [`MIN_UNSTAKE_DELAY`]. Any other
    /// factory a deployment calls is judged unstaked.
    pub fn with_staked_factories(mut self, staked: Vec<Address>) -> Self {
        self.staked_factories = staked;
        self
    }

    fn is_associated(&self, sender: Address, slot: U256, bases: &[U256]) -> bool {
        slot == U256::from_be_slice(sender.as_slice())
            || bases
                .iter()
                .any(|base| slot >= *base && slot - *base <= U256::from(128))
    }

    /// Judges the deployment's storage accesses once `sender` is known.
    fn judge_deployment(&mut self, sender: Address) {
        let staked = self
            .deploy_factory
            .is_some_and(|factory| self.staked_factories.contains(&factory));
        let padded = sender.into_word().0;
        let bases: Vec<U256> = self
            .deploy_hashes
            .iter()
            .filter(|(word, _)| *word == padded)
            .map(|(_, hash)| *hash)
            .collect();
        for (access, contract, slot) in std::mem::take(&mut self.deploy_accesses) {
            if contract == sender {
                continue; // STO-010: the new account's own storage
            }
            if self.is_associated(sender, slot, &bases) {
                if !staked {
                    self.violations
                        .push(Erc7562Violation::UnstakedFactoryStorage {
                            access,
                            contract,
                            slot,
                        });
                }
            } else {
                self.violations.push(Erc7562Violation::UnassociatedStorage {
                    access,
                    contract,
                    slot,
                });
            }
        }
        self.deploy_hashes.clear();
        self.created_sender = Some(sender);
        self.created_by_staked = staked;
    }

    /// Opcode rules shared by deployment and validation; CREATE2 is judged by the caller.
    fn check_opcode(&mut self, opcode: u8, contract: Address) {
        if self.last_was_gas && !is_call(opcode) {
            self.violations.push(Erc7562Violation::BannedOpcode {
                rule: "OP-012",
                opcode: "GAS",
                contract,
            });
        }
        self.last_was_gas = opcode == 0x5a;
        if let Some(name) = banned_opcode(opcode) {
            self.violations.push(Erc7562Violation::BannedOpcode {
                rule: "OP-011",
                opcode: name,
                contract,
            });
        }
    }

    fn step_deployment(&mut self, interp: &mut Interpreter<EthInterpreter>) {
        let opcode = interp.bytecode.opcode();
        let contract = interp.input.target_address();
        if opcode == 0xf5 {
            // OP-031: one CREATE2, deploying the sender, is allowed in the deployment phase.
            self.last_was_gas = false;
            self.deploy_creates += 1;
            if self.deploy_creates > 1 {
                self.violations.push(Erc7562Violation::BannedOpcode {
                    rule: "OP-031",
                    opcode: "CREATE2",
                    contract,
                });
            }
            return;
        }
        self.check_opcode(opcode, contract);
        match opcode {
            0x20 => self.pending_deploy_keccak = keccak_first_word(interp),
            0x54 | 0x55 => {
                if let Ok(slot) = interp.stack.peek(0) {
                    let access = if opcode == 0x54 { "SLOAD" } else { "SSTORE" };
                    self.deploy_accesses.push((access, contract, slot));
                }
            }
            _ => {}
        }
    }
}

fn banned_opcode(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        0x31 => "BALANCE",
        0x32 => "ORIGIN",
        0x3a => "GASPRICE",
        0x40 => "BLOCKHASH",
        0x41 => "COINBASE",
        0x42 => "TIMESTAMP",
        0x43 => "NUMBER",
        0x44 => "PREVRANDAO",
        0x45 => "GASLIMIT",
        0x47 => "SELFBALANCE",
        0x48 => "BASEFEE",
        0x49 => "BLOBHASH",
        0x4a => "BLOBBASEFEE",
        0xf0 => "CREATE",
        0xf5 => "CREATE2",
        0xfe => "INVALID",
        0xff => "SELFDESTRUCT",
        _ => return None,
    })
}

/// The first 32 bytes a KECCAK256 about to run hashes, if it hashes at least 32 bytes that are
/// already in memory (KECCAK256 expands memory itself, after this step: read only what exists).
fn keccak_first_word(interp: &Interpreter<EthInterpreter>) -> Option<[u8; 32]> {
    let (Ok(offset), Ok(len)) = (interp.stack.peek(0), interp.stack.peek(1)) else {
        return None;
    };
    if len < U256::from(32) || offset >= U256::from(u32::MAX) {
        return None;
    }
    let offset = offset.to::<usize>();
    if offset + 32 > interp.memory.size() {
        return None;
    }
    interp.memory.slice(offset..offset + 32)[..].try_into().ok()
}

fn is_call(opcode: u8) -> bool {
    matches!(opcode, 0xf1 | 0xf2 | 0xf4 | 0xfa)
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Erc7562Inspector {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if self.deploying.is_some() {
            self.step_deployment(interp);
            return;
        }
        let Some((_, sender)) = self.validating else {
            return;
        };
        let opcode = interp.bytecode.opcode();
        let contract = interp.input.target_address();
        self.check_opcode(opcode, contract);
        match opcode {
            0x20 => {
                self.pending_keccak = keccak_first_word(interp) == Some(sender.into_word().0);
            }
            0x54 | 0x55 => {
                let Ok(slot) = interp.stack.peek(0) else {
                    return;
                };
                let access = if opcode == 0x54 { "SLOAD" } else { "SSTORE" };
                if contract == sender {
                    return; // STO-010
                }
                if !self.is_associated(sender, slot, &self.associated) {
                    self.violations.push(Erc7562Violation::UnassociatedStorage {
                        access,
                        contract,
                        slot,
                    });
                } else if self.created_sender == Some(sender)
                    && !self.created_by_staked
                    && contract != self.entry_point
                {
                    // STO-021 allows it only if the account existed before the op; with
                    // initCode, STO-022 needs a staked factory. The EntryPoint's own deposit
                    // of the sender (the prefund) is exempt.
                    self.violations
                        .push(Erc7562Violation::UnstakedFactoryStorage {
                            access,
                            contract,
                            slot,
                        });
                }
            }
            _ => {}
        }
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if let Some(word) = self.pending_deploy_keccak.take()
            && let Ok(hash) = interp.stack.peek(0)
        {
            self.deploy_hashes.push((word, hash));
        }
        if self.pending_keccak {
            self.pending_keccak = false;
            if let Ok(hash) = interp.stack.peek(0) {
                self.associated.push(hash);
            }
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.depth += 1;
        if self.deploying == Some(self.depth - 1) && self.deploy_factory.is_none() {
            // The SenderCreator's call: initCode's factory.
            self.deploy_factory = Some(inputs.target_address);
        }
        if self.validating.is_none()
            && self.deploying.is_none()
            && inputs.caller == self.entry_point
        {
            let input = inputs.input.bytes(context);
            if input.len() >= 4 && input[..4] == CREATE_SENDER {
                self.deploying = Some(self.depth);
                self.deploy_factory = None;
                self.deployments_seen += 1;
                self.deploy_creates = 0;
                self.deploy_accesses.clear();
                self.deploy_hashes.clear();
                self.last_was_gas = false;
            }
            if input.len() >= 4 && input[..4] == VALIDATE_USER_OP {
                self.validating = Some((self.depth, inputs.target_address));
                self.validations_seen += 1;
                self.associated.clear();
                self.last_was_gas = false;
            }
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        if matches!(self.validating, Some((depth, _)) if depth == self.depth) {
            self.validating = None;
        }
        if self.deploying == Some(self.depth) {
            self.deploying = None;
            // createSender returns the new sender's address (zero if the factory made none).
            let output = outcome.result.output.as_ref();
            if output.len() == 32 {
                let sender = Address::from_slice(&output[12..]);
                self.judge_deployment(sender);
            } else {
                self.deploy_accesses.clear();
            }
        }
        self.depth -= 1;
    }
}
