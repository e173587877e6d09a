//! Stage 7: the answer back in the client's format, usage captured for the
//! exchange. A same-format upstream is relayed (its stream byte for byte);
//! another format is translated; the mock answers in place.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::prepared::Prepared;
use super::Exchange;
use super::{sse, Call, MAX_UPSTREAM_BODY};
use crate::codec::{self, mock, DecodeContext, StreamDecoder};
use crate::cost::{completion_cost, format_cost, splice_cost, TokenUsage};
use crate::error::GatewayError;
use crate::guardrails::{rewrite_strings, Blocked, Checker, Direction};
use crate::http::{json, read_body};
use crate::http::{Body, GatewayResponse};
use crate::ports::{Ports, UpstreamResponse};
use crate::relays::output_guard::{guard_stream, ErrorEvent};
use crate::relays::translate::{translate, TranslateState};
use crate::resolve::Deployment;
use crate::stream::sniff::{not_a_stream, sniff, StreamAnswer};
use crate::stream::whole;
use crate::unified::{ChatRequest, ChatResponse};

pub async fn passthrough<P: Ports>(
    call: &Call<'_, P>,
    prepared: &dyn Prepared<P>,
    upstream: UpstreamResponse,
    deployment: &Deployment,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    let idle_ms = call.config.general.stream_idle_timeout_ms;
    let ports = &call.ports;
    if ex.stream {
        let content_type = upstream
            .headers
            .get(CONTENT_TYPE)
            .map(HeaderValue::as_bytes);
        let (answer, body) = sniff(ports, content_type, upstream.body, idle_ms).await?;
        match answer {
            StreamAnswer::EventStream => {}
            StreamAnswer::Json => {
                let whole = read_body(ports, body, idle_ms, MAX_UPSTREAM_BODY).await?;
                let decode = DecodeContext {
                    now_ms: ports.now_ms(),
                    model: &deployment.upstream_model,
                    id_prefix: prepared.id_prefix(),
                };
                let response = whole_answer(&whole, deployment, &upstream.headers, &decode)?;
                ex.usage = response.usage;
                let chunks = whole::chunks_of(&response, prepared.include_usage());
                return Ok(sse(prepared.render_chunks(
                    &chunks,
                    &deployment.upstream_model,
                    response.usage,
                    &ex.prices,
                )));
            }
            StreamAnswer::Other => return Err(not_a_stream(deployment.provider.id, content_type)),
        }
        let on_done = super::settle::stream_settler(ports.clone(), ex);
        let prices = ex.prices.clone();
        return Ok(sse(prepared.relay(
            ports.clone(),
            body,
            prices,
            idle_ms,
            on_done,
        )));
    }
    let body = read_body(ports, upstream.body, idle_ms, MAX_UPSTREAM_BODY).await?;
    let (body, usage) = prepared.passthrough_answer(body, &upstream.headers, deployment)?;
    ex.usage = usage;
    Ok(json(StatusCode::OK, body))
}

pub async fn translated<P: Ports>(
    call: &Call<'_, P>,
    prepared: &dyn Prepared<P>,
    upstream: UpstreamResponse,
    deployment: &Deployment,
    now_ms: u64,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    let idle_ms = call.config.general.stream_idle_timeout_ms;
    let decode = DecodeContext {
        now_ms,
        model: &deployment.upstream_model,
        id_prefix: prepared.id_prefix(),
    };
    if ex.stream {
        let state = TranslateState::new(
            StreamDecoder::new(deployment.codec(), &decode)?,
            prepared.renderer(&deployment.upstream_model, ex.prices.clone()),
        );
        let on_done = super::settle::stream_settler(call.ports.clone(), ex);
        return Ok(sse(translate(
            call.ports.clone(),
            upstream.body,
            state,
            idle_ms,
            on_done,
        )));
    }
    let body = read_body(&call.ports, upstream.body, idle_ms, MAX_UPSTREAM_BODY).await?;
    let response = codec::decode_response(deployment.codec(), &body, &decode)?;
    ex.usage = response.usage;
    Ok(json(StatusCode::OK, prepared.render_response(&response)))
}

pub fn mock<P: Ports>(
    call: &Call<'_, P>,
    prepared: &dyn Prepared<P>,
    ureq: &ChatRequest,
    deployment: &Deployment,
    ex: &mut Exchange,
) -> GatewayResponse {
    let ctx = DecodeContext {
        now_ms: call.ports.now_ms(),
        model: &deployment.upstream_model,
        id_prefix: prepared.id_prefix(),
    };
    let response = mock::answer(ureq, deployment.mock_response.as_deref(), &ctx);
    ex.usage = response.usage;
    if !ureq.stream {
        return json(StatusCode::OK, prepared.render_response(&response));
    }
    let chunks = mock::answer_chunks(&response, prepared.include_usage());
    sse(prepared.render_chunks(
        &chunks,
        &deployment.upstream_model,
        response.usage,
        &ex.prices,
    ))
}

/// An upstream that answered a stream request with one JSON body: its
/// answer, or the error it holds (a 502: the upstream said 200).
pub fn whole_answer(
    body: &[u8],
    deployment: &Deployment,
    headers: &HeaderMap,
    ctx: &DecodeContext<'_>,
) -> Result<ChatResponse, GatewayError> {
    let is_error = serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null()));
    if is_error {
        let decode_error = codec::error_decoder(deployment.codec());
        let err = decode_error(StatusCode::BAD_GATEWAY, headers, body, deployment);
        return Err(codec::redact_credentials(
            err,
            deployment,
            &HeaderMap::new(),
        ));
    }
    codec::decode_response(deployment.codec(), body, ctx)
}

/// Prices a whole answer into the exchange and `x-dx-cost-usd`; `in_body`
/// also writes `cost` into the body. Streams carry their cost in their
/// final usage chunk only: their headers leave before the usage is known.
pub fn price_response(resp: &mut GatewayResponse, ex: &mut Exchange, in_body: bool) {
    let (Some(prices), Some(usage)) = (ex.prices.as_deref(), ex.usage) else {
        return;
    };
    let body = match resp.body() {
        Body::Full(body) if resp.status() == StatusCode::OK => Some(body),
        _ => None,
    };
    let Some(cost) = completion_cost(prices, &TokenUsage::from(usage)) else {
        return;
    };
    ex.cost = Some(cost);
    let Some(body) = body else {
        return;
    };
    let header = HeaderValue::from_str(&format_cost(cost));
    if let (true, Some(with_cost)) = (in_body, splice_cost(body, cost)) {
        *resp.body_mut() = Body::Full(Bytes::from(with_cost));
    }
    if let Ok(v) = header {
        resp.headers_mut().insert("x-dx-cost-usd", v);
    }
}

/// The output guard on an answer: a whole body is checked (masked or
/// refused) here; a stream is wrapped so that it is checked as it goes.
pub fn guard_output(
    resp: &mut GatewayResponse,
    mut checker: Checker,
    error_event: ErrorEvent,
    ex: &mut Exchange,
) -> Result<(), GatewayError> {
    match std::mem::replace(resp.body_mut(), Body::Empty) {
        Body::Empty => Ok(()),
        Body::Stream(s) => {
            let counts = ex.output_counts.clone();
            *resp.body_mut() = Body::Stream(guard_stream(s, checker, error_event, counts));
            Ok(())
        }
        Body::Full(body) => {
            let checked = rewrite_strings(&body, true, &mut |_, text| checker.check(text));
            add_report(&mut ex.guardrails, &checker.report());
            let masked = match checked {
                Ok(Ok(masked)) => masked,
                Ok(Err(_unreadable)) => {
                    return Err(Blocked {
                        set: checker.first_set(),
                        kind: None,
                    }
                    .into_error(Direction::Output))
                }
                Err(blocked) => return Err(blocked.into_error(Direction::Output)),
            };
            *resp.body_mut() = Body::Full(masked.map_or(body, Bytes::from));
            Ok(())
        }
    }
}

/// Appends an output guard's `set:detector=count` pairs to the exchange's.
pub fn add_report(to: &mut String, report: &str) {
    if !report.is_empty() {
        if !to.is_empty() {
            to.push(',');
        }
        to.push_str(report);
    }
}
