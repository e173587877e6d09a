//! Providers are data, formats are code: a provider is an entry in this table
//! naming its wire format ([`Codec`]), base URL and where its key comes from.

/// The wire formats the gateway speaks upstream. Dispatch is a `match` on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// OpenAI Chat Completions and everything that imitates it.
    OpenAiChat,
    /// Answers inside the gateway, with no network (trying the gateway without keys).
    Mock,
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
        id: "mock",
        codec: Codec::Mock,
        base_url: None,
        key_env: &[],
        base_env: &[],
        key_optional: true,
    },
];

/// A provider by id: the static table first, then the catalog (its
/// OpenAI-compatible providers and the aliases of all its providers).
pub fn provider(id: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS
        .iter()
        .find(|p| p.id == id)
        .or_else(|| crate::catalog_resolve::catalog_provider(id))
}
