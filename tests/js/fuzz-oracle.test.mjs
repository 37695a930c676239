// The fuzz's oracle can fail: support-fuzz/run.mjs run on a plain-JavaScript Tracker that keeps the contract
// (support-fuzz/fake-tracker.mjs) finds nothing, and on each broken variant of it finds the failure of that class.
// Runs without the package or a network (the fake sends nothing); a few thousand calls each.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fakePackage } from './support-fuzz/fake-tracker.mjs';
import { formatFailures, reportUncaught, runFuzz } from './support-fuzz/run.mjs';

async function fuzzFake(broken, calls = 3000) {
  const onRejection = (e) => reportUncaught('unhandledRejection', e);
  process.on('unhandledRejection', onRejection);
  try {
    return await fuzzFakeRun(broken, calls);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

function fuzzFakeRun(broken, calls) {
  return runFuzz({
    pkg: fakePackage(broken),
    wasmMemoryBytes: () => 0,
    ingestUrl: 'http://127.0.0.1:9',
    refusedUrl: 'http://127.0.0.1:9',
    seed: 7,
    calls,
    marginMs: 300,
    roundTripEvery: 1e9,
  });
}

test('a tracker that keeps the contract passes the fuzz', async () => {
  const summary = await fuzzFake(null);
  assert.deepEqual(Object.keys(summary.failures), [], formatFailures(summary, 'fake'));
  assert.equal(summary.callsRun, 3000);
});

for (const [broken, cls] of [
  ['uncodedThrow', 'uncoded-throw'],
  ['hangingFlush', 'unsettled-promise'],
  ['rejectingDeadLetters', 'rejected-never-rejects'],
  ['trap', 'wasm-trap'],
  // ("unhandled" is not run here: node:test fails the test itself on an unhandled rejection, before the oracle could)
]) {
  test(`the fuzz finds a tracker whose ${broken} breaks the contract (${cls})`, async () => {
    const summary = await fuzzFake(broken);
    assert.ok(summary.failures[cls]?.count > 0, `expected ${cls}, got ${JSON.stringify(Object.keys(summary.failures))}`);
    assert.ok(summary.failures[cls].examples[0].repro.includes('t.'), 'the example carries a reproduction');
  });
}
