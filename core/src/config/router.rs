//! `[router_settings]`: how a model group picks its deployments, retries,
//! cools deployments down and falls back to other groups. LiteLLM's names,
//! so that its `router_settings` and `litellm_settings` read the same here.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSettings {
    /// The strategy of every group without its own (`group_strategy`).
    pub routing_strategy: Strategy,
    /// Per group name: its strategy.
    pub group_strategy: BTreeMap<String, Strategy>,
    /// Attempts after every deployment of a group was tried once; unset
    /// uses `general.num_retries`.
    pub num_retries: Option<u32>,
    /// Failures within `allowed_fails_window_s` that put a deployment in
    /// cooldown (LiteLLM's `allowed_fails`: the N+1st failure cools it).
    pub allowed_fails: u32,
    pub allowed_fails_window_s: u64,
    /// How long a cooled deployment is skipped (seconds). A 429 with a
    /// longer `Retry-After` cools it for that long instead.
    pub cooldown_time: f64,
    /// Time to the first content of a stream before the attempt is
    /// abandoned for the next deployment; unset waits as long as
    /// `general.stream_idle_timeout_ms`.
    pub ttft_timeout_ms: Option<u64>,
    /// Most waiting between attempts of one request, in all (ms).
    pub retry_budget_ms: u64,
    /// Most groups a request falls back through.
    pub max_fallbacks: usize,
    /// Group → groups tried in order when its deployments all failed.
    #[serde(deserialize_with = "fallback_map")]
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Group → groups with larger windows, for prompts over its window.
    #[serde(deserialize_with = "fallback_map")]
    pub context_window_fallbacks: BTreeMap<String, Vec<String>>,
    /// Group → groups tried when its provider refuses the content.
    #[serde(deserialize_with = "fallback_map")]
    pub content_policy_fallbacks: BTreeMap<String, Vec<String>>,
    /// Group → where its requests may be served: `eu`, `us`, ISO country
    /// codes or region names, comma-separated. Deployments elsewhere (or
    /// without a `region`) are never used for it; none left is a 403.
    pub residency: BTreeMap<String, String>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            routing_strategy: Strategy::SimpleShuffle,
            group_strategy: BTreeMap::new(),
            num_retries: None,
            allowed_fails: 3,
            allowed_fails_window_s: 60,
            cooldown_time: 5.0,
            ttft_timeout_ms: None,
            retry_budget_ms: 30_000,
            max_fallbacks: 5,
            fallbacks: BTreeMap::new(),
            context_window_fallbacks: BTreeMap::new(),
            content_policy_fallbacks: BTreeMap::new(),
            residency: BTreeMap::new(),
        }
    }
}

impl RouterSettings {
    /// Whether any group routes by distance (only then is it worth
    /// finding out where a request landed).
    pub fn uses_nearest(&self) -> bool {
        self.routing_strategy == Strategy::Nearest
            || self
                .group_strategy
                .values()
                .any(|s| *s == Strategy::Nearest)
    }

    pub fn strategy_of(&self, group: &str) -> Strategy {
        self.group_strategy
            .get(group)
            .copied()
            .unwrap_or(self.routing_strategy)
    }
}

/// How a group orders its healthy deployments for a request. Deployments
/// with a lower `order` always come first; the strategy orders within one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Strategy {
    /// Random, in proportion to `weight` (LiteLLM's default).
    #[serde(rename = "simple-shuffle", alias = "shuffle", alias = "weighted")]
    SimpleShuffle,
    /// Fewest requests in flight on this instance.
    #[serde(rename = "least-busy")]
    LeastBusy,
    /// Lowest moving average of time to first byte on this instance.
    #[serde(rename = "latency-based-routing", alias = "lowest-latency")]
    LowestLatency,
    /// Cheapest for this request's estimated tokens at catalog prices.
    #[serde(rename = "cost-based-routing", alias = "lowest-cost")]
    LowestCost,
    /// Most of its `rpm`/`tpm` left in the current minute on this instance.
    #[serde(rename = "usage-based-routing", alias = "usage-based-routing-v2")]
    UsageBased,
    /// Nearest `region` to where the request landed.
    #[serde(rename = "nearest", alias = "nearest-region")]
    Nearest,
}

impl Strategy {
    /// Its name in the config.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SimpleShuffle => "simple-shuffle",
            Strategy::LeastBusy => "least-busy",
            Strategy::LowestLatency => "latency-based-routing",
            Strategy::LowestCost => "cost-based-routing",
            Strategy::UsageBased => "usage-based-routing",
            Strategy::Nearest => "nearest",
        }
    }
}

/// A fallback list as TOML or JSON writes it (`{"a" = ["b"]}`) or as
/// LiteLLM's YAML does (`[{"a": ["b"]}, {"c": ["d"]}]`).
fn fallback_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let bad = || {
        de::Error::custom(
            "expected a table of group = [\"fallback\", ...] (or a list of such tables)",
        )
    };
    let tables = match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(m) => vec![m],
        serde_json::Value::Array(list) => list
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Object(m) => Ok(m),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    let mut out = BTreeMap::new();
    for (group, to) in tables.into_iter().flatten() {
        let to = match to {
            serde_json::Value::Array(names) => names
                .into_iter()
                .map(|n| match n {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            serde_json::Value::String(one) => vec![one],
            _ => return Err(bad()),
        };
        out.insert(group, to);
    }
    Ok(out)
}

impl super::Config {
    /// Weights are finite and positive, and every fallback names a group
    /// that exists (a typo would otherwise surface only during an outage).
    pub(super) fn validate_router(&self) -> Result<(), super::ConfigError> {
        let err = |m: String| Err(super::ConfigError(m));
        for e in &self.model_list {
            if let Some(w) = e.weight {
                if !w.is_finite() || w <= 0.0 {
                    return err(format!(
                        "model_name `{}`: weight must be a positive number",
                        e.model_name
                    ));
                }
            }
        }
        let r = &self.router_settings;
        if !r.cooldown_time.is_finite() || r.cooldown_time < 0.0 {
            return err("router_settings.cooldown_time must be >= 0 seconds".into());
        }
        let known = |name: &str| {
            self.model_list.iter().any(|e| {
                e.model_name == name
                    || e.model_name
                        .strip_suffix('*')
                        .is_some_and(|p| name.starts_with(p))
            }) || name.contains('/')
        };
        for (table, map) in [
            ("fallbacks", &r.fallbacks),
            ("context_window_fallbacks", &r.context_window_fallbacks),
            ("content_policy_fallbacks", &r.content_policy_fallbacks),
        ] {
            for (from, to) in map {
                if let Some(bad) = to.iter().find(|t| !known(t)) {
                    return err(format!(
                        "router_settings.{table}: `{from}` falls back to `{bad}`, which no model_list entry serves"
                    ));
                }
            }
        }
        Ok(())
    }
}
