//! The validator's calldata as Solidity reads it: `userOp.signature` is read in place
//! (`_decodeSignature`, `_decodeSpec`), so the engine decodes it with the compiler's own calldata
//! access rules instead of a strict ABI decoder (docs/decisions.md, "Session identity and
//! signatures").
//!
//! Those rules: a value-typed member whose word has bits above its width reverts; a `bytes` or
//! array member's offset is checked (signed) against the end of the *whole calldata*, not the
//! enclosing `bytes`, and its length must fit before that end; bytes nobody reads (padding, trailing
//! bytes, unreferenced areas) are never looked at. Every such revert carries no data
//! ([`Violation::EmptyRevert`]). Reads past the end of calldata return zero words (CALLDATALOAD).

use crate::{UserOpInput, Violation};
use alloy::primitives::{Address, B256, U256};
use sessionkeys_contracts::session::{
    CallPolicy, ChainEpoch, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::{
    Condition, CounterKind, LimitType, MAX_LIMIT, MAX_ONE_OF, MIN_PERIOD, PaymasterMode,
};

/// `validateUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32)`.
const VALIDATE_USER_OP: [u8; 4] = [0x97, 0x00, 0x32, 0x03];

/// A calldata position (Solidity's arithmetic on it wraps at 2^256).
pub type Ptr = U256;

/// The bytes `SessionAccount._forwardValidation` sends the validator: the selector, the head
/// (0x40, userOpHash) and the userOp tuple exactly as the EntryPoint ABI-encoded it.
#[derive(Debug, Clone)]
pub struct Calldata {
    bytes: Vec<u8>,
    /// Where the signature's bytes start.
    signature_start: usize,
}

fn push_word(out: &mut Vec<u8>, value: U256) {
    out.extend_from_slice(&value.to_be_bytes::<32>());
}

fn push_bytes(out: &mut Vec<u8>, data: &[u8]) {
    push_word(out, U256::from(data.len()));
    out.extend_from_slice(data);
    out.resize(out.len() + data.len().next_multiple_of(32) - data.len(), 0);
}

impl Calldata {
    /// The validator's calldata for `op` (canonical tuple encoding, zero padding).
    pub fn of(op: &UserOpInput) -> Self {
        let mut out = Vec::with_capacity(
            4 + 32 * 14
                + op.init_code.len()
                + op.call_data.len()
                + op.paymaster_and_data.len()
                + op.signature.len()
                + 128,
        );
        // The selector is never read; only the layout after it matters.
        out.extend_from_slice(&VALIDATE_USER_OP);
        push_word(&mut out, U256::from(0x40));
        out.extend_from_slice(op.user_op_hash.as_slice());
        let tuple = out.len();
        let mut tail = 9 * 32;
        let offset = |tail: &mut usize, len: usize| {
            let at = *tail;
            *tail += 32 + len.next_multiple_of(32);
            U256::from(at)
        };
        push_word(&mut out, U256::from_be_slice(op.sender.as_slice()));
        push_word(&mut out, op.nonce);
        let init = offset(&mut tail, op.init_code.len());
        let call = offset(&mut tail, op.call_data.len());
        push_word(&mut out, init);
        push_word(&mut out, call);
        out.extend_from_slice(op.account_gas_limits.as_slice());
        push_word(&mut out, op.pre_verification_gas);
        out.extend_from_slice(op.gas_fees.as_slice());
        let pm = offset(&mut tail, op.paymaster_and_data.len());
        let sig = offset(&mut tail, op.signature.len());
        push_word(&mut out, pm);
        push_word(&mut out, sig);
        push_bytes(&mut out, &op.init_code);
        push_bytes(&mut out, &op.call_data);
        push_bytes(&mut out, &op.paymaster_and_data);
        let signature_start = tuple + sig.to::<usize>() + 32;
        push_bytes(&mut out, &op.signature);
        Self {
            bytes: out,
            signature_start,
        }
    }

    fn size(&self) -> U256 {
        U256::from(self.bytes.len())
    }

    /// CALLDATALOAD: 32 bytes at `at`, zero past the end.
    pub fn word(&self, at: Ptr) -> U256 {
        let mut word = [0u8; 32];
        if at < self.size() {
            let at = at.to::<usize>();
            let end = (at + 32).min(self.bytes.len());
            word[..end - at].copy_from_slice(&self.bytes[at..end]);
        }
        U256::from_be_bytes(word)
    }

    /// An unsigned value of `bits` bits: dirty upper bits revert (the compiler's validator).
    pub fn uint(&self, at: Ptr, bits: usize) -> Result<U256, Violation> {
        let value = self.word(at);
        if bits < 256 && value >> bits != U256::ZERO {
            return Err(Violation::EmptyRevert);
        }
        Ok(value)
    }

    fn u64_at(&self, at: Ptr, bits: usize) -> Result<u64, Violation> {
        Ok(self.uint(at, bits)?.to::<u64>())
    }

    fn address(&self, at: Ptr) -> Result<Address, Violation> {
        Ok(Address::from_word(self.uint(at, 160)?.into()))
    }

    fn bytes4(&self, at: Ptr) -> Result<[u8; 4], Violation> {
        let word = self.word(at).to_be_bytes::<32>();
        if word[4..].iter().any(|b| *b != 0) {
            return Err(Violation::EmptyRevert);
        }
        Ok([word[0], word[1], word[2], word[3]])
    }

    fn bytes32(&self, at: Ptr) -> B256 {
        B256::from(self.word(at))
    }

    /// `access_calldata_tail` of a dynamically sized member (`bytes` or an array): the data's
    /// start and its length. `stride` is the element size in the tail (1 for bytes).
    pub fn dynamic(&self, base: Ptr, head: Ptr, stride: u64) -> Result<(Ptr, U256), Violation> {
        let start = self.tail(base, head, 32)?;
        let length = self.word(start);
        if length > U256::from(u64::MAX) {
            return Err(Violation::EmptyRevert);
        }
        let data = start.wrapping_add(U256::from(32));
        let limit = self.size().wrapping_sub(length * U256::from(stride));
        if signed_gt(data, limit) {
            return Err(Violation::EmptyRevert);
        }
        Ok((data, length))
    }

    /// `access_calldata_tail` of a dynamically encoded struct whose head is `needed` bytes.
    pub fn tail(&self, base: Ptr, head: Ptr, needed: u64) -> Result<Ptr, Violation> {
        let relative = self.word(head);
        let bound = self
            .size()
            .wrapping_sub(base)
            .wrapping_sub(U256::from(needed - 1));
        if !signed_lt(relative, bound) {
            return Err(Violation::EmptyRevert);
        }
        Ok(base.wrapping_add(relative))
    }

    /// The bytes at `[at, at + length)` (already checked to lie inside calldata).
    pub fn slice(&self, at: Ptr, length: U256) -> &[u8] {
        if length.is_zero() {
            // An empty member may point anywhere, even "before" calldata (offsets are signed).
            return &[];
        }
        let at = at.to::<usize>();
        &self.bytes[at..at + length.to::<usize>()]
    }
}

fn signed_lt(a: U256, b: U256) -> bool {
    let flip = U256::from(1) << 255;
    (a ^ flip) < (b ^ flip)
}

fn signed_gt(a: U256, b: U256) -> bool {
    signed_lt(b, a)
}

fn at(base: Ptr, offset: u64) -> Ptr {
    base.wrapping_add(U256::from(offset))
}

// Head sizes of the dynamically encoded structs (their `calldataEncodedTailSize`).
const CALL_POLICY_HEAD: u64 = 32 * 10;
const CONSTRAINT_HEAD: u64 = 32 * 8;
const TRANSFER_POLICY_SIZE: u64 = 32 * 5;
const CHAIN_EPOCH_SIZE: u64 = 64;

/// `userOp.signature` read as `SessionSignature calldata`, with the members `validateUserOp`
/// reads before its first named check already read (and checked).
#[derive(Debug, Clone)]
pub struct SignatureView<'a> {
    data: &'a Calldata,
    sig: Ptr,
    /// Where the spec struct starts (`encoded.offset + 0x20`).
    pub spec: Ptr,
    /// The carried spec bytes (their keccak is the session hash).
    pub spec_bytes: &'a [u8],
    /// `sig.timeHint`.
    pub time_hint: u64,
    /// `spec.validAfter`.
    pub valid_after: u64,
    /// `spec.validUntil`.
    pub valid_until: u64,
}

impl<'a> SignatureView<'a> {
    /// `_decodeSignature`, `_decodeSpec` and the reads of the validator's `Context`, in order.
    pub fn read(data: &'a Calldata) -> Result<Self, Violation> {
        let signature = &data.bytes[data.signature_start..];
        let length = U256::from_be_slice(&data.bytes[data.signature_start - 32..][..32]);
        let malformed = || Err(Violation::malformed_signature());
        if length < U256::from(32) {
            return malformed();
        }
        let offset = U256::from_be_slice(&signature[..32]);
        if offset > length - U256::from(32) {
            return malformed();
        }
        let sig = at(U256::from(data.signature_start), 0).wrapping_add(offset);
        let (encoded, encoded_len) = data.dynamic(sig, at(sig, 32), 1)?;
        if encoded_len < U256::from(32) || data.word(encoded) != U256::from(0x20) {
            return malformed();
        }
        let spec = at(encoded, 32);
        Ok(Self {
            data,
            sig,
            spec,
            spec_bytes: data.slice(encoded, encoded_len),
            time_hint: data.u64_at(at(sig, 64), 48)?,
            valid_after: data.u64_at(at(spec, 32), 48)?,
            valid_until: data.u64_at(at(spec, 64), 48)?,
        })
    }

    /// `sig.mode`.
    pub fn mode(&self) -> Result<u8, Violation> {
        Ok(self.data.uint(self.sig, 8)?.to::<u8>())
    }

    fn bytes_member(&self, offset: u64) -> Result<&'a [u8], Violation> {
        let data: &'a Calldata = self.data;
        let (start, length) = data.dynamic(self.sig, at(self.sig, offset), 1)?;
        Ok(data.slice(start, length))
    }

    /// `sig.sessionSignature`.
    pub fn session_signature(&self) -> Result<&'a [u8], Violation> {
        self.bytes_member(96)
    }

    /// `sig.ownerSignature`.
    pub fn owner_signature(&self) -> Result<&'a [u8], Violation> {
        self.bytes_member(160)
    }

    fn chains_array(&self) -> Result<(Ptr, u64), Violation> {
        let (start, length) = self
            .data
            .dynamic(self.sig, at(self.sig, 128), CHAIN_EPOCH_SIZE)?;
        Ok((start, length.to::<u64>()))
    }

    /// `_signedEpoch(sig.chains)`: the epoch listed for `chain_id`, scanning as the contract
    /// does (an entry's chainId is read until one matches).
    pub fn signed_epoch(&self, chain_id: u64) -> Result<Option<u64>, Violation> {
        let (start, length) = self.chains_array()?;
        for i in 0..length {
            let entry = at(start, i * CHAIN_EPOCH_SIZE);
            if self.data.u64_at(entry, 64)? == chain_id {
                return Ok(Some(self.data.u64_at(at(entry, 32), 64)?));
            }
        }
        Ok(None)
    }

    /// Every entry of `sig.chains` (read when the enable digest hashes them).
    pub fn chains(&self) -> Result<Vec<ChainEpoch>, Violation> {
        let (start, length) = self.chains_array()?;
        (0..length)
            .map(|i| {
                let entry = at(start, i * CHAIN_EPOCH_SIZE);
                Ok(ChainEpoch {
                    chainId: self.data.u64_at(entry, 64)?,
                    epoch: self.data.u64_at(at(entry, 32), 64)?,
                })
            })
            .collect()
    }

    /// `_validateSpec(spec)` on the spec in place: the same named errors, and an empty revert
    /// where a read the contract makes before them is invalid.
    /// Rules 4, 17 and 21 (docs/rules.md).
    pub fn validate_spec(&self) -> Result<(), Violation> {
        SpecReader { data: self.data }.validate(self.spec)
    }

    /// The whole spec, every member read and checked (what `abi.encode(spec)` reads).
    pub fn spec(&self) -> Result<SessionSpec, Violation> {
        SpecReader { data: self.data }.spec(self.spec)
    }
}

struct SpecReader<'a> {
    data: &'a Calldata,
}

impl SpecReader<'_> {
    fn limit(&self, base: Ptr) -> Result<UsageLimit, Violation> {
        Ok(UsageLimit {
            limitType: self.data.uint(base, 8)?.to(),
            limit: self.data.word(at(base, 32)),
            period: self.data.uint(at(base, 64), 48)?.to(),
        })
    }

    /// `_validateLimit`, with its short-circuits (a member it never reaches is never read).
    /// Rules 9 and 17 (docs/rules.md).
    fn validate_limit(
        &self,
        base: Ptr,
        max: U256,
        kind: CounterKind,
        p: usize,
        c: usize,
    ) -> Result<(), Violation> {
        let d = self.data;
        let limit_type = LimitType::try_from(d.uint(base, 8)?.to::<u8>());
        let limit = || d.word(at(base, 32));
        let period = || d.uint(at(base, 64), 48);
        let valid = match limit_type {
            Ok(LimitType::Unlimited) => limit().is_zero() && period()?.is_zero(),
            Ok(LimitType::Lifetime) => limit() <= max && period()?.is_zero(),
            Ok(LimitType::Allowance) => limit() <= max && period()? >= U256::from(MIN_PERIOD),
            Err(_) => false,
        };
        if valid {
            Ok(())
        } else {
            Err(Violation::invalid_usage_limit(kind, p, c))
        }
    }

    fn validate(&self, spec: Ptr) -> Result<(), Violation> {
        let d = self.data;
        let max = MAX_LIMIT;
        if d.address(spec)? == Address::ZERO {
            return Err(Violation::invalid_signer());
        }
        let after = d.u64_at(at(spec, 32), 48)?;
        let until = d.u64_at(at(spec, 64), 48)?;
        if until == 0 || after >= until {
            return Err(Violation::invalid_window(after, until));
        }
        self.validate_limit(at(spec, 96), max, CounterKind::Fee, 0, 0)?;
        self.validate_limit(at(spec, 256), U256::from(u64::MAX), CounterKind::Ops, 0, 0)?;
        let code = d.uint(at(spec, 192), 8)?.to::<u8>();
        let pm_mode = match PaymasterMode::try_from(code) {
            Ok(mode)
                if (mode == PaymasterMode::One) == (d.address(at(spec, 224))? != Address::ZERO) =>
            {
                mode
            }
            _ => {
                return Err(Violation::invalid_paymaster_policy(
                    code,
                    d.address(at(spec, 224))?,
                ));
            }
        };
        let fee_limit_type = d.uint(at(spec, 96), 8)?.to::<u8>();
        if pm_mode != PaymasterMode::None && fee_limit_type == u8::from(LimitType::Unlimited) {
            return Err(Violation::fee_limit_required(pm_mode));
        }
        let (calls, count) = d.dynamic(spec, at(spec, 352), 32)?;
        let mut previous = U256::ZERO;
        for p in 0..count.to::<u64>() {
            let policy = d.tail(calls, at(calls, 32 * p), CALL_POLICY_HEAD)?;
            let target = U256::from_be_slice(d.address(policy)?.as_slice());
            let selector = u32::from_be_bytes(d.bytes4(at(policy, 32))?);
            let key = (target << 32) | U256::from(selector);
            let p = p as usize;
            if p != 0 && key <= previous {
                return Err(Violation::call_policies_not_sorted(p));
            }
            previous = key;
            self.validate_limit(at(policy, 96), max, CounterKind::CallValue, p, 0)?;
            self.validate_limit(at(policy, 192), max, CounterKind::CallCount, p, 0)?;
            let (constraints, n) = d.dynamic(policy, at(policy, 288), 32)?;
            for c in 0..n.to::<u64>() {
                let constraint = d.tail(constraints, at(constraints, 32 * c), CONSTRAINT_HEAD)?;
                let condition = Condition::try_from(d.uint(constraint, 8)?.to::<u8>());
                let (_, list) = d.dynamic(constraint, at(constraint, 128), 32)?;
                let bits = d.uint(at(constraint, 64), 16)?.to::<u16>();
                let list_ok = match condition {
                    Ok(Condition::OneOf) => !list.is_zero() && list <= U256::from(MAX_ONE_OF),
                    Ok(_) => list.is_zero(),
                    Err(_) => false,
                };
                if bits == 0 || bits > 256 || !list_ok {
                    return Err(Violation::invalid_constraint(p, c as usize));
                }
                let sum = CounterKind::ConstraintSum;
                self.validate_limit(at(constraint, 160), max, sum, p, c as usize)?;
            }
        }
        let (transfers, count) = d.dynamic(spec, at(spec, 384), TRANSFER_POLICY_SIZE)?;
        for p in 0..count.to::<u64>() {
            let policy = at(transfers, p * TRANSFER_POLICY_SIZE);
            let key = U256::from_be_slice(d.address(policy)?.as_slice());
            if p != 0 && key <= previous {
                return Err(Violation::transfer_policies_not_sorted(p as usize));
            }
            previous = key;
            let kind = CounterKind::TransferValue;
            self.validate_limit(at(policy, 64), max, kind, p as usize, 0)?;
        }
        Ok(())
    }

    fn constraint(&self, base: Ptr) -> Result<Constraint, Violation> {
        let d = self.data;
        let (list, n) = d.dynamic(base, at(base, 128), 32)?;
        Ok(Constraint {
            condition: d.uint(base, 8)?.to(),
            index: d.uint(at(base, 32), 32)?.to(),
            bits: d.uint(at(base, 64), 16)?.to(),
            refValue: d.bytes32(at(base, 96)),
            oneOf: (0..n.to::<u64>())
                .map(|i| d.bytes32(at(list, 32 * i)))
                .collect(),
            limit: self.limit(at(base, 160))?,
        })
    }

    fn call_policy(&self, base: Ptr) -> Result<CallPolicy, Violation> {
        let d = self.data;
        let (constraints, n) = d.dynamic(base, at(base, 288), 32)?;
        Ok(CallPolicy {
            target: d.address(base)?,
            selector: d.bytes4(at(base, 32))?.into(),
            maxValuePerUse: d.word(at(base, 64)),
            valueLimit: self.limit(at(base, 96))?,
            callLimit: self.limit(at(base, 192))?,
            constraints: (0..n.to::<u64>())
                .map(|c| {
                    self.constraint(d.tail(
                        constraints,
                        at(constraints, 32 * c),
                        CONSTRAINT_HEAD,
                    )?)
                })
                .collect::<Result<_, _>>()?,
        })
    }

    fn spec(&self, spec: Ptr) -> Result<SessionSpec, Violation> {
        let d = self.data;
        let (calls, count) = d.dynamic(spec, at(spec, 352), 32)?;
        let (transfers, n) = d.dynamic(spec, at(spec, 384), TRANSFER_POLICY_SIZE)?;
        Ok(SessionSpec {
            signer: d.address(spec)?,
            validAfter: d.uint(at(spec, 32), 48)?.to(),
            validUntil: d.uint(at(spec, 64), 48)?.to(),
            feeLimit: self.limit(at(spec, 96))?,
            paymasterMode: d.uint(at(spec, 192), 8)?.to(),
            paymaster: d.address(at(spec, 224))?,
            opLimit: self.limit(at(spec, 256))?,
            callPolicies: (0..count.to::<u64>())
                .map(|p| self.call_policy(d.tail(calls, at(calls, 32 * p), CALL_POLICY_HEAD)?))
                .collect::<Result<_, _>>()?,
            transferPolicies: (0..n.to::<u64>())
                .map(|p| {
                    let base = at(transfers, p * TRANSFER_POLICY_SIZE);
                    Ok(TransferPolicy {
                        target: d.address(base)?,
                        maxValuePerUse: d.word(at(base, 32)),
                        valueLimit: self.limit(at(base, 64))?,
                    })
                })
                .collect::<Result<_, Violation>>()?,
            salt: d.bytes32(at(spec, 416)),
        })
    }
}
