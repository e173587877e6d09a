//! Same-format streaming: an OpenAI-compatible upstream's SSE relayed to an
//! OpenAI client event by event as it arrives, with three jobs on the way:
//! read usage for accounting, hide the usage chunk the gateway asked for on
//! its own behalf, and never let a broken upstream look like a clean end.

use bytes::{Bytes, BytesMut};

use crate::codec::openai_chat::{usage_from_wire, ChunkProbe};
use crate::error::{ErrorKind, GatewayError};
use crate::ingress::openai_chat::{render_error_event, DONE_EVENT};
use crate::ports::{ByteStream, Clock, MaybeSend, MaybeSync, Sleep};
use crate::stream::sse::{Decoder, Event};
use crate::stream::{drive, BodyStream, Joiner, OnDone, Relay, StreamOutcome};
use crate::unified::Usage;

use crate::catalog::Prices;
use crate::cost::{completion_cost, TokenUsage};
use std::sync::Arc;

/// The per-stream state, independent of any IO: feed upstream bytes in,
/// take client bytes out. The async wrapper below only adds the waiting.
#[derive(Default)]
pub struct RelayState {
    decoder: Decoder,
    strip_usage_chunk: bool,
    pub usage: Option<Usage>,
    saw_done: bool,
    saw_finish: bool,
    /// Set once the relay must stop: after `[DONE]`, an in-band error, or a fault.
    pub finished: bool,
    pub error: Option<String>,
    prices: Option<Arc<Prices>>,
}

impl RelayState {
    /// Adds `cost` to the usage chunk(s) passed to the client.
    pub fn with_prices(mut self, prices: Option<Arc<Prices>>) -> Self {
        self.prices = prices;
        self
    }

    pub fn new(strip_usage_chunk: bool) -> Self {
        RelayState {
            strip_usage_chunk,
            ..RelayState::default()
        }
    }

    /// Consumes one upstream chunk; returns what to send to the client now.
    pub fn push(&mut self, chunk: &[u8]) -> Option<Bytes> {
        self.decoder.push(chunk);
        let mut out = Joiner::default();
        while !self.finished {
            let Some(event) = self.decoder.next_event() else {
                break;
            };
            if let Some(bytes) = self.on_event(event) {
                out.push(bytes);
            }
        }
        out.finish()
    }

    /// The upstream body ended; returns the last bytes for the client.
    pub fn end(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        if !self.finished {
            if let Some(tail) = self.decoder.finish() {
                if let Some(b) = self.on_event(tail) {
                    out.extend_from_slice(&b);
                }
            }
        }
        if !self.finished {
            if self.saw_finish {
                // Some compatible servers close after the final chunk without
                // `[DONE]`: the answer is whole, so end it the standard way.
                out.extend_from_slice(DONE_EVENT);
                self.saw_done = true;
            } else {
                out.extend_from_slice(
                    &self
                        .fail("The upstream stream ended before the response was complete.".into()),
                );
            }
            self.finished = true;
        }
        (!out.is_empty()).then(|| out.freeze())
    }

    /// The upstream broke or went silent: an error event for the client.
    pub fn fail(&mut self, message: String) -> Bytes {
        self.finished = true;
        let err = GatewayError::new(ErrorKind::UpstreamUnavailable, message.clone())
            .with_code("upstream_stream_error");
        self.error = Some(message);
        render_error_event(&err)
    }

    pub fn completed(&self) -> bool {
        self.saw_done && self.error.is_none()
    }

    fn on_event(&mut self, event: Event) -> Option<Bytes> {
        let data = &event.data[..];
        if data.is_empty() {
            // Comments and keep-alives keep idle connections open downstream too.
            return Some(event.raw);
        }
        if data == b"[DONE]" {
            self.saw_done = true;
            self.finished = true;
            return Some(event.raw);
        }
        let probe: ChunkProbe = match serde_json::from_slice(data) {
            Ok(p) => p,
            Err(e) => {
                return Some(self.fail(format!("The upstream sent malformed stream data ({e}).")))
            }
        };
        if probe.error.is_some() {
            // Already an OpenAI-style error event: relay it and stop.
            self.error = Some("upstream sent an error event".into());
            self.finished = true;
            return Some(event.raw);
        }
        let choices = probe.choices.unwrap_or_default();
        if choices.iter().any(|c| c.finish_reason.is_some()) {
            self.saw_finish = true;
        }
        if let Some(u) = &probe.usage {
            let usage = usage_from_wire(u);
            self.usage = Some(usage);
            if self.strip_usage_chunk && choices.is_empty() {
                return None;
            }
            let cost = self
                .prices
                .as_deref()
                .and_then(|p| completion_cost(p, &TokenUsage::from(usage)));
            if let Some(cost) = cost {
                if let Some(json) = crate::cost::splice_cost(data, cost) {
                    let mut out = Vec::with_capacity(json.len() + 8);
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(&json);
                    out.extend_from_slice(b"\n\n");
                    return Some(Bytes::from(out));
                }
            }
        }
        Some(event.raw)
    }
}

/// The async relay: pulls the upstream with an idle timeout (`idle_ms`)
/// and yields client bytes. Chat and text completion streams alike: it
/// reads only `choices[].finish_reason` and `usage`, which both carry in
/// the same places. `include_usage`: the client asked for the usage chunk
/// (otherwise it is read, then dropped); `prices`: that chunk gains `cost`.
pub fn relay<S: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static>(
    ports: S,
    upstream: ByteStream,
    include_usage: bool,
    prices: Option<Arc<Prices>>,
    idle_ms: u64,
    on_done: OnDone,
) -> BodyStream {
    let state = RelayState::new(!include_usage).with_prices(prices);
    drive(ports, upstream, state, idle_ms, on_done)
}

impl Relay for RelayState {
    fn push(&mut self, chunk: &[u8]) -> Option<Bytes> {
        RelayState::push(self, chunk)
    }
    fn end(&mut self) -> Option<Bytes> {
        RelayState::end(self)
    }
    fn fail(&mut self, message: String) -> Bytes {
        RelayState::fail(self, message)
    }
    fn finished(&self) -> bool {
        self.finished
    }
    fn outcome(&self) -> StreamOutcome {
        StreamOutcome {
            usage: self.usage,
            completed: self.completed(),
            error: self.error.clone(),
            client_gone: false,
        }
    }
}
