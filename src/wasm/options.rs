//! Reading the option objects users pass (`new Tracker(options)`, `track(..., options)`, batch records).
//!
//! Each property is read once and handed to the core typed; the core's rules decide what is acceptable.
//! Unknown keys are refused with a coded error, so a typo (`apikey`) fails loudly instead of being ignored.

use crate::core::config::{DeliveryType, TrackerConfig, NUMERIC_OPTIONS};
use crate::core::error::TrackError;
use crate::core::import::{describe, import_plain_object, HostValue};
use crate::core::record::{check_customer_key, Override, RecordDefaults, RecordInput, TimestampInput};
use crate::core::value::Value;
use crate::wasm::errors::describe_thrown;
use crate::wasm::js_value::{get, is_plain_object, js_string};
use js_sys::{Array, Date, Function, Object};
use wasm_bindgen::{JsCast, JsValue};

/// Everything `new Tracker(options)` configures.
pub struct TrackerOptions {
    pub config: TrackerConfig,
    pub defaults: RecordDefaults,
    pub anonymizer: Option<Function>,
    pub fetch: Option<Function>,
    /// The `store` option (persistent queue), as given; checked when the queue is built.
    pub store: Option<JsValue>,
}

/// Per-call options of `track()` and `trackBatch()` that are not part of a record.
#[derive(Default)]
pub struct CallOptions {
    pub anonymize_fields: Vec<String>,
    pub anonymizer: Option<Function>,
}

const TRACKER_KEYS: &[&str] = &[
    "apiKey", "proxy", "apiBase", "apiUrl", "deliveryType", "customerKey", "context", "anonymizeFields",
    "anonymizer", "fetch", "store",
];
const TRACK_KEYS: &[&str] = &["responseId", "timestamp", "customerKey", "context", "anonymizeFields", "anonymizer"];
const BATCH_OPTION_KEYS: &[&str] = &["anonymizeFields", "anonymizer"];
const RECORD_KEYS: &[&str] = &["serviceKey", "usage", "responseId", "timestamp", "customerKey", "context"];

fn invalid(option: &str, reason: impl Into<String>) -> TrackError {
    TrackError::InvalidOption { option: option.to_owned(), reason: reason.into() }
}

/// Reads `new Tracker(options)`. `undefined` means all defaults (and then fails for the missing key).
pub fn read_tracker_options(options: &JsValue) -> Result<TrackerOptions, TrackError> {
    let options = options_object(options, "options", TRACKER_KEYS, &numeric_names())?;
    let mut config = TrackerConfig::default();
    let mut defaults = RecordDefaults::default();
    let mut anonymizer = None;
    let mut fetch = None;
    let mut store = None;
    if let Some(options) = options {
        if let Some(key) = read_string(&options, "apiKey")? {
            config.set_api_key(&key)?;
        }
        config.proxy = read_bool(&options, "proxy")?.unwrap_or(false);
        if let Some(base) = read_string(&options, "apiBase")? {
            config.set_api_base(&base)?;
        }
        if let Some(url) = read_string(&options, "apiUrl")? {
            config.set_api_url(&url)?;
        }
        if let Some(kind) = read_string(&options, "deliveryType")? {
            config.set_delivery_type(&kind)?;
        }
        for (name, _, _) in NUMERIC_OPTIONS {
            if let Some(n) = read_number(&options, name)? {
                config.set_number(name, n)?;
            }
        }
        defaults.customer_key = read_customer_key_value(&get_or_throw(&options, "customerKey")?)?;
        defaults.context = read_context_value(&get_or_throw(&options, "context")?)?;
        defaults.anonymize_fields = read_fields(&options, "anonymizeFields")?;
        anonymizer = read_function(&options, "anonymizer")?;
        fetch = read_function(&options, "fetch")?;
        store = Some(get_or_throw(&options, "store")?).filter(|s| !s.is_undefined() && !s.is_null());
    }
    let config = config.finish()?;
    if store.is_some() && config.delivery != DeliveryType::PersistentQueue {
        return Err(invalid("store", "is used only with deliveryType \"persistent_queue\""));
    }
    Ok(TrackerOptions { config, defaults, anonymizer, fetch, store })
}

/// Reads the options of one `track()` call into a record input (payload still to be imported by the caller).
pub fn read_track_options(options: &JsValue) -> Result<(RecordParts, CallOptions), TrackError> {
    let Some(options) = options_object(options, "options", TRACK_KEYS, &[])? else {
        return Ok((RecordParts::default(), CallOptions::default()));
    };
    let parts = read_record_parts(&options)?;
    let call = CallOptions {
        anonymize_fields: read_fields(&options, "anonymizeFields")?,
        anonymizer: read_function(&options, "anonymizer")?,
    };
    Ok((parts, call))
}

/// Reads the options of one `trackBatch()` call.
pub fn read_batch_options(options: &JsValue) -> Result<CallOptions, TrackError> {
    let Some(options) = options_object(options, "options", BATCH_OPTION_KEYS, &[])? else {
        return Ok(CallOptions::default());
    };
    Ok(CallOptions {
        anonymize_fields: read_fields(&options, "anonymizeFields")?,
        anonymizer: read_function(&options, "anonymizer")?,
    })
}

/// Reads one element of `trackBatch(records)` into a record input. Errors are not yet tagged with the index.
pub fn read_batch_record(record: &JsValue, index: usize) -> Result<RecordInput, TrackError> {
    if !is_plain_object(record) {
        let reason = format!("expected an object with serviceKey and usage, got {}", type_of(record));
        return Err(TrackError::InvalidRecord { index, reason });
    }
    let Some(record) = options_object(record, "record", RECORD_KEYS, &[])? else {
        return Err(TrackError::InvalidRecord { index, reason: "expected an object".to_owned() });
    };
    let service_key = read_service_key(&get_or_throw(&record, "serviceKey")?)?;
    let payload = read_usage(&get_or_throw(&record, "usage")?)?;
    Ok(read_record_parts(&record)?.into_input(service_key, payload))
}

/// The per-record fields besides service key and payload.
#[derive(Default)]
pub struct RecordParts {
    response_id: Option<String>,
    timestamp: Option<TimestampInput>,
    customer_key: Override<String>,
    context: Override<Value>,
}

impl RecordParts {
    pub fn into_input(self, service_key: String, payload: Value) -> RecordInput {
        RecordInput {
            service_key,
            payload,
            response_id: self.response_id,
            timestamp: self.timestamp,
            customer_key: self.customer_key,
            context: self.context,
        }
    }
}

fn read_record_parts(object: &JsValue) -> Result<RecordParts, TrackError> {
    let response_id = match get_or_throw(object, "responseId")? {
        v if v.is_undefined() => None,
        v => Some(js_string(&v).ok_or_else(|| TrackError::InvalidResponseId {
            reason: format!("must be a string, got {}", type_of(&v)),
        })?),
    };
    Ok(RecordParts {
        response_id,
        timestamp: read_timestamp(&get_or_throw(object, "timestamp")?)?,
        customer_key: read_customer_key(object)?,
        context: read_context(object)?,
    })
}

/// The service key argument: a string (emptiness is checked by the core).
pub fn read_service_key(value: &JsValue) -> Result<String, TrackError> {
    js_string(value).ok_or_else(|| TrackError::InvalidServiceKey {
        reason: format!("must be a string such as \"openai::gpt-4o-mini\", got {}", type_of(value)),
    })
}

/// The usage argument: a plain object of JSON data.
pub fn read_usage(value: &JsValue) -> Result<Value, TrackError> {
    import_plain_object(value, "usage", |found| TrackError::InvalidUsage { found })
}

fn read_timestamp(value: &JsValue) -> Result<Option<TimestampInput>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(text) = js_string(value) {
        return Ok(Some(TimestampInput::Iso(text)));
    }
    if let Some(ms) = value.as_f64() {
        return Ok(Some(TimestampInput::EpochMillis(ms)));
    }
    if let Some(date) = value.dyn_ref::<Date>() {
        return Ok(Some(TimestampInput::EpochMillis(date.get_time())));
    }
    Err(TrackError::InvalidTimestamp {
        reason: format!("expected an ISO-8601 string, a Date or epoch milliseconds, got {}", type_of(value)),
    })
}

fn read_customer_key(object: &JsValue) -> Result<Override<String>, TrackError> {
    match get_or_throw(object, "customerKey")? {
        v if v.is_undefined() => Ok(Override::Inherit),
        v if v.is_null() => Ok(Override::Clear),
        v => js_string(&v).map(Override::Set).ok_or_else(|| TrackError::InvalidCustomerKey {
            reason: format!("must be a string or null, got {}", type_of(&v)),
        }),
    }
}

fn read_context(object: &JsValue) -> Result<Override<Value>, TrackError> {
    match get_or_throw(object, "context")? {
        v if v.is_undefined() => Ok(Override::Inherit),
        v if v.is_null() => Ok(Override::Clear),
        v => import_plain_object(&v, "context", |found| TrackError::InvalidContext { found }).map(Override::Set),
    }
}

/// Reads a context given to `setContext` (`null` clears it).
pub fn read_context_value(value: &JsValue) -> Result<Option<Value>, TrackError> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    import_plain_object(value, "context", |found| TrackError::InvalidContext { found }).map(Some)
}

/// Reads a customer key given to `setCustomerKey` (`null` clears it).
pub fn read_customer_key_value(value: &JsValue) -> Result<Option<String>, TrackError> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    let key = js_string(value).ok_or_else(|| TrackError::InvalidCustomerKey {
        reason: format!("must be a string or null, got {}", type_of(value)),
    })?;
    check_customer_key(&key)?;
    Ok(Some(key))
}

/// Reads a list of field names (`anonymizeFields`, or the argument of `setAnonymizeFields`).
pub fn read_field_list(value: &JsValue, option: &str) -> Result<Vec<String>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(value) {
        return Err(invalid(option, format!("must be an array of strings, got {}", type_of(value))));
    }
    let array: &Array = value.unchecked_ref();
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            js_string(&item).ok_or_else(|| invalid(option, format!("item {i} must be a string, got {}", type_of(&item))))
        })
        .collect()
}

/// Reads a function given to `setAnonymizer` (`null` = default anonymizer).
pub fn read_function_value(value: &JsValue, option: &str) -> Result<Option<Function>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .dyn_ref::<Function>()
        .cloned()
        .map(Some)
        .ok_or_else(|| invalid(option, format!("must be a function, got {}", type_of(value))))
}

fn read_fields(object: &JsValue, name: &str) -> Result<Vec<String>, TrackError> {
    read_field_list(&get_or_throw(object, name)?, name)
}

fn read_function(object: &JsValue, name: &str) -> Result<Option<Function>, TrackError> {
    read_function_value(&get_or_throw(object, name)?, name)
}

fn read_string(object: &JsValue, name: &str) -> Result<Option<String>, TrackError> {
    match get_or_throw(object, name)? {
        v if v.is_undefined() => Ok(None),
        v => js_string(&v).map(Some).ok_or_else(|| invalid(name, format!("must be a string, got {}", type_of(&v)))),
    }
}

fn read_bool(object: &JsValue, name: &str) -> Result<Option<bool>, TrackError> {
    match get_or_throw(object, name)? {
        v if v.is_undefined() => Ok(None),
        v => v.as_bool().map(Some).ok_or_else(|| invalid(name, format!("must be a boolean, got {}", type_of(&v)))),
    }
}

fn read_number(object: &JsValue, name: &str) -> Result<Option<f64>, TrackError> {
    match get_or_throw(object, name)? {
        v if v.is_undefined() => Ok(None),
        v => v.as_f64().map(Some).ok_or_else(|| invalid(name, format!("must be a number, got {}", type_of(&v)))),
    }
}

fn get_or_throw(object: &JsValue, name: &str) -> Result<JsValue, TrackError> {
    get(object, name).map_err(|thrown| invalid(name, format!("reading it threw: {}", describe_thrown(&thrown))))
}

fn numeric_names() -> Vec<&'static str> {
    NUMERIC_OPTIONS.iter().map(|(name, _, _)| *name).collect()
}

/// The options object, `None` for `undefined`/`null`, or an error for anything else or for unknown keys.
fn options_object(value: &JsValue, what: &str, keys: &[&str], more_keys: &[&str]) -> Result<Option<JsValue>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !is_plain_object(value) {
        return Err(invalid(what, format!("expected a plain object, got {}", type_of(value))));
    }
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let Some(key) = key.as_string() else { continue };
        if !keys.contains(&key.as_str()) && !more_keys.contains(&key.as_str()) {
            let hint = keys
                .iter()
                .chain(more_keys)
                .find(|k| k.to_ascii_lowercase() == key.to_ascii_lowercase().replace('_', ""))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return Err(invalid(&key, format!("is not a known {what} key{hint}")));
        }
    }
    Ok(Some(value.clone()))
}

/// A short description of a JS value's type for messages ("a string", "an array", "a Map", ...).
pub fn type_of(value: &JsValue) -> String {
    if value.is_string() && js_string(value).is_none() {
        "a string with an unpaired surrogate (invalid UTF-16)".to_owned()
    } else if Array::is_array(value) {
        "an array".to_owned()
    } else if is_plain_object(value) {
        "a plain object".to_owned()
    } else {
        describe(&value.classify())
    }
}
