//! The merge rules, on small hand-written sources.

use super::*;
use crate::catalog::sources::parse_litellm;
use crate::catalog::text::Index;

const MODELS_DEV: &str = r#"{
  "acme": {"name": "Acme", "npm": "@ai-sdk/openai-compatible", "env": ["ACME_API_KEY"],
           "doc": "https://acme.example/docs", "api": "https://api.acme.example/v1/",
    "models": {
      "acme-1": {"name": "Acme 1", "tool_call": true, "reasoning": false, "attachment": false,
                 "knowledge": "2025-01", "release_date": "2025-02-01",
                 "modalities": {"input": ["text", "image"], "output": ["text"]},
                 "cost": {"input": 1.0, "output": 2.0},
                 "limit": {"context": 100000, "output": 8000}},
      "acme-1-20250101": {"name": "Acme 1 (Jan)", "cost": {"input": 1.0, "output": 2.0}},
      "acme-1-20250601": {"name": "Acme 1 (Jun)", "cost": {"input": 1.5, "output": 2.5}},
      "Big-Model": {"name": "Big", "status": "deprecated",
                    "cost": {"input": 3, "output": 6, "context_over_200k": {"input": 6, "output": 12}}},
      "tiered": {"name": "Tiered", "cost": {"input": 1, "output": 2,
                 "tiers": [{"tier": {"type": "context", "size": 128000}, "input": 2, "output": 4}]}},
      "slow@default": {"name": "Slow", "cost": {"input": 0, "output": 0}}
    }},
  "cloudy": {"name": "Cloudy", "npm": "@ai-sdk/openai-compatible",
             "env": ["CLOUDY_ACCOUNT_ID", "CLOUDY_TOKEN"],
             "api": "https://api.cloudy.example/${CLOUDY_ACCOUNT_ID}/v1/chat/completions", "models": {}},
  "lab": {"name": "Lab", "npm": "@ai-sdk/lab", "env": ["LAB_API_KEY"], "models": {
      "lab-x": {"name": "Lab X", "cost": {"input": 5, "output": 10}}}},
  "router": {"name": "Router", "npm": "@openrouter/ai-sdk-provider", "env": ["ROUTER_KEY"],
             "api": "https://router.example/api/v1", "models": {}},
  "sdkonly": {"name": "SDK only", "npm": "@ai-sdk/sdkonly", "env": ["SDKONLY_API_KEY"], "models": {}}
}"#;

const LITELLM: &str = r#"{
  "sample_spec": {"litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
  "acme/acme-1": {"litellm_provider": "acme", "mode": "chat",
      "input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6,
      "cache_read_input_token_cost": 1e-7, "cache_creation_input_token_cost_above_1hr": 2e-6,
      "max_input_tokens": 5, "max_output_tokens": 7, "deprecation_date": "2026-01-01",
      "supports_function_calling": false, "supports_reasoning": true},
  "acme-1": {"litellm_provider": "acme", "cache_read_input_token_cost": 3e-7},
  "acme/big-model": {"litellm_provider": "acme", "input_cost_per_token_above_200k_tokens": 1e-4},
  "acme/tiered": {"litellm_provider": "acme", "input_cost_per_token_above_272k_tokens": 1e-4},
  "acme_ai/acme-2": {"litellm_provider": "acme_ai", "mode": "chat",
      "input_cost_per_token": 1.4e-7, "output_cost_per_token": 2.8e-7,
      "input_cost_per_token_above_200k_tokens": 2.8e-7, "input_cost_per_image": 0.001,
      "supports_vision": true, "supports_function_calling": true, "max_input_tokens": 32000},
  "acme/acme-embed": {"litellm_provider": "acme", "mode": "embedding", "input_cost_per_token": 1e-8},
  "acme/acme-rerank": {"litellm_provider": "acme", "mode": "rerank", "input_cost_per_query": 0.002,
                       "input_cost_per_token": 0.0},
  "acme/acme-draw": {"litellm_provider": "acme", "mode": "image_generation", "output_cost_per_image": 0.04},
  "acme/slow": {"litellm_provider": "acme", "max_output_tokens": 100},
  "acme/eu/acme-1": {"litellm_provider": "acme", "input_cost_per_token": 1e-5},
  "acme/us-east-1/acme-1": {"litellm_provider": "acme", "input_cost_per_token": 1e-5},
  "acme/us-east-1/1-month-commitment/acme-1": {"litellm_provider": "acme", "input_cost_per_second": 0.01},
  "nowhere/model": {"litellm_provider": "nowhere", "input_cost_per_token": 1e-6},
  "locally": {"litellm_provider": "local_srv", "mode": "chat", "input_cost_per_token": 0, "output_cost_per_token": 0}
}"#;

const OVERLAY: &str = r#"
first_party = ["lab", "acme"]
[native]
lab = "labcodec"
[litellm]
acme_ai = "acme"
[providers.acme]
aliases = ["acme_ai", "acmeco"]
[providers.sdkonly]
base_url = "https://sdkonly.example/openai/"
[providers.local_srv]
name = "Local server"
base_url = "http://localhost:9999/v1"
key_env = ["LOCAL_SRV_KEY"]
local = true
"#;

fn built() -> Built {
    let sources = Sources {
        models_dev: parse_models_dev_api(MODELS_DEV.as_bytes()).unwrap(),
        litellm: parse_litellm(LITELLM.as_bytes()).unwrap(),
        overlay: Overlay::parse(OVERLAY).unwrap(),
        description: "test".into(),
    };
    build(&sources).unwrap()
}

use crate::catalog::sources::parse_models_dev_api;

fn provider<'b>(b: &'b Built, id: &str) -> &'b BuiltProvider {
    b.providers.iter().find(|p| p.record.id == id).unwrap()
}

fn model<'b>(b: &'b Built, p: &str, id: &str) -> &'b ModelInfo {
    provider(b, p)
        .models
        .get(id)
        .unwrap_or_else(|| panic!("{p}/{id}"))
}

#[test]
fn provider_kinds_urls_and_key_variables() {
    let b = built();
    let acme = &provider(&b, "acme").record;
    assert_eq!(acme.kind, Some(ProviderKind::OpenAiCompatible));
    assert_eq!(acme.base_url, "https://api.acme.example/v1");
    assert_eq!(acme.key_env, ["ACME_API_KEY"]);
    assert_eq!(
        acme.base_env,
        ["ACME_API_BASE", "ACME_AI_API_BASE", "ACMECO_API_BASE"]
    );
    // the placeholder variable is not the key; the suffix goes
    let cloudy = &provider(&b, "cloudy").record;
    assert_eq!(
        cloudy.base_url,
        "https://api.cloudy.example/${CLOUDY_ACCOUNT_ID}/v1"
    );
    assert_eq!(cloudy.key_env, ["CLOUDY_TOKEN"]);
    // an OpenAI-style SDK with an api URL is compatible
    assert_eq!(
        provider(&b, "router").record.kind,
        Some(ProviderKind::OpenAiCompatible)
    );
    // a native codec's provider keeps its gateway id
    let lab = &provider(&b, "lab").record;
    assert_eq!(
        (lab.kind, lab.gateway.as_str()),
        (Some(ProviderKind::Native), "labcodec")
    );
    // a provider-specific SDK without a URL is metadata only...
    // ...unless the overlay gives its OpenAI-compatible URL
    assert_eq!(
        provider(&b, "sdkonly").record.kind,
        Some(ProviderKind::OpenAiCompatible)
    );
    assert_eq!(
        provider(&b, "sdkonly").record.base_url,
        "https://sdkonly.example/openai"
    );
    // a provider only the overlay knows is created, local ones need no key
    let local = &provider(&b, "local_srv").record;
    assert_eq!(local.kind, Some(ProviderKind::OpenAiCompatible));
    assert!(local.local);
    assert_eq!(local.key_env, ["LOCAL_SRV_KEY"]);
}

#[test]
fn models_dev_wins_litellm_fills() {
    let b = built();
    let m = model(&b, "acme", "acme-1");
    // models.dev's prices and limits win over LiteLLM's
    assert_eq!((m.prices.input, m.prices.output), (Some(1.0), Some(2.0)));
    assert_eq!((m.context, m.max_output), (Some(100_000), Some(8000)));
    // models.dev said tool_call = true, reasoning = false: its booleans win
    assert!(m.has(Caps::TOOLS) && !m.has(Caps::REASONING));
    // LiteLLM fills what models.dev lacks: cache read (the first key in
    // file order wins: 1e-7, not 3e-7), 1-hour cache writes, deprecation
    assert_eq!(m.prices.cache_read, Some(0.1));
    assert_eq!(m.prices.cache_write_1h, Some(2.0));
    assert_eq!(m.deprecation_date, "2026-01-01");
    assert!(m.has(Caps::FROM_MODELS_DEV) && m.has(Caps::FROM_LITELLM));
    assert!(m.has(Caps::FIRST_PARTY));
    assert_eq!(m.name, "Acme 1");
    assert!(m.supports_vision());
}

#[test]
fn ids_are_matched_across_sources() {
    let b = built();
    let acme = provider(&b, "acme");
    // `acme/big-model` is `Big-Model` (case), whose 200k tier models.dev gives
    let big = model(&b, "acme", "Big-Model");
    assert!(big.has(Caps::FROM_LITELLM));
    assert_eq!(big.prices.tiers.len(), 1);
    assert_eq!(
        (big.prices.tiers[0].above, big.prices.tiers[0].input),
        (200_000, Some(6.0))
    );
    assert!(big.has(Caps::DEPRECATED));
    assert_eq!(
        acme.aliases.get("big-model").map(String::as_str),
        Some("Big-Model")
    );
    // models.dev tiers win over LiteLLM's
    let tiered = model(&b, "acme", "tiered");
    assert_eq!(tiered.prices.tiers.len(), 1);
    assert_eq!(tiered.prices.tiers[0].above, 128_000);
    // `acme/slow` is `slow@default` (version spelling)
    let slow = model(&b, "acme", "slow@default");
    assert_eq!(slow.max_output, Some(100));
    assert!(slow.prices.is_free());
    // LiteLLM's other provider name maps through the overlay, its prefix is
    // stripped, and the unmatched model is added with LiteLLM's fields
    let m2 = model(&b, "acme", "acme-2");
    assert_eq!(
        (m2.prices.input, m2.prices.output),
        (Some(0.14), Some(0.28))
    );
    assert_eq!(m2.prices.tiers[0].input, Some(0.28));
    assert_eq!(m2.prices.per_input_image, Some(0.001));
    assert_eq!(m2.context, Some(32_000));
    assert!(m2.supports_vision() && m2.has(Caps::TOOLS));
    assert!(!m2.has(Caps::FROM_MODELS_DEV));
    // modes: embeddings kept, image generation left out
    assert_eq!(model(&b, "acme", "acme-embed").mode, Mode::Embedding);
    assert!(!acme.models.contains_key("acme-draw"));
    // rerank models kept, their per-query price as the per-request one
    let rerank = model(&b, "acme", "acme-rerank");
    assert_eq!(
        (rerank.mode, rerank.prices.per_request),
        (Mode::Rerank, Some(0.002))
    );
    // entries priced per data zone or region are models of their own;
    // per-hour commitments are left out
    assert_eq!(model(&b, "acme", "eu/acme-1").prices.input, Some(10.0));
    assert!(acme.models.contains_key("us-east-1/acme-1"));
    assert!(!acme.models.keys().any(|k| k.contains("commitment")));
    // a provider only the overlay knows takes LiteLLM's models
    assert!(model(&b, "local_srv", "locally").prices.is_free());
    let s = &b.stats;
    assert_eq!(s.skipped_mode, 1);
    assert_eq!(s.skipped_priced_apart, 1);
    assert_eq!(s.skipped_provider.get("nowhere"), Some(&1));
}

#[test]
fn version_aliases() {
    let b = built();
    let aliases = &provider(&b, "acme").aliases;
    // `acme-1` is a model itself, so it is not an alias of a dated one
    assert!(!aliases.contains_key("acme-1"));
    // `slow` names `slow@default`
    assert_eq!(
        aliases.get("slow").map(String::as_str),
        Some("slow@default")
    );
}

#[test]
fn undated_alias_points_at_the_latest() {
    let mut models = BTreeMap::new();
    for id in ["m-20240101", "m-20250601", "m-20250101", "n-2024-05-13"] {
        models.insert(
            id.to_string(),
            ModelInfo {
                id: id.into(),
                ..ModelInfo::default()
            },
        );
    }
    let mut aliases = BTreeMap::new();
    add_version_aliases(&models, &mut aliases);
    assert_eq!(aliases.get("m").map(String::as_str), Some("m-20250601"));
    assert_eq!(aliases.get("n").map(String::as_str), Some("n-2024-05-13"));
}

#[test]
fn litellm_keys_lose_their_prefixes() {
    let p = ["groq", "vertex_ai", "bedrock"];
    assert_eq!(
        litellm_model_id("groq/openai/gpt-oss-120b", &p),
        Some("openai/gpt-oss-120b")
    );
    assert_eq!(
        litellm_model_id("vertex_ai/claude-sonnet-4@20250514", &p),
        Some("claude-sonnet-4@20250514")
    );
    assert_eq!(
        litellm_model_id("anthropic.claude-v2", &p),
        Some("anthropic.claude-v2")
    );
    // priced per region or data zone: the segment stays in the id
    assert_eq!(
        litellm_model_id("bedrock/us-east-1/anthropic.claude-v2", &p),
        Some("us-east-1/anthropic.claude-v2")
    );
    assert_eq!(
        litellm_model_id("azure/eu/gpt-4o", &["azure"]),
        Some("eu/gpt-4o")
    );
    // per-hour commitments and route names are not token prices
    assert_eq!(
        litellm_model_id("bedrock/ap-northeast-1/1-month-commitment/x", &p),
        None
    );
    assert_eq!(litellm_model_id("bedrock/invoke/anthropic.x", &p), None);
    assert_eq!(litellm_root("vertex_ai-anthropic_models"), "vertex_ai");
    assert_eq!(litellm_root("bedrock_converse"), "bedrock");
    assert_eq!(litellm_root("cohere_chat"), "cohere");
}

#[test]
fn units_and_urls() {
    assert_eq!(per_million(1.4e-7), 0.14);
    assert_eq!(per_million(3e-6), 3.0);
    assert_eq!(per_million(2.5e-6), 2.5);
    assert_eq!(
        normalize_base("https://api.tbox.cn/api/llm/v1/chat/completions"),
        "https://api.tbox.cn/api/llm/v1"
    );
    assert_eq!(placeholders("https://${A}.x/${B}/v1"), ["A", "B"]);
    let env = [
        "DATABRICKS_HOST".to_string(),
        "DATABRICKS_TOKEN".to_string(),
    ];
    assert_eq!(
        key_vars(&env, "https://${DATABRICKS_HOST}/v1"),
        ["DATABRICKS_TOKEN"]
    );
}

#[test]
fn text_round_trips_through_the_index() {
    let b = built();
    let text = b.to_text();
    let index = Index::load(&text).unwrap();
    index.validate().unwrap();
    assert_eq!(index.providers.len(), b.providers.len());
    assert_eq!(index.model_count(), b.model_count());
    assert_eq!(index.first_party, ["lab", "acme"]);
    let acme = index.providers.iter().find(|p| p.id == "acme").unwrap();
    let line = index.row(acme, "acme-1").unwrap().line;
    assert_eq!(
        &ModelInfo::decode(line).unwrap(),
        model(&b, "acme", "acme-1")
    );
    assert_eq!(index.alias(acme, "slow"), Some("slow@default"));
}

#[test]
fn bad_catalogs_are_refused() {
    assert!(Index::load("not a catalog").is_err());
    let good = built().to_text();
    // models out of order
    let swapped = good.replacen("M\tacme-1\t", "M\tzzz\t", 1);
    assert!(Index::load(&swapped).unwrap().validate().is_err());
    // a price that is not a number passes indexing but not validation
    let bad_price = good.replacen("i=1,o=2", "i=one,o=2", 1);
    assert!(Index::load(&bad_price).unwrap().validate().is_err());
    // an alias to nowhere
    let bad_alias = good.replacen("A\tslow\tslow@default", "A\tslow\tnothing", 1);
    assert!(Index::load(&bad_alias).unwrap().validate().is_err());
}

#[test]
fn provider_names_must_be_unique() {
    let sources = Sources {
        models_dev: parse_models_dev_api(MODELS_DEV.as_bytes()).unwrap(),
        litellm: Vec::new(),
        overlay: Overlay::parse(&format!(
            "{OVERLAY}\n[providers.cloudy]\naliases = [\"acme\"]\n"
        ))
        .unwrap(),
        description: String::new(),
    };
    let err = build(&sources).unwrap_err();
    assert!(err.contains("`acme`"), "{err}");
}

// ---- pricing rules (LiteLLM's cost calculator, on the same snapshot) -----

const PRICING_MODELS_DEV: &str = r#"{
  "grok": {"name": "Grok", "npm": "@ai-sdk/openai-compatible", "env": ["GROK_KEY"],
           "api": "https://grok.example/v1", "models": {
      "g1": {"name": "G1", "cost": {"input": 3, "output": 15,
             "tiers": [{"tier": {"type": "context", "size": 128000}, "input": 6, "output": 30}]}}}},
  "fw": {"name": "Fw", "npm": "@ai-sdk/openai-compatible", "env": ["FW_KEY"],
         "api": "https://fw.example/v1", "models": {
      "fw-1": {"name": "Fw 1", "cost": {"input": 3, "output": 8}},
      "fw-2": {"name": "Fw 2", "cost": {"input": 3, "output": 8, "cache_read": 0.3}}}},
  "rock": {"name": "Rock", "npm": "@ai-sdk/rock", "env": ["ROCK_KEY"], "models": {
      "anthropic.c1": {"name": "C1", "cost": {"input": 5, "output": 25, "cache_read": 0.5}},
      "us.anthropic.c1": {"name": "C1 (US)", "cost": {"input": 5, "output": 25, "cache_read": 0.5}},
      "us.anthropic.c2": {"name": "C2 (US)", "cost": {"input": 3, "output": 15}},
      "sonnet": {"name": "Sonnet", "cost": {"input": 3, "output": 15, "cache_write": 3.75,
                 "context_over_200k": {"input": 6, "output": 22.5}}}}},
  "qwenco": {"name": "Qwen Co", "npm": "@ai-sdk/openai-compatible", "env": ["QWENCO_KEY"],
             "api": "https://qwen.example/v1", "models": {
      "flat": {"name": "Flat", "cost": {"input": 1, "output": 5}}}}
}"#;

const PRICING_LITELLM: &str = r#"{
  "grok/g1": {"litellm_provider": "grok", "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5},
  "fw/fw-1": {"litellm_provider": "fw", "input_cost_per_token": 3e-6, "output_cost_per_token": 8e-6},
  "us.anthropic.c1": {"litellm_provider": "rock_converse", "input_cost_per_token": 5.5e-6,
      "output_cost_per_token": 2.75e-5, "cache_creation_input_token_cost_above_1hr": 1.1e-5},
  "sonnet": {"litellm_provider": "rock", "cache_creation_input_token_cost_above_1hr": 6e-6,
      "cache_creation_input_token_cost_above_200k_tokens": 7.5e-6,
      "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-5,
      "input_cost_per_token_above_200k_tokens_priority": 1e-5,
      "provider_specific_entry": {"us": 1.1, "fast": 6.0}},
  "qwenco/flat": {"litellm_provider": "qwenco_chat", "input_cost_per_token": 2e-6,
      "tiered_pricing": [
        {"input_cost_per_token": 1e-6, "output_cost_per_token": 5e-6, "cache_read_input_token_cost": 1e-7, "range": [0, 32000.0]},
        {"input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5, "range": [32000.0, 128000.0]}]},
  "qwenco/ranged": {"litellm_provider": "qwenco", "mode": "chat",
      "tiered_pricing": [
        {"input_cost_per_token": 4e-7, "output_cost_per_token": 1.2e-6, "output_cost_per_reasoning_token": 4e-6, "range": [0, 256000.0]},
        {"input_cost_per_token": 1.2e-6, "output_cost_per_token": 3.6e-6, "range": [256000.0, 1000000.0]},
        {"output_cost_per_token": 1.0, "range": [1000000.0, 2000000.0]}]}
}"#;

const PRICING_OVERLAY: &str = r#"
first_party = []
[native]
rock = "rockcodec"
[litellm]
rock_converse = "rock"
qwenco_chat = "qwenco"
[providers.grok]
inclusive_tiers = true
[providers.fw]
cache_read_ratio = 0.5
[providers.rock]
aliases = ["rocky"]
profile_prices_from_litellm = true
"#;

fn pricing_built() -> Built {
    let sources = Sources {
        models_dev: parse_models_dev_api(PRICING_MODELS_DEV.as_bytes()).unwrap(),
        litellm: parse_litellm(PRICING_LITELLM.as_bytes()).unwrap(),
        overlay: Overlay::parse(PRICING_OVERLAY).unwrap(),
        description: "pricing".into(),
    };
    build(&sources).unwrap()
}

#[test]
fn inclusive_tiers_start_one_token_lower() {
    let b = pricing_built();
    let g1 = &model(&b, "grok", "g1").prices;
    assert_eq!(g1.tiers.len(), 1);
    assert_eq!((g1.tiers[0].above, g1.tiers[0].input), (127_999, Some(6.0)));
}

#[test]
fn a_missing_cache_read_price_follows_the_providers_ratio() {
    let b = pricing_built();
    assert_eq!(model(&b, "fw", "fw-1").prices.cache_read, Some(1.5));
    // a published price stays
    assert_eq!(model(&b, "fw", "fw-2").prices.cache_read, Some(0.3));
    // other providers keep "no price" (the engine charges the input price)
    assert_eq!(model(&b, "grok", "g1").prices.cache_read, None);
}

#[test]
fn region_profiles_take_litellms_prices_and_keep_the_other() {
    let b = pricing_built();
    let us = model(&b, "rock", "us.anthropic.c1");
    assert_eq!((us.prices.input, us.prices.output), (Some(5.5), Some(27.5)));
    // what LiteLLM lacks still comes from models.dev
    assert_eq!(us.prices.cache_read, Some(0.5));
    assert_eq!(us.prices.cache_write_1h, Some(11.0));
    let other = us.other_prices.as_ref().unwrap();
    assert_eq!(other.source, Source::ModelsDev);
    assert_eq!(other.prices, Prices::decode("i=5,o=25").unwrap());
    // the base model, and a profile LiteLLM does not list, keep models.dev's
    let base = model(&b, "rock", "anthropic.c1");
    assert_eq!(base.prices.input, Some(5.0));
    assert_eq!(model(&b, "rock", "us.anthropic.c2").prices.input, Some(3.0));
}

#[test]
fn one_hour_writes_above_a_tier_fill_the_models_dev_tier() {
    let b = pricing_built();
    let p = &model(&b, "rock", "sonnet").prices;
    assert_eq!(p.cache_write_1h, Some(6.0));
    assert_eq!(p.tiers.len(), 1);
    let t = &p.tiers[0];
    // models.dev's tier, with the fields it lacks from LiteLLM's at the same
    // threshold; service-tier (`_priority`) prices are not taken
    assert_eq!(
        (t.above, t.input, t.output),
        (200_000, Some(6.0), Some(22.5))
    );
    assert_eq!((t.cache_write, t.cache_write_1h), (Some(7.5), Some(12.0)));
    assert_eq!(p.geo, vec![("us".to_owned(), 1.1)]);
}

#[test]
fn tiered_pricing_rows_become_tiers() {
    let b = pricing_built();
    // no flat price anywhere: the first row gives the base prices
    let r = &model(&b, "qwenco", "ranged").prices;
    assert_eq!(
        (r.input, r.output, r.reasoning),
        (Some(0.4), Some(1.2), Some(4.0))
    );
    assert_eq!(r.tiers.len(), 1, "{:?}", r.tiers);
    let t = &r.tiers[0];
    assert_eq!(
        (t.above, t.input, t.output),
        (256_000, Some(1.2), Some(3.6))
    );
    // a row without a reasoning price bills reasoning at its output price
    assert_eq!(t.reasoning, Some(3.6));
    // models.dev's flat prices stay; the rows that differ become tiers, a
    // row's missing cache price is its input price (not the base's)
    let f = model(&b, "qwenco", "flat");
    assert_eq!(
        (f.prices.input, f.prices.cache_read),
        (Some(1.0), Some(0.1))
    );
    let t = &f.prices.tiers;
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(
        (t[0].above, t[0].input, t[0].cache_read),
        (32_000, Some(2.0), Some(2.0))
    );
    // models.dev and LiteLLM disagree on the flat input price: both are kept
    let other = f.other_prices.as_ref().unwrap();
    assert_eq!(
        (other.source, other.prices.input),
        (Source::LiteLlm, Some(2.0))
    );
    assert_eq!(model(&b, "fw", "fw-1").other_prices, None);
}

#[test]
fn litellm_provider_names_name_their_catalog_provider() {
    let b = pricing_built();
    let rock = &provider(&b, "rock").record;
    assert_eq!(rock.aliases, ["rocky", "rock_converse"]);
    // a lookup name, not a deployment: no `<NAME>_API_BASE`
    assert_eq!(rock.base_env, ["ROCK_API_BASE", "ROCKY_API_BASE"]);
    assert_eq!(provider(&b, "qwenco").record.aliases, ["qwenco_chat"]);
    // names that are a provider already are left alone
    assert!(provider(&b, "grok").record.aliases.is_empty());
}
