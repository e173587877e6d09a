//! Cross-format streaming: upstream bytes → codec's unified chunks → the
//! ingress format's events, as they arrive. Failure after the first byte
//! becomes the ingress format's own error event, never a silent end.

use bytes::Bytes;

use crate::codec::StreamDecoder;
use crate::error::GatewayError;
use crate::ports::{ByteStream, Clock, MaybeSend, MaybeSync, Sleep};
pub use crate::stream::Renderer;
use crate::stream::{drive, BodyStream, OnDone, Relay, StreamOutcome};
use crate::unified::{ChatChunk, Usage};

/// The per-stream state without IO: push upstream bytes, get client bytes.
pub struct TranslateState<R> {
    decoder: StreamDecoder,
    renderer: R,
    pub usage: Option<Usage>,
    saw_finish: bool,
    pub finished: bool,
    pub error: Option<String>,
}

impl<R: Renderer> TranslateState<R> {
    pub fn new(decoder: StreamDecoder, renderer: R) -> Self {
        TranslateState {
            decoder,
            renderer,
            usage: None,
            saw_finish: false,
            finished: false,
            error: None,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Option<Bytes> {
        let result = self.decoder.push(bytes);
        let mut out = self.render(result);
        if !self.finished && self.decoder.is_done() {
            out.extend_from_slice(&self.renderer.end(self.usage));
            self.finished = true;
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    pub fn end(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let result = self.decoder.finish();
        let mut out = self.render(result);
        if !self.finished {
            if self.decoder.is_done() || self.saw_finish {
                out.extend_from_slice(&self.renderer.end(self.usage));
            } else {
                out.extend_from_slice(&self.fail(crate::codec::openai_chat::stream_error(
                    "The upstream stream ended before the response was complete.".into(),
                )));
            }
            self.finished = true;
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    pub fn fail(&mut self, error: GatewayError) -> Bytes {
        self.finished = true;
        self.error = Some(error.message.clone());
        self.renderer.error(&error)
    }

    pub fn completed(&self) -> bool {
        self.finished && self.error.is_none()
    }

    fn render(&mut self, result: Result<Vec<ChatChunk>, GatewayError>) -> Vec<u8> {
        let mut out = Vec::new();
        match result {
            Ok(chunks) => {
                for chunk in &chunks {
                    if chunk.usage.is_some() {
                        self.usage = chunk.usage;
                    }
                    if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
                        self.saw_finish = true;
                    }
                    if let Some(b) = self.renderer.chunk(chunk) {
                        out.extend_from_slice(&b);
                    }
                }
            }
            Err(e) => out.extend_from_slice(&self.fail(e)),
        }
        out
    }
}

/// The async wrapper: pulls the upstream with an idle timeout.
pub fn translate<S, R>(
    ports: S,
    upstream: ByteStream,
    state: TranslateState<R>,
    idle_ms: u64,
    on_done: OnDone,
) -> BodyStream
where
    S: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static,
    R: Renderer + MaybeSend + 'static,
{
    drive(ports, upstream, state, idle_ms, on_done)
}

impl<R: Renderer> Relay for TranslateState<R> {
    fn push(&mut self, chunk: &[u8]) -> Option<Bytes> {
        TranslateState::push(self, chunk)
    }
    fn end(&mut self) -> Option<Bytes> {
        TranslateState::end(self)
    }
    fn fail(&mut self, message: String) -> Bytes {
        TranslateState::fail(self, crate::codec::openai_chat::stream_error(message))
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
