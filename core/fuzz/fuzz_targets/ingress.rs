//! Client bodies: the OpenAI chat and Anthropic messages ingress parsers,
//! then what the gateway does with a parsed body (passthrough rendering,
//! the unified request, the `[router]` decision, every codec's encoder).
//!
//! Input: selector byte (bit 0: which ingress; the rest picks the codec to
//! encode for), then the request body.

#![no_main]

use dx_core::codec::{self, EncodeContext};
use dx_core::ingress::anthropic_messages::{self as messages, MessagesEnvelope};
use dx_core::ingress::openai_chat::ChatEnvelope;
use dx_core::GatewayError;
use dx_fuzz::{config, deployments, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let select = input.byte();
    let body = input.rest();
    let (_, deployment) = &deployments()[usize::from(select >> 1) % deployments().len()];
    let ctx = EncodeContext {
        now_ms: 1_784_917_423_000,
        access_token: None,
    };
    if select & 1 == 0 {
        let mut env = match ChatEnvelope::parse(body) {
            Ok(env) => env,
            Err(e) => return client_error(&e),
        };
        let passthrough = env.render_passthrough(&deployment.upstream_model, true);
        assert_json(&passthrough, "OpenAI passthrough body");
        match env.to_unified() {
            Ok(req) => {
                if let Ok(upstream) = codec::encode(&req, deployment, &ctx) {
                    assert_json(upstream.body(), "encoded upstream body");
                }
            }
            Err(e) => client_error(&e),
        }
        if let Err(e) = env.rewrite_roles(&["system", "developer"], "user") {
            client_error(&e);
        }
        assert_json(&env.render_passthrough("m", false), "rewritten body");
    } else {
        let env = match MessagesEnvelope::parse(body) {
            Ok(env) => env,
            Err(e) => return client_error(&e),
        };
        let cfg = &config().task_routing;
        let route = match messages::route(&env, cfg, |m| {
            config().model_list.iter().any(|e| e.model_name == m)
        }) {
            Ok(route) => route,
            Err(e) => return client_error(&e),
        };
        let _ = messages::estimate_tokens(&env);
        let clamped = messages::clamp_max_tokens(env.max_tokens, deployment);
        for target in [
            codec::anthropic::Target::Anthropic,
            codec::anthropic::Target::Vertex,
        ] {
            match messages::passthrough_body(&env, &route, deployment, target, clamped, cfg, None) {
                Ok(b) => assert_json(&b, "Anthropic passthrough body"),
                Err(e) => client_error(&e),
            }
        }
        let counted = messages::passthrough_body(
            &env,
            &route,
            deployment,
            codec::anthropic::Target::Anthropic,
            None,
            cfg,
            Some(messages::COUNT_FIELDS),
        );
        if let Ok(b) = counted {
            assert_json(&b, "count_tokens body");
        }
        let betas = ["interleaved-thinking-2025-05-14".to_owned()];
        match messages::translated_request(&env, &route, deployment, &betas, clamped, cfg) {
            Ok((req, _)) => {
                if let Ok(upstream) = codec::encode(&req, deployment, &ctx) {
                    assert_json(upstream.body(), "encoded upstream body");
                }
            }
            Err(e) => client_error(&e),
        }
    }
});

/// A refused body is the client's fault, and says so in both error shapes.
fn client_error(e: &GatewayError) {
    assert!(
        e.status.is_client_error(),
        "{} for a client body: {}",
        e.status,
        e.message
    );
    assert_json(&e.to_openai_json(), "OpenAI error body");
    assert_json(&e.to_anthropic_json(), "Anthropic error body");
}

/// JSON by the grammar: lone surrogate escapes (`"\ud800"`), which the
/// grammar allows and clients send, pass through unchecked.
fn assert_json(bytes: &[u8], what: &str) {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        panic!(
            "{what} is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        );
    }
}
