//! What the scheduled catalog refresh costs in CPU once the two sources are
//! downloaded (~2 MB models.dev api.json, ~1.5 MB LiteLLM map): merging
//! them into catalog text, and the checks every stored copy passes before an
//! instance installs it. Native figures; wasm in workerd is slower, which
//! is what decides the Workers plan the cron needs.

use criterion::{criterion_group, criterion_main, Criterion};
use dx_core::catalog::refresh::{build_text, check, RefreshConfig};

fn bench(c: &mut Criterion) {
    let root = catalog_gen::repo_root();
    let providers =
        catalog_gen::load_models_dev(&root.join("data/models.dev")).expect("models.dev");
    let api_json = catalog_gen::to_api_json(&providers).expect("api.json");
    let litellm = std::fs::read(root.join("data/litellm/model_prices_and_context_window.json"))
        .expect("LiteLLM map");
    eprintln!(
        "sources: models.dev api.json {} bytes, LiteLLM {} bytes",
        api_json.len(),
        litellm.len()
    );
    let mut group = c.benchmark_group("refresh");
    group.sample_size(10);
    group.bench_function("merge both sources into catalog text", |b| {
        b.iter(|| build_text(api_json.as_bytes(), &litellm, "bench").map(|t| t.len()))
    });
    let text = build_text(api_json.as_bytes(), &litellm, "bench").expect("merged");
    let cfg = RefreshConfig::default();
    group.bench_function("check a stored copy before install", |b| {
        b.iter(|| check(std::hint::black_box(&text), &cfg).map(|(p, m)| p + m))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
