//! The core's ports on Lambda: a pooled reqwest client on tokio, the process
//! environment, stdout for logs (CloudWatch), and deferred work that the
//! handler drains before the invocation ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use futures::StreamExt;

/// Lives for the whole execution environment: one connection pool, one env snapshot.
pub struct Shared {
    client: reqwest::Client,
    env: HashMap<String, String>,
    /// Work for after the response is sent (`defer_after`), run before the
    /// next invocation is taken.
    after: Mutex<Vec<BoxFuture<'static, ()>>>,
}

impl Shared {
    pub fn from_process_env() -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Shared {
            client,
            env: std::env::vars().collect(),
            after: Mutex::default(),
        }
    }

    /// Awaits the work deferred until after the response, including work
    /// deferred meanwhile.
    pub async fn run_after(&self) {
        loop {
            let batch: Vec<_> = match self.after.lock() {
                Ok(mut q) => q.drain(..).collect(),
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            futures::future::join_all(batch).await;
        }
    }
}

impl Env for Shared {
    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Per invocation: the shared parts plus this invocation's deferred work.
#[derive(Clone)]
pub struct LambdaPorts {
    shared: Arc<Shared>,
    deferred: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl LambdaPorts {
    pub fn new(shared: Arc<Shared>) -> Self {
        LambdaPorts {
            shared,
            deferred: Arc::default(),
        }
    }

    /// Awaits everything deferred so far, including work deferred meanwhile.
    pub async fn run_deferred(&self) {
        loop {
            let batch: Vec<_> = match self.deferred.lock() {
                Ok(mut q) => q.drain(..).collect(),
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            futures::future::join_all(batch).await;
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    // The URL is left out on purpose: some providers put credentials in it.
    let mut text = e.without_url_ref();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        if self.is_connect() {
            "connection failed".into()
        } else if self.is_timeout() {
            "timed out".into()
        } else if self.is_body() || self.is_decode() {
            "response body error".into()
        } else {
            "request failed".into()
        }
    }
}

impl HttpClient for LambdaPorts {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let (parts, body) = req.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string())
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let response = self
            .shared
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| TransportError::Connect(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes_stream()
            .map(|r| r.map_err(|e| TransportError::Interrupted(describe(&e))));
        Ok(UpstreamResponse {
            status,
            headers,
            body: Box::pin(body),
        })
    }
}

impl Clock for LambdaPorts {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

impl Sleep for LambdaPorts {
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await
    }
}

impl Background for LambdaPorts {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        if let Ok(mut q) = self.deferred.lock() {
            q.push(work);
        }
    }

    fn defer_after(&self, work: BoxFuture<'static, ()>) {
        if let Ok(mut q) = self.shared.after.lock() {
            q.push(work);
        }
    }
}

impl Env for LambdaPorts {
    fn var(&self, name: &str) -> Option<String> {
        self.shared.var(name)
    }
}

impl Log for LambdaPorts {
    fn log(&self, line: &str) {
        println!("{line}");
    }
}

/// One JSON line for CloudWatch (the shell's own events; never secrets).
pub fn log_json(line: &serde_json::Value) {
    println!("{line}");
}
