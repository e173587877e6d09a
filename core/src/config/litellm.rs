//! A LiteLLM proxy config (`model_list` with `litellm_params`,
//! `router_settings`, `litellm_settings`, `general_settings`), read as it
//! is: turned into this gateway's config shape, with every key it does not
//! use named in [`super::Config::import_notes`] rather than refused (a
//! LiteLLM config carries callbacks, Redis and database settings that have
//! no meaning here).

use serde_json::{Map, Value};

/// Whether a parsed config is in LiteLLM's shape.
pub fn is_litellm(v: &Value) -> bool {
    let Some(top) = v.as_object() else {
        return false;
    };
    ["litellm_settings", "general_settings"]
        .iter()
        .any(|k| top.contains_key(*k))
        || top
            .get("model_list")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|e| e.get("litellm_params").is_some()))
}

/// The same config in this gateway's shape, and what was left out.
pub fn import(v: Value) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let mut top = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut out = Map::new();
    let mut general = Map::new();
    let mut router = Map::new();

    let models = top.remove("model_list").unwrap_or(Value::Null);
    let list: Vec<Value> = models
        .as_array()
        .map(|l| {
            l.iter()
                .enumerate()
                .map(|(i, e)| model_entry(e, i, &mut notes))
                .collect()
        })
        .unwrap_or_default();
    out.insert("model_list".into(), Value::Array(list));

    for (section, value) in top {
        let Value::Object(settings) = value else {
            notes.push(format!("{section}: not a table, ignored"));
            continue;
        };
        for (key, value) in settings {
            let value = env_refs(value);
            let at = format!("{section}.{key}");
            match (section.as_str(), key.as_str()) {
                ("general_settings", "master_key") => {
                    general.insert("master_key".into(), value);
                }
                ("router_settings" | "litellm_settings", "num_retries") => {
                    router.insert("num_retries".into(), value);
                }
                ("router_settings", "timeout") | ("litellm_settings", "request_timeout") => {
                    if let Some(ms) = seconds_to_ms(&value) {
                        general.insert("request_timeout_ms".into(), ms);
                    }
                }
                ("litellm_settings", "drop_params") => {
                    general.insert("drop_params".into(), value);
                }
                (
                    "router_settings" | "litellm_settings",
                    "fallbacks" | "context_window_fallbacks" | "content_policy_fallbacks",
                ) => {
                    let merged = merge_fallbacks(router.get(&key), value);
                    router.insert(key, merged);
                }
                ("litellm_settings" | "router_settings", "default_fallbacks") => {
                    let all = serde_json::json!({ "*": value });
                    let merged = merge_fallbacks(router.get("fallbacks"), all);
                    router.insert("fallbacks".into(), merged);
                }
                (
                    "router_settings",
                    "routing_strategy" | "allowed_fails" | "cooldown_time" | "max_fallbacks",
                ) => {
                    router.insert(key, value);
                }
                ("router_settings", "retry_after") => {
                    // LiteLLM's minimum wait before a retry: the backoff's
                    // own floor is below it, and Retry-After is honoured.
                    notes.push(format!(
                        "{at}: the backoff starts at 250 ms with jitter; ignored"
                    ));
                }
                _ => notes.push(format!("{at}: not used by this gateway, ignored")),
            }
        }
    }
    if !general.is_empty() {
        out.insert("general".into(), Value::Object(general));
    }
    if !router.is_empty() {
        out.insert("router_settings".into(), Value::Object(router));
    }
    (Value::Object(out), notes)
}

fn model_entry(e: &Value, i: usize, notes: &mut Vec<String>) -> Value {
    let mut out = Map::new();
    let at = |k: &str| format!("model_list[{i}].{k}");
    if let Some(name) = e.get("model_name") {
        out.insert("model_name".into(), name.clone());
    }
    let params = e.get("litellm_params").and_then(Value::as_object);
    for (key, value) in params.into_iter().flatten() {
        let value = env_refs(value.clone());
        let ours = match key.as_str() {
            "model"
            | "api_key"
            | "api_base"
            | "api_version"
            | "aws_region_name"
            | "aws_access_key_id"
            | "aws_secret_access_key"
            | "aws_session_token"
            | "vertex_project"
            | "vertex_location"
            | "vertex_credentials"
            | "rpm"
            | "tpm"
            | "weight"
            | "order"
            | "mock_response"
            | "drop_params"
            | "tags"
            | "input_cost_per_token"
            | "output_cost_per_token"
            | "max_input_tokens"
            | "max_output_tokens" => key.as_str(),
            "timeout" => {
                if let Some(ms) = seconds_to_ms(&value) {
                    out.insert("request_timeout_ms".into(), ms);
                }
                continue;
            }
            "stream_timeout" => {
                if let Some(ms) = seconds_to_ms(&value) {
                    out.insert("ttft_timeout_ms".into(), ms);
                }
                continue;
            }
            "region_name" => "region",
            "extra_headers" => "headers",
            _ => {
                notes.push(format!(
                    "{}: not used by this gateway, ignored",
                    at(&format!("litellm_params.{key}"))
                ));
                continue;
            }
        };
        out.insert(ours.into(), value);
    }
    let info = e.get("model_info").and_then(Value::as_object);
    for (key, value) in info.into_iter().flatten() {
        match key.as_str() {
            "id"
            | "base_model"
            | "max_input_tokens"
            | "max_output_tokens"
            | "input_cost_per_token"
            | "output_cost_per_token" => {
                out.insert(key.clone(), value.clone());
            }
            // Informational in LiteLLM too.
            "mode" | "description" | "supports_vision" | "supports_function_calling" => {}
            _ => notes.push(format!(
                "{}: not used by this gateway, ignored",
                at(&format!("model_info.{key}"))
            )),
        }
    }
    for key in e.as_object().into_iter().flat_map(|o| o.keys()) {
        if !matches!(key.as_str(), "model_name" | "litellm_params" | "model_info") {
            notes.push(format!("{}: not used by this gateway, ignored", at(key)));
        }
    }
    Value::Object(out)
}

/// `os.environ/NAME` (LiteLLM's reference to a variable) becomes `env:NAME`
/// wherever it is a whole string.
fn env_refs(v: Value) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix("os.environ/") {
            Some(name) => Value::String(format!("env:{name}")),
            None => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(env_refs).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, env_refs(v))).collect()),
        other => other,
    }
}

fn seconds_to_ms(v: &Value) -> Option<Value> {
    let s = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    (s.is_finite() && s > 0.0).then(|| Value::from((s * 1000.0).round() as u64))
}

/// Both fallback spellings (a table, or LiteLLM's list of one-key tables)
/// as one list, `existing` first.
fn merge_fallbacks(existing: Option<&Value>, more: Value) -> Value {
    let as_list = |v: Value| match v {
        Value::Array(a) => a,
        Value::Object(m) => vec![Value::Object(m)],
        _ => Vec::new(),
    };
    let mut list = existing.cloned().map(as_list).unwrap_or_default();
    list.extend(as_list(more));
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_litellm_config_becomes_ours_and_says_what_it_left_out() {
        let v = serde_json::json!({
            "model_list": [
                {"model_name": "gpt-4o", "litellm_params": {
                    "model": "azure/gpt-4o-eu", "api_base": "os.environ/AZURE_API_BASE",
                    "api_key": "os.environ/AZURE_API_KEY", "api_version": "2024-06-01",
                    "rpm": 6, "timeout": 30, "stream_timeout": 5, "region_name": "swedencentral",
                    "custom_llm_provider": "x"},
                 "model_info": {"id": "eu-1", "mode": "chat"}},
            ],
            "router_settings": {"routing_strategy": "least-busy", "num_retries": 2,
                                "allowed_fails": 1, "cooldown_time": 30, "redis_host": "r"},
            "litellm_settings": {"fallbacks": [{"gpt-4o": ["claude"]}], "request_timeout": 12,
                                 "default_fallbacks": ["claude"], "success_callback": ["langfuse"]},
            "general_settings": {"master_key": "os.environ/MASTER", "database_url": "postgres://"},
        });
        assert!(is_litellm(&v));
        let (ours, notes) = import(v);
        let e = &ours["model_list"][0];
        assert_eq!(e["model"], "azure/gpt-4o-eu");
        assert_eq!(e["api_base"], "env:AZURE_API_BASE");
        assert_eq!(e["api_key"], "env:AZURE_API_KEY");
        assert_eq!(e["request_timeout_ms"], 30_000);
        assert_eq!(e["ttft_timeout_ms"], 5_000);
        assert_eq!(e["region"], "swedencentral");
        assert_eq!(e["id"], "eu-1");
        assert_eq!(ours["general"]["master_key"], "env:MASTER");
        assert_eq!(ours["general"]["request_timeout_ms"], 12_000);
        assert_eq!(ours["router_settings"]["routing_strategy"], "least-busy");
        let fallbacks = ours["router_settings"]["fallbacks"].as_array().unwrap();
        assert_eq!(fallbacks.len(), 2);
        assert!(fallbacks.contains(&serde_json::json!({"gpt-4o": ["claude"]})));
        assert!(fallbacks.contains(&serde_json::json!({"*": ["claude"]})));
        let notes = notes.join("\n");
        for left in [
            "custom_llm_provider",
            "redis_host",
            "success_callback",
            "database_url",
        ] {
            assert!(notes.contains(left), "{notes}");
        }
        assert!(!notes.contains("model_info.mode"), "{notes}");
    }

    #[test]
    fn our_own_shape_is_not_mistaken_for_litellm_s() {
        let v = serde_json::json!({"model_list": [{"model_name": "a", "model": "openai/x"}],
                                   "router_settings": {"fallbacks": {"a": ["b"]}}});
        assert!(!is_litellm(&v));
    }
}
