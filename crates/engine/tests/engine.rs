//! Engine behaviour that does not need a chain: decoding refusals and readable violations.

use alloy::primitives::{Address, B256, U256, address};
use sessionkeys_engine::execute::decode_execute;
use sessionkeys_engine::{Violation, violation_from_revert};

fn execute_single(target: Address, data: &[u8]) -> Vec<u8> {
    let mut inner = target.to_vec();
    inner.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    inner.extend_from_slice(data);
    let mut out = vec![0xe9, 0xae, 0x5c, 0x53];
    out.extend_from_slice(&[0u8; 32]); // single mode
    out.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(inner.len()).to_be_bytes::<32>());
    let padded = inner.len().div_ceil(32) * 32;
    inner.resize(padded, 0);
    out.extend_from_slice(&inner);
    out
}

const TOKEN: Address = address!("0x00000000000000000000000000000000000070c0");

#[test]
fn a_canonical_single_call_decodes_to_its_target_and_data() {
    let data = execute_single(TOKEN, &[0xa9, 0x05, 0x9c, 0xbb, 1, 2]);
    let calls = decode_execute(&data).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].target, TOKEN);
    assert_eq!(calls[0].data, &[0xa9, 0x05, 0x9c, 0xbb, 1, 2]);
}

#[test]
fn a_bare_call_without_execute_is_refused() {
    assert_eq!(
        decode_execute(&[0xa9, 0x05, 0x9c, 0xbb]),
        Err(Violation::ExecuteSelectorRequired([0xa9, 0x05, 0x9c, 0xbb]))
    );
    assert_eq!(
        decode_execute(&[]),
        Err(Violation::ExecuteSelectorRequired([0; 4]))
    );
}

#[test]
fn delegatecall_and_try_modes_are_refused() {
    for first_bytes in [[0xff, 0x00], [0x00, 0x01], [0xfe, 0x00], [0x01, 0x01]] {
        let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
        data[4] = first_bytes[0];
        data[5] = first_bytes[1];
        assert!(
            matches!(
                decode_execute(&data),
                Err(Violation::UnsupportedExecutionMode(_))
            ),
            "{first_bytes:?}"
        );
    }
}

#[test]
fn trailing_bytes_and_a_moved_offset_are_refused() {
    let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
    data.extend_from_slice(&[0u8; 32]);
    assert_eq!(
        decode_execute(&data),
        Err(Violation::NonCanonicalExecution(68))
    );
    let mut data = execute_single(TOKEN, &[1, 2, 3, 4]);
    data[67] = 0x60;
    assert_eq!(
        decode_execute(&data),
        Err(Violation::NonCanonicalExecution(36))
    );
}

#[test]
fn an_empty_batch_is_refused() {
    let mut data = vec![0xe9, 0xae, 0x5c, 0x53, 0x01];
    data.extend_from_slice(&[0u8; 31]);
    data.extend_from_slice(&U256::from(0x40).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(64).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(0x20).to_be_bytes::<32>());
    data.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    assert_eq!(decode_execute(&data), Err(Violation::EmptyBatch));
}

#[test]
fn violations_round_trip_through_revert_data_and_read_as_sentences() {
    let violation = Violation::NonCanonicalExecution(68);
    assert_eq!(
        violation_from_revert(&violation.revert_data()),
        Some(violation.clone())
    );
    assert_eq!(
        violation.to_string(),
        "the execute encoding is not canonical at byte 68; encode it with abi.encodeCall"
    );
    let mode = Violation::UnsupportedExecutionMode(B256::repeat_byte(0xff));
    assert!(mode.to_string().contains("no delegatecall"));
    assert_eq!(mode.name(), "UnsupportedExecutionMode");
}

#[test]
fn every_validator_error_renders_a_sentence_and_round_trips() {
    use alloy::sol_types::SolInterface;
    use sessionkeys_contracts::session::ISessionKeyValidator::ISessionKeyValidatorErrors as E;
    let mut seen = 0;
    for selector in E::SELECTORS {
        // Zero words are a valid encoding of every argument list here (no dynamic types).
        let error = E::abi_decode_raw(*selector, &[0u8; 32 * 8])
            .unwrap_or_else(|e| panic!("{selector:?}: {e}"));
        let violation = Violation::validator(error);
        let sentence = violation.to_string();
        assert!(
            sentence.len() > 20 && !sentence.contains("{"),
            "{}: {sentence:?}",
            violation.name()
        );
        assert_eq!(
            violation_from_revert(&violation.revert_data()),
            Some(violation.clone()),
            "{}",
            violation.name()
        );
        seen += 1;
    }
    assert_eq!(seen, 37, "one sentence per contract error");
}
