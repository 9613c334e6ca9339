//! The packed session encoding of docs/compact-signatures.md, in one place: the packed spec
//! (header ‖ call leaves ‖ transfer leaves), the policy Merkle tree and its session hash, the
//! indexed multiproof, and the use and enable forms of `userOp.signature`.
//!
//! The validator reads the same bytes with the same refusals: the decoders here follow the doc's
//! reading order field by field, and refuse a field that does not fit in the bytes, or a word
//! outside its vocabulary, with [`Malformed`] at that field's offset (the validator's
//! `MalformedEncoding(offset)`). Checks about meaning (a period below 60 s, a window, sorting,
//! the length of a OneOf list, a width) are the enable-time checks and not the decoder's.
//! The decoders never panic, whatever the bytes.

use super::words::{Condition, CounterKind, LimitType, PaymasterMode, SignatureMode, UnknownWord};
use crate::session::{CallPolicy, ChainEpoch, Constraint, SessionSpec, TransferPolicy, UsageLimit};
use alloy::primitives::{Address, B256, FixedBytes, U256, aliases::U48, keccak256};
use std::ops::Range;

/// The first byte of the session hash preimage: the version of the packed scheme.
pub const HASH_VERSION: u8 = 0x53;
/// The first byte of a leaf hash preimage.
const LEAF_TAG: u8 = 0x00;
/// The first byte of an inner node preimage.
const NODE_TAG: u8 = 0x01;
/// The session key's signature: r ‖ s ‖ v.
pub const SESSION_SIGNATURE_LEN: usize = 65;
/// The largest time hint (a `uint48`).
pub const MAX_TIME_HINT: u64 = (1 << 48) - 1;
/// The most policies of a session (calls and transfers): leaf positions are `uint16`.
pub const MAX_POLICIES: usize = 1 << 16;
/// The most policies of one kind, and the longest owner signature (a `uint16` count).
const MAX_U16: usize = u16::MAX as usize;
/// The most constraints of a call policy, values of a OneOf list, or approved chains (a `uint8`).
const MAX_U8: usize = u8::MAX as usize;
/// A proof hash.
const HASH_LEN: usize = 32;

// ------------------------------------------------------------------------------------ errors

/// A byte string that is not the one valid packed form: the validator's
/// `MalformedEncoding(offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed encoding at byte {offset}")]
pub struct Malformed {
    /// Where the refused field starts, counted from the start of the bytes read.
    pub offset: usize,
}

/// A spec the packed form cannot carry (the validator's enable checks refuse each of them, see
/// the variants), or arguments of a signature encoder that no validator would read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnencodableSpec {
    /// A limit with fields its type does not carry (an unlimited one with a limit or a period,
    /// a lifetime one with a period): `InvalidUsageLimit(kind, policyIndex, constraintIndex)`.
    #[error(
        "{}: an unlimited limit carries no limit and no period, a lifetime limit no period; \
         set the fields its type does not use to 0",
        limit_place(*kind, *policy_index, *constraint_index)
    )]
    StrayLimitFields {
        /// The budget the limit belongs to, as in `InvalidUsageLimit`.
        kind: CounterKind,
        /// The policy's index within its list (0 for the fee and op limits).
        policy_index: usize,
        /// The constraint's index (0 unless a constraint's limit).
        constraint_index: usize,
    },
    /// A paymaster address with a mode other than One: `InvalidPaymasterPolicy(mode, paymaster)`.
    #[error(
        "paymaster {paymaster} is set with paymaster mode {} ({mode}): only mode {} ({}) names a \
         paymaster; set the mode to that or the paymaster to the zero address",
        mode.code(),
        PaymasterMode::One.code(),
        PaymasterMode::One
    )]
    StrayPaymaster {
        /// The session's paymaster mode.
        mode: PaymasterMode,
        /// The address it should not name.
        paymaster: Address,
    },
    /// A OneOf constraint with a non-zero `refValue`, or another condition with a `oneOf` list:
    /// `InvalidConstraint(policyIndex, constraintIndex)`.
    #[error(
        "call policy {policy_index}, constraint {constraint_index}: a oneOf constraint lists its \
         values in oneOf with refValue 0, any other condition compares with refValue and has an \
         empty oneOf list; move the value to the field its condition reads"
    )]
    ConstraintShape {
        /// The call policy's index.
        policy_index: usize,
        /// The constraint's index within it.
        constraint_index: usize,
    },
    /// More than 255 constraints, 255 OneOf values or 255 chains, more than 65535 policies of a
    /// kind, 65536 policies in all, 65535 carried policies, or an owner signature above 65535
    /// bytes.
    #[error("too many {what}: {count}, at most {max}; split or shorten it")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The most the encoding counts.
        max: usize,
    },
    /// A paymaster mode, limit type or condition outside the vocabulary.
    #[error(transparent)]
    UnknownWord(#[from] UnknownWord),
    /// A time hint that does not fit in 48 bits.
    #[error(
        "time hint {0} does not fit in 48 bits (at most {max}); pass a unix time in seconds",
        max = MAX_TIME_HINT
    )]
    TimeHintTooLarge(u64),
    /// Carried leaf positions that are not strictly increasing and below the policy count.
    #[error(
        "carried position {position} (entry {entry}) is not above the one before it or not below \
         the {policies} policies; list each leaf position once, in increasing order"
    )]
    BadPositions {
        /// The entry of the position list.
        entry: usize,
        /// The position it holds.
        position: usize,
        /// How many policies the session has.
        policies: usize,
    },
    /// A session-key signature that is not 65 bytes.
    #[error(
        "a session-key signature is {expected} bytes (r ‖ s ‖ v), got {length}",
        expected = SESSION_SIGNATURE_LEN
    )]
    BadSessionSignature {
        /// The length given.
        length: usize,
    },
}

/// Which limit a [`UnencodableSpec::StrayLimitFields`] is, in words.
fn limit_place(kind: CounterKind, policy_index: usize, constraint_index: usize) -> String {
    match kind {
        CounterKind::Ops => "the op limit".to_owned(),
        CounterKind::Fee => "the fee limit".to_owned(),
        CounterKind::CallValue => format!("call policy {policy_index}, value limit"),
        CounterKind::CallCount => format!("call policy {policy_index}, call limit"),
        CounterKind::ConstraintSum => {
            format!("call policy {policy_index}, constraint {constraint_index}, limit")
        }
        CounterKind::TransferValue => format!("transfer policy {policy_index}, value limit"),
    }
}

/// Why a `userOp.signature` was refused before any check of meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not the one valid packed form (`MalformedEncoding(offset)`).
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A first byte that is neither use nor enable (`UnknownSignatureMode(mode)`).
    #[error(
        "unknown signature mode {0}: the first byte is {use_code} (use) or {enable_code} (enable)",
        use_code = SignatureMode::Use.code(),
        enable_code = SignatureMode::Enable.code()
    )]
    UnknownMode(u8),
}

// ------------------------------------------------------------------------------------ encoder

fn put_u16(out: &mut Vec<u8>, value: usize, what: &'static str) -> Result<(), UnencodableSpec> {
    let value = u16::try_from(value).map_err(|_| UnencodableSpec::TooMany {
        what,
        count: value,
        max: MAX_U16,
    })?;
    out.extend_from_slice(&value.to_be_bytes());
    Ok(())
}

fn put_u8(out: &mut Vec<u8>, value: usize, what: &'static str) -> Result<(), UnencodableSpec> {
    let value = u8::try_from(value).map_err(|_| UnencodableSpec::TooMany {
        what,
        count: value,
        max: MAX_U8,
    })?;
    out.push(value);
    Ok(())
}

fn put_u48(out: &mut Vec<u8>, value: U48) {
    out.extend_from_slice(&value.to_be_bytes::<6>());
}

fn put_time_hint(out: &mut Vec<u8>, time_hint: u64) -> Result<(), UnencodableSpec> {
    if time_hint > MAX_TIME_HINT {
        return Err(UnencodableSpec::TimeHintTooLarge(time_hint));
    }
    put_u48(out, U48::from_limbs([time_hint]));
    Ok(())
}

/// `L`: the type byte, then the limit and the period as far as the type carries them.
fn put_limit(
    out: &mut Vec<u8>,
    limit: &UsageLimit,
    kind: CounterKind,
    policy_index: usize,
    constraint_index: usize,
) -> Result<LimitType, UnencodableSpec> {
    let limit_type = LimitType::try_from(limit.limitType)?;
    let stray = match limit_type {
        LimitType::Unlimited => !limit.limit.is_zero() || !limit.period.is_zero(),
        LimitType::Lifetime => !limit.period.is_zero(),
        LimitType::Allowance => false,
    };
    if stray {
        return Err(UnencodableSpec::StrayLimitFields {
            kind,
            policy_index,
            constraint_index,
        });
    }
    out.push(limit_type.code());
    if limit_type != LimitType::Unlimited {
        out.extend_from_slice(&limit.limit.to_be_bytes::<32>());
    }
    if limit_type == LimitType::Allowance {
        put_u48(out, limit.period);
    }
    Ok(limit_type)
}

fn check_counts(call_count: usize, transfer_count: usize) -> Result<(), UnencodableSpec> {
    if call_count > MAX_U16 {
        return Err(UnencodableSpec::TooMany {
            what: "call policies",
            count: call_count,
            max: MAX_U16,
        });
    }
    if transfer_count > MAX_U16 {
        return Err(UnencodableSpec::TooMany {
            what: "transfer policies",
            count: transfer_count,
            max: MAX_U16,
        });
    }
    let total = call_count + transfer_count;
    if total > MAX_POLICIES {
        return Err(UnencodableSpec::TooMany {
            what: "policies (calls and transfers)",
            count: total,
            max: MAX_POLICIES,
        });
    }
    Ok(())
}

/// The header with the given counts (the spec's policy lists are not read).
fn header_with_counts(
    spec: &SessionSpec,
    call_count: usize,
    transfer_count: usize,
) -> Result<Vec<u8>, UnencodableSpec> {
    check_counts(call_count, transfer_count)?;
    let mut out = Vec::with_capacity(200);
    out.extend_from_slice(spec.signer.as_slice());
    put_u48(&mut out, spec.validAfter);
    put_u48(&mut out, spec.validUntil);
    put_limit(&mut out, &spec.feeLimit, CounterKind::Fee, 0, 0)?;
    let mode = PaymasterMode::try_from(spec.paymasterMode)?;
    if mode != PaymasterMode::One && spec.paymaster != Address::ZERO {
        return Err(UnencodableSpec::StrayPaymaster {
            mode,
            paymaster: spec.paymaster,
        });
    }
    out.push(mode.code());
    if mode == PaymasterMode::One {
        out.extend_from_slice(spec.paymaster.as_slice());
    }
    put_limit(&mut out, &spec.opLimit, CounterKind::Ops, 0, 0)?;
    put_u16(&mut out, call_count, "call policies")?;
    put_u16(&mut out, transfer_count, "transfer policies")?;
    out.extend_from_slice(spec.salt.as_slice());
    Ok(out)
}

/// The header: the session-wide fields and the policy counts.
pub fn encode_header(spec: &SessionSpec) -> Result<Vec<u8>, UnencodableSpec> {
    header_with_counts(spec, spec.callPolicies.len(), spec.transferPolicies.len())
}

fn put_constraint(
    out: &mut Vec<u8>,
    policy_index: usize,
    constraint_index: usize,
    constraint: &Constraint,
) -> Result<(), UnencodableSpec> {
    let condition = Condition::try_from(constraint.condition)?;
    let shape = UnencodableSpec::ConstraintShape {
        policy_index,
        constraint_index,
    };
    out.push(condition.code());
    out.extend_from_slice(&constraint.index.to_be_bytes());
    out.extend_from_slice(&constraint.bits.to_be_bytes());
    if condition == Condition::OneOf {
        if constraint.refValue != B256::ZERO {
            return Err(shape);
        }
        put_u8(out, constraint.oneOf.len(), "values of a oneOf constraint")?;
        for value in &constraint.oneOf {
            out.extend_from_slice(value.as_slice());
        }
    } else {
        if !constraint.oneOf.is_empty() {
            return Err(shape);
        }
        out.extend_from_slice(constraint.refValue.as_slice());
    }
    put_limit(
        out,
        &constraint.limit,
        CounterKind::ConstraintSum,
        policy_index,
        constraint_index,
    )?;
    Ok(())
}

/// A call policy's leaf: target ‖ selector ‖ maxValuePerUse ‖ valueLimit ‖ callLimit ‖
/// constraintCount ‖ the constraints. `policy_index` only names the policy in errors.
pub fn encode_call_leaf(
    policy_index: usize,
    policy: &CallPolicy,
) -> Result<Vec<u8>, UnencodableSpec> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(policy.target.as_slice());
    out.extend_from_slice(policy.selector.as_slice());
    out.extend_from_slice(&policy.maxValuePerUse.to_be_bytes::<32>());
    put_limit(
        &mut out,
        &policy.valueLimit,
        CounterKind::CallValue,
        policy_index,
        0,
    )?;
    put_limit(
        &mut out,
        &policy.callLimit,
        CounterKind::CallCount,
        policy_index,
        0,
    )?;
    put_u8(
        &mut out,
        policy.constraints.len(),
        "constraints of a call policy",
    )?;
    for (constraint_index, constraint) in policy.constraints.iter().enumerate() {
        put_constraint(&mut out, policy_index, constraint_index, constraint)?;
    }
    Ok(out)
}

/// A transfer policy's leaf: target ‖ maxValuePerUse ‖ valueLimit. `policy_index` only names
/// the policy in errors.
pub fn encode_transfer_leaf(
    policy_index: usize,
    policy: &TransferPolicy,
) -> Result<Vec<u8>, UnencodableSpec> {
    let mut out = Vec::with_capacity(92);
    out.extend_from_slice(policy.target.as_slice());
    out.extend_from_slice(&policy.maxValuePerUse.to_be_bytes::<32>());
    put_limit(
        &mut out,
        &policy.valueLimit,
        CounterKind::TransferValue,
        policy_index,
        0,
    )?;
    Ok(out)
}

/// Every leaf's bytes in tree order (calls then transfers).
pub fn leaves(spec: &SessionSpec) -> Result<Vec<Vec<u8>>, UnencodableSpec> {
    check_counts(spec.callPolicies.len(), spec.transferPolicies.len())?;
    let calls = spec
        .callPolicies
        .iter()
        .enumerate()
        .map(|(i, policy)| encode_call_leaf(i, policy));
    let transfers = spec
        .transferPolicies
        .iter()
        .enumerate()
        .map(|(i, policy)| encode_transfer_leaf(i, policy));
    calls.chain(transfers).collect()
}

/// The packed spec: header ‖ call leaves ‖ transfer leaves.
pub fn encode_spec(spec: &SessionSpec) -> Result<Vec<u8>, UnencodableSpec> {
    let mut out = encode_header(spec)?;
    for leaf in leaves(spec)? {
        out.extend_from_slice(&leaf);
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------ tree

/// `keccak256(0x00 ‖ uint16 position ‖ leaf)`. Positions are below 65536 in every encodable
/// session; a larger one is taken modulo 2^16, as the validator's `uint16(i)` does.
pub fn leaf_hash(position: usize, leaf: &[u8]) -> B256 {
    let mut preimage = Vec::with_capacity(3 + leaf.len());
    preimage.push(LEAF_TAG);
    preimage.extend_from_slice(&((position & MAX_U16) as u16).to_be_bytes());
    preimage.extend_from_slice(leaf);
    keccak256(preimage)
}

/// `keccak256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: B256, right: B256) -> B256 {
    let mut preimage = [0u8; 1 + 2 * HASH_LEN];
    preimage[0] = NODE_TAG;
    preimage[1..1 + HASH_LEN].copy_from_slice(left.as_slice());
    preimage[1 + HASH_LEN..].copy_from_slice(right.as_slice());
    keccak256(preimage)
}

/// `log2` of the tree's width (the next power of two of `n`, 1 when `n ≤ 1`).
pub fn tree_depth(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// Every level of the tree, leaves (padded with zero hashes) first, the root's level last.
fn tree_levels(leaf_hashes: &[B256]) -> Vec<Vec<B256>> {
    let width = 1usize << tree_depth(leaf_hashes.len());
    let mut level = leaf_hashes.to_vec();
    level.resize(width, B256::ZERO);
    let mut levels = vec![level];
    while let Some(below) = levels.last().filter(|level| level.len() > 1) {
        let above = below
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(*left, *right),
                _ => B256::ZERO,
            })
            .collect();
        levels.push(above);
    }
    levels
}

/// The root: the leaf hashes padded with zero hashes to the next power of two; a single leaf
/// is its own root, no leaf at all gives `B256::ZERO`.
pub fn tree_root(leaf_hashes: &[B256]) -> B256 {
    if leaf_hashes.is_empty() {
        return B256::ZERO;
    }
    tree_levels(leaf_hashes)
        .last()
        .and_then(|root| root.first().copied())
        .unwrap_or_default()
}

/// The proof hashes for the sorted, distinct positions (each below `leaf_hashes.len()`), in the
/// order the verifier consumes them ([`multiproof_root`]). For no position it is `[root]`.
/// Positions that break the rule give a proof no verifier accepts.
pub fn multiproof(leaf_hashes: &[B256], positions: &[usize]) -> Vec<B256> {
    let levels = tree_levels(leaf_hashes);
    if positions.is_empty() {
        return vec![tree_root(leaf_hashes)];
    }
    let mut proof = Vec::new();
    let mut current: Vec<usize> = positions.to_vec();
    for level in levels.iter().take(tree_depth(leaf_hashes.len()) as usize) {
        let mut up = Vec::with_capacity(current.len());
        let mut i = 0;
        while let Some(&position) = current.get(i) {
            let paired = position % 2 == 0 && current.get(i + 1) == Some(&(position + 1));
            if paired {
                i += 2;
            } else {
                proof.push(level.get(position ^ 1).copied().unwrap_or_default());
                i += 1;
            }
            up.push(position / 2);
        }
        current = up;
    }
    proof
}

/// The verifier's walk (docs/compact-signatures.md, "The multiproof") over the proof region
/// `proof`, which starts at byte `proof_offset` of the signature (for error offsets). `pairs`
/// are (position, leaf hash), strictly increasing and below `n`. Returns the root, or
/// [`Malformed`] at `proof_offset + proof.len()` when a hash is missing, at the first unused
/// hash when one is left over. Pairs that break their rule are refused at `proof_offset`.
pub fn multiproof_root(
    n: usize,
    pairs: &[(usize, B256)],
    proof: &[u8],
    proof_offset: usize,
) -> Result<B256, Malformed> {
    let sorted = pairs.windows(2).all(|w| match w {
        [(a, _), (b, _)] => a < b,
        _ => true,
    });
    if !sorted || pairs.iter().any(|&(position, _)| position >= n) {
        return Err(Malformed {
            offset: proof_offset,
        });
    }
    let missing = Malformed {
        offset: proof_offset.saturating_add(proof.len()),
    };
    let mut used = 0usize;
    let mut next = || -> Result<B256, Malformed> {
        let hash = proof
            .get(used..used + HASH_LEN)
            .map(B256::from_slice)
            .ok_or(missing)?;
        used += HASH_LEN;
        Ok(hash)
    };
    let root = if pairs.is_empty() {
        next()?
    } else {
        let mut level: Vec<(usize, B256)> = pairs.to_vec();
        for _ in 0..tree_depth(n) {
            let mut up = Vec::with_capacity(level.len());
            let mut i = 0;
            while let Some(&(position, hash)) = level.get(i) {
                let partner = level
                    .get(i + 1)
                    .filter(|&&(next_position, _)| {
                        position % 2 == 0 && next_position == position + 1
                    })
                    .map(|&(_, right)| right);
                let parent = match partner {
                    Some(right) => {
                        i += 2;
                        node_hash(hash, right)
                    }
                    None => {
                        i += 1;
                        let sibling = next()?;
                        if position % 2 == 0 {
                            node_hash(hash, sibling)
                        } else {
                            node_hash(sibling, hash)
                        }
                    }
                };
                up.push((position / 2, parent));
            }
            level = up;
        }
        match level.as_slice() {
            [(0, root)] => *root,
            _ => {
                return Err(Malformed {
                    offset: proof_offset,
                });
            }
        }
    };
    if used < proof.len() {
        return Err(Malformed {
            offset: proof_offset + used,
        });
    }
    Ok(root)
}

/// `keccak256(0x53 ‖ header ‖ root)`.
pub fn session_hash_of(header: &[u8], root: B256) -> B256 {
    let mut preimage = Vec::with_capacity(1 + header.len() + HASH_LEN);
    preimage.push(HASH_VERSION);
    preimage.extend_from_slice(header);
    preimage.extend_from_slice(root.as_slice());
    keccak256(preimage)
}

fn leaf_hashes(leaves: &[Vec<u8>]) -> Vec<B256> {
    leaves
        .iter()
        .enumerate()
        .map(|(position, leaf)| leaf_hash(position, leaf))
        .collect()
}

/// The session's identity under the packed scheme: the header and the root of every leaf.
pub fn session_hash(spec: &SessionSpec) -> Result<B256, UnencodableSpec> {
    let header = encode_header(spec)?;
    let root = tree_root(&leaf_hashes(&leaves(spec)?));
    Ok(session_hash_of(&header, root))
}

// ------------------------------------------------------------------------------------ decoder

/// A bounds-checked cursor: every read of `n` bytes at `o` past the end is `Malformed { o }`.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], pos: usize) -> Self {
        Self { bytes, pos }
    }

    fn here(&self) -> Malformed {
        Malformed { offset: self.pos }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(self.here())?;
        let field = self.bytes.get(self.pos..end).ok_or(self.here())?;
        self.pos = end;
        Ok(field)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let here = self.here();
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| here)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn u48(&mut self) -> Result<U48, Malformed> {
        Ok(U48::from_be_bytes::<6>(self.array()?))
    }

    fn u256(&mut self) -> Result<U256, Malformed> {
        Ok(U256::from_be_bytes::<32>(self.array()?))
    }

    fn b256(&mut self) -> Result<B256, Malformed> {
        Ok(B256::from(self.array::<32>()?))
    }

    fn address(&mut self) -> Result<Address, Malformed> {
        Ok(Address::from(self.array::<20>()?))
    }

    /// A one-byte word: a number outside its vocabulary is refused at that byte.
    fn word<W: TryFrom<u8>>(&mut self) -> Result<W, Malformed> {
        let here = self.here();
        W::try_from(self.u8()?).map_err(|_| here)
    }

    fn limit(&mut self) -> Result<UsageLimit, Malformed> {
        let limit_type: LimitType = self.word()?;
        let limit = match limit_type {
            LimitType::Unlimited => U256::ZERO,
            LimitType::Lifetime | LimitType::Allowance => self.u256()?,
        };
        let period = match limit_type {
            LimitType::Allowance => self.u48()?,
            LimitType::Unlimited | LimitType::Lifetime => U48::ZERO,
        };
        Ok(UsageLimit {
            limitType: limit_type.code(),
            limit,
            period,
        })
    }

    fn constraint(&mut self) -> Result<Constraint, Malformed> {
        let condition: Condition = self.word()?;
        let index = self.u32()?;
        let bits = self.u16()?;
        let (reference, values) = if condition == Condition::OneOf {
            let count = self.u8()?;
            let values = (0..count)
                .map(|_| self.b256())
                .collect::<Result<Vec<_>, _>>()?;
            (B256::ZERO, values)
        } else {
            (self.b256()?, vec![])
        };
        let limit = self.limit()?;
        Ok(Constraint {
            condition: condition.code(),
            index,
            bits,
            refValue: reference,
            oneOf: values,
            limit,
        })
    }

    fn call_policy(&mut self) -> Result<CallPolicy, Malformed> {
        let target = self.address()?;
        let selector = FixedBytes::<4>::from(self.array::<4>()?);
        let max_value_per_use = self.u256()?;
        let value_limit = self.limit()?;
        let call_limit = self.limit()?;
        let count = self.u8()?;
        let constraints = (0..count)
            .map(|_| self.constraint())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CallPolicy {
            target,
            selector,
            maxValuePerUse: max_value_per_use,
            valueLimit: value_limit,
            callLimit: call_limit,
            constraints,
        })
    }

    fn transfer_policy(&mut self) -> Result<TransferPolicy, Malformed> {
        let target = self.address()?;
        let max_value_per_use = self.u256()?;
        let value_limit = self.limit()?;
        Ok(TransferPolicy {
            target,
            maxValuePerUse: max_value_per_use,
            valueLimit: value_limit,
        })
    }
}

/// A decoded header: the session-wide fields and the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The session-wide fields; `callPolicies` and `transferPolicies` are empty.
    pub spec: SessionSpec,
    /// `callCount`.
    pub call_count: usize,
    /// `transferCount`.
    pub transfer_count: usize,
    /// Where the header's bytes are.
    pub range: Range<usize>,
}

impl Header {
    /// `n`: the number of leaves.
    pub fn policy_count(&self) -> usize {
        self.call_count + self.transfer_count
    }
}

/// Reads a header at `at` (offsets count from the start of `bytes`).
pub fn decode_header(bytes: &[u8], at: usize) -> Result<Header, Malformed> {
    let mut r = Reader::new(bytes, at);
    let signer = r.address()?;
    let valid_after = r.u48()?;
    let valid_until = r.u48()?;
    let fee_limit = r.limit()?;
    let paymaster_mode: PaymasterMode = r.word()?;
    let paymaster = match paymaster_mode {
        PaymasterMode::One => r.address()?,
        PaymasterMode::None | PaymasterMode::Any => Address::ZERO,
    };
    let op_limit = r.limit()?;
    let counts_at = r.pos;
    let call_count = usize::from(r.u16()?);
    let transfer_count = usize::from(r.u16()?);
    // Leaf positions are uint16: more policies than positions is no valid header.
    if call_count + transfer_count > MAX_POLICIES {
        return Err(Malformed { offset: counts_at });
    }
    let salt = r.b256()?;
    Ok(Header {
        spec: SessionSpec {
            signer,
            validAfter: valid_after,
            validUntil: valid_until,
            feeLimit: fee_limit,
            paymasterMode: paymaster_mode.code(),
            paymaster,
            opLimit: op_limit,
            callPolicies: vec![],
            transferPolicies: vec![],
            salt,
        },
        call_count,
        transfer_count,
        range: at..r.pos,
    })
}

/// Reads a call leaf at `at`: the policy and the offset after it.
pub fn decode_call_leaf(bytes: &[u8], at: usize) -> Result<(CallPolicy, usize), Malformed> {
    let mut r = Reader::new(bytes, at);
    let policy = r.call_policy()?;
    Ok((policy, r.pos))
}

/// Reads a transfer leaf at `at`: the policy and the offset after it.
pub fn decode_transfer_leaf(bytes: &[u8], at: usize) -> Result<(TransferPolicy, usize), Malformed> {
    let mut r = Reader::new(bytes, at);
    let policy = r.transfer_policy()?;
    Ok((policy, r.pos))
}

/// A whole packed spec and nothing after it (a trailing byte is [`Malformed`] at it).
pub fn decode_spec(bytes: &[u8]) -> Result<SessionSpec, Malformed> {
    let header = decode_header(bytes, 0)?;
    let mut spec = header.spec;
    let mut pos = header.range.end;
    for _ in 0..header.call_count {
        let (policy, end) = decode_call_leaf(bytes, pos)?;
        spec.callPolicies.push(policy);
        pos = end;
    }
    for _ in 0..header.transfer_count {
        let (policy, end) = decode_transfer_leaf(bytes, pos)?;
        spec.transferPolicies.push(policy);
        pos = end;
    }
    if pos != bytes.len() {
        return Err(Malformed { offset: pos });
    }
    Ok(spec)
}

/// One carried policy of a signature, with its index within its own list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarriedPolicy {
    /// A call policy.
    Call {
        /// Its index within the call list (= its leaf position).
        index: usize,
        /// The policy.
        policy: CallPolicy,
    },
    /// A transfer policy.
    Transfer {
        /// Its index within the transfer list (= its leaf position − callCount).
        index: usize,
        /// The policy.
        policy: TransferPolicy,
    },
}

/// A carried policy and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// Its leaf position in the whole list (calls first).
    pub position: usize,
    /// The policy.
    pub policy: CarriedPolicy,
    /// Where its leaf starts in the signature.
    pub offset: usize,
}

/// `userOp.signature` decoded as the validator reads it, with the session hash it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSignature<'a> {
    /// Use or enable.
    pub mode: SignatureMode,
    /// The time hint (below 2^48).
    pub time_hint: u64,
    /// The header.
    pub header: Header,
    /// Use mode: the carried policies; enable mode: every policy (positions `0..n`).
    pub carried: Vec<Carried>,
    /// Enable mode: the chains the owner approved with their epochs (empty in use mode).
    pub chains: Vec<ChainEpoch>,
    /// Enable mode: the owner's signature (empty in use mode).
    pub owner_signature: &'a [u8],
    /// The session key's signature, 65 bytes.
    pub session_signature: &'a [u8],
    /// `keccak256(0x53 ‖ header ‖ root)`, the root from the proof (use) or every leaf (enable).
    pub session_hash: B256,
    /// Enable mode: the packed spec bytes (header to last leaf); empty in use mode.
    pub spec_bytes: &'a [u8],
}

impl DecodedSignature<'_> {
    /// Enable mode: the whole spec (header and every carried policy, in order). In use mode the
    /// carried policies only, which is not the session's spec unless every policy is carried.
    pub fn spec(&self) -> SessionSpec {
        let mut spec = self.header.spec.clone();
        for carried in &self.carried {
            match &carried.policy {
                CarriedPolicy::Call { policy, .. } => spec.callPolicies.push(policy.clone()),
                CarriedPolicy::Transfer { policy, .. } => {
                    spec.transferPolicies.push(policy.clone())
                }
            }
        }
        spec
    }
}

/// Reads the leaf at `position` at the reader: a call leaf below `call_count`, else a transfer.
fn read_leaf<'a>(
    r: &mut Reader<'a>,
    position: usize,
    call_count: usize,
) -> Result<(Carried, &'a [u8]), Malformed> {
    let offset = r.pos;
    let policy = match position.checked_sub(call_count) {
        None => CarriedPolicy::Call {
            index: position,
            policy: r.call_policy()?,
        },
        Some(index) => CarriedPolicy::Transfer {
            index,
            policy: r.transfer_policy()?,
        },
    };
    let leaf = r.bytes.get(offset..r.pos).ok_or(Malformed { offset })?;
    let carried = Carried {
        position,
        policy,
        offset,
    };
    Ok((carried, leaf))
}

/// Reads `userOp.signature` in the doc's order, refusing as the validator does, and computes the
/// session hash it names (from the multiproof in use mode, from every leaf in enable mode).
pub fn decode_signature(bytes: &[u8]) -> Result<DecodedSignature<'_>, SignatureError> {
    let mut r = Reader::new(bytes, 0);
    let mode_byte = r.u8()?;
    let mode =
        SignatureMode::try_from(mode_byte).map_err(|_| SignatureError::UnknownMode(mode_byte))?;
    let hint = r.array::<6>()?;
    let time_hint = hint.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let header = decode_header(bytes, r.pos)?;
    r.pos = header.range.end;
    let n = header.policy_count();
    let header_bytes = bytes
        .get(header.range.clone())
        .ok_or(Malformed { offset: 0 })?;
    match mode {
        SignatureMode::Use => {
            let k = usize::from(r.u16()?);
            let mut positions: Vec<usize> = Vec::with_capacity(k.min(n));
            for _ in 0..k {
                let here = r.here();
                let position = usize::from(r.u16()?);
                if position >= n || positions.last().is_some_and(|&before| position <= before) {
                    return Err(here.into());
                }
                positions.push(position);
            }
            let mut carried = Vec::with_capacity(k);
            let mut pairs = Vec::with_capacity(k);
            for &position in &positions {
                let (policy, leaf) = read_leaf(&mut r, position, header.call_count)?;
                pairs.push((position, leaf_hash(position, leaf)));
                carried.push(policy);
            }
            let proof_start = r.pos;
            let rest = bytes.len().saturating_sub(proof_start);
            if rest < SESSION_SIGNATURE_LEN
                || !(rest - SESSION_SIGNATURE_LEN).is_multiple_of(HASH_LEN)
            {
                return Err(Malformed {
                    offset: proof_start,
                }
                .into());
            }
            let proof_end = bytes.len() - SESSION_SIGNATURE_LEN;
            let here = Malformed {
                offset: proof_start,
            };
            let proof = bytes.get(proof_start..proof_end).ok_or(here)?;
            let session_signature = bytes.get(proof_end..).ok_or(here)?;
            let root = multiproof_root(n, &pairs, proof, proof_start)?;
            Ok(DecodedSignature {
                mode,
                time_hint,
                session_hash: session_hash_of(header_bytes, root),
                header,
                carried,
                chains: vec![],
                owner_signature: &[],
                session_signature,
                spec_bytes: &[],
            })
        }
        SignatureMode::Enable => {
            let spec_start = header.range.start;
            let mut carried = Vec::new();
            let mut hashes = Vec::new();
            for position in 0..n {
                let (policy, leaf) = read_leaf(&mut r, position, header.call_count)?;
                hashes.push(leaf_hash(position, leaf));
                carried.push(policy);
            }
            let spec_bytes = bytes
                .get(spec_start..r.pos)
                .ok_or(Malformed { offset: spec_start })?;
            let chain_count = r.u8()?;
            let chains = (0..chain_count)
                .map(|_| {
                    Ok(ChainEpoch {
                        chainId: r.u64()?,
                        epoch: r.u64()?,
                    })
                })
                .collect::<Result<Vec<_>, Malformed>>()?;
            let owner_length = usize::from(r.u16()?);
            let owner_signature = r.take(owner_length)?;
            let session_signature = r.take(SESSION_SIGNATURE_LEN)?;
            if r.pos != bytes.len() {
                return Err(r.here().into());
            }
            Ok(DecodedSignature {
                mode,
                time_hint,
                session_hash: session_hash_of(header_bytes, tree_root(&hashes)),
                header,
                carried,
                chains,
                owner_signature,
                session_signature,
                spec_bytes,
            })
        }
    }
}

// ------------------------------------------------------------------------------------ signatures

fn check_session_signature(session_signature: &[u8]) -> Result<(), UnencodableSpec> {
    if session_signature.len() != SESSION_SIGNATURE_LEN {
        return Err(UnencodableSpec::BadSessionSignature {
            length: session_signature.len(),
        });
    }
    Ok(())
}

/// A use-mode signature carrying the leaves at `positions` (strictly increasing, below the
/// policy count) with their multiproof: mode ‖ hint ‖ header ‖ k ‖ positions ‖ leaves ‖ proof ‖
/// session signature.
pub fn encode_use_signature(
    spec: &SessionSpec,
    time_hint: u64,
    positions: &[usize],
    session_signature: &[u8],
) -> Result<Vec<u8>, UnencodableSpec> {
    let header = encode_header(spec)?;
    let leaves = leaves(spec)?;
    let n = leaves.len();
    let mut before = None;
    for (entry, &position) in positions.iter().enumerate() {
        if position >= n || before.is_some_and(|before| position <= before) {
            return Err(UnencodableSpec::BadPositions {
                entry,
                position,
                policies: n,
            });
        }
        before = Some(position);
    }
    check_session_signature(session_signature)?;
    let mut out = vec![SignatureMode::Use.code()];
    put_time_hint(&mut out, time_hint)?;
    out.extend_from_slice(&header);
    put_u16(&mut out, positions.len(), "carried policies")?;
    for &position in positions {
        put_u16(&mut out, position, "leaf position")?;
    }
    for &position in positions {
        if let Some(leaf) = leaves.get(position) {
            out.extend_from_slice(leaf);
        }
    }
    for hash in multiproof(&leaf_hashes(&leaves), positions) {
        out.extend_from_slice(hash.as_slice());
    }
    out.extend_from_slice(session_signature);
    Ok(out)
}

/// An enable-mode signature: mode ‖ hint ‖ packed spec ‖ chainCount ‖ (chainId ‖ epoch) each ‖
/// ownerSignatureLength ‖ owner signature ‖ session signature.
pub fn encode_enable_signature(
    spec: &SessionSpec,
    time_hint: u64,
    chains: &[ChainEpoch],
    owner_signature: &[u8],
    session_signature: &[u8],
) -> Result<Vec<u8>, UnencodableSpec> {
    check_session_signature(session_signature)?;
    let mut out = vec![SignatureMode::Enable.code()];
    put_time_hint(&mut out, time_hint)?;
    out.extend_from_slice(&encode_spec(spec)?);
    put_u8(&mut out, chains.len(), "approved chains")?;
    for chain in chains {
        out.extend_from_slice(&chain.chainId.to_be_bytes());
        out.extend_from_slice(&chain.epoch.to_be_bytes());
    }
    put_u16(&mut out, owner_signature.len(), "bytes of owner signature")?;
    out.extend_from_slice(owner_signature);
    out.extend_from_slice(session_signature);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a small deterministic generator, so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes<const N: usize>(&mut self) -> [u8; N] {
            let mut out = [0u8; N];
            for byte in &mut out {
                *byte = self.next() as u8;
            }
            out
        }
        fn b256(&mut self) -> B256 {
            B256::from(self.bytes::<32>())
        }
        fn address(&mut self) -> Address {
            Address::from(self.bytes::<20>())
        }
        fn u256(&mut self) -> U256 {
            U256::from_be_bytes(self.bytes::<32>())
        }
        fn u48(&mut self) -> U48 {
            U48::from_be_bytes(self.bytes::<6>())
        }
        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }
    }

    const SIG: [u8; SESSION_SIGNATURE_LEN] = [0xab; SESSION_SIGNATURE_LEN];
    const HINT: u64 = 1_700_000_000;

    fn random_limit(rng: &mut Rng) -> UsageLimit {
        match rng.pick(LimitType::ALL) {
            LimitType::Unlimited => UsageLimit::unlimited(),
            LimitType::Lifetime => UsageLimit::new(LimitType::Lifetime, rng.u256(), 0),
            LimitType::Allowance => UsageLimit {
                period: rng.u48(),
                ..UsageLimit::new(LimitType::Allowance, rng.u256(), 0)
            },
        }
    }

    fn random_constraint(rng: &mut Rng) -> Constraint {
        let condition = rng.pick(Condition::ALL);
        let index = rng.next() as u32;
        let constraint = if condition == Condition::OneOf {
            // 0 to 19 values: the decoder does not judge the list's length.
            let count = rng.below(20);
            Constraint::one_of(index, (0..count).map(|_| rng.b256()).collect())
                .with_limit(random_limit(rng))
        } else {
            let reference = rng.b256();
            Constraint::new(condition, index, reference, random_limit(rng))
        };
        constraint.with_bits(rng.next() as u16)
    }

    fn random_call(rng: &mut Rng) -> CallPolicy {
        let count = rng.below(4);
        CallPolicy {
            target: rng.address(),
            selector: FixedBytes(rng.bytes::<4>()),
            maxValuePerUse: rng.u256(),
            valueLimit: random_limit(rng),
            callLimit: random_limit(rng),
            constraints: (0..count).map(|_| random_constraint(rng)).collect(),
        }
    }

    fn random_transfer(rng: &mut Rng) -> TransferPolicy {
        TransferPolicy {
            target: rng.address(),
            maxValuePerUse: rng.u256(),
            valueLimit: random_limit(rng),
        }
    }

    fn random_spec(rng: &mut Rng, calls: usize, transfers: usize) -> SessionSpec {
        let paymaster_mode = rng.pick(PaymasterMode::ALL);
        SessionSpec {
            signer: rng.address(),
            validAfter: rng.u48(),
            validUntil: rng.u48(),
            feeLimit: random_limit(rng),
            paymasterMode: paymaster_mode.code(),
            paymaster: if paymaster_mode == PaymasterMode::One {
                rng.address()
            } else {
                Address::ZERO
            },
            opLimit: random_limit(rng),
            callPolicies: (0..calls).map(|_| random_call(rng)).collect(),
            transferPolicies: (0..transfers).map(|_| random_transfer(rng)).collect(),
            salt: rng.b256(),
        }
    }

    /// One call policy (two constraints: a OneOf list and a budgeted comparison) and one
    /// transfer policy, with every header field present: its layout is spelled out below.
    fn fixed_spec() -> SessionSpec {
        SessionSpec {
            signer: Address::repeat_byte(0x11),
            validAfter: U48::from(100u64),
            validUntil: U48::from(200u64),
            feeLimit: UsageLimit::allowance(5, 3600),
            paymasterMode: PaymasterMode::One.code(),
            paymaster: Address::repeat_byte(0x22),
            opLimit: UsageLimit::lifetime(9),
            callPolicies: vec![CallPolicy {
                target: Address::repeat_byte(0x33),
                selector: FixedBytes([0xa9, 0x05, 0x9c, 0xbb]),
                maxValuePerUse: U256::from(7),
                valueLimit: UsageLimit::unlimited(),
                callLimit: UsageLimit::allowance(3, 86_400),
                constraints: vec![
                    Constraint::one_of(0, vec![B256::repeat_byte(0x44), B256::repeat_byte(0x55)])
                        .with_bits(160),
                    Constraint::at_most(1, B256::repeat_byte(0x66))
                        .with_limit(UsageLimit::lifetime(1000)),
                ],
            }],
            transferPolicies: vec![TransferPolicy {
                target: Address::repeat_byte(0x77),
                maxValuePerUse: U256::from(8),
                valueLimit: UsageLimit::lifetime(50),
            }],
            salt: B256::repeat_byte(0x88),
        }
    }

    /// Where each field of `encode_spec(&fixed_spec())` starts, and its end (488).
    const FIXED_FIELDS: &[usize] = &[
        0, 20, 26, 32, 33, 65, 71, 72, 92, 93, 125, 127, 129, // header
        161, 181, 185, 217, 218, 219, 251, 257, // call leaf up to its constraint count
        258, 259, 263, 265, 266, 298, 330, // constraint 0: oneOf, two values, unlimited
        331, 332, 336, 338, 370, 371, // constraint 1: at most, lifetime limit
        403, 423, 455, 456, // transfer leaf
        488,
    ];
    const FIXED_HEADER_LEN: usize = 161;
    const FIXED_SPEC_LEN: usize = 488;

    /// The greatest field start at or below `len`: where a read of bytes cut at `len` fails.
    fn field_at(fields: &[usize], len: usize) -> usize {
        fields.iter().copied().filter(|&f| f <= len).max().unwrap()
    }

    fn word(value: u64) -> [u8; 32] {
        U256::from(value).to_be_bytes()
    }

    fn hashes_of(spec: &SessionSpec) -> Vec<B256> {
        leaf_hashes(&leaves(spec).unwrap())
    }

    /// A use-mode signature from its parts, however wrong they are.
    fn assemble_use(header: &[u8], positions: &[u16], leaves: &[&[u8]], proof: &[B256]) -> Vec<u8> {
        let mut out = vec![SignatureMode::Use.code()];
        out.extend_from_slice(&HINT.to_be_bytes()[2..]);
        out.extend_from_slice(header);
        out.extend_from_slice(&(positions.len() as u16).to_be_bytes());
        for position in positions {
            out.extend_from_slice(&position.to_be_bytes());
        }
        for leaf in leaves {
            out.extend_from_slice(leaf);
        }
        for hash in proof {
            out.extend_from_slice(hash.as_slice());
        }
        out.extend_from_slice(&SIG);
        out
    }

    fn malformed(bytes: &[u8]) -> usize {
        match decode_signature(bytes) {
            Err(SignatureError::Malformed(Malformed { offset })) => offset,
            other => panic!("expected a malformed signature, got {other:?}"),
        }
    }

    /// Checks a decoded use signature against the spec and positions it was made from.
    fn check_use(spec: &SessionSpec, positions: &[usize]) {
        let bytes = encode_use_signature(spec, HINT, positions, &SIG).unwrap();
        let decoded = decode_signature(&bytes).unwrap();
        let header = encode_header(spec).unwrap();
        let leaves = leaves(spec).unwrap();
        assert_eq!(decoded.mode, SignatureMode::Use);
        assert_eq!(decoded.time_hint, HINT);
        assert_eq!(decoded.session_hash, session_hash(spec).unwrap());
        assert_eq!(
            decoded.header.spec,
            SessionSpec {
                callPolicies: vec![],
                transferPolicies: vec![],
                ..spec.clone()
            }
        );
        assert_eq!(decoded.header.call_count, spec.callPolicies.len());
        assert_eq!(decoded.header.transfer_count, spec.transferPolicies.len());
        assert_eq!(&bytes[decoded.header.range.clone()], &header[..]);
        assert_eq!(decoded.session_signature, &SIG[..]);
        assert!(decoded.chains.is_empty() && decoded.owner_signature.is_empty());
        assert!(decoded.spec_bytes.is_empty());
        let carried: Vec<usize> = decoded.carried.iter().map(|c| c.position).collect();
        assert_eq!(carried, positions);
        let calls = spec.callPolicies.len();
        for carried in &decoded.carried {
            let leaf = &leaves[carried.position];
            assert_eq!(
                &bytes[carried.offset..carried.offset + leaf.len()],
                &leaf[..]
            );
            match &carried.policy {
                CarriedPolicy::Call { index, policy } => {
                    assert_eq!(*index, carried.position);
                    assert_eq!(policy, &spec.callPolicies[*index]);
                }
                CarriedPolicy::Transfer { index, policy } => {
                    assert_eq!(*index, carried.position - calls);
                    assert_eq!(policy, &spec.transferPolicies[*index]);
                }
            }
        }
        let proof = multiproof(&leaf_hashes(&leaves), positions);
        let carried_bytes: usize = positions.iter().map(|&p| leaves[p].len()).sum();
        assert_eq!(
            bytes.len(),
            7 + header.len() + 2 + 2 * positions.len() + carried_bytes + 32 * proof.len() + 65
        );
    }

    // -------------------------------------------------------------------------- layout

    #[test]
    fn the_packed_spec_has_the_documented_byte_layout() {
        let spec = fixed_spec();
        let mut header = Vec::new();
        header.extend_from_slice(&[0x11; 20]);
        header.extend_from_slice(&[0, 0, 0, 0, 0, 100]);
        header.extend_from_slice(&[0, 0, 0, 0, 0, 200]);
        header.push(LimitType::Allowance.code());
        header.extend_from_slice(&word(5));
        header.extend_from_slice(&[0, 0, 0, 0, 0x0e, 0x10]); // 3600
        header.push(PaymasterMode::One.code());
        header.extend_from_slice(&[0x22; 20]);
        header.push(LimitType::Lifetime.code());
        header.extend_from_slice(&word(9));
        header.extend_from_slice(&[0, 1, 0, 1]);
        header.extend_from_slice(&[0x88; 32]);
        assert_eq!(header.len(), FIXED_HEADER_LEN);

        let mut call = Vec::new();
        call.extend_from_slice(&[0x33; 20]);
        call.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
        call.extend_from_slice(&word(7));
        call.push(LimitType::Unlimited.code());
        call.push(LimitType::Allowance.code());
        call.extend_from_slice(&word(3));
        call.extend_from_slice(&[0, 0, 0, 0x01, 0x51, 0x80]); // 86400
        call.push(2);
        call.push(Condition::OneOf.code());
        call.extend_from_slice(&[0, 0, 0, 0, 0, 160, 2]);
        call.extend_from_slice(&[0x44; 32]);
        call.extend_from_slice(&[0x55; 32]);
        call.push(LimitType::Unlimited.code()); // the oneOf's limit, after its values
        call.push(Condition::LessOrEqual.code());
        call.extend_from_slice(&[0, 0, 0, 1, 1, 0]);
        call.extend_from_slice(&[0x66; 32]);
        call.push(LimitType::Lifetime.code());
        call.extend_from_slice(&word(1000));

        let mut transfer = Vec::new();
        transfer.extend_from_slice(&[0x77; 20]);
        transfer.extend_from_slice(&word(8));
        transfer.push(LimitType::Lifetime.code());
        transfer.extend_from_slice(&word(50));

        assert_eq!(encode_header(&spec).unwrap(), header);
        assert_eq!(encode_call_leaf(0, &spec.callPolicies[0]).unwrap(), call);
        assert_eq!(
            encode_transfer_leaf(0, &spec.transferPolicies[0]).unwrap(),
            transfer
        );
        assert_eq!(leaves(&spec).unwrap(), vec![call.clone(), transfer.clone()]);
        let packed = encode_spec(&spec).unwrap();
        assert_eq!(packed, [header, call, transfer].concat());
        assert_eq!(packed.len(), FIXED_SPEC_LEN);
    }

    #[test]
    fn a_header_without_paymaster_or_limits_is_71_bytes_and_s1_packs_into_351() {
        // S1 of docs/benchmarks.md: USDC transfer, recipient oneOf two (160 bits), amount with a
        // lifetime sum; no fee or op limit, no paymaster.
        let recipients = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
        let spec = SessionSpec {
            signer: Address::repeat_byte(9),
            validAfter: U48::ZERO,
            validUntil: U48::from(1u64 << 40),
            feeLimit: UsageLimit::unlimited(),
            paymasterMode: PaymasterMode::None.code(),
            paymaster: Address::ZERO,
            opLimit: UsageLimit::unlimited(),
            callPolicies: vec![CallPolicy {
                target: Address::repeat_byte(3),
                selector: FixedBytes([0xa9, 0x05, 0x9c, 0xbb]),
                maxValuePerUse: U256::ZERO,
                valueLimit: UsageLimit::unlimited(),
                callLimit: UsageLimit::unlimited(),
                constraints: vec![
                    Constraint::one_of(0, recipients).with_bits(160),
                    Constraint::unconstrained(1).with_limit(UsageLimit::lifetime(100_000_000)),
                ],
            }],
            transferPolicies: vec![],
            salt: B256::ZERO,
        };
        assert_eq!(encode_header(&spec).unwrap().len(), 71);
        // 59 fixed + 73 (oneOf of two, unlimited) + 72 (reference and lifetime limit).
        assert_eq!(
            encode_call_leaf(0, &spec.callPolicies[0]).unwrap().len(),
            204
        );
        let signature = encode_use_signature(&spec, HINT, &[0], &SIG).unwrap();
        assert_eq!(signature.len(), 1 + 6 + 71 + 2 + 2 + 204 + 65);
        assert_eq!(signature.len(), 351);
    }

    #[test]
    fn hashes_follow_the_documented_preimages() {
        let (a, b, c) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        assert_eq!(
            leaf_hash(0x0102, b"abc"),
            keccak256([0x00, 0x01, 0x02, b'a', b'b', b'c'])
        );
        assert_eq!(
            node_hash(a, b),
            keccak256([&[0x01][..], &a[..], &b[..]].concat())
        );
        assert_ne!(node_hash(a, b), node_hash(b, a));
        assert_eq!(
            session_hash_of(b"head", c),
            keccak256([&[0x53][..], b"head", &c[..]].concat())
        );
        assert_eq!(tree_root(&[]), B256::ZERO);
        assert_eq!(tree_root(&[a]), a);
        assert_eq!(tree_root(&[a, b]), node_hash(a, b));
        let zero = B256::ZERO;
        assert_eq!(
            tree_root(&[a, b, c]),
            node_hash(node_hash(a, b), node_hash(c, zero))
        );
        assert_eq!(
            tree_root(&[a, b, c, a, b]),
            node_hash(
                node_hash(node_hash(a, b), node_hash(c, a)),
                node_hash(node_hash(b, zero), node_hash(zero, zero))
            )
        );
        let spec = fixed_spec();
        let leaves = leaves(&spec).unwrap();
        let root = node_hash(leaf_hash(0, &leaves[0]), leaf_hash(1, &leaves[1]));
        assert_eq!(
            session_hash(&spec).unwrap(),
            session_hash_of(&encode_header(&spec).unwrap(), root)
        );
        let empty = SessionSpec {
            callPolicies: vec![],
            transferPolicies: vec![],
            ..spec
        };
        assert_eq!(
            session_hash(&empty).unwrap(),
            session_hash_of(&encode_header(&empty).unwrap(), B256::ZERO)
        );
    }

    #[test]
    fn tree_depth_is_log2_of_the_padded_width() {
        let cases = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
            (20, 5),
            (100, 7),
            (MAX_POLICIES, 16),
        ];
        for (n, depth) in cases {
            assert_eq!(tree_depth(n), depth, "n = {n}");
        }
    }

    // -------------------------------------------------------------------------- round trips

    fn every_limit() -> Vec<UsageLimit> {
        vec![
            UsageLimit::unlimited(),
            UsageLimit::lifetime(0),
            UsageLimit::new(LimitType::Lifetime, U256::MAX, 0),
            UsageLimit::allowance(1, 60),
            UsageLimit {
                period: U48::MAX,
                ..UsageLimit::new(LimitType::Allowance, U256::MAX, 0)
            },
        ]
    }

    #[test]
    fn packed_spec_round_trips_every_limit_type_condition_and_paymaster_mode() {
        let limits = every_limit();
        let mut constraints = Vec::new();
        for &condition in Condition::ALL {
            if condition == Condition::OneOf {
                for count in [1, 2, MAX_ONE_OF_VALUES] {
                    let values = (0..count).map(|i| B256::repeat_byte(i as u8)).collect();
                    constraints.push(Constraint::one_of(7, values).with_bits(8));
                }
            } else {
                for limit in &limits {
                    constraints.push(
                        Constraint::new(
                            condition,
                            u32::MAX,
                            B256::repeat_byte(0xcd),
                            limit.clone(),
                        )
                        .with_bits(u16::MAX),
                    );
                }
            }
        }
        let calls: Vec<CallPolicy> = constraints
            .chunks(5)
            .enumerate()
            .map(|(i, chunk)| CallPolicy {
                target: Address::repeat_byte(i as u8),
                selector: FixedBytes([i as u8; 4]),
                maxValuePerUse: U256::from(i),
                valueLimit: limits[i % limits.len()].clone(),
                callLimit: limits[(i + 1) % limits.len()].clone(),
                constraints: chunk.to_vec(),
            })
            .collect();
        let transfers: Vec<TransferPolicy> = limits
            .iter()
            .enumerate()
            .map(|(i, limit)| TransferPolicy {
                target: Address::repeat_byte(0x80 | i as u8),
                maxValuePerUse: U256::MAX,
                valueLimit: limit.clone(),
            })
            .collect();
        for &paymaster_mode in PaymasterMode::ALL {
            for (i, fee) in limits.iter().enumerate() {
                let spec = SessionSpec {
                    signer: Address::repeat_byte(0xee),
                    validAfter: U48::MAX,
                    validUntil: U48::ZERO,
                    feeLimit: fee.clone(),
                    paymasterMode: paymaster_mode.code(),
                    paymaster: if paymaster_mode == PaymasterMode::One {
                        Address::repeat_byte(0x99)
                    } else {
                        Address::ZERO
                    },
                    opLimit: limits[(i + 2) % limits.len()].clone(),
                    callPolicies: calls.clone(),
                    transferPolicies: transfers.clone(),
                    salt: B256::repeat_byte(i as u8),
                };
                let packed = encode_spec(&spec).unwrap();
                assert_eq!(decode_spec(&packed), Ok(spec));
            }
        }
    }

    /// The most values the check of meaning allows (the decoder takes up to 255).
    const MAX_ONE_OF_VALUES: usize = crate::vocabulary::MAX_ONE_OF;

    #[test]
    fn packed_spec_round_trips_with_zero_one_and_many_policies() {
        let mut rng = Rng(0x5eed);
        let counts = [(0, 0), (1, 0), (0, 1), (1, 1), (3, 5), (40, 60)];
        for (calls, transfers) in counts {
            for _ in 0..20 {
                let spec = random_spec(&mut rng, calls, transfers);
                let packed = encode_spec(&spec).unwrap();
                let decoded = decode_spec(&packed).unwrap();
                assert_eq!(decoded, spec);
                // One spec, one string: the decoded spec encodes to the same bytes.
                assert_eq!(encode_spec(&decoded).unwrap(), packed);
                let header = decode_header(&packed, 0).unwrap();
                assert_eq!(header.call_count, calls);
                assert_eq!(header.transfer_count, transfers);
                assert_eq!(header.range, 0..encode_header(&spec).unwrap().len());
            }
        }
    }

    #[test]
    fn a_one_of_constraint_with_a_budget_round_trips_with_its_limit_after_its_values() {
        let values = vec![B256::repeat_byte(0x44), B256::repeat_byte(0x55)];
        // Each budget with its `L` bytes, spelled out.
        let mut lifetime = vec![LimitType::Lifetime.code()];
        lifetime.extend_from_slice(&word(1000));
        let mut allowance = vec![LimitType::Allowance.code()];
        allowance.extend_from_slice(&word(5));
        allowance.extend_from_slice(&[0, 0, 0, 0, 0x0e, 0x10]); // 3600
        let mut max_allowance = vec![LimitType::Allowance.code()];
        max_allowance.extend_from_slice(&[0xff; 32]);
        max_allowance.extend_from_slice(&[0xff; 6]);
        let budgets = [
            (UsageLimit::lifetime(1000), lifetime),
            (UsageLimit::allowance(5, 3600), allowance),
            (
                UsageLimit {
                    period: U48::MAX,
                    ..UsageLimit::new(LimitType::Allowance, U256::MAX, 0)
                },
                max_allowance,
            ),
        ];
        for (budget, budget_bytes) in budgets {
            let mut spec = fixed_spec();
            // The budgeted oneOf first, so the constraint after it is read from where its
            // limit ends.
            spec.callPolicies[0].constraints[0] = Constraint::one_of(0, values.clone())
                .with_bits(160)
                .with_limit(budget.clone());
            let packed = encode_spec(&spec).unwrap();
            assert_eq!(decode_spec(&packed).as_ref(), Ok(&spec));
            assert_eq!(
                decode_spec(&packed).unwrap().callPolicies[0].constraints[0].limit,
                budget
            );

            // condition ‖ index ‖ bits ‖ count ‖ values ‖ L, at the leaf's first constraint.
            let mut constraint = vec![Condition::OneOf.code(), 0, 0, 0, 0, 0, 160, 2];
            constraint.extend_from_slice(&[0x44; 32]);
            constraint.extend_from_slice(&[0x55; 32]);
            constraint.extend_from_slice(&budget_bytes);
            let start = 258;
            assert_eq!(&packed[start..start + constraint.len()], &constraint[..]);
            // Constraint 1 follows the limit; the spec grows by the budget's bytes past `00`.
            assert_eq!(
                packed[start + constraint.len()],
                Condition::LessOrEqual.code()
            );
            assert_eq!(packed.len(), FIXED_SPEC_LEN - 1 + budget_bytes.len());

            // Enable and use signatures carry it as well.
            let enable = encode_enable_signature(&spec, HINT, &[], &[], &SIG).unwrap();
            assert_eq!(decode_signature(&enable).unwrap().spec(), spec);
            check_use(&spec, &[0]);
            check_use(&spec, &[0, 1]);
        }
    }

    #[test]
    fn meaning_checks_are_left_to_enable() {
        // A window backwards, a period of 0, a limit above MAX_LIMIT, a OneOf of 0 and of 17
        // values, widths 0 and 300, unsorted policies: all decode (enable refuses them).
        let mut spec = fixed_spec();
        spec.validAfter = U48::from(500u64);
        spec.validUntil = U48::from(1u64);
        spec.feeLimit = UsageLimit::new(LimitType::Allowance, U256::MAX, 0);
        spec.callPolicies[0].constraints = vec![
            Constraint::one_of(0, vec![]).with_bits(0),
            Constraint::one_of(1, vec![B256::ZERO; 17]).with_bits(300),
        ];
        spec.transferPolicies = vec![
            TransferPolicy {
                target: Address::repeat_byte(9),
                maxValuePerUse: U256::ZERO,
                valueLimit: UsageLimit::unlimited(),
            },
            TransferPolicy {
                target: Address::repeat_byte(1),
                maxValuePerUse: U256::ZERO,
                valueLimit: UsageLimit::unlimited(),
            },
        ];
        assert_eq!(decode_spec(&encode_spec(&spec).unwrap()), Ok(spec));
    }

    fn subsets(rng: &mut Rng, n: usize) -> Vec<Vec<usize>> {
        let mut sets = vec![vec![], (0..n).collect()];
        sets.extend((0..n).map(|p| vec![p]));
        sets.extend((1..n).map(|p| vec![p - 1, p]));
        if n > 1 {
            sets.push(vec![0, n - 1]);
        }
        for _ in 0..20 {
            sets.push((0..n).filter(|_| rng.below(3) == 0).collect());
        }
        sets
    }

    #[test]
    fn use_signatures_round_trip_for_many_subsets_of_positions() {
        let mut rng = Rng(7);
        // n = 1, 1, 2, 3, 5, 20, 100.
        let counts = [(1, 0), (0, 1), (1, 1), (2, 1), (3, 2), (12, 8), (60, 40)];
        for (calls, transfers) in counts {
            let spec = random_spec(&mut rng, calls, transfers);
            for positions in subsets(&mut rng, calls + transfers) {
                check_use(&spec, &positions);
            }
        }
        check_use(&fixed_spec(), &[0, 1]);
    }

    #[test]
    fn enable_signatures_round_trip() {
        let mut rng = Rng(11);
        let mut specs = vec![fixed_spec()];
        for (calls, transfers) in [(0, 0), (1, 0), (0, 1), (3, 5), (40, 60)] {
            specs.push(random_spec(&mut rng, calls, transfers));
        }
        let chains = [
            ChainEpoch {
                chainId: 1,
                epoch: 0,
            },
            ChainEpoch {
                chainId: 8453,
                epoch: u64::MAX,
            },
        ];
        for spec in &specs {
            for owner in [vec![], vec![0x5a; 65], vec![0x6b; 700]] {
                let bytes = encode_enable_signature(spec, HINT, &chains, &owner, &SIG).unwrap();
                let decoded = decode_signature(&bytes).unwrap();
                assert_eq!(decoded.mode, SignatureMode::Enable);
                assert_eq!(decoded.time_hint, HINT);
                assert_eq!(decoded.chains, chains);
                assert_eq!(decoded.owner_signature, &owner[..]);
                assert_eq!(decoded.session_signature, &SIG[..]);
                assert_eq!(decoded.spec(), *spec);
                assert_eq!(decoded.spec_bytes, &encode_spec(spec).unwrap()[..]);
                assert_eq!(decode_spec(decoded.spec_bytes).as_ref(), Ok(spec));
                assert_eq!(decoded.session_hash, session_hash(spec).unwrap());
                let positions: Vec<usize> = decoded.carried.iter().map(|c| c.position).collect();
                let n = spec.callPolicies.len() + spec.transferPolicies.len();
                assert_eq!(positions, (0..n).collect::<Vec<_>>());
            }
        }
        // The largest hint fits; no chain at all is a form too.
        let spec = fixed_spec();
        let bytes = encode_enable_signature(&spec, MAX_TIME_HINT, &[], &[], &SIG).unwrap();
        let decoded = decode_signature(&bytes).unwrap();
        assert_eq!(decoded.time_hint, MAX_TIME_HINT);
        assert!(decoded.chains.is_empty());
    }

    // -------------------------------------------------------------------------- multiproof

    fn transfers_only(rng: &mut Rng, n: usize) -> SessionSpec {
        random_spec(rng, 0, n)
    }

    #[test]
    fn a_one_leaf_proof_holds_tree_depth_hashes() {
        let mut rng = Rng(3);
        for (n, depth) in [(1usize, 0usize), (20, 5), (100, 7)] {
            let spec = random_spec(&mut rng, n / 2, n - n / 2);
            let hashes = hashes_of(&spec);
            for position in [0, n / 2, n - 1] {
                assert_eq!(multiproof(&hashes, &[position]).len(), depth);
                check_use(&spec, &[position]);
            }
        }
    }

    #[test]
    fn a_leaf_presented_at_another_position_names_another_session() {
        let mut rng = Rng(5);
        let spec = transfers_only(&mut rng, 8);
        let header = encode_header(&spec).unwrap();
        let leaves = leaves(&spec).unwrap();
        let hashes = leaf_hashes(&leaves);
        let genuine = session_hash(&spec).unwrap();
        // Sanity: leaf 3 at position 3 names the session.
        let right = assemble_use(&header, &[3], &[&leaves[3]], &multiproof(&hashes, &[3]));
        assert_eq!(decode_signature(&right).unwrap().session_hash, genuine);
        // Leaf 2 at position 3, with position 3's proof or with its own.
        for proof_of in [3, 2] {
            let forged = assemble_use(
                &header,
                &[3],
                &[&leaves[2]],
                &multiproof(&hashes, &[proof_of]),
            );
            let decoded = decode_signature(&forged).unwrap();
            assert_eq!(decoded.carried[0].position, 3);
            assert_ne!(decoded.session_hash, genuine);
        }
        // Two leaves swapped between their positions.
        let swapped = assemble_use(
            &header,
            &[2, 5],
            &[&leaves[5], &leaves[2]],
            &multiproof(&hashes, &[2, 5]),
        );
        assert_ne!(decode_signature(&swapped).unwrap().session_hash, genuine);
    }

    #[test]
    fn a_proof_with_a_hash_removed_added_or_duplicated_is_malformed_at_the_documented_offset() {
        let mut rng = Rng(13);
        let spec = random_spec(&mut rng, 12, 8);
        let hashes = hashes_of(&spec);
        for positions in [vec![5], vec![0, 19], vec![3, 4, 5, 17], vec![], vec![16]] {
            let bytes = encode_use_signature(&spec, HINT, &positions, &SIG).unwrap();
            let proof = multiproof(&hashes, &positions);
            let m = proof.len();
            assert!(m >= 1);
            let proof_offset = bytes.len() - 65 - 32 * m;
            let before = &bytes[..proof_offset];
            let with = |proof: &[B256]| {
                let mut out = before.to_vec();
                for hash in proof {
                    out.extend_from_slice(hash.as_slice());
                }
                out.extend_from_slice(&SIG);
                out
            };
            assert_eq!(
                decode_signature(&with(&proof)).unwrap().session_hash,
                session_hash(&spec).unwrap()
            );
            // A hash missing (the last or the first): at the end of the proof.
            assert_eq!(
                malformed(&with(&proof[..m - 1])),
                proof_offset + 32 * (m - 1)
            );
            assert_eq!(malformed(&with(&proof[1..])), proof_offset + 32 * (m - 1));
            // One left over (appended, or a duplicate anywhere): at the first unused hash.
            let mut added = proof.clone();
            added.push(rng.b256());
            assert_eq!(malformed(&with(&added)), proof_offset + 32 * m);
            for at in 0..m {
                let mut duplicated = proof.clone();
                duplicated.insert(at, proof[at]);
                assert_eq!(malformed(&with(&duplicated)), proof_offset + 32 * m);
            }
            // The walk itself, on the region alone.
            let region: Vec<u8> = proof.iter().flat_map(|h| h.0).collect();
            let pairs: Vec<(usize, B256)> = positions.iter().map(|&p| (p, hashes[p])).collect();
            assert_eq!(
                multiproof_root(20, &pairs, &region, 1000),
                Ok(tree_root(&hashes))
            );
            assert_eq!(
                multiproof_root(20, &pairs, &region[..region.len() - 1], 1000),
                Err(Malformed {
                    offset: 1000 + region.len() - 1
                })
            );
        }
    }

    #[test]
    fn positions_out_of_order_repeated_or_out_of_range_are_malformed_at_that_position() {
        let mut rng = Rng(17);
        let spec = random_spec(&mut rng, 12, 8);
        let header = encode_header(&spec).unwrap();
        let leaves = leaves(&spec).unwrap();
        let hashes = leaf_hashes(&leaves);
        let first = 7 + header.len() + 2;
        let cases: [(&[u16], usize); 7] = [
            (&[3, 3], 1),
            (&[4, 2], 1),
            (&[0, 1, 1], 2),
            (&[20], 0),
            (&[0, u16::MAX], 1),
            (&[2, 5, 5, 9], 2),
            (&[19, 0], 1),
        ];
        for (positions, bad) in cases {
            let carried: Vec<&[u8]> = positions
                .iter()
                .map(|&p| leaves.get(usize::from(p)).map_or(&[][..], |l| &l[..]))
                .collect();
            let proof = multiproof(&hashes, &[]);
            let bytes = assemble_use(&header, positions, &carried, &proof);
            assert_eq!(malformed(&bytes), first + 2 * bad, "{positions:?}");
        }
        // A leaf proved twice, with the proof that would serve it once.
        let twice = assemble_use(
            &header,
            &[6, 6],
            &[&leaves[6], &leaves[6]],
            &multiproof(&hashes, &[6]),
        );
        assert_eq!(malformed(&twice), first + 2);
        // More positions than policies: the first one not below n.
        let all: Vec<u16> = (0..=20).collect();
        let bytes = assemble_use(&header, &all, &[], &[]);
        assert_eq!(malformed(&bytes), first + 2 * 20);
        // The encoder refuses them too.
        for (positions, entry) in [(vec![3, 3], 1), (vec![20], 0), (vec![4, 2], 1)] {
            assert_eq!(
                encode_use_signature(&spec, HINT, &positions, &SIG),
                Err(UnencodableSpec::BadPositions {
                    entry,
                    position: positions[entry],
                    policies: 20
                })
            );
        }
    }

    #[test]
    fn an_inner_node_preimage_passed_as_a_leaf_does_not_reproduce_the_root() {
        let mut rng = Rng(19);
        let spec = transfers_only(&mut rng, 4);
        let header = encode_header(&spec).unwrap();
        let hashes = hashes_of(&spec);
        let root = tree_root(&hashes);
        let genuine = session_hash(&spec).unwrap();
        let left = node_hash(hashes[0], hashes[1]);
        let right = node_hash(hashes[2], hashes[3]);
        assert_eq!(root, node_hash(left, right));
        // The 64 bytes under the inner node `left`.
        let preimage = [hashes[0].0, hashes[1].0].concat();
        assert_eq!(preimage.len(), 64);
        // Its hash as a leaf is not the inner node, whatever position it claims.
        for position in 0..MAX_POLICIES {
            assert_ne!(leaf_hash(position, &preimage), left);
        }
        for position in 0..4 {
            let pair = [(position, leaf_hash(position, &preimage))];
            // The inner node's own path ([right]) and the position's full path.
            let real_path = multiproof(&hashes, &[position]);
            for proof in [vec![right], real_path] {
                let region: Vec<u8> = proof.iter().flat_map(|h| h.0).collect();
                match multiproof_root(4, &pair, &region, 0) {
                    Ok(forged) => {
                        assert_ne!(forged, root);
                        assert_ne!(session_hash_of(&header, forged), genuine);
                    }
                    Err(Malformed { offset }) => assert_eq!(offset, region.len()),
                }
            }
        }
        // In a signature the 64 bytes are not even a whole leaf of this session.
        let bytes = assemble_use(&header, &[0], &[&preimage], &[right]);
        match decode_signature(&bytes) {
            Ok(decoded) => assert_ne!(decoded.session_hash, genuine),
            Err(error) => assert!(matches!(error, SignatureError::Malformed(_))),
        }
    }

    #[test]
    fn k_zero_carries_exactly_the_root() {
        let mut rng = Rng(23);
        for (calls, transfers) in [(0, 0), (1, 0), (2, 3), (12, 8)] {
            let spec = random_spec(&mut rng, calls, transfers);
            let header = encode_header(&spec).unwrap();
            let bytes = encode_use_signature(&spec, HINT, &[], &SIG).unwrap();
            let proof_offset = 7 + header.len() + 2;
            assert_eq!(bytes.len(), proof_offset + 32 + 65);
            assert_eq!(
                &bytes[proof_offset..proof_offset + 32],
                tree_root(&hashes_of(&spec)).as_slice()
            );
            let decoded = decode_signature(&bytes).unwrap();
            assert!(decoded.carried.is_empty());
            assert_eq!(decoded.session_hash, session_hash(&spec).unwrap());
            // No hash, or two.
            let none = assemble_use(&header, &[], &[], &[]);
            assert_eq!(malformed(&none), proof_offset);
            let two = assemble_use(&header, &[], &[], &[B256::ZERO, B256::ZERO]);
            assert_eq!(malformed(&two), proof_offset + 32);
        }
    }

    // -------------------------------------------------------------------------- malformations

    #[test]
    fn every_truncation_is_malformed_at_the_field_it_cuts() {
        let spec = fixed_spec();
        let packed = encode_spec(&spec).unwrap();
        for len in 0..packed.len() {
            assert_eq!(
                decode_spec(&packed[..len]),
                Err(Malformed {
                    offset: field_at(FIXED_FIELDS, len)
                }),
                "spec cut at {len}"
            );
        }

        // Enable: mode 0, hint 1, spec 7.., chainCount, one chain, owner length, owner, session.
        let chains = [ChainEpoch {
            chainId: 10,
            epoch: 2,
        }];
        let enable = encode_enable_signature(&spec, HINT, &chains, &[0x5a; 65], &SIG).unwrap();
        let end = 7 + FIXED_SPEC_LEN;
        let mut fields = vec![0, 1];
        fields.extend(FIXED_FIELDS.iter().map(|f| f + 7));
        fields.extend([end + 1, end + 9, end + 17, end + 19, end + 84, end + 149]);
        assert_eq!(enable.len(), end + 149);
        for len in 0..enable.len() {
            assert_eq!(
                malformed(&enable[..len]),
                field_at(&fields, len),
                "enable cut at {len}"
            );
        }

        // Use, both leaves (no proof hash): k, positions, leaves, then the rest at 501.
        let both = encode_use_signature(&spec, HINT, &[0, 1], &SIG).unwrap();
        let mut fields = vec![0, 1];
        fields.extend(FIXED_FIELDS[..13].iter().map(|f| f + 7));
        fields.extend([168, 170, 172]);
        fields.extend(FIXED_FIELDS[13..].iter().map(|f| f + 13));
        assert_eq!(both.len(), 501 + 65);
        for len in 0..both.len() {
            assert_eq!(
                malformed(&both[..len]),
                field_at(&fields, len),
                "use cut at {len}"
            );
        }

        // Use, the transfer leaf only (one proof hash): every cut past its leaf is at 257.
        let one = encode_use_signature(&spec, HINT, &[1], &SIG).unwrap();
        assert_eq!(one.len(), 7 + 161 + 2 + 2 + 85 + 32 + 65);
        for len in 257..one.len() {
            assert_eq!(malformed(&one[..len]), 257, "use cut at {len}");
        }

        // Larger sessions: never a panic, never a success.
        let mut rng = Rng(29);
        let big = random_spec(&mut rng, 12, 8);
        let signatures = [
            encode_use_signature(&big, HINT, &[1, 7, 12, 19], &SIG).unwrap(),
            encode_use_signature(&big, HINT, &[], &SIG).unwrap(),
            encode_enable_signature(&big, HINT, &chains, &[1; 100], &SIG).unwrap(),
        ];
        for bytes in &signatures {
            for len in 0..bytes.len() {
                assert!(malformed(&bytes[..len]) <= len);
            }
        }
    }

    #[test]
    fn a_word_outside_its_vocabulary_is_malformed_at_its_byte() {
        let spec = fixed_spec();
        let packed = encode_spec(&spec).unwrap();
        // (offset in the packed spec, the word's first unknown number)
        let words = [
            (32, LimitType::UNKNOWN),     // fee limit
            (71, PaymasterMode::UNKNOWN), // paymaster mode
            (92, LimitType::UNKNOWN),     // op limit
            (217, LimitType::UNKNOWN),    // call value limit
            (218, LimitType::UNKNOWN),    // call count limit
            (258, Condition::UNKNOWN),    // constraint 0 condition
            (330, LimitType::UNKNOWN),    // constraint 0 limit (after its values)
            (331, Condition::UNKNOWN),    // constraint 1 condition
            (370, LimitType::UNKNOWN),    // constraint 1 limit
            (455, LimitType::UNKNOWN),    // transfer value limit
        ];
        let enable = encode_enable_signature(&spec, HINT, &[], &[], &SIG).unwrap();
        let usage = encode_use_signature(&spec, HINT, &[0, 1], &SIG).unwrap();
        for (offset, unknown) in words {
            let in_use = if offset < FIXED_HEADER_LEN {
                offset + 7
            } else {
                offset + 13
            };
            for value in [unknown, u8::MAX] {
                let mut bytes = packed.clone();
                bytes[offset] = value;
                assert_eq!(decode_spec(&bytes), Err(Malformed { offset }));
                let mut bytes = enable.clone();
                bytes[offset + 7] = value;
                assert_eq!(malformed(&bytes), offset + 7);
                let mut bytes = usage.clone();
                bytes[in_use] = value;
                assert_eq!(malformed(&bytes), in_use);
            }
        }
        for value in [SignatureMode::UNKNOWN, u8::MAX] {
            let mut bytes = usage.clone();
            bytes[0] = value;
            assert_eq!(
                decode_signature(&bytes),
                Err(SignatureError::UnknownMode(value))
            );
        }
        assert_eq!(malformed(&[]), 0);
        assert_eq!(
            decode_signature(&[SignatureMode::UNKNOWN]),
            Err(SignatureError::UnknownMode(SignatureMode::UNKNOWN))
        );
    }

    #[test]
    fn a_trailing_byte_is_malformed_at_it_after_a_spec_or_an_enable_signature() {
        let spec = fixed_spec();
        let mut packed = encode_spec(&spec).unwrap();
        packed.push(0);
        assert_eq!(
            decode_spec(&packed),
            Err(Malformed {
                offset: FIXED_SPEC_LEN
            })
        );
        let mut enable = encode_enable_signature(&spec, HINT, &[], &[7; 65], &SIG).unwrap();
        let len = enable.len();
        enable.push(0);
        assert_eq!(malformed(&enable), len);
    }

    #[test]
    fn bytes_appended_to_a_use_signature_fall_into_its_proof_region() {
        let mut rng = Rng(31);
        let spec = random_spec(&mut rng, 3, 2);
        let positions = [1, 4];
        let bytes = encode_use_signature(&spec, HINT, &positions, &SIG).unwrap();
        let m = multiproof(&hashes_of(&spec), &positions).len();
        let proof_offset = bytes.len() - 65 - 32 * m;
        // Not a whole hash: the proof's start.
        for extra in [1, 31, 33, 65] {
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            assert_eq!(malformed(&longer), proof_offset, "{extra} bytes");
        }
        // A whole hash: one left over.
        let mut longer = bytes.clone();
        longer.extend([0u8; 32]);
        assert_eq!(malformed(&longer), proof_offset + 32 * m);
    }

    // -------------------------------------------------------------------------- refusals

    #[test]
    fn specs_without_a_packed_form_are_refused_with_their_reason() {
        let base = fixed_spec();
        let stray = |kind, policy_index, constraint_index| UnencodableSpec::StrayLimitFields {
            kind,
            policy_index,
            constraint_index,
        };
        let unlimited_with_limit = UsageLimit {
            limit: U256::from(1),
            ..UsageLimit::unlimited()
        };
        let unlimited_with_period = UsageLimit {
            period: U48::from(60u64),
            ..UsageLimit::unlimited()
        };
        let lifetime_with_period = UsageLimit {
            period: U48::from(60u64),
            ..UsageLimit::lifetime(5)
        };
        let call = base.callPolicies[0].clone();
        let transfer = base.transferPolicies[0].clone();
        let with_calls = |calls: Vec<CallPolicy>| SessionSpec {
            callPolicies: calls,
            ..base.clone()
        };
        let with_constraint = |constraint: Constraint| {
            let mut policy = call.clone();
            policy.constraints[1] = constraint;
            with_calls(vec![call.clone(), call.clone(), policy])
        };
        let cases: Vec<(SessionSpec, UnencodableSpec)> = vec![
            (
                SessionSpec {
                    feeLimit: unlimited_with_limit.clone(),
                    ..base.clone()
                },
                stray(CounterKind::Fee, 0, 0),
            ),
            (
                SessionSpec {
                    opLimit: lifetime_with_period.clone(),
                    ..base.clone()
                },
                stray(CounterKind::Ops, 0, 0),
            ),
            (
                with_calls(vec![
                    call.clone(),
                    CallPolicy {
                        valueLimit: unlimited_with_period.clone(),
                        ..call.clone()
                    },
                ]),
                stray(CounterKind::CallValue, 1, 0),
            ),
            (
                with_calls(vec![CallPolicy {
                    callLimit: lifetime_with_period.clone(),
                    ..call.clone()
                }]),
                stray(CounterKind::CallCount, 0, 0),
            ),
            (
                with_constraint(
                    Constraint::equal(0, B256::ZERO).with_limit(unlimited_with_limit.clone()),
                ),
                stray(CounterKind::ConstraintSum, 2, 1),
            ),
            (
                SessionSpec {
                    transferPolicies: vec![
                        transfer.clone(),
                        TransferPolicy {
                            valueLimit: lifetime_with_period.clone(),
                            ..transfer.clone()
                        },
                    ],
                    ..base.clone()
                },
                stray(CounterKind::TransferValue, 1, 0),
            ),
            (
                SessionSpec {
                    paymasterMode: PaymasterMode::Any.code(),
                    ..base.clone()
                },
                UnencodableSpec::StrayPaymaster {
                    mode: PaymasterMode::Any,
                    paymaster: base.paymaster,
                },
            ),
            (
                SessionSpec {
                    paymasterMode: PaymasterMode::None.code(),
                    ..base.clone()
                },
                UnencodableSpec::StrayPaymaster {
                    mode: PaymasterMode::None,
                    paymaster: base.paymaster,
                },
            ),
            (
                with_constraint(Constraint {
                    refValue: B256::repeat_byte(1),
                    ..Constraint::one_of(0, vec![B256::ZERO])
                }),
                UnencodableSpec::ConstraintShape {
                    policy_index: 2,
                    constraint_index: 1,
                },
            ),
            (
                with_constraint(Constraint {
                    oneOf: vec![B256::ZERO],
                    ..Constraint::equal(0, B256::ZERO)
                }),
                UnencodableSpec::ConstraintShape {
                    policy_index: 2,
                    constraint_index: 1,
                },
            ),
            (
                with_constraint(
                    Constraint::one_of(0, vec![B256::ZERO]).with_limit(unlimited_with_limit),
                ),
                stray(CounterKind::ConstraintSum, 2, 1),
            ),
            (
                with_calls(vec![CallPolicy {
                    constraints: vec![Constraint::unconstrained(0); 256],
                    ..call.clone()
                }]),
                UnencodableSpec::TooMany {
                    what: "constraints of a call policy",
                    count: 256,
                    max: 255,
                },
            ),
            (
                with_constraint(Constraint::one_of(0, vec![B256::ZERO; 256])),
                UnencodableSpec::TooMany {
                    what: "values of a oneOf constraint",
                    count: 256,
                    max: 255,
                },
            ),
            (
                SessionSpec {
                    feeLimit: UsageLimit {
                        limitType: LimitType::UNKNOWN,
                        ..UsageLimit::unlimited()
                    },
                    ..base.clone()
                },
                UnencodableSpec::UnknownWord(LimitType::try_from(LimitType::UNKNOWN).unwrap_err()),
            ),
            (
                SessionSpec {
                    paymasterMode: PaymasterMode::UNKNOWN,
                    ..base.clone()
                },
                UnencodableSpec::UnknownWord(
                    PaymasterMode::try_from(PaymasterMode::UNKNOWN).unwrap_err(),
                ),
            ),
            (
                with_constraint(Constraint {
                    condition: Condition::UNKNOWN,
                    ..Constraint::unconstrained(0)
                }),
                UnencodableSpec::UnknownWord(Condition::try_from(Condition::UNKNOWN).unwrap_err()),
            ),
            (
                SessionSpec {
                    transferPolicies: vec![transfer.clone(); MAX_POLICIES],
                    ..base.clone()
                },
                UnencodableSpec::TooMany {
                    what: "transfer policies",
                    count: MAX_POLICIES,
                    max: MAX_POLICIES - 1,
                },
            ),
            (
                SessionSpec {
                    transferPolicies: vec![transfer.clone(); MAX_POLICIES - 1],
                    callPolicies: vec![call.clone(); 2],
                    ..base.clone()
                },
                UnencodableSpec::TooMany {
                    what: "policies (calls and transfers)",
                    count: MAX_POLICIES + 1,
                    max: MAX_POLICIES,
                },
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(encode_spec(&spec).as_ref(), Err(&expected));
            assert_eq!(session_hash(&spec).as_ref(), Err(&expected));
            assert_eq!(
                encode_enable_signature(&spec, HINT, &[], &[], &SIG).as_ref(),
                Err(&expected)
            );
        }

        // The signature encoders' own limits.
        let chains = vec![
            ChainEpoch {
                chainId: 1,
                epoch: 0
            };
            256
        ];
        assert_eq!(
            encode_use_signature(&base, MAX_TIME_HINT + 1, &[0], &SIG),
            Err(UnencodableSpec::TimeHintTooLarge(MAX_TIME_HINT + 1))
        );
        assert_eq!(
            encode_use_signature(&base, HINT, &[0], &SIG[..64]),
            Err(UnencodableSpec::BadSessionSignature { length: 64 })
        );
        assert_eq!(
            encode_enable_signature(&base, HINT, &chains, &[], &SIG),
            Err(UnencodableSpec::TooMany {
                what: "approved chains",
                count: 256,
                max: 255
            })
        );
        assert_eq!(
            encode_enable_signature(&base, HINT, &[], &vec![0; 65_536], &SIG),
            Err(UnencodableSpec::TooMany {
                what: "bytes of owner signature",
                count: 65_536,
                max: 65_535
            })
        );
    }

    #[test]
    fn refusals_say_what_is_wrong_and_how_to_fix_it() {
        let stray = UnencodableSpec::StrayLimitFields {
            kind: CounterKind::ConstraintSum,
            policy_index: 2,
            constraint_index: 0,
        };
        assert_eq!(
            stray.to_string(),
            "call policy 2, constraint 0, limit: an unlimited limit carries no limit and no \
             period, a lifetime limit no period; set the fields its type does not use to 0"
        );
        let paymaster = UnencodableSpec::StrayPaymaster {
            mode: PaymasterMode::Any,
            paymaster: Address::repeat_byte(0x22),
        };
        assert!(
            paymaster
                .to_string()
                .contains("paymaster mode 1 (any paymaster)")
        );
        assert!(
            paymaster
                .to_string()
                .contains("only mode 2 (one paymaster)")
        );
        let unknown = UnencodableSpec::from(LimitType::try_from(LimitType::UNKNOWN).unwrap_err());
        assert_eq!(
            unknown.to_string(),
            "3 is not a limit type (known: 0 unlimited, 1 lifetime, 2 allowance)"
        );
        assert_eq!(
            SignatureError::UnknownMode(SignatureMode::UNKNOWN).to_string(),
            "unknown signature mode 2: the first byte is 0 (use) or 1 (enable)"
        );
        assert_eq!(
            SignatureError::from(Malformed { offset: 9 }).to_string(),
            "malformed encoding at byte 9"
        );
    }

    // -------------------------------------------------------------------------- fuzz

    /// A decoded signature's bytes are the encoding of what it decoded to: the decoder accepts
    /// one string per meaning.
    fn check_canonical(bytes: &[u8], decoded: &DecodedSignature<'_>) {
        let header = &decoded.header;
        assert_eq!(
            header_with_counts(&header.spec, header.call_count, header.transfer_count).unwrap(),
            &bytes[header.range.clone()]
        );
        for carried in &decoded.carried {
            let leaf = match &carried.policy {
                CarriedPolicy::Call { index, policy } => encode_call_leaf(*index, policy),
                CarriedPolicy::Transfer { index, policy } => encode_transfer_leaf(*index, policy),
            }
            .unwrap();
            assert_eq!(
                &bytes[carried.offset..carried.offset + leaf.len()],
                &leaf[..]
            );
        }
        if decoded.mode == SignatureMode::Enable {
            let spec = decoded.spec();
            let again = encode_enable_signature(
                &spec,
                decoded.time_hint,
                &decoded.chains,
                decoded.owner_signature,
                decoded.session_signature,
            )
            .unwrap();
            assert_eq!(again, bytes);
            assert_eq!(decoded.session_hash, session_hash(&spec).unwrap());
        }
    }

    #[test]
    fn thousands_of_mutated_signatures_decode_without_panic_and_only_canonically() {
        let mut rng = Rng(0xdead_beef);
        let chains = [ChainEpoch {
            chainId: 1,
            epoch: 3,
        }];
        let mut bases = Vec::new();
        for (calls, transfers) in [(1, 1), (3, 2), (0, 4), (6, 3)] {
            let spec = random_spec(&mut rng, calls, transfers);
            let n = calls + transfers;
            bases.push(encode_use_signature(&spec, HINT, &[0], &SIG).unwrap());
            bases.push(encode_use_signature(&spec, HINT, &[n - 1], &SIG).unwrap());
            bases.push(encode_use_signature(&spec, HINT, &[], &SIG).unwrap());
            bases.push(encode_enable_signature(&spec, HINT, &chains, &[9; 65], &SIG).unwrap());
        }
        bases.push(encode_use_signature(&fixed_spec(), HINT, &[0, 1], &SIG).unwrap());
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..6000 {
            let mut bytes = bases[rng.below(bases.len())].clone();
            for _ in 0..1 + rng.below(3) {
                let len = bytes.len().max(1);
                match rng.below(7) {
                    0 => {
                        let at = rng.below(len);
                        if let Some(byte) = bytes.get_mut(at) {
                            *byte = rng.next() as u8;
                        }
                    }
                    1 => {
                        // Small numbers: words, counts and lengths near their edges.
                        let at = rng.below(len);
                        if let Some(byte) = bytes.get_mut(at) {
                            *byte = rng.below(10) as u8;
                        }
                    }
                    2 => bytes.insert(rng.below(len + 1).min(bytes.len()), rng.next() as u8),
                    3 => {
                        if !bytes.is_empty() {
                            bytes.remove(rng.below(bytes.len()));
                        }
                    }
                    4 => bytes.truncate(rng.below(len + 1)),
                    5 => {
                        // A 32-byte window repeated, as a duplicated proof hash would be.
                        let at = rng.below(len);
                        let window: Vec<u8> = bytes.iter().skip(at).take(32).copied().collect();
                        let to = rng.below(bytes.len() + 1);
                        bytes.splice(to..to, window);
                    }
                    _ => {
                        let at = rng.below(len);
                        let bit = rng.below(8);
                        if let Some(byte) = bytes.get_mut(at) {
                            *byte ^= 1 << bit;
                        }
                    }
                }
            }
            match decode_signature(&bytes) {
                Ok(decoded) => {
                    accepted += 1;
                    check_canonical(&bytes, &decoded);
                }
                Err(SignatureError::Malformed(Malformed { offset })) => {
                    refused += 1;
                    assert!(offset <= bytes.len());
                }
                Err(SignatureError::UnknownMode(mode)) => {
                    refused += 1;
                    assert!(SignatureMode::try_from(mode).is_err());
                }
            }
            let _ = decode_spec(bytes.get(7..).unwrap_or_default());
        }
        // Both outcomes were exercised.
        assert!(
            accepted > 100 && refused > 1000,
            "{accepted} accepted, {refused} refused"
        );

        // Random bytes with a valid mode byte.
        for _ in 0..3000 {
            let len = rng.below(700);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Some(first) = bytes.first_mut() {
                *first = rng.pick(SignatureMode::ALL).code();
            }
            if let Ok(decoded) = decode_signature(&bytes) {
                check_canonical(&bytes, &decoded);
            }
            let _ = decode_spec(&bytes);
        }
    }
}
