//! Model names: the id spelling functions, catalog lookups and suggestions,
//! name resolution, and every route that resolves a client's model name.
//!
//! Input: selector byte (bits 0-2: the route, bit 3: also ask for
//! suggestions, which read the whole catalog), then the name (any Unicode).

#![no_main]

use bytes::Bytes;
use dx_core::catalog::{self, ids};
use dx_core::IncomingRequest;
use dx_fuzz::{config, exchange, FakeEnv, Input, Upstream, MASTER_KEY};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

const ANSWER: &[u8] = br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let select = input.byte();
    let name = String::from_utf8_lossy(input.rest()).into_owned();

    if let Some((base, date)) = ids::split_date(&name) {
        assert_eq!(
            name.len(),
            base.len() + date.len() + 1,
            "split_date lost bytes"
        );
    }
    let _ = ids::version_spellings(&name);
    let _ = ids::strip_region_prefix(&name);
    let _ = ids::fallbacks(&name);
    let (a, b) = name.split_once('\t').unwrap_or((&name, "gpt-4o"));
    if let Some(d) = ids::bounded_distance(a, b, 8) {
        assert!(d <= 8);
    }
    let _ = ids::closest(a, b.split(','), 3);
    let c = catalog::embedded();
    if let Some((provider, id)) = name.split_once('/') {
        let _ = c.lookup_gateway(provider, id);
    }
    let _ = c.first_party(&name);
    let _ = dx_core::model_meta::lookup_name(c, &name);
    if let Ok((d, e)) = dx_core::resolve_entry(&name, config(), catalog::embedded(), &FakeEnv) {
        let _ = dx_core::model_meta::model_meta(catalog::embedded(), &d, e);
    }
    if select & 8 != 0 {
        let _ = c.suggest(&name, &["fast", "mock-chat"]);
    }

    let quoted = serde_json::to_string(&name).unwrap_or_default();
    let encoded = percent_encode(&name);
    let (method, path, query, body) = match select & 7 {
        0 => return,
        1 => (
            Method::GET,
            format!("/v1/models/{encoded}"),
            None,
            String::new(),
        ),
        2 => (
            Method::GET,
            "/model/info".into(),
            Some(format!("model={encoded}")),
            String::new(),
        ),
        3 => (
            Method::POST,
            "/cost/estimate".into(),
            None,
            format!(r#"{{"model":{quoted},"input_tokens":1000,"output_tokens":10}}"#),
        ),
        4 => (
            Method::POST,
            "/v1/chat/completions".into(),
            None,
            format!(r#"{{"model":{quoted},"messages":[{{"role":"user","content":"hi"}}]}}"#),
        ),
        5 => (
            Method::POST,
            "/v1/messages".into(),
            None,
            format!(
                r#"{{"model":{quoted},"max_tokens":9,"messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
        ),
        6 => (
            Method::POST,
            "/v1/messages/count_tokens".into(),
            None,
            format!(r#"{{"model":{quoted},"messages":[{{"role":"user","content":"hi"}}]}}"#),
        ),
        _ => (
            Method::POST,
            "/utils/token_counter".into(),
            None,
            format!(r#"{{"model":{quoted},"prompt":"hello there"}}"#),
        ),
    };
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {MASTER_KEY}");
    headers.insert("authorization", HeaderValue::from_str(&bearer).unwrap());
    let req = IncomingRequest {
        method,
        path,
        query,
        headers,
        body: Bytes::from(body),
    };
    exchange(Upstream::from_selectors(0, 0, 0, ANSWER), req);
});

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
