//! Stage 6: the attempts the route plan asks for. One attempt builds the
//! request for its deployment (a passthrough body, a codec's encoding, or
//! the mock), sends it with the deployment's timeout, holds a stream until
//! its first content, and hands the answer to the relay. Every failure
//! before the client got a byte goes back to the plan, which decides.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::HeaderMap;

use super::prepared::Prepared;
use super::relay;
use super::route_plan::{Route, Target};
use super::{Call, Exchange, Path};
use crate::codec::{self, DecodeContext, EncodeContext, ErrorDecoder};
use crate::config::General;
use crate::error::{ErrorKind, GatewayError};
use crate::http::{read_body, GatewayResponse};
use crate::ports::{with_timeout, Ports, ReadWhole, TransportError, UpstreamResponse};
use crate::providers::Codec;
use crate::relays::first_content;
use crate::resolve::Deployment;
use crate::router::plan::{counts_against_deployment, retry_after_ms};
use crate::router::{Candidate, Group, Groups, Plan, Step};

/// Walks `route` until an attempt answers: that answer and the slot of the
/// target that gave it, or the error the plan gave up with. The request is
/// parsed again before every attempt but the first (quirks for one
/// deployment must not reach the next). `body_len` is the size the
/// context-window check measures (the client's body).
pub async fn walk<'c, P: Ports>(
    call: &Call<'c, P>,
    prepared: &mut dyn Prepared<P>,
    body_len: usize,
    route: &mut Route<'c>,
    ex: &mut Exchange,
) -> Result<(GatewayResponse, usize), GatewayError> {
    let settings = &call.config.router_settings;
    let mut fresh = true;
    loop {
        let now = call.ports.now_ms();
        let c = match route.plan.next(now) {
            Step::Send(_, c) => c.clone(),
            Step::Wait(ms) => {
                call.ports.sleep(ms).await;
                continue;
            }
            Step::GiveUp(e) => {
                ex.attempts = route.plan.attempts();
                return Err(e);
            }
        };
        let target = match &route.targets[c.slot] {
            Ok(t) => t,
            Err(e) => {
                route.plan.failed(e.clone(), now, false);
                continue;
            }
        };
        if !fresh {
            prepared.reparse(call.config)?;
        }
        fresh = false;
        ex.deployment.clone_from(&target.label);
        ex.fallback = route.plan.fallback().unwrap_or_default().to_owned();
        // Before the attempt: a stream's log line is taken during it.
        ex.attempts = route.plan.attempts();
        let result = attempt(call, prepared, body_len, target, &c, ex).await;
        match result {
            Ok(resp) => {
                ex.attempts = route.plan.attempts();
                return Ok((resp, c.slot));
            }
            Err((err, sent)) => {
                if sent && counts_against_deployment(&err) {
                    let wait = retry_after_ms(&err);
                    call.health
                        .failure(c.entry, call.ports.now_ms(), wait, settings);
                }
                route.plan.failed(err, call.ports.now_ms(), sent);
            }
        }
    }
}

/// One attempt to `target`: `Err((error, sent))`.
async fn attempt<P: Ports>(
    call: &Call<'_, P>,
    prepared: &mut dyn Prepared<P>,
    body_len: usize,
    target: &Target<'_>,
    c: &Candidate,
    ex: &mut Exchange,
) -> Result<GatewayResponse, (GatewayError, bool)> {
    let not_sent = |e: GatewayError| (e, false);
    let d = &target.deployment;
    prepared.check(&target.meta, body_len).map_err(not_sent)?;
    ex.provider = d.provider.id;
    ex.upstream_model.clone_from(&d.upstream_model);
    ex.prices = target
        .meta
        .prices
        .is_known()
        .then(|| std::sync::Arc::new(target.meta.prices.clone()));
    let config = call.config;
    let drop_params = d.params.drop_params.unwrap_or(config.general.drop_params);
    let path = if prepared.speaks(d) {
        Path::Passthrough
    } else if d.codec() == Codec::Mock {
        Path::Mock
    } else {
        Path::Translated
    };
    let stream = ex.stream;
    let now_ms = call.ports.now_ms();
    let mut request = match path {
        Path::Mock => {
            let mut ureq = prepared
                .unified(d, drop_params, true, ex)
                .map_err(not_sent)?;
            bound_output(&mut ureq, ex.output_bound);
            return Ok(relay::mock(call, &*prepared, &ureq, d, ex));
        }
        Path::Passthrough => {
            let body = prepared
                .passthrough_body(d, drop_params, ex)
                .map_err(not_sent)?;
            let token = call.access_token_for(d).await.map_err(not_sent)?;
            prepared
                .passthrough_request(body, d, token.as_ref())
                .map_err(not_sent)?
        }
        Path::Translated => {
            let mut ureq = prepared
                .unified(d, drop_params, false, ex)
                .map_err(not_sent)?;
            bound_output(&mut ureq, ex.output_bound);
            let ctx = EncodeContext {
                now_ms,
                access_token: call.access_token_for(d).await.map_err(not_sent)?,
            };
            codec::encode(&ureq, d, &ctx).map_err(not_sent)?
        }
    };
    if !stream {
        request.extensions_mut().insert(ReadWhole);
    }
    let general = &config.general;
    let tokens = body_len as u64;
    ex.busy = Some(std::sync::Arc::new(
        call.health.begin(c.entry, now_ms, tokens),
    ));
    // What the answer's bytes are: the client's own format on the same-format path.
    let wire = match path {
        Path::Passthrough => prepared.wire_codec(d),
        _ => d.codec(),
    };
    let result = send_and_hold(call, general, target, request, c, now_ms, wire).await;
    let held_at = call.ports.now_ms();
    if stream && result.is_ok() {
        ex.ttft_ms = Some(held_at.saturating_sub(ex.ts));
    }
    if ex.telemetry.is_some() {
        ex.tries.push(crate::telemetry::Try {
            deployment: target.label.clone(),
            start_ms: now_ms,
            end_ms: held_at,
            error: result
                .as_ref()
                .err()
                .and_then(|e| crate::telemetry::error_class(e.status.as_u16())),
        });
    }
    let answered = match result {
        Ok(up) => match path {
            Path::Passthrough => relay::passthrough(call, &*prepared, up, d, ex).await,
            _ => relay::translated(call, &*prepared, up, d, now_ms, ex).await,
        },
        Err(e) => Err(e),
    };
    // An answer that failed after its headers (a body that broke off) is
    // this attempt's failure too.
    if let (Err(e), Some(t)) = (&answered, ex.tries.last_mut()) {
        t.error = t
            .error
            .or_else(|| crate::telemetry::error_class(e.status.as_u16()));
    }
    // Still here unless a stream's settler took it: the attempt is over.
    if let Some(busy) = ex.busy.take() {
        if let (Ok(_), Some(u)) = (&answered, ex.usage) {
            busy.completed(call.ports.now_ms(), u.output_tokens);
        }
    }
    answered.map_err(|e| (e, true))
}

/// Lowers a unified request's output bound to what the key's budget pays
/// for, when admission clamped it.
#[inline(never)]
fn bound_output(req: &mut crate::unified::ChatRequest, bound: Option<u32>) {
    if let Some(n) = bound {
        req.max_tokens = Some(req.max_tokens.map_or(n, |m| m.min(n)));
    }
}

/// Sends, and for a stream waits for its first content (see
/// [`first_content`]); the deployment's latency is recorded on success.
async fn send_and_hold<P: Ports>(
    call: &Call<'_, P>,
    general: &General,
    target: &Target<'_>,
    request: http::Request<Bytes>,
    c: &Candidate,
    sent_at: u64,
    wire: Codec,
) -> Result<UpstreamResponse, GatewayError> {
    let d = &target.deployment;
    let decode_error = codec::error_decoder(d.codec());
    let mut up = attempt_once(&call.ports, general, d, &request, decode_error).await?;
    let ttfb = call.ports.now_ms().saturating_sub(sent_at);
    let stream = request.extensions().get::<ReadWhole>().is_none();
    if stream && holdable(&up.headers) {
        let settings = &call.config.router_settings;
        let ttft = target
            .entry
            .and_then(|e| e.ttft_timeout_ms)
            .or(settings.ttft_timeout_ms)
            .unwrap_or(general.stream_idle_timeout_ms);
        let ctx = DecodeContext {
            now_ms: sent_at,
            model: &d.upstream_model,
            id_prefix: "",
        };
        let body = std::mem::replace(&mut up.body, Box::pin(futures::stream::empty()));
        up.body = first_content::hold(&call.ports, wire, body, &ctx, ttft, d.provider.id)
            .await
            .map_err(|e| codec::redact_credentials(e, d, request.headers()))?;
    }
    call.health.success(c.entry, ttfb);
    Ok(up)
}

/// A body that says it is a stream (SSE, AWS event stream, NDJSON). Whole
/// JSON answers, pages and unlabelled bodies are left to the relay, which
/// sniffs them and reports them in its own way.
fn holdable(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    [
        "text/event-stream",
        "application/vnd.amazon.eventstream",
        "ndjson",
    ]
    .iter()
    .any(|s| ct.contains(s))
}

/// One deployment alone, with its retries (a route of one deployment
/// that needs no plan of groups: token counting).
pub async fn send_alone<P: Ports>(
    call: &Call<'_, P>,
    deployment: &Deployment,
    request: http::Request<Bytes>,
    decode_error: ErrorDecoder,
    ex: &mut Exchange,
) -> Result<UpstreamResponse, GatewayError> {
    let config = call.config;
    let settings = &config.router_settings;
    let general = &config.general;
    let alone = Candidate {
        entry: super::route_plan::NOT_LISTED,
        slot: 0,
        order: 0,
        weight: 1.0,
        rpm: None,
        tpm: None,
        cost: None,
        distance_km: None,
    };
    let groups = Groups {
        groups: vec![Group {
            name: ex.model.clone(),
            order: vec![alone],
            cooling: Vec::new(),
        }],
        generic: Vec::new(),
        context: Vec::new(),
        policy: Vec::new(),
    };
    let now = call.ports.now_ms();
    let mut plan = Plan::new(
        groups,
        settings,
        settings.num_retries.unwrap_or(general.num_retries),
        general.max_retry_wait_ms,
        now,
        call.health.next_random(),
    );
    loop {
        match plan.next(call.ports.now_ms()) {
            Step::Send(..) => {
                match attempt_once(&call.ports, general, deployment, &request, decode_error).await {
                    Ok(resp) => {
                        ex.attempts = plan.attempts();
                        return Ok(resp);
                    }
                    Err(e) => plan.failed(e, call.ports.now_ms(), true),
                }
            }
            Step::Wait(ms) => call.ports.sleep(ms).await,
            Step::GiveUp(e) => {
                ex.attempts = plan.attempts();
                return Err(e);
            }
        }
    }
}

/// One request with the deployment's timeout; an error status is decoded
/// into the gateway's error with the upstream's credentials redacted.
async fn attempt_once<P: Ports>(
    ports: &P,
    general: &General,
    deployment: &Deployment,
    request: &http::Request<Bytes>,
    decode_error: ErrorDecoder,
) -> Result<UpstreamResponse, GatewayError> {
    let timeout = deployment
        .request_timeout_ms
        .unwrap_or(general.request_timeout_ms);
    match with_timeout(ports, timeout, ports.send(request.clone())).await {
        None => Err(GatewayError::new(
            ErrorKind::UpstreamTimeout,
            format!(
                "The upstream ({}) did not answer within {timeout} ms.",
                deployment.provider.id
            ),
        )
        .with_code("upstream_timeout")),
        Some(Err(TransportError::InvalidRequest(m))) => Err(GatewayError::new(
            ErrorKind::Configuration,
            format!("Could not build the upstream request: {m}."),
        )
        .with_code("config_error")),
        Some(Err(e)) => Err(GatewayError::new(
            ErrorKind::UpstreamUnavailable,
            format!(
                "Could not reach the upstream ({}): {e}.",
                deployment.provider.id
            ),
        )
        .with_code("upstream_unreachable")),
        Some(Ok(resp)) if resp.status.is_success() => Ok(resp),
        Some(Ok(resp)) => {
            let body = read_body(
                ports,
                resp.body,
                general.stream_idle_timeout_ms,
                1024 * 1024,
            )
            .await
            .unwrap_or_default();
            let mut err = decode_error(resp.status, &resp.headers, &body, deployment);
            if matches!(
                err.kind,
                ErrorKind::Authentication | ErrorKind::PermissionDenied
            ) {
                // The client's own key was fine: say whose credentials failed.
                err.message = format!(
                    "The upstream provider `{}` rejected the gateway's credentials: {}",
                    deployment.provider.id, err.message
                );
            }
            Err(codec::redact_credentials(
                err,
                deployment,
                request.headers(),
            ))
        }
    }
}
