//! The request and response conversions between the core's `http` types
//! and the runtime's JS objects, through the few calls of `glue.js` (why:
//! see there), and `Settled`, the future of a promise `glue.js` tracks.
//! Header lists cross as "name:value\n" lines.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use dx_core::{Body, GatewayResponse};
use futures::StreamExt;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::fnv::FnvBuild;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(request: &web_sys::Request, names: &js_sys::Array) -> String;
    #[wasm_bindgen(js_name = onSettled)]
    fn on_settled(callback: &Closure<dyn FnMut(u32, bool, JsValue, Option<String>)>);
    #[wasm_bindgen(js_name = onTimerFired)]
    pub(crate) fn on_timer_fired(callback: &Closure<dyn FnMut(u32)>);
    #[wasm_bindgen(js_name = startTimer, catch)]
    pub(crate) fn start_timer(ms: i32, key: u32) -> Result<i32, JsValue>;
    #[wasm_bindgen(js_name = stopTimer)]
    pub(crate) fn stop_timer(handle: i32);
    #[wasm_bindgen(js_name = requestBody)]
    fn request_body(request: &web_sys::Request, key: u32);
    #[wasm_bindgen(catch)]
    pub(crate) fn send(
        url: &str,
        method: &str,
        headers: &str,
        body: &[u8],
        whole: bool,
        names: &js_sys::Array,
        key: u32,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = respondBytes, catch)]
    fn respond_bytes(status: u16, headers: &str, body: &[u8])
        -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = respondWith, catch)]
    fn respond_with(
        status: u16,
        headers: &str,
        body: &JsValue,
    ) -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = logLine)]
    pub(crate) fn log_line(line: &str);
    #[wasm_bindgen(js_name = useCheapMicrotasks)]
    pub(crate) fn use_cheap_microtasks();
    #[wasm_bindgen(js_name = cacheGet, catch)]
    fn cache_get(url: &str, key: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = cachePut, catch)]
    fn cache_put(url: &str, body: &[u8], ttl_s: u32, key: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = signRs256, catch)]
    fn sign_rs256_js(pkcs8_der: &[u8], message: &[u8], key: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = waitUntil)]
    pub(crate) fn wait_until(ctx: &JsValue, promise: &js_sys::Promise);
    #[wasm_bindgen(js_name = bodyReader, catch)]
    pub(crate) fn body_reader(stream: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = readChunk, catch)]
    pub(crate) fn read_chunk(reader: &JsValue, key: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = cancelReader, catch)]
    pub(crate) fn cancel_reader(reader: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = onBodyEvents)]
    fn on_body_events(drained: &Closure<dyn FnMut(u32)>, cancelled: &Closure<dyn FnMut(u32)>);
    #[wasm_bindgen(js_name = bodyStream)]
    fn body_stream(key: u32) -> JsValue;
    fn enqueue(key: u32, bytes: &[u8]) -> i32;
    #[wasm_bindgen(js_name = closeBody)]
    fn close_body(key: u32);
}

/// An entry of the Cache API (`caches.default`) under `url`, if any.
pub(crate) async fn cached(url: &str) -> Result<Option<Bytes>, String> {
    let (value, _) = Settled::start(|key| cache_get(url, key))
        .await
        .map_err(|e| format!("cache match: {e:?}"))?;
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    Ok(Some(Bytes::from(
        value.unchecked_into::<js_sys::Uint8Array>().to_vec(),
    )))
}

/// Stores `body` under `url` in the Cache API for `ttl_s` seconds.
pub(crate) async fn cache(url: &str, body: &[u8], ttl_s: u32) -> Result<(), String> {
    Settled::start(|key| cache_put(url, body, ttl_s, key))
        .await
        .map(drop)
        .map_err(|e| format!("cache put: {e:?}"))
}

/// RS256 with WebCrypto (`crypto.subtle`), for Vertex AI's service-account
/// tokens: the Worker leaves the `rsa` crate out of its upload.
pub(crate) async fn sign_rs256(pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, String> {
    let (value, _) = Settled::start(|key| sign_rs256_js(pkcs8_der, message, key))
        .await
        .map_err(|_| "WebCrypto refused the key".to_owned())?;
    Ok(value.unchecked_into::<js_sys::Uint8Array>().to_vec())
}

/// A list of header names as a JS array, built once per isolate.
pub(crate) fn names_array(names: &[&str]) -> js_sys::Array {
    names.iter().map(|n| JsValue::from_str(n)).collect()
}

/// What the core needs of an incoming request, before its body.
pub(crate) struct RequestHead {
    pub method: http::Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
}

impl RequestHead {
    pub(crate) fn read(request: &web_sys::Request, names: &js_sys::Array) -> Self {
        let flat = request_head(request, names);
        let mut lines = flat.split('\n');
        let method = lines.next().unwrap_or("GET");
        let url = lines.next().unwrap_or("/");
        let (path, query) = split_url(url);
        RequestHead {
            method: http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers: parse_headers(lines),
        }
    }
}

/// The whole request body.
pub(crate) async fn read_body(request: &web_sys::Request) -> Option<Bytes> {
    let bytes = Settled::start(|key| {
        request_body(request, key);
        Ok(())
    })
    .await
    .ok()?
    .0;
    Some(Bytes::from(
        bytes.unchecked_into::<js_sys::Uint8Array>().to_vec(),
    ))
}

/// A promise that `glue.js` tracks under a key (`track`), as a future of
/// its outcome: the value and the text handed over beside it, or the
/// rejection. Dropped before it settles, the outcome is discarded.
pub(crate) struct Settled {
    key: u32,
    failed: Option<JsValue>,
}

type Outcome = Result<(JsValue, Option<String>), JsValue>;

#[derive(Default)]
struct Slot {
    outcome: Option<Outcome>,
    waker: Option<Waker>,
}

thread_local! {
    static SLOTS: RefCell<HashMap<u32, Slot, FnvBuild>> = RefCell::new(HashMap::default());
    static NEXT_KEY: Cell<u32> = const { Cell::new(0) };
    /// Registered with `glue.js` on first use (again after the instance is
    /// reset: promises of the old instance then reach the old callback).
    static ON_SETTLED: Closure<dyn FnMut(u32, bool, JsValue, Option<String>)> = {
        let callback = Closure::new(settle);
        on_settled(&callback);
        callback
    };
}

fn settle(key: u32, ok: bool, value: JsValue, text: Option<String>) {
    let waker = SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(&key)?;
        slot.outcome = Some(if ok { Ok((value, text)) } else { Err(value) });
        slot.waker.take()
    });
    if let Some(w) = waker {
        crate::task::wake_from_js(w);
    }
}

impl Settled {
    /// Runs `start` with a fresh key; it hands its promise to `glue.js`
    /// under that key, or fails synchronously.
    pub(crate) fn start(start: impl FnOnce(u32) -> Result<(), JsValue>) -> Self {
        ON_SETTLED.with(|_| ());
        let key = crate::task::next_key(&NEXT_KEY);
        SLOTS.with(|s| s.borrow_mut().insert(key, Slot::default()));
        let failed = start(key).err();
        Settled { key, failed }
    }
}

impl Future for Settled {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(e) = self.failed.take() {
            return Poll::Ready(Err(e));
        }
        let key = self.key;
        SLOTS.with(|s| {
            let mut slots = s.borrow_mut();
            let Some(slot) = slots.get_mut(&key) else {
                return Poll::Ready(Err(JsValue::from_str("already settled")));
            };
            match slot.outcome.take() {
                Some(outcome) => {
                    slots.remove(&key);
                    Poll::Ready(outcome)
                }
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        SLOTS.with(|s| s.borrow_mut().remove(&self.key));
    }
}

/// Path and query of a serialized absolute URL (a `Request.url`, which the
/// runtime has already normalized: the first `/` after `scheme://host` starts
/// the path, and `?`/`#` inside the path are percent-encoded).
fn split_url(url: &str) -> (&str, Option<&str>) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = match url[after_scheme..].find('/') {
        Some(i) => &url[after_scheme + i..],
        None => "/",
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// "name:value" lines into a header map (lines that do not parse are left out).
pub(crate) fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    headers
}

/// A header map as "name:value\n" lines (values that are not visible ASCII
/// are left out, as `Headers` would refuse them).
pub(crate) fn flatten_headers(headers: &http::HeaderMap) -> String {
    let mut out = String::with_capacity(headers.len() * 32);
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            out.push_str(name.as_str());
            out.push(':');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

thread_local! {
    /// Bodies whose writer waits for the client to take what is queued,
    /// by task key.
    static DRAINS: RefCell<HashMap<u32, Option<Waker>, FnvBuild>> = RefCell::new(HashMap::default());
    /// Registered with `glue.js` on first use, like `ON_SETTLED`.
    static ON_BODY_EVENTS: [Closure<dyn FnMut(u32)>; 2] = {
        let events = [Closure::new(drained), Closure::new(crate::task::cancel)];
        on_body_events(&events[0], &events[1]);
        events
    };
}

fn drained(key: u32) {
    let waker = DRAINS.with(|p| p.borrow_mut().remove(&key)).flatten();
    if let Some(w) = waker {
        crate::task::wake_from_js(w);
    }
}

/// Resolves once the client has taken enough of body `key`'s queue.
struct Drained(u32);

impl Future for Drained {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        DRAINS.with(|p| {
            let mut pulls = p.borrow_mut();
            match pulls.get_mut(&self.0) {
                Some(waker) => {
                    *waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                None => Poll::Ready(()),
            }
        })
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        DRAINS.with(|p| p.borrow_mut().remove(&self.0));
    }
}

/// A response body as the readable side of a workerd
/// `IdentityTransformStream` that a task writes into as the chunks come
/// (see `bodyStream` in glue.js): one call per chunk, and no promise or
/// closure per chunk, where a pull-driven stream adapter costs several of
/// each. A full queue parks the task until the client drains it; the
/// client cancelling drops the task, and with it the body (its `Drop` says
/// the client went away).
fn stream_body(mut body: dx_core::ports::BoxStream<'static, Bytes>) -> JsValue {
    ON_BODY_EVENTS.with(|_| ());
    let key = crate::task::reserve_key();
    let readable = body_stream(key);
    crate::task::spawn(key, async move {
        while let Some(chunk) = body.next().await {
            if chunk.is_empty() {
                continue;
            }
            match enqueue(key, &chunk) {
                1 => {}
                0 => {
                    DRAINS.with(|p| p.borrow_mut().insert(key, None));
                    Drained(key).await;
                }
                // The consumer is gone: its cancel drops this task.
                _ => return,
            }
        }
        close_body(key);
    });
    readable
}

/// The core's response as a JS `Response`.
pub(crate) fn into_js(resp: GatewayResponse) -> worker::Result<web_sys::Response> {
    let (parts, body) = resp.into_parts();
    let status = parts.status.as_u16();
    let headers = flatten_headers(&parts.headers);
    let response = match body {
        Body::Empty => respond_with(status, &headers, &JsValue::NULL),
        Body::Full(bytes) => respond_bytes(status, &headers, &bytes),
        Body::Stream(stream) => respond_with(status, &headers, &stream_body(stream)),
    };
    response.map_err(worker::Error::from)
}
