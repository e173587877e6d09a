//! `POST /v1/responses`: OpenAI's Responses format as an [`Ingress`],
//! served from any provider. An OpenAI deployment gets the client's body
//! with the model swapped and its event stream relayed as it is; every other
//! provider is reached through the unified request, and its answer rendered
//! as Responses items and events.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use crate::catalog::Prices;
use crate::codec::openai_responses::{self as responses_codec, usage_from_wire, wire};
use crate::config::Config;
use crate::endpoints::stored_responses;
use crate::error::{ErrorKind, GatewayError};
use crate::http::{GatewayResponse, IncomingRequest};
use crate::ingress::openai_chat::{write_json_str, write_key};
use crate::ingress::openai_responses::{
    render, EventRenderer, Head, ResponsesEnvelope, ToolShapes, ID_PREFIX,
};
use crate::model_meta::ModelMeta;
use crate::pipeline::{exchange, within_limit, Call, Exchange, Ingress};
use crate::ports::{ByteStream, Ports};
use crate::providers::Codec;
use crate::quirks;
use crate::relays::responses_relay;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone, Renderer};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

/// One request's Responses ingress: the head every response object it
/// renders shares.
pub struct OpenAiResponses {
    pub head: Head,
}

pub struct Parsed<'b> {
    pub env: ResponsesEnvelope<'b>,
}

/// The request settings a response object repeats, with OpenAI's defaults
/// for those the client left out.
const ECHOED: &[(&str, &str)] = &[
    ("instructions", "null"),
    ("max_output_tokens", "null"),
    ("metadata", "{}"),
    ("parallel_tool_calls", "true"),
    ("reasoning", r#"{"effort":null,"summary":null}"#),
    ("store", "true"),
    ("temperature", "1.0"),
    ("text", r#"{"format":{"type":"text"}}"#),
    ("tool_choice", r#""auto""#),
    ("tools", "[]"),
    ("top_p", "1.0"),
    ("truncation", r#""disabled""#),
    ("user", "null"),
];

impl OpenAiResponses {
    /// `id` is the response id this request's answer will carry (a
    /// same-format upstream's own id wins on the passthrough path).
    pub fn new(
        env: &ResponsesEnvelope<'_>,
        id: String,
        created_at: u64,
        previous: Option<&str>,
    ) -> Result<Self, GatewayError> {
        let mut echo = Vec::with_capacity(256);
        for (name, default) in ECHOED {
            echo.push(b',');
            write_key(&mut echo, name);
            match env.raw_field(name) {
                Some(raw) if raw.get() != "null" => echo.extend_from_slice(raw.get().as_bytes()),
                _ => echo.extend_from_slice(default.as_bytes()),
            }
        }
        echo.extend_from_slice(br#","previous_response_id":"#);
        match previous {
            Some(p) => write_json_str(&mut echo, p),
            None => echo.extend_from_slice(b"null"),
        }
        Ok(OpenAiResponses {
            head: Head {
                id,
                created_at,
                model: env.model.clone(),
                echo: echo.into(),
                shapes: Arc::new(env.tool_shapes()?),
            },
        })
    }
}

/// Deployments that take a Responses body as it is: OpenAI itself,
/// OpenAI-format deployments set to its Responses API, and Azure OpenAI.
fn speaks_responses(d: &Deployment) -> bool {
    d.passthrough
        && (matches!(d.codec(), Codec::OpenAiResponses | Codec::AzureOpenAi)
            || (d.provider.id == "openai" && d.codec() == Codec::OpenAiChat))
}

/// Hosted tools a translated upstream cannot run: refused, or dropped and
/// reported when the deployment allows dropping what it cannot take.
fn hosted_tools(
    shapes: &ToolShapes,
    d: &Deployment,
    drop_params: bool,
    ex: &mut Exchange,
) -> Result<(), GatewayError> {
    let Some(first) = shapes.hosted.first() else {
        return Ok(());
    };
    if !drop_params {
        return Err(GatewayError::invalid_request(format!(
            "The `{first}` tool runs on OpenAI's servers; provider `{}` (model `{}`) has no such tool. Remove it, send this model's requests to an OpenAI deployment, or set drop_params to have the gateway leave it out.",
            d.provider.id, d.upstream_model
        ))
        .with_param("tools")
        .with_code("unsupported_tool"));
    }
    for kind in &shapes.hosted {
        if !ex.adjusted.is_empty() {
            ex.adjusted.push(',');
        }
        ex.adjusted.push_str("dropped_tool:");
        ex.adjusted.push_str(kind);
    }
    Ok(())
}

impl Ingress for OpenAiResponses {
    type Parsed<'b> = Parsed<'b>;
    type Renderer = EventRenderer;
    const ID_PREFIX: &'static str = ID_PREFIX;
    const COST_IN_BODY: bool = true;

    fn parse<'b>(&self, body: &'b [u8], _: &HeaderMap) -> Result<Parsed<'b>, GatewayError> {
        Ok(Parsed {
            env: ResponsesEnvelope::parse(body)?,
        })
    }

    fn model(&self, p: &Parsed<'_>) -> String {
        p.env.model.clone()
    }

    fn stream(&self, p: &Parsed<'_>) -> bool {
        p.env.stream
    }

    fn max_tokens(&self, p: &Parsed<'_>) -> Option<u64> {
        p.env.max_output_tokens.map(u64::from)
    }

    fn include_usage(&self, _: &Parsed<'_>) -> bool {
        true
    }

    fn route(
        &self,
        p: &mut Parsed<'_>,
        _: &Config,
        _: &mut Exchange,
    ) -> Result<String, GatewayError> {
        Ok(p.env.model.clone())
    }

    fn check(&self, _: &Parsed<'_>, _: &ModelMeta, _: usize) -> Result<(), GatewayError> {
        Ok(())
    }

    fn speaks(&self, d: &Deployment) -> bool {
        speaks_responses(d)
    }

    fn codec(&self) -> Option<Codec> {
        Some(Codec::OpenAiResponses)
    }

    fn wire_codec(&self, _: &Deployment) -> Codec {
        Codec::OpenAiResponses
    }

    fn passthrough_body(
        &self,
        p: &mut Parsed<'_>,
        d: &Deployment,
        _: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        Ok(p.env.render_passthrough(&d.upstream_model, ex.output_bound))
    }

    fn passthrough_request(
        &self,
        p: &Parsed<'_>,
        body: Vec<u8>,
        d: &Deployment,
        _: Option<&Secret>,
        _: &HeaderMap,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        if d.codec() == Codec::AzureOpenAi {
            let url = crate::codec::azure::responses_url(d);
            return crate::codec::azure::request_to(d, &url, body, p.env.stream);
        }
        responses_codec::build_request(d, body, p.env.stream)
    }

    fn unified(
        &self,
        p: &Parsed<'_>,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        let mut req = p.env.to_unified()?;
        if !mock {
            hosted_tools(&self.head.shapes, d, drop_params, ex)?;
            let quirked = quirks::apply(&mut req, d, drop_params)?.to_string();
            if !quirked.is_empty() {
                if !ex.adjusted.is_empty() {
                    ex.adjusted.push(',');
                }
                ex.adjusted.push_str(&quirked);
            }
        }
        Ok(req)
    }

    fn relay<P: Ports>(
        &self,
        ports: P,
        upstream: ByteStream,
        _: &Parsed<'_>,
        _: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream {
        responses_relay::relay(ports, upstream, idle_ms, on_done)
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, GatewayError> {
        let usage = crate::codec::usage_in::<wire::Usage>(body)?;
        Ok(usage.as_ref().map(usage_from_wire))
    }

    fn render_response(&self, r: &ChatResponse) -> Vec<u8> {
        render::render_response(r, &self.head)
    }

    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        _: &str,
        usage: Option<Usage>,
        _: &Option<Arc<Prices>>,
    ) -> BodyStream {
        let mut renderer = EventRenderer::new(self.head.clone());
        let mut events: Vec<Bytes> = chunks.iter().filter_map(|c| renderer.chunk(c)).collect();
        events.push(renderer.end(usage));
        Box::pin(futures::stream::iter(events))
    }

    fn renderer(&self, _: &Parsed<'_>, _: &str, _: Option<Arc<Prices>>) -> EventRenderer {
        EventRenderer::new(self.head.clone())
    }

    fn error_event(e: &GatewayError) -> Bytes {
        render::error_event(e)
    }

    fn decorate(&self, resp: &mut GatewayResponse, _: &Parsed<'_>, d: &Deployment, _: &ModelMeta) {
        super::provider_headers(resp, d);
    }
}

/// A new response id: the time and this instance's random stream, so ids
/// from many instances in the same millisecond still differ.
fn new_id<P: Ports>(call: &Call<'_, P>, now_ms: u64) -> String {
    format!("resp_{now_ms:x}{:016x}", call.health.next_random())
}

/// `POST /v1/responses`: a resumed conversation is expanded first, a
/// stored answer kept after.
pub async fn serve<P: Ports>(
    call: &Call<'_, P>,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    within_limit(&req.body, call.config)?;
    let env = ResponsesEnvelope::parse(&req.body)?;
    let mut input = stored_responses::input_items(&env);
    let resumed = match &env.previous_response_id {
        Some(previous) => {
            input = stored_responses::resume(call.kv, ex, previous, &input).await?;
            Some(IncomingRequest {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                headers: req.headers.clone(),
                body: Bytes::from(env.with_input(&input)),
            })
        }
        None => None,
    };
    let now = call.ports.now_ms();
    let ingress = OpenAiResponses::new(
        &env,
        new_id(call, now),
        now / 1000,
        env.previous_response_id.as_deref(),
    )?;
    let mut resp = exchange(call, &ingress, resumed.as_ref().unwrap_or(req), ex).await?;
    if let Some(previous) = &env.previous_response_id {
        name_previous(&mut resp, previous);
    }
    if let (true, Some(kv)) = (env.store, call.kv) {
        stored_responses::keep(kv, &call.ports, ex, input, &mut resp).await;
    }
    Ok(resp)
}

/// A same-format upstream was sent the whole conversation, not the
/// reference: its answer says `"previous_response_id":null` where the
/// client expects the id it named. The relay passes whole events, so the
/// field is never split between chunks.
fn name_previous(resp: &mut GatewayResponse, previous: &str) {
    let mut named = Vec::new();
    write_json_str(&mut named, previous);
    let fill = move |b: Bytes| -> Bytes {
        const KEY: &[u8] = br#""previous_response_id""#;
        let skip = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let mut out: Vec<u8> = Vec::new();
        // `copied`: bytes of `b` already in `out`; `from`: where the search goes on.
        let (mut copied, mut from) = (0, 0);
        while let Some(i) = b[from..].windows(KEY.len()).position(|w| w == KEY) {
            from += i + KEY.len();
            // `: null`, with whatever spacing the upstream writes.
            let colon = from + skip(&b[from..]);
            if b.get(colon) != Some(&b':') {
                continue;
            }
            let value = colon + 1 + skip(&b[colon + 1..]);
            if b[value..].starts_with(b"null") {
                out.extend_from_slice(&b[copied..value]);
                out.extend_from_slice(&named);
                copied = value + 4;
                from = copied;
            }
        }
        if copied == 0 {
            return b;
        }
        out.extend_from_slice(&b[copied..]);
        Bytes::from(out)
    };
    match std::mem::replace(resp.body_mut(), crate::http::Body::Empty) {
        crate::http::Body::Full(b) => *resp.body_mut() = crate::http::Body::Full(fill(b)),
        crate::http::Body::Stream(s) => {
            *resp.body_mut() = crate::http::Body::Stream(Box::pin(futures::StreamExt::map(s, fill)))
        }
        crate::http::Body::Empty => {}
    }
}

/// OpenAI's answer for an id it does not hold.
pub fn not_found(id: &str, param: &str) -> GatewayError {
    let what = if param == "previous_response_id" {
        "Previous response"
    } else {
        "Response"
    };
    GatewayError::new(
        ErrorKind::NotFound,
        format!("{what} with id '{id}' not found."),
    )
    .with_param(param)
    .with_code(if param == "previous_response_id" {
        "previous_response_not_found"
    } else {
        "response_not_found"
    })
}
