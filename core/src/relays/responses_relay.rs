//! Same-format Responses streaming: an OpenAI upstream's typed events
//! relayed as they arrive. Deltas pass untouched; only the final
//! `response.completed` / `response.incomplete` is read, for its usage; a
//! `response.failed` or `error` ends the stream as an error, and an upstream
//! that stops before either gets an error event, never a silent end.

use bytes::{Bytes, BytesMut};

use crate::codec::openai_responses::{usage_from_wire, wire};
use crate::error::{ErrorKind, GatewayError};
use crate::ingress::openai_responses::error_event;
use crate::ports::{ByteStream, Clock, MaybeSend, MaybeSync, Sleep};
use crate::stream::sse::{Decoder, Event};
use crate::stream::{drive, BodyStream, Joiner, OnDone, Relay, StreamOutcome};
use crate::unified::Usage;

#[derive(Default)]
pub struct ResponsesRelay {
    decoder: Decoder,
    pub usage: Option<Usage>,
    completed: bool,
    finished: bool,
    error: Option<String>,
}

/// Event kinds that carry only a delta: relayed without being parsed.
fn is_delta(data: &[u8]) -> bool {
    const HEAD: &[u8] = br#"{"type":"response."#;
    data.starts_with(HEAD) && {
        let rest = &data[HEAD.len()..];
        let kind = rest.split(|&b| b == b'"').next().unwrap_or_default();
        kind.ends_with(b".delta")
    }
}

impl ResponsesRelay {
    pub fn push(&mut self, chunk: &[u8]) -> Option<Bytes> {
        self.decoder.push(chunk);
        let mut out = Joiner::default();
        while !self.finished {
            let Some(event) = self.decoder.next_event() else {
                break;
            };
            out.push(self.on_event(event));
        }
        out.finish()
    }

    pub fn end(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        if !self.finished {
            if let Some(tail) = self.decoder.finish() {
                out.extend_from_slice(&self.on_event(tail));
            }
        }
        // After `response.failed` the upstream may just close: that error stands.
        if !self.finished && self.error.is_none() {
            out.extend_from_slice(
                &self.fail("The upstream stream ended before the response was complete.".into()),
            );
        }
        self.finished = true;
        (!out.is_empty()).then(|| out.freeze())
    }

    pub fn fail(&mut self, message: String) -> Bytes {
        self.finished = true;
        let err = GatewayError::new(ErrorKind::UpstreamUnavailable, message.clone())
            .with_code("upstream_stream_error");
        self.error = Some(message);
        error_event(&err)
    }

    fn on_event(&mut self, event: Event) -> Bytes {
        let data = &event.data[..];
        if data.is_empty() || is_delta(data) {
            return event.raw;
        }
        let probe: wire::Event<'_> = match serde_json::from_slice(data) {
            Ok(p) => p,
            Err(e) => return self.fail(format!("The upstream sent malformed stream data ({e}).")),
        };
        match probe.kind.as_ref() {
            "response.completed" | "response.incomplete" => {
                self.usage = probe
                    .response
                    .as_ref()
                    .and_then(|r| r.usage.as_ref())
                    .map(usage_from_wire);
                self.completed = true;
                self.finished = true;
            }
            "response.failed" | "error" => {
                let message = probe
                    .response
                    .and_then(|r| r.error)
                    .or(probe.error)
                    .and_then(|e| e.message)
                    .or(probe.message)
                    .unwrap_or_else(|| "The upstream reported an error mid-response.".into());
                self.error = Some(message);
                // An `error` may follow `response.failed`: keep relaying until it.
                self.finished = probe.kind == "error";
            }
            _ => {}
        }
        event.raw
    }
}

pub fn relay<S: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static>(
    ports: S,
    upstream: ByteStream,
    idle_ms: u64,
    on_done: OnDone,
) -> BodyStream {
    drive(ports, upstream, ResponsesRelay::default(), idle_ms, on_done)
}

impl Relay for ResponsesRelay {
    fn push(&mut self, chunk: &[u8]) -> Option<Bytes> {
        ResponsesRelay::push(self, chunk)
    }
    fn end(&mut self) -> Option<Bytes> {
        ResponsesRelay::end(self)
    }
    fn fail(&mut self, message: String) -> Bytes {
        ResponsesRelay::fail(self, message)
    }
    fn finished(&self) -> bool {
        self.finished
    }
    fn outcome(&self) -> StreamOutcome {
        StreamOutcome {
            usage: self.usage,
            completed: self.completed && self.error.is_none(),
            error: self.error.clone(),
            client_gone: false,
        }
    }
}
