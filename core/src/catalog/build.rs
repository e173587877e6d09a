//! Merging models.dev, LiteLLM's price map and the gateway's overlay into
//! one catalog. Used by `tools/catalog-gen` at build time and by the runtime
//! refresh, so both produce the same text from the same inputs.
//!
//! Merge rules (each is unit-tested below):
//!
//! * **Providers** come from models.dev plus the overlay (base URLs models.dev
//!   lacks, local servers and LiteLLM-only providers, aliases). Key variables
//!   are models.dev's `env` minus the ones that are URL placeholders or name
//!   hosts/accounts/regions; `<ID>_API_BASE` overrides the base URL.
//! * **Which LiteLLM entry is which model:** `litellm_provider` maps to a
//!   catalog provider (overlay `[litellm]`, else the same id); the key loses
//!   its provider prefix (`groq/`, `vertex_ai/`, `bedrock/`, an alias, ...);
//!   then it matches a models.dev id exactly, else case-insensitively, else by
//!   version spelling (`x` ↔ `x@default`, `x-20250929` ↔ `x@20250929`).
//!   Entries priced per region (`bedrock/us-east-1/...`, `azure/eu/...`) and
//!   modes the gateway does not serve (images, audio, video, search, ...) are
//!   left out. Unmatched entries become models of their own.
//! * **Which source wins per field:** models.dev for names, dates, limits,
//!   capabilities, modalities and the prices it gives (input, output,
//!   reasoning, cache read/write, audio, context tiers); LiteLLM fills every
//!   field models.dev leaves empty and gives the finer prices models.dev has
//!   no field for (1-hour cache writes, audio cache reads, per image, per
//!   request), its tiers when models.dev has none, the deprecation date and
//!   the mode. When several LiteLLM keys land on one model, the first in the
//!   file wins per field.
//! * **Aliases** (per provider): LiteLLM spellings that differ from the id,
//!   `x` for `x@default`, and an undated id for its latest dated model when
//!   the undated one is not a model itself.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::ids::{split_date, version_spellings};
use super::model::{Caps, Modalities, Mode, ModelInfo, Prices, Tier};
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
    pub skipped_region: usize,
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
        };
    }
    if let Some(c) = &cost.context_over_200k {
        *p.tier_mut(200_000) = Tier {
            above: 200_000,
            input: c.input,
            output: c.output,
            cache_read: c.cache_read,
            cache_write: c.cache_write,
        };
    }
    p
}

/// LiteLLM's `<price>_above_<N>k_tokens` keys as tiers (service-tier
/// variants such as `_priority` and 1-hour cache tiers are not modelled).
fn litellm_tiers(d: &Draft) -> Vec<Tier> {
    let mut prices = Prices::default();
    for m in &d.ll {
        for (key, value) in m.iter() {
            let Some((field, rest)) = key.split_once("_above_") else {
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
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(per_million(v));
            }
        }
    }
    prices
        .tiers
        .into_iter()
        .filter(|t| t.input.is_some() || t.output.is_some() || t.cache_read.is_some())
        .collect()
}

fn finalize(id: &str, d: &Draft, first_party: bool) -> ModelInfo {
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

    let mut prices = md
        .and_then(|m| m.cost.as_ref())
        .map(md_prices)
        .unwrap_or_default();
    let fill = |slot: &mut Option<f64>, key: &str| {
        if slot.is_none() {
            *slot = d.ll_per_m(key);
        }
    };
    fill(&mut prices.input, "input_cost_per_token");
    fill(&mut prices.output, "output_cost_per_token");
    fill(&mut prices.cache_read, "cache_read_input_token_cost");
    fill(&mut prices.cache_write, "cache_creation_input_token_cost");
    fill(
        &mut prices.cache_write_1h,
        "cache_creation_input_token_cost_above_1hr",
    );
    fill(&mut prices.reasoning, "output_cost_per_reasoning_token");
    fill(&mut prices.input_audio, "input_cost_per_audio_token");
    fill(&mut prices.output_audio, "output_cost_per_audio_token");
    fill(
        &mut prices.cache_read_audio,
        "cache_read_input_audio_token_cost",
    );
    if prices.per_input_image.is_none() {
        prices.per_input_image = d.ll_num("input_cost_per_image").map(round_price);
    }
    if prices.per_output_image.is_none() {
        prices.per_output_image = d.ll_num("output_cost_per_image").map(round_price);
    }
    if prices.per_request.is_none() {
        prices.per_request = d.ll_num("input_cost_per_request").map(round_price);
    }
    if prices.tiers.is_empty() {
        prices.tiers = litellm_tiers(d);
    }

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

fn is_region_segment(s: &str) -> bool {
    // us-east-1, eu-central-2, us-gov-west-1, ap-northeast-1
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Azure data-zone and Bedrock commitment segments: priced apart from the model.
const PRICING_SEGMENTS: [&str; 5] = ["eu", "us", "global", "global-standard", "invoke"];

/// LiteLLM key → model id; `None` for entries priced per region.
pub fn litellm_model_id<'k>(key: &'k str, prefixes: &[&str]) -> Option<&'k str> {
    let mut id = key;
    if let Some((first, rest)) = id.split_once('/') {
        if prefixes.contains(&first) {
            id = rest;
        }
    }
    if let Some((first, rest)) = id.split_once('/') {
        if is_region_segment(first)
            || PRICING_SEGMENTS.contains(&first)
            || first.contains("commitment")
            || rest.contains("commitment")
        {
            return None;
        }
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
    for (key, fields) in &src.litellm {
        let Some(lp) = fields.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
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
            stats.skipped_region += 1;
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

    let first_party: BTreeSet<&str> = overlay.first_party.iter().map(String::as_str).collect();
    let mut providers = Vec::with_capacity(records.len());
    for (pid, record) in records {
        let models: BTreeMap<String, ModelInfo> = drafts
            .get(&pid)
            .map(|ds| {
                ds.iter()
                    .map(|(id, d)| {
                        (
                            id.clone(),
                            finalize(id, d, first_party.contains(pid.as_str())),
                        )
                    })
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
