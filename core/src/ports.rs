//! The only ways out of the core. Each shell implements these for its platform.
//!
//! Futures are `Send` on native targets (Lambda runs on a multi-threaded tokio
//! runtime) and not on wasm32 (JS promises are single-threaded), so every bound
//! goes through [`MaybeSend`] instead of naming `Send` directly.

use std::future::Future;

use bytes::Bytes;

use http::{HeaderMap, StatusCode};

#[cfg(not(target_arch = "wasm32"))]
mod send_bounds {
    pub trait MaybeSend: Send {}
    impl<T: Send + ?Sized> MaybeSend for T {}
    pub trait MaybeSync: Sync {}
    impl<T: Sync + ?Sized> MaybeSync for T {}
    pub type BoxStream<'a, T> = std::pin::Pin<Box<dyn futures::Stream<Item = T> + Send + 'a>>;
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

#[cfg(target_arch = "wasm32")]
mod send_bounds {
    pub trait MaybeSend {}
    impl<T: ?Sized> MaybeSend for T {}
    pub trait MaybeSync {}
    impl<T: ?Sized> MaybeSync for T {}
    pub type BoxStream<'a, T> = std::pin::Pin<Box<dyn futures::Stream<Item = T> + 'a>>;
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;
}

pub use send_bounds::{BoxFuture, BoxStream, MaybeSend, MaybeSync};

/// A response body as it arrives from the network, chunk by chunk.
pub type ByteStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// What went wrong below HTTP: the request never got a status line, or the
/// body broke off after it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No connection could be made (DNS, refused, TLS).
    Connect(String),
    /// The connection broke while the body was being read.
    Interrupted(String),
    /// The request could not be built (bad URL, bad header value).
    InvalidRequest(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(m) => write!(f, "could not connect: {m}"),
            TransportError::Interrupted(m) => write!(f, "connection interrupted: {m}"),
            TransportError::InvalidRequest(m) => write!(f, "invalid upstream request: {m}"),
        }
    }
}

/// Status and headers as soon as they arrive; the body streams behind them.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ByteStream,
}

impl UpstreamResponse {
    /// A response whose whole body is already known (tests, the mock provider).
    pub fn full(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        let once = futures::stream::once(async move { Ok(body) });
        UpstreamResponse {
            status,
            headers,
            body: Box::pin(once),
        }
    }
}

/// Request extension: the core will read this response's whole body before
/// using any of it (non-streamed answers, error bodies), so a shell may fetch
/// it in one call instead of chunk by chunk.
#[derive(Debug, Clone, Copy)]
pub struct ReadWhole;

/// Sends one HTTP request. Streaming is the normal case: the future resolves
/// when headers arrive, not when the body ends.
pub trait HttpClient {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> impl Future<Output = Result<UpstreamResponse, TransportError>> + MaybeSend;
}

/// Wall-clock time in milliseconds since the Unix epoch. On Workers this is
/// `Date.now()`, which only advances across IO: good enough for timestamps and
/// windows, not for profiling.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// An async sleep: the only way the core waits (timeouts, backoff).
pub trait Sleep {
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> + MaybeSend;
}

/// Work that must finish after the response has been handed back
/// (Workers: `ctx.wait_until`; Lambda: before the invocation ends).
pub trait Background {
    fn defer(&self, work: BoxFuture<'static, ()>);
    /// Work nobody waits for, not even the end of the response body
    /// (telemetry exports). Lambda runs it once the response is sent, before
    /// the next invocation; elsewhere it is [`Background::defer`].
    fn defer_after(&self, work: BoxFuture<'static, ()>) {
        self.defer(work);
    }
}

/// Deployment-time settings: Worker vars/secrets, Lambda environment; and
/// the platform's signing of service-account tokens.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `message` with an RSA
    /// key in PKCS#8 DER: Vertex AI's service-account tokens. By default
    /// the `rsa` crate; the Worker signs with WebCrypto instead, which keeps
    /// the big-integer code out of its upload.
    fn sign_rs256<'a>(
        &'a self,
        pkcs8_der: &'a [u8],
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        let signed = rs256(pkcs8_der, message);
        Box::pin(async move { signed })
    }
}

#[cfg(feature = "rsa")]
fn rs256(pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, String> {
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8_der).map_err(|_| "not an RSA key")?;
    SigningKey::<sha2::Sha256>::new(key)
        .try_sign(message)
        .map(|s| s.to_vec())
        .map_err(|_| "the key cannot sign".into())
}

#[cfg(not(feature = "rsa"))]
fn rs256(_: &[u8], _: &[u8]) -> Result<Vec<u8>, String> {
    Err("this build signs with its platform's crypto only".into())
}

/// One structured line for the platform's log sink. Callers never pass secrets.
pub trait Log {
    fn log(&self, line: &str);
}

/// Everything a shell hands the core, as one bound.
pub trait Ports:
    HttpClient + Clock + Sleep + Background + Env + Log + Clone + MaybeSend + MaybeSync + 'static
{
}

impl<T> Ports for T where
    T: HttpClient
        + Clock
        + Sleep
        + Background
        + Env
        + Log
        + Clone
        + MaybeSend
        + MaybeSync
        + 'static
{
}

/// An inactivity timeout over a stream that arms one timer and re-arms it
/// only when it fires early, instead of a new timer per chunk: on Workers
/// every timer is a JS closure and a `setTimeout`.
pub struct IdleTimer<P> {
    ports: P,
    idle_ms: u64,
    last_progress_ms: u64,
    timer: Option<BoxFuture<'static, ()>>,
}

impl<P: Sleep + Clock + Clone + MaybeSend + MaybeSync + 'static> IdleTimer<P> {
    pub fn new(ports: P, idle_ms: u64) -> Self {
        let last_progress_ms = ports.now_ms();
        IdleTimer {
            ports,
            idle_ms,
            last_progress_ms,
            timer: None,
        }
    }

    /// The next item of `stream`, or `None` once it has been silent for `idle_ms`.
    pub async fn next<S>(&mut self, stream: &mut S) -> Option<Option<S::Item>>
    where
        S: futures::Stream + Unpin,
    {
        use futures::StreamExt;
        loop {
            let timer = match &mut self.timer {
                Some(t) => t,
                None => {
                    let elapsed = self.ports.now_ms().saturating_sub(self.last_progress_ms);
                    let wait = self.idle_ms.saturating_sub(elapsed).max(1);
                    let ports = self.ports.clone();
                    self.timer
                        .insert(Box::pin(async move { ports.sleep(wait).await }))
                }
            };
            match futures::future::select(stream.next(), timer.as_mut()).await {
                futures::future::Either::Left((item, _)) => {
                    self.last_progress_ms = self.ports.now_ms();
                    return Some(item);
                }
                futures::future::Either::Right(((), _)) => {
                    self.timer = None;
                    let elapsed = self.ports.now_ms().saturating_sub(self.last_progress_ms);
                    if elapsed >= self.idle_ms {
                        return None;
                    }
                }
            }
        }
    }
}

/// Resolves to whichever finishes first: `fut`, or a sleep of `ms`.
pub async fn with_timeout<P: Sleep, F: Future>(ports: &P, ms: u64, fut: F) -> Option<F::Output> {
    let sleep = ports.sleep(ms);
    futures::pin_mut!(fut);
    futures::pin_mut!(sleep);
    match futures::future::select(fut, sleep).await {
        futures::future::Either::Left((out, _)) => Some(out),
        futures::future::Either::Right(((), _)) => None,
    }
}
