// The project's own implementation of the `/track` service (shared/wire-contract.md §1-2), for tests and the demo.
// Start it, point a tracker at `trackUrl`, assert on `accepted()` / `requests()`, inject faults with `setFaults()`.

import http from 'node:http';

import { handleControl, isControlPath } from './control.mjs';
import { FaultPlan } from './faults.mjs';
import { PREFLIGHT_HEADERS, sendEmpty, sendJson } from './http-io.mjs';
import { IngestState } from './state.mjs';
import { handleTrack } from './track.mjs';

const DEFAULT_OPTIONS = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  apiKey: null, // when set, the Bearer token must equal it
  requireAuth: true, // false: any request passes (proxy-mode tests)
  pathPrefix: '/api/v1',
  maxBodyBytes: null, // bodies over it → 413
  triggeredLimits: null, // when not null, included in 202 replies as "triggered_limits"
  onRequest: null, // (entry) => void, after each /track request is answered (the CLI logs with it)
});

function normalizeOptions(options) {
  const unknown = Object.keys(options).filter((key) => !(key in DEFAULT_OPTIONS));
  if (unknown.length > 0) throw new TypeError(`startIngestServer: unknown option(s) ${unknown.join(', ')}`);
  const config = { ...DEFAULT_OPTIONS, ...options };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new TypeError('startIngestServer: port must be an integer 0..65535');
  }
  if (config.apiKey !== null && (typeof config.apiKey !== 'string' || config.apiKey === '')) {
    throw new TypeError('startIngestServer: apiKey must be a non-empty string or null');
  }
  if (config.maxBodyBytes !== null && (!Number.isInteger(config.maxBodyBytes) || config.maxBodyBytes < 0)) {
    throw new TypeError('startIngestServer: maxBodyBytes must be a non-negative integer or null');
  }
  if (config.onRequest !== null && typeof config.onRequest !== 'function') {
    throw new TypeError('startIngestServer: onRequest must be a function or null');
  }
  const prefix = String(config.pathPrefix).replace(/\/+$/, '');
  config.pathPrefix = prefix === '' || prefix.startsWith('/') ? prefix : `/${prefix}`;
  config.requireAuth = config.requireAuth !== false;
  return config;
}

function urlHost(host) {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Timers that `close()` can cancel: `sleep(ms)` resolves true after ms, or false when cancelled. */
function createSleeper() {
  const pending = new Set();
  return {
    sleep(ms) {
      return new Promise((resolve) => {
        const entry = { resolve };
        entry.timer = setTimeout(() => {
          pending.delete(entry);
          resolve(true);
        }, ms);
        pending.add(entry);
      });
    },
    cancelAll() {
      for (const entry of pending) {
        clearTimeout(entry.timer);
        entry.resolve(false);
      }
      pending.clear();
    },
  };
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts the ingest server and resolves once it listens. Rejects when the port cannot be bound; throws TypeError on
 * bad options. See DEFAULT_OPTIONS for the options. The handle:
 *   url, trackUrl, port          where it listens ('http://127.0.0.1:PORT', url + pathPrefix + '/track')
 *   close()                      stops listening, drops open connections, cancels slow replies; resolves when closed
 *   accepted()                   stored records in accept order, as parsed JSON (copies)
 *   requests()                   every /track request: { method, path, headers: {authorization, content-type,
 *                                user-agent, origin}, bodyText, bodyBytes, status (null = no reply), fault, at }
 *   stats()                      { requests, accepted, duplicates, rejected, preflights, byStatus }
 *   setFaults(spec)              replaces the faults (faults.mjs); throws TypeError on a bad spec
 *   faults()                     the pending faults
 *   setTriggeredLimits(value)    what 202 replies carry as "triggered_limits" (null = none)
 *   reset()                      clears records, requests, counters and faults; triggered limits back to the option
 */
export async function startIngestServer(options = {}) {
  const config = normalizeOptions(options);
  const state = new IngestState();
  const faults = new FaultPlan();
  const sleeper = createSleeper();
  let triggeredLimits = config.triggeredLimits;
  const trackPath = `${config.pathPrefix}/track`;
  const ctx = {
    config,
    state,
    faults,
    sleep: sleeper.sleep,
    triggeredLimits: () => triggeredLimits,
    onRequest: (entry) => config.onRequest?.(entry),
  };

  const handle = {
    url: '',
    trackUrl: '',
    port: 0,
    accepted: () => state.accepted(),
    requests: () => state.requests(),
    stats: () => state.stats(),
    setFaults: (spec) => faults.replace(spec),
    faults: () => faults.describe(),
    setTriggeredLimits: (value) => {
      triggeredLimits = value === undefined ? null : structuredClone(value);
    },
    reset: () => {
      state.clear();
      faults.clear();
      triggeredLimits = config.triggeredLimits;
    },
    close: () => close(),
  };

  async function route(req, res) {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'OPTIONS') {
      if (path === trackPath) state.countPreflight();
      req.resume();
      sendEmpty(res, 204, PREFLIGHT_HEADERS);
    } else if (path === trackPath) {
      await handleTrack(req, res, ctx);
    } else if (isControlPath(path)) {
      await handleControl(req, res, path, handle);
    } else {
      req.resume();
      sendJson(res, 404, { detail: 'Not found.' });
    }
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((error) => {
      process.stderr.write(`ingest: internal error: ${error?.stack ?? error}\n`);
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { detail: 'Internal ingest server error.' });
    });
  });

  // Idle connections stay open for two minutes (Node's default is 5 s): a test that keeps the event loop busy
  // for longer (the wasm heap test) must not make the next request meet a socket the server just closed, which
  // fetch reports as a network error and the tracker rightly retries, changing the attempt count a test asserts.
  server.keepAliveTimeout = 120_000;

  let closing = null;
  function close() {
    closing ??= new Promise((resolve) => {
      sleeper.cancelAll();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  }

  await listen(server, config.port, config.host);
  handle.port = server.address().port;
  handle.url = `http://${urlHost(config.host)}:${handle.port}`;
  handle.trackUrl = `${handle.url}${trackPath}`;
  return handle;
}
