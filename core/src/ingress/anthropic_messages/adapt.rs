//! What an Anthropic request becomes for a target that is not Anthropic:
//! features it cannot honour are dropped and named in `x-dx-adjusted`
//! (never a 400), thinking becomes `reasoning_effort` where the model
//! reasons, and `max_tokens` is lowered to what the model can produce.

use crate::codec::anthropic::limits;
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, Thinking};

/// What the gateway changed in a request, for `x-dx-adjusted` and the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Adjustments(pub Vec<String>);

impl Adjustments {
    pub fn push(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One header value: entries joined by `; `.
    pub fn header(&self) -> String {
        self.0.join("; ")
    }
}

/// The most output tokens the deployment's model produces, when known: the
/// config entry's `max_output_tokens`, else the Claude table.
pub fn output_limit(d: &Deployment) -> Option<u32> {
    d.params.max_output_tokens.or_else(|| match d.codec() {
        Codec::Anthropic | Codec::AnthropicVertex => limits::max_output_tokens(&d.upstream_model),
        _ => None,
    })
}

/// `(asked, allowed)` when the request asks for more output than the
/// deployment's model can give.
pub fn clamp_max_tokens(asked: Option<u32>, d: &Deployment) -> Option<(u32, u32)> {
    let asked = asked?;
    let limit = output_limit(d)?;
    (asked > limit).then_some((asked, limit))
}

/// Prepares the unified request for `d`'s codec, recording what changed.
pub fn adapt_for(req: &mut ChatRequest, d: &Deployment, adj: &mut Adjustments) {
    let codec = d.codec();
    let anthropic_family = matches!(codec, Codec::Anthropic | Codec::AnthropicVertex);
    let openai_like = matches!(codec, Codec::OpenAiChat | Codec::Mock);
    if anthropic_family {
        // The codec builds the body from unified fields: Anthropic-only
        // fields the client sent (context_management, …) are not among them.
        for (name, _) in req.extra.drain(..) {
            adj.push(format!("dropped {name}"));
        }
        return;
    }
    if !openai_like {
        // Other codecs read the unified request themselves.
        return;
    }
    if !req.anthropic_beta.is_empty() {
        adj.push(format!(
            "dropped anthropic-beta {}",
            req.anthropic_beta.join(",")
        ));
        req.anthropic_beta.clear();
    }
    if !req.server_tools.is_empty() {
        let names: Vec<&str> = req.server_tools.iter().map(|t| t.name.as_str()).collect();
        adj.push(format!("dropped server tools {}", names.join(",")));
        req.server_tools.clear();
    }
    for (name, _) in req.extra.drain(..) {
        adj.push(format!("dropped {name}"));
    }
    if req.top_k.take().is_some() {
        adj.push("dropped top_k");
    }
    let effort = match (req.thinking.take(), req.reasoning_effort.take()) {
        (Some(Thinking::Disabled), _) | (None, None) => None,
        (_, Some(effort)) => Some(openai_effort(&effort).to_owned()),
        (Some(Thinking::Enabled { budget_tokens }), None) => {
            Some(budget_effort(budget_tokens).into())
        }
        (Some(Thinking::Adaptive), None) => Some("medium".into()),
    };
    if let Some(effort) = effort {
        if codec == Codec::OpenAiChat && reasons(&d.upstream_model) {
            adj.push(format!("thinking as reasoning_effort={effort}"));
            req.reasoning_effort = Some(effort);
        } else {
            adj.push("dropped thinking");
        }
    }
}

/// Anthropic's effort levels in OpenAI's vocabulary.
fn openai_effort(effort: &str) -> &str {
    match effort {
        "low" | "minimal" => "low",
        "medium" => "medium",
        _ => "high",
    }
}

fn budget_effort(budget: u32) -> &'static str {
    match budget {
        0..=2048 => "low",
        2049..=8192 => "medium",
        _ => "high",
    }
}

/// Whether an OpenAI-compatible model takes `reasoning_effort` (others refuse
/// the parameter): the reasoning families by name.
pub fn reasons(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    let name = m.rsplit('/').next().unwrap_or(&m);
    ["o1", "o3", "o4", "gpt-5", "gpt-oss", "codex"]
        .iter()
        .any(|p| name.starts_with(p))
        || [
            "reasoner",
            "deepseek-r1",
            "qwq",
            "-thinking",
            "grok-3-mini",
            "grok-4",
            "magistral",
            "gemini-2.5",
            "gemini-3",
        ]
        .iter()
        .any(|p| name.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_families() {
        for m in [
            "o3-mini",
            "o4-mini-2025",
            "openai/gpt-5-mini",
            "deepseek-reasoner",
            "qwq-32b",
            "gpt-oss-120b",
        ] {
            assert!(reasons(m), "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-4.1-nano",
            "llama-3.1-8b",
            "claude-sonnet-4-5",
            "mixtral-8x7b",
        ] {
            assert!(!reasons(m), "{m}");
        }
    }

    #[test]
    fn efforts() {
        assert_eq!(openai_effort("xhigh"), "high");
        assert_eq!(openai_effort("max"), "high");
        assert_eq!(openai_effort("low"), "low");
        assert_eq!(budget_effort(1024), "low");
        assert_eq!(budget_effort(4096), "medium");
        assert_eq!(budget_effort(31999), "high");
    }
}
