//! `dx.toml`: the gateway's configuration. Embedded at build time by the shells
//! and replaceable at deploy time by an environment variable holding the whole
//! file (TOML, or JSON when it starts with `{`: easier to pass on a command line).

pub mod litellm;
mod locate;
pub mod router;

use serde::Deserialize;

pub use router::{RouterSettings, Strategy};

use crate::ports::Env;
use crate::secret::{resolve_secret, Secret};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub model_list: Vec<ModelEntry>,
    /// Task-based routing of Anthropic Messages requests (Claude Code):
    /// `[task_routing]`, or `[router]` as it was first called.
    #[serde(default, alias = "router")]
    pub task_routing: crate::task_routing::RouterConfig,
    /// `[router_settings]` as written; read into `router_settings` once
    /// (through one deserializer, not TOML's and JSON's each: Worker size).
    #[serde(default, rename = "router_settings")]
    router_raw: Option<serde_json::Value>,
    /// Model groups: strategies, retries, cooldowns, fallbacks.
    #[serde(skip)]
    pub router_settings: RouterSettings,
    /// Runtime refresh of the model catalog.
    #[serde(default)]
    pub catalog: CatalogSettings,
    /// `[cache]` as written; read into `cache` once (by hand: Worker size).
    #[serde(default, rename = "cache")]
    cache_raw: Option<serde_json::Value>,
    /// The response cache; present means on for every model.
    #[serde(skip)]
    pub cache: Option<CacheSettings>,
    /// `[[telemetry]]` as written; read into `telemetry` once.
    #[serde(default, rename = "telemetry")]
    telemetry_raw: Vec<serde_json::Value>,
    /// Where each finished request is exported.
    #[serde(skip)]
    pub telemetry: Vec<crate::telemetry::SinkConfig>,
    /// `[[guardrails]]`: keyword lists and detectors on input and output.
    /// Read by [`crate::guardrails::GuardrailSpec::read`] (see there why).
    #[serde(default)]
    pub guardrails: Vec<serde_json::Value>,
    /// The sets above, compiled once when the config loads.
    #[serde(skip)]
    pub guards: std::sync::Arc<crate::guardrails::Guardrails>,
    /// What a LiteLLM config held that this gateway does not use (for the
    /// log at load; see [`litellm`]).
    #[serde(skip)]
    pub import_notes: Vec<String>,
}

/// Where the scheduled refresh fetches the catalog sources, what it accepts,
/// and how often instances look for a refreshed copy in storage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Off: the scheduled job does nothing and instances never look at
    /// storage; the embedded snapshot is used. (On the Workers Free plan a
    /// refresh does not fit its 10 ms of CPU per invocation.)
    pub refresh: bool,
    pub models_dev_url: String,
    pub litellm_url: String,
    /// Time allowed for each source, and their largest accepted size.
    pub fetch_timeout_ms: u64,
    pub max_source_bytes: usize,
    /// A merged catalog smaller than this is refused as truncated.
    pub min_providers: usize,
    pub min_models: usize,
    /// Providers a usable catalog must list with models.
    pub required_providers: Vec<String>,
    /// How often an instance checks the stored copy's version (one small read).
    pub sync_interval_s: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        let r = crate::catalog::refresh::RefreshConfig::default();
        CatalogSettings {
            refresh: true,
            models_dev_url: r.models_dev_url,
            litellm_url: r.litellm_url,
            fetch_timeout_ms: r.timeout_ms,
            max_source_bytes: r.max_bytes,
            min_providers: r.min_providers,
            min_models: r.min_models,
            required_providers: r.required_providers,
            sync_interval_s: 300,
        }
    }
}

impl CatalogSettings {
    pub fn refresh(&self) -> crate::catalog::refresh::RefreshConfig {
        crate::catalog::refresh::RefreshConfig {
            models_dev_url: self.models_dev_url.clone(),
            litellm_url: self.litellm_url.clone(),
            timeout_ms: self.fetch_timeout_ms,
            max_bytes: self.max_source_bytes,
            min_providers: self.min_providers,
            min_models: self.min_models,
            required_providers: self.required_providers.clone(),
        }
    }

    pub fn sync_interval_ms(&self) -> u64 {
        self.sync_interval_s.saturating_mul(1_000)
    }
}

/// The exact-match response cache (`[cache]`).
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// How long an answer is served from the cache, in seconds.
    pub ttl_s: u64,
    /// Per model group (the name a request resolves): its own TTL in
    /// seconds; 0 turns the cache off for that group.
    pub groups: std::collections::BTreeMap<String, u64>,
    /// Answers larger than this are not stored (DynamoDB's items hold 400 KB).
    pub max_entry_bytes: usize,
    /// Workers: KV (`DX_STATE`) as a second tier every colo shares, behind
    /// the colo's Cache API. Lambda's DynamoDB table is shared already.
    pub global: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl_s: 300,
            groups: std::collections::BTreeMap::new(),
            max_entry_bytes: 350 * 1024,
            global: false,
        }
    }
}

impl CacheSettings {
    /// `[cache]` as written (a table; every field optional).
    pub fn read(v: &serde_json::Value) -> Result<Self, String> {
        let m = v.as_object().ok_or("expected a table")?;
        let mut out = CacheSettings::default();
        let whole = |v: &serde_json::Value, what: &str| {
            v.as_u64()
                .ok_or_else(|| format!("`{what}` is a whole number"))
        };
        for (k, v) in m {
            match k.as_str() {
                "ttl_s" => out.ttl_s = whole(v, "ttl_s")?,
                "max_entry_bytes" => out.max_entry_bytes = whole(v, "max_entry_bytes")? as usize,
                "global" => out.global = v.as_bool().ok_or("`global` is true or false")?,
                "groups" => {
                    let groups = v.as_object().ok_or("`groups` is a table")?;
                    for (g, ttl) in groups {
                        out.groups.insert(g.clone(), whole(ttl, "groups")?);
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown field `{}`, expected ttl_s, groups, max_entry_bytes or global",
                        k.escape_debug()
                    ))
                }
            }
        }
        Ok(out)
    }

    /// The TTL for a model group, in ms; 0: not cached.
    pub fn ttl_ms(&self, group: &str) -> u64 {
        self.groups
            .get(group)
            .copied()
            .unwrap_or(self.ttl_s)
            .saturating_mul(1_000)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// `env:NAME` or a literal. When unset, `DX_MASTER_KEY` is consulted.
    pub master_key: Option<String>,
    /// Requests with larger bodies are refused with 413 before parsing.
    pub max_request_bytes: usize,
    /// Time allowed until the upstream's response headers arrive.
    pub request_timeout_ms: u64,
    /// Longest silence allowed between two chunks of an upstream stream.
    pub stream_idle_timeout_ms: u64,
    /// Extra attempts on the same deployment for retryable upstream failures
    /// (429, 5xx, connection errors) before any byte reached the client.
    pub num_retries: u32,
    /// Longest wait between retries, whatever `Retry-After` asks for.
    pub max_retry_wait_ms: u64,
    /// Parameters an upstream model does not support: dropped (and reported
    /// in `x-dx-adjusted`) when true, refused with a 400 when false.
    pub drop_params: bool,
}

impl Default for General {
    fn default() -> Self {
        General {
            master_key: None,
            // Lambda Function URLs cap request payloads at 6 MB anyway.
            max_request_bytes: 6 * 1024 * 1024,
            request_timeout_ms: 600_000,
            stream_idle_timeout_ms: 300_000,
            num_retries: 0,
            max_retry_wait_ms: 10_000,
            drop_params: true,
        }
    }
}

/// One public model name and where it is served from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The name clients send. A trailing `*` makes it a wildcard: the matched
    /// rest replaces `*` in `model`.
    pub model_name: String,
    /// Provider id (`openai`, `openai_compatible`, `mock`, ...). When absent,
    /// `model` may carry it as a `provider/` prefix.
    #[serde(default)]
    pub provider: Option<String>,
    /// The model id sent upstream.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub api_base: Option<String>,
    /// `env:NAME` or a literal key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Fixed answer of the `mock` provider.
    #[serde(default)]
    pub mock_response: Option<String>,
    /// Overrides `general.request_timeout_ms` for this deployment.
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
    /// Azure OpenAI `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Azure: a Microsoft Entra ID access token, sent as `Authorization: Bearer`
    /// instead of the `api-key` header (`env:NAME` or a literal; falls back to `AZURE_AD_TOKEN`).
    #[serde(default)]
    pub azure_ad_token: Option<String>,
    /// AWS region (Bedrock); falls back to `AWS_REGION_NAME`/`AWS_REGION`/`AWS_DEFAULT_REGION`.
    #[serde(default)]
    pub aws_region_name: Option<String>,
    #[serde(default)]
    pub aws_access_key_id: Option<String>,
    #[serde(default)]
    pub aws_secret_access_key: Option<String>,
    #[serde(default)]
    pub aws_session_token: Option<String>,
    /// Google Cloud project and location (Vertex AI).
    #[serde(default)]
    pub vertex_project: Option<String>,
    #[serde(default)]
    pub vertex_location: Option<String>,
    /// A service-account JSON (the text itself, usually `env:NAME`).
    #[serde(default)]
    pub vertex_credentials: Option<String>,
    /// For OpenAI-compatible upstreams: forward the client's body as is (the
    /// default), or rebuild it from the unified representation, which drops
    /// fields the gateway does not know.
    #[serde(default)]
    pub passthrough: Option<bool>,
    /// Extra headers sent upstream with every request of this deployment.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// OpenAI-format providers: `"responses"` sends this deployment's
    /// requests to the Responses API, `"chat"` to Chat Completions; unset
    /// lets the built-in table of Responses-only models decide.
    #[serde(default)]
    pub api_mode: Option<ApiMode>,
    /// Overrides `general.drop_params` for this deployment.
    #[serde(default)]
    pub drop_params: Option<bool>,

    // ---- model groups: entries sharing a `model_name` (see `router`) ----
    /// How this deployment is named in `x-dx-deployment` and the log; by
    /// default `provider/model`.
    #[serde(default)]
    pub id: Option<String>,
    /// Share of a shuffled group's traffic, relative to its siblings (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
    /// Priority: a group tries every deployment of a lower `order` first.
    #[serde(default)]
    pub order: Option<u32>,
    /// Requests and tokens per minute this deployment takes (per instance),
    /// for `usage-based-routing`; a deployment over either is tried last.
    #[serde(default)]
    pub rpm: Option<u64>,
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Where the deployment serves from, a provider region name
    /// (`eu-central-1`, `europe-west4`, `swedencentral`, ...) or `local`.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Overrides `router_settings.ttft_timeout_ms` for this deployment.
    #[serde(default)]
    pub ttft_timeout_ms: Option<u64>,
    /// Anthropic: place prompt-cache breakpoints on the last system block and
    /// the last two user turns of every request.
    #[serde(default)]
    pub auto_cache: Option<bool>,

    // ---- catalog metadata overrides (LiteLLM's names; prices in USD per token) ----
    /// The catalog model whose limits and prices this deployment has, when
    /// `model` is not its catalog id (`provider/model` or a bare id).
    #[serde(default)]
    pub base_model: Option<String>,
    #[serde(default)]
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub input_cost_per_token: Option<f64>,
    #[serde(default)]
    pub output_cost_per_token: Option<f64>,
    #[serde(default)]
    pub cache_read_input_token_cost: Option<f64>,
    #[serde(default)]
    pub cache_creation_input_token_cost: Option<f64>,
    #[serde(default)]
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    #[serde(default)]
    pub output_cost_per_reasoning_token: Option<f64>,
    #[serde(default)]
    pub input_cost_per_audio_token: Option<f64>,
    #[serde(default)]
    pub output_cost_per_audio_token: Option<f64>,
    #[serde(default)]
    pub input_cost_per_image: Option<f64>,
    #[serde(default)]
    pub output_cost_per_image: Option<f64>,
    #[serde(default)]
    pub input_cost_per_request: Option<f64>,
}

impl ModelEntry {
    pub fn price_overrides(&self) -> crate::cost::PriceOverrides {
        crate::cost::PriceOverrides {
            input_cost_per_token: self.input_cost_per_token,
            output_cost_per_token: self.output_cost_per_token,
            cache_read_input_token_cost: self.cache_read_input_token_cost,
            cache_creation_input_token_cost: self.cache_creation_input_token_cost,
            cache_creation_input_token_cost_above_1hr: self
                .cache_creation_input_token_cost_above_1hr,
            output_cost_per_reasoning_token: self.output_cost_per_reasoning_token,
            input_cost_per_audio_token: self.input_cost_per_audio_token,
            output_cost_per_audio_token: self.output_cost_per_audio_token,
            input_cost_per_image: self.input_cost_per_image,
            output_cost_per_image: self.output_cost_per_image,
            input_cost_per_request: self.input_cost_per_request,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiMode {
    Chat,
    Responses,
}

/// Why a config does not load, fit for a log: parser errors are reduced to
/// where (line, column, key) and what, never the text of the offending line
/// or a value from it — a config may hold a literal API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl ConfigError {
    fn toml(text: &str, e: &toml::de::Error) -> Self {
        let at = e.span().map(|s| position(text, s.start));
        ConfigError::located(at, e.message())
    }

    fn json(text: &str, e: &serde_json::Error) -> Self {
        let at = (e.line() > 0).then(|| {
            let line = text.lines().nth(e.line() - 1).unwrap_or("");
            (e.line(), e.column(), key_of(line, e.column()))
        });
        // serde_json's text ends with its own " at line L column C".
        let full = e.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m);
        ConfigError::located(at, message)
    }

    /// An error reading the typed config from a value's compact JSON `json`:
    /// located in the TOML `source` when there is one, else by key path.
    fn in_value(json: &str, e: &serde_json::Error, source: Option<&str>) -> Self {
        let path = locate::json_path_at(json, e.column());
        let message = without_position(e);
        if !locate::plain(&path) {
            return ConfigError(without_values(&message));
        }
        let key = path.iter().rev().find_map(|s| match s {
            locate::Step::Key(k) => Some(k.as_str()),
            locate::Step::Index(_) => None,
        });
        match source.and_then(|t| locate::toml_line(t, &path)) {
            Some((line, column)) => ConfigError::located(Some((line, column, key)), &message),
            None if path.is_empty() => ConfigError(without_values(&message)),
            None => ConfigError(format!(
                "key `{}`: {}",
                locate::render(&path),
                without_values(&message)
            )),
        }
    }

    fn located(at: Option<(usize, usize, Option<&str>)>, message: &str) -> Self {
        let message = without_values(message);
        ConfigError(match at {
            Some((line, column, Some(key))) => {
                format!("line {line}, column {column} (key `{key}`): {message}")
            }
            Some((line, column, None)) => format!("line {line}, column {column}: {message}"),
            None => message,
        })
    }
}

/// Line and column (1-based, in characters) of byte `offset`, and the key
/// the line assigns when the position is in its value.
fn position(text: &str, offset: usize) -> (usize, usize, Option<&str>) {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    (line_no, column, key_of(line, column))
}

/// The key being assigned at `column` of a `key = value` (TOML) or
/// `"key": value` (JSON) line. String contents are skipped, so a value is
/// never taken for a key; only plain key names qualify.
fn key_of(line: &str, column: usize) -> Option<&str> {
    let end = line
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let before = &line[..end];
    let (mut key, mut last_string) = (None, None);
    let (mut in_string, mut escaped) = (false, false);
    let (mut string_start, mut word_start) = (0, 0);
    for (i, c) in before.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    last_string = Some(&before[string_start..i]);
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                string_start = i + 1;
            }
            '=' | ':' => key = last_string.take().or(Some(before[word_start..i].trim())),
            '{' | '[' | ',' => {
                word_start = i + 1;
                last_string = None;
            }
            _ => {}
        }
    }
    key.filter(|k| {
        !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    })
}

/// A parser message without the values it quotes: serde puts a bad string
/// value in double quotes (`invalid type: string "…"`) and an unknown enum
/// value in backticks (`unknown variant `…``). Field names stay: they say
/// what is wrong.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        match rest[open + 1..].find('"') {
            Some(close) => {
                out.push_str("…\"");
                rest = &rest[open + 1 + close + 1..];
            }
            None => {
                out.push('…');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if let Some(start) = out.find("unknown variant `") {
        let value_start = start + "unknown variant `".len();
        if let Some(len) = out[value_start..].find('`') {
            out.replace_range(value_start..value_start + len, "…");
        }
    }
    out
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid gateway config: {}", self.0)
    }
}

/// The variable that may hold a whole replacement config.
pub const CONFIG_ENV: &str = "DX_CONFIG";
/// The variable that holds the master key when the config does not name one.
pub const MASTER_KEY_ENV: &str = "DX_MASTER_KEY";

impl Config {
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let trimmed = text.trim_start();
        let mut config: Config = if trimmed.starts_with('{') {
            if litellm_keys(trimmed) {
                let v =
                    serde_json::from_str(trimmed).map_err(|e| ConfigError::json(trimmed, &e))?;
                Config::from_value(v)?
            } else {
                serde_json::from_str(trimmed).map_err(|e| ConfigError::json(trimmed, &e))?
            }
        } else {
            match toml::from_str::<serde_json::Value>(text) {
                Ok(v) => {
                    let json = v.to_string();
                    serde_json::from_str(&json)
                        .map_err(|e| ConfigError::in_value(&json, &e, Some(text)))?
                }
                Err(e) => match yaml(text) {
                    Some(v) => Config::from_value(v)?,
                    None => return Err(ConfigError::toml(text, &e)),
                },
            }
        };
        if let Some(raw) = config.router_raw.take() {
            // Through JSON text, not `from_value`: the JSON text reader is
            // in the Worker anyway, a `Value` reader for these types is not.
            config.router_settings = serde_json::from_str(&raw.to_string())
                .map_err(|e| ConfigError(format!("[router_settings]: {}", without_position(&e))))?;
        }
        config.validate()?;
        if let Some(raw) = config.cache_raw.take() {
            let cache =
                CacheSettings::read(&raw).map_err(|e| ConfigError(format!("[cache]: {e}")))?;
            config.cache = Some(cache);
        }
        for (n, raw) in std::mem::take(&mut config.telemetry_raw).iter().enumerate() {
            let sink = crate::telemetry::SinkConfig::read(raw)
                .map_err(|e| ConfigError(format!("[[telemetry]] entry {}: {e}", n + 1)))?;
            config.telemetry.push(sink);
        }
        let guards = config
            .guardrails
            .iter()
            .enumerate()
            .map(|(i, v)| crate::guardrails::GuardrailSpec::read(v, i + 1))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|specs| crate::guardrails::Guardrails::compile(&specs))
            .map_err(|e| ConfigError(format!("[[guardrails]]: {e}")))?;
        config.guards = std::sync::Arc::new(guards);
        Ok(config)
    }

    /// A config already parsed into a value: LiteLLM's shape is imported
    /// (see [`litellm`]), this gateway's own is read as is.
    fn from_value(v: serde_json::Value) -> Result<Config, ConfigError> {
        let (v, notes) = if litellm::is_litellm(&v) {
            litellm::import(v)
        } else {
            (v, Vec::new())
        };
        // JSON text again (see `router_settings` above).
        let json = v.to_string();
        let mut config: Config =
            serde_json::from_str(&json).map_err(|e| ConfigError::in_value(&json, &e, None))?;
        config.import_notes = notes;
        Ok(config)
    }

    /// The deploy-time config from `DX_CONFIG` when set, else the embedded one.
    pub fn load(embedded: &str, env: &impl Env) -> Result<Config, ConfigError> {
        match env.var(CONFIG_ENV) {
            Some(text) if !text.trim().is_empty() => Config::parse(&text),
            _ => Config::parse(embedded),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for entry in &self.model_list {
            let prices = entry.price_overrides();
            let all = [
                prices.input_cost_per_token,
                prices.output_cost_per_token,
                prices.cache_read_input_token_cost,
                prices.cache_creation_input_token_cost,
                prices.cache_creation_input_token_cost_above_1hr,
                prices.output_cost_per_reasoning_token,
                prices.input_cost_per_audio_token,
                prices.output_cost_per_audio_token,
                prices.input_cost_per_image,
                prices.output_cost_per_image,
                prices.input_cost_per_request,
            ];
            if all.iter().flatten().any(|p| !p.is_finite() || *p < 0.0) {
                return Err(ConfigError(format!(
                    "model_name `{}`: prices must be finite and not negative",
                    entry.model_name
                )));
            }
            if entry.model_name.is_empty() {
                return Err(ConfigError("model_list entry with empty model_name".into()));
            }
            if entry.model_name.trim_end_matches('*').contains('*') {
                return Err(ConfigError(format!(
                    "model_name `{}`: `*` is only allowed at the end",
                    entry.model_name
                )));
            }
        }
        if self.general.max_request_bytes == 0 {
            return Err(ConfigError("general.max_request_bytes must be > 0".into()));
        }
        self.task_routing.validate().map_err(ConfigError)?;
        self.validate_router()?;
        Ok(())
    }

    /// The master key: the config's value, else `DX_MASTER_KEY`. `None` means
    /// the gateway is open (local development).
    pub fn master_key(&self, env: &impl Env) -> Option<Secret> {
        match &self.general.master_key {
            Some(v) => resolve_secret(v, env),
            None => env
                .var(MASTER_KEY_ENV)
                .filter(|v| !v.is_empty())
                .map(Secret::new),
        }
    }
}

/// serde_json's message without its " at line L column C" (of a text the
/// operator never wrote).
fn without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    full.rsplit_once(" at line ")
        .map_or(full.clone(), |(m, _)| m.to_owned())
}

/// Keys only a LiteLLM config has (checked before parsing twice).
fn litellm_keys(text: &str) -> bool {
    [
        "\"litellm_params\"",
        "\"litellm_settings\"",
        "\"general_settings\"",
    ]
    .iter()
    .any(|k| text.contains(k))
}

/// A YAML config (LiteLLM's `config.yaml`). Both shells read YAML; builds
/// without the feature (tests, tools) take the same config as JSON.
#[cfg(feature = "yaml")]
fn yaml(text: &str) -> Option<serde_json::Value> {
    serde_yaml_ng::from_str::<serde_json::Value>(text)
        .ok()
        .filter(serde_json::Value::is_object)
}

#[cfg(not(feature = "yaml"))]
fn yaml(_: &str) -> Option<serde_json::Value> {
    None
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

    #[test]
    fn task_routing_is_also_read_under_its_first_name() {
        for table in ["task_routing", "router"] {
            let c = Config::parse(&format!("[{table}]\ndefault = \"big\"\n")).unwrap();
            assert_eq!(c.task_routing.default.as_deref(), Some("big"), "[{table}]");
        }
        let bad = Config::parse("[task_routing]\nbackground_regex = \"(\"\n").unwrap_err();
        assert!(bad.0.contains("background_regex"), "{}", bad.0);
    }

    #[test]
    fn toml_and_json_say_the_same() {
        let toml = r#"
            [general]
            max_request_bytes = 1000
            [[model_list]]
            model_name = "fast"
            provider = "openai_compatible"
            model = "llama-3"
            api_base = "http://localhost:1/v1"
            api_key = "env:K"
        "#;
        let json = r#"{"general":{"max_request_bytes":1000},"model_list":[{"model_name":"fast",
            "provider":"openai_compatible","model":"llama-3","api_base":"http://localhost:1/v1","api_key":"env:K"}]}"#;
        for text in [toml, json] {
            let c = Config::parse(text).unwrap();
            assert_eq!(c.general.max_request_bytes, 1000);
            assert_eq!(c.general.request_timeout_ms, 600_000);
            assert_eq!(c.model_list[0].model.as_deref(), Some("llama-3"));
        }
    }

    #[test]
    fn catalog_settings_default_to_the_public_sources() {
        let c = Config::parse(
            "[catalog]\nlitellm_url = \"http://files.local/ll.json\"\nsync_interval_s = 2",
        )
        .unwrap();
        let r = c.catalog.refresh();
        assert_eq!(r.models_dev_url, "https://models.dev/api.json");
        assert_eq!(r.litellm_url, "http://files.local/ll.json");
        assert_eq!(r.min_providers, 100);
        assert_eq!(c.catalog.sync_interval_ms(), 2_000);
        assert_eq!(
            Config::parse("").unwrap().catalog.sync_interval_ms(),
            300_000
        );
        assert!(Config::parse("[catalog]\nsync_interval = 2").is_err());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_wildcards() {
        assert!(Config::parse("[general]\nmax_request_byte = 3").is_err());
        assert!(Config::parse("[[model_list]]\nmodel_name = \"a*b\"").is_err());
        assert!(Config::parse("{not json").is_err());
    }

    #[test]
    fn errors_say_where_but_never_quote_the_config() {
        let secret = "sk-literal-0123456789";
        let cases = [
            // A value of the wrong type, next to a literal key.
            format!("[general]\nmaster_key = \"{secret}\"\nmax_request_bytes = \"{secret}\"\n"),
            // An unknown section holding a key.
            format!("[secrets]\nopenai = \"{secret}\"\n"),
            // A TOML syntax error inside a key's value.
            format!("[general]\nmaster_key = \"{secret}\n"),
            // An unknown enum value.
            format!("[[model_list]]\nmodel_name = \"a\"\napi_mode = \"{secret}\"\n"),
            // The same in JSON.
            format!("{{\"general\": {{\"max_request_bytes\": \"{secret}\"}}}}"),
            format!("{{\"general\": {{\"master_key\": \"{secret}\""),
            // Separators inside a value are not keys.
            format!("{{\"general\": {{\"max_request_bytes\": \"a=b:{secret}\"}}}}"),
        ];
        for text in &cases {
            let e = Config::parse(text).unwrap_err().to_string();
            assert!(!e.contains("sk-literal"), "{e}");
            assert!(!e.contains('|'), "quotes a source line: {e}");
            assert!(e.contains("line "), "{e}");
        }
        let e = Config::parse(&cases[0]).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("`max_request_bytes`"),
            "{e}"
        );
        let e = Config::parse(&cases[1]).unwrap_err().to_string();
        assert!(e.contains("unknown field `secrets`"), "{e}");
        let e = Config::parse(&cases[4]).unwrap_err().to_string();
        assert!(e.contains("`max_request_bytes`"), "{e}");
    }

    #[test]
    fn env_override_wins_over_embedded() {
        let env = MapEnv(HashMap::from([(
            CONFIG_ENV,
            "[[model_list]]\nmodel_name = \"x\"",
        )]));
        let c = Config::load("", &env).unwrap();
        assert_eq!(c.model_list[0].model_name, "x");
    }

    #[test]
    fn master_key_from_config_or_env() {
        let env = MapEnv(HashMap::from([("MK", "k1"), (MASTER_KEY_ENV, "k2")]));
        let mut c = Config::default();
        assert!(c.master_key(&env).unwrap().matches("k2"));
        c.general.master_key = Some("env:MK".into());
        assert!(c.master_key(&env).unwrap().matches("k1"));
        c.general.master_key = Some("env:MISSING".into());
        assert!(c.master_key(&env).is_none());
    }
}
