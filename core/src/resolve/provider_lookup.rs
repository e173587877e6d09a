//! Catalog providers as `ProviderSpec`s, and what the catalog knows of a
//! static provider's endpoint (base URL, key variables, placeholders).

use crate::catalog::{Catalog, ProviderKind};
use crate::error::GatewayError;
use crate::ports::Env;

use crate::providers::{ProviderSpec, PROVIDERS};

/// A provider by id: the static table first, then the catalog (its
/// OpenAI-compatible providers and the aliases of all its providers).
pub fn provider(catalog: &'static Catalog, id: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS
        .iter()
        .find(|p| p.id == id)
        .or_else(|| catalog_provider(catalog, id))
}

/// A catalog provider the gateway can call, by id or alias: OpenAI-compatible
/// ones through their own spec, native ones through their codec's entry in
/// `PROVIDERS` (`google/...` → `gemini`).
pub fn catalog_provider(c: &'static Catalog, name: &str) -> Option<&'static ProviderSpec> {
    let p = c.provider(name)?;
    match p.kind {
        ProviderKind::OpenAiCompatible => c.provider_spec(p.id),
        ProviderKind::Native => PROVIDERS.iter().find(|s| s.id == p.gateway),
        ProviderKind::Unsupported => None,
    }
}

/// What the catalog knows about a provider's endpoint, for entries of the
/// static table that leave it out.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogDefaults {
    pub base_url: Option<&'static str>,
    pub key_env: &'static [&'static str],
}

pub fn catalog_defaults(catalog: &'static Catalog, spec: &ProviderSpec) -> CatalogDefaults {
    if spec.base_url.is_some() && !spec.key_env.is_empty() {
        return CatalogDefaults::default();
    }
    match catalog.for_gateway(spec.id).next() {
        Some(p) => CatalogDefaults {
            base_url: p.base_url,
            key_env: p.key_env.as_slice(),
        },
        None => CatalogDefaults::default(),
    }
}

/// Fills `${NAME}` placeholders of a base URL from the environment.
pub fn fill_placeholders(
    base: &str,
    provider_id: &str,
    env: &impl Env,
) -> Result<String, GatewayError> {
    if !base.contains("${") {
        return Ok(base.to_owned());
    }
    let mut out = String::with_capacity(base.len() + 32);
    let mut rest = base;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(len) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..len];
        match env.var(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v.trim().trim_end_matches('/')),
            None => {
                return Err(GatewayError::provider_not_configured(
                    provider_id,
                    format!(
                        "Provider `{provider_id}` needs {name} to build its URL: set it, or give api_base in a model_list entry."
                    ),
                ))
            }
        }
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
