//! The config loader (`dx.toml` as TOML, or the same as JSON in `DX_CONFIG`),
//! then everything a loaded config drives: resolving each model name, its
//! catalog metadata and prices, and a request through the `[router]`.
//!
//! Input: the config text.

#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use dx_core::catalog::embedded;
use dx_core::{Bound, Config, IncomingRequest};
use dx_fuzz::{FakeEnv, FakePorts, Upstream};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

const ANSWER: &[u8] = br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    for entry in config.model_list.iter().take(8) {
        if let Ok((d, e)) = dx_core::resolve_entry(&entry.model_name, &config, embedded(), &FakeEnv)
        {
            let _ = dx_core::model_meta::model_meta(embedded(), &d, e);
        }
        let _ = entry.price_overrides();
    }
    let ports = FakePorts::new(Upstream::from_selectors(0, 0, 0, ANSWER));
    let gateway = Bound::new(ports.clone(), Arc::new(config));
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static(dx_fuzz::MASTER_KEY));
    let first = gateway
        .gateway()
        .config()
        .model_list
        .first()
        .map_or("claude-3-5-haiku-latest", |e| e.model_name.as_str())
        .to_owned();
    for (path, model) in [
        ("/v1/messages", "claude-3-5-haiku-latest"),
        ("/v1/messages", "claude-sonnet-4-5"),
        ("/v1/chat/completions", first.as_str()),
    ] {
        let body = serde_json::json!({
            "model": model, "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        });
        let req = IncomingRequest {
            method: Method::POST,
            path: path.into(),
            query: None,
            headers: headers.clone(),
            body: Bytes::from(body.to_string()),
        };
        let resp = futures::executor::block_on(gateway.handle(req));
        if let dx_core::Body::Stream(s) = resp.into_body() {
            dx_fuzz::read_all(s);
        }
    }
    ports.run_deferred();
});
