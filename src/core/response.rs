//! Reading a `/track` reply. (Types fixed; parser being written.)
use crate::core::value::Value;

/// One per-record entry of a `/track` reply (`TrackResult` in the Python SDK).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerResult {
    /// The record this result is about; `None` when the server left it out.
    pub response_id: Option<String>,
    /// `queued`, `completed`, `error`, `service_key_unknown`, or another string a newer server sends.
    pub status: Option<String>,
    /// The server's messages for this record (non-string items are kept as their JSON text).
    pub errors: Vec<String>,
    /// Legacy synchronous servers: the cost events computed for this record.
    pub cost_events: Option<Value>,
}

/// A whole `/track` reply: `{"results": [...], "triggered_limits": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackReply {
    pub results: Vec<ServerResult>,
    /// `None` when absent, `null` or `{}`.
    pub triggered_limits: Option<Value>,
}

/// Parses a reply body. Fails (with a reason for the caller's error message) when the body is not JSON
/// or has no `results` array.
pub fn parse_track_reply(_body: &str) -> Result<TrackReply, String> {
    Err("parser not written yet".to_owned())
}
