// Validation of a POST /track body, shaped like the service: pydantic TrackRequest (extra=forbid) for the envelope,
// then one list of errors per record. Pure functions, no state.

const ENVELOPE_FIELDS = new Set(['tracked', 'skip_limits']);
const RECORD_FIELDS = new Set([
  'service_key', 'response_id', 'timestamp', 'payload', 'customer_key', 'context',
  'api_id', // not sent by the SDK; raw-httpx tests add it and the service tolerates it
]);

/** Python's `str(float)` of epoch seconds, as the SDK sends it: "1736937000.0", "1795310876.161856". */
const EPOCH_FLOAT = /^\d+\.\d+$/;
/** ISO-8601 date-time with a zone (a naive time would be read as the sender's local time, so it is refused). */
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2}):?(\d{2}))$/;

/** True for a JSON object (not null, not an array). */
export function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasField(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function daysInMonth(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** True when `value` is a timestamp string the service accepts: float epoch seconds or ISO-8601 with a zone. */
export function isAcceptedTimestamp(value) {
  if (typeof value !== 'string') return false;
  if (EPOCH_FLOAT.test(value)) return Number.isFinite(Number(value));
  const m = ISO_WITH_ZONE.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const zoneHours = m[7] === undefined ? 0 : Number(m[7]);
  const zoneMinutes = m[8] === undefined ? 0 : Number(m[8]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)
    && hour <= 23 && minute <= 59 && second <= 59 && zoneHours <= 23 && zoneMinutes <= 59;
}

/**
 * Checks the envelope `{tracked: [..≥1], skip_limits?: bool}`. Returns null when fine, else the 422 detail string.
 * Records themselves are checked by `checkRecord`.
 */
export function checkEnvelope(body) {
  if (!isPlainObject(body)) return 'Request body must be a JSON object.';
  for (const key of Object.keys(body)) {
    if (!ENVELOPE_FIELDS.has(key)) return `Unexpected field '${key}'.`;
  }
  if (!hasField(body, 'tracked')) return "Field 'tracked' is required.";
  if (!Array.isArray(body.tracked)) return "Field 'tracked' must be a list.";
  if (body.tracked.length === 0) return "Field 'tracked' must contain at least 1 record.";
  if (hasField(body, 'skip_limits') && typeof body.skip_limits !== 'boolean') {
    return "Field 'skip_limits' must be a boolean.";
  }
  return null;
}

function checkResponseId(record, errors) {
  if (!hasField(record, 'response_id') || record.response_id === null || record.response_id === '') {
    errors.push('Missing response_id.');
  } else if (typeof record.response_id !== 'string') {
    errors.push("Field 'response_id' must be a string.");
  }
}

function checkRequiredString(record, key, errors) {
  if (!hasField(record, key) || record[key] === null) errors.push(`Missing ${key}.`);
  else if (typeof record[key] !== 'string' || record[key] === '') errors.push(`Field '${key}' must be a non-empty string.`);
}

function checkTimestamp(record, errors) {
  if (!hasField(record, 'timestamp') || record.timestamp === null) {
    errors.push('Missing timestamp.');
  } else if (!isAcceptedTimestamp(record.timestamp)) {
    errors.push(`Invalid timestamp ${JSON.stringify(record.timestamp)}: expected epoch seconds as a string `
      + '("1736937000.0") or ISO-8601 with a zone ("2025-01-15T10:30:00Z").');
  }
}

function checkOptional(record, key, isValid, what, errors) {
  if (hasField(record, key) && !isValid(record[key])) errors.push(`Field '${key}' must be ${what} when present.`);
}

/**
 * Checks one entry of `tracked` (index = its position, from 0). Returns `{ responseId, errors }`; `errors` is empty
 * when the record is valid. A record without a usable string response_id is named "UNKNOWN-RESPONSE-<index>".
 */
export function checkRecord(record, index) {
  const unknownId = `UNKNOWN-RESPONSE-${index}`;
  if (!isPlainObject(record)) return { responseId: unknownId, errors: ['Record must be a JSON object.'] };
  const errors = [];
  checkResponseId(record, errors);
  checkRequiredString(record, 'service_key', errors);
  checkTimestamp(record, errors);
  if (!hasField(record, 'payload') || record.payload === null) errors.push('Missing payload.');
  else if (!isPlainObject(record.payload)) errors.push("Field 'payload' must be an object.");
  checkOptional(record, 'customer_key', (v) => typeof v === 'string', 'a string', errors);
  checkOptional(record, 'context', isPlainObject, 'an object', errors);
  for (const key of Object.keys(record)) {
    if (!RECORD_FIELDS.has(key)) errors.push(`Unexpected field '${key}'.`);
  }
  const usableId = typeof record.response_id === 'string' && record.response_id !== '';
  return { responseId: usableId ? record.response_id : unknownId, errors };
}

/** True when the service recognises the key's shape (`vendor::service`); others are stored as "service_key_unknown". */
export function isKnownServiceKey(serviceKey) {
  return serviceKey.includes('::');
}

/** The per-record message of a `service_key_unknown` result. */
export function unknownServiceKeyMessage(serviceKey) {
  return `Service key '${serviceKey}' is not recognized. Event queued for review.`;
}
