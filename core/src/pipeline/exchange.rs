//! One request's record as it moves through the pipeline: who asked, for
//! what, where it went, what it used and cost, what was changed on the way.
//! The access log line is one rendering of it ([`Exchange::log_line`]).
//! Holds no secrets by construction: no headers, no bodies, no keys.

use std::sync::Arc;

use serde::Serialize;

use super::admit::Held;
use super::authenticate::Principal;
use super::cache_lookup::CacheStatus;
use crate::catalog::Prices;
use crate::keys::charge::Quota;
use crate::unified::Usage;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Exchange {
    pub ts: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub provider: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub upstream_model: String,
    /// The routing rule that picked the model (Anthropic ingress).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub route: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub routed_model: String,
    pub stream: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "ser_usage")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was changed for the upstream (`x-dx-adjusted`): quirks, dropped features.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub adjusted: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_gone: bool,
    /// Guardrail matches as `set:detector=count` (`x-dx-guardrails`); never values.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guardrails: String,
    /// The deployment that answered (`x-dx-deployment`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deployment: String,
    /// `from -> to (why)` when the request left its model group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    /// Upstream attempts, logged when there was more than one.
    #[serde(skip_serializing_if = "one_at_most")]
    pub attempts: u32,
    #[serde(skip)]
    pub principal: Principal,
    /// The principal is a key this instance remembered, not yet confirmed
    /// by its ledger for this request (see `keys::known`).
    #[serde(skip)]
    pub key_remembered: bool,
    #[serde(skip_serializing_if = "CacheStatus::is_off")]
    pub cache: CacheStatus,
    /// The tier that served a hit, when the store has two
    /// (`x-dx-cache-tier`: `local` or `global`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_tier: Option<&'static str>,
    /// The line is written when the stream ends, not when the handler returns.
    #[serde(skip)]
    pub deferred: bool,
    /// USD, from the reported usage and the deployment's prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(skip)]
    pub prices: Option<Arc<Prices>>,
    /// Spend attribution: the virtual key (its hash's first 16 digits), its
    /// user and team.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub team: String,
    /// The reservation [`super::admit`] made, until it is settled.
    #[serde(skip)]
    pub held: Option<Arc<Held>>,
    /// Set when a stream this exchange relays completed cleanly (the
    /// response cache stores only those).
    #[serde(skip)]
    pub clean_end: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// The instance's exporter, when `[[telemetry]]` sinks are configured.
    #[serde(skip)]
    pub telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    /// `from->to` (`x-dx-max-tokens-clamped`): the output bound (the
    /// client's, else the model's) a budget lowered to what it pays for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_tokens_clamped: String,
    /// That `to`: what the upstream is told.
    #[serde(skip)]
    pub output_bound: Option<u32>,
    /// What the rate and budget headers say.
    #[serde(skip)]
    pub quota: Option<Quota>,
    /// A stream's output guard counts, which its log line waits for.
    #[serde(skip)]
    pub output_counts: Option<Arc<crate::relays::output_guard::OutputCounts>>,
    /// A stream's time to its first content (held until it came), from `ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<u64>,
    /// The prompt and completion, when a telemetry sink exports them.
    #[serde(skip)]
    pub content: Option<Arc<crate::telemetry::content::Capture>>,
    /// Each attempt sent, for telemetry's child spans (kept only when sinks
    /// are configured).
    #[serde(skip)]
    pub tries: Vec<crate::telemetry::Try>,
    /// The attempt in flight at its deployment: a stream's settler takes it
    /// and holds it until the stream ends.
    #[serde(skip)]
    pub busy: Option<Arc<crate::router::Busy>>,
}

fn one_at_most(n: &u32) -> bool {
    *n <= 1
}

#[derive(Debug, Clone, Copy, Serialize)]
struct LoggedUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_write_tokens: u64,
    reasoning_tokens: u64,
}

fn ser_usage<S: serde::Serializer>(u: &Option<Usage>, s: S) -> Result<S::Ok, S::Error> {
    u.map(LoggedUsage::from).serialize(s)
}

impl From<Usage> for LoggedUsage {
    fn from(u: Usage) -> Self {
        LoggedUsage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_tokens,
            cache_write_tokens: u.cache_write_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }
}

impl Exchange {
    /// Who the request runs under, and the spend attribution that follows.
    pub fn set_principal(&mut self, principal: Principal) {
        if let Principal::Key(id) = &principal {
            self.key = crate::keys::charge::key_scope(&id.key)[2..].to_owned();
            self.user = id.key.user_id.clone().unwrap_or_default();
            self.team = id.key.team_id.clone().unwrap_or_default();
        }
        self.principal = principal;
    }

    /// Back to how the request arrived, under a new principal: the
    /// exchange runs again (see `pipeline::recheck`).
    pub fn restart(&mut self, principal: Principal) {
        *self = Exchange {
            ts: self.ts,
            method: std::mem::take(&mut self.method),
            path: std::mem::take(&mut self.path),
            telemetry: self.telemetry.take(),
            ..Exchange::default()
        };
        self.set_principal(principal);
    }

    pub fn new(ts: u64, method: &http::Method, path: &str) -> Self {
        Exchange {
            ts,
            method: method.to_string(),
            path: path.to_owned(),
            ..Exchange::default()
        }
    }

    /// An empty exchange for a stage's side effects nobody reads: built in
    /// one place, not once per ingress.
    #[inline(never)]
    pub fn scratch() -> Self {
        Exchange::default()
    }

    pub fn log_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_leaves_out_what_did_not_happen() {
        let mut ex = Exchange::new(7, &http::Method::POST, "/v1/chat/completions");
        ex.status = 200;
        ex.attempts = 1;
        let line = ex.log_line();
        assert_eq!(
            line,
            r#"{"ts":7,"method":"POST","path":"/v1/chat/completions","status":200,"stream":false,"latency_ms":0}"#
        );
        ex.attempts = 3;
        ex.cache = CacheStatus::Miss;
        let line = ex.log_line();
        assert!(
            line.contains(r#""attempts":3"#) && line.contains(r#""cache":"miss""#),
            "{line}"
        );
    }
}
