//! The core's ports on the Workers runtime.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::UPSTREAM_SUCCESS_HEADERS;
use futures::StreamExt;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

#[derive(Clone)]
pub struct WorkerPorts {
    env: Rc<worker::Env>,
    ctx: Rc<worker::Context>,
}

impl WorkerPorts {
    pub fn new(env: worker::Env, ctx: worker::Context) -> Self {
        WorkerPorts {
            env: Rc::new(env),
            ctx: Rc::new(ctx),
        }
    }
}

impl HttpClient for WorkerPorts {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let (parts, body) = req.into_parts();
        let headers = Headers::new();
        for (name, value) in &parts.headers {
            let value = value
                .to_str()
                .map_err(|_| TransportError::InvalidRequest(format!("header {name}")))?;
            headers
                .append(name.as_str(), value)
                .map_err(|_| TransportError::InvalidRequest(format!("header {name}")))?;
        }
        let method = Method::from(parts.method.as_str().to_owned());
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers);
        if !body.is_empty() {
            let array = js_sys::Uint8Array::from(&body[..]);
            init.with_body(Some(array.into()));
        }
        let request = Request::new_with_init(&parts.uri.to_string(), &init)
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        let status = http::StatusCode::from_u16(response.status_code())
            .unwrap_or(http::StatusCode::BAD_GATEWAY);
        let mut header_map = http::HeaderMap::new();
        let upstream_headers = response.headers();
        if status.is_success() {
            for name in UPSTREAM_SUCCESS_HEADERS {
                if let Some(value) = upstream_headers.get(name).ok().flatten() {
                    if let Ok(v) = http::HeaderValue::from_str(&value) {
                        header_map.insert(*name, v);
                    }
                }
            }
        } else {
            for (name, value) in upstream_headers.entries() {
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_str(&value),
                ) {
                    header_map.append(n, v);
                }
            }
        }
        let body = response
            .stream()
            .map_err(|e| TransportError::Interrupted(e.to_string()))?
            .map(|chunk| {
                chunk
                    .map(Bytes::from)
                    .map_err(|e| TransportError::Interrupted(e.to_string()))
            });
        Ok(UpstreamResponse {
            status,
            headers: header_map,
            body: Box::pin(body),
        })
    }
}

impl Clock for WorkerPorts {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
}

impl Sleep for WorkerPorts {
    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await
    }
}

impl Background for WorkerPorts {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.ctx.wait_until(work);
    }
}

thread_local! {
    /// Vars and secrets are fixed for the life of an isolate; each uncached
    /// lookup is a round trip into JS (and a thrown error when absent).
    static ENV_CACHE: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

impl Env for WorkerPorts {
    fn var(&self, name: &str) -> Option<String> {
        if let Some(hit) = ENV_CACHE.with(|c| c.borrow().get(name).cloned()) {
            return hit;
        }
        let value = self
            .env
            .secret(name)
            .map(|s| s.to_string())
            .or_else(|_| self.env.var(name).map(|v| v.to_string()))
            .ok();
        ENV_CACHE.with(|c| c.borrow_mut().insert(name.to_owned(), value.clone()));
        value
    }
}

impl Log for WorkerPorts {
    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }
}
