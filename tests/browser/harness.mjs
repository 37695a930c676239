// Runs in the test page (served by static-server.mjs): imports the package's browser entry (which instantiates
// the wasm with top-level await) and the shared store contract, and exposes them to idb.test.mjs on `window`:
//   window.pkg                      the package's exports (indexedDbStore among them)
//   window.runCase(name, options)   runs one contract case against indexedDbStore(options); resolves to
//                                   { ok: true } or { ok: false, message }
//   window.harnessReady             true once both imports have finished
import * as pkg from '/pkg/entries/web.js';
import { storeContract } from '/browser/store-contract.mjs';

function show(value) {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The assertions the contract cases use, throwing an Error that says what differed. */
const assert = {
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) throw new Error(message ?? `expected ${show(expected)}, got ${show(actual)}`);
  },
  deepEqual(actual, expected, message) {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      throw new Error(message ?? `expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  ok(value, message) {
    if (!value) throw new Error(message ?? `expected a truthy value, got ${show(value)}`);
  },
  async rejects(fn, ErrorClass) {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ErrorClass)) throw new Error(`expected a ${ErrorClass.name}, got ${err}`);
      return;
    }
    throw new Error(`expected a ${ErrorClass.name}, but it resolved`);
  },
};

let caseNumber = 0;

window.pkg = pkg;
window.contractNames = storeContract.map((c) => c.name);
window.runCase = async (name, options) => {
  const found = storeContract.find((c) => c.name === name);
  if (!found) return { ok: false, message: `no contract case named ${name}` };
  caseNumber += 1;
  const store = pkg.indexedDbStore(options);
  try {
    await found.run({ store, p: `c${caseNumber}-${Date.now()}/`, assert });
    return { ok: true, durability: store.durability, fallbackReason: store.fallbackReason };
  } catch (err) {
    return { ok: false, message: `${err?.message ?? err}` };
  }
};
window.harnessReady = true;
