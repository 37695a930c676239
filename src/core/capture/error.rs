//! Why usage could not be captured. Codes are public API: never rename one, only add.

use std::fmt;

/// A capture failure. It is reported (result, callback, debug log), never thrown into the user's provider call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureError {
    /// The first argument is neither a `vendor::model` service key nor an api id we know.
    UnknownApi { given: String },
    /// Neither the request nor the response names a model, so no `vendor::model` key can be built (upstream
    /// would send the bare api id; shared/llm-usage.md F2).
    NoModel { api: &'static str },
    /// The response has no usage where the API puts it (`found` says what was there instead).
    NoUsage { api: &'static str, found: String },
    /// The response is not the JSON shape the API returns (`reason` says what is wrong).
    UnexpectedShape { api: &'static str, reason: String },
}

impl CaptureError {
    /// The stable code, the `code` property of the JS error or diagnostic.
    pub fn code(&self) -> &'static str {
        match self {
            CaptureError::UnknownApi { .. } => "E_UNKNOWN_API",
            CaptureError::NoModel { .. } => "E_NO_MODEL",
            CaptureError::NoUsage { .. } => "E_NO_USAGE",
            CaptureError::UnexpectedShape { .. } => "E_UNEXPECTED_RESPONSE",
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::UnknownApi { given } => write!(
                f,
                "{given:?} is neither a \"vendor::model\" service key nor a known api id (openai_chat, openai_responses, anthropic, gemini, amazon-bedrock, fireworks-ai)"
            ),
            CaptureError::NoModel { api } => {
                write!(f, "{api}: neither the request nor the response names a model; pass a \"vendor::model\" service key")
            }
            CaptureError::NoUsage { api, found } => write!(f, "{api}: the response carries no usage ({found})"),
            CaptureError::UnexpectedShape { api, reason } => write!(f, "{api}: not a response of this API: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(CaptureError::UnknownApi { given: "x".into() }.code(), "E_UNKNOWN_API");
        assert_eq!(CaptureError::NoModel { api: "gemini" }.code(), "E_NO_MODEL");
        assert_eq!(CaptureError::NoUsage { api: "gemini", found: "null".into() }.code(), "E_NO_USAGE");
        assert_eq!(CaptureError::UnexpectedShape { api: "gemini", reason: "r".into() }.code(), "E_UNEXPECTED_RESPONSE");
        assert!(CaptureError::NoModel { api: "anthropic" }.to_string().contains("vendor::model"));
    }
}
