//! Stage 8: settle and observe. The reservation [`super::admit`] made is
//! settled with what the exchange used, and the exchange is observed: its
//! access log line. A whole answer is settled as the handler returns; a
//! stream when it ends.
//!
//! The log line is written in place, not through `Background`: on Workers
//! every deferred future is a JS promise and `waitUntil` call per request,
//! the p99 budget's enemy, and a line is one `console.log`. Ledger writes,
//! which are IO, go through `Background`, and only for virtual keys.
//!
//! Settlement rule: an answer whose usage is known is charged its cost and
//! tokens; a failed exchange (an error status, nothing served) is charged
//! nothing but its request; a stream that ends without usage (the client
//! left, the upstream broke off) keeps its whole reservation: never zero.

use serde_json::json;

use super::Exchange;
use crate::cost::{completion_cost, TokenUsage};
use crate::keys::charge::{self, nano, usd};
use crate::ports::{Background, Clock, Ports};
use crate::relays::output_guard::OutputCounts;
use crate::state::accounts::Op;
use crate::stream::{OnDone, StreamOutcome};
use crate::telemetry::Record;

/// How long spend log entries are kept.
pub const SPEND_LOG_TTL_MS: u64 = 30 * 86_400_000;

/// Settles the exchange's reservation, if it holds one, in the background.
pub fn settle(ports: &impl BackgroundClock, ex: &Exchange) {
    let Some(held) = ex.held.clone() else {
        return;
    };
    // An error with usage (an answer the output guard refused) was paid
    // for upstream: it is charged like any answer.
    let failed = ex.status >= 400 && ex.usage.is_none();
    let (tokens, cost) = if failed {
        (Some(0), Some(0))
    } else {
        let tokens = ex
            .usage
            .map(|u| u.input_tokens.saturating_add(u.output_tokens) as i64);
        let free = ex
            .prices
            .as_deref()
            .is_none_or(|p| p.is_free() || !p.is_known());
        let cost = match ex.cost {
            Some(c) => Some(nano(c)),
            None if free && ex.usage.is_some() => Some(0),
            None => None,
        };
        (tokens, cost)
    };
    let now = ports.now_ms();
    let id = &held.identity;
    let adds = charge::settle(&held.holds, tokens, cost);
    let spent = charge::charged(&held.holds, cost);
    let mut rid = [0u8; 8];
    let _ = held.accounts.random(&mut rid);
    let request_id = rid.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let usage = ex.usage.unwrap_or_default();
    let entry = json!({
        "request_id": request_id,
        "api_key": id.key.token,
        "key_alias": id.key.key_alias,
        "user": id.key.user_id,
        "team_id": id.key.team_id,
        "model": held.model,
        "provider": ex.provider,
        "status": ex.status,
        "startTime": ex.ts,
        "endTime": now,
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "spend": usd(spent),
        "spend_nano": spent,
        "usage_known": tokens.is_some(),
    });
    let settle = Op::Settle {
        now_ms: now,
        adds,
        id: request_id,
        entry,
        expires_ms: now + SPEND_LOG_TTL_MS,
    };
    ports.defer(Box::pin(async move {
        let ledger = held.identity.key.ledger.as_str();
        // A settlement that fails leaves the reservation charged in full,
        // the stated rule for reservations nobody settles.
        let _ = held.accounts.call(ledger, settle).await;
    }));
}

/// The ports settlement needs.
pub trait BackgroundClock: Background + Clock {}
impl<T: Background + Clock> BackgroundClock for T {}

/// Observes a finished exchange: its log line, and its export to the
/// `[[telemetry]]` sinks (after the response, through `Background`).
pub fn observe<P: Ports>(ports: &P, ex: &Exchange) {
    ports.log(&ex.log_line());
    if let Some(t) = ex.telemetry.as_ref().filter(|_| !ex.model.is_empty()) {
        t.record(ports, record_of(ex, ports.now_ms()));
    }
}

/// What the exporters see of an exchange: no body, no key value.
pub fn record_of(ex: &Exchange, now_ms: u64) -> Record {
    let error = match ex.status {
        _ if ex.client_gone => Some("client_gone"),
        429 => Some("rate_limited"),
        400..=499 => Some("client_error"),
        500.. => Some("server_error"),
        _ if ex.error.is_some() => Some("stream_error"),
        _ => None,
    };
    Record {
        start_ms: ex.ts,
        end_ms: now_ms.max(ex.ts),
        path: ex.path.clone(),
        status: ex.status,
        stream: ex.stream,
        request_model: ex.model.clone(),
        response_model: ex.upstream_model.clone(),
        provider: ex.provider.to_owned(),
        deployment: ex.deployment.clone(),
        attempts: ex.attempts,
        cache: ex.cache.as_str(),
        input_tokens: ex.usage.map(|u| u.input_tokens),
        output_tokens: ex.usage.map(|u| u.output_tokens),
        cost: ex.cost,
        error: error.map(str::to_owned),
        key: ex.key.clone(),
        team: ex.team.clone(),
        ttft_ms: ex.ttft_ms,
        tries: ex.tries.clone(),
        content: ex.content.as_ref().map(|c| c.export()),
    }
}

/// The exchange of a stream is settled and observed when the stream ends.
pub fn stream_settler<P: Ports>(ports: P, ex: &mut Exchange) -> OnDone {
    ex.deferred = true;
    // Not `Send` in the Worker (its log function is not), which has one thread.
    #[allow(clippy::arc_with_non_send_sync)]
    let counts = std::sync::Arc::new(OutputCounts::default());
    ex.output_counts = Some(counts.clone());
    // The deployment counts this attempt in flight until the stream ends.
    let busy = ex.busy.take();
    let mut line = ex.clone();
    line.output_counts = None;
    line.status = 200;
    OnDone::new(move |outcome: StreamOutcome| {
        line.latency_ms = ports.now_ms().saturating_sub(line.ts);
        line.usage = outcome.usage;
        line.cost = line
            .prices
            .as_deref()
            .zip(outcome.usage)
            .and_then(|(p, u)| completion_cost(p, &TokenUsage::from(u)));
        line.error = outcome.error;
        line.client_gone = outcome.client_gone;
        if let Some(busy) = busy {
            if let (true, None, Some(u)) = (outcome.completed, &line.error, outcome.usage) {
                busy.completed(ports.now_ms(), u.output_tokens);
            }
        }
        if let Some(clean) = &line.clean_end {
            let ok = outcome.completed && line.error.is_none() && !outcome.client_gone;
            clean.store(ok, std::sync::atomic::Ordering::SeqCst);
        }
        settle(&ports, &line);
        // The line carries what an output guard found, once it has checked
        // the text it held at the end.
        counts.log_after(move |report| {
            super::relay::add_report(&mut line.guardrails, report);
            observe(&ports, &line);
        });
    })
}
