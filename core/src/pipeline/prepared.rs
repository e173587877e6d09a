//! A request as its ingress parsed it, seen by the stages after parsing
//! (send, relay) without knowing the format. Only parsing and the final
//! headers are per format; everything between is one copy of code behind
//! [`Prepared`], whatever the number of ingresses (each copy of the send and
//! relay stages cost about 25 KB of the Worker's gzip upload).

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use super::{Exchange, Ingress};
use crate::catalog::Prices;
use crate::config::Config;
use crate::error::GatewayError;
use crate::model_meta::ModelMeta;
use crate::ports::{ByteStream, MaybeSend, MaybeSync, Ports};
use crate::providers::Codec;
use crate::resolve::Deployment;
use crate::secret::Secret;
use crate::stream::{BodyStream, OnDone, Renderer};
use crate::unified::{ChatChunk, ChatRequest, ChatResponse, Usage};

/// A renderer of any ingress format, for the one translating relay.
pub trait AnyRenderer: Renderer + MaybeSend {}
impl<R: Renderer + MaybeSend> AnyRenderer for R {}

impl Renderer for Box<dyn AnyRenderer> {
    fn chunk(&mut self, chunk: &ChatChunk) -> Option<Bytes> {
        (**self).chunk(chunk)
    }
    fn end(&mut self, usage: Option<Usage>) -> Bytes {
        (**self).end(usage)
    }
    fn error(&mut self, error: &GatewayError) -> Bytes {
        (**self).error(error)
    }
}

/// The [`Ingress`] methods the attempts and relays call, bound to one parsed request.
pub trait Prepared<P: Ports>: MaybeSend + MaybeSync {
    fn id_prefix(&self) -> &'static str;
    fn check(&self, meta: &ModelMeta, body_len: usize) -> Result<(), GatewayError>;
    fn speaks(&self, d: &Deployment) -> bool;
    fn wire_codec(&self, d: &Deployment) -> Codec;
    /// Parses the client's body again: a later attempt must not see the
    /// edits an earlier one made for its deployment.
    fn reparse(&mut self, config: &Config) -> Result<(), GatewayError>;
    fn passthrough_body(
        &mut self,
        d: &Deployment,
        drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError>;
    fn passthrough_request(
        &self,
        body: Vec<u8>,
        d: &Deployment,
        token: Option<&Secret>,
    ) -> Result<http::Request<Bytes>, GatewayError>;
    fn unified(
        &self,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError>;
    fn include_usage(&self) -> bool;
    fn relay(
        &self,
        ports: P,
        upstream: ByteStream,
        prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream;
    fn passthrough_answer(
        &self,
        body: Bytes,
        headers: &HeaderMap,
        d: &Deployment,
    ) -> Result<(Bytes, Option<Usage>), GatewayError>;
    fn render_response(&self, r: &ChatResponse) -> Vec<u8>;
    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        model: &str,
        usage: Option<Usage>,
        prices: &Option<Arc<Prices>>,
    ) -> BodyStream;
    fn renderer(&self, model: &str, prices: Option<Arc<Prices>>) -> Box<dyn AnyRenderer>;
}

/// An ingress with the request it parsed, and the body and headers it
/// parses again from.
pub struct With<'i, 'b, I: Ingress> {
    pub ingress: &'i I,
    pub parsed: I::Parsed<'b>,
    pub body: &'b [u8],
    pub headers: &'b HeaderMap,
}

impl<'b, I, P> Prepared<P> for With<'_, 'b, I>
where
    I: Ingress,
    P: Ports,
{
    fn id_prefix(&self) -> &'static str {
        I::ID_PREFIX
    }
    fn check(&self, meta: &ModelMeta, body_len: usize) -> Result<(), GatewayError> {
        self.ingress.check(&self.parsed, meta, body_len)
    }
    fn speaks(&self, d: &Deployment) -> bool {
        self.ingress.speaks(d)
    }
    fn wire_codec(&self, d: &Deployment) -> Codec {
        self.ingress.wire_codec(d)
    }
    fn reparse(&mut self, config: &Config) -> Result<(), GatewayError> {
        self.parsed = self.ingress.parse(self.body, self.headers)?;
        let mut scratch = Exchange::scratch();
        self.ingress.route(&mut self.parsed, config, &mut scratch)?;
        Ok(())
    }
    fn passthrough_body(
        &mut self,
        d: &Deployment,
        drop_params: bool,
        ex: &mut Exchange,
    ) -> Result<Vec<u8>, GatewayError> {
        self.ingress
            .passthrough_body(&mut self.parsed, d, drop_params, ex)
    }
    fn passthrough_request(
        &self,
        body: Vec<u8>,
        d: &Deployment,
        token: Option<&Secret>,
    ) -> Result<http::Request<Bytes>, GatewayError> {
        self.ingress
            .passthrough_request(&self.parsed, body, d, token, self.headers)
    }
    fn unified(
        &self,
        d: &Deployment,
        drop_params: bool,
        mock: bool,
        ex: &mut Exchange,
    ) -> Result<ChatRequest, GatewayError> {
        self.ingress.unified(&self.parsed, d, drop_params, mock, ex)
    }
    fn include_usage(&self) -> bool {
        self.ingress.include_usage(&self.parsed)
    }
    fn relay(
        &self,
        ports: P,
        upstream: ByteStream,
        prices: Option<Arc<Prices>>,
        idle_ms: u64,
        on_done: OnDone,
    ) -> BodyStream {
        self.ingress
            .relay(ports, upstream, &self.parsed, prices, idle_ms, on_done)
    }
    fn passthrough_answer(
        &self,
        body: Bytes,
        headers: &HeaderMap,
        d: &Deployment,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        self.ingress
            .passthrough_answer(&self.parsed, body, headers, d)
    }
    fn render_response(&self, r: &ChatResponse) -> Vec<u8> {
        self.ingress.render_response(r)
    }
    fn render_chunks(
        &self,
        chunks: &[ChatChunk],
        model: &str,
        usage: Option<Usage>,
        prices: &Option<Arc<Prices>>,
    ) -> BodyStream {
        self.ingress.render_chunks(chunks, model, usage, prices)
    }
    fn renderer(&self, model: &str, prices: Option<Arc<Prices>>) -> Box<dyn AnyRenderer> {
        Box::new(self.ingress.renderer(&self.parsed, model, prices))
    }
}
