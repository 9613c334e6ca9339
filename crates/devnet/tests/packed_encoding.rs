//! The packed session encoding (docs/compact-signatures.md) read by the Solidity reader
//! (`PackedSpecLib`, behind the `PackedSpecHarness` fixture) and by the Rust codec
//! (`sessionkeys_contracts::vocabulary::packed`): the same session hash for every spec and every
//! carried subset, and the same refusal, at the same byte, for every malformed signature.
mod common;

use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, aliases::U48};
use alloy::sol_types::{SolCall, SolError};
use sessionkeys_contracts::abi::PackedSpecHarness;
use sessionkeys_contracts::artifacts;
use sessionkeys_contracts::session::{
    CallPolicy, ChainEpoch, Constraint, SessionSpec, TransferPolicy, UsageLimit,
};
use sessionkeys_contracts::vocabulary::packed::{
    self, Malformed, SignatureError, decode_signature, encode_enable_signature,
    encode_use_signature,
};
use sessionkeys_contracts::vocabulary::{Condition, PaymasterMode, SignatureMode};
use sessionkeys_devnet::DevnetError;
use sessionkeys_devnet::devnet::{DEVNET_ADMIN, Devnet};

/// A deterministic xorshift generator: the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn word(&mut self) -> B256 {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        B256::from(bytes)
    }

    fn limit(&mut self) -> UsageLimit {
        match self.below(3) {
            0 => UsageLimit::unlimited(),
            1 => UsageLimit::lifetime(self.next()),
            _ => UsageLimit::allowance(self.next(), 60 + self.below(100_000)),
        }
    }
}

/// What the Solidity reader answers for a signature: the session it names, or its refusal.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    Session {
        mode: u8,
        time_hint: u64,
        session_hash: B256,
        positions: Vec<usize>,
    },
    Malformed(usize),
    UnknownMode(u8),
}

struct Reader {
    devnet: Devnet,
    harness: Address,
}

impl Reader {
    fn new() -> Self {
        let mut devnet = common::devnet();
        let harness = devnet
            .chain
            .deploy_create2(
                DEVNET_ADMIN,
                B256::ZERO,
                &artifacts::packed_spec_harness().bytecode,
            )
            .expect("the harness deploys");
        Reader { devnet, harness }
    }

    fn revert_reason(data: &[u8]) -> Reading {
        if let Ok(e) = PackedSpecHarness::MalformedEncoding::abi_decode(data) {
            return Reading::Malformed(e.offset.to());
        }
        if let Ok(e) = PackedSpecHarness::UnknownSignatureMode::abi_decode(data) {
            return Reading::UnknownMode(e.mode);
        }
        panic!("the reader reverted with an unnamed error: {data:?}")
    }

    /// The Solidity reading of `signature`.
    fn solidity(&mut self, signature: &[u8]) -> Reading {
        let call = PackedSpecHarness::readSignatureCall {
            sig: Bytes::copy_from_slice(signature),
        };
        match self
            .devnet
            .chain
            .call(self.harness, call.abi_encode().into())
        {
            Ok(output) => {
                let r = PackedSpecHarness::readSignatureCall::abi_decode_returns(&output)
                    .expect("readSignature returns its tuple");
                Reading::Session {
                    mode: r.mode,
                    time_hint: r.timeHint.to(),
                    session_hash: r.sessionHash,
                    positions: r.positions.iter().map(|p| p.to()).collect(),
                }
            }
            Err(DevnetError::CallReverted { data, .. }) => Self::revert_reason(&data),
            Err(other) => panic!("the harness call failed: {other}"),
        }
    }

    /// The Solidity session hash of a whole packed spec.
    fn spec_hash(&mut self, spec: &[u8]) -> Result<B256, Reading> {
        let call = PackedSpecHarness::sessionHashOfCall {
            spec: Bytes::copy_from_slice(spec),
        };
        match self
            .devnet
            .chain
            .call(self.harness, call.abi_encode().into())
        {
            Ok(output) => Ok(
                PackedSpecHarness::sessionHashOfCall::abi_decode_returns(&output)
                    .expect("sessionHashOf returns a word"),
            ),
            Err(DevnetError::CallReverted { data, .. }) => Err(Self::revert_reason(&data)),
            Err(other) => panic!("the harness call failed: {other}"),
        }
    }
}

/// The Rust reading of `signature`, in the same shape.
fn rust(signature: &[u8]) -> Reading {
    match decode_signature(signature) {
        Ok(decoded) => Reading::Session {
            mode: decoded.mode.code(),
            time_hint: decoded.time_hint,
            session_hash: decoded.session_hash,
            positions: decoded.carried.iter().map(|c| c.position).collect(),
        },
        Err(SignatureError::Malformed(Malformed { offset })) => Reading::Malformed(offset),
        Err(SignatureError::UnknownMode(mode)) => Reading::UnknownMode(mode),
    }
}

fn constraint(rng: &mut Rng) -> Constraint {
    let condition = Condition::ALL[rng.below(Condition::ALL.len() as u64) as usize];
    let index = rng.below(6) as u32;
    let base = if condition == Condition::OneOf {
        let count = 1 + rng.below(4) as usize;
        Constraint::one_of(index, (0..count).map(|_| rng.word()).collect())
    } else {
        Constraint {
            condition: condition.code(),
            refValue: rng.word(),
            ..Constraint::unconstrained(index)
        }
    };
    Constraint {
        bits: 1 + rng.below(256) as u16,
        limit: rng.limit(),
        ..base
    }
}

/// A spec with `calls` call policies and `transfers` transfer policies of every shape.
fn spec(rng: &mut Rng, calls: usize, transfers: usize) -> SessionSpec {
    let mode = PaymasterMode::ALL[rng.below(PaymasterMode::ALL.len() as u64) as usize];
    SessionSpec {
        signer: Address::from_word(rng.word()),
        validAfter: U48::from(rng.below(1 << 40)),
        validUntil: U48::from(rng.below(1 << 47)),
        feeLimit: rng.limit(),
        paymasterMode: mode.code(),
        paymaster: if mode == PaymasterMode::One {
            Address::from_word(rng.word())
        } else {
            Address::ZERO
        },
        opLimit: rng.limit(),
        callPolicies: (0..calls)
            .map(|_| CallPolicy {
                target: Address::from_word(rng.word()),
                selector: FixedBytes::<4>::from_slice(&rng.word()[..4]),
                maxValuePerUse: U256::from_be_bytes(rng.word().0),
                valueLimit: rng.limit(),
                callLimit: rng.limit(),
                constraints: (0..rng.below(4)).map(|_| constraint(rng)).collect(),
            })
            .collect(),
        transferPolicies: (0..transfers)
            .map(|_| TransferPolicy {
                target: Address::from_word(rng.word()),
                maxValuePerUse: U256::from(rng.next()),
                valueLimit: rng.limit(),
            })
            .collect(),
        salt: rng.word(),
    }
}

/// A random strictly increasing subset of `0..n` (possibly empty).
fn subset(rng: &mut Rng, n: usize) -> Vec<usize> {
    (0..n).filter(|_| rng.below(3) == 0).collect()
}

const SIGNATURE: [u8; 65] = [0x11; 65];
const SIZES: [(usize, usize); 7] = [(0, 0), (1, 0), (0, 1), (2, 1), (3, 2), (12, 8), (60, 40)];

#[test]
fn solidity_and_rust_name_the_same_session_for_every_spec_and_carried_subset() {
    let mut reader = Reader::new();
    let mut rng = Rng(0x5e55_1011);
    for (calls, transfers) in SIZES {
        for _ in 0..4 {
            let spec = spec(&mut rng, calls, transfers);
            let hash = packed::session_hash(&spec).expect("a generated spec is encodable");
            let bytes = packed::encode_spec(&spec).expect("encodable");
            assert_eq!(
                reader.spec_hash(&bytes),
                Ok(hash),
                "{calls}+{transfers} policies"
            );

            let n = calls + transfers;
            let mut subsets = vec![vec![], (0..n).collect::<Vec<_>>(), subset(&mut rng, n)];
            subsets.extend((0..n.min(3)).map(|p| vec![p]));
            for positions in subsets {
                let hint = rng.below(1 << 48);
                let signature =
                    encode_use_signature(&spec, hint, &positions, &SIGNATURE).expect("encodable");
                let expected = Reading::Session {
                    mode: SignatureMode::Use.code(),
                    time_hint: hint,
                    session_hash: hash,
                    positions: positions.clone(),
                };
                assert_eq!(rust(&signature), expected);
                assert_eq!(
                    reader.solidity(&signature),
                    expected,
                    "positions {positions:?}"
                );
            }

            let chains = [ChainEpoch {
                chainId: 31337,
                epoch: rng.next(),
            }];
            let signature = encode_enable_signature(&spec, 7, &chains, &SIGNATURE, &SIGNATURE)
                .expect("encodable");
            let expected = Reading::Session {
                mode: SignatureMode::Enable.code(),
                time_hint: 7,
                session_hash: hash,
                positions: (0..n).collect(),
            };
            assert_eq!(rust(&signature), expected);
            assert_eq!(reader.solidity(&signature), expected);
        }
    }
}

#[test]
fn solidity_refuses_every_cut_and_mutated_signature_at_the_byte_rust_names() {
    let mut reader = Reader::new();
    let mut rng = Rng(0xbad_5197);
    let mut refused = 0;
    for (calls, transfers) in [(2, 1), (3, 2), (5, 0)] {
        let spec = spec(&mut rng, calls, transfers);
        let n = calls + transfers;
        let positions = subset(&mut rng, n);
        let chains = [ChainEpoch {
            chainId: 1,
            epoch: 2,
        }];
        for signature in [
            encode_use_signature(&spec, 5, &positions, &SIGNATURE).expect("encodable"),
            encode_enable_signature(&spec, 5, &chains, &SIGNATURE, &SIGNATURE).expect("encodable"),
        ] {
            // Every cut, then every length with a byte appended.
            for end in 0..signature.len() {
                let cut = &signature[..end];
                let expected = rust(cut);
                assert_eq!(reader.solidity(cut), expected, "cut at {end}");
                refused +=
                    matches!(expected, Reading::Malformed(_) | Reading::UnknownMode(_)) as usize;
            }
            let mut longer = signature.clone();
            longer.push(0);
            assert_eq!(reader.solidity(&longer), rust(&longer));
            // Random byte changes: both readers agree on the refusal or on the session named.
            for _ in 0..150 {
                let mut mutated = signature.clone();
                let at = rng.below(mutated.len() as u64) as usize;
                mutated[at] = rng.next() as u8;
                assert_eq!(
                    reader.solidity(&mutated),
                    rust(&mutated),
                    "byte {at} changed"
                );
            }
        }
    }
    assert!(
        refused > 1000,
        "the cuts exercised the refusals ({refused})"
    );
}

#[test]
fn a_header_claiming_more_policies_than_positions_is_malformed_at_its_counts_on_both_sides() {
    // Leaf positions are uint16: 65,535 call and 2 transfer policies have no valid positions.
    let mut reader = Reader::new();
    let mut rng = Rng(0xc0_0475);
    let spec = spec(&mut rng, 1, 0);
    let mut bytes = packed::encode_spec(&spec).expect("encodable");
    let header = packed::encode_header(&spec).expect("encodable");
    let counts = header.len() - 32 - 4;
    bytes[counts..counts + 4].copy_from_slice(&[0xff, 0xff, 0x00, 0x02]);
    assert_eq!(
        packed::decode_spec(&bytes),
        Err(Malformed { offset: counts })
    );
    assert_eq!(reader.spec_hash(&bytes), Err(Reading::Malformed(counts)));
    // One fewer is a valid header: the bytes then end before the second leaf.
    bytes[counts..counts + 4].copy_from_slice(&[0xff, 0xff, 0x00, 0x01]);
    let cut = packed::decode_spec(&bytes).unwrap_err();
    assert_eq!(
        reader.spec_hash(&bytes),
        Err(Reading::Malformed(cut.offset))
    );
}
