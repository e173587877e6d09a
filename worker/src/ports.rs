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

use crate::fnv::FnvBuild;
use std::future::Future as _;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

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

    /// Runs `work` after the response, within the event's lifetime.
    pub fn wait_until(&self, work: impl std::future::Future<Output = ()> + 'static) {
        let promise = crate::task::deferred_promise(async move {
            work.await;
            JsValue::UNDEFINED
        });
        // Without a context (a scheduled event) it runs on its own: the
        // handler outlives it.
        if let Some(ctx) = &self.ctx {
            let ctx: &worker::worker_sys::Context = (**ctx).as_ref();
            crate::glue::wait_until(ctx, &promise);
        }
    }
}

/// `fetch` through `glue.js`: one call builds and sends the request and, for
/// a buffered or failed answer, reads the whole body too.
impl HttpClient for WorkerPorts {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let (parts, body) = req.into_parts();
        let whole = parts.extensions.get::<ReadWhole>().is_some();
        let headers = crate::glue::flatten_headers(&parts.headers);
        let url = parts.uri.to_string();
        let (body, head) = crate::glue::Settled::start(|key| {
            SUCCESS_HEADER_NAMES.with(|names| {
                crate::glue::send(
                    &url,
                    parts.method.as_str(),
                    &headers,
                    &body,
                    whole,
                    names,
                    key,
                )
            })
        })
        .await
        .map_err(send_error)?;
        let head = head.unwrap_or_default();
        let mut lines = head.split('\n');
        let status = lines
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|s| http::StatusCode::from_u16(s).ok())
            .unwrap_or(http::StatusCode::BAD_GATEWAY);
        let header_map = crate::glue::parse_headers(lines);
        // A string in place of the body: reading it failed.
        if let Some(error) = body.as_string() {
            return Err(TransportError::Interrupted(error));
        }
        if let Some(bytes) = body.dyn_ref::<js_sys::Uint8Array>() {
            let bytes = Bytes::from(bytes.to_vec());
            return Ok(UpstreamResponse::full(status, header_map, bytes));
        }
        let body: ByteStream = if body.is_object() {
            JsBody::stream(body)
        } else {
            Box::pin(futures::stream::empty())
        };
        Ok(UpstreamResponse {
            status,
            headers: header_map,
            body,
        })
    }
}

/// An upstream body read chunk by chunk through `glue.js` (`readChunk`):
/// per chunk one promise and one call back into wasm, where a
/// `ReadableStream` adapter costs fresh closures for every read. Dropped
/// before its end (the client went away), it cancels the upstream body.
struct JsBody {
    raw: JsValue,
    reader: Option<JsValue>,
    read: Option<crate::glue::Settled>,
    done: bool,
}

impl JsBody {
    fn stream(raw: JsValue) -> ByteStream {
        Box::pin(JsBody {
            raw,
            reader: None,
            read: None,
            done: false,
        })
    }
}

impl futures::Stream for JsBody {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        if this.reader.is_none() {
            match crate::glue::body_reader(&this.raw) {
                Ok(reader) => this.reader = Some(reader),
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(TransportError::Interrupted(js_message(&e)))));
                }
            }
        }
        let Some(reader) = &this.reader else {
            return Poll::Ready(None);
        };
        let read = this.read.get_or_insert_with(|| {
            crate::glue::Settled::start(|key| crate::glue::read_chunk(reader, key))
        });
        let outcome = match Pin::new(read).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(outcome) => outcome,
        };
        this.read = None;
        Poll::Ready(match outcome {
            Ok((chunk, _)) => match chunk.dyn_ref::<js_sys::Uint8Array>() {
                Some(bytes) => Some(Ok(Bytes::from(bytes.to_vec()))),
                None => {
                    this.done = true;
                    None
                }
            },
            Err(e) => {
                this.done = true;
                Some(Err(TransportError::Interrupted(js_message(&e))))
            }
        })
    }
}

impl Drop for JsBody {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let target = self.reader.as_ref().unwrap_or(&self.raw);
        let _ = crate::glue::cancel_reader(target);
    }
}

thread_local! {
    static SUCCESS_HEADER_NAMES: js_sys::Array = crate::glue::names_array(UPSTREAM_SUCCESS_HEADERS);
}

/// `glue.js`'s `send` rejects with `[kind, message]`.
fn send_error(e: JsValue) -> TransportError {
    if let Some(pair) = e.dyn_ref::<js_sys::Array>() {
        let message = pair.get(1).as_string().unwrap_or_default();
        if pair.get(0).as_string().as_deref() == Some("invalid") {
            return TransportError::InvalidRequest(message);
        }
        return TransportError::Connect(message);
    }
    TransportError::Connect(js_message(&e))
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
        js_sys::Date::now() as u64
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
/// It is only armed when first polled, so a race it loses at once (a body
/// already read) costs nothing.
pub(crate) struct Timer {
    ms: u64,
    /// Once armed: its key in `TIMERS` and the `setTimeout` handle.
    armed: Option<(u32, i32)>,
}

#[derive(Default)]
struct TimerSlot {
    fired: bool,
    waker: Option<Waker>,
}

thread_local! {
    /// The armed timers, by key.
    static TIMERS: RefCell<HashMap<u32, TimerSlot, FnvBuild>> = RefCell::new(HashMap::default());
    static NEXT_TIMER: Cell<u32> = const { Cell::new(0) };
    /// One callback for all timers, called with the timer's key (registered
    /// with glue.js on first use): a wasm closure per timer would be a JS
    /// function and a FinalizationRegistry entry per request.
    static ON_TIMER: Closure<dyn FnMut(u32)> = {
        let callback = Closure::new(fire);
        crate::glue::on_timer_fired(&callback);
        callback
    };
}

fn fire(key: u32) {
    let waker = TIMERS.with(|t| {
        let mut timers = t.borrow_mut();
        let slot = timers.get_mut(&key)?;
        slot.fired = true;
        slot.waker.take()
    });
    if let Some(w) = waker {
        crate::task::wake_from_js(w);
    }
}

impl Timer {
    pub(crate) fn new(ms: u64) -> Self {
        Timer {
            // setTimeout takes an i32: longer waits would wrap around and fire at once.
            ms: ms.min(i32::MAX as u64),
            armed: None,
        }
    }
}

impl std::future::Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((key, _)) = self.armed {
            let fired = TIMERS.with(|t| {
                let mut timers = t.borrow_mut();
                match timers.get_mut(&key) {
                    Some(slot) if !slot.fired => {
                        slot.waker = Some(cx.waker().clone());
                        false
                    }
                    _ => true,
                }
            });
            return if fired {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        let key = crate::task::next_key(&NEXT_TIMER);
        let slot = TimerSlot {
            fired: false,
            waker: Some(cx.waker().clone()),
        };
        TIMERS.with(|t| t.borrow_mut().insert(key, slot));
        ON_TIMER.with(|_| ());
        let handle = crate::glue::start_timer(self.ms as i32, key);
        match handle {
            Ok(handle) => {
                self.armed = Some((key, handle));
                Poll::Pending
            }
            // Without a timer the wait cannot end: treat it as elapsed.
            Err(_) => {
                TIMERS.with(|t| t.borrow_mut().remove(&key));
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let Some((key, handle)) = self.armed.take() else {
            return;
        };
        let slot = TIMERS.with(|t| t.borrow_mut().remove(&key));
        if slot.is_some_and(|s| !s.fired) {
            crate::glue::stop_timer(handle);
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
    static ENV_CACHE: RefCell<HashMap<String, Option<String>, FnvBuild>> =
        RefCell::new(HashMap::default());
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

    fn sign_rs256<'a>(
        &'a self,
        pkcs8_der: &'a [u8],
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(crate::glue::sign_rs256(pkcs8_der, message))
    }
}

impl Log for WorkerPorts {
    /// One `console.log` at once (see `logLine` in glue.js for why not later).
    fn log(&self, line: &str) {
        crate::glue::log_line(line);
    }
}
