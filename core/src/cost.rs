//! What a request cost, in USD, from the tokens the provider reported and the
//! catalog's prices. The same meaning as LiteLLM's `cost_per_token` /
//! `completion_cost`:
//!
//! * prompt tokens include cache reads, cache writes and audio tokens (as
//!   OpenAI's `prompt_tokens` does); the rest are plain text tokens;
//! * completion tokens include reasoning and audio tokens;
//! * once the prompt exceeds a tier's threshold (128k, 200k, 272k, ...: more
//!   input tokens than `above`), that tier's prices replace the base prices
//!   it gives, for every token of the request. Providers whose thresholds
//!   are inclusive (xAI) and LiteLLM's `tiered_pricing` ranges are written
//!   into this one form when the catalog is built (see `catalog::build`);
//! * a token kind without its own price costs what the kind it is part of
//!   costs: cache reads, cache writes and input audio the input price,
//!   1-hour cache writes the 5-minute price (else input), reasoning and
//!   output audio the output price (as LiteLLM does; a provider that
//!   reports cached tokens without publishing a discount is assumed to
//!   charge the full price, except Fireworks, whose default the catalog
//!   writes in);
//! * where the provider says it ran the request (`inference_geo`) scales
//!   every token price by the model's factor for that geo;
//! * images and requests are charged per unit when priced.
//!
//! Per-deployment overrides use LiteLLM's names and units (USD per token).

use serde::Serialize;

use crate::catalog::{Prices, Tier};
pub use crate::unified::Geo;
use crate::unified::Usage;

/// Token counts as reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// All prompt tokens: text, cache reads, cache writes, audio.
    pub input_tokens: u64,
    /// All completion tokens: text, reasoning, audio.
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    /// Cache writes with the default (5-minute) lifetime.
    pub cache_write_tokens: u64,
    pub cache_write_1h_tokens: u64,
    pub reasoning_tokens: u64,
    pub input_audio_tokens: u64,
    pub output_audio_tokens: u64,
    pub input_images: u64,
    pub output_images: u64,
    pub requests: u64,
    /// Where the provider ran the request, when it says (Anthropic).
    pub inference_geo: Option<Geo>,
}

impl From<Usage> for TokenUsage {
    fn from(u: Usage) -> Self {
        TokenUsage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            // The unified usage counts every write in `cache_write_tokens`.
            cache_write_tokens: u.cache_write_tokens.saturating_sub(u.cache_write_1h_tokens),
            cache_write_1h_tokens: u.cache_write_1h_tokens,
            reasoning_tokens: u.reasoning_tokens,
            input_audio_tokens: u.input_audio_tokens,
            output_audio_tokens: u.output_audio_tokens,
            requests: 1,
            inference_geo: u.inference_geo,
            ..TokenUsage::default()
        }
    }
}

/// Whether a price list prices audio apart.
pub fn prices_audio(p: &Prices) -> bool {
    p.input_audio.is_some() || p.output_audio.is_some()
}

/// Whether a price list depends on where the request ran (then Anthropic's
/// `inference_geo`, carried in the unified usage, scales the cost).
pub fn prices_geo(p: &Prices) -> bool {
    !p.geo.is_empty()
}

/// The cost split by what was charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CostBreakdown {
    pub input: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub input_audio: f64,
    pub output: f64,
    pub reasoning: f64,
    pub output_audio: f64,
    pub images: f64,
    pub request: f64,
}

impl CostBreakdown {
    /// LiteLLM's `prompt_tokens_cost_usd_dollar`.
    pub fn prompt(&self) -> f64 {
        self.input + self.cache_read + self.cache_write + self.input_audio
    }

    /// LiteLLM's `completion_tokens_cost_usd_dollar`.
    pub fn completion(&self) -> f64 {
        self.output + self.reasoning + self.output_audio
    }

    pub fn total(&self) -> f64 {
        self.prompt() + self.completion() + self.images + self.request
    }
}

/// The tier in force for a prompt of `input_tokens`: the highest threshold
/// strictly below it.
pub fn tier_for(prices: &Prices, input_tokens: u64) -> Option<&Tier> {
    prices.tiers.iter().rev().find(|t| input_tokens > t.above)
}

const PER: f64 = 1_000_000.0;

/// What running the request in `geo` multiplies its token prices by.
pub fn geo_factor(prices: &Prices, geo: Option<Geo>) -> f64 {
    // LiteLLM: requests served "global" (or where the geo is not known)
    // carry no regional uplift whatever the model lists.
    match geo.as_ref().map(Geo::as_str) {
        None | Some("global" | "not_available") => 1.0,
        Some(geo) => prices.geo_factor(geo),
    }
}

/// LiteLLM's `cost_per_token`, with every component apart.
pub fn cost_per_token(prices: &Prices, u: &TokenUsage) -> CostBreakdown {
    let tier = tier_for(prices, u.input_tokens);
    let input = tier.and_then(|t| t.input).or(prices.input).unwrap_or(0.0);
    let output = tier.and_then(|t| t.output).or(prices.output).unwrap_or(0.0);
    let cache_read = tier
        .and_then(|t| t.cache_read)
        .or(prices.cache_read)
        .unwrap_or(input);
    let cache_write = tier
        .and_then(|t| t.cache_write)
        .or(prices.cache_write)
        .unwrap_or(input);
    let cache_write_1h = tier
        .and_then(|t| t.cache_write_1h)
        .or(prices.cache_write_1h)
        .unwrap_or(cache_write);
    let reasoning = tier
        .and_then(|t| t.reasoning)
        .or(prices.reasoning)
        .unwrap_or(output);
    let factor = geo_factor(prices, u.inference_geo);
    let text_in = u
        .input_tokens
        .saturating_sub(u.cache_read_tokens)
        .saturating_sub(u.cache_write_tokens)
        .saturating_sub(u.cache_write_1h_tokens)
        .saturating_sub(u.input_audio_tokens);
    let text_out = u
        .output_tokens
        .saturating_sub(u.reasoning_tokens)
        .saturating_sub(u.output_audio_tokens);
    let tokens = |n: u64, price: f64| n as f64 * price / PER * factor;
    CostBreakdown {
        input: tokens(text_in, input),
        cache_read: tokens(u.cache_read_tokens, cache_read),
        cache_write: tokens(u.cache_write_tokens, cache_write)
            + tokens(u.cache_write_1h_tokens, cache_write_1h),
        input_audio: tokens(u.input_audio_tokens, prices.input_audio.unwrap_or(input)),
        output: tokens(text_out, output),
        reasoning: tokens(u.reasoning_tokens, reasoning),
        output_audio: tokens(u.output_audio_tokens, prices.output_audio.unwrap_or(output)),
        images: u.input_images as f64 * prices.per_input_image.unwrap_or(0.0)
            + u.output_images as f64 * prices.per_output_image.unwrap_or(0.0),
        request: u.requests as f64 * prices.per_request.unwrap_or(0.0),
    }
}

/// LiteLLM's `completion_cost`: the request's total in USD, or `None` when
/// the model has no known price.
pub fn completion_cost(prices: &Prices, u: &TokenUsage) -> Option<f64> {
    prices.is_known().then(|| cost_per_token(prices, u).total())
}

/// Price overrides of one deployment, in LiteLLM's names and units (USD per
/// token; per image / per request for those).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriceOverrides {
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub cache_read_input_token_cost: Option<f64>,
    pub cache_creation_input_token_cost: Option<f64>,
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    pub output_cost_per_reasoning_token: Option<f64>,
    pub input_cost_per_audio_token: Option<f64>,
    pub output_cost_per_audio_token: Option<f64>,
    pub input_cost_per_image: Option<f64>,
    pub output_cost_per_image: Option<f64>,
    pub input_cost_per_request: Option<f64>,
}

impl PriceOverrides {
    pub fn is_empty(&self) -> bool {
        *self == PriceOverrides::default()
    }

    /// The catalog's prices with these overrides on top. Overriding the
    /// input or output price drops the catalog's tiers, which were relative
    /// to prices that no longer apply.
    pub fn apply(&self, base: &Prices) -> Prices {
        let mut p = base.clone();
        let per_m = |v: Option<f64>| v.map(|v| v * PER);
        if self.input_cost_per_token.is_some() || self.output_cost_per_token.is_some() {
            p.tiers.clear();
        }
        let set = |slot: &mut Option<f64>, v: Option<f64>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut p.input, per_m(self.input_cost_per_token));
        set(&mut p.output, per_m(self.output_cost_per_token));
        set(&mut p.cache_read, per_m(self.cache_read_input_token_cost));
        set(
            &mut p.cache_write,
            per_m(self.cache_creation_input_token_cost),
        );
        set(
            &mut p.cache_write_1h,
            per_m(self.cache_creation_input_token_cost_above_1hr),
        );
        set(
            &mut p.reasoning,
            per_m(self.output_cost_per_reasoning_token),
        );
        set(&mut p.input_audio, per_m(self.input_cost_per_audio_token));
        set(&mut p.output_audio, per_m(self.output_cost_per_audio_token));
        set(&mut p.per_input_image, self.input_cost_per_image);
        set(&mut p.per_output_image, self.output_cost_per_image);
        set(&mut p.per_request, self.input_cost_per_request);
        // An override that prices only one side still means "priced".
        if p.input.is_some() != p.output.is_some() {
            p.input.get_or_insert(0.0);
            p.output.get_or_insert(0.0);
        }
        p
    }
}

/// Splices `"cost": <usd>` into a JSON object's top level, before its
/// closing brace (response bodies and usage chunks are relayed as bytes).
pub fn splice_cost(json: &[u8], cost: f64) -> Option<Vec<u8>> {
    let end = json.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if json[end] != b'}' {
        return None;
    }
    let before = json[..end].iter().rposition(|b| !b.is_ascii_whitespace())?;
    let mut out = Vec::with_capacity(json.len() + 32);
    out.extend_from_slice(&json[..end]);
    if json[before] != b'{' {
        out.push(b',');
    }
    out.extend_from_slice(b"\"cost\":");
    out.extend_from_slice(format_cost(cost).as_bytes());
    out.extend_from_slice(&json[end..]);
    Some(out)
}

/// Plain decimal, never exponent notation (it goes into a header too).
pub fn format_cost(cost: f64) -> String {
    if !cost.is_finite() || cost <= 0.0 {
        return "0".into();
    }
    // Fast path: fixed-precision formatting falls back to slow bignum
    // arithmetic for most costs, and this runs on every priced answer. Below
    // 4096, cost × 10¹² is under 2⁵², so the float product is within 0.25 of
    // the exact one and rounds the same way unless it lies near a half.
    if cost < 4096.0 {
        let scaled = cost * 1e12;
        let frac = scaled - scaled.floor();
        if (frac - 0.5).abs() > 0.3 {
            let n = scaled.round() as u64;
            if n > 0 {
                let (int, dec) = (n / 1_000_000_000_000, n % 1_000_000_000_000);
                if dec == 0 {
                    return int.to_string();
                }
                let dec = format!("{dec:012}");
                return format!("{int}.{}", dec.trim_end_matches('0'));
            }
        }
    }
    format_cost_fixed(cost)
}

/// The value rounded to 12 decimals, trailing zeros dropped.
fn format_cost_fixed(cost: f64) -> String {
    let s = format!("{cost:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "0" {
        // Below a trillionth of a dollar: keep the digits rather than say free.
        format!("{cost}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests;
