//! Tracker options: defaults, ranges and the checks that make a configuration usable.
//!
//! The bindings read each option from the JS object and hand it over typed (a number as `f64`, a string as
//! `&str`); every rule about what is acceptable lives here, so it is the same in every runtime and tested
//! natively.

use crate::core::json::quoted;
use crate::core::error::TrackError;
use crate::core::retry::RetryPolicy;
use crate::core::decimal::display_f64;

/// The service's public address (`AICM_API_BASE` upstream).
pub const DEFAULT_API_BASE: &str = "https://aicostmanager.com";
/// The API prefix (`AICM_API_URL` upstream).
pub const DEFAULT_API_URL: &str = "/api/v1";
/// Sent as `User-Agent` where the runtime lets a script set it (not in browsers), as the Python SDK sends
/// `aicostmanager-python`.
pub const USER_AGENT: &str = concat!("aicostmanager-edge/", env!("CARGO_PKG_VERSION"));
/// The headers of a `/track` request: JSON, the `Authorization` when there is a key, and [`USER_AGENT`]
/// unless `in_browser` (a browser owns that header, and a custom one would need CORS approval). The bindings
/// say whether they run in a browser window or web worker.
pub fn track_headers(authorization: Option<&str>, in_browser: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(authorization) = authorization {
        headers.push(("authorization", authorization.to_owned()));
    }
    if !in_browser {
        headers.push(("user-agent", USER_AGENT.to_owned()));
    }
    headers
}

/// Most records one `trackBatch()` call accepts (it is sent in requests of at most `maxBatchSize`).
pub const MAX_TRACK_BATCH_RECORDS: usize = 10_000;
/// Most encoded bytes one `trackBatch()` call accepts, its records together: the call holds them all at once
/// (10,000 records of the largest `maxRecordBytes` would not fit in a wasm instance's memory).
pub const MAX_TRACK_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Checks the length of a `trackBatch()` array before any record is read: more than
/// [`MAX_TRACK_BATCH_RECORDS`] is `E_BATCH_TOO_LARGE`.
pub fn check_batch_count(count: usize) -> Result<(), TrackError> {
    if count > MAX_TRACK_BATCH_RECORDS {
        return Err(TrackError::BatchTooLarge { count, max: MAX_TRACK_BATCH_RECORDS });
    }
    Ok(())
}

/// Checks the encoded bytes of a `trackBatch()` call's records read so far (call it after each record, so a
/// call too large stops early): more than [`MAX_TRACK_BATCH_BYTES`] is `E_BATCH_TOO_LARGE`.
pub fn check_batch_bytes(bytes: usize) -> Result<(), TrackError> {
    if bytes > MAX_TRACK_BATCH_BYTES {
        return Err(TrackError::BatchBytesTooLarge { bytes, max_bytes: MAX_TRACK_BATCH_BYTES });
    }
    Ok(())
}

/// `flush()`'s deadline when `deadlineMs` is not given: inside the 30 s Workers give `waitUntil` work after the
/// response. Also the deadline of the flush `close()` makes.
pub const DEFAULT_FLUSH_DEADLINE_MS: u64 = 20_000;
/// The largest `flush({ deadlineMs })` accepted: 10 minutes.
pub const MAX_FLUSH_DEADLINE_MS: u64 = 600_000;

/// `flush({ deadlineMs })` in milliseconds: `None` (not given) is [`DEFAULT_FLUSH_DEADLINE_MS`]; a number from 0
/// to [`MAX_FLUSH_DEADLINE_MS`] is taken (a fraction is cut); anything else (negative, larger, NaN) is
/// `E_INVALID_OPTION`. The bindings check that the value is a number first.
pub fn flush_deadline_ms(value: Option<f64>) -> Result<u64, TrackError> {
    let Some(ms) = value else { return Ok(DEFAULT_FLUSH_DEADLINE_MS) };
    if (0.0..=MAX_FLUSH_DEADLINE_MS as f64).contains(&ms) {
        return Ok(ms as u64);
    }
    Err(invalid(
        "deadlineMs",
        format!("must be from 0 to {MAX_FLUSH_DEADLINE_MS} milliseconds, got {}", display_f64(ms)),
    ))
}

/// Longest key of an options object compared with the known keys, in UTF-16 units: a longer one is unknown
/// anyway, and the bindings refuse it without reading it into Rust.
pub const MAX_OPTION_KEY_UNITS: usize = 64;

/// The option objects users pass, each with its own known keys. An unknown key is refused (a typo such as
/// `apikey` fails loudly instead of being ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKeys {
    /// `new Tracker(options)`: these and the [`NUMERIC_OPTIONS`].
    Tracker,
    /// `track(serviceKey, usage, options)`.
    Track,
    /// `trackBatch(records, options)`.
    Batch,
    /// One element of `trackBatch(records)`.
    Record,
}

const TRACKER_KEYS: &[&str] = &[
    "apiKey", "proxy", "apiBase", "apiUrl", "deliveryType", "customerKey", "context", "anonymizeFields",
    "anonymizer", "fetch", "store", "sink",
];
const TRACK_KEYS: &[&str] = &["responseId", "timestamp", "customerKey", "context", "anonymizeFields", "anonymizer"];
const BATCH_OPTION_KEYS: &[&str] = &["anonymizeFields", "anonymizer"];
const RECORD_KEYS: &[&str] = &["serviceKey", "usage", "responseId", "timestamp", "customerKey", "context"];

impl OptionKeys {
    /// The keys this object may have.
    pub fn known(self) -> impl Iterator<Item = &'static str> {
        let (own, numeric) = match self {
            OptionKeys::Tracker => (TRACKER_KEYS, NUMERIC_OPTIONS),
            OptionKeys::Track => (TRACK_KEYS, &[][..]),
            OptionKeys::Batch => (BATCH_OPTION_KEYS, &[][..]),
            OptionKeys::Record => (RECORD_KEYS, &[][..]),
        };
        own.iter().copied().chain(numeric.iter().map(|(name, _, _)| *name))
    }

    /// Checks one own key of the object named `what` in errors ("options", "record"). `None` is a key the
    /// bindings could not take (longer than [`MAX_OPTION_KEY_UNITS`], or not valid UTF-16). An unknown key is
    /// `E_INVALID_OPTION` naming it, with a "did you mean" hint when it differs from a known key only in case
    /// or underscores (`api_key`, `APIKEY` → `apiKey`).
    pub fn check(self, what: &str, key: Option<&str>) -> Result<(), TrackError> {
        let Some(key) = key else {
            return Err(invalid(what, "has a key that is not a known key (too long, or not valid UTF-16)"));
        };
        if self.known().any(|k| k == key) {
            return Ok(());
        }
        let folded = key.to_ascii_lowercase().replace('_', "");
        let hint = self
            .known()
            .find(|k| k.to_ascii_lowercase() == folded)
            .map(|k| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        Err(invalid(key, format!("is not a known {what} key{hint}")))
    }
}

/// How records are delivered (`deliveryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryType {
    /// Each `track()` sends at once and resolves to the record's result.
    Immediate,
    /// `track()` puts the record in an outbox kept in a store; `flush()` delivers it.
    PersistentQueue,
}

/// A validated tracker configuration. Build it with [`TrackerConfig::default`], the `set_*` methods, then
/// [`TrackerConfig::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    pub delivery: DeliveryType,
    pub api_key: Option<String>,
    /// `apiBase` is the user's own proxy, which adds the key: no key required.
    pub proxy: bool,
    pub api_base: String,
    pub api_url: String,
    pub timeout_ms: u64,
    /// Set by the user; `None` = the delivery type's default (see [`TrackerConfig::max_attempts`]).
    pub max_attempts_option: Option<u32>,
    /// Set by the user; `None` = the delivery type's default (see [`TrackerConfig::retry_policy`]).
    pub retry_base_delay_option: Option<u64>,
    pub retry_max_delay_option: Option<u64>,
    pub max_retry_after_ms: u64,
    pub max_batch_size: usize,
    pub max_batch_bytes: usize,
    pub max_record_bytes: usize,
    /// Persistent queue only: most records queued or in flight.
    pub max_queue_size: usize,
    /// Persistent queue only: most bytes of records queued or in flight.
    pub max_queue_bytes: usize,
    /// Persistent queue only: a record older than this is dead-lettered at its next failure.
    pub max_age_ms: u64,
    /// The `sink` option: records are handed to it instead of POSTed ([`SinkConfig`]).
    pub sink: Option<SinkConfig>,
}

/// What the tracker knows of its sink (the `sink` option: a Cloudflare Queue, a Durable Object outbox, or
/// any object with `send(records)`): its name for messages and the limits it declares, which
/// [`TrackerConfig::finish`] applies on top of the tracker's own (the smaller wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// The sink's `kind` ("cloudflare-queue", "durable-object"; "sink" when it gives none).
    pub kind: String,
    /// Largest record text it takes, in UTF-8 bytes.
    pub max_record_bytes: Option<usize>,
    /// Most records per `send`.
    pub max_batch_size: Option<usize>,
    /// Most bytes per `send` (the texts plus one byte per record, as a `/track` body counts them).
    pub max_batch_bytes: Option<usize>,
}

/// Longest `sink.kind` accepted, in bytes.
pub const MAX_SINK_KIND_BYTES: usize = 64;

/// The `sink` limits the bindings read, by their JS names.
pub const SINK_LIMITS: &[&str] = &["maxRecordBytes", "maxBatchSize", "maxBatchBytes"];

impl SinkConfig {
    /// A sink named `kind` (`None`: "sink") without limits. A kind that is empty, longer than
    /// [`MAX_SINK_KIND_BYTES`] or not printable ASCII is `E_INVALID_OPTION` (`sink.kind`).
    pub fn new(kind: Option<&str>) -> Result<SinkConfig, TrackError> {
        let kind = kind.unwrap_or("sink");
        let printable = kind.bytes().all(|b| (0x21..0x7f).contains(&b));
        if kind.is_empty() || kind.len() > MAX_SINK_KIND_BYTES || !printable {
            let reason = format!("must be 1 to {MAX_SINK_KIND_BYTES} printable ASCII characters, got {}", quoted(kind));
            return Err(invalid("sink.kind", reason));
        }
        Ok(SinkConfig { kind: kind.to_owned(), max_record_bytes: None, max_batch_size: None, max_batch_bytes: None })
    }

    /// Sets one of the [`SINK_LIMITS`] by its JS name: a positive integer (a `maxBatchSize` above the
    /// tracker's 1000 is taken as 1000 by [`TrackerConfig::finish`]); anything else is `E_INVALID_OPTION`.
    pub fn set_limit(&mut self, name: &str, value: f64) -> Result<(), TrackError> {
        let option = format!("sink.{name}");
        if !value.is_finite() || value.fract() != 0.0 || value < 1.0 || value > u32::MAX as f64 {
            return Err(invalid(&option, format!("must be a positive integer, got {}", display_f64(value))));
        }
        let n = Some(value as usize);
        match name {
            "maxRecordBytes" => self.max_record_bytes = n,
            "maxBatchSize" => self.max_batch_size = n,
            "maxBatchBytes" => self.max_batch_bytes = n,
            _ => return Err(invalid(&option, "is not a sink limit")),
        }
        Ok(())
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            delivery: DeliveryType::Immediate,
            api_key: None,
            proxy: false,
            api_base: DEFAULT_API_BASE.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
            timeout_ms: 10_000,
            max_attempts_option: None,
            retry_base_delay_option: None,
            retry_max_delay_option: None,
            max_retry_after_ms: 60_000,
            max_batch_size: 1000,
            max_batch_bytes: 4 * 1024 * 1024,
            max_record_bytes: 1024 * 1024,
            max_queue_size: 10_000,
            max_queue_bytes: 16 * 1024 * 1024,
            max_age_ms: 7 * 24 * 3600 * 1000,
            sink: None,
        }
    }
}

/// The numeric options: JS name, smallest and largest accepted value.
pub const NUMERIC_OPTIONS: &[(&str, u64, u64)] = &[
    ("timeoutMs", 1, 600_000),
    ("maxAttempts", 1, 10),
    ("retryBaseDelayMs", 0, 3_600_000),
    ("retryMaxDelayMs", 0, 3_600_000),
    ("maxRetryAfterMs", 0, 3_600_000),
    ("maxBatchSize", 1, 1000),
    ("maxBatchBytes", 1024, 64 * 1024 * 1024),
    ("maxRecordBytes", 64, 64 * 1024 * 1024),
    ("maxQueueSize", 1, 1_000_000),
    ("maxQueueBytes", 1024, 1024 * 1024 * 1024),
    ("maxAgeMs", 1000, 365 * 24 * 3600 * 1000),
];

/// Options that only say where and how to POST: refused with a `sink` ([`TrackerConfig::finish`]).
pub const POST_ONLY_OPTIONS: &[&str] = &["apiKey", "proxy", "apiBase", "apiUrl", "fetch"];

/// The delivery types, by their JS names.
pub const DELIVERY_TYPES: &[(&str, DeliveryType)] =
    &[("immediate", DeliveryType::Immediate), ("persistent_queue", DeliveryType::PersistentQueue)];

fn invalid(option: &str, reason: impl Into<String>) -> TrackError {
    TrackError::InvalidOption { option: option.to_owned(), reason: reason.into() }
}

impl TrackerConfig {
    /// Sets a numeric option by its JS name. Fails for an unknown name, a non-integer or an out-of-range value.
    pub fn set_number(&mut self, option: &str, value: f64) -> Result<(), TrackError> {
        let Some(&(_, min, max)) = NUMERIC_OPTIONS.iter().find(|(name, _, _)| *name == option) else {
            return Err(invalid(option, "is not a numeric option"));
        };
        if !value.is_finite() || value.fract() != 0.0 || value < min as f64 || value > max as f64 {
            return Err(invalid(option, format!("must be an integer from {min} to {max}, got {}", display_f64(value))));
        }
        let n = value as u64;
        match option {
            "timeoutMs" => self.timeout_ms = n,
            "maxAttempts" => self.max_attempts_option = Some(n as u32),
            "retryBaseDelayMs" => self.retry_base_delay_option = Some(n),
            "retryMaxDelayMs" => self.retry_max_delay_option = Some(n),
            "maxRetryAfterMs" => self.max_retry_after_ms = n,
            "maxBatchSize" => self.max_batch_size = n as usize,
            "maxBatchBytes" => self.max_batch_bytes = n as usize,
            "maxRecordBytes" => self.max_record_bytes = n as usize,
            "maxQueueSize" => self.max_queue_size = n as usize,
            "maxQueueBytes" => self.max_queue_bytes = n as usize,
            _ => self.max_age_ms = n,
        }
        Ok(())
    }

    /// Sets the API key. An empty key is refused (it would be sent as `Bearer `).
    pub fn set_api_key(&mut self, key: &str) -> Result<(), TrackError> {
        if key.trim().is_empty() {
            return Err(invalid("apiKey", "must be a non-empty string"));
        }
        self.api_key = Some(key.to_owned());
        Ok(())
    }

    /// Sets `apiBase`: an `http://` or `https://` URL, or, for a proxy, a same-origin path starting with `/`.
    pub fn set_api_base(&mut self, base: &str) -> Result<(), TrackError> {
        let base = base.trim();
        let absolute = base.starts_with("https://") || base.starts_with("http://");
        if !absolute && !base.starts_with('/') && !base.is_empty() {
            return Err(invalid("apiBase", format!("must start with https:// or http://, got {}", quoted(base))));
        }
        self.api_base = base.to_owned();
        Ok(())
    }

    /// Sets `apiUrl`, the path prefix before `/track` (`""` or starting with `/`).
    pub fn set_api_url(&mut self, url: &str) -> Result<(), TrackError> {
        let url = url.trim();
        if !url.is_empty() && !url.starts_with('/') {
            return Err(invalid("apiUrl", format!("must be empty or start with /, got {}", quoted(url))));
        }
        self.api_url = url.to_owned();
        Ok(())
    }

    /// Sets `deliveryType` from its JS name (case-insensitive, as upstream).
    pub fn set_delivery_type(&mut self, value: &str) -> Result<(), TrackError> {
        let wanted = value.to_ascii_lowercase();
        let found = DELIVERY_TYPES.iter().find(|(name, _)| *name == wanted);
        let Some(&(_, delivery)) = found else {
            return Err(TrackError::UnsupportedDeliveryType { value: value.to_owned() });
        };
        self.delivery = delivery;
        Ok(())
    }

    /// Attempts and delays: the user's options, else the delivery type's defaults, which are the core's
    /// ([`RetryPolicy::IMMEDIATE`], [`RetryPolicy::QUEUE`]: one source).
    pub fn retry_policy(&self) -> RetryPolicy {
        let defaults = match self.delivery {
            DeliveryType::Immediate => RetryPolicy::IMMEDIATE,
            DeliveryType::PersistentQueue => RetryPolicy::QUEUE,
        };
        RetryPolicy {
            max_attempts: self.max_attempts_option.unwrap_or(defaults.max_attempts),
            base_delay_ms: self.retry_base_delay_option.unwrap_or(defaults.base_delay_ms),
            max_delay_ms: self.retry_max_delay_option.unwrap_or(defaults.max_delay_ms),
            max_retry_after_ms: self.max_retry_after_ms,
        }
    }

    /// Final checks across options: a key unless `proxy` or a sink, and a relative `apiBase` only with
    /// `proxy`. With a sink, its limits are applied: the smaller of each pair wins
    /// ([`TrackerConfig::apply_sink_limits`]).
    pub fn finish(mut self) -> Result<TrackerConfig, TrackError> {
        if self.sink.is_some() {
            self.apply_sink_limits();
            return Ok(self);
        }
        if self.api_key.is_none() && !self.proxy {
            return Err(TrackError::MissingApiKey);
        }
        let absolute = self.api_base.starts_with("https://") || self.api_base.starts_with("http://");
        if !absolute && !self.proxy {
            return Err(invalid("apiBase", "a relative apiBase needs { proxy: true }"));
        }
        if self.max_record_bytes > self.max_batch_bytes {
            return Err(invalid("maxRecordBytes", "must not exceed maxBatchBytes"));
        }
        Ok(self)
    }

    /// With a sink, the options that only say where to POST ([`POST_ONLY_OPTIONS`]) are refused: nothing is
    /// POSTed by this tracker, and the sink's consumer holds the key and the endpoint. `given` are the names
    /// of the options the user set.
    pub fn check_sink_options(&self, given: &[&str]) -> Result<(), TrackError> {
        if self.sink.is_none() {
            return Ok(());
        }
        match given.iter().find(|name| POST_ONLY_OPTIONS.contains(name)) {
            Some(name) => Err(invalid(
                name,
                "is not used with a sink: the sink's consumer (handleQueueBatch, the AicmOutbox Durable Object) \
                 holds the API key and the endpoint",
            )),
            None => Ok(()),
        }
    }

    /// Takes the sink's limits where they are smaller than the tracker's; a record limit above the (new)
    /// batch limit is cut to it, so that every record fits in one `send`.
    fn apply_sink_limits(&mut self) {
        let Some(sink) = &self.sink else { return };
        let smaller = |own: usize, theirs: Option<usize>| theirs.map_or(own, |t| own.min(t));
        self.max_batch_size = smaller(self.max_batch_size, sink.max_batch_size);
        self.max_batch_bytes = smaller(self.max_batch_bytes, sink.max_batch_bytes);
        self.max_record_bytes = smaller(self.max_record_bytes, sink.max_record_bytes).min(self.max_batch_bytes);
    }

    /// Checks the `store` option against the delivery type (call it after [`TrackerConfig::finish`], with
    /// whether a store was given): a store is used only with `deliveryType: "persistent_queue"`, so one given
    /// to an immediate tracker is `E_INVALID_OPTION` rather than silently unused.
    pub fn check_store_option(&self, given: bool) -> Result<(), TrackError> {
        if given && self.delivery != DeliveryType::PersistentQueue {
            return Err(invalid("store", "is used only with deliveryType \"persistent_queue\""));
        }
        Ok(())
    }

    /// Where records go, for the outbox's namespace ([`crate::core::fingerprint::namespace`]): the endpoint
    /// and key, or `sink:<kind>` for a sink (which has neither).
    pub fn destination(&self) -> (String, &str, &str) {
        match &self.sink {
            Some(sink) => (format!("sink:{}", sink.kind), "", ""),
            None => (self.api_base.clone(), &self.api_url, self.api_key.as_deref().unwrap_or("")),
        }
    }

    /// `{apiBase}{apiUrl}/track`, without doubled slashes, as upstream builds it.
    pub fn track_url(&self) -> String {
        format!("{}{}/track", self.api_base.trim_end_matches('/'), self.api_url.trim_end_matches('/'))
    }

    /// The `Authorization` header value, when there is a key.
    pub fn authorization(&self) -> Option<String> {
        self.api_key.as_ref().map(|k| format!("Bearer {k}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key() -> TrackerConfig {
        TrackerConfig { api_key: Some("k".to_owned()), ..TrackerConfig::default() }
    }

    #[test]
    fn default_url_matches_upstream() {
        assert_eq!(with_key().track_url(), "https://aicostmanager.com/api/v1/track");
        let mut c = with_key();
        c.set_api_base("http://127.0.0.1:8890/").and_then(|_| c.set_api_url("/api/v1/")).ok();
        assert_eq!(c.track_url(), "http://127.0.0.1:8890/api/v1/track");
    }

    #[test]
    fn a_key_is_required_unless_proxy() {
        assert_eq!(TrackerConfig::default().finish(), Err(TrackError::MissingApiKey));
        let mut c = TrackerConfig { proxy: true, ..TrackerConfig::default() };
        assert!(c.set_api_base("/api/aicm").is_ok());
        let c = c.finish();
        assert_eq!(c.as_ref().map(|c| c.track_url()), Ok("/api/aicm/api/v1/track".to_owned()));
        assert_eq!(c.map(|c| c.authorization()), Ok(None));
        assert_eq!(with_key().authorization(), Some("Bearer k".to_owned()));
    }

    /// A sink needs no key, refuses the options that only say where to POST, lends its limits (the smaller
    /// wins, a record never larger than a send) and gives the outbox its own namespace.
    #[test]
    fn a_sink_replaces_the_endpoint() {
        let mut sink = SinkConfig::new(Some("cloudflare-queue")).unwrap_or_else(|e| panic!("{e}"));
        for (name, n) in [("maxRecordBytes", 127_000.0), ("maxBatchSize", 100.0), ("maxBatchBytes", 100_000.0)] {
            assert!(sink.set_limit(name, n).is_ok(), "{name}");
        }
        let config = TrackerConfig { sink: Some(sink.clone()), ..TrackerConfig::default() };
        assert!(config.check_sink_options(&["deliveryType"]).is_ok());
        for name in POST_ONLY_OPTIONS {
            let err = config.check_sink_options(&[name]);
            assert_eq!(err.as_ref().map_err(|e| e.code()), Err("E_INVALID_OPTION"), "{name}");
        }
        assert!(TrackerConfig::default().check_sink_options(&["apiKey"]).is_ok(), "no sink, no objection");
        let finished = config.clone().finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((finished.max_batch_size, finished.max_batch_bytes), (100, 100_000));
        assert_eq!(finished.max_record_bytes, 100_000, "cut to the batch limit");
        assert_eq!(finished.destination(), ("sink:cloudflare-queue".to_owned(), "", ""));
        let mut own = TrackerConfig { sink: Some(sink), ..TrackerConfig::default() };
        assert!(own.set_number("maxBatchSize", 10.0).is_ok() && own.set_number("maxRecordBytes", 500.0).is_ok());
        let own = own.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((own.max_batch_size, own.max_record_bytes), (10, 500), "the tracker's smaller limits win");
        for bad in ["", "has space", "é", &"k".repeat(65)] {
            assert_eq!(SinkConfig::new(Some(bad)).map_err(|e| e.code()), Err("E_INVALID_OPTION"), "{bad:?}");
        }
        assert_eq!(SinkConfig::new(None).map(|s| s.kind), Ok("sink".to_owned()));
        let mut limits = SinkConfig::new(None).unwrap_or_else(|e| panic!("{e}"));
        for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
            assert!(limits.set_limit("maxBatchSize", bad).is_err(), "{bad}");
        }
        assert!(limits.set_limit("maxQueueSize", 1.0).is_err());
    }

    #[test]
    fn numeric_options_are_range_checked() {
        let mut c = with_key();
        assert!(c.set_number("timeoutMs", 2500.0).is_ok());
        assert_eq!(c.timeout_ms, 2500);
        for (name, bad) in [("timeoutMs", 0.0), ("maxAttempts", 11.0), ("maxBatchSize", 1001.0), ("maxAttempts", 1.5), ("timeoutMs", f64::NAN)] {
            let err = c.set_number(name, bad);
            assert_eq!(err.as_ref().map_err(|e| e.code()), Err("E_INVALID_OPTION"), "{name}={bad}");
        }
        assert!(c.set_number("nope", 1.0).is_err());
    }

    #[test]
    fn urls_and_delivery_types_are_checked() {
        let mut c = with_key();
        assert!(c.set_api_base("ftp://x").is_err());
        assert!(c.set_api_url("api").is_err());
        assert!(c.set_delivery_type("immediate").is_ok());
        let p = c.retry_policy();
        assert_eq!((p.max_attempts, p.base_delay_ms, p.max_delay_ms), (3, 500, 30_000));
        assert!(c.set_delivery_type("PERSISTENT_QUEUE").is_ok());
        let p = c.retry_policy();
        assert_eq!((c.delivery, p.max_attempts, p.base_delay_ms, p.max_delay_ms), (DeliveryType::PersistentQueue, crate::core::retry::UNLIMITED_ATTEMPTS, 2_000, 300_000));
        assert_eq!(c.set_delivery_type("sqlite").map_err(|e| e.code()), Err("E_UNSUPPORTED_DELIVERY_TYPE"));
        assert!(c.set_number("maxAttempts", 2.0).is_ok() && c.set_number("retryBaseDelayMs", 7.0).is_ok());
        assert_eq!((c.retry_policy().max_attempts, c.retry_policy().base_delay_ms), (2, 7));
        let mut relative = with_key();
        assert!(relative.set_api_base("/x").is_ok());
        assert!(relative.finish().is_err());
    }

    #[test]
    fn a_track_request_names_the_client_except_in_browsers() {
        let names = |h: Vec<(&'static str, String)>| h.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let server = track_headers(Some("Bearer k"), false);
        assert_eq!(server.get(1), Some(&("authorization", "Bearer k".to_owned())));
        assert_eq!(server.get(2), Some(&("user-agent", format!("aicostmanager-edge/{}", env!("CARGO_PKG_VERSION")))));
        assert_eq!(names(track_headers(Some("Bearer k"), true)), ["content-type", "authorization"]);
        assert_eq!(names(track_headers(None, false)), ["content-type", "user-agent"], "a proxy adds the key");
        assert_eq!(track_headers(None, true), [("content-type", "application/json".to_owned())]);
    }

    #[test]
    fn a_batch_is_bounded_in_records_and_bytes() {
        assert_eq!(check_batch_count(10_000), Ok(()));
        assert_eq!(check_batch_count(10_001), Err(TrackError::BatchTooLarge { count: 10_001, max: 10_000 }));
        assert_eq!(check_batch_bytes(64 * 1024 * 1024), Ok(()));
        let over = 64 * 1024 * 1024 + 1;
        assert_eq!(check_batch_bytes(over), Err(TrackError::BatchBytesTooLarge { bytes: over, max_bytes: 64 * 1024 * 1024 }));
        assert_eq!(check_batch_bytes(over).map_err(|e| e.code()), Err("E_BATCH_TOO_LARGE"));
    }

    #[test]
    fn a_store_is_accepted_only_by_a_persistent_queue() {
        let mut c = with_key();
        assert_eq!(c.check_store_option(false), Ok(()));
        let refused = c.check_store_option(true);
        assert!(matches!(&refused, Err(TrackError::InvalidOption { option, .. }) if option == "store"), "{refused:?}");
        assert!(c.set_delivery_type("persistent_queue").is_ok());
        assert_eq!(c.check_store_option(true), Ok(()));
    }

    #[test]
    fn the_flush_deadline_defaults_to_20_s_and_is_at_most_10_min() {
        assert_eq!(flush_deadline_ms(None), Ok(20_000));
        assert_eq!(flush_deadline_ms(Some(0.0)), Ok(0));
        assert_eq!(flush_deadline_ms(Some(1234.9)), Ok(1234));
        assert_eq!(flush_deadline_ms(Some(600_000.0)), Ok(600_000));
        for bad in [-1.0, 600_000.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = flush_deadline_ms(Some(bad));
            assert!(matches!(&err, Err(TrackError::InvalidOption { option, .. }) if option == "deadlineMs"), "{bad}: {err:?}");
        }
        let message = flush_deadline_ms(Some(-1.0)).map_err(|e| e.to_string());
        assert!(message.as_ref().is_err_and(|m| m.contains("from 0 to 600000 milliseconds, got -1")), "{message:?}");
    }

    fn reason(result: Result<(), TrackError>) -> Option<(String, String)> {
        match result {
            Err(TrackError::InvalidOption { option, reason }) => Some((option, reason)),
            _ => None,
        }
    }

    #[test]
    fn option_keys_are_checked_per_object_with_a_hint_for_case_and_underscores() {
        assert!(OptionKeys::Tracker.check("options", Some("apiKey")).is_ok());
        assert!(OptionKeys::Tracker.check("options", Some("maxAttempts")).is_ok(), "numeric options are tracker keys");
        assert!(OptionKeys::Track.check("options", Some("maxAttempts")).is_err(), "but not track() keys");
        assert!(OptionKeys::Batch.check("options", Some("anonymizer")).is_ok());
        assert!(OptionKeys::Batch.check("options", Some("responseId")).is_err(), "a batch's ids are per record");
        assert!(OptionKeys::Record.check("record", Some("serviceKey")).is_ok());
        assert!(OptionKeys::Record.check("record", Some("anonymizer")).is_err());
        assert_eq!(
            reason(OptionKeys::Tracker.check("options", Some("api_key"))),
            Some(("api_key".to_owned(), "is not a known options key (did you mean apiKey?)".to_owned()))
        );
        assert_eq!(
            reason(OptionKeys::Tracker.check("options", Some("MAX_ATTEMPTS"))),
            Some(("MAX_ATTEMPTS".to_owned(), "is not a known options key (did you mean maxAttempts?)".to_owned()))
        );
        assert_eq!(
            reason(OptionKeys::Record.check("record", Some("colour"))),
            Some(("colour".to_owned(), "is not a known record key".to_owned()))
        );
        assert_eq!(
            reason(OptionKeys::Track.check("options", None)).map(|(option, _)| option),
            Some("options".to_owned())
        );
    }
}
