//! The core's ports on the Workers runtime.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use dx_core::ports::ByteStream;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, ReadWhole, Sleep, TransportError,
    UpstreamResponse,
};
use dx_core::UPSTREAM_SUCCESS_HEADERS;
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

#[derive(Clone)]
pub struct WorkerPorts {
    env: Rc<worker::Env>,
    /// `None` in a scheduled event, whose handler awaits all its work itself.
    ctx: Option<Rc<worker::Context>>,
}

impl WorkerPorts {
    pub fn new(env: worker::Env, ctx: worker::Context) -> Self {
        WorkerPorts {
            env: Rc::new(env),
            ctx: Some(Rc::new(ctx)),
        }
    }

    pub fn scheduled(env: worker::Env) -> Self {
        WorkerPorts {
            env: Rc::new(env),
            ctx: None,
        }
    }

    pub fn env(&self) -> &worker::Env {
        &self.env
    }

    /// Runs `work` after the response, within the event's lifetime.
    pub fn wait_until(&self, work: impl std::future::Future<Output = ()> + 'static) {
        match &self.ctx {
            Some(ctx) => ctx.wait_until(work),
            None => wasm_bindgen_futures::spawn_local(work),
        }
    }
}

/// `fetch` through web-sys directly: workers-rs's `Fetch` converts the JS
/// response into its own type and back, which costs several boundary
/// crossings per request on the hot path.
impl HttpClient for WorkerPorts {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let (parts, body) = req.into_parts();
        let buffered = parts.extensions.get::<ReadWhole>().is_some();
        let invalid = |what: String| TransportError::InvalidRequest(what);
        let headers = web_sys::Headers::new().map_err(|_| invalid("headers".into()))?;
        for (name, value) in &parts.headers {
            let value = value
                .to_str()
                .map_err(|_| invalid(format!("header {name}")))?;
            headers
                .append(name.as_str(), value)
                .map_err(|_| invalid(format!("header {name}")))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(parts.method.as_str());
        init.set_headers(&headers);
        if !body.is_empty() {
            init.set_body(&js_sys::Uint8Array::from(&body[..]));
        }
        let request = web_sys::Request::new_with_str_and_init(&parts.uri.to_string(), &init)
            .map_err(|e| invalid(format!("{e:?}")))?;
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response: web_sys::Response =
            wasm_bindgen_futures::JsFuture::from(global.fetch_with_request(&request))
                .await
                .map_err(|e| TransportError::Connect(js_message(&e)))?
                .unchecked_into();
        let status =
            http::StatusCode::from_u16(response.status()).unwrap_or(http::StatusCode::BAD_GATEWAY);
        let upstream_headers = response.headers();
        let mut header_map = http::HeaderMap::new();
        if status.is_success() {
            for name in UPSTREAM_SUCCESS_HEADERS {
                if let Some(value) = upstream_headers.get(name).ok().flatten() {
                    if let Ok(v) = http::HeaderValue::from_str(&value) {
                        header_map.insert(*name, v);
                    }
                }
            }
        } else {
            copy_all_headers(&upstream_headers, &mut header_map);
        }
        if buffered || !status.is_success() {
            // One arrayBuffer() promise instead of a reader loop across the boundary.
            let promise = response
                .array_buffer()
                .map_err(|_| TransportError::Interrupted("body already used".into()))?;
            let buffer = wasm_bindgen_futures::JsFuture::from(promise)
                .await
                .map_err(|e| TransportError::Interrupted(js_message(&e)))?;
            let bytes = Bytes::from(js_sys::Uint8Array::new(&buffer).to_vec());
            return Ok(UpstreamResponse::full(status, header_map, bytes));
        }
        let body: ByteStream = match response.body() {
            Some(stream) => Box::pin(worker::ByteStream::from(stream).map(|chunk| {
                chunk
                    .map(Bytes::from)
                    .map_err(|e| TransportError::Interrupted(e.to_string()))
            })),
            None => Box::pin(futures::stream::empty()),
        };
        Ok(UpstreamResponse {
            status,
            headers: header_map,
            body,
        })
    }
}

fn copy_all_headers(from: &web_sys::Headers, to: &mut http::HeaderMap) {
    let Ok(Some(entries)) = js_sys::try_iter(from) else {
        return;
    };
    for entry in entries.flatten() {
        let pair: js_sys::Array = entry.unchecked_into();
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            to.append(n, v);
        }
    }
}

/// A JS exception's message, without the stack trace.
fn js_message(e: &wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|err| String::from(err.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "fetch failed".into())
}

impl Clock for WorkerPorts {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
}

impl Sleep for WorkerPorts {
    fn sleep(&self, ms: u64) -> impl std::future::Future<Output = ()> {
        Timer::new(ms)
    }
}

/// `setTimeout` as a future that wakes whichever task polled it last.
/// (workers-rs's `Delay` keeps the waker of its first poll, so a timer kept
/// across polls from different tasks — an idle timeout over a response body
/// that JS pulls chunk by chunk — would never wake its current poller.)
struct Timer {
    ms: u64,
    state: Rc<TimerState>,
    armed: Option<(i32, Closure<dyn FnMut()>)>,
}

#[derive(Default)]
struct TimerState {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Timer {
    fn new(ms: u64) -> Self {
        Timer {
            // setTimeout takes an i32: longer waits would wrap around and fire at once.
            ms: ms.min(i32::MAX as u64),
            state: Rc::default(),
            armed: None,
        }
    }
}

impl std::future::Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.fired.get() {
            return Poll::Ready(());
        }
        *self.state.waker.borrow_mut() = Some(cx.waker().clone());
        if self.armed.is_none() {
            let state = self.state.clone();
            let callback = Closure::<dyn FnMut()>::new(move || {
                state.fired.set(true);
                if let Some(w) = state.waker.borrow_mut().take() {
                    w.wake();
                }
            });
            let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
            match global.set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                self.ms as i32,
            ) {
                Ok(id) => self.armed = Some((id, callback)),
                // Without a timer the wait cannot end: treat it as elapsed.
                Err(_) => return Poll::Ready(()),
            }
        }
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((id, _)) = self.armed.take() {
            if !self.state.fired.get() {
                let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
                global.clear_timeout_with_handle(id);
            }
        }
    }
}

impl Background for WorkerPorts {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.wait_until(work);
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
