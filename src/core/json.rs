//! JSON text <-> [`Value`]. (Stub: being written.)
use crate::core::value::Value;

/// Why a JSON text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError { pub offset: usize, pub reason: String }

/// Parses one JSON text.
pub fn parse(_text: &str) -> Result<Value, JsonError> { Err(JsonError { offset: 0, reason: "not implemented".into() }) }

/// Appends `value` as compact JSON to `out`.
pub fn write_value(_value: &Value, _out: &mut String) {}

/// Appends `s` as a JSON string literal (with quotes) to `out`.
pub fn write_string(_s: &str, _out: &mut String) {}
