//! Same-format streaming for Anthropic: an Anthropic-format upstream's events
//! relayed to an Anthropic client byte for byte as they arrive, with usage
//! read off `message_start` / `message_delta` for accounting, and a broken
//! upstream turned into Anthropic's own `event: error` instead of a silent end.

use bytes::{Bytes, BytesMut};

use crate::codec::anthropic::{merge_usage, usage_from_wire, wire};
use crate::error::{ErrorKind, GatewayError};
use crate::ingress::anthropic_messages::error_event;
use crate::ports::{ByteStream, Clock, MaybeSend, MaybeSync, Sleep};
use crate::stream::sse::{Decoder, Event};
use crate::stream::{drive, BodyStream, Joiner, OnDone, Relay, StreamOutcome};
use crate::unified::Usage;

/// The per-stream state without IO: upstream bytes in, client bytes out.
#[derive(Default)]
pub struct RelayState {
    decoder: Decoder,
    usage: Option<wire::Usage>,
    saw_stop: bool,
    /// Set once the relay must stop: after `message_stop`, an error event, or a fault.
    pub finished: bool,
    pub error: Option<String>,
}

impl RelayState {
    pub fn new() -> Self {
        RelayState::default()
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(usage_from_wire)
    }

    pub fn completed(&self) -> bool {
        self.saw_stop && self.error.is_none()
    }

    /// Consumes one upstream chunk; returns what to send to the client now.
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

    /// The upstream body ended; returns the last bytes for the client.
    pub fn end(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        if !self.finished {
            if let Some(tail) = self.decoder.finish() {
                // A last event without its blank line is kept when whole; a
                // fragment of one (the connection broke inside it) is not.
                if serde_json::from_slice::<serde::de::IgnoredAny>(&tail.data).is_ok() {
                    out.extend_from_slice(&self.on_event(tail));
                }
            }
        }
        if !self.finished {
            out.extend_from_slice(
                &self.fail("The upstream stream ended before the response was complete.".into()),
            );
        }
        (!out.is_empty()).then(|| out.freeze())
    }

    /// The upstream broke or went silent: an error event for the client.
    pub fn fail(&mut self, message: String) -> Bytes {
        self.finished = true;
        let err = GatewayError::new(ErrorKind::UpstreamUnavailable, message.clone())
            .with_code("upstream_stream_error");
        self.error = Some(message);
        error_event(&err)
    }

    fn on_event(&mut self, event: Event) -> Bytes {
        if event.data.is_empty() {
            // Comments and keep-alives keep idle connections open downstream too.
            return event.raw;
        }
        let name = event.event.as_deref().unwrap_or_default();
        // Only the events that carry usage or end the stream are parsed;
        // content deltas go through untouched.
        let needs_parse = matches!(
            name,
            b"message_start" | b"message_delta" | b"message_stop" | b"error" | b""
        );
        if !needs_parse {
            return event.raw;
        }
        let ev: wire::Event<'_> = match serde_json::from_slice(&event.data) {
            Ok(ev) => ev,
            Err(e) => return self.fail(format!("The upstream sent malformed stream data ({e}).")),
        };
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(m) = ev.message {
                    self.usage = Some(m.usage);
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    match self.usage.as_mut() {
                        Some(total) => merge_usage(total, &u),
                        None => self.usage = Some(u),
                    }
                }
            }
            "message_stop" => {
                self.saw_stop = true;
                self.finished = true;
            }
            "error" => {
                self.error = Some(ev.error.map_or_else(
                    || "upstream sent an error event".to_owned(),
                    |e| e.message.into_owned(),
                ));
                self.finished = true;
            }
            _ => {}
        }
        if name.is_empty() {
            return named(&ev.kind, &event.raw);
        }
        event.raw
    }
}

/// An event the upstream sent without its `event:` line, given the one its
/// `type` says. Anthropic's SDKs dispatch on the event name and skip unnamed
/// events, so without it even an `error` would end the stream silently.
fn named(kind: &str, raw: &Bytes) -> Bytes {
    let plain = !kind.is_empty()
        && kind.len() <= 64
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plain {
        return raw.clone();
    }
    let mut out = BytesMut::with_capacity(raw.len() + kind.len() + 8);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(raw);
    out.freeze()
}

/// The async relay: pulls the upstream with an idle timeout and yields client bytes.
pub fn relay<S: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static>(
    ports: S,
    upstream: ByteStream,
    idle_ms: u64,
    on_done: OnDone,
) -> BodyStream {
    drive(ports, upstream, RelayState::new(), idle_ms, on_done)
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
            usage: self.usage(),
            completed: self.completed(),
            error: self.error.clone(),
            client_gone: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL_USE: &[u8] =
        include_bytes!("../../../fixtures/anthropic/messages-stream-tool-use.sse");

    fn run(input: &[&[u8]]) -> (Vec<u8>, RelayState) {
        let mut r = RelayState::new();
        let mut out = Vec::new();
        for piece in input {
            if let Some(b) = r.push(piece) {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = r.end() {
            out.extend_from_slice(&b);
        }
        (out, r)
    }

    #[test]
    fn relays_byte_for_byte_and_reads_usage() {
        for step in [1, 10, 333, TOOL_USE.len()] {
            let pieces: Vec<&[u8]> = TOOL_USE.chunks(step).collect();
            let (out, r) = run(&pieces);
            // The recording ends without the last blank line; the relay ends
            // the event for the client.
            assert!(out == [TOOL_USE, b"\n\n"].concat(), "step {step}");
            assert!(r.completed());
            let u = r.usage().unwrap();
            assert_eq!((u.input_tokens, u.output_tokens), (377, 65));
        }
    }

    #[test]
    fn a_cut_stream_ends_with_an_error_event() {
        let cut = TOOL_USE.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
        let (out, r) = run(&[&TOOL_USE[..cut + 40]]);
        // The whole first event, not the fragment of the second.
        assert!(out.starts_with(&TOOL_USE[..cut]));
        let tail = std::str::from_utf8(&out[cut..]).unwrap();
        assert!(
            tail.starts_with(
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""
            ),
            "{tail}"
        );
        assert!(!r.completed());
        assert!(r.error.unwrap().contains("ended before"));
    }

    #[test]
    fn upstream_error_events_pass_and_end_the_stream() {
        let err = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let at = TOOL_USE[..400]
            .windows(2)
            .rposition(|w| w == b"\n\n")
            .unwrap()
            + 2;
        let (out, r) = run(&[&TOOL_USE[..at], err, b"event: ping\ndata: {}\n\n"]);
        assert!(
            out.ends_with(err),
            "the upstream's error event is the last thing sent"
        );
        assert!(r.finished && !r.completed());
        assert_eq!(r.error.as_deref(), Some("Overloaded"));
    }

    #[test]
    fn garbage_becomes_an_error_event() {
        let (out, r) = run(&[b"data: {not json\n\n"]);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("event: error\n"), "{text}");
        assert!(r.error.unwrap().contains("malformed"));
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_ended() {
        let wire: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}";
        let (out, r) = run(&[wire]);
        assert!(r.completed());
        assert!(
            out.ends_with(b"data: {\"type\":\"message_stop\"}\n\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn unnamed_events_get_the_name_their_type_gives() {
        let wire: &[u8] = b"data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n";
        let (out, r) = run(&[wire]);
        assert!(
            out.starts_with(b"event: error\ndata: "),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(r.error.as_deref(), Some("busy"));
        // A type that is not a plain name is not copied into an event line.
        let wire: &[u8] = b"data: {\"type\":\"x\\ny\"}\n\n";
        let (out, _) = run(&[wire]);
        assert!(out.starts_with(b"data: "));
    }
}
