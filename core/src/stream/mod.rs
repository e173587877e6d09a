//! Streaming: SSE framing and the relays that carry upstream streams to clients.

pub mod anthropic_relay;
pub mod eventstream;
pub mod ndjson;
pub mod openai_relay;
pub mod sse;
pub mod translate;

use bytes::Bytes;

use crate::ports::{BoxStream, MaybeSend};
use crate::unified::Usage;

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
