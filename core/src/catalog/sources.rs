//! The two upstream sources as they are published, and the gateway's own
//! overlay (`core/data/provider_overlay.toml`).
//!
//! models.dev comes either as its TOML tree (read by `tools/catalog-gen`,
//! which resolves `base_model` inheritance) or as the public
//! `https://models.dev/api.json`; both deserialize into [`MdProvider`].
//! LiteLLM's `model_prices_and_context_window.json` is read field by field
//! because its price keys are open-ended (`*_above_200k_tokens`, ...).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One models.dev provider (`providers/<id>/provider.toml` or an `api.json` entry).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdProvider {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub npm: Option<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub doc: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub models: BTreeMap<String, MdModel>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_weights: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modalities: Option<MdModalities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<MdCost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<MdLimit>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdModalities {
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub output: Vec<String>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdCost {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_audio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_audio: Option<f64>,
    /// Off-schema spellings a few upstream files use for `cache_read`/`cache_write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_write: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<MdTier>,
    /// The generated `api.json` form of a 200k tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_over_200k: Option<Box<MdCost>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdTier {
    #[serde(default)]
    pub tier: MdTierSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdTierSpec {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub size: u64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MdLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
}

/// Reads models.dev's `api.json`: `{ "<provider>": { ..., "models": { "<id>": {...} } } }`.
pub fn parse_models_dev_api(json: &[u8]) -> Result<Vec<MdProvider>, String> {
    let map: BTreeMap<String, MdProvider> =
        serde_json::from_slice(json).map_err(|e| format!("models.dev api.json: {e}"))?;
    Ok(map
        .into_iter()
        .map(|(id, mut p)| {
            p.id = id;
            p
        })
        .collect())
}

/// LiteLLM's map: model key → its fields, in file order.
pub type LiteLlmMap = Vec<(String, serde_json::Map<String, serde_json::Value>)>;

pub fn parse_litellm(json: &[u8]) -> Result<LiteLlmMap, String> {
    // A Vec of pairs keeps the file order (serde_json's Map is sorted
    // without the `preserve_order` feature), which decides ties.
    struct Ordered(LiteLlmMap);
    impl<'de> Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object of models")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Ordered, A::Error> {
                    let mut out = Vec::with_capacity(4096);
                    while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                        if let serde_json::Value::Object(fields) = v {
                            out.push((k, fields));
                        }
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Ordered(map) =
        serde_json::from_slice(json).map_err(|e| format!("LiteLLM price map: {e}"))?;
    Ok(map)
}

/// The gateway's own knowledge about providers, layered over models.dev.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Providers whose models count as their maker's own, in the order a
    /// bare model id is looked up.
    pub first_party: Vec<String>,
    /// models.dev provider → the gateway id of the native codec serving it.
    #[serde(default)]
    pub native: BTreeMap<String, String>,
    /// LiteLLM `litellm_provider` → catalog provider id.
    #[serde(default)]
    pub litellm: BTreeMap<String, String>,
    /// Per-provider additions; a provider missing from models.dev is created.
    #[serde(default)]
    pub providers: BTreeMap<String, OverlayProvider>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayProvider {
    #[serde(default)]
    pub name: Option<String>,
    /// OpenAI-compatible base URL, for providers models.dev gives none.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub key_env: Option<Vec<String>>,
    #[serde(default)]
    pub doc: Option<String>,
    /// Other names clients may use for this provider (LiteLLM's, mostly).
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub aggregator: bool,
    /// Not callable through its OpenAI-compatible face (metadata only).
    #[serde(default)]
    pub unsupported: bool,
    /// Context tiers apply from their threshold on (`>=`), not above it
    /// (LiteLLM's rule for xAI).
    #[serde(default)]
    pub inclusive_tiers: bool,
    /// A model without a cache-read price reads its cache at this share of
    /// the input price (LiteLLM's rule for Fireworks: 0.5).
    #[serde(default)]
    pub cache_read_ratio: Option<f64>,
    /// Ids with a cross-region inference-profile prefix (`us.`, `eu.`, ...)
    /// take LiteLLM's prices for the profile where it lists them.
    #[serde(default)]
    pub profile_prices_from_litellm: bool,
}

pub const EMBEDDED_OVERLAY: &str = include_str!("../../data/provider_overlay.toml");

impl Overlay {
    pub fn parse(text: &str) -> Result<Overlay, String> {
        // Through a value and JSON text, as `Config::parse` does: the typed
        // reader for JSON is in the build anyway, one for TOML would not be.
        let v: serde_json::Value =
            toml::from_str(text).map_err(|e| format!("provider overlay: {e}"))?;
        serde_json::from_str(&v.to_string()).map_err(|e| format!("provider overlay: {e}"))
    }
}
