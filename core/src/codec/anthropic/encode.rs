//! The unified request as an Anthropic Messages body.
//!
//! Anthropic's rules that other formats do not have, handled here rather than
//! turned into errors: system text lives outside `messages`; turns strictly
//! alternate user/assistant starting with user; tool results are user turns
//! whose `tool_result` blocks come first; `max_tokens` is required; extended
//! thinking needs `max_tokens` above its budget and temperature 1; thinking
//! blocks are only accepted back with the signature the API gave them.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::limits::{default_max_tokens, max_output_tokens};
use super::wire::{
    Block, CacheControl, Content, Message, Metadata, Request, RequestTool, Source, ThinkingConfig,
    Tool, ToolChoice,
};
use crate::error::GatewayError;
use crate::unified::{self, ChatRequest, MediaSource, Part, Role, Thinking};

/// Thinking budgets for OpenAI-style `reasoning_effort`.
pub fn effort_budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" | "xhigh" | "max" => Some(16384),
        _ => None,
    }
}

/// The smallest thinking budget Anthropic accepts.
const MIN_BUDGET: u32 = 1024;
/// Anthropic's limit on `cache_control` breakpoints per request.
const MAX_BREAKPOINTS: usize = 4;

/// Where the body goes: Anthropic's API names the model in the body, Vertex AI in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Anthropic,
    Vertex,
}

pub struct Options<'a> {
    pub model: &'a str,
    pub target: Target,
    /// Add cache breakpoints (deployment setting `auto_cache`).
    pub auto_cache: bool,
}

/// The request as an Anthropic body.
pub fn render_request(req: &ChatRequest, opts: &Options<'_>) -> Result<Vec<u8>, GatewayError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        if matches!(m.role, Role::System | Role::Developer) {
            for part in &m.content {
                if let Part::Text {
                    text,
                    cache_control,
                } = part
                {
                    if !text.is_empty() {
                        system.push(text_block(text, cache_control.as_ref()));
                    }
                }
            }
            continue;
        }
        let role = if m.role == Role::Assistant {
            "assistant"
        } else {
            "user"
        };
        let mut blocks = Vec::with_capacity(m.content.len());
        for part in &m.content {
            if let Some(b) = block(part, i)? {
                blocks.push(b);
            }
        }
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.blocks.extend(blocks),
            _ => turns.push(Turn { role, blocks }),
        }
    }
    for turn in &mut turns {
        if turn.role == "user" {
            // Anthropic wants the tool results first in their user turn.
            turn.blocks
                .sort_by_key(|b| u8::from(b.kind.as_ref() != "tool_result"));
        }
    }
    if turns.first().is_none_or(|t| t.role != "user") {
        // Conversations must open with a user turn: a neutral placeholder
        // keeps system-only or assistant-first requests answerable.
        turns.insert(
            0,
            Turn {
                role: "user",
                blocks: vec![Block::text(".")],
            },
        );
    }
    if let Some(last) = turns.last_mut().filter(|t| t.role == "assistant") {
        // A final assistant turn is a prefill, which may not end in whitespace.
        if let Some(text) = last.blocks.last_mut().and_then(|b| b.text.as_mut()) {
            let trimmed = text.trim_end().len();
            if trimmed < text.len() {
                text.to_mut().truncate(trimmed);
            }
        }
    }
    if opts.auto_cache {
        place_breakpoints(&mut system, &mut turns, &req.tools);
    }

    let thinking = thinking_config(req);
    let (max_tokens, thinking) = token_budget(req, opts.model, thinking);
    let thinks = matches!(
        thinking,
        Some(Thinking::Enabled { .. } | Thinking::Adaptive)
    );

    let mut tools: Vec<RequestTool<'_>> = req
        .tools
        .iter()
        .map(|t| {
            RequestTool::Client(Tool {
                kind: None,
                name: Cow::Borrowed(&t.name),
                description: t.description.as_deref().map(Cow::Borrowed),
                input_schema: Some(t.parameters.as_deref().unwrap_or_else(|| empty_schema())),
                cache_control: t.cache_control.as_ref().map(cache_control),
            })
        })
        .collect();
    tools.extend(req.server_tools.iter().map(|t| RequestTool::Raw(&t.raw)));

    let body = Request {
        model: (opts.target == Target::Anthropic).then_some(opts.model),
        anthropic_version: (opts.target == Target::Vertex).then_some("vertex-2023-10-16"),
        max_tokens,
        messages: turns
            .into_iter()
            .map(|t| Message {
                role: Cow::Borrowed(t.role),
                content: Content::Blocks(t.blocks),
            })
            .collect(),
        system,
        metadata: req.user.as_deref().map(|u| Metadata {
            user_id: Some(Cow::Borrowed(u)),
        }),
        stop_sequences: req
            .stop
            .iter()
            .map(String::as_str)
            // Anthropic refuses stop sequences made only of whitespace.
            .filter(|s| !s.trim().is_empty())
            .collect(),
        stream: req.stream,
        temperature: match (thinks, req.temperature) {
            (true, Some(_)) => Some(1.0),
            (false, Some(t)) => Some(t.clamp(0.0, 1.0)),
            (_, None) => None,
        },
        top_p: req.top_p.filter(|p| !thinks || *p >= 0.95),
        top_k: req
            .top_k
            .or_else(|| extra_u32(req, "top_k"))
            .filter(|_| !thinks),
        tool_choice: if tools.is_empty() {
            None
        } else {
            tool_choice(req)
        },
        tools,
        thinking: thinking.map(|t| match t {
            Thinking::Enabled { budget_tokens } => ThinkingConfig {
                kind: Cow::Borrowed("enabled"),
                budget_tokens: Some(budget_tokens),
            },
            Thinking::Adaptive => ThinkingConfig {
                kind: Cow::Borrowed("adaptive"),
                budget_tokens: None,
            },
            Thinking::Disabled => ThinkingConfig {
                kind: Cow::Borrowed("disabled"),
                budget_tokens: None,
            },
        }),
    };
    serde_json::to_vec(&body).map_err(|e| {
        GatewayError::invalid_request(format!("The request cannot be sent to Anthropic: {e}."))
    })
}

struct Turn<'a> {
    role: &'static str,
    blocks: Vec<Block<'a>>,
}

fn empty_schema() -> &'static RawValue {
    json_literal(r#"{"type":"object","properties":{}}"#)
}

/// A JSON literal from this file as raw JSON (parsing a valid literal cannot fail).
fn json_literal(json: &'static str) -> &'static RawValue {
    serde_json::from_str(json).unwrap_or(RawValue::NULL)
}

fn cache_control(c: &unified::CacheControl) -> CacheControl<'_> {
    CacheControl {
        kind: Cow::Borrowed(&c.kind),
        ttl: c.ttl.as_deref().map(Cow::Borrowed),
    }
}

fn text_block<'a>(text: &'a str, cc: Option<&'a unified::CacheControl>) -> Block<'a> {
    Block {
        cache_control: cc.map(cache_control),
        ..Block::text(text)
    }
}

fn source(s: &MediaSource) -> Source<'_> {
    match s {
        MediaSource::Url(url) => Source {
            kind: Cow::Borrowed("url"),
            url: Some(Cow::Borrowed(url)),
            ..Source::default()
        },
        MediaSource::Base64 { media_type, data } => Source {
            kind: Cow::Borrowed("base64"),
            media_type: Some(Cow::Borrowed(media_type)),
            data: Some(Cow::Borrowed(data)),
            ..Source::default()
        },
    }
}

/// One unified part as a block; `None` for parts Anthropic has no use for.
fn block(part: &Part, message: usize) -> Result<Option<Block<'_>>, GatewayError> {
    Ok(Some(match part {
        Part::Text {
            text,
            cache_control,
        } => {
            if text.is_empty() {
                // Anthropic rejects empty text blocks.
                return Ok(None);
            }
            text_block(text, cache_control.as_ref())
        }
        Part::Image {
            source: s,
            cache_control: cc,
            ..
        } => Block {
            kind: Cow::Borrowed("image"),
            source: Some(source(s)),
            cache_control: cc.as_ref().map(cache_control),
            ..Block::default()
        },
        Part::Document {
            source: s,
            name,
            cache_control: cc,
        } => Block {
            kind: Cow::Borrowed("document"),
            source: Some(source(s)),
            title: name.as_deref().map(Cow::Borrowed),
            cache_control: cc.as_ref().map(cache_control),
            ..Block::default()
        },
        Part::Audio { .. } => {
            return Err(GatewayError::invalid_request(format!(
                "messages[{message}]: Anthropic models do not accept audio input."
            ))
            .with_param(&format!("messages[{message}].content")))
        }
        Part::ToolUse {
            id,
            name,
            arguments,
            cache_control: cc,
        } => Block {
            kind: Cow::Borrowed("tool_use"),
            id: Some(Cow::Borrowed(id)),
            name: Some(Cow::Borrowed(name)),
            input: Some(tool_input(arguments)),
            cache_control: cc.as_ref().map(cache_control),
            ..Block::default()
        },
        Part::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control: cc,
        } => {
            let mut inner = Vec::with_capacity(content.len());
            for p in content {
                if let Some(b) = block(p, message)? {
                    inner.push(b);
                }
            }
            let content = match inner.as_slice() {
                [] => None,
                [only] if only.kind == "text" && only.cache_control.is_none() => {
                    only.text.clone().map(Content::Text)
                }
                _ => Some(Content::Blocks(inner)),
            };
            Block {
                kind: Cow::Borrowed("tool_result"),
                tool_use_id: Some(Cow::Borrowed(tool_use_id)),
                content,
                is_error: is_error.then_some(true),
                cache_control: cc.as_ref().map(cache_control),
                ..Block::default()
            }
        }
        Part::Thinking { text, signature } => match signature {
            // Unsigned reasoning (from another provider) cannot be given back
            // to Claude: the API verifies the signature.
            None => return Ok(None),
            Some(sig) => Block {
                kind: Cow::Borrowed("thinking"),
                thinking: Some(Cow::Borrowed(text)),
                signature: Some(Cow::Borrowed(sig)),
                ..Block::default()
            },
        },
        Part::RedactedThinking { data } => Block {
            kind: Cow::Borrowed("redacted_thinking"),
            data: Some(Cow::Borrowed(data)),
            ..Block::default()
        },
    }))
}

/// Tool arguments as the JSON object Anthropic wants. Models elsewhere
/// sometimes wrote arguments that are not an object; such a turn is still
/// sent (with `{}`) rather than failing the whole conversation.
fn tool_input(arguments: &str) -> &RawValue {
    match serde_json::from_str::<&RawValue>(arguments) {
        Ok(raw) if raw.get().trim_start().starts_with('{') => raw,
        _ => json_literal("{}"),
    }
}

fn tool_choice(req: &ChatRequest) -> Option<ToolChoice<'_>> {
    let no_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let (kind, name) = match &req.tool_choice {
        None if no_parallel.is_some() => ("auto", None),
        None => return None,
        Some(unified::ToolChoice::Auto) => ("auto", None),
        Some(unified::ToolChoice::None) => {
            return Some(ToolChoice {
                kind: Cow::Borrowed("none"),
                name: None,
                disable_parallel_tool_use: None,
            })
        }
        Some(unified::ToolChoice::Required) => ("any", None),
        Some(unified::ToolChoice::Named(n)) => ("tool", Some(Cow::Borrowed(n.as_str()))),
    };
    Some(ToolChoice {
        kind: Cow::Borrowed(kind),
        name,
        disable_parallel_tool_use: no_parallel,
    })
}

/// Explicit `thinking` wins; an Anthropic-style `thinking` object sent by an
/// OpenAI client (extra body) next; `reasoning_effort` last.
fn thinking_config(req: &ChatRequest) -> Option<Thinking> {
    if req.thinking.is_some() {
        return req.thinking;
    }
    if let Some((_, raw)) = req.extra.iter().find(|(k, _)| k == "thinking") {
        if let Ok(t) = serde_json::from_str::<ThinkingConfig<'_>>(raw.get()) {
            return match (t.kind.as_ref(), t.budget_tokens) {
                ("enabled", Some(b)) => Some(Thinking::Enabled { budget_tokens: b }),
                ("adaptive", _) => Some(Thinking::Adaptive),
                ("disabled", _) => Some(Thinking::Disabled),
                _ => None,
            };
        }
    }
    let budget = effort_budget(req.reasoning_effort.as_deref()?)?;
    Some(Thinking::Enabled {
        budget_tokens: budget,
    })
}

/// `max_tokens` to send, and the thinking budget adjusted to fit under it.
fn token_budget(
    req: &ChatRequest,
    model: &str,
    thinking: Option<Thinking>,
) -> (u32, Option<Thinking>) {
    let limit = max_output_tokens(model);
    let clamp = |n: u32| limit.map_or(n, |l| n.min(l)).max(1);
    let Some(Thinking::Enabled { budget_tokens }) = thinking else {
        let max = req.max_tokens.unwrap_or_else(|| default_max_tokens(model));
        return (clamp(max), thinking);
    };
    let budget = budget_tokens.max(MIN_BUDGET);
    // The client's max_tokens bounds the visible answer; the thinking budget
    // comes on top of it.
    let max = match req.max_tokens {
        Some(m) if m <= budget => budget.saturating_add(m),
        Some(m) => m,
        None => {
            let d = default_max_tokens(model);
            if d > budget {
                d
            } else {
                budget.saturating_add(4096)
            }
        }
    };
    let max = clamp(max);
    if max <= MIN_BUDGET {
        // No room to think at all under this model's limit.
        return (max, None);
    }
    let budget = budget.min(max - 1);
    (
        max,
        Some(Thinking::Enabled {
            budget_tokens: budget,
        }),
    )
}

fn extra_u32(req: &ChatRequest, name: &str) -> Option<u32> {
    let (_, raw) = req.extra.iter().find(|(k, _)| k == name)?;
    serde_json::from_str(raw.get()).ok()
}

/// `auto_cache`: breakpoints on the last system block and on the last block
/// of the last two user turns, within Anthropic's limit of four.
fn place_breakpoints(system: &mut [Block<'_>], turns: &mut [Turn<'_>], tools: &[unified::Tool]) {
    let marked = |b: &Block<'_>| {
        let nested = match &b.content {
            Some(Content::Blocks(inner)) => {
                inner.iter().filter(|b| b.cache_control.is_some()).count()
            }
            _ => 0,
        };
        usize::from(b.cache_control.is_some()) + nested
    };
    // The client's own breakpoints count against the limit wherever they are.
    let mut used = system.iter().map(marked).sum::<usize>()
        + turns
            .iter()
            .flat_map(|t| &t.blocks)
            .map(marked)
            .sum::<usize>()
        + tools.iter().filter(|t| t.cache_control.is_some()).count();
    let mut mark = |b: &mut Block<'_>| {
        if b.cache_control.is_none() && used < MAX_BREAKPOINTS && cacheable(b) {
            b.cache_control = Some(CacheControl::ephemeral());
            used += 1;
        }
    };
    if let Some(b) = system.last_mut() {
        mark(b);
    }
    for turn in turns.iter_mut().rev().filter(|t| t.role == "user").take(2) {
        if let Some(b) = turn.blocks.last_mut() {
            mark(b);
        }
    }
}

fn cacheable(b: &Block<'_>) -> bool {
    !matches!(b.kind.as_ref(), "thinking" | "redacted_thinking")
}
