//! JSON types of the bundler RPC, written to ERC-7769 (`eth_sendUserOperation`,
//! `eth_estimateUserOperationGas`, `eth_getUserOperationReceipt`, `eth_supportedEntryPoints`)
//! for EntryPoint v0.7 and v0.8, whose userOps travel unpacked.
//!
//! alloy's ERC-4337 types differ from the ERC (field optionality and the receipt's shape), so
//! these are our own. Quantities are `0x`-hex without leading zeros, as JSON-RPC requires.

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use sessionkeys_chain::{Paymaster, UserOperation};

/// A v0.7 / v0.8 userOp in its JSON-RPC form (ERC-7769, "UserOperation").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcUserOperation {
    /// The account.
    pub sender: Address,
    /// key ‖ sequence.
    pub nonce: U256,
    /// The factory, when the account is deployed by this op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<Address>,
    /// The factory's calldata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory_data: Option<Bytes>,
    /// What the account executes.
    pub call_data: Bytes,
    /// Gas of the execution.
    pub call_gas_limit: U256,
    /// Gas of validation (and deployment).
    pub verification_gas_limit: U256,
    /// Gas paid for the bundler's overhead.
    pub pre_verification_gas: U256,
    /// Fee cap per gas.
    pub max_fee_per_gas: U256,
    /// Tip cap per gas.
    pub max_priority_fee_per_gas: U256,
    /// A sponsoring paymaster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster: Option<Address>,
    /// Gas of the paymaster's validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Gas of the paymaster's postOp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
    /// The paymaster's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_data: Option<Bytes>,
    /// The account's signature.
    pub signature: Bytes,
}

impl From<&UserOperation> for RpcUserOperation {
    fn from(op: &UserOperation) -> Self {
        let paymaster = op.paymaster.as_ref();
        Self {
            sender: op.sender,
            nonce: op.nonce,
            factory: op.factory.as_ref().map(|(f, _)| *f),
            factory_data: op.factory.as_ref().map(|(_, d)| d.clone()),
            call_data: op.call_data.clone(),
            call_gas_limit: U256::from(op.call_gas_limit),
            verification_gas_limit: U256::from(op.verification_gas_limit),
            pre_verification_gas: op.pre_verification_gas,
            max_fee_per_gas: U256::from(op.max_fee_per_gas),
            max_priority_fee_per_gas: U256::from(op.max_priority_fee_per_gas),
            paymaster: paymaster.map(|p| p.address),
            paymaster_verification_gas_limit: paymaster
                .map(|p| U256::from(p.verification_gas_limit)),
            paymaster_post_op_gas_limit: paymaster.map(|p| U256::from(p.post_op_gas_limit)),
            paymaster_data: paymaster.map(|p| p.data.clone()),
            signature: op.signature.clone(),
        }
    }
}

/// A JSON quantity that does not fit the 128-bit gas fields of a packed userOp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value} does not fit in 128 bits (packed userOp gas fields are uint128)")]
pub struct GasFieldOverflow {
    /// The JSON field.
    pub field: &'static str,
    /// Its value.
    pub value: U256,
}

fn gas(field: &'static str, value: U256) -> Result<u128, GasFieldOverflow> {
    u128::try_from(value).map_err(|_| GasFieldOverflow { field, value })
}

impl TryFrom<&RpcUserOperation> for UserOperation {
    type Error = GasFieldOverflow;

    fn try_from(op: &RpcUserOperation) -> Result<Self, Self::Error> {
        let paymaster = match op.paymaster {
            None => None,
            Some(address) => Some(Paymaster {
                address,
                verification_gas_limit: gas(
                    "paymasterVerificationGasLimit",
                    op.paymaster_verification_gas_limit.unwrap_or_default(),
                )?,
                post_op_gas_limit: gas(
                    "paymasterPostOpGasLimit",
                    op.paymaster_post_op_gas_limit.unwrap_or_default(),
                )?,
                data: op.paymaster_data.clone().unwrap_or_default(),
            }),
        };
        Ok(UserOperation {
            sender: op.sender,
            nonce: op.nonce,
            factory: op
                .factory
                .map(|f| (f, op.factory_data.clone().unwrap_or_default())),
            call_data: op.call_data.clone(),
            call_gas_limit: gas("callGasLimit", op.call_gas_limit)?,
            verification_gas_limit: gas("verificationGasLimit", op.verification_gas_limit)?,
            pre_verification_gas: op.pre_verification_gas,
            max_fee_per_gas: gas("maxFeePerGas", op.max_fee_per_gas)?,
            max_priority_fee_per_gas: gas("maxPriorityFeePerGas", op.max_priority_fee_per_gas)?,
            paymaster,
            raw_paymaster_and_data: None,
            signature: op.signature.clone(),
        })
    }
}

/// The result of `eth_estimateUserOperationGas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GasEstimate {
    /// Gas for the bundler's overhead.
    pub pre_verification_gas: U256,
    /// Gas for validation (and deployment).
    pub verification_gas_limit: U256,
    /// Gas for the execution.
    pub call_gas_limit: U256,
    /// Gas for the paymaster's validation, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Gas for the paymaster's postOp, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
}

impl GasEstimate {
    /// Writes the estimate into `op`'s gas fields.
    pub fn apply(&self, op: &mut UserOperation) -> Result<(), GasFieldOverflow> {
        op.pre_verification_gas = self.pre_verification_gas;
        op.verification_gas_limit = gas("verificationGasLimit", self.verification_gas_limit)?;
        op.call_gas_limit = gas("callGasLimit", self.call_gas_limit)?;
        if let Some(p) = op.paymaster.as_mut() {
            if let Some(v) = self.paymaster_verification_gas_limit {
                p.verification_gas_limit = gas("paymasterVerificationGasLimit", v)?;
            }
            if let Some(v) = self.paymaster_post_op_gas_limit {
                p.post_op_gas_limit = gas("paymasterPostOpGasLimit", v)?;
            }
        }
        Ok(())
    }
}

/// One log of a userOp's execution (ERC-7769 receipt `logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    /// The emitting contract.
    pub address: Address,
    /// Its topics.
    pub topics: Vec<B256>,
    /// Its data.
    pub data: Bytes,
}

/// The transaction that carried a userOp (the parts of ERC-7769's `receipt` we read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleTransaction {
    /// The bundle's transaction hash.
    pub transaction_hash: B256,
    /// The block it landed in.
    #[serde(default)]
    pub block_number: Option<U256>,
    /// Receipt gas of the whole bundle.
    #[serde(default)]
    pub gas_used: Option<U256>,
}

/// The result of `eth_getUserOperationReceipt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationReceipt {
    /// The userOp's hash.
    pub user_op_hash: B256,
    /// The EntryPoint that ran it.
    pub entry_point: Address,
    /// The account.
    pub sender: Address,
    /// Its nonce.
    pub nonce: U256,
    /// The paymaster that paid, if any.
    #[serde(default)]
    pub paymaster: Option<Address>,
    /// What the account or paymaster paid, in wei.
    pub actual_gas_cost: U256,
    /// Gas the EntryPoint charged for.
    pub actual_gas_used: U256,
    /// Whether the execution succeeded.
    pub success: bool,
    /// The execution's revert data (`0x` or absent when it succeeded).
    #[serde(default, deserialize_with = "lenient_bytes")]
    pub reason: Option<Bytes>,
    /// Logs the userOp emitted.
    #[serde(default)]
    pub logs: Vec<RpcLog>,
    /// The bundle's transaction.
    pub receipt: BundleTransaction,
}

/// Bundlers send `reason` as hex, as `""`, or not at all.
fn lenient_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    match text.as_deref() {
        None | Some("") | Some("0x") => Ok(None),
        Some(hex) => hex
            .parse::<Bytes>()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn user_operation_serializes_to_erc7769_field_names_and_hex_quantities() {
        let mut op = UserOperation::new(
            address!("0x1111111111111111111111111111111111111111"),
            U256::from(5),
            Bytes::from_static(&[0xab]),
        );
        op.factory = Some((
            address!("0x2222222222222222222222222222222222222222"),
            Bytes::from_static(&[1, 2]),
        ));
        let json = serde_json::to_value(RpcUserOperation::from(&op)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "sender": "0x1111111111111111111111111111111111111111",
                "nonce": "0x5",
                "factory": "0x2222222222222222222222222222222222222222",
                "factoryData": "0x0102",
                "callData": "0xab",
                "callGasLimit": "0x7a120",
                "verificationGasLimit": "0xf4240",
                "preVerificationGas": "0xea60",
                "maxFeePerGas": "0x77359400",
                "maxPriorityFeePerGas": "0x3b9aca00",
                "signature": "0x"
            })
        );
    }

    #[test]
    fn user_operation_round_trips_with_a_paymaster() {
        let mut op = UserOperation::new(Address::ZERO, U256::from(1), Bytes::new());
        op.paymaster = Some(Paymaster {
            address: address!("0x3333333333333333333333333333333333333333"),
            verification_gas_limit: 70_000,
            post_op_gas_limit: 10,
            data: Bytes::from_static(&[7]),
        });
        let rpc = RpcUserOperation::from(&op);
        let text = serde_json::to_string(&rpc).unwrap();
        let back: RpcUserOperation = serde_json::from_str(&text).unwrap();
        assert_eq!(UserOperation::try_from(&back).unwrap(), op);
    }

    #[test]
    fn gas_above_128_bits_is_refused_with_the_field_name() {
        let op = UserOperation::new(Address::ZERO, U256::ZERO, Bytes::new());
        let mut rpc = RpcUserOperation::from(&op);
        rpc.call_gas_limit = U256::MAX;
        let error = UserOperation::try_from(&rpc).unwrap_err();
        assert_eq!(error.field, "callGasLimit");
    }

    #[test]
    fn receipt_accepts_an_empty_reason_and_a_null_paymaster() {
        let receipt: UserOperationReceipt = serde_json::from_value(serde_json::json!({
            "userOpHash": format!("0x{}", "11".repeat(32)),
            "entryPoint": "0x0000000071727De22E5E9d8BAf0edAc6f37da032",
            "sender": "0x1111111111111111111111111111111111111111",
            "nonce": "0x1",
            "paymaster": null,
            "actualGasCost": "0x6f75ef8d",
            "actualGasUsed": "0x329af",
            "success": false,
            "reason": "",
            "logs": [],
            "receipt": {"transactionHash": format!("0x{}", "22".repeat(32)), "blockNumber": "0x5", "gasUsed": "0x329af"}
        }))
        .unwrap();
        assert_eq!(receipt.reason, None);
        assert_eq!(receipt.actual_gas_used, U256::from(0x329af));
        assert!(!receipt.success);
    }
}
