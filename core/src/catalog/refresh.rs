//! Refreshing the catalog without a redeploy, sans-IO.
//!
//! A scheduled job (Workers cron trigger, Lambda scheduled event) calls
//! [`refresh`]: it fetches models.dev's `api.json` and LiteLLM's price map
//! through the [`HttpClient`] port, merges them with the same rules as the
//! build ([`super::build`]), validates the result, saves it through a
//! [`CatalogStore`] (Workers KV, DynamoDB/S3: implemented by the shells) and
//! installs it in this process. Other instances pick it up with
//! [`load_stored`] (at start, or every few minutes off the request path).
//! Whatever fails (network, JSON, validation, storage), the catalog in use
//! stays what it was: the embedded snapshot unless a valid copy was installed.

use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;

use super::build::{build, Sources};
use super::install;
use super::sources::{parse_litellm, parse_models_dev_api, Overlay, EMBEDDED_OVERLAY};
use super::text::Index;
use crate::http_util::read_body;
use crate::ports::{with_timeout, HttpClient, MaybeSend, Sleep};

pub const MODELS_DEV_URL: &str = "https://models.dev/api.json";
pub const LITELLM_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

/// Where the catalog copy is kept between runs and instances.
pub trait CatalogStore {
    fn load(&self) -> impl Future<Output = Result<Option<String>, String>> + MaybeSend;
    fn save(&self, text: &str) -> impl Future<Output = Result<(), String>> + MaybeSend;
}

/// A store in memory: tests, and single-instance local runs.
#[derive(Default)]
pub struct MemoryStore(Mutex<Option<String>>);

impl MemoryStore {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    pub fn set(&self, text: Option<String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = text;
        }
    }
}

impl CatalogStore for MemoryStore {
    async fn load(&self) -> Result<Option<String>, String> {
        Ok(self.get())
    }

    async fn save(&self, text: &str) -> Result<(), String> {
        self.set(Some(text.to_owned()));
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct RefreshConfig {
    pub models_dev_url: String,
    pub litellm_url: String,
    pub timeout_ms: u64,
    /// Largest body accepted from either source.
    pub max_bytes: usize,
    /// A catalog with fewer providers or models is refused as truncated.
    pub min_providers: usize,
    pub min_models: usize,
    /// Providers that must be present (and have models) in a usable catalog.
    pub required_providers: Vec<String>,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            models_dev_url: MODELS_DEV_URL.into(),
            litellm_url: LITELLM_URL.into(),
            timeout_ms: 20_000,
            max_bytes: 32 * 1024 * 1024,
            min_providers: 100,
            min_models: 2_000,
            required_providers: ["openai", "anthropic", "google"].map(String::from).to_vec(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new catalog is in use (and saved).
    Installed { providers: usize, models: usize },
    /// The sources produced the catalog already in use.
    Unchanged,
}

/// Merges the two published sources into catalog text.
pub fn build_text(
    models_dev_json: &[u8],
    litellm_json: &[u8],
    description: &str,
) -> Result<String, String> {
    let overlay = Overlay::parse(EMBEDDED_OVERLAY)?;
    let sources = Sources {
        models_dev: parse_models_dev_api(models_dev_json)?,
        litellm: parse_litellm(litellm_json)?,
        overlay,
        description: description.to_owned(),
    };
    Ok(build(&sources)?.to_text())
}

/// Everything a catalog must pass before it replaces the one in use.
pub fn check(text: &str, cfg: &RefreshConfig) -> Result<(usize, usize), String> {
    let index = Index::load(text)?;
    index.validate()?;
    let providers = index.providers.len();
    let models = index.model_count();
    if providers < cfg.min_providers || models < cfg.min_models {
        return Err(format!(
            "the catalog has {providers} providers and {models} models; \
             at least {} and {} are expected",
            cfg.min_providers, cfg.min_models
        ));
    }
    for want in &cfg.required_providers {
        match index.providers.iter().find(|p| p.id == want) {
            Some(p) if !p.models.is_empty() => {}
            _ => return Err(format!("the catalog lacks provider `{want}` or its models")),
        }
    }
    Ok((providers, models))
}

async fn fetch<P: HttpClient + Sleep>(
    ports: &P,
    url: &str,
    cfg: &RefreshConfig,
) -> Result<Bytes, String> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let resp = with_timeout(ports, cfg.timeout_ms, ports.send(req))
        .await
        .ok_or_else(|| format!("{url}: no answer within {} ms", cfg.timeout_ms))?
        .map_err(|e| format!("{url}: {e}"))?;
    if !resp.status.is_success() {
        return Err(format!("{url}: HTTP {}", resp.status.as_u16()));
    }
    read_body(ports, resp.body, cfg.timeout_ms, cfg.max_bytes)
        .await
        .map_err(|e| format!("{url}: {}", e.message))
}

/// Fetch, merge, validate, save, install. On any error nothing changes.
pub async fn refresh<P, S>(
    ports: &P,
    store: &S,
    cfg: &RefreshConfig,
) -> Result<RefreshOutcome, String>
where
    P: HttpClient + Sleep,
    S: CatalogStore,
{
    let md = fetch(ports, &cfg.models_dev_url, cfg).await?;
    let ll = fetch(ports, &cfg.litellm_url, cfg).await?;
    let description = format!(
        "refreshed from {} and {}",
        cfg.models_dev_url, cfg.litellm_url
    );
    let text = build_text(&md, &ll, &description)?;
    let (providers, models) = check(&text, cfg)?;
    if super::current().index.text == text {
        return Ok(RefreshOutcome::Unchanged);
    }
    store.save(&text).await?;
    install(text)?;
    Ok(RefreshOutcome::Installed { providers, models })
}

/// Installs the stored copy when there is a valid one. `Ok(false)`: nothing
/// stored; `Err`: a stored copy was refused and the current catalog kept.
pub async fn load_stored<S: CatalogStore>(store: &S, cfg: &RefreshConfig) -> Result<bool, String> {
    let Some(text) = store.load().await? else {
        return Ok(false);
    };
    check(&text, cfg)?;
    install(text)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{TransportError, UpstreamResponse};
    use futures::executor::block_on;
    use http::{HeaderMap, StatusCode};
    use std::collections::HashMap;

    /// Serves fixed bodies by URL, like a local file server.
    struct Files(HashMap<&'static str, (u16, Vec<u8>)>);

    impl HttpClient for Files {
        async fn send(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<UpstreamResponse, TransportError> {
            let url = req.uri().to_string();
            let (status, body) = self
                .0
                .get(url.as_str())
                .cloned()
                .ok_or_else(|| TransportError::Connect(format!("nothing at {url}")))?;
            Ok(UpstreamResponse::full(
                StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
                HeaderMap::new(),
                Bytes::from(body),
            ))
        }
    }

    impl Sleep for Files {
        async fn sleep(&self, _ms: u64) {
            futures::future::pending::<()>().await
        }
    }

    const MD: &str = "http://files.local/api.json";
    const LL: &str = "http://files.local/litellm.json";

    fn cfg() -> RefreshConfig {
        RefreshConfig {
            models_dev_url: MD.into(),
            litellm_url: LL.into(),
            ..RefreshConfig::default()
        }
    }

    const SMALL_MD: &str = r#"{"acme": {"name": "Acme", "npm": "@ai-sdk/openai-compatible",
        "env": ["ACME_API_KEY"], "api": "https://acme.example/v1",
        "models": {"m": {"name": "M", "cost": {"input": 1, "output": 2}}}}}"#;

    fn refresh_with(md: (u16, &str), ll: (u16, &str)) -> Result<RefreshOutcome, String> {
        let files = Files(HashMap::from([
            (MD, (md.0, md.1.as_bytes().to_vec())),
            (LL, (ll.0, ll.1.as_bytes().to_vec())),
        ]));
        let store = MemoryStore::default();
        let out = block_on(refresh(&files, &store, &cfg()));
        if out.is_err() {
            assert_eq!(store.get(), None, "nothing is saved on failure");
        }
        out
    }

    #[test]
    fn failures_keep_the_catalog_in_use() {
        let before = crate::catalog::current() as *const crate::catalog::Catalog;
        let e = refresh_with((500, ""), (200, "{}")).unwrap_err();
        assert!(e.contains("HTTP 500"), "{e}");
        let e = refresh_with((200, "{not json"), (200, "{}")).unwrap_err();
        assert!(e.contains("models.dev"), "{e}");
        let e = refresh_with((200, SMALL_MD), (200, "[1, 2]")).unwrap_err();
        assert!(e.contains("LiteLLM"), "{e}");
        // well-formed but far too small: refused as truncated
        let e = refresh_with((200, SMALL_MD), (200, "{}")).unwrap_err();
        assert!(e.contains("at least"), "{e}");
        let files = Files(HashMap::new());
        let e = block_on(refresh(&files, &MemoryStore::default(), &cfg())).unwrap_err();
        assert!(e.contains("nothing at"), "{e}");
        assert!(std::ptr::eq(before, crate::catalog::current()));
    }

    #[test]
    fn stored_copies_are_checked_before_use() {
        let store = MemoryStore::default();
        assert_eq!(block_on(load_stored(&store, &cfg())), Ok(false));
        store.set(Some("#dx-catalog\t1\tgarbage\nP\tx".into()));
        assert!(block_on(load_stored(&store, &cfg())).is_err());
        let small = build_text(SMALL_MD.as_bytes(), b"{}", "small").unwrap();
        store.set(Some(small));
        let e = block_on(load_stored(&store, &cfg())).unwrap_err();
        assert!(e.contains(" 1 models"), "{e}");
        assert!(std::ptr::eq(
            crate::catalog::current(),
            crate::catalog::embedded()
        ));
    }

    #[test]
    fn the_embedded_catalog_passes_the_refresh_checks() {
        assert!(check(crate::catalog::EMBEDDED_TEXT, &RefreshConfig::default()).is_ok());
    }
}
