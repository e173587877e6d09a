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
use super::sources::{parse_litellm, parse_models_dev_api, Overlay, EMBEDDED_OVERLAY};
use super::text::Index;
use super::Installed;
use crate::http::read_body;
use crate::ports::{with_timeout, HttpClient, MaybeSend, Sleep};

pub const MODELS_DEV_URL: &str = "https://models.dev/api.json";
pub const LITELLM_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

/// A stored catalog copy and its version tag ([`version_of`] its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub version: String,
    pub text: String,
}

/// Where the catalog copy is kept between runs and instances (Workers KV,
/// DynamoDB). The version is readable on its own so that instances can poll
/// it cheaply and fetch the text only when it changed. `save` writes the
/// text before the version: a reader never sees a version whose text is
/// not there yet.
pub trait CatalogStore {
    fn version(&self) -> impl Future<Output = Result<Option<String>, String>> + MaybeSend;
    fn load(&self) -> impl Future<Output = Result<Option<Stored>, String>> + MaybeSend;
    fn save(&self, stored: &Stored) -> impl Future<Output = Result<(), String>> + MaybeSend;
}

/// The version tag of catalog text: the first 16 hex digits of its SHA-256.
pub fn version_of(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A store in memory: tests, and single-instance local runs.
#[derive(Default)]
pub struct MemoryStore(Mutex<Option<Stored>>);

impl MemoryStore {
    pub fn get(&self) -> Option<Stored> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    /// Stores `text` under its own version (`None` empties the store).
    pub fn set(&self, text: Option<String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = text.map(|text| Stored {
                version: version_of(&text),
                text,
            });
        }
    }
}

impl CatalogStore for MemoryStore {
    async fn version(&self) -> Result<Option<String>, String> {
        Ok(self.get().map(|s| s.version))
    }

    async fn load(&self) -> Result<Option<Stored>, String> {
        Ok(self.get())
    }

    async fn save(&self, stored: &Stored) -> Result<(), String> {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(stored.clone());
        }
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
    /// A new catalog is in use (and saved under `version`).
    Installed {
        providers: usize,
        models: usize,
        version: String,
    },
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
    into: &Installed,
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
    if into.current().index.text == text {
        return Ok(RefreshOutcome::Unchanged);
    }
    let stored = Stored {
        version: version_of(&text),
        text,
    };
    store.save(&stored).await?;
    into.install_checked(stored.text)?;
    Ok(RefreshOutcome::Installed {
        providers,
        models,
        version: stored.version,
    })
}

/// Installs the stored copy when there is a valid one. `Ok(false)`: nothing
/// stored; `Err`: a stored copy was refused and the current catalog kept.
pub async fn load_stored<S: CatalogStore>(
    store: &S,
    cfg: &RefreshConfig,
    into: &Installed,
) -> Result<bool, String> {
    let Some(stored) = store.load().await? else {
        return Ok(false);
    };
    check(&stored.text, cfg)?;
    into.install_checked(stored.text)?;
    Ok(true)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The store holds no catalog: the one in use stays.
    NothingStored,
    /// The stored version is the one seen last time (installed or refused).
    Unchanged,
    /// The stored copy (this version) is now in use.
    Installed { version: String },
}

/// What an instance remembers between syncs: the last stored version it
/// looked at, so that an unchanged store costs one small read and a copy
/// refused once is not fetched and checked again on every poll.
#[derive(Default)]
pub struct SyncMemory(Mutex<Option<String>>);

impl SyncMemory {
    pub const fn new() -> Self {
        SyncMemory(Mutex::new(None))
    }

    fn seen(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    /// Records a version this instance already has (e.g. the one its own
    /// refresh just saved), so that the next sync does not load it again.
    pub fn remember(&self, version: &str) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(version.to_owned());
        }
    }
}

/// Brings this instance's catalog in line with the store: reads the stored
/// version, and only when it differs from the last one seen loads, checks
/// and installs the text. A refused copy leaves the catalog in use as it is.
pub async fn sync_stored<S: CatalogStore>(
    store: &S,
    cfg: &RefreshConfig,
    memory: &SyncMemory,
    into: &Installed,
) -> Result<SyncOutcome, String> {
    let Some(version) = store.version().await? else {
        return Ok(SyncOutcome::NothingStored);
    };
    if memory.seen().as_deref() == Some(version.as_str()) {
        return Ok(SyncOutcome::Unchanged);
    }
    let Some(stored) = store.load().await? else {
        return Ok(SyncOutcome::NothingStored);
    };
    memory.remember(&stored.version);
    if version_of(&stored.text) != stored.version {
        return Err(format!(
            "the stored catalog {} does not match its version tag",
            stored.version
        ));
    }
    check(&stored.text, cfg)
        .map_err(|e| format!("the stored catalog {} is refused: {e}", stored.version))?;
    into.install_checked(stored.text)?;
    Ok(SyncOutcome::Installed {
        version: stored.version,
    })
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

    fn refresh_with(
        md: (u16, &str),
        ll: (u16, &str),
        installed: &crate::catalog::Installed,
    ) -> Result<RefreshOutcome, String> {
        let files = Files(HashMap::from([
            (MD, (md.0, md.1.as_bytes().to_vec())),
            (LL, (ll.0, ll.1.as_bytes().to_vec())),
        ]));
        let store = MemoryStore::default();
        let out = block_on(refresh(&files, &store, &cfg(), installed));
        if out.is_err() {
            assert_eq!(store.get(), None, "nothing is saved on failure");
        }
        out
    }

    #[test]
    fn failures_keep_the_catalog_in_use() {
        let installed = crate::catalog::Installed::default();
        let before = installed.current() as *const crate::catalog::Catalog;
        let e = refresh_with((500, ""), (200, "{}"), &installed).unwrap_err();
        assert!(e.contains("HTTP 500"), "{e}");
        let e = refresh_with((200, "{not json"), (200, "{}"), &installed).unwrap_err();
        assert!(e.contains("models.dev"), "{e}");
        let e = refresh_with((200, SMALL_MD), (200, "[1, 2]"), &installed).unwrap_err();
        assert!(e.contains("LiteLLM"), "{e}");
        // well-formed but far too small: refused as truncated
        let e = refresh_with((200, SMALL_MD), (200, "{}"), &installed).unwrap_err();
        assert!(e.contains("at least"), "{e}");
        let files = Files(HashMap::new());
        let e = block_on(refresh(&files, &MemoryStore::default(), &cfg(), &installed)).unwrap_err();
        assert!(e.contains("nothing at"), "{e}");
        assert!(std::ptr::eq(before, installed.current()));
    }

    #[test]
    fn stored_copies_are_checked_before_use() {
        let installed = crate::catalog::Installed::default();
        let store = MemoryStore::default();
        assert_eq!(block_on(load_stored(&store, &cfg(), &installed)), Ok(false));
        store.set(Some("#dx-catalog\t1\tgarbage\nP\tx".into()));
        assert!(block_on(load_stored(&store, &cfg(), &installed)).is_err());
        let small = build_text(SMALL_MD.as_bytes(), b"{}", "small").unwrap();
        store.set(Some(small));
        let e = block_on(load_stored(&store, &cfg(), &installed)).unwrap_err();
        assert!(e.contains(" 1 models"), "{e}");
        assert!(std::ptr::eq(
            installed.current(),
            crate::catalog::embedded()
        ));
    }

    /// Counts full loads, to show what an unchanged store costs.
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        loads: std::sync::atomic::AtomicUsize,
    }

    impl CatalogStore for Counting {
        async fn version(&self) -> Result<Option<String>, String> {
            self.inner.version().await
        }
        async fn load(&self) -> Result<Option<Stored>, String> {
            self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.load().await
        }
        async fn save(&self, stored: &Stored) -> Result<(), String> {
            self.inner.save(stored).await
        }
    }

    #[test]
    fn sync_reads_the_text_only_when_the_version_changed() {
        let installed = crate::catalog::Installed::default();
        let store = Counting::default();
        let memory = SyncMemory::default();
        let sync = || block_on(sync_stored(&store, &cfg(), &memory, &installed));
        let loads = || store.loads.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(sync(), Ok(SyncOutcome::NothingStored));

        // A copy refused once is remembered, not fetched again on each poll.
        let small = build_text(SMALL_MD.as_bytes(), b"{}", "small").unwrap();
        store.inner.set(Some(small));
        let e = sync().unwrap_err();
        assert!(e.contains("refused") && e.contains(" 1 models"), "{e}");
        assert_eq!(sync(), Ok(SyncOutcome::Unchanged));
        assert_eq!(loads(), 1);

        // A text that does not match its tag (a torn write) is refused.
        let text = crate::catalog::EMBEDDED_TEXT.replacen(
            "#dx-catalog\t1\t",
            "#dx-catalog\t1\tstored ",
            1,
        );
        store.inner.0.lock().unwrap().replace(Stored {
            version: "0000000000000000".into(),
            text: text.clone(),
        });
        assert!(sync().unwrap_err().contains("does not match"));

        store.inner.set(Some(text.clone()));
        let version = version_of(&text);
        assert_eq!(sync(), Ok(SyncOutcome::Installed { version }));
        assert!(installed.current().source().starts_with("stored "));
        assert_eq!(loads(), 3);
        assert_eq!(sync(), Ok(SyncOutcome::Unchanged));
        assert_eq!(loads(), 3, "an unchanged version costs no text read");
    }

    #[test]
    fn the_embedded_catalog_passes_the_refresh_checks() {
        assert!(check(crate::catalog::EMBEDDED_TEXT, &RefreshConfig::default()).is_ok());
    }
}
