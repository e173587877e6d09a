//! The catalog's first use in an isolate: indexing the embedded text (what
//! `catalog::embedded()` does once), then lookups, which parse one model
//! line each. First use = load + one lookup.

use criterion::{criterion_group, criterion_main, Criterion};
use dx_core::catalog::{self, Catalog, EMBEDDED_TEXT};
use dx_core::cost::{completion_cost, TokenUsage};

fn bench(c: &mut Criterion) {
    c.bench_function("catalog/load (index the embedded text)", |b| {
        b.iter(|| Catalog::load(std::hint::black_box(EMBEDDED_TEXT)).map(|c| c.model_count()))
    });
    // What an instance spends on a changed stored copy besides reading it:
    // the version tag, then the checks (index, validate, limits).
    let cfg = catalog::refresh::RefreshConfig::default();
    c.bench_function("catalog/sync a changed copy: version tag + checks", |b| {
        b.iter(|| {
            let text = std::hint::black_box(EMBEDDED_TEXT);
            (
                catalog::refresh::version_of(text),
                catalog::refresh::check(text, &cfg),
            )
        })
    });
    let cat = catalog::embedded();
    let openai = cat.provider("openai").expect("openai");
    c.bench_function("catalog/lookup openai/gpt-4o", |b| {
        b.iter(|| {
            cat.lookup(openai, std::hint::black_box("gpt-4o"))
                .map(|f| f.info.context)
        })
    });
    let deepseek = cat.provider("deepseek").expect("deepseek");
    c.bench_function("catalog/provider + lookup deepseek/deepseek-chat", |b| {
        b.iter(|| {
            cat.provider(std::hint::black_box("deepseek"))
                .and_then(|p| cat.lookup(p, "deepseek-chat"))
                .map(|f| f.info.context)
        })
    });
    c.bench_function("catalog/lookup by a dated id not listed (fallbacks)", |b| {
        b.iter(|| {
            cat.lookup(deepseek, std::hint::black_box("deepseek-chat-2099-01-01"))
                .is_some()
        })
    });
    c.bench_function("catalog/bare id to its maker (claude-haiku-4-5)", |b| {
        b.iter(|| {
            cat.first_party(std::hint::black_box("claude-haiku-4-5"))
                .is_some()
        })
    });
    // The not-found path: any caller can send an unknown name, so what the
    // suggestions cost is CPU anyone can make the gateway spend.
    let long = "q".repeat(120);
    let names: [(&str, &str); 4] = [
        ("typo", "gpt-4o-mnii"),
        ("unknown", "totally-unknown-model-name-v9"),
        ("long", &long),
        ("non-ascii", "éééééé-ünknown-módel"),
    ];
    for (label, name) in names {
        c.bench_function(
            &format!("catalog/suggest for an unknown name ({label})"),
            |b| {
                b.iter(|| {
                    cat.suggest(std::hint::black_box(name), &["fast", "slow"])
                        .len()
                })
            },
        );
    }
    let prices = cat.lookup(openai, "gpt-4o").expect("gpt-4o").info.prices;
    let usage = TokenUsage {
        input_tokens: 1200,
        output_tokens: 300,
        cache_read_tokens: 1000,
        requests: 1,
        ..TokenUsage::default()
    };
    c.bench_function("cost/completion_cost", |b| {
        b.iter(|| completion_cost(std::hint::black_box(&prices), &usage))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
