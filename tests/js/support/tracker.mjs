// Shared helpers for the package tests (tracker.test.mjs, faults.test.mjs): a tracker pointed at the local
// ingest server with fast retries, what the server received, and checks for the library's coded errors.

import assert from 'node:assert/strict';

import { Tracker } from 'aicostmanager-edge';

/** The API key every test server requires and every test tracker sends. */
export const KEY = 'test-key';

/** Options that keep retries and timeouts short, so a test never waits long for a retry. */
export const FAST = Object.freeze({
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 5,
  maxRetryAfterMs: 50,
  timeoutMs: 2000,
});

/** A tracker that talks to `ingest` with the test key and FAST retries; `options` override any of them. */
export function makeTracker(ingest, options = {}) {
  return new Tracker({ apiKey: KEY, apiBase: ingest.url, ...FAST, ...options });
}

/**
 * The records of every /track request the server logged, one array per request, parsed from the body; null
 * for a request whose body the server did not keep (a 413 over its maxBodyBytes).
 */
export function sentBodies(ingest) {
  return ingest.requests().map((request) => (request.bodyText === null ? null : JSON.parse(request.bodyText).tracked));
}

/** The single record the server received in its single request; fails when there were more or fewer. */
export function onlySentRecord(ingest) {
  const bodies = sentBodies(ingest);
  assert.equal(bodies.length, 1, 'exactly one request');
  assert.equal(bodies[0].length, 1, 'exactly one record in it');
  return bodies[0][0];
}

/**
 * Asserts that `fn()` throws synchronously an `Error` named "AicmError" with `code`, whose message matches
 * `message` (a RegExp, when given). Returns the error. A returned promise (even a rejecting one) is a failure:
 * validation errors must be thrown, not delivered later. `label` prefixes failure messages (table tests).
 */
export function assertThrowsAicm(fn, code, message, label = '') {
  const where = label === '' ? '' : `${label}: `;
  let returned;
  let caught = null;
  try {
    returned = fn();
  } catch (error) {
    caught = error;
  }
  if (caught === null) {
    returned?.catch?.(() => {}); // a rejected promise here must not also crash the run as unhandled
    assert.fail(`${where}expected a synchronous AicmError ${code}, but the call returned ${typeof returned}`);
  }
  assert.ok(caught instanceof Error, `${where}expected an Error, got ${String(caught)}`);
  assert.equal(caught.name, 'AicmError', `${where}${caught.message}`);
  assert.equal(caught.code, code, `${where}${caught.message}`);
  if (message !== undefined) assert.match(caught.message, message, `${where}message ${JSON.stringify(caught.message)}`);
  return caught;
}

/**
 * A `fetch` for the tracker's `fetch` option that records every call (url and init) and then hands it to
 * `next` (default: the global fetch). `calls` is the list of `{ url, init }`.
 */
export function recordingFetch(next = (url, init) => globalThis.fetch(url, init)) {
  const calls = [];
  const fetch = (url, init) => {
    calls.push({ url, init });
    return next(url, init);
  };
  return { fetch, calls };
}

/** A result that `track()` resolves to for a record the server accepted on the first attempt. */
export function assertQueued(result, attempts = 1) {
  assert.equal(result.status, 'queued', JSON.stringify(result));
  assert.equal(result.error, null);
  assert.equal(result.attempts, attempts);
}
