//! What the gateway knows about the model behind one deployment: the
//! catalog entry (if any) with the deployment's own overrides on top. Costs,
//! the context-window pre-check and the deprecation header read it.

use crate::catalog::{Catalog, Found, Prices};
use crate::config::ModelEntry;
use crate::providers::Codec;
use crate::resolve::Deployment;

#[derive(Debug, Clone, Default)]
pub struct ModelMeta {
    pub found: Option<Found>,
    /// Catalog prices with the deployment's overrides applied.
    pub prices: Prices,
    /// Most prompt tokens accepted.
    pub input_window: Option<u64>,
    pub max_output: Option<u64>,
    /// `x-dx-deprecated`: the shutdown date, or `true` without one.
    pub deprecated: Option<String>,
}

impl ModelMeta {
    /// Priced explicitly at zero (budgets can skip it).
    pub fn free(&self) -> bool {
        self.prices.is_free()
    }
}

/// A catalog entry by the names clients use: `provider/model`,
/// `model@provider`, or a bare id (its maker's entry).
pub fn lookup_name(c: &'static Catalog, name: &str) -> Option<Found> {
    if let Some((p, m)) = name.split_once('/') {
        if let Some(found) = c
            .provider(p)
            .and_then(|p| c.lookup(p, m))
            .or_else(|| c.lookup_gateway(p, m))
        {
            return Some(found);
        }
    }
    if let Some((m, p)) = name.rsplit_once('@') {
        if let Some(found) = c.provider(p).and_then(|p| c.lookup(p, m)) {
            return Some(found);
        }
    }
    c.first_party(name)
}

pub fn model_meta(c: &'static Catalog, d: &Deployment, entry: Option<&ModelEntry>) -> ModelMeta {
    let found = match (entry.and_then(|e| e.base_model.as_deref()), d.codec()) {
        (Some(base), _) => lookup_name(c, base),
        (None, Codec::Mock) => None,
        (None, _) => c
            .lookup_gateway(d.provider.id, &d.upstream_model)
            .or_else(|| {
                // A custom OpenAI-compatible server serving a known model
                // is priced and limited like that model's maker's.
                (d.provider.id == "openai_compatible")
                    .then(|| c.first_party(&d.upstream_model))
                    .flatten()
            }),
    };
    let mut prices = match (&found, d.codec()) {
        (Some(f), _) => f.info.prices.clone(),
        (None, Codec::Mock) => Prices {
            input: Some(0.0),
            output: Some(0.0),
            ..Prices::default()
        },
        (None, _) => Prices::default(),
    };
    if let Some(e) = entry {
        let overrides = e.price_overrides();
        if !overrides.is_empty() {
            prices = overrides.apply(&prices);
        }
    }
    let info = found.as_ref().map(|f| &f.info);
    ModelMeta {
        input_window: entry
            .and_then(|e| e.max_input_tokens)
            .or_else(|| info.and_then(|i| i.input_window())),
        max_output: entry
            .and_then(|e| e.max_output_tokens)
            .or_else(|| info.and_then(|i| i.max_output)),
        deprecated: info.filter(|i| i.deprecated()).map(|i| {
            if i.deprecation_date.is_empty() {
                "true".to_owned()
            } else {
                i.deprecation_date.clone()
            }
        }),
        prices,
        found,
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time in milliseconds.
pub fn date_of(ms: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let days = (ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        // 2024-02-29T12:00:00Z
        assert_eq!(date_of(1_709_208_000_000), "2024-02-29");
        // 2026-07-24T18:23:43Z
        assert_eq!(date_of(1_784_917_423_000), "2026-07-24");
    }
}
