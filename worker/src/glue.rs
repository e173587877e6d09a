//! The request and response conversions between the core's `http` types
//! and the runtime's JS objects, through the few calls of `glue.js` (why:
//! see there). Header lists cross as "name:value\n" lines.

use bytes::Bytes;
use dx_core::{Body, GatewayResponse};
use futures::StreamExt;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(request: &web_sys::Request, names: &js_sys::Array) -> String;
    #[wasm_bindgen(js_name = requestBody)]
    fn request_body(request: &web_sys::Request) -> js_sys::Promise;
    #[wasm_bindgen(catch)]
    pub(crate) fn send(
        url: &str,
        method: &str,
        headers: &str,
        body: &[u8],
        whole: bool,
        names: &js_sys::Array,
    ) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_name = respondBytes, catch)]
    fn respond_bytes(status: u16, headers: &str, body: &[u8])
        -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = respondWith, catch)]
    fn respond_with(
        status: u16,
        headers: &str,
        body: &JsValue,
    ) -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = useCheapMicrotasks)]
    pub(crate) fn use_cheap_microtasks();
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
    let bytes = wasm_bindgen_futures::JsFuture::from(request_body(request))
        .await
        .ok()?;
    Some(Bytes::from(
        bytes.unchecked_into::<js_sys::Uint8Array>().to_vec(),
    ))
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

/// The core's response as a JS `Response`.
pub(crate) fn into_js(resp: GatewayResponse) -> worker::Result<web_sys::Response> {
    let (parts, body) = resp.into_parts();
    let status = parts.status.as_u16();
    let headers = flatten_headers(&parts.headers);
    let response = match body {
        Body::Empty => respond_with(status, &headers, &JsValue::NULL),
        Body::Full(bytes) => respond_bytes(status, &headers, &bytes),
        Body::Stream(stream) => {
            let chunks = stream.map(|b| Ok(js_sys::Uint8Array::from(&b[..]).into()));
            let readable = wasm_streams::ReadableStream::from_stream(chunks).into_raw();
            respond_with(status, &headers, &readable)
        }
    };
    response.map_err(worker::Error::from)
}
