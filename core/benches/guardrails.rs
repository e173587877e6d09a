//! Guardrails' cost: a 10 KB prompt against 1,000 keywords plus every
//! detector (budget ≤ 50 µs native), the same prompt folded (non-ASCII),
//! and the output guard per streamed chunk (budget ≤ 1 µs).

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;

use bytes::Bytes;
use dx_core::guardrails::{Checker, Direction, Guardrails};
use dx_core::ingress::openai_chat::render_error_event;
use dx_core::relays::output_guard::guard_stream;
use futures::StreamExt;

fn guards() -> Arc<Guardrails> {
    let keywords: Vec<String> = (0..1_000).map(|i| format!("codename{i} project")).collect();
    let text = format!(
        "[[guardrails]]\nname = \"kw\"\naction = \"block\"\nkeywords = {keywords:?}\n\
         [[guardrails]]\nname = \"pii\"\naction = \"mask\"\ndetectors = [\"pii\", \"secrets\"]\n"
    );
    dx_core::Config::parse(&text).expect("bench config").guards
}

/// Prose with numbers, addresses and code, as prompts have them, ~10 KB.
fn prompt(extra: &str) -> String {
    let para =
        "The quarterly report for 2024 shows revenue of 1,299.00 per unit across 12 regions; \
                see section 4.2.1 and call the office at extension 5521 on Monday at 10:30. \
                fn main() { let v = vec![1, 2, 3]; println!(\"{:?}\", v); } ";
    let mut s = String::with_capacity(10_500);
    while s.len() < 10_000 {
        s.push_str(para);
        s.push_str(extra);
    }
    s
}

fn bench(c: &mut Criterion) {
    let g = guards();
    let active = g.active("m", Direction::Input);
    let ascii = prompt("");
    c.bench_function(
        "guardrails/10 KB prompt, 1000 keywords + every detector",
        |b| {
            b.iter(|| {
                let mut checker = Checker::new(g.clone(), active);
                checker
                    .check(std::hint::black_box(&ascii))
                    .map(|o| o.is_some())
            })
        },
    );
    let accented = prompt("Café — naïve résumé. ");
    c.bench_function(
        "guardrails/10 KB non-ASCII prompt (folded), same sets",
        |b| {
            b.iter(|| {
                let mut checker = Checker::new(g.clone(), active);
                checker
                    .check(std::hint::black_box(&accented))
                    .map(|o| o.is_some())
            })
        },
    );
    // A stream's text run: each chunk is a few words appended to what is held.
    let words: Vec<&str> = ascii.split_inclusive(' ').take(400).collect();
    let out = g.active("m", Direction::Output);
    c.bench_function(
        "guardrails/output guard per streamed chunk (400 chunks / iter)",
        |b| {
            b.iter(|| {
                let mut checker = Checker::new(g.clone(), out);
                let (mut held, mut left) = (String::new(), String::new());
                let mut released = 0;
                for w in &words {
                    held.push_str(w);
                    if let Ok((n, _)) = checker.check_part(&mut left, &held, false) {
                        released += n;
                        held.drain(..n);
                    }
                }
                released
            })
        },
    );
    // The whole output guard on an OpenAI stream: SSE framing, the JSON
    // text view of each event, the check, the re-framed event.
    let chunks: Vec<Bytes> = words
        .iter()
        .map(|w| {
            let data = serde_json::json!({"id": "c", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]});
            Bytes::from(format!("data: {data}\n\n"))
        })
        .collect();
    let shared = guards();
    c.bench_function(
        "guardrails/output stream guard, 400 OpenAI chunks / iter",
        |b| {
            b.iter(|| {
                let inner = Box::pin(futures::stream::iter(chunks.clone()));
                let checker = Checker::new(shared.clone(), out);
                let guarded = guard_stream(inner, checker, render_error_event, None);
                futures::executor::block_on(guarded.fold(0, |n, b| async move { n + b.len() }))
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
