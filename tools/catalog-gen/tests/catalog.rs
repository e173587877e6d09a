//! The checked-in catalog matches the snapshots in `data/`, and a runtime
//! refresh fed the same snapshots (served like a local file server through
//! the core's HttpClient port) reproduces it.

use std::collections::HashMap;

use bytes::Bytes;
use dx_core::catalog::refresh::{self, MemoryStore, RefreshConfig, RefreshOutcome};
use dx_core::catalog::{self, EMBEDDED_TEXT};
use dx_core::ports::{HttpClient, Sleep, TransportError, UpstreamResponse};
use futures::executor::block_on;
use http::{HeaderMap, StatusCode};

#[test]
fn checked_in_catalog_is_up_to_date() {
    let root = catalog_gen::repo_root();
    let built = catalog_gen::generate(&root).expect("the sources build");
    let text = catalog_gen::compact_order(&built.to_text());
    let checked_in = std::fs::read_to_string(catalog_gen::catalog_path(&root)).unwrap();
    assert!(
        text == checked_in,
        "core/data/catalog.tsv is stale: run `cargo run -p dx-catalog-gen --release`"
    );
    assert_eq!(checked_in, EMBEDDED_TEXT, "the embedded copy is the file");
}

struct Files(HashMap<String, Vec<u8>>);

impl HttpClient for Files {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let body = self
            .0
            .get(&req.uri().to_string())
            .cloned()
            .ok_or_else(|| TransportError::Connect("no such file".into()))?;
        Ok(UpstreamResponse::full(
            StatusCode::OK,
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

/// Names the first differing line instead of printing megabytes.
fn assert_same_lines(got: &str, want: &str) {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs", i + 2);
    }
    assert_eq!(got.lines().count(), want.lines().count());
}

/// Everything after the header line (which names where the data came from).
fn body(text: &str) -> &str {
    text.split_once('\n').map_or("", |(_, rest)| rest)
}

#[test]
fn refresh_from_the_same_snapshots_reproduces_the_embedded_catalog() {
    let root = catalog_gen::repo_root();
    let models_dev = catalog_gen::load_models_dev(&root.join("data/models.dev")).unwrap();
    let api_json = catalog_gen::to_api_json(&models_dev).unwrap();
    let litellm =
        std::fs::read(root.join("data/litellm/model_prices_and_context_window.json")).unwrap();
    let cfg = RefreshConfig {
        models_dev_url: "http://127.0.0.1:1/api.json".into(),
        litellm_url: "http://127.0.0.1:1/model_prices_and_context_window.json".into(),
        ..RefreshConfig::default()
    };
    let files = Files(HashMap::from([
        (cfg.models_dev_url.clone(), api_json.into_bytes()),
        (cfg.litellm_url.clone(), litellm),
    ]));
    let store = MemoryStore::default();
    let installed = catalog::Installed::default();
    assert!(std::ptr::eq(installed.current(), catalog::embedded()));

    let outcome = block_on(refresh::refresh(&files, &store, &cfg, &installed)).unwrap();
    assert!(
        matches!(&outcome, RefreshOutcome::Installed { providers, models, version } if *providers > 150 && *models > 6000 && version.len() == 16)
    );
    let saved = store.get().expect("saved for the other instances");
    assert_eq!(saved.version, refresh::version_of(&saved.text));
    let saved = saved.text;
    // The refresh writes providers alphabetically; the embedded copy has
    // them in gzip's order (catalog_gen::order). Same blocks either way.
    assert_same_lines(
        body(&catalog_gen::compact_order(&saved)),
        body(EMBEDDED_TEXT),
    );
    assert!(saved.starts_with("#dx-catalog\t1\trefreshed from http://127.0.0.1:1/api.json"));
    let now = installed.current();
    assert!(!std::ptr::eq(now, catalog::embedded()));
    assert!(now.source().starts_with("refreshed from"));
    assert_eq!(now.model_count(), catalog::embedded().model_count());

    // Same data again: nothing changes, nothing is leaked.
    let again = block_on(refresh::refresh(&files, &store, &cfg, &installed)).unwrap();
    assert_eq!(again, RefreshOutcome::Unchanged);
    assert!(std::ptr::eq(now, installed.current()));

    // Another instance loads the stored copy.
    let other = catalog::Installed::default();
    assert!(block_on(refresh::load_stored(&store, &cfg, &other)).unwrap());
    assert!(other.current().source().starts_with("refreshed from"));
    assert!(std::ptr::eq(installed.current(), now));
}
