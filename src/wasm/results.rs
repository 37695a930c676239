//! Delivery reports as the JavaScript result objects `track()` and `trackBatch()` resolve to.

use crate::core::immediate::{DeliveryReport, RecordOutcome};
use crate::core::error::DeliveryError;
use crate::wasm::js_value::value_to_js;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

fn set(object: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `{ responseId, status, errors, costEvents, error, attempts }` for one record.
pub fn outcome_to_js(outcome: &RecordOutcome) -> Object {
    let result = Object::new();
    set(&result, "responseId", &JsValue::from_str(&outcome.response_id));
    set(&result, "status", &JsValue::from_str(&outcome.status));
    let errors: Array = outcome.errors.iter().map(|e| JsValue::from_str(e)).collect();
    set(&result, "errors", &errors);
    set(&result, "costEvents", &outcome.cost_events.as_ref().map_or(JsValue::NULL, value_to_js));
    set(&result, "error", &outcome.error.as_ref().map_or(JsValue::NULL, |e| failure_to_js(e).into()));
    set(&result, "attempts", &JsValue::from(outcome.attempts));
    result
}

/// `{ code, message, httpStatus }`.
fn failure_to_js(error: &DeliveryError) -> Object {
    let failure = Object::new();
    set(&failure, "code", &JsValue::from_str(error.code()));
    set(&failure, "message", &JsValue::from_str(&error.to_string()));
    let status = match error {
        DeliveryError::HttpStatus { status, .. } | DeliveryError::TooLarge { status } => JsValue::from(*status),
        _ => JsValue::NULL,
    };
    set(&failure, "httpStatus", &status);
    failure
}

fn triggered_limits(report: &DeliveryReport) -> JsValue {
    report.triggered_limits.as_ref().map_or(JsValue::NULL, value_to_js)
}

/// What `track()` resolves to: the single record's result plus `triggeredLimits`.
pub fn single_result(report: &DeliveryReport) -> JsValue {
    let Some(outcome) = report.outcomes.first() else {
        return JsValue::NULL;
    };
    let result = outcome_to_js(outcome);
    set(&result, "triggeredLimits", &triggered_limits(report));
    result.into()
}

/// What `trackBatch()` resolves to: `{ results, triggeredLimits }`, results in input order.
pub fn batch_result(report: &DeliveryReport) -> JsValue {
    let results: Array = report.outcomes.iter().map(|o| JsValue::from(outcome_to_js(o))).collect();
    let out = Object::new();
    set(&out, "results", &results);
    set(&out, "triggeredLimits", &triggered_limits(report));
    out.into()
}
