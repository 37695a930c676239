// Reading request bodies and writing replies, with the CORS headers every reply carries.

/** Headers on every reply, so a test page on another origin can read the reply (and its Retry-After). */
export const CORS_HEADERS = Object.freeze({
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after',
});

/** Extra headers of the answer to an `OPTIONS` preflight (on any path). */
export const PREFLIGHT_HEADERS = Object.freeze({
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-max-age': '600',
});

/**
 * Reads the whole request body. Past `maxBytes` (when not null) the rest is read and thrown away,
 * so the client can finish sending before it gets its 413.
 * Resolves to `{ buffer, bytes, tooLarge }` (`buffer` is null when too large).
 * Rejects when the client goes away before the body ends.
 */
export async function readBody(req, maxBytes = null) {
  const chunks = [];
  let bytes = 0;
  for await (const chunk of req) {
    bytes += chunk.length;
    if (maxBytes === null || bytes <= maxBytes) chunks.push(chunk);
  }
  const tooLarge = maxBytes !== null && bytes > maxBytes;
  return { buffer: tooLarge ? null : Buffer.concat(chunks), bytes, tooLarge };
}

/** Decodes strict UTF-8 (a BOM is kept, so JSON.parse rejects it like Python's json.loads). Returns null on bad bytes. */
export function decodeUtf8(buffer) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer);
  } catch {
    return null;
  }
}

/** Parses JSON text; returns `{ ok: true, value }` or `{ ok: false }`. */
export function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Sends `text` as-is with status and headers (CORS included; `headers` win on conflicts). */
export function sendText(res, status, text, headers = {}) {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, {
    ...CORS_HEADERS,
    'content-type': 'application/json',
    'content-length': String(body.length),
    ...headers,
  });
  res.end(body);
}

/** Sends `value` as compact JSON. */
export function sendJson(res, status, value, headers = {}) {
  sendText(res, status, JSON.stringify(value), headers);
}

/** Sends a reply without a body (204 preflight). */
export function sendEmpty(res, status, headers = {}) {
  res.writeHead(status, { ...CORS_HEADERS, ...headers });
  res.end();
}
