//! The catalog's endpoints: `GET /v1/models?catalog=true`, `GET /model/info`,
//! `POST /cost/estimate`, `POST /utils/token_counter`. Shapes follow
//! LiteLLM's proxy where it has one (per-token prices, `supports_*` flags).

use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::catalog::{self, Caps, Catalog, Modalities, ModelInfo, Prices};
use crate::config::Config;
use crate::cost::{cost_per_token, format_cost, geo_factor, Geo, TokenUsage};
use crate::error::{ErrorKind, GatewayError};
use crate::http::json as json_response;
use crate::http::GatewayResponse;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::model_meta::{lookup_name, model_meta, ModelMeta};
use crate::ports::Env;
use crate::resolve::resolve_entry;
use crate::tokens;

/// `a=b&c=d`, percent-decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k, true) == name).then(|| decode(v, true))
    })
}

/// A path segment, percent-decoded (`+` stays a plus).
pub fn percent_decode(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The catalog's addressable models as `provider/model` list entries.
pub fn catalog_model_entries(c: &'static Catalog, provider_filter: Option<&str>) -> Vec<Value> {
    let mut out = Vec::with_capacity(8192);
    for p in c.providers().filter(|p| c.addressable(p)) {
        if let Some(want) = provider_filter {
            if p.id != want && p.gateway != want && !p.aliases.contains(&want) {
                continue;
            }
        }
        let prefix = p.gateway_or_id();
        // LiteLLM's per-region entries (`eu/gpt-4o-...`) are prices, not
        // names an upstream serves.
        for id in c
            .model_ids(p)
            .filter(|id| catalog::ids::strip_region_segment(id).is_none())
        {
            out.push(json!({
                "id": format!("{prefix}/{id}"),
                "object": "model",
                "created": 0,
                "owned_by": p.id,
            }));
        }
    }
    out
}

/// One model named as a client would: resolved through the config when it
/// can be, else read straight from the catalog (no provider key needed).
pub struct Described {
    pub name: String,
    pub provider: String,
    pub upstream_model: String,
    pub meta: ModelMeta,
}

///
/// A name no `model_list` entry serves never needs deployment settings: one
/// the catalog does not price, for a provider this deployment has no
/// settings for (`azure/my-deployment` without an api_base), is described
/// without prices rather than failing on the missing settings.
pub fn describe(
    name: &str,
    config: &Config,
    c: &'static Catalog,
    env: &impl Env,
) -> Result<Described, GatewayError> {
    match resolve_entry(name, config, c, env) {
        Ok((d, entry)) => Ok(Described {
            name: name.to_owned(),
            provider: d.provider.id.to_owned(),
            upstream_model: d.upstream_model.clone(),
            meta: model_meta(c, &d, entry),
        }),
        Err(e) if e.kind == ErrorKind::NotFound || e.kind == ErrorKind::Configuration => {
            let Some(found) = lookup_name(c, name) else {
                return unpriced(name, config, c).ok_or(e);
            };
            Ok(Described {
                name: name.to_owned(),
                provider: found.provider.gateway_or_id().to_owned(),
                upstream_model: found.info.id.clone(),
                meta: ModelMeta {
                    prices: found.info.prices.clone(),
                    input_window: found.info.input_window(),
                    max_output: found.info.max_output,
                    deprecated: found.info.deprecated().then(|| {
                        if found.info.deprecation_date.is_empty() {
                            "true".to_owned()
                        } else {
                            found.info.deprecation_date.clone()
                        }
                    }),
                    found: Some(found),
                },
            })
        }
        Err(e) => Err(e),
    }
}

/// A `provider/model` name of a provider the gateway knows, served by no
/// `model_list` entry.
fn unpriced(name: &str, config: &Config, c: &'static Catalog) -> Option<Described> {
    let configured = config.model_list.iter().any(|e| {
        e.model_name == name
            || e.model_name
                .strip_suffix('*')
                .is_some_and(|prefix| name.starts_with(prefix))
    });
    let (pid, model) = name.split_once('/')?;
    let spec = crate::resolve::provider(c, pid)?;
    (!configured && !model.is_empty()).then(|| Described {
        name: name.to_owned(),
        provider: spec.id.to_owned(),
        upstream_model: model.to_owned(),
        meta: ModelMeta::default(),
    })
}

/// USD per million tokens → LiteLLM's USD per token, without float noise.
fn per_token(per_million: Option<f64>) -> Value {
    match per_million {
        Some(v) => {
            let t = v / 1e6;
            let t: f64 = format!("{t:.9e}").parse().unwrap_or(t);
            json!(t)
        }
        None => Value::Null,
    }
}

fn prices_json(p: &Prices) -> Map<String, Value> {
    let mut m = Map::new();
    for (i, (k, v)) in PRICE_FIELDS.iter().zip(p.slots()).enumerate() {
        m.insert((*k).into(), price_value(i, v));
    }
    // A tier's prices are the first six flat ones (`Tier::slots` order).
    let tiers: Vec<Value> = p
        .tiers
        .iter()
        .map(|t| {
            let mut o = Map::new();
            o.insert("above_input_tokens".into(), json!(t.above));
            for (k, v) in PRICE_FIELDS.iter().zip(t.slots()) {
                o.insert((*k).into(), per_token(v));
            }
            Value::Object(o)
        })
        .collect();
    m.insert("tiered_pricing".into(), Value::Array(tiers));
    // LiteLLM's name for the per-geo factors (`{"us": 1.1}`).
    let mut geo = Map::new();
    for (g, f) in &p.geo {
        geo.insert(g.clone(), json!(f));
    }
    m.insert("provider_specific_entry".into(), Value::Object(geo));
    m
}

/// Per token for token prices, as given for per-image and per-request ones.
fn price_value(slot: usize, v: Option<f64>) -> Value {
    match v {
        Some(v) if slot >= PER_UNIT_SLOTS => json!(v),
        v => per_token(v),
    }
}

/// `Prices::slots` from here on are USD per unit, not per million tokens.
const PER_UNIT_SLOTS: usize = 9;

/// LiteLLM's field names of the flat prices, in `Prices::slots` order.
const PRICE_FIELDS: [&str; 12] = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
    "input_cost_per_audio_token",
    "output_cost_per_audio_token",
    "cache_read_input_audio_token_cost",
    "input_cost_per_image",
    "output_cost_per_image",
    "input_cost_per_request",
];

/// Where models.dev and LiteLLM disagree on a price: both values, and which
/// one the catalog uses (README, "Costs").
fn price_conflicts(m: &ModelInfo) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(other) = &m.other_prices else {
        return out;
    };
    let used_source = match other.source {
        catalog::Source::ModelsDev => catalog::Source::LiteLlm,
        catalog::Source::LiteLlm => catalog::Source::ModelsDev,
    };
    let per_unit = |i: usize| i >= 9;
    let pairs = m.prices.slots().into_iter().zip(other.prices.slots());
    for (i, (used, lost)) in pairs.enumerate() {
        let (Some(used), Some(lost)) = (used, lost) else {
            continue;
        };
        let value = |v: f64| {
            if per_unit(i) {
                json!(v)
            } else {
                per_token(Some(v))
            }
        };
        let mut entry = Map::new();
        entry.insert(used_source.as_str().into(), value(used));
        entry.insert(other.source.as_str().into(), value(lost));
        entry.insert("used".into(), json!(used_source.as_str()));
        out.insert(PRICE_FIELDS[i].into(), Value::Object(entry));
    }
    out
}

pub fn info_json(d: &Described) -> Value {
    let meta = &d.meta;
    let mut info = prices_json(&meta.prices);
    info.insert("is_free".into(), json!(meta.free()));
    info.insert("priced".into(), json!(meta.prices.is_known()));
    info.insert("max_input_tokens".into(), json!(meta.input_window));
    info.insert("max_output_tokens".into(), json!(meta.max_output));
    info.insert("max_tokens".into(), json!(meta.max_output));
    info.insert("deprecated".into(), json!(meta.deprecated.is_some()));
    match &meta.found {
        Some(f) => {
            let m = &f.info;
            let caps = |c: Caps| json!(m.has(c));
            let inputs = m.input_modalities;
            info.insert("key".into(), json!(format!("{}/{}", f.provider.id, m.id)));
            info.insert("catalog_provider".into(), json!(f.provider.id));
            info.insert("matched_by".into(), json!(f.matched.as_str()));
            info.insert("name".into(), json!(m.name));
            info.insert("family".into(), json!(m.family));
            info.insert("mode".into(), json!(m.mode.as_str()));
            info.insert("context_window".into(), json!(m.context));
            info.insert("supports_function_calling".into(), caps(Caps::TOOLS));
            info.insert("supports_reasoning".into(), caps(Caps::REASONING));
            info.insert("supports_response_schema".into(), caps(Caps::JSON));
            info.insert("supports_temperature".into(), caps(Caps::TEMPERATURE));
            info.insert("supports_attachments".into(), caps(Caps::ATTACHMENT));
            info.insert("open_weights".into(), caps(Caps::OPEN_WEIGHTS));
            info.insert(
                "supports_vision".into(),
                json!(inputs.has(Modalities::IMAGE)),
            );
            info.insert(
                "supports_pdf_input".into(),
                json!(inputs.has(Modalities::PDF)),
            );
            info.insert(
                "supports_audio_input".into(),
                json!(inputs.has(Modalities::AUDIO)),
            );
            info.insert(
                "supports_audio_output".into(),
                json!(m.output_modalities.has(Modalities::AUDIO)),
            );
            info.insert("input_modalities".into(), json!(inputs.names()));
            info.insert(
                "output_modalities".into(),
                json!(m.output_modalities.names()),
            );
            info.insert("knowledge_cutoff".into(), json!(m.knowledge));
            info.insert("release_date".into(), json!(m.release_date));
            info.insert("deprecation_date".into(), json!(m.deprecation_date));
            let mut sources = Vec::new();
            if m.has(Caps::FROM_MODELS_DEV) {
                sources.push("models.dev");
            }
            if m.has(Caps::FROM_LITELLM) {
                sources.push("litellm");
            }
            info.insert("sources".into(), json!(sources));
            info.insert("price_conflicts".into(), Value::Object(price_conflicts(m)));
        }
        None => {
            info.insert("key".into(), Value::Null);
            // Prices without a catalog entry can only be the config's.
            let sources: &[&str] = if meta.prices.is_known() {
                &["config"]
            } else {
                &[]
            };
            info.insert("sources".into(), json!(sources));
        }
    }
    json!({
        "model_name": d.name,
        "provider": d.provider,
        "upstream_model": d.upstream_model,
        "model_info": Value::Object(info),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_path_decoding() {
        let q = Some("catalog=true&model=deepseek%2Fdeepseek-chat&x=a+b");
        assert_eq!(
            query_param(q, "model").as_deref(),
            Some("deepseek/deepseek-chat")
        );
        assert_eq!(query_param(q, "x").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "catalog").as_deref(), Some("true"));
        assert_eq!(query_param(q, "nope"), None);
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b+c%zz%4");
    }
}

fn ok(body: &Value) -> GatewayResponse {
    json_response(StatusCode::OK, Bytes::from(body.to_string()))
}

/// `GET /model/info[?model=NAME]`: one model, or every configured one.
pub fn model_info(
    config: &Config,
    c: &'static Catalog,
    env: &impl Env,
    query: Option<&str>,
) -> Result<GatewayResponse, GatewayError> {
    if let Some(name) = query_param(query, "model").filter(|m| !m.is_empty()) {
        let d = describe(&name, config, c, env)?;
        return Ok(ok(&json!({ "data": [info_json(&d)] })));
    }
    let data: Vec<Value> = config
        .model_list
        .iter()
        .filter(|e| !e.model_name.ends_with('*'))
        .map(|e| match describe(&e.model_name, config, c, env) {
            Ok(d) => info_json(&d),
            Err(err) => json!({ "model_name": e.model_name, "error": err.message }),
        })
        .collect();
    Ok(ok(&json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EstimateRequest {
    model: String,
    #[serde(default, alias = "prompt_tokens")]
    input_tokens: u64,
    #[serde(default, alias = "completion_tokens")]
    output_tokens: u64,
    #[serde(default, alias = "cached_tokens")]
    cache_read_tokens: u64,
    #[serde(default, alias = "cache_creation_tokens")]
    cache_write_tokens: u64,
    #[serde(default)]
    cache_write_1h_tokens: u64,
    #[serde(default)]
    reasoning_tokens: u64,
    #[serde(default)]
    input_audio_tokens: u64,
    #[serde(default)]
    output_audio_tokens: u64,
    #[serde(default)]
    input_images: u64,
    #[serde(default)]
    output_images: u64,
    #[serde(default)]
    requests_per_day: Option<f64>,
    #[serde(default)]
    days_per_month: Option<f64>,
    /// Where the provider ran the request (Anthropic's `usage.inference_geo`).
    #[serde(default)]
    inference_geo: Option<String>,
}

/// `POST /cost/estimate`: a model and token counts → USD per request, per
/// day and per month at a given request rate.
pub fn cost_estimate(
    config: &Config,
    c: &'static Catalog,
    env: &impl Env,
    body: &[u8],
) -> Result<GatewayResponse, GatewayError> {
    let req: EstimateRequest = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
    let inference_geo = match req.inference_geo.as_deref() {
        None => None,
        Some(g) => Some(Geo::parse(g).ok_or_else(|| {
            GatewayError::invalid_request(
                "`inference_geo` is a short region name such as \"us\" or \"global\".",
            )
            .with_param("inference_geo")
        })?),
    };
    let d = describe(&req.model, config, c, env)?;
    let prices = &d.meta.prices;
    if !prices.is_known() {
        return Err(GatewayError::invalid_request(format!(
            "No price is known for `{}`: give input_cost_per_token/output_cost_per_token in its model_list entry.",
            req.model
        ))
        .with_code("model_price_unknown")
        .with_param("model"));
    }
    let usage = TokenUsage {
        input_tokens: req.input_tokens,
        output_tokens: req.output_tokens,
        cache_read_tokens: req.cache_read_tokens,
        cache_write_tokens: req.cache_write_tokens,
        cache_write_1h_tokens: req.cache_write_1h_tokens,
        reasoning_tokens: req.reasoning_tokens,
        input_audio_tokens: req.input_audio_tokens,
        output_audio_tokens: req.output_audio_tokens,
        input_images: req.input_images,
        output_images: req.output_images,
        requests: 1,
        inference_geo,
    };
    let b = cost_per_token(prices, &usage);
    let per_request = b.total();
    let rate = req.requests_per_day.filter(|r| r.is_finite() && *r >= 0.0);
    let days = req
        .days_per_month
        .filter(|d| d.is_finite() && *d > 0.0)
        .unwrap_or(30.0);
    let num = |v: f64| -> Value {
        format_cost(v)
            .parse::<f64>()
            .map_or(Value::Null, |v| json!(v))
    };
    let body = json!({
        "model": d.name,
        "provider": d.provider,
        "upstream_model": d.upstream_model,
        "catalog_model": d.meta.found.as_ref().map(|f| format!("{}/{}", f.provider.id, f.info.id)),
        "currency": "USD",
        "is_free": d.meta.free(),
        "inference_geo": inference_geo.as_ref().map(Geo::as_str),
        "geo_factor": geo_factor(prices, inference_geo),
        "cost_per_request": num(per_request),
        "prompt_cost": num(b.prompt()),
        "completion_cost": num(b.completion()),
        "breakdown": {
            "input": num(b.input), "cache_read": num(b.cache_read), "cache_write": num(b.cache_write),
            "input_audio": num(b.input_audio), "output": num(b.output), "reasoning": num(b.reasoning),
            "output_audio": num(b.output_audio), "images": num(b.images), "request": num(b.request),
        },
        "requests_per_day": rate,
        "cost_per_day": rate.map(|r| num(per_request * r)),
        "days_per_month": days,
        "cost_per_month": rate.map(|r| num(per_request * r * days)),
        "prices": Value::Object(prices_json(prices)),
    });
    Ok(ok(&body))
}

#[derive(Deserialize)]
struct CounterRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    tools: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    prompt: Option<String>,
}

/// `POST /utils/token_counter`: `{model, messages[, tools]}` or
/// `{model, prompt}` → an estimated prompt token count (see [`tokens`]).
pub fn token_counter(
    config: &Config,
    c: &'static Catalog,
    env: &impl Env,
    body: &[u8],
) -> Result<GatewayResponse, GatewayError> {
    let req: CounterRequest = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
    let model = req.model.clone().unwrap_or_default();
    let total = match (&req.messages, &req.prompt) {
        (Some(messages), _) => {
            let mut chat = format!(
                "{{\"model\":{},\"messages\":{}",
                serde_json::to_string(&model).unwrap_or_else(|_| "\"\"".into()),
                messages.get()
            );
            if let Some(tools) = &req.tools {
                chat.push_str(",\"tools\":");
                chat.push_str(tools.get());
            }
            chat.push('}');
            let envelope = ChatEnvelope::parse(chat.as_bytes())?;
            tokens::count_request(&envelope.to_unified()?)
        }
        (None, Some(prompt)) => tokens::count_text(prompt),
        (None, None) => {
            return Err(GatewayError::invalid_request(
                "Give `messages` (chat) or `prompt` (text) to count.",
            )
            .with_code("missing_required_parameter")
            .with_param("messages"))
        }
    };
    let described = (!model.is_empty())
        .then(|| describe(&model, config, c, env).ok())
        .flatten();
    let window = described.as_ref().and_then(|d| d.meta.input_window);
    let body = json!({
        "total_tokens": total,
        "request_model": model,
        "model_used": described.as_ref().map(|d| d.upstream_model.clone()).unwrap_or(model.clone()),
        "tokenizer_type": "estimate",
        "exact": false,
        "method": tokens::METHOD,
        "max_input_tokens": window,
        "fits_context_window": window.map(|w| total <= w),
    });
    Ok(ok(&body))
}

/// `GET /catalog/status`: which catalog this instance uses, so operators can
/// see whether a refresh reached it.
pub fn catalog_status(current: &'static Catalog) -> GatewayResponse {
    let body = serde_json::json!({
        "source": current.source(),
        "version": current.version(),
        "embedded": std::ptr::eq(current, catalog::embedded()),
        "providers": current.provider_count(),
        "models": current.model_count(),
    });
    json_response(StatusCode::OK, body.to_string())
}
