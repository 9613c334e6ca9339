// The sessionkeys engine in WebAssembly (crates/wasm): a module with three exports and no
// imports. `sk_alloc(len)` gives a buffer for a UTF-8 JSON request, `sk_call(ptr, len)` takes it
// and answers a u64 (the answer's address in the high 32 bits, its length in the low 32),
// `sk_free(ptr, len)` gives the answer back. Every answer is {"ok": …} or {"error": {code,
// message}}; this loader returns the `ok` value or throws an EngineError.

/** A request the engine refused: `code` is bad_request, bad_session, bad_ops, bad_usage,
 * bad_typed_data or digest_mismatch. */
export class EngineError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Instantiates the engine from the module's bytes (a `.wasm` file read by the caller, or
 * fetched in a browser) or from a compiled `WebAssembly.Module`.
 */
export async function loadEngine(source) {
  const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
  const instance = await WebAssembly.instantiate(module, {});
  const { memory, sk_alloc, sk_call, sk_free } = instance.exports;

  /** The raw answer text of one request (an object, or text sent as it is): what the case
   * file pins by its SHA-256. */
  function callRaw(request) {
    const bytes = encoder.encode(typeof request === 'string' ? request : JSON.stringify(request));
    const ptr = sk_alloc(bytes.length);
    new Uint8Array(memory.buffer, ptr, bytes.length).set(bytes);
    const packed = sk_call(ptr, bytes.length);
    const at = Number(packed >> 32n);
    const length = Number(packed & 0xffffffffn);
    // Copy out before freeing: the memory may grow (and move) on the next call.
    const text = decoder.decode(new Uint8Array(memory.buffer, at, length).slice());
    sk_free(at, length);
    return text;
  }

  function call(request) {
    const answer = JSON.parse(callRaw(request));
    if (answer.error) throw new EngineError(answer.error.code, answer.error.message);
    return answer.ok;
  }

  return {
    callRaw,
    sessionHash: (session) => call({ fn: 'sessionHash', session }),
    explain: (session, options = {}) => call({ fn: 'explain', session, ...options }),
    lint: (session, now) => call({ fn: 'lint', session, now }),
    typedData: (session, options) => call({ fn: 'typedData', session, ...options }),
    review: (typedData, options) => call({ fn: 'review', typedData, ...options }),
    revokeTypedData: (options) => call({ fn: 'revokeTypedData', ...options }),
    check: (session, ops, options) => call({ fn: 'check', session, ops, ...options }),
  };
}
