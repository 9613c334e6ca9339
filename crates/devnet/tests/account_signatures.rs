//! SessionAccount's ERC-1271 is replay-safe across accounts (ERC-7739): one owner key may own
//! several accounts and is an EOA itself, so a signature made for one of them must not pass for
//! another. The digests here are built from the ERC-7739 text, independently of the contract;
//! `tests/e2e.rs` checks the same against signatures viem builds.
mod common;

use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, address, keccak256};
use alloy::signers::SignerSync;
use alloy::sol_types::{SolStruct, SolValue, eip712_domain};
use common::*;
use sessionkeys_contracts::abi::SessionAccount;

const MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];
const INVALID: [u8; 4] = [0xff, 0xff, 0xff, 0xff];

alloy::sol! {
    /// Permit2's PermitSingle: nested, and its dependency sorts first (explicit mode).
    struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
    struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
    /// A flat struct (implicit mode).
    struct Mail { address to; string contents; }
}

fn permit() -> PermitSingle {
    PermitSingle {
        details: PermitDetails {
            token: address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
            amount: alloy::primitives::aliases::U160::from(500_000_000u64),
            expiration: alloy::primitives::aliases::U48::from(2_000_000_000u64),
            nonce: alloy::primitives::aliases::U48::from(0u64),
        },
        spender: BOB,
        sigDeadline: U256::from(2_000_000_000u64),
    }
}

fn permit2_domain(chain_id: u64) -> alloy::sol_types::Eip712Domain {
    eip712_domain! {
        name: "Permit2",
        chain_id: chain_id,
        verifying_contract: address!("0x000000000022D473030F116dDEE9F6B43aC78BA3"),
    }
}

fn is_valid(h: &mut Harness, account: Address, hash: B256, signature: &[u8]) -> [u8; 4] {
    h.devnet
        .chain
        .call_typed(
            account,
            &SessionAccount::isValidSignatureCall {
                hash,
                signature: Bytes::copy_from_slice(signature),
            },
        )
        .unwrap()
        .0
}

fn sign(h: &Harness, digest: B256) -> Vec<u8> {
    h.owner.sign_hash_sync(&digest).unwrap().as_bytes().to_vec()
}

/// The account's own EIP-712 domain separator (ERC-5267: name, version, chain, address).
fn account_separator(chain_id: u64, account: Address) -> B256 {
    eip712_domain! {
        name: "SessionAccount",
        version: "1",
        chain_id: chain_id,
        verifying_contract: account,
    }
    .separator()
}

fn personal_sign_digest(chain_id: u64, account: Address, hash: B256) -> B256 {
    let struct_hash = keccak256((keccak256("PersonalSign(bytes prefixed)"), hash).abi_encode());
    keccak256(
        [
            &[0x19, 0x01],
            account_separator(chain_id, account).as_slice(),
            struct_hash.as_slice(),
        ]
        .concat(),
    )
}

/// The TypedDataSign digest and the wrapper's description for contents of type `contents_type`
/// named `name` (explicit mode appends the name).
fn typed_data_sign_digest(
    chain_id: u64,
    account: Address,
    app_separator: B256,
    contents: B256,
    name: &str,
    contents_type: &str,
) -> B256 {
    let type_hash = keccak256(format!(
        "TypedDataSign({name} contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt){contents_type}"
    ));
    let struct_hash = keccak256(
        (
            type_hash,
            contents,
            keccak256("SessionAccount"),
            keccak256("1"),
            U256::from(chain_id),
            account,
            B256::ZERO,
        )
            .abi_encode(),
    );
    keccak256(
        [
            &[0x19, 0x01],
            app_separator.as_slice(),
            struct_hash.as_slice(),
        ]
        .concat(),
    )
}

fn wrap(owner_signature: &[u8], app_separator: B256, contents: B256, description: &str) -> Vec<u8> {
    [
        owner_signature,
        app_separator.as_slice(),
        contents.as_slice(),
        description.as_bytes(),
        &(description.len() as u16).to_be_bytes(),
    ]
    .concat()
}

/// Account B: a second clone of the same owner (another salt).
fn second_account(h: &mut Harness) -> Address {
    let (version, owner, validator) = (h.version, h.owner.address(), h.validator);
    h.devnet
        .create_account(version, owner, vec![validator], U256::from(1))
        .unwrap()
}

#[test]
fn a_permit_signed_by_the_owner_eoa_is_refused_by_its_account() {
    // The reported attack: a Permit2-style permit the owner signed for their EOA moved the
    // account's tokens, because the account accepted the owner's raw signature over any hash.
    each_version(|version| {
        let mut h = Harness::new(version);
        let chain_id = h.devnet.chain.chain_id();
        let hash = permit().eip712_signing_hash(&permit2_domain(chain_id));
        let raw = sign(&h, hash);
        let account = h.account;
        assert_eq!(is_valid(&mut h, account, hash, &raw), INVALID);
    });
}

#[test]
fn a_personal_sign_signature_for_account_a_is_refused_by_account_b() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let chain_id = h.devnet.chain.chain_id();
        let (a, b) = (h.account, second_account(&mut h));
        let hash = alloy::primitives::eip191_hash_message("Sign in to app.example");
        let for_a = sign(&h, personal_sign_digest(chain_id, a, hash));
        assert_eq!(is_valid(&mut h, a, hash, &for_a), MAGIC);
        assert_eq!(is_valid(&mut h, b, hash, &for_a), INVALID);
        // Another message under the same wrapper: refused.
        let other = alloy::primitives::eip191_hash_message("Sign in to evil.example");
        assert_eq!(is_valid(&mut h, a, other, &for_a), INVALID);
    });
}

#[test]
fn a_typed_data_sign_signature_for_account_a_is_refused_by_account_b() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let chain_id = h.devnet.chain.chain_id();
        let (a, b) = (h.account, second_account(&mut h));
        let app = permit2_domain(chain_id).separator();
        let contents = permit().eip712_hash_struct();
        let hash = permit().eip712_signing_hash(&permit2_domain(chain_id));
        // EIP-712 sorts dependencies: "PermitDetails(…)PermitSingle(…)" does not start with the
        // contents name, so the wrapper names it explicitly.
        let sorted_type = format!(
            "{}{}",
            PermitDetails::eip712_encode_type(),
            PermitSingle::eip712_root_type()
        );
        let digest =
            typed_data_sign_digest(chain_id, a, app, contents, "PermitSingle", &sorted_type);
        let signature = wrap(
            &sign(&h, digest),
            app,
            contents,
            &format!("{sorted_type}PermitSingle"),
        );
        assert_eq!(is_valid(&mut h, a, hash, &signature), MAGIC);
        assert_eq!(is_valid(&mut h, b, hash, &signature), INVALID);
        // The wrapper must hash to the app's hash: another contents struct is refused.
        let mut other = permit();
        other.spender = CAROL;
        let other_hash = other.eip712_signing_hash(&permit2_domain(chain_id));
        assert_eq!(is_valid(&mut h, a, other_hash, &signature), INVALID);
    });
}

#[test]
fn a_flat_struct_signs_in_implicit_mode() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let chain_id = h.devnet.chain.chain_id();
        let account = h.account;
        let mail = Mail {
            to: ALICE,
            contents: "hello".into(),
        };
        let domain = eip712_domain! { name: "Mail", version: "1", chain_id: chain_id, };
        let (app, contents) = (domain.separator(), mail.eip712_hash_struct());
        let mail_type = Mail::eip712_encode_type().into_owned();
        let digest = typed_data_sign_digest(chain_id, account, app, contents, "Mail", &mail_type);
        let signature = wrap(&sign(&h, digest), app, contents, &mail_type);
        let hash = mail.eip712_signing_hash(&domain);
        assert_eq!(is_valid(&mut h, account, hash, &signature), MAGIC);
    });
}

#[test]
fn a_contents_name_that_could_break_out_of_the_type_string_is_refused() {
    // ERC-7739 "Rejecting invalid contentsName": the owner did sign these digests, but a name
    // that starts with a lowercase letter or holds a space, comma or parenthesis could make a
    // wallet show an opaque hash instead of the struct.
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V08);
    let chain_id = h.devnet.chain.chain_id();
    let account = h.account;
    let app = B256::repeat_byte(0xaa);
    let contents = B256::repeat_byte(0xcc);
    let hash = keccak256([&[0x19, 0x01], app.as_slice(), contents.as_slice()].concat());
    for (name, contents_type) in [
        ("mail", "mail(address to)"),
        ("Ma il", "Ma il(address to)"),
        ("M,x", "M,x(address to)"),
        ("", "(address to)"),
    ] {
        let digest = typed_data_sign_digest(chain_id, account, app, contents, name, contents_type);
        let signature = wrap(&sign(&h, digest), app, contents, contents_type);
        assert_eq!(
            is_valid(&mut h, account, hash, &signature),
            INVALID,
            "{name:?}"
        );
    }
    // The same wrapper with a safe name passes, so the refusals above are the name's.
    let digest =
        typed_data_sign_digest(chain_id, account, app, contents, "Mail", "Mail(address to)");
    let signature = wrap(&sign(&h, digest), app, contents, "Mail(address to)");
    assert_eq!(is_valid(&mut h, account, hash, &signature), MAGIC);
}

#[test]
fn the_account_announces_erc7739_and_its_erc5267_domain() {
    each_version(|version| {
        let mut h = Harness::new(version);
        let account = h.account;
        let detection = B256::from_slice(&[0x77, 0x39].repeat(16));
        assert_eq!(
            is_valid(&mut h, account, detection, &[]),
            [0x77, 0x39, 0x00, 0x01]
        );
        let domain = h
            .devnet
            .chain
            .call_typed(account, &SessionAccount::eip712DomainCall {})
            .unwrap();
        assert_eq!(domain.fields, FixedBytes([0x0f]));
        assert_eq!(
            (domain.name.as_str(), domain.version.as_str()),
            ("SessionAccount", "1")
        );
        assert_eq!(domain.chainId, U256::from(h.devnet.chain.chain_id()));
        assert_eq!(domain.verifyingContract, account);
        assert_eq!(domain.salt, B256::ZERO);
        assert!(domain.extensions.is_empty());
    });
}

/// A signature that recovers to `key`'s address for the digest 0, made without the private key
/// from the public key alone: R = k·Q, r = R.x, s = r/k.
fn forge_for_zero_digest(key: &alloy::signers::local::PrivateKeySigner) -> Vec<u8> {
    use alloy::signers::k256::elliptic_curve::ops::Reduce;
    use alloy::signers::k256::elliptic_curve::point::AffineCoordinates;
    use alloy::signers::k256::elliptic_curve::scalar::IsHigh;
    use alloy::signers::k256::{ProjectivePoint, Scalar, U256 as K256U256};
    let public = ProjectivePoint::from(*key.credential().verifying_key().as_affine());
    let k = Scalar::from(0x5eed_u64);
    let r_point = (public * k).to_affine();
    let r_bytes = r_point.x();
    let r = <Scalar as Reduce<K256U256>>::reduce_bytes(&r_bytes);
    let mut s = r * k.invert().unwrap();
    let mut odd: bool = r_point.y_is_odd().into();
    if bool::from(s.is_high()) {
        s = -s;
        odd = !odd;
    }
    let (r, s): ([u8; 32], [u8; 32]) = (r_bytes.into(), s.to_bytes().into());
    [&r[..], &s[..], &[27 + odd as u8]].concat()
}

#[test]
fn a_signature_forged_for_the_zero_digest_is_refused_everywhere() {
    // Anyone who knows the owner's public key (any address that ever sent a transaction) can
    // make a signature that ecrecover maps to the owner for digest 0.
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V08);
    let forged = forge_for_zero_digest(&h.owner);
    let recovered = alloy::primitives::Signature::from_raw(&forged)
        .unwrap()
        .recover_address_from_prehash(&B256::ZERO)
        .unwrap();
    assert_eq!(
        recovered,
        h.owner.address(),
        "the forgery works on raw ecrecover"
    );
    let account = h.account;
    let owner_check: bool = h
        .devnet
        .chain
        .call_typed(
            account,
            &SessionAccount::isOwnerSignatureCall {
                digest: B256::ZERO,
                signature: Bytes::from(forged.clone()),
            },
        )
        .unwrap();
    assert!(!owner_check, "the account's owner check refuses digest 0");
    assert_eq!(is_valid(&mut h, account, B256::ZERO, &forged), INVALID);
    assert_eq!(
        sessionkeys_engine::evaluate::recover(B256::ZERO, &forged),
        None
    );
}

#[test]
fn an_unsafe_name_in_explicit_mode_or_a_length_past_the_signature_is_refused() {
    let mut h = Harness::new(sessionkeys_chain::EntryPointVersion::V07);
    let chain_id = h.devnet.chain.chain_id();
    let account = h.account;
    let app = B256::repeat_byte(0xaa);
    let contents = B256::repeat_byte(0xcc);
    let hash = keccak256([&[0x19, 0x01], app.as_slice(), contents.as_slice()].concat());
    // Explicit mode: the description is contentsType ‖ name.
    for name in ["Ma il", "M)x", "M\0x", "mail"] {
        let contents_type = "A(uint256 x)";
        let digest = typed_data_sign_digest(chain_id, account, app, contents, name, contents_type);
        let signature = wrap(
            &sign(&h, digest),
            app,
            contents,
            &format!("{contents_type}{name}"),
        );
        assert_eq!(
            is_valid(&mut h, account, hash, &signature),
            INVALID,
            "{name:?}"
        );
    }
    let digest = typed_data_sign_digest(chain_id, account, app, contents, "Mail", "A(uint256 x)");
    let good = wrap(&sign(&h, digest), app, contents, "A(uint256 x)Mail");
    assert_eq!(
        is_valid(&mut h, account, hash, &good),
        MAGIC,
        "explicit mode with a safe name"
    );
    // A declared description length past the signature's start: no slice out of bounds, just
    // the PersonalSign reading, which this signature does not satisfy.
    let mut long = good.clone();
    let n = long.len();
    long[n - 2..].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(is_valid(&mut h, account, hash, &long), INVALID);
    // Shorter than the fixed parts.
    assert_eq!(is_valid(&mut h, account, hash, &good[..40]), INVALID);
}
