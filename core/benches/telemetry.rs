//! The telemetry stage's CPU per request: one finished exchange rendered as
//! an OTLP/JSON span, its metric points and a webhook body, plus the
//! webhook's HMAC-SHA256 (what a flush of one record computes; the sends
//! are IO, after the response). With content on, the same plus what a
//! sink with `include_content = true` costs: the prompt read from the
//! request, a streamed completion read from its chunks as they pass, both
//! rendered as GenAI messages into the span and the webhook body.

use criterion::{criterion_group, criterion_main, Criterion};
use dx_core::telemetry::content::Capture;
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
        content: None,
    }
}

/// A chat request of about 1 KiB and its answer as 40 OpenAI chunks.
fn exchange() -> (Vec<u8>, Vec<Vec<u8>>) {
    let prompt = "Summarise the quarterly report in three bullet points. ".repeat(16);
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": true,
        "messages": [
            {"role": "system", "content": "You are a concise analyst."},
            {"role": "user", "content": prompt},
        ],
    });
    let chunks = (0..40)
        .map(|i| {
            let finish = if i == 39 { "\"stop\"" } else { "null" };
            format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} of the answer \"}},\"finish_reason\":{finish}}}]}}\n\n"
            )
            .into_bytes()
        })
        .collect();
    (body.to_string().into_bytes(), chunks)
}

fn bench(c: &mut Criterion) {
    let r = [record()];
    c.bench_function(
        "telemetry/otlp span + metrics + webhook + hmac, one request",
        |b| {
            b.iter(|| {
                let t = otlp_traces(std::hint::black_box(&r), 7, false);
                let m = otlp_metrics(&r);
                let w = webhook_body(&r[0], false);
                let mac = hmac_sha256(b"whsec-0123456789", w.as_bytes());
                (t.len(), m.len(), mac[0])
            })
        },
    );
    let (body, chunks) = exchange();
    c.bench_function(
        "telemetry/the same with content (1 KiB prompt, 40-chunk stream)",
        |b| {
            b.iter(|| {
                let capture = Capture::new(None, std::hint::black_box(&body));
                for chunk in &chunks {
                    capture.relayed(chunk);
                }
                let mut r = [record()];
                r[0].content = Some(capture.export());
                let t = otlp_traces(&r, 7, true);
                let m = otlp_metrics(&r);
                let w = webhook_body(&r[0], true);
                let mac = hmac_sha256(b"whsec-0123456789", w.as_bytes());
                (t.len(), m.len(), mac[0])
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
