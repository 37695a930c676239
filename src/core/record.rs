//! Building one wire record and encoding it exactly as the Python SDK does.
//!
//! Field order and encoding (wire-contract.md §1): `service_key`, `response_id`, `timestamp` (a string holding
//! the epoch seconds as Python prints a float: `"1736937000.0"`), `payload`, then `customer_key` and `context`
//! only when present. `response_id` is fixed here, once: it is the record's idempotency key for every retry.

use crate::core::anonymize::{anonymize_payload, union_fields, Anonymizer};
use crate::core::batch::EncodedRecord;
use crate::core::error::TrackError;
use crate::core::ids::response_id_from_entropy;
use crate::core::json::{write_string, write_value};
use crate::core::timestamp;
use crate::core::value::Value;

/// Longest `response_id` accepted, in characters.
pub const MAX_RESPONSE_ID_CHARS: usize = 255;

/// How a caller gave the record's time.
#[derive(Debug, Clone, PartialEq)]
pub enum TimestampInput {
    /// Epoch milliseconds (a JS number, or a `Date`'s `getTime()`).
    EpochMillis(f64),
    /// An ISO-8601 string with `Z` or an offset.
    Iso(String),
}

/// A per-call setting that may keep, clear or replace the tracker's default.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Override<T> {
    /// Not given (`undefined`): use the tracker's default.
    #[default]
    Inherit,
    /// Given as `null`: omit the field for this record.
    Clear,
    /// Given: use this value.
    Set(T),
}

impl<T: Clone> Override<T> {
    fn resolve(self, default: &Option<T>) -> Option<T> {
        match self {
            Override::Inherit => default.clone(),
            Override::Clear => None,
            Override::Set(v) => Some(v),
        }
    }
}

/// The tracker-level defaults (`setCustomerKey`, `setContext`, `setAnonymizeFields`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordDefaults {
    pub customer_key: Option<String>,
    pub context: Option<Value>,
    pub anonymize_fields: Vec<String>,
}

/// One record as the caller described it; `payload` and `context` are already imported [`Value`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInput {
    pub service_key: String,
    pub payload: Value,
    pub response_id: Option<String>,
    pub timestamp: Option<TimestampInput>,
    pub customer_key: Override<String>,
    pub context: Override<Value>,
}

/// The environment one record is built in: clock, entropy, limits and anonymization.
pub struct BuildContext<'a> {
    /// Now, in epoch milliseconds: the timestamp when the caller gave none.
    pub now_ms: f64,
    /// 16 random bytes: the `response_id` when the caller gave none.
    pub entropy: [u8; 16],
    /// Largest encoded record accepted.
    pub max_record_bytes: usize,
    /// Field names given for this call (added to the tracker's).
    pub call_fields: &'a [String],
    /// The anonymizer in force for this call (the call's, else the tracker's); `None` = default redaction.
    pub anonymizer: Option<&'a mut dyn Anonymizer>,
}

/// Validates, anonymizes and encodes one record.
///
/// Fails with the [`TrackError`] naming the first invalid field; nothing is built then, and the caller must
/// not send anything for this record.
pub fn build_record(
    input: RecordInput,
    defaults: &RecordDefaults,
    ctx: BuildContext<'_>,
) -> Result<EncodedRecord, TrackError> {
    check_service_key(&input.service_key)?;
    let response_id = match input.response_id {
        Some(id) => check_response_id(id)?,
        None => response_id_from_entropy(ctx.entropy),
    };
    let micros = match input.timestamp {
        Some(TimestampInput::Iso(text)) => timestamp::parse_iso8601(&text),
        Some(TimestampInput::EpochMillis(ms)) => timestamp::from_epoch_millis(ms),
        None => timestamp::from_epoch_millis(ctx.now_ms),
    }
    .map_err(|reason| TrackError::InvalidTimestamp { reason })?;
    if micros < 0 {
        // The SDK's encoding would be a negative number of seconds: certainly a bug in the caller's clock or units.
        let reason = format!("{} is before 1970-01-01T00:00:00Z", timestamp::format_rfc3339_millis(micros));
        return Err(TrackError::InvalidTimestamp { reason });
    }
    let customer_key = input.customer_key.resolve(&defaults.customer_key);
    if let Some(key) = &customer_key {
        check_customer_key(key)?;
    }
    let context = input.context.resolve(&defaults.context);
    if let Some(found) = context.as_ref().filter(|c| !matches!(c, Value::Object(_))) {
        return Err(TrackError::InvalidContext { found: found.type_name().to_owned() });
    }
    let fields = union_fields(&defaults.anonymize_fields, ctx.call_fields);
    let payload = anonymize_payload(input.payload, &fields, ctx.anonymizer);

    let json = encode(&input.service_key, &response_id, micros, &payload, customer_key.as_deref(), context.as_ref());
    if json.len() > ctx.max_record_bytes {
        return Err(TrackError::RecordTooLarge { response_id, bytes: json.len(), max_bytes: ctx.max_record_bytes });
    }
    Ok(EncodedRecord { response_id, json })
}

pub(crate) fn check_service_key(key: &str) -> Result<(), TrackError> {
    if key.trim().is_empty() {
        return Err(TrackError::InvalidServiceKey {
            reason: "must be a non-empty string such as \"openai::gpt-4o-mini\"".to_owned(),
        });
    }
    Ok(())
}

pub(crate) fn check_response_id(id: String) -> Result<String, TrackError> {
    if id.trim().is_empty() {
        return Err(TrackError::InvalidResponseId { reason: "must be a non-empty string".to_owned() });
    }
    if id.chars().nth(MAX_RESPONSE_ID_CHARS).is_some() {
        return Err(TrackError::InvalidResponseId {
            reason: format!("longer than {MAX_RESPONSE_ID_CHARS} characters"),
        });
    }
    Ok(id)
}

/// Checks a customer key (tracker default or per call): non-empty; `null` is how to omit it.
pub fn check_customer_key(key: &str) -> Result<(), TrackError> {
    if key.trim().is_empty() {
        return Err(TrackError::InvalidCustomerKey { reason: "must be a non-empty string, or null to omit it".to_owned() });
    }
    Ok(())
}

/// Encodes the record fields in the SDK's order as compact JSON.
pub fn encode(
    service_key: &str,
    response_id: &str,
    micros: i64,
    payload: &Value,
    customer_key: Option<&str>,
    context: Option<&Value>,
) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("{\"service_key\":");
    write_string(service_key, &mut out);
    out.push_str(",\"response_id\":");
    write_string(response_id, &mut out);
    out.push_str(",\"timestamp\":");
    write_string(&timestamp::format_sdk_seconds(micros), &mut out);
    out.push_str(",\"payload\":");
    write_value(payload, &mut out);
    if let Some(key) = customer_key {
        out.push_str(",\"customer_key\":");
        write_string(key, &mut out);
    }
    if let Some(context) = context {
        out.push_str(",\"context\":");
        write_value(context, &mut out);
    }
    out.push('}');
    out
}
