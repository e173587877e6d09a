//! From a parsed Messages request to what goes upstream: the routing
//! decision, then either the rewritten same-format body or the unified
//! request adapted to another codec. Pure functions, so every recorded
//! Claude Code request can be replayed through them in tests.

use std::borrow::Cow;

use super::{adapt_for, Adjustments, MessagesEnvelope, Rewrite};
use crate::codec::anthropic::{Target, VERTEX_VERSION};
use crate::error::GatewayError;
use crate::ingress::anthropic_messages::estimate_tokens;
use crate::resolve::Deployment;
use crate::task_routing::{self, find_tag, RouterConfig, Rule, Signals};
use crate::unified::{ChatRequest, Part, Role, Thinking};

/// The fields Anthropic's count_tokens endpoint takes.
pub const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "output_config",
    "output_format",
];

/// The routing decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The name to resolve against the config.
    pub model: String,
    pub rule: Rule,
    /// The system prompt carries the subagent tag, which must be cut out.
    pub strip_tag: bool,
}

/// Applies the `[task_routing]` rules to a request. `is_configured` tells whether
/// a name is in `model_list`.
pub fn route(
    env: &MessagesEnvelope<'_>,
    cfg: &RouterConfig,
    is_configured: impl Fn(&str) -> bool,
) -> Result<Route, GatewayError> {
    let system = env.system_blocks()?;
    let tag = system.iter().find_map(|b| {
        let (name, _) = find_tag(b.text.as_deref()?, &cfg.subagent_tag)?;
        Some(name.to_owned())
    });
    let signals = Signals {
        requested: &env.model,
        web_search: env.has_web_search(),
        subagent: tag.as_deref(),
        thinking: matches!(env.thinking, Some(Thinking::Enabled { .. })),
    };
    let (model, rule) = task_routing::choose(cfg, &signals, is_configured, || estimate_tokens(env));
    Ok(Route {
        model,
        rule,
        strip_tag: tag.is_some(),
    })
}

fn strip_tag(text: &str, tag: &str) -> String {
    let mut out = text.to_owned();
    while let Some((_, range)) = find_tag(&out, tag) {
        out.replace_range(range, "");
    }
    out
}

/// `system` with the subagent tag cut out, as raw JSON in the client's form.
fn system_without_tag(env: &MessagesEnvelope<'_>, tag: &str) -> Result<Vec<u8>, GatewayError> {
    let raw = env.raw_field("system").map_or("null", |r| r.get());
    if raw.starts_with('"') {
        let text: String = serde_json::from_str(raw).map_err(GatewayError::invalid_json)?;
        return Ok(serde_json::to_vec(&strip_tag(&text, tag)).unwrap_or_default());
    }
    let mut blocks = env.system_blocks()?;
    for b in &mut blocks {
        if let Some(text) = b.text.as_mut() {
            if find_tag(text, tag).is_some() {
                *text = Cow::Owned(strip_tag(text, tag));
            }
        }
    }
    Ok(serde_json::to_vec(&blocks).unwrap_or_default())
}

/// The body for an Anthropic-format deployment: the client's bytes with the
/// model swapped (dropped for Vertex AI, which also wants its
/// `anthropic_version`), `max_tokens` lowered to `clamped` (and a thinking
/// budget that no longer fits under it), the subagent tag cut out.
/// `keep_only` narrows the fields (count_tokens).
pub fn passthrough_body(
    env: &MessagesEnvelope<'_>,
    route: &Route,
    d: &Deployment,
    target: Target,
    clamped: Option<(u32, u32)>,
    cfg: &RouterConfig,
    keep_only: Option<&[&str]>,
) -> Result<Vec<u8>, GatewayError> {
    let mut rw = Rewrite {
        model: (target == Target::Anthropic).then_some(d.upstream_model.as_str()),
        keep_only,
        ..Rewrite::default()
    };
    if let Some((_, to)) = clamped {
        rw.replace.push(("max_tokens", to.to_string().into_bytes()));
        if let Some(Thinking::Enabled { budget_tokens }) = env.thinking {
            if budget_tokens >= to {
                let budget = to.saturating_sub(1).max(1024);
                rw.replace.push((
                    "thinking",
                    format!(r#"{{"type":"enabled","budget_tokens":{budget}}}"#).into_bytes(),
                ));
            }
        }
    }
    if route.strip_tag {
        rw.replace
            .push(("system", system_without_tag(env, &cfg.subagent_tag)?));
    }
    if target == Target::Vertex {
        rw.append.push((
            "anthropic_version",
            format!("\"{VERTEX_VERSION}\"").into_bytes(),
        ));
    }
    Ok(env.render_passthrough(&rw))
}

/// The unified request for any other codec, adapted to it, and what changed.
pub fn translated_request(
    env: &MessagesEnvelope<'_>,
    route: &Route,
    d: &Deployment,
    betas: &[String],
    clamped: Option<(u32, u32)>,
    cfg: &RouterConfig,
) -> Result<(ChatRequest, Adjustments), GatewayError> {
    let mut req = env.to_unified(betas)?;
    if route.strip_tag {
        for m in req.messages.iter_mut().filter(|m| m.role == Role::System) {
            for p in &mut m.content {
                if let Part::Text { text, .. } = p {
                    if find_tag(text, &cfg.subagent_tag).is_some() {
                        *text = strip_tag(text, &cfg.subagent_tag);
                    }
                }
            }
        }
    }
    if let Some((_, to)) = clamped {
        req.max_tokens = Some(to);
    }
    let mut adjusted = Adjustments::default();
    if d.codec() != crate::providers::Codec::Mock {
        adapt_for(&mut req, d, &mut adjusted);
    }
    Ok((req, adjusted))
}
