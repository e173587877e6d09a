//! The model catalog: every provider the gateway can reach and every model
//! it knows limits, capabilities and prices for, merged at build time from
//! models.dev and LiteLLM's price map (see [`build`] for the rules) into a
//! compact text embedded in the binary (`core/data/catalog.tsv`).
//!
//! The text is indexed on first use, once per process (isolate), and model
//! lines are parsed only when looked up. A refreshed copy fetched at run
//! time ([`refresh`]) replaces the embedded one once it has been validated.
//! Which catalog is in use is instance state ([`Installed`], held by the
//! gateway). Catalogs live for the rest of the process (they are leaked on
//! purpose: a provider found in one hands out `&'static` data, and a
//! refresh that changes the data happens a few times a day at most).

pub mod build;
pub mod ids;
pub mod model;
pub mod query;
pub mod refresh;
pub mod sources;
pub mod sync;
pub mod text;

use std::sync::{OnceLock, RwLock};

pub use ids::MatchKind;
pub use model::{Caps, Modalities, Mode, ModelInfo, OtherPrices, Prices, Source, Tier};
pub use text::ProviderKind;

use crate::providers::{ProviderSpec, PROVIDERS};
use text::{Index, ModelRow};

/// A catalog provider, borrowed from a catalog that lives as long as the process.
pub type Provider = text::Provider<'static>;

/// The catalog built from the snapshots in `data/` by `tools/catalog-gen`.
pub const EMBEDDED_TEXT: &str = include_str!("../../data/catalog.tsv");

pub struct Catalog {
    index: Index<'static>,
    /// Parallel to `index.providers`: the spec of each OpenAI-compatible
    /// one, made on first use (the specs borrow from the catalog itself).
    specs: OnceLock<Vec<Option<ProviderSpec>>>,
}

/// A model found for a provider, and how the requested id matched it.
#[derive(Debug, Clone)]
pub struct Found {
    pub provider: &'static Provider,
    pub info: ModelInfo,
    pub matched: MatchKind,
}

static EMBEDDED: OnceLock<&'static Catalog> = OnceLock::new();

/// The catalog compiled into this binary: a constant, indexed on first use.
pub fn embedded() -> &'static Catalog {
    EMBEDDED.get_or_init(|| {
        let catalog = Catalog::load(EMBEDDED_TEXT).unwrap_or_else(|_| Catalog::empty());
        Box::leak(Box::new(catalog))
    })
}

/// The catalog one gateway instance uses: the last one a refresh installed,
/// else the embedded one. The instance owns it and shares it with its
/// syncer; a request reads it once, so one request sees one catalog.
#[derive(Default)]
pub struct Installed {
    slot: RwLock<Option<&'static Catalog>>,
}

impl Installed {
    pub fn current(&self) -> &'static Catalog {
        match self.slot.read() {
            Ok(guard) => guard.unwrap_or_else(embedded),
            Err(_) => embedded(),
        }
    }

    /// Makes text [`refresh::check`] has accepted the current catalog (it
    /// validated it: a second pass would double the CPU an instance spends
    /// switching catalogs). Installing the text in use is a no-op (nothing
    /// is leaked).
    pub(crate) fn install_checked(&self, text: String) -> Result<&'static Catalog, String> {
        let now = self.current();
        if now.index.bytes == text.len() && now.text_eq(&text) {
            return Ok(now);
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        let catalog: &'static Catalog = Box::leak(Box::new(Catalog::load(text)?));
        if let Ok(mut guard) = self.slot.write() {
            *guard = Some(catalog);
        }
        Ok(catalog)
    }

    /// Back to the embedded catalog.
    pub fn uninstall(&self) {
        if let Ok(mut guard) = self.slot.write() {
            *guard = None;
        }
    }
}

impl Catalog {
    /// Indexes catalog text (see [`text`]); model lines stay unparsed.
    pub fn load(text: &'static str) -> Result<Catalog, String> {
        Ok(Catalog {
            index: Index::load(text)?,
            specs: OnceLock::new(),
        })
    }

    fn specs(&'static self) -> &'static [Option<ProviderSpec>] {
        self.specs.get_or_init(|| {
            // Catalog providers behave like the generic OpenAI-compatible
            // entry except for their own URL and key variables.
            let Some(template) = PROVIDERS.iter().find(|p| p.id == "openai_compatible") else {
                return Vec::new();
            };
            self.index
                .providers
                .iter()
                .map(|p| {
                    (p.kind == ProviderKind::OpenAiCompatible).then_some(ProviderSpec {
                        id: p.id,
                        base_url: p.base_url,
                        key_env: p.key_env.as_slice(),
                        base_env: p.base_env.as_slice(),
                        key_optional: p.local,
                        ..*template
                    })
                })
                .collect()
        })
    }

    fn empty() -> Catalog {
        Catalog {
            index: Index {
                text: "",
                source: "",
                providers: Vec::new(),
                models: Vec::new(),
                aliases: Vec::new(),
                first_party: Vec::new(),
                bytes: 0,
            },
            specs: OnceLock::new(),
        }
    }

    fn text_eq(&self, text: &str) -> bool {
        self.index.text == text
    }

    /// What the catalog was built from (its header).
    pub fn source(&self) -> &'static str {
        self.index.source
    }

    pub fn model_count(&self) -> usize {
        self.index.model_count()
    }

    pub fn provider_count(&self) -> usize {
        self.index.providers.len()
    }

    /// The version tag of this catalog's text, as a store keeps it
    /// ([`refresh::version_of`]).
    pub fn version(&self) -> String {
        refresh::version_of(self.index.text)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.index.validate()
    }

    pub fn providers(&'static self) -> impl Iterator<Item = &'static Provider> {
        self.index.providers.iter()
    }

    /// A provider by id or alias (`together_ai` → `togetherai`).
    pub fn provider(&'static self, name: &str) -> Option<&'static Provider> {
        let ps = &self.index.providers;
        ps.iter()
            .find(|p| p.id == name)
            .or_else(|| ps.iter().find(|p| p.aliases.contains(&name)))
    }

    /// Whether the gateway can call this provider: OpenAI-compatible ones
    /// always, native ones once their codec is registered in `PROVIDERS`.
    pub fn addressable(&self, p: &Provider) -> bool {
        match p.kind {
            ProviderKind::OpenAiCompatible => true,
            ProviderKind::Native => PROVIDERS.iter().any(|s| s.id == p.gateway),
            ProviderKind::Unsupported => false,
        }
    }

    /// The spec the resolver uses for an OpenAI-compatible catalog provider.
    pub fn provider_spec(&'static self, name: &str) -> Option<&'static ProviderSpec> {
        let p = self.provider(name)?;
        let i = self.index.providers.iter().position(|q| q.id == p.id)?;
        self.specs().get(i)?.as_ref()
    }

    /// The catalog providers behind a gateway provider id (`vertex_ai` →
    /// `google-vertex`, `google-vertex-anthropic`; `groq` → `groq`).
    pub fn for_gateway(&'static self, gateway: &str) -> impl Iterator<Item = &'static Provider> {
        let gateway = gateway.to_owned();
        self.index
            .providers
            .iter()
            .filter(move |p| p.gateway == gateway || (p.gateway.is_empty() && p.id == gateway))
    }

    fn exact_or_alias(
        &'static self,
        p: &'static Provider,
        id: &str,
    ) -> Option<(ModelRow<'static>, MatchKind)> {
        if let Some(r) = self.index.row(p, id) {
            return Some((r, MatchKind::Exact));
        }
        let r = self.index.alias(p, id).and_then(|t| self.index.row(p, t))?;
        Some((r, MatchKind::Alias))
    }

    fn row(
        &'static self,
        p: &'static Provider,
        id: &str,
    ) -> Option<(ModelRow<'static>, MatchKind)> {
        if let Some(hit) = self.exact_or_alias(p, id) {
            return Some(hit);
        }
        for (candidate, kind) in ids::fallbacks(id) {
            if let Some((r, _)) = self.exact_or_alias(p, &candidate) {
                return Some((r, kind));
            }
        }
        // Last, as it reads every id of the provider.
        self.index.models[p.models.clone()]
            .iter()
            .find(|r| r.id().eq_ignore_ascii_case(id))
            .map(|r| (*r, MatchKind::CaseInsensitive))
    }

    /// The model `id` of provider `p`, trying aliases and other spellings.
    pub fn lookup(&'static self, p: &'static Provider, id: &str) -> Option<Found> {
        let (row, matched) = self.row(p, id)?;
        let info = ModelInfo::decode(row.line).ok()?;
        Some(Found {
            provider: p,
            info,
            matched,
        })
    }

    /// The model `id` served by a gateway provider (native or catalog).
    pub fn lookup_gateway(&'static self, gateway: &str, id: &str) -> Option<Found> {
        self.for_gateway(gateway).find_map(|p| self.lookup(p, id))
    }

    /// A bare model id's first-party provider (`gpt-4o` → openai,
    /// `claude-haiku-4-5` → anthropic), looked up in the overlay's order.
    pub fn first_party(&'static self, id: &str) -> Option<Found> {
        let makers = || {
            self.index
                .first_party
                .iter()
                .filter_map(|n| self.provider(n))
        };
        // An exact id anywhere beats another spelling at an earlier maker.
        let exact = makers().find_map(|p| {
            let (row, matched) = self.exact_or_alias(p, id)?;
            Some(Found {
                provider: p,
                info: ModelInfo::decode(row.line).ok()?,
                matched,
            })
        });
        exact.or_else(|| makers().find_map(|p| self.lookup(p, id)))
    }

    /// Every model of a provider, parsed.
    pub fn models(&'static self, p: &'static Provider) -> impl Iterator<Item = ModelInfo> {
        self.index.models[p.models.clone()]
            .iter()
            .filter_map(|r| ModelInfo::decode(r.line).ok())
    }

    /// Model ids of a provider without parsing them.
    pub fn model_ids(&'static self, p: &'static Provider) -> impl Iterator<Item = &'static str> {
        self.index.models[p.models.clone()].iter().map(|r| r.id())
    }

    /// Ids close to an unknown model name, for the 404 message.
    pub fn suggest(&'static self, requested: &str, configured: &[&str]) -> Vec<String> {
        const N: usize = 3;
        if requested.len() > ids::SUGGEST_MAX_NAME {
            return Vec::new();
        }
        if let Some((prefix, model)) = requested.split_once('/') {
            if let Some(p) = self.provider(prefix) {
                return ids::closest(model, self.model_ids(p), N)
                    .into_iter()
                    .map(|m| format!("{}/{m}", p.id))
                    .collect();
            }
            let names = self.providers().map(|p| p.id);
            let close: Vec<String> = ids::closest(prefix, names, N)
                .into_iter()
                .map(|p| format!("{p}/{model}"))
                .collect();
            if !close.is_empty() {
                return close;
            }
        }
        let first_party = self
            .index
            .first_party
            .iter()
            .filter_map(|n| self.provider(n))
            .flat_map(|p| self.model_ids(p));
        let mut all: Vec<&str> = configured.to_vec();
        for id in first_party {
            all.push(id);
        }
        ids::closest(requested, all.into_iter(), N)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests;
