//! Model resolution: the name a client sends → the deployment that serves it.
//!
//! Order: an exact `model_list` name, then a `model_list` wildcard, then
//! `provider/model` for any known provider with its defaults (the static
//! `PROVIDERS`, then the catalog's providers and their aliases), then
//! `model@provider`, then a bare catalog id served by its maker
//! (`gpt-4o` → `openai/gpt-4o`). Anything else is a 404 naming the closest
//! known ids.

use crate::catalog::Catalog;
use crate::config::{ApiMode, Config, ModelEntry};
use crate::error::{ErrorKind, GatewayError};
use crate::ports::Env;
use crate::providers::{Codec, ProviderSpec};
use crate::secret::resolve_secret;
use crate::secret::Secret;

mod bare;
mod provider_lookup;

pub(crate) use provider_lookup::provider;

/// Everything needed to call one upstream for one request.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub provider: &'static ProviderSpec,
    /// The model id sent upstream.
    pub upstream_model: String,
    /// Base URL without a trailing slash.
    pub api_base: String,
    pub api_key: Option<Secret>,
    pub mock_response: Option<String>,
    pub request_timeout_ms: Option<u64>,
    /// Same-format requests are forwarded as sent (see `ModelEntry::passthrough`).
    pub passthrough: bool,
    /// Settings only some providers read (regions, API versions, cloud credentials).
    pub params: ProviderParams,
}

/// Provider-specific settings, each from the deployment's config entry or,
/// failing that, the variable that provider's own SDKs read.
#[derive(Debug, Clone, Default)]
pub struct ProviderParams {
    pub api_version: Option<String>,
    pub azure_ad_token: Option<Secret>,
    pub aws_region: Option<String>,
    pub aws_access_key_id: Option<Secret>,
    pub aws_secret_access_key: Option<Secret>,
    pub aws_session_token: Option<Secret>,
    pub vertex_project: Option<String>,
    pub vertex_location: Option<String>,
    pub vertex_credentials: Option<Secret>,
    pub extra_headers: Vec<(String, String)>,
    /// The wire format when it is not the provider's own: OpenAI models that
    /// only the Responses API serves (see [`crate::providers::responses_only`]).
    pub codec: Option<Codec>,
    /// The deployment's `drop_params`, over `general.drop_params`.
    pub drop_params: Option<bool>,
    /// Anthropic-family codecs add prompt-cache breakpoints themselves.
    pub auto_cache: bool,
    /// Output-token limit from the config entry (`max_output_tokens`).
    pub max_output_tokens: Option<u32>,
}

impl ProviderParams {
    fn resolve(entry: Option<&ModelEntry>, env: &impl Env) -> ProviderParams {
        let plain = |v: Option<&String>, names: &[&str]| -> Option<String> {
            match v {
                Some(v) => resolve_secret(v, env).map(|s| s.expose().to_owned()),
                None => first_env(env, names),
            }
        };
        let secret = |v: Option<&String>, names: &[&str]| -> Option<Secret> {
            match v {
                Some(v) => resolve_secret(v, env),
                None => first_env(env, names).map(Secret::new),
            }
        };
        let aws_key_in_entry = entry.is_some_and(|e| e.aws_access_key_id.is_some());
        ProviderParams {
            api_version: plain(
                entry.and_then(|e| e.api_version.as_ref()),
                &["AZURE_API_VERSION"],
            ),
            azure_ad_token: secret(
                entry.and_then(|e| e.azure_ad_token.as_ref()),
                &["AZURE_AD_TOKEN"],
            ),
            aws_region: plain(
                entry.and_then(|e| e.aws_region_name.as_ref()),
                &["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"],
            ),
            aws_access_key_id: secret(
                entry.and_then(|e| e.aws_access_key_id.as_ref()),
                &["AWS_ACCESS_KEY_ID"],
            ),
            // AWS credentials belong together: an access key from the config
            // must not be paired with the secret or session token of the
            // environment (on Lambda, those of the function's own role).
            aws_secret_access_key: secret(
                entry.and_then(|e| e.aws_secret_access_key.as_ref()),
                if aws_key_in_entry {
                    &[]
                } else {
                    &["AWS_SECRET_ACCESS_KEY"]
                },
            ),
            aws_session_token: secret(
                entry.and_then(|e| e.aws_session_token.as_ref()),
                if aws_key_in_entry {
                    &[]
                } else {
                    &["AWS_SESSION_TOKEN"]
                },
            ),
            vertex_project: plain(
                entry.and_then(|e| e.vertex_project.as_ref()),
                &["VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"],
            ),
            vertex_location: plain(
                entry.and_then(|e| e.vertex_location.as_ref()),
                &["VERTEXAI_LOCATION", "VERTEX_LOCATION"],
            ),
            vertex_credentials: secret(
                entry.and_then(|e| e.vertex_credentials.as_ref()),
                &[
                    "VERTEXAI_CREDENTIALS",
                    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
                ],
            ),
            extra_headers: entry
                .map(|e| {
                    e.headers
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.clone(), resolve_secret(v, env)?.expose().to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            codec: None,
            drop_params: entry.and_then(|e| e.drop_params),
            auto_cache: entry.and_then(|e| e.auto_cache).unwrap_or(false),
            max_output_tokens: entry
                .and_then(|e| e.max_output_tokens)
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
        }
    }
}

fn first_env(env: &impl Env, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| env.var(name).filter(|v| !v.is_empty()))
}

impl Deployment {
    pub fn codec(&self) -> Codec {
        self.params.codec.unwrap_or(self.provider.codec)
    }

    /// Every credential this deployment holds: what an upstream's answer
    /// must never carry back to a client.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        let p = &self.params;
        [
            self.api_key.as_ref(),
            p.azure_ad_token.as_ref(),
            p.aws_access_key_id.as_ref(),
            p.aws_secret_access_key.as_ref(),
            p.aws_session_token.as_ref(),
            p.vertex_credentials.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// [`resolve_entry`] against the embedded catalog, without the entry: for
/// tests, benches and tools, which have no gateway instance.
pub fn resolve_model(
    requested: &str,
    config: &Config,
    env: &impl Env,
) -> Result<Deployment, GatewayError> {
    resolve_entry(requested, config, crate::catalog::embedded(), env).map(|(d, _)| d)
}

/// Like [`resolve_model`], also naming the `model_list` entry used, if any
/// (its metadata overrides apply to the deployment).
pub fn resolve_entry<'c>(
    requested: &str,
    config: &'c Config,
    catalog: &'static Catalog,
    env: &impl Env,
) -> Result<(Deployment, Option<&'c ModelEntry>), GatewayError> {
    crate::model_name::check(requested)?;
    if let Some(entry) = config.model_list.iter().find(|e| e.model_name == requested) {
        return Ok((from_entry(entry, None, catalog, env)?, Some(entry)));
    }
    let wildcard = config.model_list.iter().find_map(|e| {
        let prefix = e.model_name.strip_suffix('*')?;
        let rest = requested.strip_prefix(prefix)?;
        (!rest.is_empty()).then_some((e, rest))
    });
    if let Some((entry, rest)) = wildcard {
        return Ok((from_entry(entry, Some(rest), catalog, env)?, Some(entry)));
    }
    if let Some((pid, model)) = requested.split_once('/') {
        if let Some(spec) = provider(catalog, pid) {
            if !model.is_empty() {
                return Ok((build(spec, model.to_owned(), None, catalog, env)?, None));
            }
        }
    }
    if let Some((model, pid)) = requested.rsplit_once('@') {
        if let Some(spec) = provider(catalog, pid) {
            if !model.is_empty() {
                return Ok((build(spec, model.to_owned(), None, catalog, env)?, None));
            }
        }
    }
    bare::bare_model(requested, config, catalog, env)
}

/// The deployment of one `model_list` entry (a member of a group).
pub fn resolve_listed(
    entry: &ModelEntry,
    catalog: &'static Catalog,
    env: &impl Env,
) -> Result<Deployment, GatewayError> {
    from_entry(entry, None, catalog, env)
}

fn from_entry(
    entry: &ModelEntry,
    wildcard_rest: Option<&str>,
    catalog: &'static Catalog,
    env: &impl Env,
) -> Result<Deployment, GatewayError> {
    let raw_model = entry.model.as_deref().unwrap_or("*");
    let (pid, model) = match &entry.provider {
        Some(p) => (p.as_str(), raw_model),
        None => raw_model.split_once('/').ok_or_else(|| {
            config_error(format!(
                "model_list entry `{}` names no provider",
                entry.model_name
            ))
        })?,
    };
    let spec = provider(catalog, pid).ok_or_else(|| {
        config_error(format!(
            "model_list entry `{}` names unknown provider `{pid}`",
            entry.model_name
        ))
    })?;
    let model = match wildcard_rest {
        Some(rest) => model.replace('*', rest),
        None if model == "*" => entry.model_name.clone(),
        None => model.to_owned(),
    };
    build(spec, model, Some(entry), catalog, env)
}

pub(crate) fn build(
    spec: &'static ProviderSpec,
    upstream_model: String,
    entry: Option<&ModelEntry>,
    catalog: &'static Catalog,
    env: &impl Env,
) -> Result<Deployment, GatewayError> {
    crate::model_name::check_path_safe(&upstream_model)?;
    let api_base = entry.and_then(|e| e.api_base.as_deref());
    let api_key = entry.and_then(|e| e.api_key.as_deref());
    let catalog = provider_lookup::catalog_defaults(catalog, spec);
    let api_base = match api_base {
        Some(b) => match b.strip_prefix("env:").or_else(|| b.strip_prefix("os.environ/")) {
            // LiteLLM configs name their base URLs by variable too.
            Some(name) => Some(env.var(name.trim()).filter(|v| !v.is_empty()).ok_or_else(|| {
                GatewayError::provider_not_configured(
                    spec.id,
                    format!("The api_base of `{upstream_model}` is the variable {name}, which is not set."),
                )
            })?),
            None => Some(b.to_owned()),
        },
        None => match first_env(env, spec.base_env) {
            Some(b) => Some(b),
            None => {
                let default = spec.base_url.or(catalog.base_url);
                // A local server's default address is this machine's (or its
                // network's): any caller could reach it through the gateway.
                // Only the operator opens it: a model_list entry, or a base
                // URL variable.
                if let Some(local) = default.filter(|b| entry.is_none() && is_local_url(b)) {
                    return Err(GatewayError::provider_not_configured(
                        spec.id,
                        format!(
                            "Provider `{}` has only a local default address ({local}), which callers may not reach through the gateway: set {} or give api_base in a model_list entry.",
                            spec.id,
                            spec.base_env.first().copied().unwrap_or("its *_API_BASE variable"),
                        ),
                    ));
                }
                default.map(str::to_owned)
            }
        },
    };
    let api_base = match api_base {
        Some(b) => Some(provider_lookup::fill_placeholders(&b, spec.id, env)?),
        None => None,
    };
    let api_base = match (api_base, spec.codec) {
        (Some(b), _) => b.trim_end_matches('/').to_owned(),
        (None, Codec::Mock) => String::new(),
        (None, _) => {
            return Err(GatewayError::provider_not_configured(
                spec.id,
                format!(
                    "Provider `{}` needs an api_base for model `{upstream_model}`: give api_base in a model_list entry{}.",
                    spec.id,
                    spec.base_env
                        .first()
                        .map(|v| format!(" or set {v}"))
                        .unwrap_or_default()
                ),
            ))
        }
    };
    let api_key = match api_key {
        Some(v) => resolve_secret(v, env),
        None => first_env(env, spec.key_env)
            .or_else(|| first_env(env, catalog.key_env))
            .map(Secret::new),
    };
    if api_key.is_none() && !spec.key_optional {
        let hint = spec
            .key_env
            .first()
            .or(catalog.key_env.first())
            .copied()
            .unwrap_or("api_key");
        return Err(GatewayError::provider_not_configured(
            spec.id,
            format!(
                "No API key configured for provider `{}`: set {hint} or api_key in the model_list entry.",
                spec.id
            ),
        ));
    }
    let mut params = ProviderParams::resolve(entry, env);
    params.codec = api_codec(spec, &upstream_model, entry.and_then(|e| e.api_mode))?;
    Ok(Deployment {
        provider: spec,
        upstream_model,
        api_base,
        api_key,
        mock_response: entry.and_then(|e| e.mock_response.clone()),
        request_timeout_ms: entry.and_then(|e| e.request_timeout_ms),
        passthrough: entry.and_then(|e| e.passthrough).unwrap_or(true),
        params,
    })
}

/// Which OpenAI API a deployment uses: the entry's `api_mode`, else the
/// table of Responses-only models for the providers that serve them.
fn api_codec(
    spec: &ProviderSpec,
    model: &str,
    mode: Option<ApiMode>,
) -> Result<Option<Codec>, GatewayError> {
    if spec.codec != Codec::OpenAiChat {
        return match mode {
            None => Ok(None),
            Some(_) => Err(config_error(format!(
                "api_mode applies to OpenAI-format providers only, not `{}`",
                spec.id
            ))),
        };
    }
    Ok(match mode {
        Some(ApiMode::Responses) => Some(Codec::OpenAiResponses),
        Some(ApiMode::Chat) => None,
        None if crate::providers::responses_only(spec.id, model) => Some(Codec::OpenAiResponses),
        None => None,
    })
}

/// Whether a URL's host is this machine or a private network: loopback,
/// `localhost`, the unspecified address, RFC 1918 / unique-local and
/// link-local ranges. A host still holding a `${…}` placeholder is not.
fn is_local_url(url: &str) -> bool {
    use std::net::{IpAddr, Ipv6Addr};
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let v6_local = |ip: Ipv6Addr| {
        let first = ip.segments()[0];
        ip.is_loopback()
            || ip.is_unspecified()
            || (first & 0xfe00) == 0xfc00
            || (first & 0xffc0) == 0xfe80
    };
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_unspecified() || ip.is_link_local()
        }
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_private() || v4.is_unspecified(),
            None => v6_local(ip),
        },
        Err(_) => false,
    }
}

fn config_error(message: String) -> GatewayError {
    GatewayError::new(ErrorKind::Configuration, message).with_code("config_error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn config() -> Config {
        Config::parse(
            r#"
            [[model_list]]
            model_name = "fast"
            provider = "openai_compatible"
            model = "llama-3.1-8b"
            api_base = "http://fleet/v1/"
            api_key = "env:FLEET_KEY"
            [[model_list]]
            model_name = "fleet/*"
            provider = "openai_compatible"
            model = "*"
            api_base = "http://fleet/v1"
            [[model_list]]
            model_name = "gpt"
            model = "openai/gpt-4o"
            [[model_list]]
            model_name = "canned"
            provider = "mock"
            mock_response = "hi"
            "#,
        )
        .unwrap()
    }

    fn env() -> MapEnv {
        MapEnv(HashMap::from([
            ("FLEET_KEY", "fk"),
            ("OPENAI_API_KEY", "ok"),
        ]))
    }

    #[test]
    fn exact_name_wins() {
        let d = resolve_model("fast", &config(), &env()).unwrap();
        assert_eq!(d.upstream_model, "llama-3.1-8b");
        assert_eq!(d.api_base, "http://fleet/v1");
        assert!(d.api_key.unwrap().matches("fk"));
    }

    #[test]
    fn wildcard_substitutes_the_rest() {
        let d = resolve_model("fleet/fault:status=429", &config(), &env()).unwrap();
        assert_eq!(d.upstream_model, "fault:status=429");
        assert!(d.api_key.is_none());
        assert!(resolve_model("fleet/", &config(), &env()).is_err());
    }

    #[test]
    fn provider_prefix_in_model_and_env_defaults() {
        let d = resolve_model("gpt", &config(), &env()).unwrap();
        assert_eq!(d.provider.id, "openai");
        assert_eq!(d.upstream_model, "gpt-4o");
        assert_eq!(d.api_base, "https://api.openai.com/v1");
        let d = resolve_model("openai/o3", &config(), &env()).unwrap();
        assert_eq!(d.upstream_model, "o3");
        assert!(d.api_key.unwrap().matches("ok"));
    }

    #[test]
    fn base_url_env_override() {
        let env = MapEnv(HashMap::from([
            ("OPENAI_API_KEY", "ok"),
            ("OPENAI_API_BASE", "http://127.0.0.1:9/v1/"),
        ]));
        let d = resolve_model("openai/gpt-4o", &Config::default(), &env).unwrap();
        assert_eq!(d.api_base, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn unknown_and_keyless() {
        let e = resolve_model("nope", &config(), &env()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        let e = resolve_model("unknownprov/x", &config(), &env()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = resolve_model("openai/gpt-4o", &Config::default(), &MapEnv(HashMap::new()))
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
        assert_eq!(e.status, 404);
        assert!(!e.message.contains("ok"));
    }

    #[test]
    fn aws_credentials_come_from_one_place() {
        let env = MapEnv(HashMap::from([
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "envtoken"),
            ("CFG_SECRET", "cfgsecret"),
        ]));
        let config = Config::parse(
            r#"
            [[model_list]]
            model_name = "cfg"
            model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
            aws_access_key_id = "CFGKEY"
            aws_secret_access_key = "env:CFG_SECRET"
            [[model_list]]
            model_name = "envcreds"
            model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
            "#,
        )
        .unwrap();
        let p = resolve_model("cfg", &config, &env).unwrap().params;
        assert!(p.aws_access_key_id.unwrap().matches("CFGKEY"));
        assert!(p.aws_secret_access_key.unwrap().matches("cfgsecret"));
        assert!(
            p.aws_session_token.is_none(),
            "the role's token must not join config keys"
        );
        let p = resolve_model("envcreds", &config, &env).unwrap().params;
        assert!(p.aws_access_key_id.unwrap().matches("ENVKEY"));
        assert!(p.aws_session_token.unwrap().matches("envtoken"));
    }

    #[test]
    fn mock_needs_nothing() {
        let d = resolve_model("canned", &config(), &MapEnv(HashMap::new())).unwrap();
        assert_eq!(d.codec(), Codec::Mock);
        assert_eq!(d.mock_response.as_deref(), Some("hi"));
        let d = resolve_model("mock/anything", &config(), &MapEnv(HashMap::new())).unwrap();
        assert_eq!(d.upstream_model, "anything");
    }

    #[test]
    fn catalog_providers_by_id_alias_and_at_form() {
        let env = MapEnv(HashMap::from([
            ("DEEPSEEK_API_KEY", "dk"),
            ("TOGETHER_API_KEY", "tk"),
        ]));
        let cfg = Config::default();
        for name in ["deepseek/deepseek-chat", "deepseek-chat@deepseek"] {
            let d = resolve_model(name, &cfg, &env).unwrap();
            assert_eq!(d.provider.id, "deepseek");
            assert_eq!(d.upstream_model, "deepseek-chat");
            assert_eq!(d.api_base, "https://api.deepseek.com");
            assert!(d.api_key.unwrap().matches("dk"));
        }
        // LiteLLM's provider name reaches the same provider
        let d = resolve_model("together_ai/Qwen/Qwen2.5-72B-Instruct-Turbo", &cfg, &env).unwrap();
        assert_eq!(d.provider.id, "togetherai");
        assert_eq!(d.upstream_model, "Qwen/Qwen2.5-72B-Instruct-Turbo");
        assert_eq!(d.api_base, "https://api.together.xyz/v1");
        // a model the catalog does not list is still forwarded
        let d = resolve_model("deepseek/deepseek-v9", &cfg, &env).unwrap();
        assert_eq!(d.upstream_model, "deepseek-v9");
        // the key variable is named to the operator only
        let e = resolve_model("groq/llama-3.1-8b-instant", &cfg, &env).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
        assert!(!e.message.contains("GROQ_API_KEY"), "{}", e.message);
        assert!(e.log_text().contains("GROQ_API_KEY"), "{}", e.log_text());
    }

    #[test]
    fn catalog_base_urls_take_env_overrides_and_placeholders() {
        let cfg = Config::default();
        let env = MapEnv(HashMap::from([
            ("DEEPSEEK_API_KEY", "dk"),
            ("DEEPSEEK_API_BASE", "http://127.0.0.1:9/openai/v1/"),
        ]));
        let d = resolve_model("deepseek/deepseek-chat", &cfg, &env).unwrap();
        assert_eq!(d.api_base, "http://127.0.0.1:9/openai/v1");
        let env = MapEnv(HashMap::from([("CLOUDFLARE_API_KEY", "ck")]));
        let e = resolve_model(
            "cloudflare-workers-ai/@cf/meta/llama-3.2-1b-instruct",
            &cfg,
            &env,
        )
        .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("provider_not_configured"));
        assert!(!e.message.contains("CLOUDFLARE_ACCOUNT_ID"));
        assert!(e.log_text().contains("CLOUDFLARE_ACCOUNT_ID"));
        let env = MapEnv(HashMap::from([
            ("CLOUDFLARE_API_KEY", "ck"),
            ("CLOUDFLARE_ACCOUNT_ID", "acc123"),
        ]));
        let d = resolve_model(
            "cloudflare-workers-ai/@cf/meta/llama-3.2-1b-instruct",
            &cfg,
            &env,
        )
        .unwrap();
        assert_eq!(
            d.api_base,
            "https://api.cloudflare.com/client/v4/accounts/acc123/ai/v1"
        );
        assert_eq!(d.upstream_model, "@cf/meta/llama-3.2-1b-instruct");
    }

    #[test]
    fn local_servers_need_no_key() {
        let cfg = Config::default();
        let env = MapEnv(HashMap::from([(
            "OLLAMA_API_BASE",
            "http://127.0.0.1:11434",
        )]));
        let d = resolve_model("ollama/llama3.2", &cfg, &env).unwrap();
        assert_eq!(d.api_base, "http://127.0.0.1:11434");
        assert!(d.api_key.is_none());
        let env = MapEnv(HashMap::from([("VLLM_API_BASE", "http://gpu-box:8000/v1")]));
        let d = resolve_model("vllm/meta-llama/Llama-3.1-8B-Instruct", &cfg, &env).unwrap();
        assert_eq!(d.api_base, "http://gpu-box:8000/v1");
        assert_eq!(d.upstream_model, "meta-llama/Llama-3.1-8B-Instruct");
    }

    #[test]
    fn local_default_addresses_are_closed_until_configured() {
        let cfg = Config::default();
        let none = MapEnv(HashMap::new());
        for name in [
            "ollama/llama3.2",
            "lmstudio/x",
            "atomic-chat/x",
            "vllm/x",
            "llamacpp/x",
            "lemonade/x",
            "localai/x",
            "privatemode-ai/x",
            "xinference/x",
        ] {
            let e = resolve_model(name, &cfg, &none).unwrap_err();
            assert_eq!(e.status, 404, "{name}");
            assert_eq!(e.code.as_deref(), Some("provider_not_configured"), "{name}");
            assert!(!e.message.contains("_API_BASE"), "{name}: {}", e.message);
            let note = e.operator_note.as_deref().unwrap_or_default();
            assert!(note.contains("_API_BASE"), "{name}: {note}");
        }
        // A model_list entry opens the same server.
        let cfg = Config::parse(
            r#"
            [[model_list]]
            model_name = "studio/*"
            provider = "lmstudio"
            model = "*"
            api_base = "http://127.0.0.1:1234/v1"
            [[model_list]]
            model_name = "local-llama"
            provider = "ollama"
            model = "llama3.2"
            "#,
        )
        .unwrap();
        let d = resolve_model("studio/qwen", &cfg, &none).unwrap();
        assert_eq!(d.api_base, "http://127.0.0.1:1234/v1");
        let d = resolve_model("local-llama", &cfg, &none).unwrap();
        assert_eq!(d.api_base, "http://localhost:11434");
        // Public defaults are untouched.
        let env = MapEnv(HashMap::from([("DEEPSEEK_API_KEY", "dk")]));
        assert!(resolve_model("deepseek/deepseek-chat", &Config::default(), &env).is_ok());
    }

    #[test]
    fn local_urls_by_host() {
        for url in [
            "http://localhost:11434",
            "http://LOCALHOST./v1",
            "http://api.localhost/v1",
            "http://127.0.0.1:1234/v1",
            "http://127.8.9.10",
            "http://0.0.0.0:8080",
            "http://[::1]:8000/v1",
            "http://[::]:8000",
            "http://[::ffff:127.0.0.1]/v1",
            "http://[fd00::1]/v1",
            "http://[fe80::1]/v1",
            "http://10.1.2.3/v1",
            "http://172.16.0.1/v1",
            "http://192.168.1.20:8000/v1",
            "http://169.254.169.254/latest",
            "http://user@localhost:1/v1",
        ] {
            assert!(is_local_url(url), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "https://${DATABRICKS_HOST}/ai-gateway/mlflow/v1",
            "${NEON_AI_GATEWAY_BASE_URL}/ai-gateway/mlflow/v1",
            "http://172.32.0.1/v1",
            "http://8.8.8.8/v1",
            "http://[2001:db8::1]/v1",
            "https://localhost.example.com/v1",
        ] {
            assert!(!is_local_url(url), "{url}");
        }
    }

    #[test]
    fn bare_ids_and_config_entries_naming_catalog_providers() {
        let env = MapEnv(HashMap::from([
            ("OPENAI_API_KEY", "ok"),
            ("DEEPSEEK_API_KEY", "dk"),
            ("XAI_API_KEY", "xk"),
        ]));
        let d = resolve_model("gpt-4o", &config(), &env).unwrap();
        assert_eq!(
            (d.provider.id, d.upstream_model.as_str()),
            ("openai", "gpt-4o")
        );
        let d = resolve_model("deepseek-reasoner", &config(), &env).unwrap();
        assert_eq!(d.provider.id, "deepseek");
        let d = resolve_model("grok-3-mini", &config(), &env).unwrap();
        assert_eq!(
            (d.provider.id, d.api_base.as_str()),
            ("xai", "https://api.x.ai/v1")
        );
        let cfg = Config::parse(
            r#"
            [[model_list]]
            model_name = "cheap"
            provider = "deepseek"
            model = "deepseek-chat"
            "#,
        )
        .unwrap();
        let (d, entry) = resolve_entry("cheap", &cfg, crate::catalog::embedded(), &env).unwrap();
        assert_eq!(d.api_base, "https://api.deepseek.com");
        assert_eq!(entry.unwrap().model_name, "cheap");
    }

    #[test]
    fn unknown_models_name_the_closest() {
        let e = resolve_model("gpt-4o-mnii", &config(), &env()).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        assert!(e.message.contains("Did you mean"), "{}", e.message);
        assert!(e.message.contains("`gpt-4o-mini`"), "{}", e.message);
        let e = resolve_model("fastt", &config(), &env()).unwrap_err();
        assert!(e.message.contains("`fast`"), "{}", e.message);
        let e = resolve_model("deepsek/deepseek-chat", &config(), &env()).unwrap_err();
        assert!(
            e.message.contains("`deepseek/deepseek-chat`"),
            "{}",
            e.message
        );
    }
}
