//! The exported `Tracker` class.
//!
//! `track()`/`trackBatch()` validate and build their records synchronously (a bad input **throws** an
//! `AicmError` and nothing is sent), then return a promise of the delivery result, which never rejects:
//! delivery failures are data on the result.

use crate::core::batch::EncodedRecord;
use crate::core::config::{TrackerConfig, MAX_TRACK_BATCH_RECORDS};
use crate::core::error::TrackError;
use crate::core::immediate::ImmediateConfig;
use crate::core::record::{build_record, BuildContext, RecordDefaults, RecordInput};
use crate::core::retry::RetryPolicy;
use crate::wasm::anonymizer::JsAnonymizer;
use crate::wasm::deliver::deliver;
use crate::wasm::errors::track_error;
use crate::wasm::http::Endpoint;
use crate::wasm::options::{
    read_batch_options, read_batch_record, read_context_value, read_customer_key_value, read_field_list,
    read_function_value, read_service_key, read_track_options, read_tracker_options, read_usage, type_of, CallOptions,
};
use crate::wasm::platform::{now_ms, Entropy};
use crate::wasm::results::{batch_result, single_result};
use js_sys::{Array, Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// Tracks AI usage records and delivers them to the `/track` endpoint.
#[wasm_bindgen]
pub struct Tracker {
    state: Rc<RefCell<State>>,
    entropy: Rc<RefCell<Entropy>>,
}

struct State {
    config: TrackerConfig,
    /// Replaced, never mutated in place, so a `track()` can hold a snapshot while user code runs.
    defaults: Rc<RecordDefaults>,
    anonymizer: Option<Function>,
    fetch: Option<Function>,
    closed: bool,
    in_flight: Vec<(u64, Promise)>,
    next_delivery: u64,
}

/// What one call needs from the tracker, copied out so that no borrow is held while user code runs.
struct Snapshot {
    defaults: Rc<RecordDefaults>,
    anonymizer: Option<Function>,
    max_record_bytes: usize,
}

type JsResult<T> = Result<T, JsValue>;

fn thrown(error: TrackError) -> JsValue {
    track_error(&error)
}

#[wasm_bindgen]
impl Tracker {
    /// Creates a tracker. Throws `AicmError` (`E_MISSING_API_KEY`, `E_INVALID_OPTION`,
    /// `E_UNSUPPORTED_DELIVERY_TYPE`, ...) when the options are unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<Tracker> {
        let options = read_tracker_options(&options).map_err(thrown)?;
        let state = State {
            config: options.config,
            defaults: Rc::new(options.defaults),
            anonymizer: options.anonymizer,
            fetch: options.fetch,
            closed: false,
            in_flight: Vec::new(),
            next_delivery: 0,
        };
        Ok(Tracker { state: Rc::new(RefCell::new(state)), entropy: Rc::new(RefCell::new(Entropy::default())) })
    }

    /// Tracks one usage record and delivers it at once. Throws on invalid input (nothing is sent); the
    /// returned promise resolves to the record's result, with `status: "failed"` when it was not delivered.
    pub fn track(&self, service_key: JsValue, usage: JsValue, options: JsValue) -> JsResult<Promise> {
        let snapshot = self.snapshot()?;
        let service_key = read_service_key(&service_key).map_err(thrown)?;
        let payload = read_usage(&usage).map_err(thrown)?;
        let (parts, call) = read_track_options(&options).map_err(thrown)?;
        let record = self.build(parts.into_input(service_key, payload), &snapshot, &call).map_err(thrown)?;
        self.spawn(vec![record], |report| single_result(&report))
    }

    /// Tracks many records (at most 10,000 per call), sent in requests of at most `maxBatchSize` records.
    /// Throws `E_INVALID_RECORD` naming the index when any record is invalid, and then sends none.
    #[wasm_bindgen(js_name = trackBatch)]
    pub fn track_batch(&self, records: JsValue, options: JsValue) -> JsResult<Promise> {
        let snapshot = self.snapshot()?;
        if !Array::is_array(&records) {
            return Err(thrown(TrackError::InvalidBatch { found: type_of(&records) }));
        }
        let records: &Array = records.unchecked_ref();
        let count = records.length() as usize;
        if count > MAX_TRACK_BATCH_RECORDS {
            return Err(thrown(TrackError::BatchTooLarge { count, max: MAX_TRACK_BATCH_RECORDS }));
        }
        let call = read_batch_options(&options).map_err(thrown)?;
        let mut encoded = Vec::with_capacity(count);
        for (index, record) in records.iter().enumerate() {
            let built = read_batch_record(&record, index).and_then(|input| self.build(input, &snapshot, &call));
            encoded.push(built.map_err(|e| thrown(e.in_batch(index)))?);
        }
        self.spawn(encoded, |report| batch_result(&report))
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
        let context = read_context_value(&context).map_err(thrown)?;
        self.update_defaults(|d| d.context = context)
    }

    /// Replaces the tracker's set of field names to anonymize.
    #[wasm_bindgen(js_name = setAnonymizeFields)]
    pub fn set_anonymize_fields(&self, fields: JsValue) -> JsResult<()> {
        let fields = read_field_list(&fields, "anonymizeFields").map_err(thrown)?;
        self.update_defaults(|d| d.anonymize_fields = fields)
    }

    /// Sets the tracker's anonymizer (`null` = the default redaction).
    #[wasm_bindgen(js_name = setAnonymizer)]
    pub fn set_anonymizer(&self, anonymizer: JsValue) -> JsResult<()> {
        let anonymizer = read_function_value(&anonymizer, "anonymizer").map_err(thrown)?;
        self.with_state(|s| s.anonymizer = anonymizer)
    }

    /// Stops accepting records and resolves once every delivery in flight has finished. Later calls to
    /// `track()` throw `E_TRACKER_CLOSED`. Calling it twice is harmless.
    pub fn close(&self) -> Promise {
        let pending: Array = match self.state.try_borrow_mut() {
            Ok(mut state) => {
                state.closed = true;
                state.in_flight.iter().map(|(_, p)| JsValue::from(p.clone())).collect()
            }
            Err(_) => Array::new(),
        };
        future_to_promise(async move {
            let _ = JsFuture::from(Promise::all_settled(&pending)).await;
            Ok(JsValue::UNDEFINED)
        })
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
        let mut js_anonymizer = function.map(|function| JsAnonymizer { function });
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
            (endpoint_of(&state.config, state.fetch.clone()), immediate_config(&state.config), id)
        })?;
        let entropy = self.entropy.clone();
        let state = Rc::downgrade(&self.state);
        let promise = future_to_promise(async move {
            let report = deliver(records, config, endpoint, entropy).await;
            if let Some(state) = state.upgrade() {
                if let Ok(mut state) = state.try_borrow_mut() {
                    state.in_flight.retain(|(other, _)| *other != id);
                }
            }
            Ok(finish(report))
        });
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.in_flight.push((id, promise.clone()));
        }
        Ok(promise)
    }
}

fn endpoint_of(config: &TrackerConfig, fetch: Option<Function>) -> Endpoint {
    Endpoint { url: config.track_url(), authorization: config.authorization(), timeout_ms: config.timeout_ms, fetch }
}

fn immediate_config(config: &TrackerConfig) -> ImmediateConfig {
    ImmediateConfig {
        policy: RetryPolicy {
            max_attempts: config.max_attempts,
            base_delay_ms: config.retry_base_delay_ms,
            max_delay_ms: config.retry_max_delay_ms,
            max_retry_after_ms: config.max_retry_after_ms,
        },
        max_batch_size: config.max_batch_size,
        max_batch_bytes: config.max_batch_bytes,
        timeout_ms: config.timeout_ms,
    }
}
