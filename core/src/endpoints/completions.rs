//! `POST /v1/completions`: OpenAI's legacy text completions as an
//! [`Ingress`], so they run the one pipeline (keys, budgets, routing,
//! guardrails, cache, spend). A deployment that serves `/completions`
//! itself gets the client's body with the model swapped: an OpenAI-format
//! provider whose model the catalog lists as a completion model
//! (`gpt-3.5-turbo-instruct`, `davinci-002`, …) or a local server (vLLM,
//! llama.cpp, Ollama, …), which completes raw prompts for any model. Every
//! other deployment is served through chat: the prompt becomes one user
//! turn, and the answer and its stream come back as `text_completion`s.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::catalog::{Catalog, Mode, Prices};
use crate::codec::openai_chat::{self, usage_to_wire};
use crate::codec::request::{post_json, Auth};
use crate::config::Config;
use crate::cost::{completion_cost, format_cost, TokenUsage};
use crate::error::GatewayError;
use crate::http::GatewayResponse;
use crate::ingress::openai_chat::{
    fields_json, raw_number, render_error_event, write_json_str, Fields, DONE_EVENT,
};
use crate::model_meta::ModelMeta;
use crate::pipeline::{Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::providers::Codec;
use crate::quirks;
use crate::relays::openai_relay::relay;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone, Renderer};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Message, Part, Role, Usage};

/// Servers that complete raw prompts at `/v1/completions` for any model.
const LOCAL_SERVERS: [&str; 7] = [
    "openai_compatible",
    "vllm",
    "llamacpp",
    "llamafile",
    "lmstudio",
    "localai",
    "ollama",
];

/// Fields a chat model has no counterpart for.
const COMPLETION_ONLY: [&str; 4] = ["suffix", "echo", "logprobs", "best_of"];

/// Carries the request's catalog: whether a model completes prompts
/// itself is the catalog's to say.
pub struct OpenAiCompletions {
    pub catalog: &'static Catalog,
}

pub struct CompletionsBody<'b> {
    fields: Vec<(Cow<'b, str>, &'b RawValue)>,
    model: String,
    /// The prompt, when it is one text (chat can take nothing else).
    prompt: Option<String>,
    stream: bool,
    include_usage: bool,
}

impl CompletionsBody<'_> {
    fn raw(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.get())
            .filter(|v| *v != "null")
    }

    fn typed<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, GatewayError> {
        self.raw(name)
            .map(|v| serde_json::from_str(v).map_err(|e| invalid(&format!("`{name}`: {e}"), name)))
            .transpose()
    }
}

fn invalid(message: &str, param: &str) -> GatewayError {
    GatewayError::invalid_request(message.to_owned()).with_param(param)
}

/// Whether `d` completes prompts itself.
fn serves_completions(catalog: &'static Catalog, d: &Deployment) -> bool {
    d.passthrough
        && d.codec() == Codec::OpenAiChat
        && (LOCAL_SERVERS.contains(&d.provider.id)
            || catalog
                .lookup_gateway(d.provider.id, &d.upstream_model)
                .is_some_and(|f| f.info.mode == Mode::Completion))
}

impl Ingress for OpenAiCompletions {
    type Parsed<'b> = CompletionsBody<'b>;
    type Renderer = TextRenderer;
    const ID_PREFIX: &'static str = "cmpl-";
    const COST_IN_BODY: bool = true;

    fn parse<'b>(
        &self,
        body: &'b [u8],
        _: &HeaderMap,
    ) -> Result<CompletionsBody<'b>, GatewayError> {
        let Fields(fields) = serde_json::from_slice(body).map_err(GatewayError::invalid_json)?;
        let mut parsed = CompletionsBody {
            fields,
            model: String::new(),
            prompt: None,
            stream: false,
            include_usage: false,
        };
        parsed.model = parsed.typed::<String>("model")?.unwrap_or_default();
        if parsed.model.is_empty() {
            return Err(invalid("Missing required parameter: `model`.", "model")
                .with_code("missing_required_parameter"));
        }
        let Some(prompt) = parsed.typed::<Value>("prompt")? else {
            return Err(invalid("Missing required parameter: `prompt`.", "prompt")
                .with_code("missing_required_parameter"));
        };
        parsed.prompt = match prompt {
            Value::String(s) => Some(s),
            Value::Array(mut a) if a.len() == 1 && a[0].is_string() => {
                a.pop().and_then(|v| v.as_str().map(str::to_owned))
            }
            Value::Array(a)
                if !a.is_empty()
                    && a.iter()
                        .all(|v| v.is_string() || v.is_u64() || v.is_array()) =>
            {
                None
            }
            _ => {
                return Err(invalid(
                    "`prompt` must be a string, an array of strings, or token arrays.",
                    "prompt",
                ))
            }
        };
        parsed.stream = parsed.typed::<bool>("stream")?.unwrap_or(false);
        parsed.include_usage = parsed
            .typed::<Value>("stream_options")?
            .and_then(|o| o.get("include_usage").and_then(Value::as_bool))
            .unwrap_or(false);
        Ok(parsed)
    }

    fn model(&self, p: &CompletionsBody<'_>) -> String {
        p.model.clone()
    }

    fn stream(&self, p: &CompletionsBody<'_>) -> bool {
        p.stream
    }

    fn max_tokens(&self, p: &CompletionsBody<'_>) -> Option<u64> {
        p.raw("max_tokens").and_then(|v| v.trim().parse().ok())
    }

    fn include_usage(&self, p: &CompletionsBody<'_>) -> bool {
        p.include_usage
    }

    fn route(
        &self,
        p: &mut CompletionsBody<'_>,
        _: &Config,
        _: &mut Exchange,
    ) -> Result<String, GatewayError> {
        Ok(p.model.clone())
    }

    fn check(&self, _: &CompletionsBody<'_>, _: &ModelMeta, _: usize) -> Result<(), GatewayError> {
        Ok(())
    }

    fn speaks(&self, d: &Deployment) -> bool {
        serves_completions(self.catalog, d)
    }

    fn passthrough_body(
        &self,
        p: &mut CompletionsBody<'_>,
        d: &Deployment,
        _: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        let bound = ex.output_bound.and_then(raw_number);
        let set = bound.as_deref().map(|n| ("max_tokens", n));
        Ok(fields_json(&p.fields, &d.upstream_model, p.stream, set))
    }

    fn passthrough_request(
        &self,
        p: &CompletionsBody<'_>,
        body: Vec<u8>,
        d: &Deployment,
        _: Option<&Secret>,
        _: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        let accept = if p.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        post_json(
            d,
            &format!("{}/completions", d.api_base),
            accept,
            Auth::Bearer,
            body,
        )
    }

    fn unified(
        &self,
        p: &CompletionsBody<'_>,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        let Some(prompt) = p.prompt.clone() else {
            return Err(invalid(
                &format!(
                    "`{}` is served through chat, which takes one text prompt per request: send a batch of prompts or token ids to a model that serves /v1/completions itself.",
                    p.model
                ),
                "prompt",
            )
            .with_code("unsupported_prompt"));
        };
        let mut dropped = Vec::new();
        for name in COMPLETION_ONLY {
            let unused = match p.raw(name) {
                None | Some("false") | Some("0") => true,
                Some("1") => name == "best_of",
                Some(_) => false,
            };
            if unused {
                continue;
            }
            if !drop_params {
                return Err(invalid(
                    &format!("`{name}` has no counterpart in chat, through which `{}` is served; leave it out, or turn drop_params on.", p.model),
                    name,
                )
                .with_code("unsupported_parameter"));
            }
            dropped.push(name);
        }
        let stop = match p.typed::<Value>("stop")? {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let extra = ["presence_penalty", "frequency_penalty", "logit_bias"]
            .iter()
            .filter_map(|name| {
                let raw = p.raw(name)?;
                Some((
                    (*name).to_owned(),
                    RawValue::from_string(raw.to_owned()).ok()?,
                ))
            })
            .collect();
        let mut req = ChatRequest {
            model: p.model.clone(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: prompt,
                    cache_control: None,
                }],
                name: None,
            }],
            stream: p.stream,
            include_usage: p.include_usage,
            n: p.typed("n")?,
            max_tokens: p.typed("max_tokens")?,
            temperature: p.typed("temperature")?,
            top_p: p.typed("top_p")?,
            stop,
            seed: p.typed("seed")?,
            user: p.typed("user")?,
            extra,
            ..ChatRequest::default()
        };
        if !mock {
            ex.adjusted = quirks::apply(&mut req, d, drop_params)?.to_string();
        }
        for name in dropped {
            if !ex.adjusted.is_empty() {
                ex.adjusted.push(',');
            }
            ex.adjusted.push_str(name);
        }
        Ok(req)
    }

    fn relay<P: Ports>(
        &self,
        ports: P,
        upstream: ByteStream,
        p: &CompletionsBody<'_>,
        prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream {
        relay(ports, upstream, p.include_usage, prices, idle_ms, on_done)
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError> {
        openai_chat::usage_of(body)
    }

    fn render_response(&self, r: &ChatResponse) -> Vec<u8> {
        let texts: Vec<(u32, String, Option<&str>)> = r
            .choices
            .iter()
            .map(|c| {
                let finish = c.finish_reason.as_ref().map(|f| f.as_openai());
                (c.index, c.text().unwrap_or_default(), finish)
            })
            .collect();
        let choices = texts.iter().map(|(i, t, f)| (*i, t.as_str(), *f));
        text_completion(&r.id, r.created, &r.model, choices, r.usage.as_ref(), None)
    }

    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        model: &str,
        usage: Option<Usage>,
        prices: &Option<Arc<Prices>>,
    ) -> BodyStream {
        let mut r = TextRenderer::new(
            chunks.iter().any(|c| c.usage.is_some()),
            model,
            prices.clone(),
        );
        let mut events: Vec<Bytes> = chunks.iter().filter_map(|c| r.chunk(c)).collect();
        events.push(r.end(usage.or_else(|| chunks.iter().find_map(|c| c.usage))));
        Box::pin(futures::stream::iter(events))
    }

    fn renderer(
        &self,
        p: &CompletionsBody<'_>,
        model: &str,
        prices: Option<Arc<Prices>>,
    ) -> TextRenderer {
        TextRenderer::new(p.include_usage, model, prices)
    }

    fn codec(&self) -> Option<Codec> {
        None
    }

    fn error_event(e: &GatewayError) -> Bytes {
        render_error_event(e)
    }

    fn decorate(
        &self,
        resp: &mut GatewayResponse,
        _: &CompletionsBody<'_>,
        d: &Deployment,
        _: &ModelMeta,
    ) {
        super::provider_headers(resp, d);
    }
}

/// A `text_completion` object (whole, or one chunk of a stream): written
/// out directly, as the chat ingress writes its own.
fn text_completion<'a>(
    id: &str,
    created: u64,
    model: &str,
    choices: impl Iterator<Item = (u32, &'a str, Option<&'a str>)>,
    usage: Option<&Usage>,
    cost: Option<f64>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    out.extend_from_slice(b"{\"id\":");
    write_json_str(&mut out, id);
    out.extend_from_slice(b",\"object\":\"text_completion\",\"created\":");
    out.extend_from_slice(created.to_string().as_bytes());
    out.extend_from_slice(b",\"model\":");
    write_json_str(&mut out, model);
    out.extend_from_slice(b",\"choices\":[");
    for (n, (index, text, finish)) in choices.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"text\":");
        write_json_str(&mut out, text);
        out.extend_from_slice(b",\"index\":");
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(f) => write_json_str(&mut out, f),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.push(b']');
    if let Some(u) = usage {
        out.extend_from_slice(b",\"usage\":");
        let _ = serde_json::to_writer(&mut out, &usage_to_wire(u));
    }
    if let Some(cost) = cost {
        out.extend_from_slice(b",\"cost\":");
        out.extend_from_slice(format_cost(cost).as_bytes());
    }
    out.push(b'}');
    out
}

fn event(body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Unified chunks as `text_completion` chunks: text deltas only (a chat
/// model's reasoning and tool calls have no place in them), the usage chunk
/// with its cost when the client asked for it, then `[DONE]`.
pub struct TextRenderer {
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    prices: Option<Arc<Prices>>,
}

impl TextRenderer {
    fn new(include_usage: bool, model: &str, prices: Option<Arc<Prices>>) -> Self {
        TextRenderer {
            include_usage,
            id: String::new(),
            model: model.to_owned(),
            created: 0,
            prices,
        }
    }
}

impl Renderer for TextRenderer {
    fn chunk(&mut self, c: &ChatChunk) -> Option<Bytes> {
        if self.id.is_empty() {
            self.id.clone_from(&c.id);
            self.created = c.created;
            if !c.model.is_empty() {
                self.model.clone_from(&c.model);
            }
        }
        let mut choices = c
            .choices
            .iter()
            .filter(|ch| ch.delta.text.is_some() || ch.finish_reason.is_some())
            .map(|ch| {
                let finish = ch.finish_reason.as_ref().map(|f| f.as_openai());
                (ch.index, ch.delta.text.as_deref().unwrap_or(""), finish)
            })
            .peekable();
        choices.peek()?;
        let body = text_completion(&self.id, self.created, &self.model, choices, None, None);
        Some(event(&body))
    }

    fn end(&mut self, usage: Option<Usage>) -> Bytes {
        let mut out = Vec::new();
        if let (true, Some(u)) = (self.include_usage, usage) {
            let cost = self
                .prices
                .as_deref()
                .and_then(|p| completion_cost(p, &TokenUsage::from(u)));
            let body = text_completion(
                &self.id,
                self.created,
                &self.model,
                std::iter::empty(),
                Some(&u),
                cost,
            );
            out.extend_from_slice(&event(&body));
        }
        out.extend_from_slice(DONE_EVENT);
        Bytes::from(out)
    }

    fn error(&mut self, e: &GatewayError) -> Bytes {
        render_error_event(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::{ChunkChoice, Delta, FinishReason};

    fn ingress() -> OpenAiCompletions {
        OpenAiCompletions {
            catalog: crate::catalog::embedded(),
        }
    }

    fn parse(body: &str) -> Result<CompletionsBody<'_>, GatewayError> {
        ingress().parse(body.as_bytes(), &HeaderMap::new())
    }

    #[test]
    fn a_prompt_is_one_text_or_a_batch_only_a_completions_server_takes() {
        let p = parse(r#"{"model":"m","prompt":"Say hi","stream":true,"stream_options":{"include_usage":true},"max_tokens":7}"#).unwrap();
        assert_eq!(p.prompt.as_deref(), Some("Say hi"));
        assert!(p.stream && p.include_usage);
        assert_eq!(ingress().max_tokens(&p), Some(7));
        assert_eq!(
            parse(r#"{"model":"m","prompt":["one"]}"#)
                .unwrap()
                .prompt
                .as_deref(),
            Some("one")
        );
        assert_eq!(
            parse(r#"{"model":"m","prompt":["a","b"]}"#).unwrap().prompt,
            None
        );
        assert_eq!(
            parse(r#"{"model":"m","prompt":[[1,2]]}"#).unwrap().prompt,
            None
        );
        for bad in [
            r#"{"model":"m"}"#,
            r#"{"prompt":"x"}"#,
            r#"{"model":"m","prompt":{}}"#,
            r#"{"model":"m","prompt":[]}"#,
        ] {
            let e = parse(bad).err().unwrap();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn the_answer_is_a_text_completion() {
        let r = ChatResponse {
            id: "cmpl-1".into(),
            created: 7,
            model: "m".into(),
            choices: vec![crate::unified::Choice {
                index: 0,
                content: vec![Part::Text {
                    text: "Hello".into(),
                    cache_control: None,
                }],
                refusal: None,
                finish_reason: Some(FinishReason::Length),
            }],
            usage: Some(Usage {
                input_tokens: 3,
                output_tokens: 1,
                ..Usage::default()
            }),
            system_fingerprint: None,
        };
        let v: Value = serde_json::from_slice(&ingress().render_response(&r)).unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], "Hello");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["prompt_tokens"], 3);
        assert_eq!(v["usage"]["total_tokens"], 4);
    }

    #[test]
    fn the_stream_carries_text_then_usage_then_done() {
        let chunk = |text: Option<&str>, finish: Option<FinishReason>| ChatChunk {
            id: "cmpl-9".into(),
            created: 5,
            model: "m".into(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: Delta {
                    text: text.map(str::to_owned),
                    ..Delta::default()
                },
                finish_reason: finish,
            }],
            usage: None,
        };
        let mut r = TextRenderer::new(true, "m", None);
        let first = r.chunk(&chunk(Some("Hi"), None)).unwrap();
        let v: Value = serde_json::from_slice(&first[6..first.len() - 2]).unwrap();
        assert_eq!(
            (v["id"].as_str(), v["choices"][0]["text"].as_str()),
            (Some("cmpl-9"), Some("Hi"))
        );
        assert!(v["choices"][0]["finish_reason"].is_null());
        // A role-only or reasoning delta says nothing in this format.
        let mut silent = chunk(None, None);
        silent.choices[0].delta.reasoning = Some("hmm".into());
        assert!(r.chunk(&silent).is_none());
        assert!(r.chunk(&chunk(None, Some(FinishReason::Stop))).is_some());
        let end = r.end(Some(Usage {
            input_tokens: 2,
            output_tokens: 1,
            ..Usage::default()
        }));
        let text = std::str::from_utf8(&end).unwrap();
        assert!(
            text.contains(r#""choices":[]"#) && text.contains(r#""total_tokens":3"#),
            "{text}"
        );
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            TextRenderer::new(false, "m", None).end(None),
            Bytes::from_static(DONE_EVENT)
        );
    }
}
