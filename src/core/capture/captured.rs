//! What capture yields for one provider call.

use crate::core::value::Value;

/// How complete the usage of a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageStatus {
    /// The provider's final usage was seen (a body's `usage`, a stream's terminal usage). The record is the one
    /// a complete call gives, byte for byte.
    Complete,
    /// Only part of it: the stream ended, failed or was cancelled after some usage was seen (Anthropic's
    /// `message_start`, a Gemini cumulative snapshot). The record carries the best usage seen and
    /// `context.usage_status: "partial"` (shared/llm-usage.md F7).
    Partial,
    /// No usage at all (an OpenAI stream without its usage chunk, a cut before any usage). No record is sent by
    /// default; the caller learns it from the result or callback.
    Missing,
}

impl UsageStatus {
    /// The text written to `context.usage_status` (only `Partial` is ever written) and shown in results.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageStatus::Complete => "complete",
            UsageStatus::Partial => "partial",
            UsageStatus::Missing => "missing",
        }
    }
}

/// The usage of one call, as found in what the provider returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// Which API shape it was read as.
    pub api: super::ApiKind,
    /// The model the response names (`model`, `modelVersion`, `message.model`), if any. The service key prefers
    /// the request's model (shared/llm-usage.md K1, F2); this is the fallback.
    pub model: Option<String>,
    /// The vendor's id for the call (`chatcmpl-…`, `resp_…`, `msg_…`, Gemini `responseId`), if any.
    pub response_id: Option<String>,
    /// The vendor's usage in its native shape (Gemini normalized by [`super::gemini_usage`]): the record's
    /// `payload`. `None` exactly when `status` is `Missing`.
    pub usage: Option<Value>,
    /// How complete `usage` is.
    pub status: UsageStatus,
}
