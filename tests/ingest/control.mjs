// Control endpoints, so browser tests and the demo can steer and inspect the server over HTTP (CORS like the rest):
//   GET  /healthz                    → {"status":"ok"}
//   GET  /__control/accepted         → stored records, accept order
//   GET  /__control/requests         → the /track request log
//   GET  /__control/stats            → counters
//   GET  /__control/faults           → pending faults
//   POST /__control/faults           body: fault spec (see faults.mjs) → {"ok":true,"faults":...}; bad spec → 400
//   POST /__control/reset            → clears records, log, counters, faults, triggered limits
//   POST /__control/triggered-limits body: JSON value put in 202 replies as "triggered_limits" (null = leave out)

import { decodeUtf8, parseJson, readBody, sendJson } from './http-io.mjs';

const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

async function readJsonBody(req) {
  const body = await readBody(req, MAX_CONTROL_BODY_BYTES);
  if (body.tooLarge) return { ok: false, detail: 'Request body too large.' };
  if (body.bytes === 0) return { ok: true, value: null };
  const text = decodeUtf8(body.buffer);
  const parsed = text === null ? { ok: false } : parseJson(text);
  return parsed.ok ? parsed : { ok: false, detail: 'Invalid JSON body.' };
}

const ROUTES = {
  'GET /healthz': (server) => ({ status: 'ok' }),
  'GET /__control/accepted': (server) => server.accepted(),
  'GET /__control/requests': (server) => server.requests(),
  'GET /__control/stats': (server) => server.stats(),
  'GET /__control/faults': (server) => server.faults(),
  'POST /__control/faults': (server, value) => {
    server.setFaults(value);
    return { ok: true, faults: server.faults() };
  },
  'POST /__control/reset': (server) => {
    server.reset();
    return { ok: true };
  },
  'POST /__control/triggered-limits': (server, value) => {
    server.setTriggeredLimits(value);
    return { ok: true };
  },
};

/** True for paths this module answers (any method). */
export function isControlPath(path) {
  return path === '/healthz' || path.startsWith('/__control/');
}

/**
 * Answers a request to a control path using `server` (the handle returned by startIngestServer).
 * Unknown control path → 404, wrong method → 405, bad JSON → 400, rejected fault spec → 400 with its message.
 */
export async function handleControl(req, res, path, server) {
  const route = ROUTES[`${req.method} ${path}`];
  let body = { ok: true, value: null };
  try {
    body = await readJsonBody(req);
  } catch {
    return; // client left mid-body
  }
  if (route === undefined) {
    const known = Object.keys(ROUTES).some((key) => key.endsWith(` ${path}`));
    if (known) sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
    else sendJson(res, 404, { detail: 'Not found.' });
    return;
  }
  if (!body.ok) {
    sendJson(res, 400, { detail: body.detail });
    return;
  }
  try {
    sendJson(res, 200, route(server, body.value));
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    sendJson(res, 400, { detail: error.message });
  }
}
