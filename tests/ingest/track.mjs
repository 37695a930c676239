// POST {pathPrefix}/track: faults, auth, size, JSON, validation, dedupe, storage, reply; one log entry per request.

import { checkAuthorization } from './auth.mjs';
import { INJECTED_RECORD_ERROR, echoKeyReply } from './faults.mjs';
import { decodeUtf8, parseJson, readBody, sendJson, sendText } from './http-io.mjs';
import { checkEnvelope, checkRecord, isKnownServiceKey, unknownServiceKeyMessage } from './validate.mjs';

/** The body of a `badJson` fault: a truncated, unparseable 202. */
export const BAD_JSON_BODY = '{"results": [';

const LOGGED_HEADERS = ['authorization', 'content-type', 'user-agent', 'origin'];

function reply(status, body, headers = {}) {
  return { status, body, headers };
}

/** Indexes of the records a `recordError` fault turns into errors (empty set without such a fault). */
function injectedErrorIndexes(tracked, fault) {
  if (fault?.kind !== 'recordError') return new Set();
  if (fault.responseIds !== null) {
    const ids = new Set(fault.responseIds);
    return new Set(tracked.flatMap((record, i) => (ids.has(record.response_id) ? [i] : [])));
  }
  return new Set(tracked.slice(0, fault.count).map((_, i) => i));
}

/** Answers one valid record: injected error (not stored), repeated answer for a duplicate, or store it. */
function acceptRecord(record, injectError, state) {
  const responseId = record.response_id;
  if (injectError) {
    state.countRejected(1);
    return { response_id: responseId, status: 'error', errors: [INJECTED_RECORD_ERROR] };
  }
  const previous = state.storedResult(responseId);
  if (previous !== undefined) {
    state.countDuplicate();
    return previous;
  }
  const result = isKnownServiceKey(record.service_key)
    ? { response_id: responseId, status: 'queued' }
    : { response_id: responseId, status: 'service_key_unknown', errors: [unknownServiceKeyMessage(record.service_key)] };
  state.store(record, result);
  return result;
}

/**
 * Decides the reply to a POST /track whose fault (if any) lets it be processed, storing what is accepted.
 * Order: auth (401) → size (413) → JSON (400) → envelope (422 detail) → records (422 results, nothing stored) → 202.
 * `request` = `{ authorization, buffer, tooLarge }`; returns `{ status, body, headers }`.
 */
export function processTrack(request, ctx, fault) {
  const authError = checkAuthorization(request.authorization, ctx.config);
  if (authError !== null) return reply(401, { detail: authError }, { 'www-authenticate': 'Bearer' });
  if (request.tooLarge) return reply(413, { detail: 'Request body too large.' });
  const text = decodeUtf8(request.buffer);
  const parsed = text === null ? { ok: false } : parseJson(text);
  if (!parsed.ok) return reply(400, { detail: 'Invalid JSON body.' });
  const envelopeError = checkEnvelope(parsed.value);
  if (envelopeError !== null) return reply(422, { detail: envelopeError });

  const { tracked } = parsed.value;
  const invalid = tracked.map(checkRecord).filter((check) => check.errors.length > 0);
  if (invalid.length > 0) {
    ctx.state.countRejected(invalid.length);
    return reply(422, {
      results: invalid.map(({ responseId, errors }) => ({ response_id: responseId, status: 'error', errors })),
    });
  }
  const injected = injectedErrorIndexes(tracked, fault);
  const body = { results: tracked.map((record, i) => acceptRecord(record, injected.has(i), ctx.state)) };
  const limits = ctx.triggeredLimits();
  if (limits !== null && limits !== undefined) body.triggered_limits = limits;
  return reply(202, body);
}

function sendFaultStatus(res, fault) {
  if (typeof fault.body === 'string') sendText(res, fault.status, fault.body, fault.headers);
  else sendJson(res, fault.status, fault.body, fault.headers);
}

/**
 * Handles any non-OPTIONS request to the /track path (non-POST → 405). Consumes one fault per POST, reads the
 * whole body, then replies (or deliberately does not). Logs the request with the status sent (null = none).
 * Never throws for client behaviour: a client leaving mid-body is logged with status null.
 */
export async function handleTrack(req, res, ctx) {
  const entry = {
    method: req.method,
    path: req.url,
    headers: Object.fromEntries(LOGGED_HEADERS.map((name) => [name, req.headers[name] ?? null])),
    bodyText: null,
    bodyBytes: 0,
    status: null,
    fault: null,
    at: Date.now(),
  };
  const finish = (status) => {
    entry.status = status;
    ctx.state.logRequest(entry);
    ctx.onRequest(structuredClone(entry));
  };
  let clientGone = false;
  res.once('close', () => {
    if (!res.writableFinished) clientGone = true;
  });
  const fault = req.method === 'POST' ? ctx.faults.next() : null;
  entry.fault = fault === null ? null : fault.kind;

  let body;
  try {
    body = await readBody(req, ctx.config.maxBodyBytes);
  } catch {
    return finish(null);
  }
  entry.bodyBytes = body.bytes;
  entry.bodyText = body.buffer === null ? null : body.buffer.toString('utf8');

  if (req.method !== 'POST') {
    sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` }, { allow: 'POST, OPTIONS' });
    return finish(405);
  }
  if (fault?.kind === 'drop' && !fault.afterAccept) {
    req.socket.destroy();
    return finish(null);
  }
  if (fault?.kind === 'status') {
    sendFaultStatus(res, fault);
    return finish(fault.status);
  }
  if (fault?.kind === 'echoKey') {
    let tracked = [];
    try {
      tracked = JSON.parse(entry.bodyText ?? '').tracked ?? [];
    } catch {
      tracked = [];
    }
    const reply = echoKeyReply(fault, req.headers.authorization, Array.isArray(tracked) ? tracked : []);
    sendJson(res, reply.status, reply.body);
    return finish(reply.status);
  }
  if (fault?.kind === 'slow') {
    const waited = await ctx.sleep(fault.delayMs);
    if (!waited || clientGone || req.socket.destroyed) return finish(null);
  }

  const request = { authorization: req.headers.authorization, buffer: body.buffer, tooLarge: body.tooLarge };
  const outcome = processTrack(request, ctx, fault);
  if (fault?.kind === 'drop') {
    req.socket.destroy();
    return finish(null);
  }
  if (fault?.kind === 'badJson' && outcome.status === 202) sendText(res, 202, BAD_JSON_BODY);
  else sendJson(res, outcome.status, outcome.body, outcome.headers);
  return finish(outcome.status);
}
