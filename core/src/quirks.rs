//! Provider quirks, normalized in one stage driven by one table.
//!
//! Upstreams refuse requests the client's SDK considers fine: OpenAI's
//! reasoning models take no `temperature` and want `max_completion_tokens`,
//! Anthropic's extended thinking needs `temperature: 1`, the Responses API
//! has no `stop` or `n`. Each such rule is a row of [`RULES`]; [`apply`]
//! runs the rows that match a deployment against either form of a request:
//! the raw-field envelope a same-format upstream receives almost untouched,
//! or the unified request every other codec encodes. Every change is
//! returned as an [`Adjustment`] for the `x-dx-adjusted` header and the log.
//!
//! With `drop_params` off, a rule that would lose something the client sent
//! (a dropped field, an overridden value) refuses the request instead.

use std::fmt;

use serde_json::value::RawValue;

use crate::error::GatewayError;
use crate::ingress::openai_chat::ChatEnvelope;
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::unified::{ChatRequest, Role};

/// A condition on the request, checked after the rule's deployment matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// The action's field is present (and not `null`).
    Present,
    /// The action's field is present with a value other than this default.
    NotDefault(Scalar),
    /// The request turns on extended thinking / reasoning.
    ThinkingEnabled,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Drop(&'static str),
    Rename(&'static str, &'static str),
    /// Sets a numeric field that is present with another value.
    Set(&'static str, f64),
    /// Turns system and developer messages into user messages.
    SystemToUser,
}

/// One quirk: which deployments it concerns, when, and what it does.
#[derive(Debug)]
pub struct Rule {
    /// Provider ids; empty matches any provider.
    pub providers: &'static [&'static str],
    /// Only for deployments speaking this wire format.
    pub codec: Option<Codec>,
    /// Patterns of the upstream model id (`*` matches any run of characters).
    pub models: &'static [&'static str],
    /// Patterns excluded from `models`.
    pub except: &'static [&'static str],
    pub when: When,
    pub action: Action,
}

/// A JSON scalar a condition compares against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Num(f64),
    Bool(bool),
}

/// OpenAI's reasoning models: sampling parameters fixed at their defaults.
const REASONING: &[&str] = &["o1*", "o3*", "o4-mini*", "codex-mini*", "gpt-5*"];
/// Members of those families that are plain chat models.
const NOT_REASONING: &[&str] = &["gpt-5-chat*"];
/// Providers serving OpenAI's own models.
const OPENAI: &[&str] = crate::providers::OPENAI_FAMILY;

// Model-name rules resolution needs too; they live below both.
use crate::providers::glob;
/// Providers serving Anthropic's models in Anthropic's format.
const ANTHROPIC: &[&str] = &["anthropic"];
const ANY: &[&str] = &["*"];
const NONE: &[&str] = &[];

const fn reasoning(when: When, action: Action) -> Rule {
    Rule {
        providers: OPENAI,
        codec: None,
        models: REASONING,
        except: NOT_REASONING,
        when,
        action,
    }
}

const fn responses(when: When, action: Action) -> Rule {
    Rule {
        providers: NONE,
        codec: Some(Codec::OpenAiResponses),
        models: ANY,
        except: NONE,
        when,
        action,
    }
}

const fn anthropic_thinking(action: Action) -> Rule {
    Rule {
        providers: ANTHROPIC,
        codec: None,
        models: ANY,
        except: NONE,
        when: When::ThinkingEnabled,
        action,
    }
}

use Action::{Drop, Rename, Set, SystemToUser};
use Scalar::{Bool, Num};
use When::{NotDefault, Present, ThinkingEnabled};

pub static RULES: &[Rule] = &[
    // OpenAI reasoning models accept only the default sampling parameters.
    reasoning(NotDefault(Num(1.0)), Drop("temperature")),
    reasoning(NotDefault(Num(1.0)), Drop("top_p")),
    reasoning(NotDefault(Num(0.0)), Drop("presence_penalty")),
    reasoning(NotDefault(Num(0.0)), Drop("frequency_penalty")),
    reasoning(NotDefault(Bool(false)), Drop("logprobs")),
    reasoning(Present, Drop("top_logprobs")),
    reasoning(Present, Drop("logit_bias")),
    // ... and refuse the old name of the output limit on Chat Completions.
    Rule {
        codec: Some(Codec::OpenAiChat),
        ..reasoning(Present, Rename("max_tokens", "max_completion_tokens"))
    },
    // The first o1 models know no system or developer turns.
    Rule {
        models: &["o1-mini*", "o1-preview*"],
        except: NONE,
        ..reasoning(Present, SystemToUser)
    },
    // Chat Completions parameters the Responses API has no equivalent for.
    responses(NotDefault(Num(1.0)), Drop("n")),
    responses(Present, Drop("stop")),
    responses(Present, Drop("seed")),
    responses(NotDefault(Num(0.0)), Drop("presence_penalty")),
    responses(NotDefault(Num(0.0)), Drop("frequency_penalty")),
    responses(Present, Drop("logit_bias")),
    responses(NotDefault(Bool(false)), Drop("logprobs")),
    responses(Present, Drop("top_logprobs")),
    // Anthropic's extended thinking runs at temperature 1, without nucleus
    // or top-k sampling.
    anthropic_thinking(Set("temperature", 1.0)),
    anthropic_thinking(Drop("top_p")),
    anthropic_thinking(Drop("top_k")),
];

/// One change made to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Adjustment {
    Dropped(&'static str),
    Renamed(&'static str, &'static str),
    Set(&'static str, f64),
    SystemToUser,
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Adjustment::Dropped(field) => f.write_str(field),
            Adjustment::Renamed(from, to) => write!(f, "{from}->{to}"),
            Adjustment::Set(field, v) => write!(f, "{field}={v}"),
            Adjustment::SystemToUser => f.write_str("system->user"),
        }
    }
}

/// Everything the stage changed, in rule order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjustments(pub Vec<Adjustment>);

/// `temperature,max_tokens->max_completion_tokens`: the header value.
impl fmt::Display for Adjustments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// A request in either form, as the rules see it.
pub trait Request {
    /// The field's value; `None` when absent or `null`. Non-scalars are
    /// reported as present with no comparable value.
    fn value(&self, field: &str) -> Option<Option<Scalar>>;
    fn remove(&mut self, field: &str);
    fn rename(&mut self, from: &str, to: &'static str);
    fn set_number(&mut self, field: &'static str, v: f64);
    fn thinking_enabled(&self) -> bool;
    /// System/developer turns become user turns; whether any did.
    fn system_to_user(&mut self) -> Result<bool, GatewayError>;
}

/// Runs every rule matching `deployment` over `req`.
pub fn apply(
    req: &mut impl Request,
    deployment: &Deployment,
    drop_params: bool,
) -> Result<Adjustments, GatewayError> {
    let mut done = Adjustments::default();
    for rule in RULES.iter().filter(|r| applies_to(r, deployment)) {
        if rule.when == ThinkingEnabled && !req.thinking_enabled() {
            continue;
        }
        let field = match rule.action {
            Drop(f) | Rename(f, _) | Set(f, _) => Some(f),
            SystemToUser => None,
        };
        let value = field.and_then(|f| req.value(f));
        if field.is_some() && value.is_none() {
            continue;
        }
        if let (NotDefault(default), Some(Some(v))) = (rule.when, value) {
            if same(v, default) {
                continue;
            }
        }
        match rule.action {
            Drop(f) => {
                if !drop_params {
                    return Err(unsupported(f, deployment, "is not supported"));
                }
                req.remove(f);
                done.0.push(Adjustment::Dropped(f));
            }
            Rename(from, to) => {
                req.rename(from, to);
                done.0.push(Adjustment::Renamed(from, to));
            }
            Set(f, v) => {
                if matches!(value, Some(Some(Num(n))) if n == v) {
                    continue;
                }
                if !drop_params {
                    return Err(unsupported(f, deployment, &format!("must be {v}")));
                }
                req.set_number(f, v);
                done.0.push(Adjustment::Set(f, v));
            }
            SystemToUser => {
                if req.system_to_user()? {
                    done.0.push(Adjustment::SystemToUser);
                }
            }
        }
    }
    Ok(done)
}

fn applies_to(rule: &Rule, d: &Deployment) -> bool {
    (rule.providers.is_empty() || rule.providers.contains(&d.provider.id))
        && rule.codec.is_none_or(|c| c == d.codec())
        && rule.models.iter().any(|p| glob(p, &d.upstream_model))
        && !rule.except.iter().any(|p| glob(p, &d.upstream_model))
}

fn same(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Num(x), Num(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        _ => false,
    }
}

fn unsupported(field: &str, d: &Deployment, what: &str) -> GatewayError {
    GatewayError::invalid_request(format!(
        "Unsupported parameter: `{field}` {what} with model `{}` (provider `{}`). \
         Remove it, or set drop_params = true to let the gateway drop it.",
        d.upstream_model, d.provider.id
    ))
    .with_param(field)
    .with_code("unsupported_parameter")
}

// ---- the unified request --------------------------------------------------

impl Request for ChatRequest {
    fn value(&self, field: &str) -> Option<Option<Scalar>> {
        let num = |v: Option<f64>| v.map(|n| Some(Num(n)));
        match field {
            "temperature" => num(self.temperature),
            "top_p" => num(self.top_p),
            "n" => num(self.n.map(f64::from)),
            "max_tokens" => num(self.max_tokens.map(f64::from)),
            "top_logprobs" => num(self.top_logprobs.map(f64::from)),
            "seed" => self.seed.map(|_| None),
            "logprobs" => self.logprobs.map(|b| Some(Bool(b))),
            "stop" => (!self.stop.is_empty()).then_some(None),
            "user" => self.user.as_ref().map(|_| None),
            _ => self
                .extra
                .iter()
                .find(|(k, _)| k == field)
                .and_then(|(_, v)| raw_scalar(v)),
        }
    }

    fn remove(&mut self, field: &str) {
        match field {
            "temperature" => self.temperature = None,
            "top_p" => self.top_p = None,
            "n" => self.n = None,
            "max_tokens" => self.max_tokens = None,
            "top_logprobs" => self.top_logprobs = None,
            "seed" => self.seed = None,
            "logprobs" => self.logprobs = None,
            "stop" => self.stop.clear(),
            "user" => self.user = None,
            _ => self.extra.retain(|(k, _)| k != field),
        }
    }

    fn rename(&mut self, from: &str, to: &'static str) {
        if (from, to) == ("max_tokens", "max_completion_tokens") {
            // One limit in the unified request; only its wire name changes.
            self.use_max_completion_tokens = true;
        } else if let Some((k, _)) = self.extra.iter_mut().find(|(k, _)| k == from) {
            *k = to.to_owned();
        }
    }

    fn set_number(&mut self, field: &'static str, v: f64) {
        match field {
            "temperature" => self.temperature = Some(v),
            "top_p" => self.top_p = Some(v),
            _ => {
                if let Some(raw) = number(v) {
                    self.extra.retain(|(k, _)| k != field);
                    self.extra.push((field.to_owned(), raw));
                }
            }
        }
    }

    fn thinking_enabled(&self) -> bool {
        reasoning_on(self.reasoning_effort.as_deref())
            || self
                .extra
                .iter()
                .find(|(k, _)| k == "thinking")
                .is_some_and(|(_, v)| thinking_on(v))
    }

    fn system_to_user(&mut self) -> Result<bool, GatewayError> {
        let mut any = false;
        for m in &mut self.messages {
            if matches!(m.role, Role::System | Role::Developer) {
                m.role = Role::User;
                any = true;
            }
        }
        Ok(any)
    }
}

// ---- the raw-field envelope ----------------------------------------------

impl Request for ChatEnvelope<'_> {
    fn value(&self, field: &str) -> Option<Option<Scalar>> {
        self.raw_field(field).and_then(raw_scalar)
    }

    fn remove(&mut self, field: &str) {
        self.remove_field(field);
    }

    fn rename(&mut self, from: &str, to: &'static str) {
        self.rename_field(from, to);
    }

    fn set_number(&mut self, field: &'static str, v: f64) {
        if let Some(raw) = number(v) {
            self.set_field(field, raw);
        }
    }

    fn thinking_enabled(&self) -> bool {
        let effort = self
            .raw_field("reasoning_effort")
            .and_then(|v| serde_json::from_str::<&str>(v.get()).ok());
        reasoning_on(effort) || self.raw_field("thinking").is_some_and(thinking_on)
    }

    fn system_to_user(&mut self) -> Result<bool, GatewayError> {
        Ok(self.rewrite_roles(&["system", "developer"], "user")? > 0)
    }
}

/// `Some(None)` for a present non-scalar; `None` for `null`.
fn raw_scalar(v: &RawValue) -> Option<Option<Scalar>> {
    let text = v.get().trim();
    match text.as_bytes().first() {
        None | Some(b'n') => None,
        Some(b't') => Some(Some(Bool(true))),
        Some(b'f') => Some(Some(Bool(false))),
        Some(b'-' | b'0'..=b'9') => Some(text.parse().ok().map(Num)),
        Some(_) => Some(None),
    }
}

fn number(v: f64) -> Option<Box<RawValue>> {
    RawValue::from_string(serde_json::Number::from_f64(v)?.to_string()).ok()
}

fn reasoning_on(effort: Option<&str>) -> bool {
    effort.is_some_and(|e| !matches!(e, "none" | "disabled"))
}

/// Anthropic's `thinking: {"type": "enabled", ...}` (or `adaptive`).
fn thinking_on(v: &RawValue) -> bool {
    #[derive(serde::Deserialize)]
    struct Thinking<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Thinking>(v.get())
        .ok()
        .and_then(|t| t.kind)
        .is_some_and(|k| k != "disabled")
}

#[cfg(test)]
mod tests;
