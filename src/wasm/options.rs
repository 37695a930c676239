//! Reading the option objects users pass (`new Tracker(options)`, `track(..., options)`, batch records).
//!
//! Each property is read once and handed to the core typed; the core's rules decide what is acceptable.
//! Unknown keys are refused with a coded error, so a typo (`apikey`) fails loudly instead of being ignored.
//! Every read goes through [`crate::wasm::guarded`]: a getter that throws or a revoked `Proxy` is
//! `E_UNREADABLE_VALUE` naming the property (`options.apiKey: reading it threw: ...`).

use crate::core::config::{OptionKeys, SinkConfig, TrackerConfig, MAX_OPTION_KEY_UNITS, NUMERIC_OPTIONS, SINK_LIMITS};
use crate::core::error::TrackError;
use crate::core::import::{import_name_list, import_plain_object};
use crate::core::record::{check_customer_key, Override, RecordDefaults, RecordInput, TimestampInput};
use crate::core::value::Value;
use crate::wasm::errors::describe_thrown;
use crate::wasm::guarded;
use crate::wasm::js_value::{is_plain_object, short_string, type_of};
use js_sys::{Date, Function, JsString};
use wasm_bindgen::{JsCast, JsValue};

/// Everything `new Tracker(options)` configures.
pub struct TrackerOptions {
    pub config: TrackerConfig,
    pub defaults: RecordDefaults,
    pub anonymizer: Option<Function>,
    pub fetch: Option<Function>,
    /// The `store` option (persistent queue), as given; checked when the queue is built.
    pub store: Option<JsValue>,
    /// The `sink` option: records are handed to it instead of POSTed.
    pub sink: Option<Sink>,
}

/// The tracker's `sink` as read at construction: the object, its `send` (called with the object as `this`)
/// and its kind for messages.
#[derive(Clone)]
pub struct Sink {
    pub object: JsValue,
    pub send: Function,
    pub kind: String,
}

/// Per-call options of `track()` and `trackBatch()` that are not part of a record.
#[derive(Default)]
pub struct CallOptions {
    pub anonymize_fields: Vec<String>,
    pub anonymizer: Option<Function>,
}

fn invalid(option: &str, reason: impl Into<String>) -> TrackError {
    TrackError::InvalidOption { option: option.to_owned(), reason: reason.into() }
}

/// The error for a read of `path` that threw `thrown`.
pub fn unreadable(path: impl Into<String>, thrown: &JsValue) -> TrackError {
    TrackError::UnreadableValue { path: path.into(), reason: describe_thrown(thrown) }
}

/// An options object being read: the JS object and the name of its root in error paths ("options", "record").
struct Source<'a> {
    object: &'a JsValue,
    root: &'static str,
}

impl Source<'_> {
    /// `object[name]`; a throw is `E_UNREADABLE_VALUE` at `root.name`.
    fn get(&self, name: &str) -> Result<JsValue, TrackError> {
        guarded::get(self.object, name).map_err(|thrown| unreadable(self.path(name), &thrown))
    }

    fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.root)
    }
}

/// Reads `new Tracker(options)`. `undefined` means all defaults (and then fails for the missing key).
pub fn read_tracker_options(options: &JsValue) -> Result<TrackerOptions, TrackError> {
    let options = options_object(options, "options", OptionKeys::Tracker)?;
    let mut config = TrackerConfig::default();
    let mut defaults = RecordDefaults::default();
    let mut anonymizer = None;
    let mut fetch = None;
    let mut store = None;
    let mut sink = None;
    let mut given = Vec::new();
    if let Some(object) = options {
        let options = Source { object: &object, root: "options" };
        if let Some(key) = read_string(&options, "apiKey")? {
            config.set_api_key(&key)?;
            given.push("apiKey");
        }
        if let Some(proxy) = read_bool(&options, "proxy")? {
            config.proxy = proxy;
            given.push("proxy");
        }
        if let Some(base) = read_string(&options, "apiBase")? {
            config.set_api_base(&base)?;
            given.push("apiBase");
        }
        if let Some(url) = read_string(&options, "apiUrl")? {
            config.set_api_url(&url)?;
            given.push("apiUrl");
        }
        if let Some(kind) = read_string(&options, "deliveryType")? {
            config.set_delivery_type(&kind)?;
        }
        for (name, _, _) in NUMERIC_OPTIONS {
            if let Some(n) = read_number(&options, name)? {
                config.set_number(name, n)?;
            }
        }
        defaults.customer_key = read_customer_key_value(&options.get("customerKey")?)?;
        defaults.context = read_context_value(&options.get("context")?, config.max_record_bytes)?;
        defaults.anonymize_fields = read_fields(&options, "anonymizeFields")?;
        anonymizer = read_function(&options, "anonymizer")?;
        fetch = read_function(&options, "fetch")?;
        if fetch.is_some() {
            given.push("fetch");
        }
        store = Some(options.get("store")?).filter(|s| !s.is_undefined() && !s.is_null());
        let sink_value = options.get("sink")?;
        if !sink_value.is_undefined() && !sink_value.is_null() {
            let (read, limits) = read_sink(&sink_value)?;
            config.sink = Some(limits);
            sink = Some(read);
        }
    }
    config.check_sink_options(&given)?;
    let config = config.finish()?;
    config.check_store_option(store.is_some())?;
    Ok(TrackerOptions { config, defaults, anonymizer, fetch, store, sink })
}

/// Reads the `sink` option: an object with a `send` function, and optionally `kind` and the
/// [`SINK_LIMITS`]. Anything else is `E_INVALID_OPTION` naming the property; a read that throws is
/// `E_UNREADABLE_VALUE` at `options.sink.<name>`.
fn read_sink(value: &JsValue) -> Result<(Sink, SinkConfig), TrackError> {
    if !value.is_object() {
        return Err(invalid("sink", format!("must be an object with a send(records) method, got {}", type_of(value))));
    }
    let sink = Source { object: value, root: "options.sink" };
    let send = sink.get("send")?.dyn_into::<Function>().map_err(|other| {
        invalid("sink.send", format!("must be a function send(records), got {}", type_of(&other)))
    })?;
    let kind = match sink.get("kind")? {
        v if v.is_undefined() => None,
        v => Some(short_string(&v).ok_or_else(|| invalid("sink.kind", format!("must be a string, got {}", type_of(&v))))?),
    };
    let mut config = SinkConfig::new(kind.as_deref())?;
    for name in SINK_LIMITS {
        match sink.get(name)? {
            v if v.is_undefined() => {}
            v => {
                let n = v.as_f64().ok_or_else(|| invalid(&format!("sink.{name}"), format!("must be a number, got {}", type_of(&v))))?;
                config.set_limit(name, n)?;
            }
        }
    }
    Ok((Sink { object: value.clone(), send, kind: config.kind.clone() }, config))
}

/// Reads the options of one `track()` call into a record input (payload still to be imported by the caller).
/// `max_bytes` (`maxRecordBytes`) bounds the context.
pub fn read_track_options(options: &JsValue, max_bytes: usize) -> Result<(RecordParts, CallOptions), TrackError> {
    let Some(object) = options_object(options, "options", OptionKeys::Track)? else {
        return Ok((RecordParts::default(), CallOptions::default()));
    };
    let options = Source { object: &object, root: "options" };
    let parts = read_record_parts(&options, max_bytes)?;
    let call = CallOptions {
        anonymize_fields: read_fields(&options, "anonymizeFields")?,
        anonymizer: read_function(&options, "anonymizer")?,
    };
    Ok((parts, call))
}

/// Reads the options of one `trackBatch()` call.
pub fn read_batch_options(options: &JsValue) -> Result<CallOptions, TrackError> {
    let Some(object) = options_object(options, "options", OptionKeys::Batch)? else {
        return Ok(CallOptions::default());
    };
    let options = Source { object: &object, root: "options" };
    Ok(CallOptions {
        anonymize_fields: read_fields(&options, "anonymizeFields")?,
        anonymizer: read_function(&options, "anonymizer")?,
    })
}

/// Reads one element of `trackBatch(records)` into a record input. Errors are not yet tagged with the index;
/// a read that throws is `E_UNREADABLE_VALUE` at `record` or `record.<field>`.
pub fn read_batch_record(record: &JsValue, index: usize, max_bytes: usize) -> Result<RecordInput, TrackError> {
    if !is_plain_object(record).map_err(|thrown| unreadable("record", &thrown))? {
        let reason = format!("expected an object with serviceKey and usage, got {}", type_of(record));
        return Err(TrackError::InvalidRecord { index, reason });
    }
    let Some(object) = options_object(record, "record", OptionKeys::Record)? else {
        return Err(TrackError::InvalidRecord { index, reason: "expected an object".to_owned() });
    };
    let record = Source { object: &object, root: "record" };
    let service_key = read_service_key(&record.get("serviceKey")?)?;
    let payload = read_usage(&record.get("usage")?, max_bytes)?;
    Ok(read_record_parts(&record, max_bytes)?.into_input(service_key, payload))
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

fn read_record_parts(object: &Source<'_>, max_bytes: usize) -> Result<RecordParts, TrackError> {
    let response_id = match object.get("responseId")? {
        v if v.is_undefined() => None,
        v => Some(short_string(&v).ok_or_else(|| TrackError::InvalidResponseId {
            reason: format!("must be a string, got {}", type_of(&v)),
        })?),
    };
    Ok(RecordParts {
        response_id,
        timestamp: read_timestamp(&object.get("timestamp")?, &object.path("timestamp"))?,
        customer_key: read_customer_key(object)?,
        context: read_context(object, max_bytes)?,
    })
}

/// The service key argument: a string (emptiness is checked by the core).
pub fn read_service_key(value: &JsValue) -> Result<String, TrackError> {
    short_string(value).ok_or_else(|| TrackError::InvalidServiceKey {
        reason: format!("must be a string such as \"openai::gpt-4o-mini\", got {}", type_of(value)),
    })
}

/// The usage argument: a plain object of JSON data, at most `max_bytes` (`maxRecordBytes`) encoded.
pub fn read_usage(value: &JsValue, max_bytes: usize) -> Result<Value, TrackError> {
    import_plain_object(value, "usage", max_bytes, |found| TrackError::InvalidUsage { found })
}

fn read_timestamp(value: &JsValue, path: &str) -> Result<Option<TimestampInput>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(text) = short_string(value) {
        return Ok(Some(TimestampInput::Iso(text)));
    }
    if let Some(ms) = value.as_f64() {
        return Ok(Some(TimestampInput::EpochMillis(ms)));
    }
    if let Some(date) = value.dyn_ref::<Date>() {
        let ms = guarded::time_of(date).map_err(|thrown| unreadable(path, &thrown))?;
        return Ok(Some(TimestampInput::EpochMillis(ms)));
    }
    Err(TrackError::InvalidTimestamp {
        reason: format!("expected an ISO-8601 string, a Date or epoch milliseconds, got {}", type_of(value)),
    })
}

fn read_customer_key(object: &Source<'_>) -> Result<Override<String>, TrackError> {
    match object.get("customerKey")? {
        v if v.is_undefined() => Ok(Override::Inherit),
        v if v.is_null() => Ok(Override::Clear),
        v => short_string(&v).map(Override::Set).ok_or_else(|| TrackError::InvalidCustomerKey {
            reason: format!("must be a string or null, got {}", type_of(&v)),
        }),
    }
}

fn read_context(object: &Source<'_>, max_bytes: usize) -> Result<Override<Value>, TrackError> {
    match object.get("context")? {
        v if v.is_undefined() => Ok(Override::Inherit),
        v if v.is_null() => Ok(Override::Clear),
        v => import_plain_object(&v, "context", max_bytes, |found| TrackError::InvalidContext { found })
            .map(Override::Set),
    }
}

/// Reads a context given to `setContext` (`null` clears it), at most `max_bytes` (`maxRecordBytes`) encoded.
pub fn read_context_value(value: &JsValue, max_bytes: usize) -> Result<Option<Value>, TrackError> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    import_plain_object(value, "context", max_bytes, |found| TrackError::InvalidContext { found }).map(Some)
}

/// Reads a customer key given to `setCustomerKey` (`null` clears it).
pub fn read_customer_key_value(value: &JsValue) -> Result<Option<String>, TrackError> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    let key = short_string(value).ok_or_else(|| TrackError::InvalidCustomerKey {
        reason: format!("must be a string or null, got {}", type_of(value)),
    })?;
    check_customer_key(&key)?;
    Ok(Some(key))
}

/// Reads a list of names (`anonymizeFields`, the argument of `setAnonymizeFields`, dead-letter ids): `option`
/// names it in `E_INVALID_OPTION`, `path` in `E_UNREADABLE_VALUE`. `undefined`/`null` are the empty list.
pub fn read_field_list(value: &JsValue, option: &str, path: &str) -> Result<Vec<String>, TrackError> {
    import_name_list(value, option, path)
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

fn read_fields(object: &Source<'_>, name: &str) -> Result<Vec<String>, TrackError> {
    read_field_list(&object.get(name)?, name, &object.path(name))
}

fn read_function(object: &Source<'_>, name: &str) -> Result<Option<Function>, TrackError> {
    read_function_value(&object.get(name)?, name)
}

fn read_string(object: &Source<'_>, name: &str) -> Result<Option<String>, TrackError> {
    match object.get(name)? {
        v if v.is_undefined() => Ok(None),
        v => short_string(&v).map(Some).ok_or_else(|| invalid(name, format!("must be a string, got {}", type_of(&v)))),
    }
}

fn read_bool(object: &Source<'_>, name: &str) -> Result<Option<bool>, TrackError> {
    match object.get(name)? {
        v if v.is_undefined() => Ok(None),
        v => v.as_bool().map(Some).ok_or_else(|| invalid(name, format!("must be a boolean, got {}", type_of(&v)))),
    }
}

fn read_number(object: &Source<'_>, name: &str) -> Result<Option<f64>, TrackError> {
    match object.get(name)? {
        v if v.is_undefined() => Ok(None),
        v => v.as_f64().map(Some).ok_or_else(|| invalid(name, format!("must be a number, got {}", type_of(&v)))),
    }
}

/// The options object, `None` for `undefined`/`null`, or an error for anything else or for a key the core
/// does not know ([`OptionKeys::check`]). A read that throws (a revoked Proxy) is `E_UNREADABLE_VALUE` at `what`.
fn options_object(value: &JsValue, what: &str, keys: OptionKeys) -> Result<Option<JsValue>, TrackError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !is_plain_object(value).map_err(|thrown| unreadable(what, &thrown))? {
        return Err(invalid(what, format!("expected a plain object, got {}", type_of(value))));
    }
    let own = guarded::own_keys(value).map_err(|thrown| unreadable(what, &thrown))?;
    // A fresh array Object.keys made: ours to read with js-sys (its items are strings).
    for key in own.iter() {
        let long = key.is_string() && key.unchecked_ref::<JsString>().length() as usize > MAX_OPTION_KEY_UNITS;
        let key = if long { None } else { short_string(&key) };
        keys.check(what, key.as_deref())?;
    }
    Ok(Some(value.clone()))
}
