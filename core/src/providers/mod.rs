//! Providers are data, formats are code: a provider is an entry in this table
//! naming its wire format ([`Codec`]), base URL and where its key comes from.

/// The wire formats the gateway speaks upstream. Dispatch is a `match` on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// OpenAI Chat Completions and everything that imitates it.
    OpenAiChat,
    /// OpenAI's Responses API (`/responses`): the only way to some OpenAI
    /// models. Chosen per deployment at resolve time, never a provider default.
    OpenAiResponses,
    /// Google Gemini `generateContent` (AI Studio and Vertex AI).
    Gemini,
    /// AWS Bedrock Converse / ConverseStream (SigV4 or Bedrock API keys).
    Bedrock,
    /// Answers inside the gateway, with no network (trying the gateway without keys).
    Mock,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// Anthropic Messages on Vertex AI (`:rawPredict`): the same body without
    /// `model`, plus `anthropic_version`, and a Google bearer token.
    AnthropicVertex,
    /// Azure OpenAI: OpenAI's format on `/openai/deployments/{deployment}/…?api-version=`.
    AzureOpenAi,
    /// Azure AI Foundry model inference: OpenAI's format on `/models/chat/completions`.
    AzureAi,
    /// Cohere Chat v2 (`/v2/chat`, SSE with `event:` lines).
    Cohere,
    /// Ollama's native `/api/chat` (NDJSON streaming).
    Ollama,
}

#[derive(Debug)]
pub struct ProviderSpec {
    pub id: &'static str,
    pub codec: Codec,
    /// Default base URL; `None` means the deployment must give `api_base`.
    pub base_url: Option<&'static str>,
    /// Environment variables that may hold the key, first found wins.
    pub key_env: &'static [&'static str],
    /// Environment variables that may override the base URL.
    pub base_env: &'static [&'static str],
    /// Whether a request without any key is still sent (local servers).
    pub key_optional: bool,
}

pub static PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        id: "openai",
        codec: Codec::OpenAiChat,
        base_url: Some("https://api.openai.com/v1"),
        key_env: &["OPENAI_API_KEY"],
        base_env: &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
        key_optional: false,
    },
    ProviderSpec {
        id: "openai_compatible",
        codec: Codec::OpenAiChat,
        base_url: None,
        key_env: &["OPENAI_COMPATIBLE_API_KEY"],
        base_env: &["OPENAI_COMPATIBLE_API_BASE"],
        key_optional: true,
    },
    ProviderSpec {
        id: "gemini",
        codec: Codec::Gemini,
        base_url: Some("https://generativelanguage.googleapis.com"),
        key_env: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_env: &["GEMINI_API_BASE"],
        key_optional: false,
    },
    ProviderSpec {
        // Gemini on Vertex AI. `{location}` is filled from the deployment's
        // vertex_location; an api_base given in config replaces the host.
        // api_key, when set, is a pre-minted access token; otherwise one is
        // minted from vertex_credentials.
        id: "vertex_ai",
        codec: Codec::Gemini,
        base_url: Some("https://{location}-aiplatform.googleapis.com"),
        key_env: &[],
        base_env: &["VERTEXAI_API_BASE"],
        key_optional: true,
    },
    ProviderSpec {
        id: "bedrock",
        codec: Codec::Bedrock,
        // `{region}` is filled from the deployment's region by the codec.
        base_url: Some("https://bedrock-runtime.{region}.amazonaws.com"),
        // A Bedrock API key; without one the codec signs with AWS credentials.
        key_env: &["AWS_BEARER_TOKEN_BEDROCK"],
        base_env: &[
            "AWS_BEDROCK_RUNTIME_ENDPOINT",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        ],
        key_optional: true,
    },
    ProviderSpec {
        id: "anthropic",
        codec: Codec::Anthropic,
        base_url: Some("https://api.anthropic.com"),
        key_env: &["ANTHROPIC_API_KEY"],
        base_env: &["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"],
        key_optional: false,
    },
    ProviderSpec {
        id: "vertex_anthropic",
        codec: Codec::AnthropicVertex,
        // `{location}` is filled from the deployment's vertex_location.
        base_url: Some("https://{location}-aiplatform.googleapis.com"),
        key_env: &[],
        base_env: &[],
        // The bearer token is usually minted from vertex_credentials per request.
        key_optional: true,
    },
    ProviderSpec {
        id: "azure",
        codec: Codec::AzureOpenAi,
        base_url: None,
        key_env: &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
        base_env: &["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"],
        // An Entra token (`azure_ad_token` / AZURE_AD_TOKEN) may stand in for
        // the key; the codec refuses a deployment that has neither.
        key_optional: true,
    },
    ProviderSpec {
        id: "azure_ai",
        codec: Codec::AzureAi,
        base_url: None,
        key_env: &["AZURE_AI_API_KEY"],
        base_env: &["AZURE_AI_API_BASE"],
        key_optional: true,
    },
    ProviderSpec {
        id: "cohere",
        codec: Codec::Cohere,
        base_url: Some("https://api.cohere.com"),
        key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        base_env: &["COHERE_API_BASE", "CO_API_URL"],
        key_optional: false,
    },
    ProviderSpec {
        id: "ollama",
        codec: Codec::Ollama,
        base_url: Some("http://localhost:11434"),
        key_env: &["OLLAMA_API_KEY"],
        base_env: &["OLLAMA_API_BASE", "OLLAMA_HOST"],
        key_optional: true,
    },
    ProviderSpec {
        // Jina AI: OpenAI's embeddings format, and Cohere's rerank shape on `/rerank`.
        id: "jina_ai",
        codec: Codec::OpenAiChat,
        base_url: Some("https://api.jina.ai/v1"),
        key_env: &["JINA_AI_API_KEY"],
        base_env: &["JINA_AI_API_BASE"],
        key_optional: false,
    },
    ProviderSpec {
        // Voyage AI: `/embeddings` like OpenAI's, and `/rerank` (mapped).
        id: "voyage",
        codec: Codec::OpenAiChat,
        base_url: Some("https://api.voyageai.com/v1"),
        key_env: &["VOYAGE_API_KEY"],
        base_env: &["VOYAGE_API_BASE"],
        key_optional: false,
    },
    ProviderSpec {
        id: "mock",
        codec: Codec::Mock,
        base_url: None,
        key_env: &[],
        base_env: &[],
        key_optional: true,
    },
];

/// The providers that serve OpenAI's own models.
pub(crate) const OPENAI_FAMILY: &[&str] = &["openai", "azure"];

/// Models OpenAI serves only through the Responses API.
pub static RESPONSES_ONLY: &[&str] = &[
    "o1-pro*",
    "o3-pro*",
    "o3-deep-research*",
    "o4-mini-deep-research*",
    "gpt-5-pro*",
    "gpt-5-codex*",
    "gpt-5.1-codex*",
    "gpt-5.2-pro*",
    "codex-mini-latest*",
    "computer-use-preview*",
];

/// Whether `provider` must send `model` to the Responses API.
pub fn responses_only(provider: &str, model: &str) -> bool {
    OPENAI_FAMILY.contains(&provider) && RESPONSES_ONLY.iter().any(|p| glob(p, model))
}

/// `*` matches any run of characters (none included); nothing else is special.
pub fn glob(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return rest.is_empty();
    };
    for mid in parts {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}
