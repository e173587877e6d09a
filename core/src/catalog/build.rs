//! Merging models.dev, LiteLLM's price map and the gateway's overlay into
//! one catalog. Used by `tools/catalog-gen` at build time and by the runtime
//! refresh, so both produce the same text from the same inputs.
//!
//! Merge rules (each is unit-tested below):
//!
//! * **Providers** come from models.dev plus the overlay (base URLs models.dev
//!   lacks, local servers and LiteLLM-only providers, aliases). Key variables
//!   are models.dev's `env` minus the ones that are URL placeholders or name
//!   hosts/accounts/regions; `<ID>_API_BASE` overrides the base URL. Every
//!   LiteLLM provider name (`cohere_chat`, `vertex_ai-anthropic_models`, ...)
//!   is also a name of the provider its entries go to.
//! * **Which LiteLLM entry is which model:** `litellm_provider` maps to a
//!   catalog provider (overlay `[litellm]`, else the same id); the key loses
//!   its provider prefix (`groq/`, `vertex_ai/`, `bedrock/`, an alias, ...);
//!   then it matches a models.dev id exactly, else case-insensitively, else by
//!   version spelling (`x` ↔ `x@default`, `x-20250929` ↔ `x@20250929`).
//!   Entries priced per data zone or region keep that segment and are models
//!   of their own (`azure/eu/gpt-4o-2024-08-06` → `eu/gpt-4o-2024-08-06`);
//!   per-hour commitments and modes the gateway does not serve (images,
//!   audio, video, search, ...) are left out. Unmatched entries become models
//!   of their own.
//! * **Which source wins per field:** models.dev for names, dates, limits,
//!   capabilities, modalities and the prices it gives (input, output,
//!   reasoning, cache read/write, audio, context tiers); LiteLLM fills every
//!   field models.dev leaves empty and gives the finer prices models.dev has
//!   no field for (1-hour cache writes, audio cache reads, per image, per
//!   request, geo factors), the prices a models.dev tier leaves out at the
//!   same threshold, its tiers when models.dev has none (`*_above_<N>k_tokens`
//!   keys, else `tiered_pricing` rows), the deprecation date and the mode.
//!   When several LiteLLM keys land on one model, the first in the file wins
//!   per field. Exception: a provider with `profile_prices_from_litellm`
//!   (Bedrock) takes LiteLLM's prices first for its cross-region profile ids,
//!   which models.dev prices like the base model. Where both give a flat
//!   price and disagree, the losing value is kept beside the model
//!   ([`OtherPrices`]) for `/model/info`.
//! * **Provider pricing rules** (overlay, after LiteLLM's cost calculator):
//!   `inclusive_tiers` (xAI) stores each threshold one lower, so the cost
//!   engine's `>` means `>=`; `cache_read_ratio` (Fireworks: 0.5) writes a
//!   cache-read price where none is published.
//! * **Aliases** (per provider): LiteLLM spellings that differ from the id,
//!   `x` for `x@default`, and an undated id for its latest dated model when
//!   the undated one is not a model itself.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::ids::{split_date, strip_region_prefix, version_spellings};
use super::model::{
    Caps, Modalities, Mode, ModelInfo, OtherPrices, Prices, Source, Tier, PRICE_KEYS, TIER_KEYS,
};
use super::sources::{LiteLlmMap, MdCost, MdModel, MdProvider, Overlay, OverlayProvider};
use super::text::{ProviderKind, ProviderRecord, MAGIC};

pub struct Sources {
    pub models_dev: Vec<MdProvider>,
    pub litellm: LiteLlmMap,
    pub overlay: Overlay,
    /// Where the inputs came from, written into the catalog header.
    pub description: String,
}

#[derive(Debug, Default)]
pub struct BuiltProvider {
    pub record: ProviderRecord,
    pub models: BTreeMap<String, ModelInfo>,
    pub aliases: BTreeMap<String, String>,
}

/// What the merge did with LiteLLM's entries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeStats {
    pub matched: usize,
    pub added: usize,
    pub skipped_mode: usize,
    /// Commitment (per-hour) and `invoke/` entries.
    pub skipped_priced_apart: usize,
    pub skipped_provider: BTreeMap<String, usize>,
}

#[derive(Debug, Default)]
pub struct Built {
    pub description: String,
    pub first_party: Vec<String>,
    pub providers: Vec<BuiltProvider>,
    pub stats: MergeStats,
}

impl Built {
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(1 << 20);
        out.push_str(MAGIC);
        out.push('\t');
        out.push_str(&clean(&self.description));
        out.push_str("\nF\t");
        out.push_str(&self.first_party.join(","));
        out.push('\n');
        for p in &self.providers {
            out.push_str(&p.record.encode());
            out.push('\n');
            for m in p.models.values() {
                out.push_str(&m.encode());
                out.push('\n');
            }
            for (alias, target) in &p.aliases {
                out.push_str("A\t");
                out.push_str(alias);
                out.push('\t');
                out.push_str(target);
                out.push('\n');
            }
        }
        out
    }

    pub fn model_count(&self) -> usize {
        self.providers.iter().map(|p| p.models.len()).sum()
    }
}

/// Text fields cannot hold the format's separators.
fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ").trim().to_owned()
}

fn env_prefix(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `${NAME}` placeholders in a base URL.
pub fn placeholders(url: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        out.push(&rest[start + 2..start + 2 + len]);
        rest = &rest[start + 3 + len..];
    }
    out
}

const NOT_KEY_SUFFIXES: [&str; 10] = [
    "_HOST",
    "_ENDPOINT",
    "_BASE_URL",
    "_ACCOUNT",
    "_ACCOUNT_ID",
    "_RESOURCE_NAME",
    "_GATEWAY_ID",
    "_REGION",
    "_PROJECT",
    "_LOCATION",
];

/// models.dev `env` lists every variable a provider's SDK reads; the key is
/// the one that is neither a URL placeholder nor names a host or account.
pub fn key_vars(env: &[String], base_url: &str) -> Vec<String> {
    let holes = placeholders(base_url);
    env.iter()
        .filter(|v| !holes.contains(&v.as_str()))
        .filter(|v| !NOT_KEY_SUFFIXES.iter().any(|s| v.ends_with(s)))
        .cloned()
        .collect()
}

/// `https://x/v1/` and `https://x/v1/chat/completions` are both the base `https://x/v1`.
pub fn normalize_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/chat/completions")
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_owned()
}

const OPENAI_STYLE_NPM: [&str; 2] = ["@openrouter/ai-sdk-provider", "@ai-sdk/openai"];

fn provider_record(
    id: &str,
    md: Option<&MdProvider>,
    ov: Option<&OverlayProvider>,
    overlay: &Overlay,
) -> ProviderRecord {
    let md_api = md.and_then(|m| m.api.as_deref()).filter(|a| !a.is_empty());
    let npm = md.and_then(|m| m.npm.as_deref()).unwrap_or("");
    let ov_base = ov.and_then(|o| o.base_url.as_deref());
    let base_url = ov_base.or(md_api).map(normalize_base).unwrap_or_default();
    let (kind, gateway) = if let Some(g) = overlay.native.get(id) {
        (ProviderKind::Native, g.clone())
    } else if ov.is_some_and(|o| o.unsupported) || base_url.is_empty() {
        (ProviderKind::Unsupported, String::new())
    } else if ov_base.is_some()
        || npm == "@ai-sdk/openai-compatible"
        || (md_api.is_some() && OPENAI_STYLE_NPM.contains(&npm))
        || md.is_none()
    {
        (ProviderKind::OpenAiCompatible, id.to_owned())
    } else {
        (ProviderKind::Unsupported, String::new())
    };
    let key_env = match ov.and_then(|o| o.key_env.clone()) {
        Some(k) => k,
        None => key_vars(md.map(|m| m.env.as_slice()).unwrap_or(&[]), &base_url),
    };
    let aliases: Vec<String> = ov.map(|o| o.aliases.clone()).unwrap_or_default();
    let mut base_env = vec![format!("{}_API_BASE", env_prefix(id))];
    for a in &aliases {
        let v = format!("{}_API_BASE", env_prefix(a));
        if !base_env.contains(&v) {
            base_env.push(v);
        }
    }
    ProviderRecord {
        id: id.to_owned(),
        kind: Some(kind),
        gateway,
        base_url,
        key_env,
        base_env,
        aliases,
        local: ov.is_some_and(|o| o.local),
        aggregator: ov.is_some_and(|o| o.aggregator),
        name: clean(
            ov.and_then(|o| o.name.as_deref())
                .or(md.map(|m| m.name.as_str()))
                .unwrap_or(id),
        ),
        doc: clean(
            ov.and_then(|o| o.doc.as_deref())
                .or(md.and_then(|m| m.doc.as_deref()))
                .unwrap_or(""),
        ),
    }
}

/// One model while its sources are being gathered.
#[derive(Default)]
struct Draft<'a> {
    md: Option<&'a MdModel>,
    ll: Vec<&'a Map<String, Value>>,
}

impl Draft<'_> {
    fn ll_num(&self, key: &str) -> Option<f64> {
        self.ll
            .iter()
            .find_map(|m| m.get(key).and_then(Value::as_f64))
            .filter(|v| v.is_finite() && *v >= 0.0)
    }

    /// A LiteLLM per-token price as USD per million tokens.
    fn ll_per_m(&self, key: &str) -> Option<f64> {
        self.ll_num(key).map(per_million)
    }

    fn ll_bool(&self, key: &str) -> Option<bool> {
        self.ll
            .iter()
            .find_map(|m| m.get(key).and_then(Value::as_bool))
    }

    fn ll_str(&self, key: &str) -> Option<&str> {
        self.ll
            .iter()
            .find_map(|m| m.get(key).and_then(Value::as_str))
    }
}

/// Per token → per million, rounded to 10 significant digits so that
/// `1.4e-7` reads back as `0.14`, not `0.13999999999999999`.
pub fn per_million(per_token: f64) -> f64 {
    round_price(per_token * 1e6)
}

/// Prices keep 10 significant digits: float noise in the sources
/// (`0.049999999999999996`) is gone, and a JSON parser that is a ULP off
/// reads the same catalog as the TOML one.
pub fn round_price(v: f64) -> f64 {
    format!("{v:.9e}").parse().unwrap_or(v)
}

fn md_prices(cost: &MdCost) -> Prices {
    let mut p = md_prices_raw(cost);
    let round = |v: &mut Option<f64>| *v = v.map(round_price);
    for v in [
        &mut p.input,
        &mut p.output,
        &mut p.reasoning,
        &mut p.cache_read,
        &mut p.cache_write,
        &mut p.input_audio,
        &mut p.output_audio,
    ] {
        round(v);
    }
    for t in &mut p.tiers {
        for v in [
            &mut t.input,
            &mut t.output,
            &mut t.cache_read,
            &mut t.cache_write,
        ] {
            round(v);
        }
    }
    p
}

fn md_prices_raw(cost: &MdCost) -> Prices {
    let mut p = Prices {
        input: cost.input,
        output: cost.output,
        reasoning: cost.reasoning,
        cache_read: cost.cache_read.or(cost.cached_input).or(cost.cache_input),
        cache_write: cost.cache_write.or(cost.cached_write),
        input_audio: cost.input_audio,
        output_audio: cost.output_audio,
        ..Prices::default()
    };
    for t in &cost.tiers {
        if t.tier.size == 0 || t.tier.kind.as_deref().is_some_and(|k| k != "context") {
            continue;
        }
        *p.tier_mut(t.tier.size) = Tier {
            above: t.tier.size,
            input: t.input,
            output: t.output,
            cache_read: t.cache_read,
            cache_write: t.cache_write,
            ..Tier::default()
        };
    }
    if let Some(c) = &cost.context_over_200k {
        *p.tier_mut(200_000) = Tier {
            above: 200_000,
            input: c.input,
            output: c.output,
            cache_read: c.cache_read,
            cache_write: c.cache_write,
            ..Tier::default()
        };
    }
    p
}

/// LiteLLM's `<price>_above_<N>k_tokens` keys as tiers, 1-hour cache
/// writes (`cache_creation_input_token_cost_above_1hr_above_200k_tokens`)
/// included; service-tier variants such as `_priority` are not modelled.
fn litellm_tiers(d: &Draft) -> Vec<Tier> {
    let mut prices = Prices::default();
    for m in &d.ll {
        for (key, value) in m.iter() {
            // The last `_above_` is the threshold's: the 1-hour write price's
            // own name holds one too.
            let Some((field, rest)) = key.rsplit_once("_above_") else {
                continue;
            };
            let Some(n) = rest.strip_suffix("k_tokens") else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            let Some(v) = value.as_f64().filter(|v| v.is_finite() && *v >= 0.0) else {
                continue;
            };
            let tier = prices.tier_mut(n * 1000);
            let slot = match field {
                "input_cost_per_token" => &mut tier.input,
                "output_cost_per_token" => &mut tier.output,
                "cache_read_input_token_cost" => &mut tier.cache_read,
                "cache_creation_input_token_cost" => &mut tier.cache_write,
                "cache_creation_input_token_cost_above_1hr" => &mut tier.cache_write_1h,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(per_million(v));
            }
        }
    }
    prices.tiers.retain(|t| !t.is_empty());
    prices.tiers
}

/// A LiteLLM `tiered_pricing` row (Dashscope, Volcengine): the prices for
/// prompts of more than `range[0]` tokens, up to `range[1]`.
fn litellm_ranges(d: &Draft) -> Vec<Tier> {
    let Some(rows) =
        d.ll.iter()
            .find_map(|m| m.get("tiered_pricing").and_then(Value::as_array))
    else {
        return Vec::new();
    };
    let mut prices = Prices::default();
    for row in rows {
        let start = row
            .get("range")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite() && *v >= 0.0);
        let per_m = |key: &str| {
            row.get(key)
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(per_million)
        };
        // LiteLLM ignores a row without an input price.
        let (Some(start), Some(input)) = (start, per_m("input_cost_per_token")) else {
            continue;
        };
        *prices.tier_mut(start as u64) = Tier {
            above: start as u64,
            input: Some(input),
            output: per_m("output_cost_per_token"),
            cache_read: per_m("cache_read_input_token_cost"),
            cache_write: per_m("cache_creation_input_token_cost"),
            cache_write_1h: None,
            reasoning: per_m("output_cost_per_reasoning_token"),
        };
    }
    prices.tiers
}

/// Installs `tiered_pricing` rows as tiers. LiteLLM bills a whole request
/// at its row's rates, a row's missing cache price at the row's input rate
/// and its missing reasoning price at the row's output rate (never at the
/// base prices), so those are written out where the base would otherwise
/// stand in. The first row usually starts at 0: it gives the base prices a
/// model without flat ones lacks, and is dropped when it says nothing else.
fn apply_ranges(prices: &mut Prices, ranges: Vec<Tier>) {
    if let Some(first) = ranges.first().filter(|t| t.above == 0) {
        for (key, v) in TIER_KEYS.iter().zip(first.slots()) {
            if let Some(slot) = prices.slot_mut(key) {
                if slot.is_none() {
                    *slot = v;
                }
            }
        }
    }
    for mut t in ranges {
        if t.cache_read.is_none() && prices.cache_read.is_some() {
            t.cache_read = t.input;
        }
        if t.cache_write.is_none() && prices.cache_write.is_some() {
            t.cache_write = t.input;
        }
        if t.reasoning.is_none() && prices.reasoning.is_some() {
            t.reasoning = t.output.or(prices.output);
        }
        let same_as_base = t.above == 0
            && TIER_KEYS
                .iter()
                .zip(t.slots())
                .all(|(key, v)| v.is_none() || prices.slots()[price_index(key)] == v);
        if !same_as_base {
            let above = t.above;
            *prices.tier_mut(above) = t;
        }
    }
}

fn price_index(key: &str) -> usize {
    PRICE_KEYS.iter().position(|k| *k == key).unwrap_or(0)
}

/// LiteLLM's per-geo multipliers (`provider_specific_entry: {"us": 1.1}`);
/// its `fast` entry is a speed surcharge, not a place.
fn litellm_geo(d: &Draft) -> Vec<(String, f64)> {
    let Some(entry) =
        d.ll.iter()
            .find_map(|m| m.get("provider_specific_entry").and_then(Value::as_object))
    else {
        return Vec::new();
    };
    entry
        .iter()
        .filter(|(k, _)| k.as_str() != "fast" && !k.is_empty())
        .filter(|(k, _)| {
            k.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
        })
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64().filter(|f| f.is_finite() && *f > 0.0)?)))
        .collect()
}

/// Everything LiteLLM's entries price for a model, in the catalog's units.
fn litellm_prices(d: &Draft) -> Prices {
    let unit = |key: &str| d.ll_num(key).map(round_price);
    Prices {
        input: d.ll_per_m("input_cost_per_token"),
        output: d.ll_per_m("output_cost_per_token"),
        cache_read: d.ll_per_m("cache_read_input_token_cost"),
        cache_write: d.ll_per_m("cache_creation_input_token_cost"),
        cache_write_1h: d.ll_per_m("cache_creation_input_token_cost_above_1hr"),
        reasoning: d.ll_per_m("output_cost_per_reasoning_token"),
        input_audio: d.ll_per_m("input_cost_per_audio_token"),
        output_audio: d.ll_per_m("output_cost_per_audio_token"),
        cache_read_audio: d.ll_per_m("cache_read_input_audio_token_cost"),
        per_input_image: unit("input_cost_per_image"),
        per_output_image: unit("output_cost_per_image"),
        // Rerank models are priced per query (a Cohere search unit).
        per_request: unit("input_cost_per_request").or_else(|| unit("input_cost_per_query")),
        tiers: litellm_tiers(d),
        geo: litellm_geo(d),
    }
}

/// `first`'s prices, with every price it leaves out taken from `second`:
/// flat prices, fields of a tier at the same threshold (all of `second`'s
/// tiers when `first` has none) and geo factors.
fn merge_prices(mut first: Prices, second: &Prices) -> Prices {
    for (key, v) in PRICE_KEYS.iter().zip(second.slots()) {
        if let Some(slot) = first.slot_mut(key) {
            if slot.is_none() {
                *slot = v;
            }
        }
    }
    if first.tiers.is_empty() {
        first.tiers = second.tiers.clone();
    } else {
        for t in &mut first.tiers {
            let Some(other) = second.tiers.iter().find(|o| o.above == t.above) else {
                continue;
            };
            for (key, v) in TIER_KEYS.iter().zip(other.slots()) {
                if let Some(slot) = t.slot_mut(key) {
                    if slot.is_none() {
                        *slot = v;
                    }
                }
            }
        }
    }
    if first.geo.is_empty() {
        first.geo = second.geo.clone();
    }
    first
}

/// `second`'s flat prices where both give one and they differ.
fn disagreements(first: &Prices, second: &Prices) -> Prices {
    let mut out = Prices::default();
    for (key, (a, b)) in PRICE_KEYS
        .iter()
        .zip(first.slots().into_iter().zip(second.slots()))
    {
        if let (Some(a), Some(b), Some(slot)) = (a, b, out.slot_mut(key)) {
            if a != b {
                *slot = Some(b);
            }
        }
    }
    out
}

/// A provider's own pricing rules (overlay fields, after LiteLLM's cost
/// calculator).
#[derive(Debug, Clone, Copy, Default)]
struct PriceRules {
    inclusive_tiers: bool,
    cache_read_ratio: Option<f64>,
    profile_prices_from_litellm: bool,
}

impl PriceRules {
    fn of(ov: Option<&OverlayProvider>) -> PriceRules {
        ov.map_or_else(PriceRules::default, |o| PriceRules {
            inclusive_tiers: o.inclusive_tiers,
            cache_read_ratio: o.cache_read_ratio.filter(|r| r.is_finite() && *r >= 0.0),
            profile_prices_from_litellm: o.profile_prices_from_litellm,
        })
    }
}

/// The model's prices from both sources (see the module doc for which
/// wins), and what the other source says where they disagree.
fn model_prices(id: &str, d: &Draft, rules: PriceRules) -> (Prices, Option<OtherPrices>) {
    let md =
        d.md.and_then(|m| m.cost.as_ref())
            .map(md_prices)
            .unwrap_or_default();
    let ll = litellm_prices(d);
    // models.dev's profile files inherit the base model's cost through
    // `base_model`; the profiles themselves cost more (10 % for regional
    // Claude profiles), which LiteLLM lists.
    let litellm_first =
        rules.profile_prices_from_litellm && strip_region_prefix(id).is_some() && ll.is_known();
    let (first, second, loser) = if litellm_first {
        (ll, md, Source::ModelsDev)
    } else {
        (md, ll, Source::LiteLlm)
    };
    let other = disagreements(&first, &second);
    let mut prices = merge_prices(first, &second);
    if prices.tiers.is_empty() {
        apply_ranges(&mut prices, litellm_ranges(d));
    }
    if let (Some(ratio), None, Some(input)) =
        (rules.cache_read_ratio, prices.cache_read, prices.input)
    {
        prices.cache_read = Some(round_price(input * ratio));
    }
    if rules.inclusive_tiers {
        // `input >= N` is `input > N - 1`: the engine keeps one comparison.
        for t in &mut prices.tiers {
            t.above = t.above.saturating_sub(1);
        }
    }
    let other = (other != Prices::default()).then_some(OtherPrices {
        source: loser,
        prices: other,
    });
    (prices, other)
}

fn finalize(id: &str, d: &Draft, first_party: bool, rules: PriceRules) -> ModelInfo {
    let md = d.md;
    let mut caps = Caps::default();
    let pick =
        |md_v: Option<bool>, ll_key: &str| md_v.or_else(|| d.ll_bool(ll_key)).unwrap_or(false);
    caps.set(
        Caps::TOOLS,
        pick(md.and_then(|m| m.tool_call), "supports_function_calling"),
    );
    caps.set(
        Caps::REASONING,
        pick(md.and_then(|m| m.reasoning), "supports_reasoning"),
    );
    caps.set(
        Caps::JSON,
        pick(
            md.and_then(|m| m.structured_output),
            "supports_response_schema",
        ),
    );
    caps.set(
        Caps::ATTACHMENT,
        md.and_then(|m| m.attachment).unwrap_or(false),
    );
    caps.set(
        Caps::OPEN_WEIGHTS,
        md.and_then(|m| m.open_weights).unwrap_or(false),
    );
    caps.set(
        Caps::TEMPERATURE,
        md.and_then(|m| m.temperature).unwrap_or(false),
    );
    caps.set(Caps::FIRST_PARTY, first_party);
    let status = md.and_then(|m| m.status.as_deref()).unwrap_or("");
    caps.set(Caps::DEPRECATED, status == "deprecated");
    caps.set(Caps::BETA, status == "beta");
    caps.set(Caps::ALPHA, status == "alpha");
    caps.set(Caps::FROM_MODELS_DEV, md.is_some());
    caps.set(Caps::FROM_LITELLM, !d.ll.is_empty());

    let mut input_modalities = Modalities::default();
    let mut output_modalities = Modalities::default();
    if let Some(m) = md.and_then(|m| m.modalities.as_ref()) {
        for name in &m.input {
            if let Some(x) = Modalities::from_name(name) {
                input_modalities.add(x);
            }
        }
        for name in &m.output {
            if let Some(x) = Modalities::from_name(name) {
                output_modalities.add(x);
            }
        }
    }
    if input_modalities.is_empty() && !d.ll.is_empty() {
        input_modalities.add(Modalities::TEXT);
        for (key, m) in [
            ("supports_vision", Modalities::IMAGE),
            ("supports_pdf_input", Modalities::PDF),
            ("supports_audio_input", Modalities::AUDIO),
            ("supports_video_input", Modalities::VIDEO),
        ] {
            if d.ll_bool(key) == Some(true) {
                input_modalities.add(m);
            }
        }
    }
    if output_modalities.is_empty() && !d.ll.is_empty() {
        output_modalities.add(Modalities::TEXT);
        if d.ll_bool("supports_audio_output") == Some(true) {
            output_modalities.add(Modalities::AUDIO);
        }
    }

    let limit = md.and_then(|m| m.limit.as_ref());
    let nz = |v: Option<u64>| v.filter(|v| *v > 0);
    let ll_tokens = |key: &str| d.ll_num(key).filter(|v| *v >= 1.0).map(|v| v as u64);
    let context = nz(limit.and_then(|l| l.context))
        .or_else(|| ll_tokens("max_input_tokens"))
        .or_else(|| ll_tokens("max_tokens"));
    let max_input = nz(limit.and_then(|l| l.input));
    let max_output = nz(limit.and_then(|l| l.output)).or_else(|| ll_tokens("max_output_tokens"));

    let (prices, other_prices) = model_prices(id, d, rules);

    let lower = id.to_ascii_lowercase();
    let mode = match d.ll_str("mode").and_then(Mode::from_litellm) {
        Some(m) => m,
        None if lower.contains("embed") => Mode::Embedding,
        None => Mode::Chat,
    };
    let s = |v: Option<&String>| v.map(|s| clean(s)).unwrap_or_default();
    ModelInfo {
        id: id.to_owned(),
        mode,
        caps,
        context,
        max_input,
        max_output,
        input_modalities,
        output_modalities,
        prices,
        knowledge: s(md.and_then(|m| m.knowledge.as_ref())),
        release_date: s(md.and_then(|m| m.release_date.as_ref())),
        deprecation_date: d.ll_str("deprecation_date").map(clean).unwrap_or_default(),
        family: s(md.and_then(|m| m.family.as_ref())),
        name: md
            .and_then(|m| m.name.as_deref())
            .map(clean)
            .unwrap_or_else(|| id.to_owned()),
        other_prices,
    }
}

/// The root of a LiteLLM provider name that also appears as a key prefix:
/// `vertex_ai-anthropic_models` → `vertex_ai`, `bedrock_converse` → `bedrock`.
fn litellm_root(lp: &str) -> &str {
    let lp = lp.split('-').next().unwrap_or(lp);
    for suffix in ["_converse", "_chat", "_text", "_models"] {
        if let Some(root) = lp.strip_suffix(suffix) {
            return root;
        }
    }
    lp
}

/// LiteLLM key → model id; `None` for entries the gateway cannot price per
/// token: provisioned-throughput commitments (per hour) and Bedrock's
/// `invoke/` route names. Entries priced per data zone or region keep
/// their segment (`eu/gpt-4o-2024-08-06`): they are models of their own.
pub fn litellm_model_id<'k>(key: &'k str, prefixes: &[&str]) -> Option<&'k str> {
    let mut id = key;
    if let Some((first, rest)) = id.split_once('/') {
        if prefixes.contains(&first) {
            id = rest;
        }
    }
    if id.contains("commitment") || id.starts_with("invoke/") {
        return None;
    }
    Some(id)
}

/// A models.dev id of this provider that `id` names: exactly, ignoring
/// case (when unambiguous), or by another version spelling.
fn match_model<'m>(models: &'m BTreeMap<String, Draft<'_>>, id: &str) -> Option<&'m str> {
    if let Some((k, _)) = models.get_key_value(id) {
        return Some(k);
    }
    let mut ci = models.keys().filter(|k| k.eq_ignore_ascii_case(id));
    if let (Some(k), None) = (ci.next(), ci.next()) {
        return Some(k);
    }
    version_spellings(id)
        .into_iter()
        .find_map(|v| models.get_key_value(v.as_str()).map(|(k, _)| k.as_str()))
}

pub fn build(src: &Sources) -> Result<Built, String> {
    let overlay = &src.overlay;
    let mut records: BTreeMap<String, ProviderRecord> = BTreeMap::new();
    let mut drafts: BTreeMap<String, BTreeMap<String, Draft>> = BTreeMap::new();
    let mut aliases: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for md in &src.models_dev {
        if md.id.is_empty() || md.id.contains(['\t', '\n', '/']) {
            return Err(format!("models.dev provider id `{}` is not usable", md.id));
        }
        let rec = provider_record(&md.id, Some(md), overlay.providers.get(&md.id), overlay);
        records.insert(md.id.clone(), rec);
        let models = drafts.entry(md.id.clone()).or_default();
        for (id, m) in &md.models {
            if id.is_empty() || id.contains(['\t', '\n']) {
                continue;
            }
            models.insert(
                id.clone(),
                Draft {
                    md: Some(m),
                    ll: Vec::new(),
                },
            );
        }
    }
    for (id, ov) in &overlay.providers {
        if !records.contains_key(id) {
            records.insert(id.clone(), provider_record(id, None, Some(ov), overlay));
            drafts.entry(id.clone()).or_default();
        }
    }

    let mut stats = MergeStats::default();
    let mut litellm_names: BTreeMap<&str, String> = BTreeMap::new();
    for (key, fields) in &src.litellm {
        let Some(lp) = fields.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
        if !litellm_names.contains_key(lp) {
            let pid = overlay.litellm.get(lp).map_or(lp, String::as_str);
            litellm_names.insert(lp, pid.to_owned());
        }
        let mode = fields.get("mode").and_then(Value::as_str).unwrap_or("chat");
        if Mode::from_litellm(mode).is_none() {
            stats.skipped_mode += 1;
            continue;
        }
        let pid = overlay
            .litellm
            .get(lp)
            .cloned()
            .unwrap_or_else(|| lp.to_owned());
        let Some(rec) = records.get(&pid) else {
            *stats.skipped_provider.entry(lp.to_owned()).or_default() += 1;
            continue;
        };
        let mut prefixes: Vec<&str> = vec![lp, &pid, litellm_root(lp)];
        prefixes.extend(rec.aliases.iter().map(String::as_str));
        let Some(id) = litellm_model_id(key, &prefixes) else {
            stats.skipped_priced_apart += 1;
            continue;
        };
        if id.is_empty() || id.contains(['\t', '\n']) {
            continue;
        }
        let models = drafts.entry(pid.clone()).or_default();
        let target = match match_model(models, id) {
            Some(t) => {
                stats.matched += 1;
                t.to_owned()
            }
            None => {
                stats.added += 1;
                id.to_owned()
            }
        };
        if target != id {
            aliases
                .entry(pid.clone())
                .or_default()
                .entry(id.to_owned())
                .or_insert_with(|| target.clone());
        }
        models.entry(target).or_default().ll.push(fields);
    }
    add_litellm_names(&mut records, &litellm_names);

    let first_party: BTreeSet<&str> = overlay.first_party.iter().map(String::as_str).collect();
    let mut providers = Vec::with_capacity(records.len());
    for (pid, record) in records {
        let rules = PriceRules::of(overlay.providers.get(&pid));
        let first = first_party.contains(pid.as_str());
        let models: BTreeMap<String, ModelInfo> = drafts
            .get(&pid)
            .map(|ds| {
                ds.iter()
                    .map(|(id, d)| (id.clone(), finalize(id, d, first, rules)))
                    .collect()
            })
            .unwrap_or_default();
        let mut alias_map = aliases.remove(&pid).unwrap_or_default();
        add_version_aliases(&models, &mut alias_map);
        alias_map
            .retain(|alias, target| !models.contains_key(alias) && models.contains_key(target));
        providers.push(BuiltProvider {
            record,
            models,
            aliases: alias_map,
        });
    }
    check_provider_names(&providers)?;
    Ok(Built {
        description: src.description.clone(),
        first_party: overlay.first_party.clone(),
        providers,
        stats,
    })
}

/// Every LiteLLM provider name (`cohere_chat`, `text-completion-codestral`,
/// ...) names the catalog provider its entries went to, unless it already
/// names one. Its `<NAME>_API_BASE` is not read: these are names for
/// looking models up, not deployments.
fn add_litellm_names(
    records: &mut BTreeMap<String, ProviderRecord>,
    names: &BTreeMap<&str, String>,
) {
    for (name, pid) in names {
        let usable = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        // A scan rather than a set of taken names: ~170 providers, and a
        // sorted set would cost the Worker bundle a sort routine of its own.
        let taken = records
            .values()
            .any(|r| r.id == **name || r.aliases.iter().any(|a| a == name));
        if !usable || taken {
            continue;
        }
        if let Some(rec) = records.get_mut(pid) {
            rec.aliases.push((*name).to_owned());
        }
    }
}

/// `x` for `x@default`, and an undated id for the latest of its dated models.
fn add_version_aliases(
    models: &BTreeMap<String, ModelInfo>,
    aliases: &mut BTreeMap<String, String>,
) {
    let mut latest: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for id in models.keys() {
        if let Some(base) = id.strip_suffix("@default") {
            aliases.entry(base.to_owned()).or_insert_with(|| id.clone());
            continue;
        }
        if let Some((base, date)) = split_date(id) {
            let date_key = date;
            let e = latest.entry(base).or_insert((date_key, id));
            if date_key.replace('-', "") > e.0.replace('-', "") {
                *e = (date_key, id);
            }
        }
    }
    for (base, (_, id)) in latest {
        if !models.contains_key(base) && !models.contains_key(&format!("{base}@default")) {
            aliases
                .entry(base.to_owned())
                .or_insert_with(|| id.to_owned());
        }
    }
}

/// Provider ids and aliases must name one provider each.
fn check_provider_names(providers: &[BuiltProvider]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for p in providers {
        for name in std::iter::once(&p.record.id).chain(p.record.aliases.iter()) {
            if let Some(other) = seen.insert(name, &p.record.id) {
                return Err(format!(
                    "provider name `{name}` is used by both `{other}` and `{}`",
                    p.record.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
