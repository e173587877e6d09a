//! One test per rule family, on both request forms.

use std::collections::HashMap;

use super::*;
use crate::codec::openai_chat::render_request;
use crate::config::Config;
use crate::ports::Env;
use crate::providers::{responses_only, ProviderSpec};
use crate::resolve::provider;
use crate::resolve::resolve_model;
use crate::secret::Secret;

struct MapEnv(HashMap<&'static str, &'static str>);
impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn env() -> MapEnv {
    MapEnv(HashMap::from([("OPENAI_API_KEY", "sk-o")]))
}

fn deployment(provider_id: &str, model: &str) -> Deployment {
    let mut d = resolve_model(
        &format!("{provider_id}/{model}"),
        &Config::default(),
        &env(),
    )
    .unwrap();
    d.passthrough = true;
    d
}

/// Anthropic is not in this branch's provider table; its rules key on the id.
static ANTHROPIC_SPEC: ProviderSpec = ProviderSpec {
    id: "anthropic",
    codec: Codec::Mock,
    base_url: None,
    key_env: &[],
    base_env: &[],
    key_optional: true,
};

fn anthropic(model: &str) -> Deployment {
    Deployment {
        provider: &ANTHROPIC_SPEC,
        upstream_model: model.into(),
        api_base: String::new(),
        api_key: Some(Secret::new("k")),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: false,
        params: Default::default(),
    }
}

fn envelope_after(
    body: &[u8],
    d: &Deployment,
    drop_params: bool,
) -> Result<(String, String), GatewayError> {
    let mut env = ChatEnvelope::parse(body).unwrap();
    let adjusted = apply(&mut env, d, drop_params)?;
    let out = env.render_passthrough(&d.upstream_model, false);
    Ok((String::from_utf8(out).unwrap(), adjusted.to_string()))
}

fn unified(body: &[u8]) -> ChatRequest {
    ChatEnvelope::parse(body).unwrap().to_unified().unwrap()
}

#[test]
fn glob_patterns() {
    assert!(glob("o3*", "o3"));
    assert!(glob("o3*", "o3-pro-2025-06-10"));
    assert!(!glob("o3*", "gpt-4o3"));
    assert!(glob("*", ""));
    assert!(glob("gpt-5*-codex*", "gpt-5.1-codex-max"));
    assert!(!glob("gpt-5*-codex", "gpt-5.1-codex-max"));
    assert!(glob("a*a", "aa"));
    assert!(!glob("a*a", "a"));
    assert!(glob("exact", "exact") && !glob("exact", "exactly"));
}

#[test]
fn responses_only_models_by_provider_and_pattern() {
    for m in [
        "o3-pro",
        "o3-pro-2025-06-10",
        "o1-pro",
        "gpt-5-codex",
        "gpt-5.1-codex-mini",
        "codex-mini-latest",
        "o4-mini-deep-research",
        "computer-use-preview",
    ] {
        assert!(responses_only("openai", m), "{m}");
        assert!(responses_only("azure", m), "{m}");
    }
    for m in ["o3", "o3-mini", "gpt-5", "gpt-5-mini", "gpt-4o"] {
        assert!(!responses_only("openai", m), "{m}");
    }
    assert!(!responses_only("openai_compatible", "o3-pro"));
}

#[test]
fn resolve_picks_the_api_per_deployment() {
    assert_eq!(
        deployment("openai", "o3-pro").codec(),
        Codec::OpenAiResponses
    );
    assert_eq!(deployment("openai", "o3").codec(), Codec::OpenAiChat);
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "compat-responses"
        provider = "openai_compatible"
        model = "gpt-oss-120b"
        api_base = "http://local/v1"
        api_mode = "responses"
        [[model_list]]
        model_name = "pro-as-chat"
        model = "openai/o3-pro"
        api_mode = "chat"
        drop_params = false
        [[model_list]]
        model_name = "bad"
        provider = "mock"
        api_mode = "responses"
        "#,
    )
    .unwrap();
    let d = resolve_model("compat-responses", &config, &env()).unwrap();
    assert_eq!(d.codec(), Codec::OpenAiResponses);
    let d = resolve_model("pro-as-chat", &config, &env()).unwrap();
    assert_eq!(d.codec(), Codec::OpenAiChat);
    assert_eq!(d.params.drop_params, Some(false));
    let e = resolve_model("bad", &config, &env()).unwrap_err();
    assert!(e.message.contains("api_mode"), "{}", e.message);
    assert!(
        Config::parse("[[model_list]]\nmodel_name = \"x\"\napi_mode = \"completions\"").is_err()
    );
    assert!(Config::default().general.drop_params);
}

#[test]
fn reasoning_models_lose_sampling_parameters_on_passthrough() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"h\u00e9"}],"temperature":0.2,"top_p":1,"presence_penalty":0.5,"frequency_penalty":0,"logprobs":true,"top_logprobs":2,"logit_bias":{"50256":-100},"max_tokens":20,"seed":7,"x":{"keep":[1, 2]}}"#;
    let (out, adjusted) = envelope_after(body, &deployment("openai", "o3-mini"), true).unwrap();
    assert_eq!(
        out,
        r#"{"model":"o3-mini","messages":[{"role":"user","content":"h\u00e9"}],"top_p":1,"frequency_penalty":0,"max_completion_tokens":20,"seed":7,"x":{"keep":[1, 2]}}"#
    );
    assert_eq!(
        adjusted,
        "temperature,presence_penalty,logprobs,top_logprobs,logit_bias,max_tokens->max_completion_tokens"
    );
}

#[test]
fn defaults_and_nulls_are_left_alone() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.0,"logprobs":false,"presence_penalty":null}"#;
    let (out, adjusted) = envelope_after(body, &deployment("openai", "gpt-5-mini"), true).unwrap();
    assert_eq!(adjusted, "");
    assert_eq!(
        out,
        r#"{"model":"gpt-5-mini","messages":[{"role":"user","content":"x"}],"temperature":1.0,"logprobs":false,"presence_penalty":null}"#
    );
}

#[test]
fn chat_models_are_untouched() {
    let body = br#"{"model":"m","messages":[{"role":"system","content":"s"}],"temperature":0.2,"max_tokens":5}"#;
    for model in ["gpt-4o", "gpt-5-chat-latest", "gpt-4.1-mini"] {
        let (out, adjusted) = envelope_after(body, &deployment("openai", model), true).unwrap();
        assert_eq!(adjusted, "", "{model}");
        assert!(
            out.contains(r#""temperature":0.2,"max_tokens":5"#),
            "{model}: {out}"
        );
    }
    // Only OpenAI's own providers: a compatible server named like a reasoning model is not OpenAI.
    let config = Config::parse("[[model_list]]\nmodel_name = \"o3\"\nprovider = \"openai_compatible\"\nmodel = \"o3\"\napi_base = \"http://x/v1\"").unwrap();
    let d = resolve_model("o3", &config, &env()).unwrap();
    let (_, adjusted) = envelope_after(body, &d, true).unwrap();
    assert_eq!(adjusted, "");
}

#[test]
fn both_limit_names_keep_the_clients_new_one() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"max_completion_tokens":9}"#;
    let (out, adjusted) = envelope_after(body, &deployment("openai", "o1"), true).unwrap();
    assert_eq!(adjusted, "max_tokens->max_completion_tokens");
    assert!(
        out.ends_with(r#""max_completion_tokens":9}"#) && !out.contains("max_tokens"),
        "{out}"
    );
}

#[test]
fn first_o1_models_get_system_turns_as_user_turns() {
    let body = br#"{"model":"m","messages":[{"role":"system","content":"rules","name":"s"},{"role":"user","content":[{"type":"text","text":"q"}]},{"content":"dev","role":"developer"}]}"#;
    let (out, adjusted) = envelope_after(body, &deployment("openai", "o1-mini"), true).unwrap();
    assert_eq!(adjusted, "system->user");
    assert_eq!(
        out,
        r#"{"model":"o1-mini","messages":[{"role":"user","content":"rules","name":"s"},{"role":"user","content":[{"type":"text","text":"q"}]},{"content":"dev","role":"user"}]}"#
    );
    let mut req = unified(body);
    let adjusted = apply(&mut req, &deployment("openai", "o1-preview"), true).unwrap();
    assert_eq!(adjusted.to_string(), "system->user");
    assert!(req.messages.iter().all(|m| m.role == Role::User));
    // o1 itself takes system turns.
    let (_, adjusted) = envelope_after(body, &deployment("openai", "o1"), true).unwrap();
    assert_eq!(adjusted, "");
}

#[test]
fn drop_params_off_refuses_instead_of_dropping() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"temperature":0.3}"#;
    let e = envelope_after(body, &deployment("openai", "o3"), false).unwrap_err();
    assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
    assert_eq!(e.param.as_deref(), Some("temperature"));
    assert!(
        e.message.contains("`temperature`") && e.message.contains("`o3`"),
        "{}",
        e.message
    );
    // A rename loses nothing: it happens either way.
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5}"#;
    let (_, adjusted) = envelope_after(body, &deployment("openai", "o3"), false).unwrap();
    assert_eq!(adjusted, "max_tokens->max_completion_tokens");
}

#[test]
fn translated_openai_chat_sends_the_new_limit_name() {
    let mut req = unified(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"temperature":0.3,"presence_penalty":1}"#);
    let d = deployment("openai", "o4-mini");
    let adjusted = apply(&mut req, &d, true).unwrap();
    assert_eq!(
        adjusted.to_string(),
        "temperature,presence_penalty,max_tokens->max_completion_tokens"
    );
    let body: serde_json::Value = serde_json::from_slice(&render_request(&req, "o4-mini")).unwrap();
    assert_eq!(body["max_completion_tokens"], 5);
    assert!(body.get("max_tokens").is_none() && body.get("temperature").is_none());
    assert!(req.extra.iter().all(|(k, _)| k != "presence_penalty"));
}

#[test]
fn responses_api_drops_what_it_cannot_express() {
    let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2,"stop":["z"],"seed":1,"temperature":0.4,"max_tokens":9,"frequency_penalty":0.2,"logprobs":true,"top_logprobs":3}"#;
    let mut req = unified(body);
    let adjusted = apply(&mut req, &deployment("openai", "o3-pro"), true).unwrap();
    assert_eq!(
        adjusted.to_string(),
        "temperature,frequency_penalty,logprobs,top_logprobs,n,stop,seed"
    );
    assert_eq!((req.n, req.seed, req.temperature), (None, None, None));
    assert!(req.stop.is_empty() && !req.use_max_completion_tokens);
    assert_eq!(req.max_tokens, Some(9));

    // A chat model forced onto the Responses API keeps its sampling parameters.
    let config = Config::parse(
        "[[model_list]]\nmodel_name = \"r\"\nmodel = \"openai/gpt-4.1\"\napi_mode = \"responses\"",
    )
    .unwrap();
    let d = resolve_model("r", &config, &env()).unwrap();
    let mut req = unified(body);
    let adjusted = apply(&mut req, &d, true).unwrap();
    assert_eq!(
        adjusted.to_string(),
        "n,stop,seed,frequency_penalty,logprobs,top_logprobs"
    );
    assert_eq!(req.temperature, Some(0.4));
    let mut req = unified(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":1}"#);
    assert_eq!(apply(&mut req, &d, true).unwrap().to_string(), "");
}

#[test]
fn anthropic_thinking_runs_at_temperature_one() {
    let d = anthropic("claude-sonnet-4-5");
    let mut req = unified(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"medium","temperature":0.3,"top_p":0.9,"top_k":40}"#);
    let adjusted = apply(&mut req, &d, true).unwrap();
    assert_eq!(adjusted.to_string(), "temperature=1,top_p,top_k");
    assert_eq!((req.temperature, req.top_p), (Some(1.0), None));
    assert!(req.extra.is_empty());

    let mut req = unified(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":1024},"temperature":0}"#);
    assert_eq!(
        apply(&mut req, &d, true).unwrap().to_string(),
        "temperature=1"
    );

    for body in [
        &br#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.3,"top_p":0.5}"#[..],
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"disabled"},"temperature":0.3}"#,
        br#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high","temperature":1}"#,
    ] {
        let mut req = unified(body);
        assert_eq!(apply(&mut req, &d, true).unwrap().to_string(), "");
    }

    let mut req = unified(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","temperature":0.5}"#);
    let e = apply(&mut req, &d, false).unwrap_err();
    assert_eq!(
        (e.param.as_deref(), e.code.as_deref()),
        (Some("temperature"), Some("unsupported_parameter"))
    );
    assert!(e.message.contains("must be 1"), "{}", e.message);

    // The envelope form reads the same switches.
    let mut env = ChatEnvelope::parse(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"},"temperature":0.2}"#).unwrap();
    assert_eq!(
        apply(&mut env, &d, true).unwrap().to_string(),
        "temperature=1"
    );
    assert_eq!(env.raw_field("temperature").unwrap().get(), "1.0");
}

#[test]
fn every_rule_names_a_real_action_and_pattern() {
    for rule in RULES {
        assert!(!rule.models.is_empty(), "{rule:?}");
        if let When::NotDefault(_) = rule.when {
            assert!(matches!(rule.action, Action::Drop(_)), "{rule:?}");
        }
    }
    assert!(provider(crate::catalog::embedded(), "openai").is_some());
}
