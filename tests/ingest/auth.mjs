// Bearer-key check of POST /track, with the service's two 401 messages.

export const CREDENTIALS_NOT_PROVIDED = 'Authentication credentials were not provided.';
export const INVALID_API_KEY = 'Invalid API key.';

const BEARER = /^bearer ([^\s]+)$/i;

/**
 * Checks an `Authorization` header value. Returns null when the request may go on, else the 401 detail:
 * missing header or not `Bearer <token>` → CREDENTIALS_NOT_PROVIDED; token ≠ `apiKey` (when `apiKey` is set) →
 * INVALID_API_KEY. With `requireAuth` false every request passes (proxy-mode tests).
 */
export function checkAuthorization(header, { apiKey = null, requireAuth = true } = {}) {
  if (!requireAuth) return null;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (match === null) return CREDENTIALS_NOT_PROVIDED;
  if (apiKey !== null && match[1] !== apiKey) return INVALID_API_KEY;
  return null;
}
