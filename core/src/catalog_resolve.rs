//! Where model resolution meets the catalog: catalog providers as
//! `ProviderSpec`s, base URL placeholders, bare ids, and the 404 that names
//! the closest known ids.

use crate::catalog::{self, ProviderKind};
use crate::config::{Config, ModelEntry};
use crate::error::{ErrorKind, GatewayError};
use crate::ports::Env;
use crate::providers::{ProviderSpec, PROVIDERS};
use crate::resolve::{build, Deployment};

/// A catalog provider the gateway can call, by id or alias: OpenAI-compatible
/// ones through their own spec, native ones through their codec's entry in
/// `PROVIDERS` (`google/...` → `gemini`).
pub fn catalog_provider(name: &str) -> Option<&'static ProviderSpec> {
    let c = catalog::current();
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

pub fn catalog_defaults(spec: &ProviderSpec) -> CatalogDefaults {
    if spec.base_url.is_some() && !spec.key_env.is_empty() {
        return CatalogDefaults::default();
    }
    match catalog::current().for_gateway(spec.id).next() {
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

/// A bare model id (no configured name, no provider): served by the
/// provider that makes it, if the catalog knows one; else a 404.
pub fn bare_model<'c>(
    requested: &str,
    config: &'c Config,
    env: &impl Env,
) -> Result<(Deployment, Option<&'c ModelEntry>), GatewayError> {
    let c = catalog::current();
    let Some(found) = c.first_party(requested) else {
        return Err(not_found(requested, config));
    };
    let gateway = found.provider.gateway_or_id();
    let spec = PROVIDERS
        .iter()
        .find(|s| s.id == gateway)
        .or_else(|| catalog_provider(found.provider.id));
    match spec {
        Some(spec) => Ok((build(spec, requested.to_owned(), None, env)?, None)),
        None => Err(GatewayError::new(
            ErrorKind::NotFound,
            format!(
                "The model `{requested}` is served by {} (`{gateway}`), which this gateway cannot call yet.",
                found.provider.name
            ),
        )
        .with_code("model_not_found")
        .with_param("model")),
    }
}

/// `model_not_found`, naming the closest configured and catalog ids.
pub fn not_found(requested: &str, config: &Config) -> GatewayError {
    let configured: Vec<&str> = config
        .model_list
        .iter()
        .map(|e| e.model_name.as_str())
        .filter(|n| !n.ends_with('*'))
        .collect();
    let mut e = GatewayError::model_not_found(requested);
    let close = catalog::current().suggest(requested, &configured);
    if !close.is_empty() {
        let list: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
        e.message = format!("{} Did you mean {}?", e.message, list.join(", "));
    }
    e
}
