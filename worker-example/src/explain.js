// Why a record was not tracked, in one log line: the library's errors carry a stable `code`.

/**
 * Logs `err` (thrown by `new Tracker`, a sink/store factory or `track`) for the Worker's operator; `delivery`
 * is the chosen delivery (src/delivery.js), when there is one.
 */
export function explainTrackingError(err, delivery) {
  if (err instanceof TypeError) {
    console.error(`usage not tracked: ${delivery?.binding ?? err.message} (${err.message})`);
    return;
  }
  switch (err?.name === 'AicmError' ? err.code : undefined) {
    case 'E_MISSING_API_KEY':
      console.error('usage not tracked: set the AICM_API_KEY secret (wrangler secret put AICM_API_KEY)');
      break;
    case 'E_INVALID_USAGE':
    case 'E_NON_FINITE_NUMBER':
      console.warn(`usage not tracked: the LLM answer has no usable usage (${err.code}: ${err.message})`);
      break;
    case 'E_QUEUE_FULL':
      console.error(`usage not tracked: the outbox is full (${err.message})`);
      break;
    case undefined:
      console.error(`usage not tracked: unexpected error: ${err?.stack ?? err}`);
      break;
    default:
      console.warn(`usage not tracked: ${err.code}: ${err.message}`);
  }
}
