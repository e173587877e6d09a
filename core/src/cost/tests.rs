//! The cost table: every case names a catalog model, restates the prices the
//! snapshot gives it (USD per million tokens; checked against the catalog
//! below so a data change cannot silently move the expectations), a usage,
//! and the expected USD worked out by hand in the comment.

use super::*;
use crate::catalog;

struct Case {
    model: &'static str,
    prices: &'static str,
    usage: TokenUsage,
    expected: f64,
}

fn u(input: u64, output: u64) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        requests: 1,
        ..TokenUsage::default()
    }
}

fn geo(usage: TokenUsage, geo: &str) -> TokenUsage {
    TokenUsage {
        inference_geo: Geo::parse(geo),
        ..usage
    }
}

fn catalog_prices(model: &str) -> Prices {
    let c = catalog::embedded();
    let (p, id) = model.split_once('/').unwrap();
    let p = c.provider(p).unwrap_or_else(|| panic!("no provider {p}"));
    let found = c
        .lookup(p, id)
        .unwrap_or_else(|| panic!("no model {model}"));
    assert_eq!(found.matched, catalog::MatchKind::Exact, "{model}");
    found.info.prices
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // 1000 × 2.5 + 500 × 10 = 2500 + 5000 = 7500 µ$ → 0.0075
        Case { model: "openai/gpt-4o", prices: "i=2.5,o=10,cr=1.25",
            usage: u(1000, 500), expected: 0.0075 },
        // text 6000 × 2.5 = 15000; cached 4000 × 1.25 = 5000; out 200 × 10 = 2000 → 22000 µ$
        Case { model: "openai/gpt-4o", prices: "i=2.5,o=10,cr=1.25",
            usage: TokenUsage { cache_read_tokens: 4000, ..u(10_000, 200) }, expected: 0.022 },
        // a cache write without a write price costs the input price: 1000 × 2.5 = 2500 µ$
        Case { model: "openai/gpt-4o", prices: "i=2.5,o=10,cr=1.25",
            usage: TokenUsage { cache_write_tokens: 1000, ..u(1000, 0) }, expected: 0.0025 },
        // 1M × 0.15 + 1M × 0.6 = 0.75 $
        Case { model: "openai/gpt-4o-mini", prices: "i=0.15,o=0.6,cr=0.075",
            usage: u(1_000_000, 1_000_000), expected: 0.75 },
        // 12345 × 0.15 = 1851.75; 678 × 0.6 = 406.8 → 2258.55 µ$
        Case { model: "openai/gpt-4o-mini", prices: "i=0.15,o=0.6,cr=0.075",
            usage: u(12_345, 678), expected: 0.00225855 },
        // reasoning without its own price is output: 2000 × 1.25 = 2500; 3000 × 10 = 30000 → 32500 µ$
        Case { model: "openai/gpt-5", prices: "i=1.25,o=10,cr=0.125",
            usage: TokenUsage { reasoning_tokens: 2500, ..u(2000, 3000) }, expected: 0.0325 },
        // text 10000 × 1.25 = 12500; cached 40000 × 0.125 = 5000; out 100 × 10 = 1000 → 18500 µ$
        Case { model: "openai/gpt-5", prices: "i=1.25,o=10,cr=0.125",
            usage: TokenUsage { cache_read_tokens: 40_000, ..u(50_000, 100) }, expected: 0.0185 },
        // 1000 × 2.5 + 600 audio × 40 → text 400 × 2.5 = 1000, audio 24000; out text 100 × 10 = 1000, audio 400 × 80 = 32000 → 58000 µ$
        Case { model: "openai/gpt-4o-audio-preview", prices: "i=2.5,o=10,ia=40,oa=80",
            usage: TokenUsage { input_audio_tokens: 600, output_audio_tokens: 400, ..u(1000, 500) }, expected: 0.058 },
        // 1000 × 3 + 1000 × 15 = 18000 µ$
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: u(1000, 1000), expected: 0.018 },
        // text 1000 × 3 = 3000; 5-minute write 10000 × 3.75 = 37500; out 100 × 15 = 1500 → 42000 µ$
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_write_tokens: 10_000, ..u(11_000, 100) }, expected: 0.042 },
        // text 1000 × 3 = 3000; 1-hour write 10000 × 6 = 60000; out 100 × 15 = 1500 → 64500 µ$
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_write_1h_tokens: 10_000, ..u(11_000, 100) }, expected: 0.0645 },
        // text 10000 × 3 = 30000; read 90000 × 0.3 = 27000; out 500 × 15 = 7500 → 64500 µ$
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_read_tokens: 90_000, ..u(100_000, 500) }, expected: 0.0645 },
        // above 200k: 250000 × 6 = 1.5 $; 1000 × 22.5 = 22500 µ$ → 1.5225
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: u(250_000, 1000), expected: 1.5225 },
        // exactly 200k is not above it: 200000 × 3 = 0.6 $
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: u(200_000, 0), expected: 0.6 },
        // tier with cache: text 50000 × 6 = 0.3; read 200000 × 0.6 = 0.12; write 50000 × 7.5 = 0.375; out 2000 × 22.5 = 0.045 → 0.84
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_read_tokens: 200_000, cache_write_tokens: 50_000, ..u(300_000, 2000) }, expected: 0.84 },
        // 1-hour writes above the tier at their own tier price (LiteLLM:
        // cache_creation_input_token_cost_above_1hr_above_200k_tokens):
        // text 200000 × 6 = 1.2; 10000 × 12 = 0.12 → 1.32 (LiteLLM 1.32)
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_write_1h_tokens: 10_000, ..u(210_000, 0) }, expected: 1.32 },
        // text 240000 × 6 = 1.44; 1h 10000 × 12 = 0.12; out 1000 × 22.5 = 0.0225 → 1.5825 (LiteLLM 1.5825)
        Case { model: "anthropic/claude-sonnet-4-5", prices: SONNET_45,
            usage: TokenUsage { cache_write_1h_tokens: 10_000, ..u(250_000, 1000) }, expected: 1.5825 },
        // Vertex's entry has no 1-hour tier price, so LiteLLM keeps the base
        // one: 240000 × 6 = 1.44; 10000 × 6 = 0.06; 1000 × 22.5 = 0.0225 → 1.5225 (LiteLLM 1.5225)
        Case { model: "google-vertex-anthropic/claude-sonnet-4-5@20250929", prices: VERTEX_SONNET_45,
            usage: TokenUsage { cache_write_1h_tokens: 10_000, ..u(250_000, 1000) }, expected: 1.5225 },
        // a regional Bedrock profile at its own (LiteLLM) prices, 1-hour tier
        // included: 240000 × 6.6 = 1.584; 10000 × 13.2 = 0.132; 1000 × 24.75 = 0.02475 → 1.74075 (LiteLLM 1.74075)
        Case { model: "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", prices: BEDROCK_US_SONNET_45,
            usage: TokenUsage { cache_write_1h_tokens: 10_000, ..u(250_000, 1000) }, expected: 1.74075 },
        // models.dev gives the US profile the base price (5/25); LiteLLM's 5.5/27.5:
        // 1000 × 5.5 + 1000 × 27.5 = 33000 µ$ (LiteLLM 0.033)
        Case { model: "amazon-bedrock/us.anthropic.claude-opus-4-6-v1", prices: "i=5.5,o=27.5,cr=0.55,cw=6.875,cw1h=11",
            usage: u(1000, 1000), expected: 0.033 },
        // the base model keeps its own: 1000 × 5 + 1000 × 25 = 30000 µ$
        Case { model: "amazon-bedrock/anthropic.claude-opus-4-6-v1", prices: "i=5,o=25,cr=0.5,cw=6.25,cw1h=10",
            usage: u(1000, 1000), expected: 0.03 },
        // inference_geo "us" on a model with a US factor of 1.1: text 5000 × 5 = 25000;
        // read 4000 × 0.5 = 2000; 1h 2000 × 10 = 20000; out 500 × 25 = 12500 → 59500 × 1.1 = 65450 µ$ (LiteLLM 0.06545)
        Case { model: "anthropic/claude-opus-4-6", prices: OPUS_46,
            usage: TokenUsage { cache_read_tokens: 4000, cache_write_1h_tokens: 2000, ..geo(u(11_000, 500), "us") }, expected: 0.06545 },
        // "global" carries no uplift: 1000 × 5 + 1000 × 25 = 30000 µ$ (LiteLLM 0.03)
        Case { model: "anthropic/claude-opus-4-6", prices: OPUS_46,
            usage: geo(u(1000, 1000), "global"), expected: 0.03 },
        // a geo the model lists no factor for: 30000 µ$ (LiteLLM 0.03 for "eu")
        Case { model: "anthropic/claude-opus-4-6", prices: OPUS_46,
            usage: geo(u(1000, 1000), "eu"), expected: 0.03 },
        // text 1000 × 1 = 1000; read 1000 × 0.1 = 100; write 2000 × 1.25 = 2500; 1h 1000 × 2 = 2000; out 800 × 5 = 4000 → 9600 µ$
        Case { model: "anthropic/claude-haiku-4-5", prices: "i=1,o=5,cr=0.1,cw=1.25,cw1h=2",
            usage: TokenUsage { cache_read_tokens: 1000, cache_write_tokens: 2000, cache_write_1h_tokens: 1000, ..u(5000, 800) }, expected: 0.0096 },
        // the dated id has its own entry: 1 × 1 + 1 × 5 = 6 µ$
        Case { model: "anthropic/claude-haiku-4-5-20251001", prices: "i=1,o=5,cr=0.1,cw=1.25,cw1h=2",
            usage: u(1, 1), expected: 0.000006 },
        // 100000 × 1.25 = 125000; 10000 out (8000 reasoning, at the output price) × 10 = 100000 → 0.225
        Case { model: "google/gemini-2.5-pro", prices: GEMINI_25_PRO,
            usage: TokenUsage { reasoning_tokens: 8000, ..u(100_000, 10_000) }, expected: 0.225 },
        // one token over 200k: 200001 × 2.5 = 500002.5; 1 × 15 = 15 → 500017.5 µ$
        Case { model: "google/gemini-2.5-pro", prices: GEMINI_25_PRO,
            usage: u(200_001, 1), expected: 0.5000175 },
        // text 200000 × 2.5 = 0.5; read 100000 × 0.25 = 0.025; out 5000 × 15 = 0.075 → 0.6
        Case { model: "google/gemini-2.5-pro", prices: GEMINI_25_PRO,
            usage: TokenUsage { cache_read_tokens: 100_000, ..u(300_000, 5000) }, expected: 0.6 },
        // 1000 × 0.1 + 1000 × 0.4 = 500 µ$
        Case { model: "google/gemini-2.0-flash", prices: "i=0.1,o=0.4,cr=0.025,ia=0.7",
            usage: u(1000, 1000), expected: 0.0005 },
        // text 1000 × 0.1 = 100; audio 1000 × 0.7 = 700; out 0 → 800 µ$
        Case { model: "google/gemini-2.0-flash", prices: "i=0.1,o=0.4,cr=0.025,ia=0.7",
            usage: TokenUsage { input_audio_tokens: 1000, ..u(2000, 0) }, expected: 0.0008 },
        // LiteLLM-only 128k tier: 130000 × 0.15 = 19500 µ$
        Case { model: "google/gemini-1.5-flash", prices: "i=0.075,o=0,i@128000=0.15",
            usage: u(130_000, 0), expected: 0.0195 },
        // text 2000 × 0.14 = 280; read 8000 × 0.0028 = 22.4; out 1000 × 0.28 = 280 → 582.4 µ$
        Case { model: "deepseek/deepseek-chat", prices: "i=0.14,o=0.28,cr=0.0028,cw=0",
            usage: TokenUsage { cache_read_tokens: 8000, ..u(10_000, 1000) }, expected: 0.0005824 },
        // LiteLLM prices DeepSeek cache writes at zero: 1000 × 0 = 0
        Case { model: "deepseek/deepseek-chat", prices: "i=0.14,o=0.28,cr=0.0028,cw=0",
            usage: TokenUsage { cache_write_tokens: 1000, ..u(1000, 0) }, expected: 0.0 },
        // 1M × 0.435 = 0.435 $
        Case { model: "deepseek/deepseek-v4-pro", prices: "i=0.435,o=0.87,cr=0.003625,cw=0",
            usage: u(1_000_000, 0), expected: 0.435 },
        // reasoning priced apart: 1000 × 0.4 = 400; text out 1000 × 1.2 = 1200; reasoning 2000 × 4 = 8000 → 9600 µ$
        Case { model: "alibaba/qwen-plus", prices: "i=0.4,o=1.2,r=4",
            usage: TokenUsage { reasoning_tokens: 2000, ..u(1000, 3000) }, expected: 0.0096 },
        // LiteLLM's tiered_pricing only (no flat price in either source):
        // the 256k-1M row: 300000 × 1.2 = 0.36; text out 1000 × 3.6 = 0.0036;
        // reasoning 1000 × 12 = 0.012 → 0.3756 (LiteLLM 0.3756)
        Case { model: "alibaba/qwen-plus-latest", prices: QWEN_PLUS_LATEST,
            usage: TokenUsage { reasoning_tokens: 1000, ..u(300_000, 2000) }, expected: 0.3756 },
        // the 0-256k row: 1000 × 0.4 = 400; 1000 × 1.2 = 1200; reasoning 1000 × 4 = 4000 → 5600 µ$ (LiteLLM 0.0056)
        Case { model: "alibaba/qwen-plus-latest", prices: QWEN_PLUS_LATEST,
            usage: TokenUsage { reasoning_tokens: 1000, ..u(1000, 2000) }, expected: 0.0056 },
        // 32k-128k row with its cache price: text 50000 × 1.8 = 0.09; read 50000 × 0.18 = 0.009;
        // out 1000 × 9 = 0.009 → 0.108 (LiteLLM 0.108)
        Case { model: "alibaba/qwen3-coder-plus", prices: QWEN3_CODER_PLUS,
            usage: TokenUsage { cache_read_tokens: 50_000, ..u(100_000, 1000) }, expected: 0.108 },
        // a row's end is in it: 32000 × 1 = 0.032; 1000 × 5 = 0.005 → 0.037 (LiteLLM 0.037)
        Case { model: "alibaba/qwen3-coder-plus", prices: QWEN3_CODER_PLUS,
            usage: u(32_000, 1000), expected: 0.037 },
        // above the last row (252k) its prices still apply: 300000 × 3 = 0.9; 1000 × 15 = 0.015 → 0.915 (LiteLLM 0.915)
        Case { model: "alibaba/qwen3-max", prices: "i=1.2,o=6,i@32000=2.4,o@32000=12,i@128000=3,o@128000=15",
            usage: u(300_000, 1000), expected: 0.915 },
        // 1M reasoning × 0.5 = 0.5 $
        Case { model: "alibaba/qwen-turbo", prices: "i=0.05,o=0.2,r=0.5",
            usage: TokenUsage { reasoning_tokens: 1_000_000, ..u(0, 1_000_000) }, expected: 0.5 },
        // audio in 10000 × 4.44 = 44400; text out 1000 × 0.27 = 270; audio out 1000 × 8.89 = 8890 → 53560 µ$
        Case { model: "alibaba/qwen-omni-turbo", prices: "i=0.07,o=0.27,ia=4.44,oa=8.89",
            usage: TokenUsage { input_audio_tokens: 10_000, output_audio_tokens: 1000, ..u(10_000, 2000) }, expected: 0.05356 },
        // text 500 × 0.1 = 50; audio 500 × 6.76 = 3380; audio out without a price at output: 1000 × 0.4 = 400 → 3830 µ$
        Case { model: "alibaba/qwen2-5-omni-7b", prices: "i=0.1,o=0.4,ia=6.76",
            usage: TokenUsage { input_audio_tokens: 500, output_audio_tokens: 1000, ..u(1000, 1000) }, expected: 0.00383 },
        // 500 × 0 + 1000 × 0.28 = 280 µ$ + one request at 0.005 $ → 0.00528
        Case { model: "perplexity/sonar-small-online", prices: "i=0,o=0.28,rq=0.005",
            usage: u(500, 1000), expected: 0.00528 },
        // only the request fee: 0.005 $
        Case { model: "perplexity/pplx-70b-online", prices: "i=0,o=2.8,rq=0.005",
            usage: u(0, 0), expected: 0.005 },
        // 1000 × 0.8 = 800 µ$ + 3 images × 0.00006 = 180 µ$ → 0.00098
        Case { model: "amazon-bedrock/amazon.titan-embed-image-v1", prices: "i=0.8,o=0,ii=0.00006",
            usage: TokenUsage { input_images: 3, ..u(1000, 0) }, expected: 0.00098 },
        // two generated clips at 0.04 $ → 0.08
        Case { model: "google/lyria-3-clip-preview", prices: "i=0,o=0,oi=0.04",
            usage: TokenUsage { output_images: 2, ..u(10, 0) }, expected: 0.08 },
        // 1000 × 2 + 1000 × 12 = 14000 µ$ + 1 image × 0.00012 = 120 µ$ → 0.01412
        Case { model: "google-vertex/gemini-3.1-pro-preview", prices: "i=2,o=12,cr=0.2,oi=0.00012,i@200000=4,o@200000=18,cr@200000=0.4,cw@200000=0.25",
            usage: TokenUsage { output_images: 1, ..u(1000, 1000) }, expected: 0.01412 },
        // above 272k: 272001 × 5 = 1360005; 100 × 22.5 = 2250 → 1.362255
        Case { model: "aihubmix/gpt-5.4", prices: GPT_54,
            usage: u(272_001, 100), expected: 1.362255 },
        // exactly 272k: 272000 × 2.5 = 0.68
        Case { model: "aihubmix/gpt-5.4", prices: GPT_54,
            usage: u(272_000, 0), expected: 0.68 },
        // above 272k with cache: text 172001 × 5 = 860005; read 100000 × 0.5 = 50000 → 0.910005
        Case { model: "aihubmix/gpt-5.4", prices: GPT_54,
            usage: TokenUsage { cache_read_tokens: 100_000, ..u(272_001, 0) }, expected: 0.910005 },
        // 128k tier: text 100000 × 2.11 = 211000; read 10000 × 0.2112 = 2112; write 20000 × 2.64 = 52800; out 1000 × 12.67 = 12670 → 278582 µ$
        Case { model: "aihubmix/qwen3.6-max-preview", prices: QWEN_MAX,
            usage: TokenUsage { cache_read_tokens: 10_000, cache_write_tokens: 20_000, ..u(130_000, 1000) }, expected: 0.278582 },
        // a 1-hour write without its price costs the 5-minute one: text 1000 × 1.27 = 1270; 1000 × 1.585 = 1585 → 2855 µ$
        Case { model: "aihubmix/qwen3.6-max-preview", prices: QWEN_MAX,
            usage: TokenUsage { cache_write_1h_tokens: 1000, ..u(2000, 0) }, expected: 0.002855 },
        // two tiers, the 32k one applies: 50000 × 0.72 = 36000; 1000 × 3.62 = 3620 → 39620 µ$
        Case { model: "aihubmix/doubao-seed-2-0-pro", prices: DOUBAO_PRO,
            usage: u(50_000, 1000), expected: 0.03962 },
        // the 128k one: 200000 × 1.45 = 0.29
        Case { model: "aihubmix/doubao-seed-2-0-pro", prices: DOUBAO_PRO,
            usage: u(200_000, 0), expected: 0.29 },
        // no tier at 32000 exactly: 32000 × 0.48 = 15360 µ$
        Case { model: "aihubmix/doubao-seed-2-0-pro", prices: DOUBAO_PRO,
            usage: u(32_000, 0), expected: 0.01536 },
        // free: 0
        Case { model: "aihubmix/coding-glm-5.1-free", prices: "i=0,o=0",
            usage: u(1_000_000, 1_000_000), expected: 0.0 },
        // a local Ollama model from LiteLLM's map, free
        Case { model: "ollama/llama2:7b", prices: "i=0,o=0",
            usage: TokenUsage { reasoning_tokens: 10, ..u(4000, 100) }, expected: 0.0 },
        // 7000 × 0.05 = 350; 3000 × 0.08 = 240 → 590 µ$
        Case { model: "groq/llama-3.1-8b-instant", prices: "i=0.05,o=0.08",
            usage: u(7000, 3000), expected: 0.00059 },
        // cached tokens without a cache price pay input: 500 × 0.05 + 500 × 0.05 = 50 µ$
        Case { model: "groq/llama-3.1-8b-instant", prices: "i=0.05,o=0.08",
            usage: TokenUsage { cache_read_tokens: 500, ..u(1000, 0) }, expected: 0.00005 },
        // text 1000 × 0.15 = 150; read 1000 × 0.075 = 75; out 500 × 0.6 = 300 → 525 µ$
        Case { model: "groq/openai/gpt-oss-120b", prices: "i=0.15,o=0.6,cr=0.075",
            usage: TokenUsage { cache_read_tokens: 1000, ..u(2000, 500) }, expected: 0.000525 },
        // 3000 × 3 + 2000 × 15 = 9000 + 30000 = 39000 µ$
        Case { model: "xai/grok-4", prices: "i=3,o=15",
            usage: u(3000, 2000), expected: 0.039 },
        // xAI's tiers start at their threshold (128000 tokens is in the 128k
        // tier; the catalog writes it as above 127999):
        // 128000 × 6 = 0.768; 1000 × 30 = 0.03 → 0.798 (LiteLLM 0.798)
        Case { model: "xai/grok-4-0709", prices: "i=3,o=15,i@127999=6,o@127999=30",
            usage: u(128_000, 1000), expected: 0.798 },
        // one token under: 127999 × 3 = 0.383997; 1000 × 15 = 0.015 → 0.398997 (LiteLLM 0.398997)
        Case { model: "xai/grok-4-0709", prices: "i=3,o=15,i@127999=6,o@127999=30",
            usage: u(127_999, 1000), expected: 0.398997 },
        // exactly 200k with cache: text 100000 × 2.5 = 0.25; read 100000 × 0.4 = 0.04; out 1000 × 5 = 0.005 → 0.295 (LiteLLM 0.295)
        Case { model: "xai/grok-4.3", prices: "i=1.25,o=2.5,cr=0.2,i@199999=2.5,o@199999=5,cr@199999=0.4",
            usage: TokenUsage { cache_read_tokens: 100_000, ..u(200_000, 1000) }, expected: 0.295 },
        // 10000 × 0.5 + 5000 × 1.5 = 5000 + 7500 = 12500 µ$
        Case { model: "mistral/mistral-large-latest", prices: "i=0.5,o=1.5",
            usage: u(10_000, 5000), expected: 0.0125 },
        // aggregator: 1000 × 3 + 1000 × 15 = 18000 µ$ + 1 image × 0.0048 = 4800 µ$ → 0.0228
        Case { model: "openrouter/anthropic/claude-sonnet-4.5", prices: "i=3,o=15,cr=0.3,cw=3.75,ii=0.0048,i@200000=6,o@200000=22.5,cr@200000=0.6,cw@200000=7.5",
            usage: TokenUsage { input_images: 1, ..u(1000, 1000) }, expected: 0.0228 },
        // 4096 × 0.1 + 1024 × 0.1 = 409.6 + 102.4 = 512 µ$
        Case { model: "cerebras/llama3.1-8b", prices: "i=0.1,o=0.1",
            usage: u(4096, 1024), expected: 0.000512 },
        // 128 × 0.56 + 64 × 1.68 = 71.68 + 107.52 = 179.2 µ$
        Case { model: "fireworks-ai/accounts/fireworks/models/deepseek-v3p1", prices: "i=0.56,o=1.68,cr=0.28",
            usage: u(128, 64), expected: 0.0001792 },
        // Fireworks publishes no cache price: reads cost half the input (LiteLLM's rule):
        // text 6000 × 3 = 0.018; read 4000 × 1.5 = 0.006; out 1000 × 8 = 0.008 → 0.032 (LiteLLM 0.032)
        Case { model: "fireworks-ai/accounts/fireworks/models/deepseek-r1", prices: "i=3,o=8,cr=1.5",
            usage: TokenUsage { cache_read_tokens: 4000, ..u(10_000, 1000) }, expected: 0.032 },
        // LiteLLM's own EU data-zone entry: 1000 × 2.75 + 1000 × 11 = 13750 µ$ (LiteLLM 0.01375)
        Case { model: "azure/eu/gpt-4o-2024-08-06", prices: "i=2.75,o=11,cr=1.375",
            usage: u(1000, 1000), expected: 0.01375 },
    ]
}

const SONNET_45: &str =
    "i=3,o=15,cr=0.3,cw=3.75,cw1h=6,i@200000=6,o@200000=22.5,cr@200000=0.6,cw@200000=7.5,cw1h@200000=12";
const VERTEX_SONNET_45: &str =
    "i=3,o=15,cr=0.3,cw=3.75,cw1h=6,i@200000=6,o@200000=22.5,cr@200000=0.6,cw@200000=7.5";
const BEDROCK_US_SONNET_45: &str = "i=3.3,o=16.5,cr=0.33,cw=4.125,cw1h=6.6,i@200000=6.6,o@200000=24.75,cr@200000=0.66,cw@200000=8.25,cw1h@200000=13.2";
const OPUS_46: &str = "i=5,o=25,cr=0.5,cw=6.25,cw1h=10,g.us=1.1";
const QWEN_PLUS_LATEST: &str = "i=0.4,o=1.2,r=4,i@256000=1.2,o@256000=3.6,r@256000=12";
const QWEN3_CODER_PLUS: &str = "i=1,o=5,cr=0.1,i@32000=1.8,o@32000=9,cr@32000=0.18,i@128000=3,o@128000=15,cr@128000=0.3,i@256000=6,o@256000=60,cr@256000=0.6";
const GEMINI_25_PRO: &str = "i=1.25,o=10,cr=0.125,i@200000=2.5,o@200000=15,cr@200000=0.25";
const GPT_54: &str = "i=2.5,o=15,cr=0.25,i@272000=5,o@272000=22.5,cr@272000=0.5";
const QWEN_MAX: &str =
    "i=1.27,o=7.61,cr=0.1268,cw=1.585,i@128000=2.11,o@128000=12.67,cr@128000=0.2112,cw@128000=2.64";
const DOUBAO_PRO: &str = "i=0.48,o=2.41,cr=0.09644,i@32000=0.72,o@32000=3.62,cr@32000=0.144656,i@128000=1.45,o@128000=7.23,cr@128000=0.28932";

#[test]
fn cost_table() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for c in &cases {
        let prices = catalog_prices(c.model);
        assert_eq!(
            prices,
            Prices::decode(c.prices).unwrap(),
            "{}: the snapshot's prices moved",
            c.model
        );
        let got = completion_cost(&prices, &c.usage).unwrap();
        assert!(
            (got - c.expected).abs() < 1e-12,
            "{}: got {got}, expected {}",
            c.model,
            c.expected
        );
    }
}

#[test]
fn free_flag_and_unknown_prices() {
    assert!(catalog_prices("aihubmix/coding-glm-5.1-free").is_free());
    assert!(catalog_prices("ollama/llama2:7b").is_free());
    // Zero per token but charged per clip: not free.
    assert!(!catalog_prices("google/lyria-3-clip-preview").is_free());
    assert!(!catalog_prices("openai/gpt-4o").is_free());
    assert_eq!(completion_cost(&Prices::default(), &u(10, 10)), None);
}

#[test]
fn breakdown_splits_prompt_and_completion() {
    // claude-sonnet-4-5 below the tier: prompt = 1000 × 3 + read 1000 × 0.3 = 3300 µ$; completion 100 × 15 = 1500 µ$
    let prices = Prices::decode(SONNET_45).unwrap();
    let b = cost_per_token(
        &prices,
        &TokenUsage {
            cache_read_tokens: 1000,
            ..u(2000, 100)
        },
    );
    assert!((b.prompt() - 0.0033).abs() < 1e-12);
    assert!((b.completion() - 0.0015).abs() < 1e-12);
    assert!((b.total() - 0.0048).abs() < 1e-12);
}

#[test]
fn deployment_overrides_in_litellm_units() {
    let base = Prices::decode(GEMINI_25_PRO).unwrap();
    // 1e-6 $/token in, 2e-6 out: 300000 × 1e-6 = 0.3; 1000 × 2e-6 = 0.002; the 200k tier is gone.
    let o = PriceOverrides {
        input_cost_per_token: Some(1e-6),
        output_cost_per_token: Some(2e-6),
        ..PriceOverrides::default()
    };
    let p = o.apply(&base);
    assert!(p.tiers.is_empty());
    assert_eq!(p.cache_read, Some(0.125));
    let got = completion_cost(&p, &u(300_000, 1000)).unwrap();
    assert!((got - 0.302).abs() < 1e-12, "{got}");
    // Priced at zero by config: free.
    let zero = PriceOverrides {
        input_cost_per_token: Some(0.0),
        output_cost_per_token: Some(0.0),
        ..PriceOverrides::default()
    };
    let p = zero.apply(&Prices::default());
    assert!(p.is_free());
    assert_eq!(completion_cost(&p, &u(5, 5)), Some(0.0));
    // Only a cache price on an unpriced model: still unknown overall? No —
    // one side priced means the other is zero.
    let only_in = PriceOverrides {
        input_cost_per_token: Some(2e-6),
        ..PriceOverrides::default()
    };
    let p = only_in.apply(&Prices::default());
    // 10 × 2e-6 = 2e-5; output priced 0.
    assert!((completion_cost(&p, &u(10, 10)).unwrap() - 2e-5).abs() < 1e-12);
}

#[test]
fn cost_is_spliced_into_json_objects() {
    assert_eq!(
        splice_cost(br#"{"id":"x","usage":{"prompt_tokens":1}}"#, 0.0075).unwrap(),
        br#"{"id":"x","usage":{"prompt_tokens":1},"cost":0.0075}"#.to_vec()
    );
    assert_eq!(
        splice_cost(b"{ }\n", 0.5).unwrap(),
        b"{ \"cost\":0.5}\n".to_vec()
    );
    assert!(splice_cost(b"[1]", 1.0).is_none());
    assert_eq!(format_cost(0.000_001_234_5), "0.0000012345");
    assert_eq!(format_cost(0.0), "0");
    assert_eq!(format_cost(1.5225), "1.5225");
}

#[test]
fn format_cost_fast_path_prints_what_fixed_precision_prints() {
    // Prices are per-token rates times token counts: sweep that shape, plus
    // arbitrary bit patterns across the fast path's range.
    let mut checked = 0;
    for per_million in [0.01, 0.1, 0.15, 0.4, 1.1, 2.5, 3.0, 10.0, 15.0, 60.0, 75.0] {
        for tokens in (0..20_000u64).step_by(7) {
            let cost = per_million / 1e6 * tokens as f64;
            if cost > 0.0 {
                assert_eq!(format_cost(cost), format_cost_fixed(cost), "{cost:e}");
                checked += 1;
            }
        }
    }
    // Input plus output at different rates, as completion_cost adds them.
    for (input, output) in [(0.15, 0.6), (2.5, 10.0), (3.0, 15.0), (0.075, 0.3)] {
        for prompt in (1..3_000u64).step_by(13) {
            for completion in [1u64, 7, 42, 333, 1_000] {
                let cost = input / 1e6 * prompt as f64 + output / 1e6 * completion as f64;
                assert_eq!(format_cost(cost), format_cost_fixed(cost), "{cost:e}");
                checked += 1;
            }
        }
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let cost = f64::from_bits(x).abs();
        if cost.is_finite() && cost > 0.0 && cost < 4096.0 {
            assert_eq!(format_cost(cost), format_cost_fixed(cost), "{cost:e}");
            checked += 1;
        }
    }
    assert!(checked > 50_000, "only {checked} values checked");
}

#[test]
fn audio_counts_are_read_from_openai_usage() {
    // The OpenAI codec reads the counts into the unified usage, which the
    // cost engine takes as it is.
    let body = br#"{"id":"x","usage":{"prompt_tokens":1000,"completion_tokens":500,
        "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":600},
        "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":400}}}"#;
    let probe: crate::codec::openai_chat::ResponseProbe = serde_json::from_slice(body).unwrap();
    let usage = crate::codec::openai_chat::usage_from_wire(&probe.usage.unwrap());
    let t = TokenUsage::from(usage);
    assert_eq!((t.input_audio_tokens, t.output_audio_tokens), (600, 400));
    // gpt-4o-audio-preview, as in the table: 58000 µ$
    let prices = catalog_prices("openai/gpt-4o-audio-preview");
    assert!(prices_audio(&prices));
    assert!((completion_cost(&prices, &t).unwrap() - 0.058).abs() < 1e-12);
    // no audio, none counted
    let t = TokenUsage::from(crate::unified::Usage {
        input_tokens: 1,
        output_tokens: 1,
        ..Default::default()
    });
    assert_eq!(t, u(1, 1));
}

/// The Anthropic codec's usage, as every path (passthrough relay, decoder)
/// reads it, from a body's or an event's `usage` object.
fn anthropic_usage(json: &[u8], pointer: &str) -> crate::codec::anthropic::wire::Usage {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    serde_json::from_value(v.pointer(pointer).unwrap().clone()).unwrap()
}

#[test]
fn the_inference_geo_is_read_from_anthropic_usage() {
    use crate::codec::anthropic::{merge_usage, usage_from_wire};
    let body = br#"{"id":"msg_1","type":"message","usage":{"input_tokens":1000,
        "output_tokens":1000,"service_tier":"standard","inference_geo":"us"}}"#;
    let start = br#"{"type":"message_start","message":{"id":"msg_1",
        "usage":{"input_tokens":1000,"output_tokens":1,"inference_geo":"US"}}}"#;
    let delta = br#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},
        "usage":{"output_tokens":1000}}"#;
    let odd = br#"{"usage":{"input_tokens":1,"output_tokens":1,"inference_geo":"<script>"}}"#;
    let us = Geo::parse("us");
    let whole = TokenUsage::from(usage_from_wire(&anthropic_usage(body, "/usage")));
    assert_eq!(whole.inference_geo, us);
    // a later event without it keeps what an earlier one said
    let mut streamed = anthropic_usage(start, "/message/usage");
    merge_usage(&mut streamed, &anthropic_usage(delta, "/usage"));
    let streamed = TokenUsage::from(usage_from_wire(&streamed));
    assert_eq!(streamed.inference_geo, us);
    assert_eq!(
        (streamed.input_tokens, streamed.output_tokens),
        (1000, 1000)
    );
    // what is no region name is dropped, and the usage still reads
    let odd = usage_from_wire(&anthropic_usage(odd, "/usage"));
    assert_eq!((odd.inference_geo, odd.input_tokens), (None, 1));
    // claude-opus-4-6 served in the US: (1000 × 5 + 1000 × 25) × 1.1 = 33000 µ$ (LiteLLM 0.033)
    let prices = catalog_prices("anthropic/claude-opus-4-6");
    assert!(prices_geo(&prices) && !prices_geo(&catalog_prices("openai/gpt-4o")));
    assert!((completion_cost(&prices, &whole).unwrap() - 0.033).abs() < 1e-12);
    assert!((completion_cost(&prices, &streamed).unwrap() - 0.033).abs() < 1e-12);
    assert_eq!(geo_factor(&prices, us), 1.1);
    assert_eq!(geo_factor(&prices, Geo::parse("global")), 1.0);
}

#[test]
fn geo_names_are_short_ascii_words() {
    assert_eq!(
        Geo::parse(" US ").map(|g| g.as_str().to_owned()),
        Some("us".into())
    );
    assert_eq!(
        Geo::parse("not_available").map(|g| g.as_str().len()),
        Some(13)
    );
    assert_eq!(Geo::parse(""), None);
    assert_eq!(Geo::parse("é"), None);
    assert_eq!(Geo::parse("a-very-long-region-name"), None);
    assert_eq!(format!("{:?}", Geo::parse("eu").unwrap()), "Geo(\"eu\")");
}
