//! Where model resolution meets the catalog: bare ids, and the 404 that
//! names the closest known ids.

use crate::catalog::Catalog;
use crate::config::{Config, ModelEntry};
use crate::error::{ErrorKind, GatewayError};
use crate::ports::Env;
use crate::providers::PROVIDERS;

use super::provider_lookup::catalog_provider;
use super::{build, Deployment};

/// A bare model id (no configured name, no provider): served by the
/// provider that makes it, if the catalog knows one; else a 404.
pub fn bare_model<'c>(
    requested: &str,
    config: &'c Config,
    c: &'static Catalog,
    env: &impl Env,
) -> Result<(Deployment, Option<&'c ModelEntry>), GatewayError> {
    let Some(found) = c.first_party(requested) else {
        return Err(not_found(requested, config, c));
    };
    let gateway = found.provider.gateway_or_id();
    let spec = PROVIDERS
        .iter()
        .find(|s| s.id == gateway)
        .or_else(|| catalog_provider(c, found.provider.id));
    match spec {
        Some(spec) => Ok((build(spec, requested.to_owned(), None, c, env)?, None)),
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
pub fn not_found(requested: &str, config: &Config, catalog: &'static Catalog) -> GatewayError {
    let configured: Vec<&str> = config
        .model_list
        .iter()
        .map(|e| e.model_name.as_str())
        .filter(|n| !n.ends_with('*'))
        .collect();
    let mut e = GatewayError::model_not_found(requested);
    let close = catalog.suggest(requested, &configured);
    if !close.is_empty() {
        let list: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
        e.message = format!("{} Did you mean {}?", e.message, list.join(", "));
    }
    e
}
