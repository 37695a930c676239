//! The exported `Tracker` class.
//!
//! `track()`/`trackBatch()` validate and build their records synchronously (a bad input **throws** an
//! `AicmError` and nothing is sent or queued). Then, with `deliveryType: "immediate"`, they return a promise of
//! the delivery result, which never rejects (delivery failures are data on the result); with
//! `"persistent_queue"` they put the records in the outbox and return `{ responseId }` at once (the queue's
//! own calls — `flush`, `stats`, dead letters — are in `tracker_queue.rs`).

use crate::core::batch::EncodedRecord;
use crate::core::config::{check_batch_bytes, check_batch_count, DeliveryType, TrackerConfig};
use crate::core::outbox::OutboxConfig;
use crate::core::error::TrackError;
use crate::core::immediate::ImmediateConfig;
use crate::core::redact::Redactor;
use crate::core::record::{build_record, BuildContext, RecordDefaults, RecordInput};
use crate::wasm::anonymizer::JsAnonymizer;
use crate::wasm::deliver::deliver;
use crate::wasm::errors::track_error;
use crate::wasm::http::Endpoint;
use crate::wasm::guarded;
use crate::wasm::js_value::type_of;
use crate::wasm::options::{
    read_batch_options, read_batch_record, read_context_value, read_customer_key_value, read_field_list,
    read_function_value, read_service_key, read_track_options, read_tracker_options, read_usage, unreadable,
    CallOptions, Sink,
};
use crate::wasm::platform::{now_ms, Entropy};
use crate::wasm::queue::{js::queued, js::queued_batch, Queue, Store};
use crate::wasm::results::{batch_result, single_result};
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Tracks AI usage records and delivers them to the `/track` endpoint.
#[wasm_bindgen]
pub struct Tracker {
    pub(super) state: Rc<RefCell<State>>,
    entropy: Rc<RefCell<Entropy>>,
}

pub(super) struct State {
    pub(super) config: TrackerConfig,
    /// The outbox, with `deliveryType: "persistent_queue"`.
    pub(super) queue: Option<Rc<Queue>>,
    /// Replaced, never mutated in place, so a `track()` can hold a snapshot while user code runs.
    defaults: Rc<RecordDefaults>,
    anonymizer: Option<Function>,
    fetch: Option<Function>,
    /// The `sink` option: bodies are handed to it instead of POSTed.
    sink: Option<Sink>,
    pub(super) closed: bool,
    pub(super) in_flight: Vec<(u64, Promise)>,
    next_delivery: u64,
}

/// What one call needs from the tracker, copied out so that no borrow is held while user code runs.
struct Snapshot {
    queue: Option<Rc<Queue>>,
    defaults: Rc<RecordDefaults>,
    anonymizer: Option<Function>,
    max_record_bytes: usize,
}

pub(super) type JsResult<T> = Result<T, JsValue>;

pub(super) fn thrown(error: TrackError) -> JsValue {
    track_error(&error)
}

#[wasm_bindgen]
impl Tracker {
    /// Creates a tracker. Throws `AicmError` (`E_MISSING_API_KEY`, `E_INVALID_OPTION`,
    /// `E_UNSUPPORTED_DELIVERY_TYPE`, ...) when the options are unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Tracker> {
        let options = read_tracker_options(&options).map_err(thrown)?;
        let entropy = Rc::new(RefCell::new(Entropy::default()));
        let queue = match options.config.delivery {
            DeliveryType::Immediate => None,
            DeliveryType::PersistentQueue => {
                let store = match options.store {
                    Some(object) => Some(Store::new(object).map_err(|reason| {
                        thrown(TrackError::InvalidOption { option: "store".to_owned(), reason })
                    })?),
                    None => None,
                };
                let endpoint = endpoint_of(&options.config, options.fetch.clone(), options.sink.clone());
                Some(Queue::new(OutboxConfig::for_tracker(&options.config), store, endpoint, entropy.clone()))
            }
        };
        let state = State {
            queue,
            config: options.config,
            defaults: Rc::new(options.defaults),
            anonymizer: options.anonymizer,
            fetch: options.fetch,
            sink: options.sink,
            closed: false,
            in_flight: Vec::new(),
            next_delivery: 0,
        };
        Ok(Tracker { state: Rc::new(RefCell::new(state)), entropy })
    }

    /// Tracks one usage record. Throws on invalid input (nothing is sent or queued). Immediate delivery:
    /// returns a promise of the record's result (`status: "failed"` when it was not delivered). Persistent
    /// queue: returns `{ responseId }` at once, the record in the outbox (throws `E_QUEUE_FULL` when full).
    pub fn track(&self, service_key: JsValue, usage: JsValue, options: JsValue) -> JsResult<JsValue> {
        let snapshot = self.snapshot()?;
        let service_key = read_service_key(&service_key).map_err(thrown)?;
        let payload = read_usage(&usage, snapshot.max_record_bytes).map_err(thrown)?;
        let (parts, call) = read_track_options(&options, snapshot.max_record_bytes).map_err(thrown)?;
        let record = self.build(parts.into_input(service_key, payload), &snapshot, &call).map_err(thrown)?;
        if let Some(queue) = snapshot.queue {
            let response_id = record.response_id.clone();
            queue.enqueue(record).map_err(thrown)?;
            return Ok(queued(&response_id));
        }
        self.spawn(vec![record], |report| single_result(&report)).map(JsValue::from)
    }

    /// Tracks many records (at most 10,000 and 64 MiB encoded per call, else `E_BATCH_TOO_LARGE`), sent in
    /// requests of at most `maxBatchSize` records. Throws `E_INVALID_RECORD` naming the index when any record
    /// is invalid (or cannot be read), and then sends none; `E_UNREADABLE_VALUE` when the array itself cannot
    /// be read.
    #[wasm_bindgen(js_name = trackBatch)]
    pub fn track_batch(&self, records: JsValue, options: JsValue) -> JsResult<JsValue> {
        let snapshot = self.snapshot()?;
        let unreadable_records = |error: JsValue| thrown(unreadable("records", &error));
        if !guarded::is_array(&records).map_err(unreadable_records)? {
            return Err(thrown(TrackError::InvalidBatch { found: type_of(&records) }));
        }
        let Some(count) = guarded::length(&records).map_err(unreadable_records)? else {
            let found = "an array whose length is not a whole number".to_owned();
            return Err(thrown(TrackError::InvalidBatch { found }));
        };
        let count = count as usize;
        check_batch_count(count).map_err(thrown)?;
        let call = read_batch_options(&options).map_err(thrown)?;
        let mut encoded = Vec::with_capacity(count);
        let mut bytes = 0usize;
        for index in 0..count {
            // index < count <= MAX_TRACK_BATCH_RECORDS (check_batch_count): it fits a u32.
            let built = guarded::item(&records, index as u32)
                .map_err(|error| unreadable("record", &error))
                .and_then(|record| read_batch_record(&record, index, snapshot.max_record_bytes))
                .and_then(|input| self.build(input, &snapshot, &call));
            let record = built.map_err(|e| thrown(e.in_batch(index)))?;
            bytes = bytes.saturating_add(record.json.len());
            check_batch_bytes(bytes).map_err(thrown)?;
            encoded.push(record);
        }
        if let Some(queue) = snapshot.queue {
            return enqueue_all(&queue, encoded).map_err(thrown);
        }
        self.spawn(encoded, |report| batch_result(&report)).map(JsValue::from)
    }

    /// Sets the customer key used when a call gives none (`null` clears it).
    #[wasm_bindgen(js_name = setCustomerKey)]
    pub fn set_customer_key(&self, key: JsValue) -> JsResult<()> {
        let key = read_customer_key_value(&key).map_err(thrown)?;
        self.update_defaults(|d| d.customer_key = key)
    }

    /// Sets the context used when a call gives none (`null` clears it).
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(&self, context: JsValue) -> JsResult<()> {
        let max_bytes = self.snapshot()?.max_record_bytes;
        let context = read_context_value(&context, max_bytes).map_err(thrown)?;
        self.update_defaults(|d| d.context = context)
    }

    /// Replaces the tracker's set of field names to anonymize.
    #[wasm_bindgen(js_name = setAnonymizeFields)]
    pub fn set_anonymize_fields(&self, fields: JsValue) -> JsResult<()> {
        let fields = read_field_list(&fields, "anonymizeFields", "anonymizeFields").map_err(thrown)?;
        self.update_defaults(|d| d.anonymize_fields = fields)
    }

    /// Sets the tracker's anonymizer (`null` = the default redaction).
    #[wasm_bindgen(js_name = setAnonymizer)]
    pub fn set_anonymizer(&self, anonymizer: JsValue) -> JsResult<()> {
        let anonymizer = read_function_value(&anonymizer, "anonymizer").map_err(thrown)?;
        self.with_state(|s| s.anonymizer = anonymizer)
    }
}

impl Tracker {
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> JsResult<T> {
        let mut state = self.state.try_borrow_mut().map_err(|_| thrown(TrackError::Reentrant))?;
        if state.closed {
            return Err(thrown(TrackError::TrackerClosed));
        }
        Ok(f(&mut state))
    }

    fn update_defaults(&self, change: impl FnOnce(&mut RecordDefaults)) -> JsResult<()> {
        self.with_state(|state| {
            let mut defaults = (*state.defaults).clone();
            change(&mut defaults);
            state.defaults = Rc::new(defaults);
        })
    }

    fn snapshot(&self) -> JsResult<Snapshot> {
        self.with_state(|state| Snapshot {
            queue: state.queue.clone(),
            defaults: state.defaults.clone(),
            anonymizer: state.anonymizer.clone(),
            max_record_bytes: state.config.max_record_bytes,
        })
    }

    /// Builds one record. No tracker borrow is held: the anonymizer (user code) may call back into the tracker.
    fn build(&self, input: RecordInput, snapshot: &Snapshot, call: &CallOptions) -> Result<EncodedRecord, TrackError> {
        let entropy = match self.entropy.try_borrow_mut() {
            Ok(mut pool) => pool.take::<16>(),
            Err(_) => Entropy::default().take::<16>(),
        };
        let function = call.anonymizer.as_ref().or(snapshot.anonymizer.as_ref());
        let mut js_anonymizer = function.map(|function| JsAnonymizer { function, max_bytes: snapshot.max_record_bytes });
        let ctx = BuildContext {
            now_ms: now_ms(),
            entropy,
            max_record_bytes: snapshot.max_record_bytes,
            call_fields: &call.anonymize_fields,
            anonymizer: js_anonymizer.as_mut().map(|a| a as &mut dyn crate::core::anonymize::Anonymizer),
        };
        build_record(input, &snapshot.defaults, ctx)
    }

    /// Starts delivering `records` and returns the promise of `finish(report)`. The promise never rejects.
    fn spawn(
        &self,
        records: Vec<EncodedRecord>,
        finish: impl FnOnce(crate::core::immediate::DeliveryReport) -> JsValue + 'static,
    ) -> JsResult<Promise> {
        let (endpoint, config, id) = self.with_state(|state| {
            let id = state.next_delivery;
            state.next_delivery += 1;
            (endpoint_of(&state.config, state.fetch.clone(), state.sink.clone()), immediate_config(&state.config), id)
        })?;
        let entropy = self.entropy.clone();
        let state = Rc::downgrade(&self.state);
        let promise = crate::wasm::platform::promise_of(async move {
            let (report, causes) = deliver(records, config, endpoint, entropy).await;
            if let Some(state) = state.upgrade() {
                if let Ok(mut state) = state.try_borrow_mut() {
                    state.in_flight.retain(|(other, _)| *other != id);
                }
            }
            let result = finish(report);
            causes.attach(&result);
            Ok(result)
        });
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.in_flight.push((id, promise.clone()));
        }
        Ok(promise)
    }
}

/// Queues every record of a batch, or none ([`Queue::enqueue_all`]).
fn enqueue_all(queue: &Rc<Queue>, records: Vec<EncodedRecord>) -> Result<JsValue, TrackError> {
    let ids: Vec<String> = records.iter().map(|r| r.response_id.clone()).collect();
    queue.enqueue_all(records)?;
    Ok(queued_batch(&ids))
}

fn endpoint_of(config: &TrackerConfig, fetch: Option<Function>, sink: Option<Sink>) -> Endpoint {
    Endpoint {
        sink,
        url: config.track_url(),
        authorization: config.authorization(),
        timeout_ms: config.timeout_ms,
        fetch,
        keepalive: false,
    }
}

fn immediate_config(config: &TrackerConfig) -> ImmediateConfig {
    ImmediateConfig {
        policy: config.retry_policy(),
        max_batch_size: config.max_batch_size,
        max_batch_bytes: config.max_batch_bytes,
        timeout_ms: config.timeout_ms,
        redactor: Redactor::new(config.api_key.as_deref()),
    }
}
