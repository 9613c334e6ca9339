//! A call-tree gas profile: for every call frame of a transaction, who called whom with which
//! selector and how much gas the frame spent (inclusive of its children). The gas binary prints
//! it for scenario S1 so the cost of each step of session validation is visible.

use alloy::primitives::Address;
use revm::Inspector;
use revm::context_interface::ContextTr;
use revm::interpreter::interpreter_types::{InputsTr, Jumps};
use revm::interpreter::{CallInputs, CallOutcome, Interpreter, interpreter::EthInterpreter};

/// One call frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Nesting depth (1 = called by the transaction).
    pub depth: usize,
    /// The callee (the code's address for a delegatecall is `code`).
    pub target: Address,
    /// Where the code came from (differs from `target` for a delegatecall).
    pub code: Address,
    /// First 4 bytes of the input, if any.
    pub selector: Option<[u8; 4]>,
    /// Bytes of input.
    pub input_len: usize,
    /// Gas spent by the frame and everything it called.
    pub gas_spent: u64,
}

/// Records every call frame, and the gas each opcode costs in each contract's code.
#[derive(Debug, Clone, Default)]
pub struct CallProfiler {
    /// Frames in call order (a parent before its children).
    pub frames: Vec<Frame>,
    /// Gas by (code address, opcode), not counting gas forwarded to sub-calls.
    pub opcode_gas: std::collections::BTreeMap<(Address, u8), (u64, u64)>,
    /// Gas and count by (code address, program counter), not counting gas forwarded to
    /// sub-calls: maps onto source lines with the compiler's source map.
    pub pc_gas: std::collections::BTreeMap<(Address, usize), (u64, u64)>,
    open: Vec<usize>,
    step: Option<(Address, u8, usize, u64)>,
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for CallProfiler {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let code = interp
            .input
            .bytecode_address()
            .copied()
            .unwrap_or_else(|| interp.input.target_address());
        self.step = Some((
            code,
            interp.bytecode.opcode(),
            interp.bytecode.pc(),
            interp.gas.remaining(),
        ));
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if let Some((code, opcode, pc, before)) = self.step.take() {
            // A call's step ends when the frame is set up, so its cost here is what the caller
            // pays (access, memory, forwarded gas); the forwarded part comes back on return and
            // is subtracted there.
            let cost = before.saturating_sub(interp.gas.remaining());
            let entry = self.opcode_gas.entry((code, opcode)).or_default();
            entry.0 += cost;
            entry.1 += 1;
            // Call-family costs include the forwarded gas; the frames account for those.
            if !matches!(opcode, 0xf1 | 0xf2 | 0xf4 | 0xfa) {
                let entry = self.pc_gas.entry((code, pc)).or_default();
                entry.0 += cost;
                entry.1 += 1;
            }
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let input = inputs.input.bytes(context);
        self.open.push(self.frames.len());
        self.frames.push(Frame {
            depth: self.open.len(),
            target: inputs.target_address,
            code: inputs.bytecode_address,
            selector: input.get(..4).map(|s| s.try_into().expect("4 bytes")),
            input_len: input.len(),
            gas_spent: 0,
        });
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        if let Some(index) = self.open.pop() {
            self.frames[index].gas_spent = outcome.result.gas.total_gas_spent();
        }
    }
}
