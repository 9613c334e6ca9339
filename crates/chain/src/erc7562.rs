//! An ERC-7562 checker: an revm inspector that watches the validation phase of every userOp in
//! a bundle (the EntryPoint's call of `validateUserOp` on the account and everything under it)
//! and records each use of a banned opcode (OP-011, OP-012) and each storage access outside the
//! account's own storage or its associated slots (STO-010, STO-021).
//!
//! Associated slots of account A are `A` itself and `keccak256(A ‖ x) + n` for n ≤ 128; the
//! inspector learns them by watching KECCAK256 inputs that start with A padded to 32 bytes.

use alloy::primitives::{Address, U256};
use revm::Inspector;
use revm::context_interface::ContextTr;
use revm::interpreter::interpreter_types::{InputsTr, Jumps, MemoryTr};
use revm::interpreter::{CallInputs, CallOutcome, Interpreter, interpreter::EthInterpreter};

/// `validateUserOp(PackedUserOperation,bytes32,uint256)` on the account.
const VALIDATE_USER_OP: [u8; 4] = [0x19, 0x82, 0x2f, 0x7c];

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
    /// Validation frames entered (at least one per op, to prove the inspector saw them).
    pub validations_seen: usize,
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

fn is_call(opcode: u8) -> bool {
    matches!(opcode, 0xf1 | 0xf2 | 0xf4 | 0xfa)
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Erc7562Inspector {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let Some((_, sender)) = self.validating else {
            return;
        };
        let opcode = interp.bytecode.opcode();
        let contract = interp.input.target_address();
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
        match opcode {
            0x20 => {
                let (Ok(offset), Ok(len)) = (interp.stack.peek(0), interp.stack.peek(1)) else {
                    return;
                };
                if len >= U256::from(32) && offset < U256::from(u32::MAX) {
                    let offset = offset.to::<usize>();
                    let word = interp.memory.slice(offset..offset + 32);
                    self.pending_keccak =
                        word[..12].iter().all(|b| *b == 0) && word[12..] == sender[..];
                }
            }
            0x54 | 0x55 => {
                let Ok(slot) = interp.stack.peek(0) else {
                    return;
                };
                let associated = contract == sender
                    || slot == U256::from_be_slice(sender.as_slice())
                    || self
                        .associated
                        .iter()
                        .any(|base| slot >= *base && slot - *base <= U256::from(128));
                if !associated {
                    let access = if opcode == 0x54 { "SLOAD" } else { "SSTORE" };
                    self.violations.push(Erc7562Violation::UnassociatedStorage {
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
        if self.pending_keccak {
            self.pending_keccak = false;
            if let Ok(hash) = interp.stack.peek(0) {
                self.associated.push(hash);
            }
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.depth += 1;
        if self.validating.is_none() && inputs.caller == self.entry_point {
            let input = inputs.input.bytes(context);
            if input.len() >= 4 && input[..4] == VALIDATE_USER_OP {
                self.validating = Some((self.depth, inputs.target_address));
                self.validations_seen += 1;
                self.associated.clear();
                self.last_was_gas = false;
            }
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, _outcome: &mut CallOutcome) {
        if matches!(self.validating, Some((depth, _)) if depth == self.depth) {
            self.validating = None;
        }
        self.depth -= 1;
    }
}
