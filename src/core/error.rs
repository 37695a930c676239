//! Every error a caller of aicostmanager-edge can see, each with a stable code.
//!
//! Two families:
//! - [`TrackError`]: the caller did something wrong (bad input, bad option, closed tracker). In JavaScript it
//!   is **thrown** as an `Error` whose `code` property is [`TrackError::code`]. Nothing is sent for the
//!   offending record and the tracker keeps working.
//! - [`DeliveryError`]: a record could not be delivered (network, timeout, HTTP status, unreadable reply).
//!   It is **data**: it comes back on the record's result, never thrown.
//!
//! Codes are part of the public API: never rename one; add new variants instead.

use std::fmt;

/// A caller error: invalid input or configuration. Not retryable: fix the call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackError {
    /// The service key is missing, empty or not a string.
    InvalidServiceKey { reason: String },
    /// The usage is not a plain object (`found` names what was given).
    InvalidUsage { found: String },
    /// A number at `path` is `NaN` or infinite: JSON cannot carry it.
    NonFiniteNumber { path: String },
    /// A value at `path` is of a kind JSON cannot carry (`kind`: "bigint", "function", "symbol", "Map", ...).
    UnsupportedValue { path: String, kind: String },
    /// The value at `path` contains itself.
    CyclicValue { path: String },
    /// The value at `path` nests deeper than `max_depth` levels.
    TooDeep { path: String, max_depth: usize },
    /// The timestamp cannot be read (`reason` says why).
    InvalidTimestamp { reason: String },
    /// The response id is empty, too long or not a string.
    InvalidResponseId { reason: String },
    /// The customer key is not a string (or is empty).
    InvalidCustomerKey { reason: String },
    /// The context is not a plain object.
    InvalidContext { found: String },
    /// The encoded record is larger than `max_bytes`.
    RecordTooLarge { response_id: String, bytes: usize, max_bytes: usize },
    /// More records in one call than `max` allow.
    BatchTooLarge { count: usize, max: usize },
    /// The records of one `trackBatch` call encode to more than `max_bytes` together (`bytes` by the record
    /// that passed it). Code `E_BATCH_TOO_LARGE`, as for [`TrackError::BatchTooLarge`].
    BatchBytesTooLarge { bytes: usize, max_bytes: usize },
    /// `trackBatch` was given something other than an array of records.
    InvalidBatch { found: String },
    /// Record number `index` of a batch is malformed.
    InvalidRecord { index: usize, reason: String },
    /// A tracker option has the wrong type or an out-of-range value.
    InvalidOption { option: String, reason: String },
    /// No API key was given and the tracker was not told it talks to the user's own proxy.
    MissingApiKey,
    /// The outbox already holds `max_records` records or `max_bytes` bytes (queued, in flight and dead
    /// letters): nothing was added. Flush, requeue or purge dead letters (or raise
    /// `maxQueueSize`/`maxQueueBytes`) and track again; nothing already held was dropped.
    QueueFull { records: usize, bytes: usize, max_records: usize, max_bytes: usize },
    /// The tracker was closed; create a new one.
    TrackerClosed,
    /// A tracker method was called while the same tracker was already busy in a call further up the stack
    /// (from inside its own anonymizer or fetch). Call it again outside that callback.
    Reentrant,
    /// The delivery type is not one this build supports.
    UnsupportedDeliveryType { value: String },
    /// Reading the value at `path` threw (a getter that throws, a revoked `Proxy` such as an Immer draft after
    /// `produce`, a Proxy trap); `reason` is what was thrown.
    UnreadableValue { path: String, reason: String },
    /// The value at `path` made the record's encoded size at least `at_least` bytes, over `max_bytes`
    /// (`maxRecordBytes`): refused as it was read, before the rest was copied. Code `E_RECORD_TOO_LARGE`, as
    /// for [`TrackError::RecordTooLarge`].
    ValueTooLarge { path: String, at_least: usize, max_bytes: usize },
}

impl TrackError {
    /// The stable code exposed to JavaScript as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            TrackError::InvalidServiceKey { .. } => "E_INVALID_SERVICE_KEY",
            TrackError::InvalidUsage { .. } => "E_INVALID_USAGE",
            TrackError::NonFiniteNumber { .. } => "E_NON_FINITE_NUMBER",
            TrackError::UnsupportedValue { .. } => "E_UNSUPPORTED_VALUE",
            TrackError::CyclicValue { .. } => "E_CYCLIC_VALUE",
            TrackError::TooDeep { .. } => "E_TOO_DEEP",
            TrackError::InvalidTimestamp { .. } => "E_INVALID_TIMESTAMP",
            TrackError::InvalidResponseId { .. } => "E_INVALID_RESPONSE_ID",
            TrackError::InvalidCustomerKey { .. } => "E_INVALID_CUSTOMER_KEY",
            TrackError::InvalidContext { .. } => "E_INVALID_CONTEXT",
            TrackError::RecordTooLarge { .. } => "E_RECORD_TOO_LARGE",
            TrackError::BatchTooLarge { .. } => "E_BATCH_TOO_LARGE",
            TrackError::BatchBytesTooLarge { .. } => "E_BATCH_TOO_LARGE",
            TrackError::InvalidBatch { .. } => "E_INVALID_BATCH",
            TrackError::InvalidRecord { .. } => "E_INVALID_RECORD",
            TrackError::InvalidOption { .. } => "E_INVALID_OPTION",
            TrackError::MissingApiKey => "E_MISSING_API_KEY",
            TrackError::QueueFull { .. } => "E_QUEUE_FULL",
            TrackError::TrackerClosed => "E_TRACKER_CLOSED",
            TrackError::Reentrant => "E_REENTRANT",
            TrackError::UnsupportedDeliveryType { .. } => "E_UNSUPPORTED_DELIVERY_TYPE",
            TrackError::UnreadableValue { .. } => "E_UNREADABLE_VALUE",
            TrackError::ValueTooLarge { .. } => "E_RECORD_TOO_LARGE",
        }
    }

    /// The same error for record number `index` of a batch, so the message says which record failed.
    pub fn in_batch(self, index: usize) -> TrackError {
        match self {
            TrackError::InvalidRecord { .. }
            | TrackError::BatchTooLarge { .. }
            | TrackError::BatchBytesTooLarge { .. }
            | TrackError::InvalidBatch { .. } => self,
            other => TrackError::InvalidRecord { index, reason: format!("{} ({})", other, other.code()) },
        }
    }
}

impl fmt::Display for TrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackError::InvalidServiceKey { reason } => write!(f, "serviceKey: {reason}"),
            TrackError::InvalidUsage { found } => {
                write!(f, "usage: expected a plain object such as {{ total_tokens: 29 }}, got {found}")
            }
            TrackError::NonFiniteNumber { path } => {
                write!(f, "{path}: NaN and Infinity cannot be sent as JSON; use a finite number or null")
            }
            TrackError::UnsupportedValue { path, kind } => write!(
                f,
                "{path}: values of type {kind} cannot be sent as JSON; use null, a boolean, a finite number, a string, an array or a plain object"
            ),
            TrackError::CyclicValue { path } => write!(f, "{path}: the value refers to itself (cyclic structure)"),
            TrackError::TooDeep { path, max_depth } => {
                write!(f, "{path}: nested deeper than {max_depth} levels")
            }
            TrackError::InvalidTimestamp { reason } => write!(f, "timestamp: {reason}"),
            TrackError::InvalidResponseId { reason } => write!(f, "responseId: {reason}"),
            TrackError::InvalidCustomerKey { reason } => write!(f, "customerKey: {reason}"),
            TrackError::InvalidContext { found } => write!(f, "context: expected a plain object, got {found}"),
            TrackError::RecordTooLarge { response_id, bytes, max_bytes } => write!(
                f,
                "record {response_id}: encoded size {bytes} bytes exceeds maxRecordBytes ({max_bytes})"
            ),
            TrackError::BatchTooLarge { count, max } => {
                write!(f, "records: {count} records exceed the limit of {max} per trackBatch call; split them into several calls")
            }
            TrackError::BatchBytesTooLarge { bytes, max_bytes } => write!(
                f,
                "records: {bytes} bytes encoded by here, over the limit of {max_bytes} per trackBatch call; split them into several calls"
            ),
            TrackError::InvalidBatch { found } => write!(f, "records: expected an array of records, got {found}"),
            TrackError::InvalidRecord { index, reason } => write!(f, "records[{index}]: {reason}"),
            TrackError::InvalidOption { option, reason } => write!(f, "options.{option}: {reason}"),
            TrackError::MissingApiKey => write!(
                f,
                "apiKey: no API key given; pass {{ apiKey }}, or {{ proxy: true }} when apiBase is your own proxy that adds the key"
            ),
            TrackError::QueueFull { records, bytes, max_records, max_bytes } => write!(
                f,
                "queue: full ({records} records, {bytes} bytes, dead letters included; limits maxQueueSize {max_records}, maxQueueBytes {max_bytes}); flush(), requeue or purge dead letters, and track again"
            ),
            TrackError::TrackerClosed => write!(f, "tracker: closed; create a new Tracker"),
            TrackError::Reentrant => write!(f, "tracker: called from inside its own anonymizer or fetch while busy"),
            TrackError::UnsupportedDeliveryType { value } => write!(
                f,
                "deliveryType: {} is not a delivery type; use \"immediate\" or \"persistent_queue\"",
                crate::core::json::quoted(value)
            ),
            TrackError::UnreadableValue { path, reason } => write!(f, "{path}: reading it threw: {reason}"),
            TrackError::ValueTooLarge { path, at_least, max_bytes } => write!(
                f,
                "{path}: the record's encoded size is at least {at_least} bytes by here, over maxRecordBytes ({max_bytes})"
            ),
        }
    }
}

impl std::error::Error for TrackError {}

/// Why a record was not delivered. Returned as data on the record's result, never thrown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryError {
    /// `fetch` failed before any response (DNS, refused or dropped connection, CORS). Retried.
    Network { message: String },
    /// No response within `timeoutMs`. Retried.
    Timeout { timeout_ms: u64 },
    /// The server answered with a status that is not success; `body` is its (truncated) text.
    HttpStatus { status: u16, body: String },
    /// A 2xx reply whose body is not the `/track` response shape.
    InvalidResponse { reason: String },
    /// A 2xx reply without a result for this record.
    MissingResult,
    /// The server rejected the record (per-record `status: "error"` or a 422 naming it).
    Rejected { errors: Vec<String> },
    /// The record alone is larger than the server accepts (413 for a single record).
    TooLarge { status: u16 },
    /// The tracker's sink (a Cloudflare Queue, a Durable Object outbox) refused the records: its `send`
    /// threw or rejected. Retried.
    Sink { message: String },
}

impl DeliveryError {
    /// The stable code exposed to JavaScript as `result.error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::Network { .. } => "E_NETWORK",
            DeliveryError::Timeout { .. } => "E_TIMEOUT",
            DeliveryError::HttpStatus { .. } => "E_HTTP_STATUS",
            DeliveryError::InvalidResponse { .. } => "E_INVALID_RESPONSE",
            DeliveryError::MissingResult => "E_MISSING_RESULT",
            DeliveryError::Rejected { .. } => "E_REJECTED",
            DeliveryError::TooLarge { .. } => "E_TOO_LARGE",
            DeliveryError::Sink { .. } => "E_SINK",
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Network { message } => write!(f, "network error: {message}"),
            DeliveryError::Timeout { timeout_ms } => write!(f, "no response within {timeout_ms} ms"),
            DeliveryError::HttpStatus { status, body } => write!(f, "HTTP {status}: {body}"),
            DeliveryError::InvalidResponse { reason } => write!(f, "unreadable /track response: {reason}"),
            DeliveryError::MissingResult => write!(f, "the /track response has no result for this record"),
            DeliveryError::Rejected { errors } => {
                f.write_str("rejected by the server: ")?;
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    f.write_str(error)?;
                }
                Ok(())
            }
            DeliveryError::TooLarge { status } => {
                write!(f, "HTTP {status}: the record alone is larger than the server accepts")
            }
            DeliveryError::Sink { message } => write!(f, "sink error: {message}"),
        }
    }
}

impl std::error::Error for DeliveryError {}
