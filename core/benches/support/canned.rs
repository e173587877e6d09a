//! In-memory ports for the benches: the gateway minus the network.

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use http::{HeaderMap, StatusCode};

/// Answers every request with a recorded body, instantly.
#[derive(Clone)]
pub struct Canned {
    pub body: Bytes,
}

impl HttpClient for Canned {
    async fn send(&self, _req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            HeaderMap::new(),
            self.body.clone(),
        ))
    }
}
impl Clock for Canned {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Canned {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Canned {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Canned {
    fn var(&self, name: &str) -> Option<String> {
        (name == "DX_MASTER_KEY").then(|| "sk-bench".to_owned())
    }
}
impl Log for Canned {
    fn log(&self, line: &str) {
        std::hint::black_box(line);
    }
}

/// Drives one request to the last byte of its response.
pub fn run(gw: &dx_core::Bound<Canned>, req: dx_core::IncomingRequest) -> usize {
    use futures::StreamExt;
    futures::executor::block_on(async {
        match gw.handle(req).await.into_body() {
            dx_core::Body::Full(b) => b.len(),
            dx_core::Body::Stream(mut s) => {
                let mut n = 0;
                while let Some(b) = s.next().await {
                    n += b.len();
                }
                n
            }
            dx_core::Body::Empty => 0,
        }
    })
}
