//! The provider APIs capture understands, and upstream's names for them (shared/llm-usage.md §1, M1).

/// One provider API shape. The api id ([`ApiKind::api_id`]) is what a caller may pass instead of a full
/// `vendor::model` service key (`tracker.trackLlmUsage("openai_chat", body)`), as with upstream's
/// `track_llm_usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// `POST /v1/chat/completions` and every OpenAI-compatible host (Groq, xAI, DeepSeek, …).
    OpenAiChat,
    /// `POST /v1/responses`.
    OpenAiResponses,
    /// `POST /v1/embeddings` (no id in the body, no stream).
    OpenAiEmbeddings,
    /// `POST /v1/messages`.
    Anthropic,
    /// `models/{m}:generateContent` and `:streamGenerateContent` (REST JSON and `@google/genai` objects).
    Gemini,
    /// Bedrock `converse` and `converse-stream`.
    BedrockConverse,
}

impl ApiKind {
    /// Every kind, for tables and tests.
    pub const ALL: [ApiKind; 6] = [
        ApiKind::OpenAiChat,
        ApiKind::OpenAiResponses,
        ApiKind::OpenAiEmbeddings,
        ApiKind::Anthropic,
        ApiKind::Gemini,
        ApiKind::BedrockConverse,
    ];

    /// Upstream's api id (`API_TO_VENDOR` keys). Embeddings go through upstream's chat wrapper, so they share
    /// `openai_chat`; [`ApiKind::from_api_id`] therefore never yields `OpenAiEmbeddings`.
    pub fn api_id(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat | ApiKind::OpenAiEmbeddings => "openai_chat",
            ApiKind::OpenAiResponses => "openai_responses",
            ApiKind::Anthropic => "anthropic",
            ApiKind::Gemini => "gemini",
            ApiKind::BedrockConverse => "amazon-bedrock",
        }
    }

    /// The kind of a bare api id, or `None` when `id` is not one (it is then a service key or unknown).
    /// `fireworks-ai` is upstream's api id for Fireworks' OpenAI-compatible chat.
    pub fn from_api_id(id: &str) -> Option<ApiKind> {
        match id {
            "openai_chat" | "fireworks-ai" => Some(ApiKind::OpenAiChat),
            "openai_responses" => Some(ApiKind::OpenAiResponses),
            "anthropic" => Some(ApiKind::Anthropic),
            "gemini" => Some(ApiKind::Gemini),
            "amazon-bedrock" => Some(ApiKind::BedrockConverse),
            _ => None,
        }
    }

    /// Upstream's vendor for the api id (`API_TO_VENDOR`), the `vendor` of `vendor::model` when the caller gave
    /// only the api id and nothing says otherwise (a host table may, for OpenAI-compatible hosts).
    pub fn default_vendor(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat | ApiKind::OpenAiResponses | ApiKind::OpenAiEmbeddings => "openai",
            ApiKind::Anthropic => "anthropic",
            ApiKind::Gemini => "google",
            ApiKind::BedrockConverse => "amazon-bedrock",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_round_trip_except_embeddings_which_share_chat() {
        for kind in ApiKind::ALL {
            let back = ApiKind::from_api_id(kind.api_id());
            if kind == ApiKind::OpenAiEmbeddings {
                assert_eq!(back, Some(ApiKind::OpenAiChat));
            } else {
                assert_eq!(back, Some(kind));
            }
        }
        assert_eq!(ApiKind::from_api_id("fireworks-ai"), Some(ApiKind::OpenAiChat));
        assert_eq!(ApiKind::from_api_id("openai::gpt-4o"), None);
    }

    #[test]
    fn vendors_are_upstreams_api_to_vendor() {
        assert_eq!(ApiKind::Gemini.default_vendor(), "google");
        assert_eq!(ApiKind::OpenAiResponses.default_vendor(), "openai");
        assert_eq!(ApiKind::BedrockConverse.default_vendor(), "amazon-bedrock");
    }
}
