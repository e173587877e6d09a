//! Azure against its recordings (`fixtures/azure/`) and the URL/auth rules.

use crate::codec::test_support::decode_ctx;
use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::HeaderValue;

use super::*;
use crate::codec::test_support::{assemble, decode_in_pieces, deployment, sse_from_chunks, usage};
use crate::codec::{self, StreamDecoder as AnyDecoder};
use crate::relays::openai_relay::RelayState;
use crate::unified::{FinishReason, Message, Part, Role, Usage};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/azure/",
            $name
        ))
    };
}

fn azure(model: &str) -> Deployment {
    deployment(
        "azure",
        model,
        "https://res.openai.azure.com",
        Some("azure-key-123"),
    )
}

// ---- recordings ------------------------------------------------------------

#[test]
fn foundry_deepseek_with_reasoning_content() {
    let r = codec::decode_response(
        Codec::AzureAi,
        fixture!("chat-completion-foundry-deepseek.json"),
        &decode_ctx(),
    )
    .unwrap();
    assert_eq!(r.id, "d1d4c43a0e854cbc9a14f9099a8afb81");
    assert_eq!(r.model, "deepseek-v4-pro");
    assert_eq!(r.created, 1781043274);
    let c = &r.choices[0];
    let text = c.text().unwrap();
    assert!(
        text.starts_with("Absolutely! Based on the most recent Knicks game in my knowledge base")
    );
    assert!(text.ends_with("until he let it fly. 🏙️🧡💙"));
    assert_eq!(text.chars().count(), 4097);
    let Part::Thinking { text: thinking, .. } = &c.content[0] else {
        panic!("reasoning first: {:?}", c.content[0]);
    };
    assert!(thinking.starts_with("We need to invent a new holiday around the latest Knicks game."));
    assert!(thinking.ends_with("The answer should be entertaining."));
    assert_eq!(thinking.chars().count(), 3389);
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage, Some(usage(19, 1969)));
}

#[test]
fn stream_with_filter_results_drops_the_prompt_annotation() {
    let wire = sse_from_chunks(
        fixture!("chat-stream-content-filter-results.chunks.jsonl"),
        false,
        true,
    );
    for split in [1, 17, 100_000] {
        let mut d = AnyDecoder::new(Codec::AzureOpenAi, &decode_ctx()).unwrap();
        let chunks = decode_in_pieces(&mut d, &wire, split).unwrap();
        assert!(d.is_done());
        // 8 recorded lines: the prompt-annotation chunk carries nothing for a client.
        assert_eq!(chunks.len(), 7, "split {split}");
        assert!(chunks
            .iter()
            .all(|c| c.id == "chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt"));
        let a = assemble(&chunks);
        assert_eq!(a.text, "Capital of Denmark.");
        assert_eq!(a.roles, 1);
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert_eq!(
            a.usage,
            Some(Usage {
                reasoning_tokens: 64,
                ..usage(15, 78)
            })
        );
    }
}

#[test]
fn blocked_stream_ends_in_content_filter_under_the_real_id() {
    let wire = fixture!("chat-stream-content-filter-blocked.sse");
    let mut d = AnyDecoder::new(Codec::AzureOpenAi, &decode_ctx()).unwrap();
    let chunks = decode_in_pieces(&mut d, wire, 33).unwrap();
    assert!(d.is_done());
    let a = assemble(&chunks);
    assert_eq!(a.text, "Hey Jude, better");
    assert_eq!(a.finish, Some(FinishReason::ContentFilter));
    assert_eq!(a.usage, None);
    // role, 4 words, the filter verdict; the offsets-only annotation is dropped.
    assert_eq!(chunks.len(), 6);
    let last = chunks.last().unwrap();
    assert_eq!(last.id, "chatcmpl-8JCbt5d4luUIhYCI7YH4dQK7hnHx2");
    assert_eq!(last.model, "gpt-35-turbo");
    assert_eq!(last.created, 1699587397);
}

#[test]
fn passthrough_relay_keeps_every_annotation_byte() {
    let wire = fixture!("chat-stream-content-filter-blocked.sse");
    for strip in [false, true] {
        let mut relay = RelayState::new(strip);
        let mut out = Vec::new();
        for piece in wire.chunks(29) {
            out.extend(relay.push(piece).unwrap_or_default());
        }
        out.extend(relay.end().unwrap_or_default());
        assert_eq!(out, wire, "strip {strip}");
        assert!(relay.completed());
        assert!(relay.error.is_none());
    }
    let wire = sse_from_chunks(
        fixture!("chat-stream-content-filter-results.chunks.jsonl"),
        false,
        true,
    );
    let mut relay = RelayState::new(true);
    let out = relay.push(&wire).unwrap_or_default();
    assert!(relay.completed());
    assert_eq!(
        relay.usage,
        Some(Usage {
            reasoning_tokens: 64,
            ..usage(15, 78)
        })
    );
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("\"prompt_filter_results\""));
    assert!(text.contains("\"content_filter_results\":{\"hate\""));
    assert!(
        !text.contains("\"completion_tokens\""),
        "usage chunk hidden"
    );
}

#[test]
fn content_filter_400_is_a_bad_request_with_code_content_filter() {
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        fixture!("error-content-filter-400.json"),
        &azure("gpt-4o"),
    );
    assert_eq!(e.kind, ErrorKind::ContentFiltered);
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(e.code.as_deref(), Some("content_filter"));
    assert_eq!(e.param.as_deref(), Some("prompt"));
    assert!(e.message.starts_with(
        "The response was filtered due to the prompt triggering Azure Content management policy."
    ));
    assert!(
        e.message.ends_with("(filtered: hate, self-harm, violence)"),
        "{}",
        e.message
    );
    let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json()).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "content_filter");
}

#[test]
fn policy_violation_without_top_level_code_is_still_a_filter() {
    let body = br#"{"error":{"message":"filtered","code":"BadRequest","innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"jailbreak":{"filtered":true,"detected":true}}}}}"#;
    let e = decode_error(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        body,
        &azure("m"),
    );
    assert_eq!(e.kind, ErrorKind::ContentFiltered);
    assert_eq!(e.code.as_deref(), Some("content_filter"));
    assert_eq!(e.message, "filtered (filtered: jailbreak)");
}

#[test]
fn azure_error_shapes_for_rate_limits_and_missing_deployments() {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
    let body = br#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit. Please retry after 7 seconds."}}"#;
    let e = decode_error(StatusCode::TOO_MANY_REQUESTS, &headers, body, &azure("m"));
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after.as_deref(), Some("7"));
    let body = br#"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}"#;
    let e = decode_error(StatusCode::NOT_FOUND, &HeaderMap::new(), body, &azure("m"));
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.code.as_deref(), Some("DeploymentNotFound"));
    let body = br#"{"error":{"code":"401","message":"Access denied due to invalid subscription key azure-key-123."}}"#;
    let d = azure("m");
    let e = decode_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body, &d);
    let e = crate::codec::redact_credentials(e, &d, &HeaderMap::new());
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(!e.message.contains("azure-key-123"), "{}", e.message);
    let mut d = azure("m");
    d.params.azure_ad_token = Some(Secret::new("eyJ0eXAi.entra-token"));
    let body = br#"{"error":{"code":"401","message":"Token eyJ0eXAi.entra-token has expired."}}"#;
    let e = decode_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body, &d);
    let e = crate::codec::redact_credentials(e, &d, &HeaderMap::new());
    assert_eq!(e.message, "Token [redacted] has expired.");
}

// ---- where requests go and how they are signed ------------------------------

#[test]
fn deployment_url_with_default_version_and_api_key_header() {
    let req = build_request(&azure("gpt-4o-prod"), b"{}".to_vec(), false).unwrap();
    assert_eq!(
        req.uri(),
        "https://res.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.headers()["api-key"], "azure-key-123");
    assert!(req.headers()["api-key"].is_sensitive());
    assert!(req.headers().get(AUTHORIZATION).is_none());
    assert_eq!(req.headers()["accept"], "application/json");
}

#[test]
fn configured_version_base_with_openai_suffix_and_odd_deployment_names() {
    let mut d = azure("fault:status=429,retry_after=7|gpt 4o");
    d.api_base = "https://res.openai.azure.com/openai/".into();
    d.params.api_version = Some("2025-01-01-preview".into());
    let req = build_request(&d, Vec::new(), true).unwrap();
    assert_eq!(
        req.uri(),
        "https://res.openai.azure.com/openai/deployments/fault:status=429,retry_after=7%7Cgpt%204o/chat/completions?api-version=2025-01-01-preview"
    );
    assert_eq!(req.headers()["accept"], "text/event-stream");
    d.params.api_version = Some("v1".into());
    assert_eq!(
        url(&d),
        "https://res.openai.azure.com/openai/v1/chat/completions"
    );
}

#[test]
fn entra_token_and_bearer_keys_use_authorization() {
    let mut d = azure("m");
    d.params.azure_ad_token = Some(Secret::new("eyJ0eXAi.entra"));
    let req = build_request(&d, Vec::new(), false).unwrap();
    assert_eq!(req.headers()[AUTHORIZATION], "Bearer eyJ0eXAi.entra");
    assert!(
        req.headers().get("api-key").is_none(),
        "the token replaces the key"
    );
    let mut d = azure("m");
    d.api_key = Some(Secret::new("Bearer eyJ.other"));
    let req = build_request(&d, Vec::new(), false).unwrap();
    assert_eq!(req.headers()[AUTHORIZATION], "Bearer eyJ.other");
    assert!(req.headers().get("api-key").is_none());
}

#[test]
fn no_credential_at_all_is_a_provider_not_configured() {
    let mut d = azure("m");
    d.api_key = None;
    let e = build_request(&d, Vec::new(), false).unwrap_err();
    assert_eq!(e.status.as_u16(), 404);
    assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
    assert!(!e.message.contains("AZURE_API_KEY"), "{}", e.message);
    let note = e.operator_note.as_deref().unwrap_or_default();
    assert!(note.contains("AZURE_API_KEY") && note.contains("AZURE_AD_TOKEN"));
}

#[test]
fn foundry_url_and_version() {
    let mut d = deployment(
        "azure_ai",
        "DeepSeek-R1",
        "https://res.services.ai.azure.com",
        Some("k-1234"),
    );
    assert_eq!(
        url(&d),
        "https://res.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview"
    );
    d.api_base = "https://res.services.ai.azure.com/models".into();
    d.params.api_version = Some("2025-05-01".into());
    let req = build_request(&d, Vec::new(), false).unwrap();
    assert_eq!(
        req.uri(),
        "https://res.services.ai.azure.com/models/chat/completions?api-version=2025-05-01"
    );
    assert_eq!(req.headers()["api-key"], "k-1234");
}

#[test]
fn translated_requests_are_openai_bodies_with_the_deployment_as_model() {
    let req = ChatRequest {
        model: "alias".into(),
        messages: vec![Message {
            role: Role::User,
            content: vec![Part::Text {
                text: "hi".into(),
                cache_control: None,
            }],
            name: None,
        }],
        stream: true,
        max_tokens: Some(5),
        ..ChatRequest::default()
    };
    let http = codec::encode(
        &req,
        &azure("gpt-4o-prod"),
        &codec::EncodeContext {
            now_ms: 0,
            access_token: None,
        },
    )
    .unwrap();
    assert!(http
        .uri()
        .to_string()
        .contains("/openai/deployments/gpt-4o-prod/chat/completions?api-version="));
    let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(body["model"], "gpt-4o-prod");
    assert_eq!(
        body["messages"],
        serde_json::json!([{"role": "user", "content": "hi"}])
    );
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 5);
}

#[test]
fn responses_go_to_the_v1_api_or_a_version_that_serves_them() {
    let mut d = azure("gpt-4o");
    d.api_base = "https://res.openai.azure.com/openai/".into();
    assert_eq!(
        responses_url(&d),
        "https://res.openai.azure.com/openai/v1/responses"
    );
    d.params.api_version = Some("2025-04-01-preview".into());
    assert_eq!(
        responses_url(&d),
        "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
    );
    // The GA version chat uses predates Responses.
    d.params.api_version = Some("2024-10-21".into());
    assert_eq!(
        responses_url(&d),
        "https://res.openai.azure.com/openai/responses?api-version=2025-03-01-preview"
    );
}
