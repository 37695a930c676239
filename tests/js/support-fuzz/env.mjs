// The fuzz's knobs, read the same way by the Node and the workerd test: AICM_FUZZ_SEED (integer, default 20261202),
// AICM_FUZZ_CALLS (default 100000), AICM_FUZZ_MAX_WASM_MB (the wasm memory bound, default 64).

export const DEFAULT_SEED = 20261202;
export const DEFAULT_CALLS = 100000;

function intFrom(env, name, fallback) {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return n;
}

export function fuzzSettings(env) {
  return {
    seed: intFrom(env, 'AICM_FUZZ_SEED', DEFAULT_SEED),
    calls: intFrom(env, 'AICM_FUZZ_CALLS', DEFAULT_CALLS),
    maxWasmBytes: intFrom(env, 'AICM_FUZZ_MAX_WASM_MB', 64) * 1024 * 1024,
  };
}
