//! The Anthropic ingress against the requests Claude Code really sends
//! (`fixtures/claude-code/`): parse → route → the body each kind of upstream
//! receives. Expected values are read off the fixtures by hand.

use super::*;
use crate::codec::anthropic::Target;
use crate::codec::test_support::decode_ctx;
use crate::codec::{self, EncodeContext};
use crate::ingress::openai_chat::Fields;
use crate::relays::translate::{Renderer, TranslateState};
use crate::resolve::provider;
use crate::resolve::{Deployment, ProviderParams};
use crate::secret::Secret;
use crate::task_routing::{RouterConfig, Rule};
use serde_json::{json, Value};

macro_rules! cc_fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/claude-code/",
                $name
            )) as &[u8],
        )
    };
}

const CLAUDE_CODE: &[(&str, &[u8])] = &[
    cc_fixture!("request-2.1.197-custom-model-no-experimental-betas.json"),
    cc_fixture!("request-2.1.197-p-say-hi.json"),
    cc_fixture!("request-2.1.197-tool-result-turn.json"),
    cc_fixture!("request-2.1.330-p-say-hi.json"),
    cc_fixture!("request-2.1.330-tool-result-turn.json"),
];

/// The recorded body's bytes as the CLI sent them, and its `anthropic-beta` header.
fn recorded(file: &[u8]) -> (&str, Vec<String>) {
    let Fields(fields) = serde_json::from_slice(file).unwrap();
    let body = fields.iter().find(|(k, _)| k == "body").unwrap().1.get();
    let headers: Value =
        serde_json::from_str(fields.iter().find(|(k, _)| k == "headers").unwrap().1.get()).unwrap();
    let betas = headers["anthropic-beta"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    (body, betas)
}

fn deployment(provider_id: &str, model: &str, base: &str) -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), provider_id).unwrap(),
        upstream_model: model.into(),
        api_base: base.into(),
        api_key: Some(Secret::new("sk-up")),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: ProviderParams::default(),
    }
}

fn router() -> RouterConfig {
    RouterConfig {
        default: Some("gpt-main".into()),
        background: Some("gpt-cheap".into()),
        think: Some("o-think".into()),
        long_context: Some("gpt-long".into()),
        long_context_threshold: 50_000,
        websearch: Some("claude-search".into()),
        ..RouterConfig::default()
    }
}

fn configured(name: &str) -> bool {
    [
        "gpt-main",
        "gpt-cheap",
        "o-think",
        "gpt-long",
        "claude-search",
    ]
    .contains(&name)
}

fn openai_body(req: &ChatRequest, d: &Deployment) -> Value {
    let ctx = EncodeContext {
        now_ms: 0,
        access_token: None,
    };
    let r = codec::encode(req, d, &ctx).unwrap();
    serde_json::from_slice(r.body()).unwrap()
}

// ---- every recorded Claude Code request ---------------------------------------

#[test]
fn every_claude_code_request_parses_and_routes() {
    for (name, file) in CLAUDE_CODE {
        let (body, _) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let original: Value = serde_json::from_str(body).unwrap();
        assert_eq!(env.model, original["model"], "{name}");
        assert!(env.stream, "{name}: Claude Code always streams");
        assert_eq!(env.thinking, Some(Thinking::Adaptive), "{name}");
        assert_eq!(
            env.max_tokens.map(u64::from),
            original["max_tokens"].as_u64(),
            "{name}"
        );
        let r = route(&env, &router(), configured).unwrap();
        if env.model == "mock/demo" {
            // Not a Claude name: served as asked.
            assert_eq!((r.model.as_str(), r.rule), ("mock/demo", Rule::Requested));
        } else {
            // Adaptive thinking is not "think"; opus is not "background";
            // the recorded prompts are far below 50k tokens: auto-mapped.
            assert_eq!(
                (r.model.as_str(), r.rule),
                ("gpt-main", Rule::Default),
                "{name}"
            );
        }
        let tokens = estimate_tokens(&env);
        // 13-21 KB bodies, mostly tool schemas and redacted text.
        assert!((2_000..8_000).contains(&tokens), "{name}: {tokens}");
    }
}

#[test]
fn every_claude_code_request_to_anthropic_is_the_same_body() {
    let d = deployment(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "http://up/anthropic",
    );
    for (name, file) in CLAUDE_CODE {
        let (body, _) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
        assert_eq!(r.rule, Rule::Requested);
        let clamped = clamp_max_tokens(env.max_tokens, &d);
        let out = passthrough_body(
            &env,
            &r,
            &d,
            Target::Anthropic,
            clamped,
            &RouterConfig::default(),
            None,
        )
        .unwrap();
        let got: Value = serde_json::from_slice(&out).unwrap();
        let mut want: Value = serde_json::from_str(body).unwrap();
        want["model"] = json!("claude-sonnet-4-5-20250929");
        // Sonnet 4.5 writes at most 64000 tokens: 128000 is lowered, 32000 and 64000 are not.
        let asked = want["max_tokens"].as_u64().unwrap();
        if asked > 64_000 {
            assert_eq!(clamped, Some((128_000, 64_000)), "{name}");
            want["max_tokens"] = json!(64_000);
        } else {
            assert_eq!(clamped, None, "{name}");
        }
        assert_eq!(got, want, "{name}");
        // Untouched fields are the client's bytes, not a re-encoding.
        for field in [
            "messages",
            "tools",
            "system",
            "metadata",
            "context_management",
        ] {
            if let Some(raw) = env.raw_field(field) {
                let raw = raw.get();
                assert!(
                    out.windows(raw.len()).any(|w| w == raw.as_bytes()),
                    "{name}: `{field}` was re-encoded"
                );
            }
        }
    }
}

#[test]
fn every_claude_code_request_to_vertex_drops_the_model() {
    let d = deployment(
        "vertex_anthropic",
        "claude-opus-4-1@20250805",
        "http://up/vertex",
    );
    for (name, file) in CLAUDE_CODE {
        let (body, _) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
        let clamped = clamp_max_tokens(env.max_tokens, &d);
        let out = passthrough_body(
            &env,
            &r,
            &d,
            Target::Vertex,
            clamped,
            &RouterConfig::default(),
            None,
        )
        .unwrap();
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert!(got.get("model").is_none(), "{name}");
        assert_eq!(got["anthropic_version"], "vertex-2023-10-16");
        // Opus 4.1: 32000 at most.
        assert_eq!(got["max_tokens"], 32_000, "{name}");
        let original: Value = serde_json::from_str(body).unwrap();
        assert_eq!(got["messages"], original["messages"], "{name}");
    }
}

#[test]
fn every_claude_code_request_to_openai_compatible() {
    let d = deployment("openai_compatible", "gpt-4o-mini", "http://up/openai/v1");
    for (name, file) in CLAUDE_CODE {
        let (body, betas) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let original: Value = serde_json::from_str(body).unwrap();
        let r = route(&env, &router(), configured).unwrap();
        let (req, adjusted) = translated_request(&env, &r, &d, &betas, None, &router()).unwrap();
        let out = openai_body(&req, &d);
        assert_eq!(out["model"], "gpt-4o-mini");
        assert_eq!(out["stream"], true);
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        assert_eq!(out["max_tokens"], original["max_tokens"], "{name}");
        // The three system blocks become one leading system message.
        let sys: Vec<&str> = original["system"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            out["messages"][0],
            json!({"role": "system", "content": sys.join("\n")}),
            "{name}"
        );
        // The user turn's two text blocks, then the mid-conversation system turn in place.
        let user_texts: Vec<&str> = original["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            out["messages"][1],
            json!({"role": "user", "content": user_texts.join("\n")})
        );
        assert_eq!(out["messages"][2]["role"], "system");
        let mid = &original["messages"][1]["content"];
        let mid_text = mid
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| mid[0]["text"].as_str().unwrap().to_owned());
        assert_eq!(out["messages"][2]["content"], mid_text.as_str());
        // Every client tool, deferred ones included, as a function.
        let tools = out["tools"].as_array().unwrap();
        assert_eq!(
            tools.len(),
            original["tools"].as_array().unwrap().len(),
            "{name}"
        );
        assert_eq!(tools[0]["function"]["name"], "Agent");
        assert_eq!(
            tools[0]["function"]["parameters"],
            original["tools"][0]["input_schema"]
        );
        // What OpenAI cannot take is dropped and said so.
        assert!(out.get("thinking").is_none() && out.get("reasoning_effort").is_none());
        assert!(out.get("context_management").is_none() && out.get("output_config").is_none());
        let adj = adjusted.header();
        assert!(
            adj.contains(&format!("dropped anthropic-beta {}", betas.join(","))),
            "{adj}"
        );
        assert!(adj.contains("dropped thinking"), "{adj}");
        if original.get("context_management").is_some() {
            assert!(adj.contains("dropped context_management"), "{adj}");
        }
        // Claude Code's user_id (a JSON string) is the OpenAI `user`.
        assert_eq!(out["user"], original["metadata"]["user_id"]);
    }
}

#[test]
fn tool_result_turns_become_tool_messages() {
    let cases = [
        (CLAUDE_CODE[2], "toolu_probe000002"),
        (CLAUDE_CODE[4], "toolu_probe000001"),
    ];
    let d = deployment("openai_compatible", "gpt-4o-mini", "http://up/openai/v1");
    for ((name, file), id) in cases {
        let (body, betas) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
        let (req, _) =
            translated_request(&env, &r, &d, &betas, None, &RouterConfig::default()).unwrap();
        let out = openai_body(&req, &d);
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(
            msgs.len(),
            5,
            "{name}: system, user, system, assistant, tool"
        );
        let call = &msgs[3]["tool_calls"][0];
        assert_eq!(msgs[3]["content"], "Let me read it.", "{name}");
        assert_eq!(
            (call["id"].as_str(), call["type"].as_str()),
            (Some(id), Some("function"))
        );
        assert_eq!(call["function"]["name"], "Read");
        // The input object as the client wrote it (this recording is pretty-printed).
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"file_path": "/home/user/project/hello.txt"}));
        assert_eq!(
            msgs[4],
            json!({"role": "tool", "content": "1\thello world from probe\n2\t", "tool_call_id": id}),
            "{name}"
        );
    }
}

#[test]
fn effort_reaches_reasoning_models_only() {
    let (name, file) = CLAUDE_CODE[3];
    let (body, betas) = recorded(file);
    let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
    let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
    let d = deployment("openai_compatible", "o4-mini", "http://up/openai/v1");
    let (req, adjusted) =
        translated_request(&env, &r, &d, &betas, None, &RouterConfig::default()).unwrap();
    // output_config.effort "medium" of the 2.1.330 request.
    assert_eq!(
        openai_body(&req, &d)["reasoning_effort"],
        "medium",
        "{name}"
    );
    assert!(adjusted
        .header()
        .contains("thinking as reasoning_effort=medium"));
}

#[test]
fn claude_code_request_served_by_claude_through_the_codec() {
    // passthrough = false: the unified request through the Anthropic codec.
    let (_, file) = CLAUDE_CODE[2];
    let (body, betas) = recorded(file);
    let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
    let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
    let mut d = deployment("anthropic", "claude-haiku-4-5", "http://up/anthropic");
    d.passthrough = false;
    let (req, adjusted) =
        translated_request(&env, &r, &d, &betas, None, &RouterConfig::default()).unwrap();
    let ctx = EncodeContext {
        now_ms: 0,
        access_token: None,
    };
    let http = codec::encode(&req, &d, &ctx).unwrap();
    assert_eq!(http.headers()["anthropic-beta"], betas.join(",").as_str());
    let out: Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(out["thinking"], json!({"type": "adaptive"}));
    assert_eq!(
        out["system"].as_array().unwrap().len(),
        4,
        "3 blocks + the mid-conversation turn"
    );
    assert_eq!(
        out["system"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        out["messages"][2]["content"][0]["tool_use_id"],
        "toolu_probe000002"
    );
    // Claude Code's breakpoint on its tool result survives the codec.
    assert_eq!(
        out["messages"][2]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(adjusted.header().contains("dropped context_management"));
}

/// Every breakpoint of the recorded tool-result turns (system blocks and the
/// tool result) reaches Claude on Bedrock as a cache point after its block.
#[test]
fn claude_code_breakpoints_become_bedrock_cache_points() {
    let d = deployment(
        "bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
    );
    for i in [2, 4] {
        let (name, file) = CLAUDE_CODE[i];
        let (body, betas) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
        let (req, _) =
            translated_request(&env, &r, &d, &betas, None, &RouterConfig::default()).unwrap();
        let result = req.messages.last().unwrap();
        assert!(
            matches!(&result.content[0], Part::ToolResult { cache_control: Some(c), .. } if c.kind == "ephemeral"),
            "{name}"
        );
        let out: Value = serde_json::from_slice(
            &crate::codec::bedrock::render_request(&req, &d.upstream_model).unwrap(),
        )
        .unwrap();
        let last = out["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_array()
            .unwrap()
            .clone();
        assert!(last[0].get("toolResult").is_some(), "{name}");
        assert_eq!(
            last[1],
            json!({"cachePoint": {"type": "default"}}),
            "{name}"
        );
        let original: Value = serde_json::from_str(body).unwrap();
        let marked = original["system"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b.get("cache_control").is_some())
            .count();
        let points = out["system"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b.get("cachePoint").is_some())
            .count();
        assert_eq!(points, marked, "{name}");
    }
}

// ---- routing rules ----------------------------------------------------------------

fn env_of(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap()
}

#[test]
fn subagent_tag_routes_and_is_cut_out() {
    let body = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "system": [{"type": "text", "text": "You review code.<CCM-SUBAGENT-MODEL>gpt-cheap</CCM-SUBAGENT-MODEL> Be strict.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "review"}]
    }));
    let env = MessagesEnvelope::parse(&body).unwrap();
    let r = route(&env, &router(), configured).unwrap();
    assert_eq!((r.model.as_str(), r.rule), ("gpt-cheap", Rule::Subagent));
    let d = deployment("anthropic", "claude-haiku-4-5", "http://up");
    let out: Value = serde_json::from_slice(
        &passthrough_body(&env, &r, &d, Target::Anthropic, None, &router(), None).unwrap(),
    )
    .unwrap();
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "You review code. Be strict.", "cache_control": {"type": "ephemeral"}}])
    );
    let d = deployment("openai_compatible", "gpt-4o-mini", "http://up/v1");
    let (req, _) = translated_request(&env, &r, &d, &[], None, &router()).unwrap();
    assert_eq!(
        openai_body(&req, &d)["messages"][0]["content"],
        "You review code. Be strict."
    );
    // A string system prompt stays a string.
    let body = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "system": "<CCM-SUBAGENT-MODEL>gpt-cheap</CCM-SUBAGENT-MODEL>Plain.",
        "messages": [{"role": "user", "content": "x"}]
    }));
    let env = MessagesEnvelope::parse(&body).unwrap();
    let r = route(&env, &router(), configured).unwrap();
    let d = deployment("anthropic", "claude-haiku-4-5", "http://up");
    let out: Value = serde_json::from_slice(
        &passthrough_body(&env, &r, &d, Target::Anthropic, None, &router(), None).unwrap(),
    )
    .unwrap();
    assert_eq!(out["system"], "Plain.");
}

#[test]
fn web_search_thinking_background_long_context() {
    let search = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                  {"name": "Read", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "news?"}]
    }));
    let env = MessagesEnvelope::parse(&search).unwrap();
    let r = route(&env, &router(), configured).unwrap();
    assert_eq!(
        (r.model.as_str(), r.rule),
        ("claude-search", Rule::WebSearch)
    );
    // Offered to an OpenAI model, the server tool is dropped, the client tool kept.
    let d = deployment("openai_compatible", "gpt-4o-mini", "http://up/v1");
    let (req, adj) = translated_request(&env, &r, &d, &[], None, &router()).unwrap();
    let out = openai_body(&req, &d);
    assert_eq!(out["tools"].as_array().unwrap().len(), 1);
    assert_eq!(out["tools"][0]["function"]["name"], "Read");
    assert!(adj.header().contains("dropped server tools web_search"));

    let think = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 20000,
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "messages": [{"role": "user", "content": "hard"}]
    }));
    let env = MessagesEnvelope::parse(&think).unwrap();
    assert_eq!(
        route(&env, &router(), configured).unwrap().rule,
        Rule::Think
    );

    let chore = env_of(&json!({
        "model": "claude-3-5-haiku-20241022", "max_tokens": 512,
        "messages": [{"role": "user", "content": "title for this chat"}]
    }));
    let env = MessagesEnvelope::parse(&chore).unwrap();
    let r = route(&env, &router(), configured).unwrap();
    assert_eq!((r.model.as_str(), r.rule), ("gpt-cheap", Rule::Background));

    let long = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 512,
        "messages": [{"role": "user", "content": "word ".repeat(50_000)}]
    }));
    let env = MessagesEnvelope::parse(&long).unwrap();
    // 250,000 characters / 4 + 3 for the message.
    assert_eq!(estimate_tokens(&env), 62_503);
    assert_eq!(
        route(&env, &router(), configured).unwrap().rule,
        Rule::LongContext
    );
}

#[test]
fn clamped_thinking_budget_is_lowered_too() {
    let body = env_of(&json!({
        "model": "claude-sonnet-4-5", "max_tokens": 128000,
        "thinking": {"type": "enabled", "budget_tokens": 100000},
        "messages": [{"role": "user", "content": "x"}]
    }));
    let env = MessagesEnvelope::parse(&body).unwrap();
    let d = deployment("anthropic", "claude-sonnet-4-5-20250929", "http://up");
    let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
    let clamped = clamp_max_tokens(env.max_tokens, &d);
    assert_eq!(clamped, Some((128_000, 64_000)));
    let out: Value = serde_json::from_slice(
        &passthrough_body(
            &env,
            &r,
            &d,
            Target::Anthropic,
            clamped,
            &RouterConfig::default(),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(out["max_tokens"], 64_000);
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 63_999})
    );
    // A configured limit applies to any provider.
    let mut d = deployment("openai_compatible", "gpt-4o", "http://up/v1");
    assert_eq!(clamp_max_tokens(Some(128_000), &d), None);
    d.params.max_output_tokens = Some(16_384);
    assert_eq!(clamp_max_tokens(Some(128_000), &d), Some((128_000, 16_384)));
    assert_eq!(clamp_max_tokens(Some(1000), &d), None);
}

#[test]
fn count_tokens_body_keeps_only_what_the_endpoint_takes() {
    let (_, file) = CLAUDE_CODE[1];
    let (body, _) = recorded(file);
    let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
    let r = route(&env, &RouterConfig::default(), |_| false).unwrap();
    let d = deployment("anthropic", "claude-haiku-4-5", "http://up");
    let out: Value = serde_json::from_slice(
        &passthrough_body(
            &env,
            &r,
            &d,
            Target::Anthropic,
            None,
            &RouterConfig::default(),
            Some(COUNT_FIELDS),
        )
        .unwrap(),
    )
    .unwrap();
    let mut keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "context_management",
            "messages",
            "model",
            "output_config",
            "system",
            "thinking",
            "tools"
        ]
    );
}

// ---- parsing --------------------------------------------------------------------

#[test]
fn parse_errors_name_the_field() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"[1]", "JSON"),
        (br#"{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "model: Field required"),
        (br#"{"model":"m","max_tokens":5}"#, "messages: Field required"),
        (br#"{"model":"m","messages":[]}"#, "at least one message"),
        (br#"{"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"on"}}"#, "thinking.type"),
        (br#"{"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"}}"#, "budget_tokens"),
        (br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"many"}"#, "max_tokens"),
    ];
    for (body, needle) in cases {
        let e = MessagesEnvelope::parse(body).unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert!(
            e.message.contains(needle),
            "{} -> {}",
            String::from_utf8_lossy(body),
            e.message
        );
    }
    let env =
        MessagesEnvelope::parse(br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#)
            .unwrap();
    let e = env.to_unified(&[]).unwrap_err();
    assert!(e.message.contains("messages.0.role"), "{}", e.message);
}

#[test]
fn blocks_become_unified_parts() {
    let body = env_of(&json!({
        "model": "m", "max_tokens": 10, "stop_sequences": ["END"], "temperature": 0.5, "top_k": 7,
        "metadata": {"user_id": "u1"},
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true},
        "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": "r.pdf"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
                {"type": "text", "text": "what", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                {"type": "redacted_thinking", "data": "enc"},
                {"type": "server_tool_use", "id": "srv1", "name": "web_search", "input": {"q": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srv1", "content": [{"type": "web_search_result", "url": "u", "title": "t"}]},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": true,
                "content": [{"type": "text", "text": "boom"}]}]}
        ]
    }));
    let req = MessagesEnvelope::parse(&body)
        .unwrap()
        .to_unified(&["b1".into()])
        .unwrap();
    assert_eq!(req.stop, ["END"]);
    assert_eq!((req.temperature, req.top_k), (Some(0.5), Some(7)));
    assert_eq!(req.user.as_deref(), Some("u1"));
    assert_eq!(req.tool_choice, Some(ToolChoice::Named("f".into())));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(
        req.tools[0].parameters.as_ref().unwrap().get(),
        r#"{"type":"object"}"#
    );
    assert_eq!(req.anthropic_beta, ["b1"]);
    let user = &req.messages[0].content;
    assert_eq!(
        user[0],
        Part::Image {
            source: MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            },
            detail: None,
            cache_control: None,
        }
    );
    assert_eq!(
        user[1],
        Part::Image {
            source: MediaSource::Url("https://x/cat.png".into()),
            detail: None,
            cache_control: None,
        }
    );
    assert!(matches!(&user[2], Part::Document { name: Some(n), .. } if n == "r.pdf"));
    assert!(matches!(&user[3], Part::Text { text, .. } if text == "plain doc"));
    assert!(
        matches!(&user[4], Part::Text { cache_control: Some(c), .. } if c.ttl.as_deref() == Some("1h"))
    );
    let assistant = &req.messages[1].content;
    // Server tool blocks mean nothing to another provider: left out.
    assert_eq!(assistant.len(), 3);
    assert_eq!(
        assistant[0],
        Part::Thinking {
            text: "hmm".into(),
            signature: Some("sig1".into())
        }
    );
    assert_eq!(assistant[1], Part::RedactedThinking { data: "enc".into() });
    assert!(matches!(&assistant[2], Part::ToolUse { arguments, .. } if arguments == r#"{"a":1}"#));
    assert!(matches!(
        &req.messages[2].content[0],
        Part::ToolResult { is_error: true, content, .. } if content.len() == 1
    ));
}

// ---- rendering -------------------------------------------------------------------

fn events(raw: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(raw).unwrap();
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            assert_eq!(data["type"], name.as_str(), "event line and type agree");
            (name, data)
        })
        .collect()
}

fn translate_all(codec: crate::providers::Codec, wire: &[u8], model: &str) -> Vec<u8> {
    let mut state = TranslateState::new(
        codec::StreamDecoder::new(codec, &decode_ctx()).unwrap(),
        EventRenderer::new(model),
    );
    let mut out = Vec::new();
    for piece in wire.chunks(37) {
        if let Some(b) = state.push(piece) {
            out.extend_from_slice(&b);
        }
    }
    if let Some(b) = state.end() {
        out.extend_from_slice(&b);
    }
    assert!(state.completed());
    out
}

#[test]
fn openai_parallel_tool_calls_stream_as_anthropic_events() {
    let wire =
        include_bytes!("../../../../fixtures/openai/chat-stream-parallel-tool-calls-usage.sse");
    let out = translate_all(crate::providers::Codec::OpenAiChat, wire, "gpt-4o");
    let evs = events(&out);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0]["index"], 0);
    assert_eq!(starts[0]["content_block"]["name"], "GetWeatherArgs");
    assert_eq!(starts[0]["content_block"]["input"], json!({}));
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(starts[1]["content_block"]["name"], "get_stock_price");
    // Each block's partial JSON rebuilds its arguments.
    let args = |i: u64| -> Value {
        let s: String = evs
            .iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == i)
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
            .collect();
        serde_json::from_str(&s).unwrap()
    };
    assert_eq!(
        args(0),
        json!({"city": "Edinburgh", "country": "GB", "units": "c"})
    );
    assert_eq!(args(1), json!({"ticker": "AAPL", "exchange": "NASDAQ"}));
    // Block 0 closes before block 1 opens.
    let stop0 = names
        .iter()
        .position(|n| *n == "content_block_stop")
        .unwrap();
    let start1 = names
        .iter()
        .rposition(|n| *n == "content_block_start")
        .unwrap();
    assert!(stop0 < start1);
    let (_, delta) = &evs[evs.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn anthropic_thinking_stream_round_trips_through_unified() {
    // The recorded Anthropic stream, decoded to unified chunks and rendered
    // back as Anthropic events: same blocks, same text, same signature.
    let jsonl =
        include_bytes!("../../../../fixtures/anthropic/messages-stream-thinking.chunks.jsonl");
    let mut wire = Vec::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        wire.extend_from_slice(b"data: ");
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\n\n");
    }
    let out = translate_all(crate::providers::Codec::Anthropic, &wire, "claude");
    let evs = events(&out);
    let (_, start) = &evs[0];
    assert_eq!(start["message"]["id"], "msg_01Y6V41gqPaKWEw7iPouH7iW");
    assert_eq!(start["message"]["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(start["message"]["usage"]["input_tokens"], 69);
    let blocks: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(blocks[0]["type"], "thinking");
    assert_eq!(blocks[1]["type"], "text");
    let joined = |kind: &str, field: &str| -> String {
        evs.iter()
            .filter(|(_, d)| d["delta"]["type"] == kind)
            .map(|(_, d)| d["delta"][field].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        joined("thinking_delta", "thinking"),
        "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185"
    );
    assert!(joined("signature_delta", "signature").starts_with("EvQBCkYICxgCKkAxhD4NUKFzudtZ6"));
    assert_eq!(joined("text_delta", "text"), "925 ÷ 5 = 185");
    let (_, delta) = &evs[evs.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 53);
    assert_eq!(delta["usage"]["input_tokens"], 69);
}

#[test]
fn response_renders_as_an_anthropic_message() {
    let body =
        include_bytes!("../../../../fixtures/openai/chat-completion-parallel-tool-calls.json");
    let r = crate::codec::openai_chat::decode_response(body, &decode_ctx()).unwrap();
    let out: Value = serde_json::from_slice(&render_response(&r)).unwrap();
    assert_eq!(out["type"], "message");
    assert_eq!(out["role"], "assistant");
    assert_eq!(out["stop_reason"], "tool_use");
    assert_eq!(out["content"][0]["type"], "tool_use");
    assert_eq!(out["content"][0]["id"], "call_fdNz3vOBKYgOIpMdWotB9MjY");
    assert_eq!(
        out["content"][1]["input"],
        json!({"ticker": "AAPL", "exchange": "NASDAQ"})
    );
    let usage = r.usage.unwrap();
    assert_eq!(
        out["usage"]["input_tokens"],
        usage.input_tokens - usage.cache_read_tokens
    );
    assert_eq!(out["usage"]["output_tokens"], usage.output_tokens);
    // An Anthropic body decoded and rendered again keeps its content.
    let body = include_bytes!("../../../../fixtures/anthropic/messages-thinking.json");
    let r = crate::codec::anthropic::decode_response(body, &decode_ctx()).unwrap();
    let out: Value = serde_json::from_slice(&render_response(&r)).unwrap();
    let original: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(out["content"], original["content"]);
    assert_eq!(out["id"], original["id"]);
    assert_eq!(out["usage"]["output_tokens"], 33);
}

#[test]
fn stream_errors_are_anthropic_error_events() {
    let e = crate::error::GatewayError::new(crate::error::ErrorKind::UpstreamUnavailable, "cut")
        .with_code("upstream_stream_error");
    let evs = events(&error_event(&e));
    assert_eq!(
        evs,
        vec![(
            "error".to_string(),
            json!({"type": "error", "error": {"type": "api_error", "message": "cut"}})
        )]
    );
    let e = crate::codec::anthropic::stream_error("overloaded_error", "Overloaded");
    let evs = events(&error_event(&e));
    assert_eq!(evs[0].1["error"]["type"], "overloaded_error");
    // A stream that fails before any chunk still says what happened.
    let mut r = EventRenderer::new("m");
    assert_eq!(events(&r.error(&e))[0].0, "error");
}

#[test]
fn empty_upstream_answer_still_frames_a_message() {
    let mut r = EventRenderer::new("gpt-x");
    let evs = events(&r.end(None));
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
    assert_eq!(evs[0].1["message"]["model"], "gpt-x");
    assert_eq!(evs[1].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn every_claude_code_request_to_gemini() {
    let d = deployment("gemini", "gemini-2.5-flash", "http://up/gemini");
    let mut tool_results = 0;
    for (name, file) in CLAUDE_CODE {
        let (body, betas) = recorded(file);
        let env = MessagesEnvelope::parse(body.as_bytes()).unwrap();
        let original: Value = serde_json::from_str(body).unwrap();
        let r = route(&env, &router(), configured).unwrap();
        let (req, _) = translated_request(&env, &r, &d, &betas, None, &router()).unwrap();
        let ctx = EncodeContext {
            now_ms: 0,
            access_token: None,
        };
        let http = codec::encode(&req, &d, &ctx).unwrap();
        // Claude Code always streams: Gemini's SSE endpoint, key in a header.
        assert_eq!(
            http.uri().to_string(),
            "http://up/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            "{name}"
        );
        assert_eq!(http.headers()["x-goog-api-key"], "sk-up");
        let out: Value = serde_json::from_slice(http.body()).unwrap();
        // The system blocks land in systemInstruction, not in the turns.
        let instruction = out["systemInstruction"].to_string();
        for block in original["system"].as_array().unwrap() {
            let first_line = block["text"].as_str().unwrap().lines().next().unwrap();
            let quoted = serde_json::to_string(first_line).unwrap();
            assert!(
                instruction.contains(quoted.trim_matches('"')),
                "{name}: {first_line}"
            );
        }
        let contents = out["contents"].as_array().unwrap();
        assert!(contents
            .iter()
            .all(|c| c["role"] == "user" || c["role"] == "model"));
        assert_eq!(contents[0]["role"], "user");
        let first_user = original["messages"][0]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(contents[0].to_string().contains(
            serde_json::to_string(first_user.lines().next().unwrap())
                .unwrap()
                .trim_matches('"')
        ));
        // Every client tool as a function declaration, in order.
        let declared: Vec<&str> = out["tools"][0]["functionDeclarations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let offered: Vec<&str> = original["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(declared, offered, "{name}");
        assert_eq!(
            out["generationConfig"]["maxOutputTokens"], original["max_tokens"],
            "{name}"
        );
        assert!(out.get("thinking").is_none() && out.get("context_management").is_none());
        // A tool result answers the call it belongs to, by the tool's name.
        let calls: Vec<&str> = original["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        let answered: Vec<&str> = contents
            .iter()
            .filter_map(|c| c["parts"].as_array())
            .flatten()
            .filter_map(|p| p["functionResponse"]["name"].as_str())
            .collect();
        assert_eq!(answered, calls, "{name}");
        tool_results += answered.len();
    }
    // The recordings with a tool-result turn were really exercised.
    assert!(tool_results >= 2, "{tool_results}");
}
