//! Selecting models by what a request needs: tools, vision, reasoning, JSON
//! output, a context window of at least N tokens, with a provider preference.
//! The router picks its candidates (and context-window fallbacks) with this.

use super::model::{Caps, Modalities, Mode, ModelInfo};
use super::text::ProviderKind;
use super::Catalog;
use super::Provider;

#[derive(Debug, Clone, Default)]
pub struct Requirements {
    pub tools: bool,
    pub vision: bool,
    pub reasoning: bool,
    pub json_output: bool,
    pub audio_input: bool,
    pub pdf_input: bool,
    /// Smallest acceptable prompt window (tokens).
    pub min_context: Option<u64>,
    pub min_output: Option<u64>,
    /// Defaults to chat.
    pub mode: Mode,
    pub include_deprecated: bool,
    /// Only providers the gateway can call right now.
    pub addressable_only: bool,
    /// Only these providers (ids, aliases or gateway ids); empty = all.
    pub only_providers: Vec<String>,
}

impl Requirements {
    pub fn accepts(&self, m: &ModelInfo) -> bool {
        let caps = [
            (self.tools, Caps::TOOLS),
            (self.reasoning, Caps::REASONING),
            (self.json_output, Caps::JSON),
        ];
        let inputs = [
            (self.vision, Modalities::IMAGE),
            (self.audio_input, Modalities::AUDIO),
            (self.pdf_input, Modalities::PDF),
        ];
        m.mode == self.mode
            && caps.iter().all(|(want, c)| !want || m.has(*c))
            && inputs
                .iter()
                .all(|(want, x)| !want || m.input_modalities.has(*x))
            && self
                .min_context
                .is_none_or(|n| m.input_window().is_some_and(|w| w >= n))
            && self
                .min_output
                .is_none_or(|n| m.max_output.is_some_and(|w| w >= n))
            && (self.include_deprecated || !m.deprecated())
    }
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub provider: &'static Provider,
    pub info: ModelInfo,
}

impl Candidate {
    /// `provider/model` as a client would send it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.provider.gateway_or_id(), self.info.id)
    }
}

fn names(p: &'static Provider) -> impl Iterator<Item = &'static str> {
    [p.id, p.gateway]
        .into_iter()
        .chain(p.aliases.iter().copied())
        .filter(|s| !s.is_empty())
}

/// Every model meeting `req`, providers named in `prefer` first (in that
/// order), then the rest; within a provider the cheapest input price first
/// (unpriced last), then by id.
pub fn select(catalog: &'static Catalog, req: &Requirements, prefer: &[&str]) -> Vec<Candidate> {
    let rank = |p: &'static Provider| {
        prefer
            .iter()
            .position(|want| names(p).any(|n| n == *want))
            .unwrap_or(prefer.len())
    };
    let mut providers: Vec<&'static Provider> = catalog
        .providers()
        .filter(|p| !req.addressable_only || catalog.addressable(p))
        .filter(|p| {
            req.only_providers.is_empty()
                || names(p).any(|n| req.only_providers.iter().any(|w| w == n))
        })
        .filter(|p| p.kind != ProviderKind::Unsupported || !req.addressable_only)
        .collect();
    providers.sort_by_key(|p| (rank(p), p.id));
    let mut out = Vec::new();
    for p in providers {
        let mut models: Vec<ModelInfo> = catalog.models(p).filter(|m| req.accepts(m)).collect();
        models.sort_by(|a, b| {
            let pa = a.prices.input.unwrap_or(f64::INFINITY);
            let pb = b.prices.input.unwrap_or(f64::INFINITY);
            pa.total_cmp(&pb).then_with(|| a.id.cmp(&b.id))
        });
        out.extend(
            models
                .into_iter()
                .map(|info| Candidate { provider: p, info }),
        );
    }
    out
}
