use super::*;

fn c() -> &'static Catalog {
    embedded()
}

fn find(provider: &str, id: &str) -> Found {
    let p = c()
        .provider(provider)
        .unwrap_or_else(|| panic!("provider {provider}"));
    c().lookup(p, id)
        .unwrap_or_else(|| panic!("{provider}/{id}"))
}

#[test]
fn embedded_catalog_loads_and_every_line_parses() {
    let cat = c();
    cat.validate().unwrap();
    assert!(cat
        .source()
        .contains("f3fc692299671838c7c65fd8126bf84d81a2e817"));
    assert!(cat.model_count() > 6000, "{}", cat.model_count());
    // The embedded text lists providers in gzip's order; they load by id.
    let ids: Vec<&str> = cat.providers().map(|p| p.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let text_order: Vec<&str> = EMBEDDED_TEXT
        .lines()
        .filter_map(|l| l.strip_prefix("P\t")?.split('\t').next())
        .collect();
    assert_ne!(text_order, ids, "the check above would pass on any text");
}

/// Every provider a client can name as `provider/model` with this build:
/// the static table's and the catalog's addressable ones.
fn addressable_providers() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = crate::providers::PROVIDERS.iter().map(|p| p.id).collect();
    for p in c().providers() {
        if c().addressable(p) && crate::resolve::provider(c(), p.gateway_or_id()).is_some() {
            ids.push(p.gateway_or_id());
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[test]
fn at_least_130_providers_are_addressable() {
    let ids = addressable_providers();
    println!("{} addressable providers: {}", ids.len(), ids.join(" "));
    assert!(ids.len() >= 130, "only {} providers", ids.len());
    for want in [
        // first parties
        "openai",
        "deepseek",
        "groq",
        "mistral",
        "xai",
        "cerebras",
        "togetherai",
        // aggregators
        "openrouter",
        "vercel",
        "cloudflare-ai-gateway",
        "helicone",
        "302ai",
        "zenmux",
        "requesty",
        "aihubmix",
        // local servers
        "ollama",
        "lmstudio",
        "llamacpp",
        "vllm",
        "lemonade",
        // LiteLLM-only providers
        "sambanova",
        "hyperbolic",
        "nscale",
        "lambda",
        "featherless",
    ] {
        assert!(ids.contains(&want), "{want} is not addressable");
    }
}

#[test]
fn catalog_providers_become_specs() {
    let spec = crate::resolve::provider(crate::catalog::embedded(), "deepseek").unwrap();
    assert_eq!(spec.base_url, Some("https://api.deepseek.com"));
    assert_eq!(spec.key_env, ["DEEPSEEK_API_KEY"]);
    assert_eq!(spec.base_env, ["DEEPSEEK_API_BASE"]);
    assert!(!spec.key_optional);
    // aliases, LiteLLM's names included
    assert_eq!(
        crate::resolve::provider(crate::catalog::embedded(), "together_ai")
            .unwrap()
            .id,
        "togetherai"
    );
    assert_eq!(
        crate::resolve::provider(crate::catalog::embedded(), "fireworks_ai")
            .unwrap()
            .id,
        "fireworks-ai"
    );
    // local servers need no key and have localhost defaults; Ollama is served
    // by its native codec (`/api/chat`), which takes precedence over the catalog
    let ollama = crate::resolve::provider(crate::catalog::embedded(), "ollama").unwrap();
    assert!(ollama.key_optional);
    assert_eq!(ollama.codec, crate::providers::Codec::Ollama);
    assert_eq!(ollama.base_url, Some("http://localhost:11434"));
    // URL placeholders stay for the resolver; the key is the variable that is not one
    let cf = crate::resolve::provider(crate::catalog::embedded(), "cloudflare-workers-ai").unwrap();
    assert_eq!(
        cf.base_url,
        Some("https://api.cloudflare.com/client/v4/accounts/${CLOUDFLARE_ACCOUNT_ID}/ai/v1")
    );
    assert_eq!(cf.key_env, ["CLOUDFLARE_API_KEY"]);
    // models.dev writes this base URL with `/chat/completions`
    let bailing = crate::resolve::provider(crate::catalog::embedded(), "bailing").unwrap();
    assert_eq!(bailing.base_url, Some("https://api.tbox.cn/api/llm/v1"));
    // native providers are not catalog specs; unsupported ones are not specs at all
    assert!(c().provider_spec("anthropic").is_none());
    assert!(crate::resolve::provider(crate::catalog::embedded(), "perplexity-agent").is_none());
    assert!(crate::resolve::provider(crate::catalog::embedded(), "gitlab").is_none());
}

#[test]
fn lookups_by_every_spelling() {
    let f = find("openai", "gpt-4o");
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        ("gpt-4o", MatchKind::Exact)
    );
    assert_eq!(f.info.context, Some(128_000));
    assert!(f.info.has(Caps::TOOLS) && f.info.supports_vision());
    // an undated id aliased to its dated entry
    let f = find("google-vertex-anthropic", "claude-opus-4-6");
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        ("claude-opus-4-6@default", MatchKind::Alias)
    );
    // Anthropic's `-date` against Vertex's `@date`
    let f = find("google-vertex-anthropic", "claude-sonnet-4-5-20250929");
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        ("claude-sonnet-4-5@20250929", MatchKind::VersionSpelling)
    );
    // case
    let f = find("togetherai", "qwen/qwen2.5-72b-instruct-turbo");
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        (
            "Qwen/Qwen2.5-72B-Instruct-Turbo",
            MatchKind::CaseInsensitive
        )
    );
    // a Bedrock cross-region profile the snapshot does not list
    let f = find(
        "amazon-bedrock",
        "jp.anthropic.claude-opus-4-1-20250805-v1:0",
    );
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        (
            "anthropic.claude-opus-4-1-20250805-v1:0",
            MatchKind::RegionPrefix
        )
    );
    // a dated id the snapshot does not have yet, priced as its undated entry
    let f = find("openai", "gpt-4o-mini-2099-01-01");
    assert_eq!(
        (f.info.id.as_str(), f.matched),
        ("gpt-4o-mini", MatchKind::Undated)
    );
    let p = c().provider("openai").unwrap();
    assert!(c().lookup(p, "no-such-model").is_none());
}

#[test]
fn bare_ids_go_to_their_maker() {
    let maker = |id: &str| c().first_party(id).map(|f| f.provider.id);
    assert_eq!(maker("gpt-4o"), Some("openai"));
    assert_eq!(maker("claude-haiku-4-5"), Some("anthropic"));
    assert_eq!(maker("claude-haiku-4-5-20251001"), Some("anthropic"));
    assert_eq!(maker("gemini-2.5-pro"), Some("google"));
    assert_eq!(maker("deepseek-chat"), Some("deepseek"));
    assert_eq!(maker("grok-4"), Some("xai"));
    assert_eq!(
        maker("anthropic.claude-opus-4-1-20250805-v1:0"),
        Some("amazon-bedrock")
    );
    // an aggregator's model is nobody's first party
    assert_eq!(maker("anthropic/claude-sonnet-4.5"), None);
    assert_eq!(maker("no-such-model"), None);
    let f = c().first_party("gemini-2.5-pro").unwrap();
    assert_eq!(f.provider.gateway_or_id(), "gemini");
}

#[test]
fn gateway_ids_reach_native_providers() {
    let ids: Vec<&str> = c().for_gateway("vertex_ai").map(|p| p.id).collect();
    assert_eq!(ids, ["google-vertex", "google-vertex-anthropic"]);
    let f = c()
        .lookup_gateway("vertex_ai", "claude-haiku-4-5@20251001")
        .unwrap();
    assert_eq!(f.provider.id, "google-vertex");
    assert_eq!(c().for_gateway("groq").next().unwrap().id, "groq");
    assert_eq!(
        c().for_gateway("bedrock").next().unwrap().id,
        "amazon-bedrock"
    );
}

#[test]
fn suggestions_for_unknown_names() {
    let s = c().suggest("gpt-4o-mnii", &["fast"]);
    assert!(s.contains(&"gpt-4o-mini".to_string()), "{s:?}");
    let s = c().suggest("openai/gpt-4o-mnii", &[]);
    assert!(s.contains(&"openai/gpt-4o-mini".to_string()), "{s:?}");
    let s = c().suggest("deepsek/deepseek-chat", &[]);
    assert_eq!(
        s.first().map(String::as_str),
        Some("deepseek/deepseek-chat")
    );
    let s = c().suggest("fastt", &["fast", "slow"]);
    assert_eq!(s.first().map(String::as_str), Some("fast"));
}

#[test]
fn capability_queries_with_provider_preference() {
    use super::query::{select, Requirements};
    let req = Requirements {
        tools: true,
        vision: true,
        reasoning: true,
        json_output: true,
        min_context: Some(1_000_000),
        ..Requirements::default()
    };
    let hits = select(c(), &req, &["google", "openai"]);
    assert!(!hits.is_empty());
    // Preferred providers first, in the order given.
    assert_eq!(hits[0].provider.id, "google");
    let first_other = hits.iter().position(|h| h.provider.id != "google").unwrap();
    assert!(hits[first_other..]
        .iter()
        .all(|h| h.provider.id != "google"));
    for h in &hits {
        let m = &h.info;
        assert!(m.has(Caps::TOOLS) && m.has(Caps::REASONING) && m.has(Caps::JSON));
        assert!(m.supports_vision());
        assert!(m.input_window().unwrap() >= 1_000_000, "{}", h.name());
        assert!(!m.deprecated());
    }
    // Within a provider, cheapest input first.
    let google: Vec<f64> = hits
        .iter()
        .take_while(|h| h.provider.id == "google")
        .map(|h| h.info.prices.input.unwrap_or(f64::INFINITY))
        .collect();
    assert!(google.windows(2).all(|w| w[0] <= w[1]), "{google:?}");
    assert_eq!(hits[0].name(), format!("gemini/{}", hits[0].info.id));

    // Only what this build can call: OpenAI-compatible providers and the
    // native ones with a codec.
    let callable = select(
        c(),
        &Requirements {
            addressable_only: true,
            ..req.clone()
        },
        &[],
    );
    assert!(!callable.is_empty());
    assert!(callable.iter().all(|h| c().addressable(h.provider)));
    // A 2M-token window, only on DeepSeek: none there.
    let none = select(
        c(),
        &Requirements {
            min_context: Some(2_000_000),
            only_providers: vec!["deepseek".into()],
            ..Requirements::default()
        },
        &[],
    );
    assert!(none.is_empty());
    // Embeddings are their own mode.
    let embed = select(
        c(),
        &Requirements {
            mode: Mode::Embedding,
            only_providers: vec!["openai".into()],
            ..Requirements::default()
        },
        &[],
    );
    assert!(embed.iter().any(|h| h.info.id == "text-embedding-3-small"));
    assert!(embed.iter().all(|h| h.info.mode == Mode::Embedding));
}

#[test]
fn deprecated_models_are_flagged() {
    // models.dev marks it deprecated.
    assert!(find("google", "gemini-2.0-flash").info.deprecated());
    assert!(!find("openai", "gpt-4o").info.deprecated());
}
