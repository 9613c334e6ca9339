//! ERC-4337 user operations: the unpacked form we build, and the packed form the EntryPoint takes.

use crate::entrypoint::abi::PackedUserOperation;
use alloy::primitives::{Address, B256, Bytes, U256, aliases::U192};

/// A paymaster and the gas it may use (packed into `paymasterAndData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paymaster {
    /// The paymaster contract.
    pub address: Address,
    /// Gas for its `validatePaymasterUserOp`.
    pub verification_gas_limit: u128,
    /// Gas for its `postOp`.
    pub post_op_gas_limit: u128,
    /// Extra data after the 52-byte static part.
    pub data: Bytes,
}

/// A user operation with its gas fields unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOperation {
    /// The account.
    pub sender: Address,
    /// key (192 bits) ‖ sequence (64 bits).
    pub nonce: U256,
    /// Factory and its calldata when the account is not deployed yet.
    pub factory: Option<(Address, Bytes)>,
    /// What the account runs.
    pub call_data: Bytes,
    /// Gas for the account's `execute`.
    pub call_gas_limit: u128,
    /// Gas for validation (and deployment).
    pub verification_gas_limit: u128,
    /// Gas paid to the bundler for overhead.
    pub pre_verification_gas: U256,
    /// Fee cap per gas.
    pub max_fee_per_gas: u128,
    /// Tip cap per gas.
    pub max_priority_fee_per_gas: u128,
    /// A sponsoring paymaster, if any.
    pub paymaster: Option<Paymaster>,
    /// Raw `paymasterAndData`, overriding `paymaster` (for malformed-input tests).
    pub raw_paymaster_and_data: Option<Bytes>,
    /// The validator-specific signature.
    pub signature: Bytes,
}

impl UserOperation {
    /// An operation with the gas defaults the devnet's bundler uses.
    pub fn new(sender: Address, nonce: U256, call_data: Bytes) -> Self {
        Self {
            sender,
            nonce,
            factory: None,
            call_data,
            call_gas_limit: 500_000,
            verification_gas_limit: 1_000_000,
            pre_verification_gas: U256::from(60_000),
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            paymaster: None,
            raw_paymaster_and_data: None,
            signature: Bytes::new(),
        }
    }

    /// The `paymasterAndData` field as the EntryPoint reads it.
    pub fn paymaster_and_data(&self) -> Bytes {
        if let Some(raw) = &self.raw_paymaster_and_data {
            return raw.clone();
        }
        match &self.paymaster {
            None => Bytes::new(),
            Some(p) => {
                let mut out = Vec::with_capacity(52 + p.data.len());
                out.extend_from_slice(p.address.as_slice());
                out.extend_from_slice(&p.verification_gas_limit.to_be_bytes());
                out.extend_from_slice(&p.post_op_gas_limit.to_be_bytes());
                out.extend_from_slice(&p.data);
                out.into()
            }
        }
    }

    /// The packed form, as passed to `handleOps` and `getUserOpHash`.
    pub fn pack(&self) -> PackedUserOperation {
        let init_code = match &self.factory {
            None => Bytes::new(),
            Some((factory, data)) => [factory.as_slice(), data.as_ref()].concat().into(),
        };
        PackedUserOperation {
            sender: self.sender,
            nonce: self.nonce,
            initCode: init_code,
            callData: self.call_data.clone(),
            accountGasLimits: pack_u128s(self.verification_gas_limit, self.call_gas_limit),
            preVerificationGas: self.pre_verification_gas,
            gasFees: pack_u128s(self.max_priority_fee_per_gas, self.max_fee_per_gas),
            paymasterAndData: self.paymaster_and_data(),
            signature: self.signature.clone(),
        }
    }

    /// The most the account can be charged: the prefund the EntryPoint requires when no
    /// paymaster pays (hardening rule 11).
    pub fn max_prefund(&self) -> U256 {
        let pm = match &self.paymaster {
            Some(p) => p.verification_gas_limit + p.post_op_gas_limit,
            None => 0,
        };
        U256::from(self.max_fee_per_gas)
            * (self.pre_verification_gas
                + U256::from(self.verification_gas_limit)
                + U256::from(self.call_gas_limit)
                + U256::from(pm))
    }
}

fn pack_u128s(high: u128, low: u128) -> B256 {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&high.to_be_bytes());
    out[16..].copy_from_slice(&low.to_be_bytes());
    B256::from(out)
}

pub use sessionkeys_contracts::vocabulary::{nonce_key, session_lane};

/// Combines a nonce key and a sequence number into the 256-bit nonce.
pub fn nonce_with_key(key: U192, sequence: u64) -> U256 {
    (U256::from(key) << 64) | U256::from(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn the_nonce_carries_validator_lane_and_sequence() {
        let validator = address!("0x1111111111111111111111111111111111111111");
        let nonce = nonce_with_key(nonce_key(validator, 0xaabbccdd), 7);
        let bytes = nonce.to_be_bytes::<32>();
        assert_eq!(&bytes[..20], validator.as_slice());
        assert_eq!(&bytes[20..24], &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(u64::from_be_bytes(bytes[24..].try_into().unwrap()), 7);
    }

    #[test]
    fn paymaster_and_data_packs_address_then_two_gas_limits() {
        let mut op = UserOperation::new(Address::ZERO, U256::ZERO, Bytes::new());
        op.paymaster = Some(Paymaster {
            address: address!("0x2222222222222222222222222222222222222222"),
            verification_gas_limit: 5,
            post_op_gas_limit: 6,
            data: Bytes::from_static(&[9]),
        });
        let packed = op.paymaster_and_data();
        assert_eq!(packed.len(), 53);
        assert_eq!(packed[35], 5);
        assert_eq!(packed[51], 6);
        assert_eq!(packed[52], 9);
    }
}
