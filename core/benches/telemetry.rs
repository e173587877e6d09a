//! The telemetry stage's CPU per request: one finished exchange rendered as
//! an OTLP/JSON span, its metric points and a webhook body, plus the
//! webhook's HMAC-SHA256 (what a flush of one record computes; the sends
//! are IO, after the response).

use criterion::{criterion_group, criterion_main, Criterion};
use dx_core::telemetry::{hmac_sha256, otlp_metrics, otlp_traces, webhook_body, Record};

fn record() -> Record {
    Record {
        start_ms: 1_764_000_000_000,
        end_ms: 1_764_000_000_420,
        path: "/v1/chat/completions".into(),
        status: 200,
        stream: true,
        request_model: "gpt-4o-mini".into(),
        response_model: "gpt-4o-mini-2024-07-18".into(),
        provider: "openai".into(),
        deployment: "openai-eu".into(),
        attempts: 1,
        cache: "miss",
        input_tokens: Some(1_234),
        output_tokens: Some(321),
        cost: Some(0.000_377_7),
        error: None,
        key: "3f9a1c0de2b4a6f8".into(),
        team: "search".into(),
        // A streamed request: its first token, and one attempt (no child span).
        ttft_ms: Some(180),
        tries: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let r = [record()];
    c.bench_function(
        "telemetry/otlp span + metrics + webhook + hmac, one request",
        |b| {
            b.iter(|| {
                let t = otlp_traces(std::hint::black_box(&r), 7);
                let m = otlp_metrics(&r);
                let w = webhook_body(&r[0]);
                let mac = hmac_sha256(b"whsec-0123456789", w.as_bytes());
                (t.len(), m.len(), mac[0])
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
