//! Streaming: SSE framing and the relays that carry upstream streams to clients.

pub mod eventstream;
pub mod ndjson;
pub mod sniff;
pub mod sse;
pub mod whole;

pub use crate::http::Joiner;

use bytes::Bytes;

use crate::error::GatewayError;
use crate::ports::{BoxStream, ByteStream, Clock, IdleTimer, MaybeSend, MaybeSync, Sleep};
use crate::unified::{ChatChunk, Usage};

/// A response body on its way to the client. Errors are already rendered
/// into the stream (an SSE error event), so the stream itself cannot fail.
pub type BodyStream = BoxStream<'static, Bytes>;

/// How a stream ended, for logs and accounting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOutcome {
    pub usage: Option<Usage>,
    /// The upstream finished properly (`[DONE]` or final finish reasons).
    pub completed: bool,
    /// Why the stream did not complete, if it did not.
    pub error: Option<String>,
    /// The client went away before the end.
    pub client_gone: bool,
}

/// Called exactly once when a stream ends, however it ends: completion,
/// failure, or the client dropping the body (`Drop`).
#[cfg(not(target_arch = "wasm32"))]
type DoneFn = Box<dyn FnOnce(StreamOutcome) + Send>;
#[cfg(target_arch = "wasm32")]
type DoneFn = Box<dyn FnOnce(StreamOutcome)>;

pub struct OnDone(Option<DoneFn>);

impl OnDone {
    pub fn new(f: impl FnOnce(StreamOutcome) + MaybeSend + 'static) -> Self {
        OnDone(Some(Box::new(f)))
    }

    pub fn none() -> Self {
        OnDone(None)
    }

    pub fn fire(&mut self, outcome: StreamOutcome) {
        if let Some(f) = self.0.take() {
            f(outcome);
        }
    }
}

/// A stream relay's state machine, free of IO: upstream bytes in, client
/// bytes out. [`drive`] adds the waiting; each relay only says what to send.
pub trait Relay {
    /// One upstream chunk; what to send the client now.
    fn push(&mut self, chunk: &[u8]) -> Option<Bytes>;
    /// The upstream body ended; the last bytes for the client.
    fn end(&mut self) -> Option<Bytes>;
    /// The upstream broke or went silent: the client's error event.
    fn fail(&mut self, message: String) -> Bytes;
    /// Nothing more will be sent.
    fn finished(&self) -> bool;
    /// How the stream went so far (`client_gone` is the driver's to set).
    fn outcome(&self) -> StreamOutcome;
}

/// Pulls `upstream` with one idle timer, feeds `relay`, yields what it says,
/// and reports the outcome exactly once — when the stream ends or the client
/// drops it.
pub fn drive<P, R>(
    ports: P,
    upstream: ByteStream,
    relay: R,
    idle_ms: u64,
    on_done: OnDone,
) -> BodyStream
where
    P: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static,
    R: Relay + MaybeSend + 'static,
{
    struct St<P, R: Relay> {
        timer: IdleTimer<P>,
        upstream: ByteStream,
        relay: R,
        idle_ms: u64,
        on_done: OnDone,
    }
    impl<P, R: Relay> Drop for St<P, R> {
        fn drop(&mut self) {
            let mut outcome = self.relay.outcome();
            outcome.client_gone = !self.relay.finished();
            self.on_done.fire(outcome);
        }
    }
    let st = St {
        timer: IdleTimer::new(ports, idle_ms),
        upstream,
        relay,
        idle_ms,
        on_done,
    };
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        loop {
            if st.relay.finished() {
                return None;
            }
            let out = match st.timer.next(&mut st.upstream).await {
                None => Some(st.relay.fail(format!(
                    "The upstream sent nothing for {} ms; the stream was abandoned.",
                    st.idle_ms
                ))),
                Some(None) => st.relay.end(),
                Some(Some(Err(e))) => Some(
                    st.relay
                        .fail(format!("The upstream connection broke mid-stream: {e}.")),
                ),
                Some(Some(Ok(chunk))) => st.relay.push(&chunk),
            };
            if let Some(bytes) = out {
                return Some((bytes, st));
            }
        }
    }))
}

/// How unified chunks look to the client: one implementation per ingress format.
pub trait Renderer {
    /// Bytes for one chunk (may be empty when the format has nothing to say).
    fn chunk(&mut self, chunk: &ChatChunk) -> Option<Bytes>;
    /// The normal end of the stream.
    fn end(&mut self, usage: Option<Usage>) -> Bytes;
    /// The stream failed after it started.
    fn error(&mut self, error: &GatewayError) -> Bytes;
}
