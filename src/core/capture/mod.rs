//! LLM usage capture (issue 8): from what a provider returns — a JSON body, a stream of SSE events or Bedrock
//! event-stream frames — to the usage record the Python SDK builds for it. Sans-IO like the rest of the core:
//! bytes and parsed values come in, [`Captured`] comes out; the bindings decide nothing.
//!
//! The pieces:
//! - [`api`]: the provider APIs we understand ([`ApiKind`]), upstream's api ids and vendor names.
//! - [`captured`]: what capture yields for one call ([`Captured`], [`UsageStatus`]).
//! - [`gemini_usage`]: Gemini's `usageMetadata` normalized as upstream does.
//! - [`service_key`]: `vendor::model` from what the caller gave, the request and the response.
//! - [`error`]: why nothing could be captured ([`CaptureError`], stable codes).

pub mod api;
pub mod captured;
pub mod error;
pub mod gemini_usage;
pub mod service_key;

pub use api::ApiKind;
pub use captured::{Captured, UsageStatus};
pub use error::CaptureError;
