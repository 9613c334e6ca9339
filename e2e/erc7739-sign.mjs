// Builds ERC-7739 signatures with viem, the way a wallet library does, for the test that
// checks SessionAccount.isValidSignature accepts them (crates/chain/tests/e2e.rs).
//
// Usage: node e2e/erc7739-sign.mjs OWNER_KEY ACCOUNT CHAIN_ID
// Prints JSON: for a personal message and for Permit2-style typed data, the hash an app passes
// to isValidSignature and the wrapped signature.
import { hashMessage as appMessageHash, hashTypedData as appTypedDataHash } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hashMessage, hashTypedData, wrapTypedDataSignature } from "viem/experimental/erc7739";

const [key, account, chainId] = process.argv.slice(2);
if (!key || !account || !chainId) {
  console.error("usage: node e2e/erc7739-sign.mjs OWNER_KEY ACCOUNT CHAIN_ID");
  process.exit(2);
}
const owner = privateKeyToAccount(key);
// SessionAccount's ERC-5267 domain (eip712Domain()).
const verifierDomain = {
  name: "SessionAccount",
  version: "1",
  chainId: Number(chainId),
  verifyingContract: account,
  salt: "0x0000000000000000000000000000000000000000000000000000000000000000",
};

const message = "Sign in to app.example with this account";
const personal = {
  hash: appMessageHash(message),
  signature: await owner.sign({ hash: hashMessage({ message, verifierDomain }) }),
};

const permit = {
  domain: {
    name: "Permit2",
    chainId: Number(chainId),
    verifyingContract: "0x000000000022D473030F116dDEE9F6B43aC78BA3",
  },
  types: {
    PermitTransferFrom: [
      { name: "permitted", type: "TokenPermissions" },
      { name: "spender", type: "address" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
    TokenPermissions: [
      { name: "token", type: "address" },
      { name: "amount", type: "uint256" },
    ],
  },
  primaryType: "PermitTransferFrom",
  message: {
    permitted: { token: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", amount: 500000000n },
    spender: "0xb0b0000000000000000000000000000000000002",
    nonce: 7n,
    deadline: 2000000000n,
  },
};
const inner = await owner.sign({ hash: hashTypedData({ ...permit, verifierDomain }) });
const typed = {
  hash: appTypedDataHash(permit),
  signature: wrapTypedDataSignature({ ...permit, signature: inner }),
};

console.log(JSON.stringify({ owner: owner.address, personal, typed }));
