//! The whole gateway: `Gateway::handle` with in-memory ports, the client's
//! route, headers and body and the upstream's status, headers and body all
//! from the fuzzer. Every answer is read to its end.
//!
//! Input: route byte, header-flags byte, upstream status byte (0xff: the
//! connection is refused), upstream content-type byte, upstream split byte
//! (bit 6: the body breaks off; bit 7: the body is `eventType payload` lines
//! sent as Bedrock eventstream frames), the request body (u16 length
//! prefix), then the upstream body.

#![no_main]

use bytes::Bytes;
use dx_core::IncomingRequest;
use dx_fuzz::{bedrock_frames, exchange, Input, Upstream, MASTER_KEY};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

/// (method, path); a `?` path takes its query, and `{}` its last segment,
/// from the request body.
const ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/v1/chat/completions"),
    (Method::POST, "/v1/messages"),
    (Method::POST, "/v1/messages/count_tokens"),
    (Method::GET, "/v1/models"),
    (Method::GET, "/v1/models?"),
    (Method::GET, "/v1/models/{}"),
    (Method::GET, "/model/info?"),
    (Method::POST, "/cost/estimate"),
    (Method::POST, "/utils/token_counter"),
    (Method::POST, "/chat/completions"),
    (Method::GET, "/health"),
    (Method::OPTIONS, "/v1/chat/completions"),
    (Method::GET, "/catalog/status"),
    (Method::POST, "{}"),
];

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let route = input.byte();
    let flags = input.byte();
    let status = input.byte();
    let kind = input.byte();
    let split = input.byte();
    let body = input.part();
    let upstream_body = input.rest();

    let (method, template) = &ROUTES[usize::from(route) % ROUTES.len()];
    let mut method = method.clone();
    if flags & 0x20 != 0 {
        method = if method == Method::GET {
            Method::POST
        } else {
            Method::GET
        };
    }
    let text = String::from_utf8_lossy(body);
    let (path, query, body) = if let Some(path) = template.strip_suffix('?') {
        (path.to_owned(), Some(text.into_owned()), Bytes::new())
    } else if let Some(prefix) = template.strip_suffix("{}") {
        let (segment, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let path = format!("{prefix}{segment}");
        (path, None, Bytes::from(rest.to_owned()))
    } else {
        (template.to_string(), None, Bytes::copy_from_slice(body))
    };

    let mut headers = HeaderMap::new();
    let key = if flags & 2 != 0 {
        "sk-wrong"
    } else {
        MASTER_KEY
    };
    if flags & 4 == 0 {
        if flags & 1 == 0 {
            let bearer = format!("Bearer {key}");
            headers.insert("authorization", HeaderValue::from_str(&bearer).unwrap());
        } else {
            headers.insert("x-api-key", HeaderValue::from_str(key).unwrap());
        }
    }
    if flags & 8 != 0 {
        headers.insert(
            "anthropic-beta",
            HeaderValue::from_static("interleaved-thinking-2025-05-14,context-1m-2025-08-07"),
        );
    }
    if flags & 0x10 != 0 {
        headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    }
    let ctype = if flags & 0x40 != 0 {
        "text/plain"
    } else {
        "application/json"
    };
    headers.insert("content-type", HeaderValue::from_static(ctype));

    let upstream_body = if split & 0x80 != 0 {
        bedrock_frames(upstream_body)
    } else {
        upstream_body.to_vec()
    };
    let upstream = Upstream::from_selectors(status, kind, split & 0x7f, &upstream_body);
    let req = IncomingRequest {
        method,
        path,
        query,
        headers,
        body,
    };
    exchange(upstream, req);
});
