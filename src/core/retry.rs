//! What one HTTP attempt's outcome means, and how long to wait before the next attempt.
//!
//! This module only decides; it never sleeps, reads the clock or draws random numbers. The caller passes
//! `now_ms` (epoch milliseconds) and `jitter` (a uniform draw in `[0, 1)`).
//!
//! Classification (see [`classify`]):
//! - 2xx: [`OutcomeClass::Success`].
//! - network error, timeout, 408, 429, 5xx: [`OutcomeClass::Retryable`]. They can succeed later. Retrying is
//!   safe because every record keeps its `response_id`, which the service uses as an idempotency key.
//! - 413: [`OutcomeClass::TooLarge`]: split the batch (a single record cannot be split: it fails).
//! - everything else (other 4xx including 422, 1xx, 3xx, out-of-range codes): [`OutcomeClass::Permanent`].
//!
//! Delay before the next attempt (see [`retry_delay_ms`]): a parseable `Retry-After` on a retryable answer
//! wins, capped at [`RetryPolicy::max_retry_after_ms`]; otherwise exponential backoff with full jitter
//! ([`backoff_delay_ms`]).

use crate::core::error::DeliveryError;
use crate::core::response;
use crate::core::timestamp;

/// How many times to try and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total HTTP attempts for one body, the first included. 0 is treated as 1; [`UNLIMITED_ATTEMPTS`] never
    /// runs out (the persistent queue's default: only age ends its retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt is drawn from `[0, base_delay_ms)`; it doubles each attempt.
    pub base_delay_ms: u64,
    /// Upper bound of the backoff window.
    pub max_delay_ms: u64,
    /// A longer `Retry-After` from the server is cut to this.
    pub max_retry_after_ms: u64,
}

impl RetryPolicy {
    /// `deliveryType: "immediate"` (the caller waits): 3 attempts (upstream's hard-coded 3), backoff from 0.5 s up
    /// to 30 s, `Retry-After` capped at 60 s. The product's default, and [`RetryPolicy::default`].
    pub const IMMEDIATE: RetryPolicy =
        RetryPolicy { max_attempts: 3, base_delay_ms: 500, max_delay_ms: 30_000, max_retry_after_ms: 60_000 };
    /// `deliveryType: "persistent_queue"`: attempts without limit ([`UNLIMITED_ATTEMPTS`]: an outage of any length
    /// dead-letters nothing; a record that keeps failing is dead-lettered by `maxAgeMs`, reported), backoff from
    /// 2 s (upstream's queue waits 2, 4, 8, 16 s) up to 5 min, `Retry-After` capped at 60 s: retries spread over
    /// many flushes, one every 2.5 to 5 minutes once the backoff is at its cap. The product's default and
    /// [`crate::core::outbox::OutboxConfig::new`]'s.
    pub const QUEUE: RetryPolicy =
        RetryPolicy { max_attempts: UNLIMITED_ATTEMPTS, base_delay_ms: 2_000, max_delay_ms: 300_000, max_retry_after_ms: 60_000 };
}

/// [`RetryPolicy::max_attempts`] that never runs out: retryable failures (network, timeout, 408, 429, 5xx) are
/// retried at the backoff's pace for as long as the record may live. The persistent queue's default.
pub const UNLIMITED_ATTEMPTS: u32 = u32::MAX;

impl Default for RetryPolicy {
    /// [`RetryPolicy::IMMEDIATE`]: 3 attempts, 500 ms base, 30 s maximum backoff, `Retry-After` capped at 60 s.
    fn default() -> Self {
        RetryPolicy::IMMEDIATE
    }
}

/// What the bindings observed after one `fetch` attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// The server answered. `retry_after` is the raw `Retry-After` header when present; `body` is the full
    /// text the bindings read (they must read or cancel every body).
    Response { status: u16, retry_after: Option<String>, body: String },
    /// `fetch` rejected before any response (DNS, refused or dropped connection, CORS).
    Network { message: String },
    /// No response within `timeout_ms` (the bindings aborted the request, or a sink's `send` did not settle).
    Timeout { timeout_ms: u64 },
    /// A sink (a Cloudflare Queue, a Durable Object outbox: the tracker's `sink` option) took every record
    /// of the body: its `send` resolved. Nothing was POSTed; the records are the sink's now.
    HandedOff,
    /// A sink's `send` threw or rejected: it took none of the records (its contract), so they are retried
    /// like after a network error. `message` names the sink and says why.
    SinkFailed { message: String },
}

impl HttpOutcome {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpOutcome::Response { status, .. } => Some(*status),
            HttpOutcome::Network { .. } | HttpOutcome::Timeout { .. } | HttpOutcome::HandedOff | HttpOutcome::SinkFailed { .. } => None,
        }
    }
}

/// What to do with an [`HttpOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    /// 2xx: read the reply.
    Success,
    /// Network error, timeout, 408, 429 or 5xx: try again later, if attempts remain.
    Retryable,
    /// 413: the body is too large; split it (a single record fails).
    TooLarge,
    /// Any other status: retrying the same body cannot help.
    Permanent,
}

/// Classifies an HTTP status code (see the module docs).
pub fn classify_status(status: u16) -> OutcomeClass {
    match status {
        200..=299 => OutcomeClass::Success,
        408 | 429 | 500..=599 => OutcomeClass::Retryable,
        413 => OutcomeClass::TooLarge,
        _ => OutcomeClass::Permanent,
    }
}

/// Classifies one attempt's outcome: network errors, timeouts and failed sink hand-offs are
/// [`OutcomeClass::Retryable`], a hand-off [`OutcomeClass::Success`]; a response by its status ([`classify_status`]).
pub fn classify(outcome: &HttpOutcome) -> OutcomeClass {
    match outcome {
        HttpOutcome::Response { status, .. } => classify_status(*status),
        HttpOutcome::HandedOff => OutcomeClass::Success,
        HttpOutcome::Network { .. } | HttpOutcome::Timeout { .. } | HttpOutcome::SinkFailed { .. } => {
            OutcomeClass::Retryable
        }
    }
}

/// How many characters of a response body an error keeps (the "…" that marks a cut included).
pub const BODY_EXCERPT_CHARS: usize = 512;

/// `body` when it has at most [`BODY_EXCERPT_CHARS`] characters, else its start cut on a character boundary
/// and marked with "…", [`BODY_EXCERPT_CHARS`] characters in all.
pub fn body_excerpt(body: &str) -> String {
    if body.chars().nth(BODY_EXCERPT_CHARS).is_none() {
        return body.to_owned();
    }
    response::body_excerpt(body, BODY_EXCERPT_CHARS - 1)
}

/// The error a record carries when this outcome is the last word on it: `Network`, `Timeout`, or
/// `HttpStatus` with a body excerpt. (A 2xx maps to `HttpStatus` too; callers handle success before.)
pub fn outcome_error(outcome: &HttpOutcome) -> DeliveryError {
    match outcome {
        HttpOutcome::Response { status, body, .. } => {
            DeliveryError::HttpStatus { status: *status, body: body_excerpt(body) }
        }
        HttpOutcome::Network { message } => DeliveryError::Network { message: message.clone() },
        HttpOutcome::Timeout { timeout_ms } => DeliveryError::Timeout { timeout_ms: *timeout_ms },
        HttpOutcome::SinkFailed { message } => DeliveryError::Sink { message: message.clone() },
        // Never the last word on a record (it is a success); kept total rather than panicking.
        HttpOutcome::HandedOff => DeliveryError::Sink { message: "the sink took the records".to_owned() },
    }
}

/// Texts in a network error's message that say the request never left (case-insensitive): DNS failures,
/// refused or unreachable connections, TLS and URL errors. Any other network error may have happened after
/// the server read the request.
const NEVER_SENT_MARKERS: &[&str] = &[
    "econnrefused", "connection refused", "enotfound", "eai_again", "getaddrinfo", "enetunreach", "ehostunreach",
    "invalid url", "err_invalid_url", "certificate", "cert_", "err_tls", "ssl", "self signed", "self-signed",
];

/// True when the records of an attempt that ended with `outcome` may have been accepted by the server
/// although the outcome does not say which: a timeout (the server may have stored them and answered too
/// late), a network error other than one that shows the request never left ([`NEVER_SENT_MARKERS`]: a
/// dropped connection, a reset, a browser's bare "Failed to fetch"), or a 2xx (the server took the request;
/// a record it gave no readable result for may still be stored). Any other HTTP status: `false` (the
/// server answered that it did not take them).
///
/// A record that runs out of attempts after such an outcome is reported `unknown`, not `failed`.
pub fn may_have_been_accepted(outcome: &HttpOutcome) -> bool {
    match outcome {
        HttpOutcome::Timeout { .. } => true,
        HttpOutcome::Network { message } => {
            let message = message.to_ascii_lowercase();
            !NEVER_SENT_MARKERS.iter().any(|marker| message.contains(marker))
        }
        HttpOutcome::Response { status, .. } => classify_status(*status) == OutcomeClass::Success,
        HttpOutcome::HandedOff => true,
        // A sink that rejects took none of the records (its contract).
        HttpOutcome::SinkFailed { .. } => false,
    }
}

/// Reads a `Retry-After` header value as milliseconds to wait from `now_ms`.
///
/// - delta-seconds (`"120"`, surrounding whitespace allowed) → seconds × 1000, saturating;
/// - an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`) → milliseconds until then, 0 when it is past;
/// - anything else (negative or fractional numbers, garbage, empty) → `None`: the caller falls back to backoff.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and a huge wait is a wait capped by the caller.
        let seconds = trimmed.parse::<u64>().unwrap_or(u64::MAX);
        return Some(seconds.saturating_mul(1000));
    }
    let at_ms = timestamp::parse_http_date(trimmed)?;
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    Some(u64::try_from(at_ms.saturating_sub(now)).unwrap_or(0))
}

/// Full-jitter exponential backoff after the `failed_attempt`-th failed attempt (1-based; 0 counts as 1):
/// `floor(jitter × min(max_delay_ms, base_delay_ms × 2^(failed_attempt − 1)))`.
///
/// `jitter` is a uniform draw in `[0, 1)` supplied by the caller; NaN and values below 0 count as 0, values
/// at or above 1 as just below 1. The result is always below the window (or 0 when the window is 0). No
/// arithmetic here can overflow.
pub fn backoff_delay_ms(policy: &RetryPolicy, failed_attempt: u32, jitter: f64) -> u64 {
    let exponent = failed_attempt.max(1) - 1;
    let grown = match 1u64.checked_shl(exponent) {
        Some(factor) => policy.base_delay_ms.saturating_mul(factor),
        None => u64::MAX,
    };
    let window = grown.min(policy.max_delay_ms);
    if window == 0 {
        return 0;
    }
    let jitter = if jitter.is_nan() || jitter < 0.0 { 0.0 } else { jitter.min(1.0) };
    // `as` from f64 saturates; f64 rounding can reach the window itself, so keep strictly below it.
    let delay = (jitter * window as f64).floor() as u64;
    delay.min(window - 1)
}

/// How long to wait before retrying after the `failed_attempt`-th attempt failed with `outcome`.
///
/// A `Retry-After` that [`parse_retry_after`] understands, on a retryable outcome, replaces the backoff and is
/// capped at `policy.max_retry_after_ms`; otherwise [`backoff_delay_ms`]. Whether a retry happens at all
/// (class and attempts left) is the caller's decision.
pub fn retry_delay_ms(policy: &RetryPolicy, failed_attempt: u32, outcome: &HttpOutcome, now_ms: u64, jitter: f64) -> u64 {
    if let HttpOutcome::Response { status, retry_after: Some(value), .. } = outcome {
        if classify_status(*status) == OutcomeClass::Retryable {
            if let Some(ms) = parse_retry_after(value, now_ms) {
                return ms.min(policy.max_retry_after_ms);
            }
        }
    }
    backoff_delay_ms(policy, failed_attempt, jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: Option<&str>) -> HttpOutcome {
        HttpOutcome::Response { status, retry_after: retry_after.map(str::to_owned), body: String::new() }
    }

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!((p.max_attempts, p.base_delay_ms, p.max_delay_ms, p.max_retry_after_ms), (3, 500, 30_000, 60_000));
    }

    #[test]
    fn classification_table() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(classify_status(s), OutcomeClass::Success, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(classify_status(s), OutcomeClass::Retryable, "{s}");
        }
        assert_eq!(classify_status(413), OutcomeClass::TooLarge);
        for s in [0, 100, 101, 199, 300, 301, 304, 399, 400, 401, 403, 404, 409, 422, 499, 600, 999] {
            assert_eq!(classify_status(s), OutcomeClass::Permanent, "{s}");
        }
        assert_eq!(classify(&HttpOutcome::Network { message: "x".into() }), OutcomeClass::Retryable);
        assert_eq!(classify(&HttpOutcome::Timeout { timeout_ms: 5 }), OutcomeClass::Retryable);
        assert_eq!(classify(&response(503, None)), OutcomeClass::Retryable);
        assert_eq!(classify(&response(422, None)), OutcomeClass::Permanent);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("120", 5), Some(120_000));
        assert_eq!(parse_retry_after("  7 \t", 5), Some(7_000));
        assert_eq!(parse_retry_after("0", 5), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999999", 0), Some(u64::MAX));
        assert_eq!(parse_retry_after("18446744073709552", 0), Some(u64::MAX));
    }

    #[test]
    fn retry_after_http_date() {
        // 2015-10-21T07:28:00Z
        let now = 1_445_412_480_000;
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(30_000));
        assert_eq!(parse_retry_after("  Wed, 21 Oct 2015 07:28:30 GMT ", now + 250), Some(29_750));
        assert_eq!(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now), Some(60_000));
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:01 2015", now), Some(1_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(0), "now");
        assert_eq!(parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now), Some(0), "past");
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", u64::MAX), Some(0));
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for v in ["", "  ", "-5", "1.5", "+3", "soon", "12s", "0x10", "Wed, 99 Foo 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(v, 0), None, "{v:?}");
        }
    }

    #[test]
    fn backoff_windows_and_jitter() {
        let p = RetryPolicy::default();
        // jitter just below 1 gives the window minus one at most.
        assert_eq!(backoff_delay_ms(&p, 1, 0.999_999_9), 499);
        assert_eq!(backoff_delay_ms(&p, 2, 0.5), 500);
        assert_eq!(backoff_delay_ms(&p, 3, 0.5), 1_000);
        assert_eq!(backoff_delay_ms(&p, 7, 0.5), 15_000);
        assert_eq!(backoff_delay_ms(&p, 8, 0.5), 15_000, "capped at max_delay");
        assert_eq!(backoff_delay_ms(&p, 0, 0.5), 250, "attempt 0 counts as 1");
        assert_eq!(backoff_delay_ms(&p, 3, 0.0), 0);
    }

    #[test]
    fn backoff_bad_jitter_is_clamped() {
        let p = RetryPolicy::default();
        assert_eq!(backoff_delay_ms(&p, 1, f64::NAN), 0);
        assert_eq!(backoff_delay_ms(&p, 1, -3.0), 0);
        assert_eq!(backoff_delay_ms(&p, 1, f64::NEG_INFINITY), 0);
        assert_eq!(backoff_delay_ms(&p, 1, 1.0), 499);
        assert_eq!(backoff_delay_ms(&p, 1, 17.0), 499);
        assert_eq!(backoff_delay_ms(&p, 1, f64::INFINITY), 499);
    }

    #[test]
    fn backoff_never_overflows() {
        let huge = RetryPolicy { max_attempts: 3, base_delay_ms: u64::MAX, max_delay_ms: u64::MAX, max_retry_after_ms: 0 };
        for attempt in [1, 2, 63, 64, 65, u32::MAX] {
            let d = backoff_delay_ms(&huge, attempt, 0.999_999);
            assert!(d < u64::MAX, "{attempt}");
        }
        let zero = RetryPolicy { base_delay_ms: 0, ..RetryPolicy::default() };
        assert_eq!(backoff_delay_ms(&zero, 5, 0.7), 0);
    }

    #[test]
    fn backoff_stays_in_bounds_over_many_draws() {
        let p = RetryPolicy::default();
        for attempt in 1..12u32 {
            let window = (500u64 << (attempt - 1)).min(30_000);
            let mut lowest = u64::MAX;
            let mut highest = 0;
            for k in 0..1000 {
                let jitter = k as f64 / 1000.0;
                let d = backoff_delay_ms(&p, attempt, jitter);
                assert!(d < window, "attempt {attempt} jitter {jitter}: {d} >= {window}");
                lowest = lowest.min(d);
                highest = highest.max(d);
            }
            assert_eq!(lowest, 0);
            assert!(highest >= window * 99 / 100, "spread covers the window");
        }
    }

    #[test]
    fn retry_after_replaces_backoff_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(retry_delay_ms(&p, 1, &response(429, Some("3")), 0, 0.9), 3_000);
        assert_eq!(retry_delay_ms(&p, 1, &response(503, Some("3600")), 0, 0.9), 60_000);
        let now = 1_445_412_480_000;
        assert_eq!(retry_delay_ms(&p, 1, &response(503, Some("Wed, 21 Oct 2015 07:28:05 GMT")), now, 0.9), 5_000);
        assert_eq!(retry_delay_ms(&p, 1, &response(429, Some("Wed, 21 Oct 2015 09:00:00 GMT")), now, 0.9), 60_000);
        // Unparseable: backoff (jitter 0.5 of a 500 ms window).
        assert_eq!(retry_delay_ms(&p, 1, &response(429, Some("later")), 0, 0.5), 250);
        // Not on a non-retryable status, nor when absent.
        assert_eq!(retry_delay_ms(&p, 2, &response(400, Some("3")), 0, 0.5), 500);
        assert_eq!(retry_delay_ms(&p, 2, &response(500, None), 0, 0.5), 500);
        assert_eq!(retry_delay_ms(&p, 2, &HttpOutcome::Timeout { timeout_ms: 1 }, 0, 0.5), 500);
    }

    #[test]
    fn which_outcomes_may_have_been_accepted() {
        let network = |m: &str| HttpOutcome::Network { message: m.to_owned() };
        assert!(may_have_been_accepted(&HttpOutcome::Timeout { timeout_ms: 1 }));
        assert!(may_have_been_accepted(&network("fetch failed")));
        assert!(may_have_been_accepted(&network("TypeError: Failed to fetch")));
        assert!(may_have_been_accepted(&network("other side closed (UND_ERR_SOCKET)")));
        assert!(may_have_been_accepted(&network("read ECONNRESET")));
        for never in ["connect ECONNREFUSED 127.0.0.1:1", "getaddrinfo ENOTFOUND x.invalid", "Invalid URL", "unable to verify the first certificate"] {
            assert!(!may_have_been_accepted(&network(never)), "{never}");
        }
        assert!(may_have_been_accepted(&response(202, None)));
        for status in [400, 401, 408, 413, 422, 429, 500, 503] {
            assert!(!may_have_been_accepted(&response(status, None)), "{status}");
        }
    }

    #[test]
    fn excerpt_and_errors() {
        let long: String = "é".repeat(600);
        let excerpt = body_excerpt(&long);
        assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS);
        assert!(excerpt.ends_with('…') && excerpt.starts_with("éé"));
        assert_eq!(body_excerpt("short"), "short");
        let exact = "a".repeat(BODY_EXCERPT_CHARS);
        assert_eq!(body_excerpt(&exact), exact, "not cut when it fits");
        assert_eq!(
            outcome_error(&HttpOutcome::Response { status: 400, retry_after: None, body: long }),
            DeliveryError::HttpStatus { status: 400, body: excerpt }
        );
        assert_eq!(
            outcome_error(&HttpOutcome::Network { message: "refused".into() }),
            DeliveryError::Network { message: "refused".into() }
        );
        assert_eq!(outcome_error(&HttpOutcome::Timeout { timeout_ms: 9 }), DeliveryError::Timeout { timeout_ms: 9 });
    }
}
