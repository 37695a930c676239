//! The service key of a captured call (shared/llm-usage.md K1, K2, F2, F8).
//!
//! `given` is what the caller passed: a full `vendor::model` key is kept verbatim (K1/K2); a bare api id
//! (`openai_chat`, `anthropic`, …) becomes `<vendor>::<model>`. The vendor is `vendor` when a host table
//! resolved one (OpenAI-compatible hosts), else the api id's default. The model is the request's (K1: the
//! model the caller asked for) when known, else the response's (K2: dated, e.g. `gpt-4o-mini-2024-07-18`).
//! A Gemini model loses a leading `models/` (F8). No model at all is [`CaptureError::NoModel`], never a bare
//! api id as upstream sends (F2).

use super::api::ApiKind;
use super::error::CaptureError;

/// The separator of a service key.
pub const SEPARATOR: &str = "::";

/// What `given` names: a full key (kept verbatim) or an api id's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrApi<'a> {
    /// A `vendor::model` key, used as it is.
    Key(&'a str),
    /// A bare api id.
    Api(ApiKind),
}

/// Reads the first argument of `trackLlmUsage`/`trackLlmStream`. Fails with [`CaptureError::UnknownApi`] when it
/// is neither a key (`a::b`, both sides non-empty) nor a known api id.
pub fn key_or_api(given: &str) -> Result<KeyOrApi<'_>, CaptureError> {
    if let Some((vendor, model)) = given.split_once(SEPARATOR) {
        if !vendor.is_empty() && !model.is_empty() {
            return Ok(KeyOrApi::Key(given));
        }
    }
    ApiKind::from_api_id(given).map(KeyOrApi::Api).ok_or_else(|| CaptureError::UnknownApi { given: given.to_string() })
}

/// The key for a call read as `api`: see the module docs.
pub fn service_key(
    given: KeyOrApi<'_>,
    api: ApiKind,
    vendor: Option<&str>,
    request_model: Option<&str>,
    response_model: Option<&str>,
) -> Result<String, CaptureError> {
    if let KeyOrApi::Key(key) = given {
        return Ok(key.to_string());
    }
    let model = [request_model, response_model]
        .into_iter()
        .flatten()
        .map(|m| if api == ApiKind::Gemini { m.strip_prefix("models/").unwrap_or(m) } else { m })
        .find(|m| !m.is_empty())
        .ok_or(CaptureError::NoModel { api: api.api_id() })?;
    let vendor = vendor.filter(|v| !v.is_empty()).unwrap_or(api.default_vendor());
    Ok(format!("{vendor}{SEPARATOR}{model}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_key_is_kept_verbatim() {
        let given = key_or_api("openai::GPT-4o").unwrap();
        assert_eq!(service_key(given, ApiKind::OpenAiChat, Some("groq"), Some("x"), Some("y")).unwrap(), "openai::GPT-4o");
    }

    #[test]
    fn an_api_id_takes_the_request_model_then_the_response_model() {
        let given = key_or_api("openai_chat").unwrap();
        let key = service_key(given, ApiKind::OpenAiChat, None, Some("gpt-4o-mini"), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(key.unwrap(), "openai::gpt-4o-mini");
        let key = service_key(given, ApiKind::OpenAiChat, None, None, Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(key.unwrap(), "openai::gpt-4o-mini-2024-07-18");
        let key = service_key(given, ApiKind::OpenAiChat, Some("groq"), Some(""), Some("llama-3.1-8b-instant"));
        assert_eq!(key.unwrap(), "groq::llama-3.1-8b-instant");
    }

    #[test]
    fn gemini_loses_models_prefix_and_no_model_is_an_error() {
        let given = key_or_api("gemini").unwrap();
        assert_eq!(service_key(given, ApiKind::Gemini, None, Some("models/gemini-2.5-flash"), None).unwrap(), "google::gemini-2.5-flash");
        let err = service_key(given, ApiKind::Gemini, None, None, None).unwrap_err();
        assert_eq!(err.code(), "E_NO_MODEL");
    }

    #[test]
    fn unknown_first_arguments_are_refused() {
        for given in ["", "gpt-4o", "::m", "openai::", "OPENAI_CHAT"] {
            assert_eq!(key_or_api(given).unwrap_err().code(), "E_UNKNOWN_API", "{given}");
        }
        assert_eq!(key_or_api("amazon-bedrock").unwrap(), KeyOrApi::Api(ApiKind::BedrockConverse));
    }
}
