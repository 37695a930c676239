//! Timestamps. (Temporary stubs on main; the real module lands from h-json.)
pub fn parse_iso8601(_s: &str) -> Result<i64, String> { Err("stub".into()) }
pub fn from_epoch_millis(ms: f64) -> Result<i64, String> { Ok((ms * 1000.0).round() as i64) }
pub fn format_sdk_seconds(micros: i64) -> String { format!("{:?}", micros as f64 / 1e6) }
pub fn parse_http_date(_s: &str) -> Option<i64> { None }
