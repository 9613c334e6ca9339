// Types of the sessionkeys engine's JavaScript package (index.mjs).

/** Session JSON (docs/session-format.md), as an object or a string of JSON. */
export type SessionJson = object | string;
/** An ops file (docs/simulate-format.md), as an object or a string of JSON. */
export type OpsJson = { ops: object[] } | string;
/** A usage file (docs/simulate-format.md), as an object or a string of JSON. */
export type UsageJson = object | string;
/** An address, 0x and 40 hex digits. */
export type Address = string;
/** Unix seconds. */
export type UnixSeconds = number;

export declare class EngineError extends Error {
  /** `bad_request`, `bad_session`, `bad_ops`, `bad_usage`, `bad_typed_data` (typed data that
   * is not the canonical enable approval) or `digest_mismatch` (it hashes to another digest
   * than the one expected: do not sign). */
  code: string;
}

export interface Explanation {
  /** Who, until when. */
  heading: string;
  /** What is allowed, riskiest first: 3 moves value without a cap, 2 within one, 1 other calls, 0 limits. */
  lines: { risk: 0 | 1 | 2 | 3; text: string }[];
  /** What a person should know besides. */
  notes: string[];
}

export interface Finding {
  /** A stable code, e.g. SK001 (docs/lint.md). */
  code: string;
  severity: 'error' | 'warning';
  /** Where in the session, e.g. callPolicies[0]. */
  location: string;
  message: string;
  /** How to fix it. */
  hint: string;
}

export interface OpVerdict {
  op: number;
  /** The time it was judged at. */
  time: UnixSeconds;
  /** `ok`, `refused: ErrorName(args)`, `entrypoint: …` or `signature failed`. */
  verdict: string;
  /** The validator's error name when it refused. */
  error?: string;
  /** Why, as a sentence; null when the op passed. */
  reason: string | null;
}

/** What an owner is asked to approve, read back from the enable typed data itself. */
export interface Review {
  account: Address;
  validator: Address;
  chains: { chainId: number; epoch: number }[];
  sessionHash: string;
  /** The EIP-712 digest, computed here from the typed data. */
  digest: string;
  /** The session as session JSON, every policy. */
  session: object;
  explanation: Explanation;
  lint: Finding[];
}

export interface CheckOptions {
  /** The time of the first op; an op's `at` moves it. */
  at: UnixSeconds;
  usage?: UsageJson;
  account?: Address;
  validator?: Address;
  chainId?: number;
  /** Wei, as a decimal string. */
  maxFeePerGas?: string;
  entryPoint?: 'v0.7' | 'v0.8';
}

export interface Engine {
  /** The raw answer text of a request ({fn, …}, or its JSON text sent as it is). */
  callRaw(request: object | string): string;
  /** The session hash the owner approves and the validator enforces. */
  sessionHash(session: SessionJson): string;
  /** The session in plain words; `tokens` the caller read from the chain. */
  explain(session: SessionJson, options?: { tokens?: { address: Address; symbol: string; decimals: number }[] }): Explanation;
  /** Common mistakes and dangerous scopes, judged at `now`. */
  lint(session: SessionJson, now: UnixSeconds): Finding[];
  /** The EIP-712 typed data the owner signs, and its digest. */
  typedData(session: SessionJson, options: { account: Address; validator: Address; chains: { chainId: number; epoch?: number }[] }): { typedData: object; digest: string };
  /** Reads the enable typed data a wallet is to sign back into what it approves (only the
   * canonical form is accepted) and computes its digest; throws `digest_mismatch` when
   * `expectedDigest` is given and differs. */
  review(typedData: object | string, options: { now: UnixSeconds; expectedDigest?: string; tokens?: { address: Address; symbol: string; decimals: number }[] }): Review;
  /** The owner's relayable revocation of `sessionHashes`, or of every session when left out. */
  revokeTypedData(options: { account: Address; validator: Address; chains: { chainId: number; epoch?: number }[]; sessionHashes?: string[] }): { typedData: object; digest: string };
  /** The verdict on each op, as `sessionkeys check` gives it; allowed ops' charges carry over. */
  check(session: SessionJson, ops: OpsJson, options: CheckOptions): { sessionHash: string; ops: OpVerdict[] };
}

/** Instantiates the engine from the module's bytes or a compiled module. */
export declare function loadEngine(source: BufferSource | WebAssembly.Module): Promise<Engine>;
