//! Bedrock's costs: one ConverseStream event (event stream frame + JSON) to
//! one OpenAI chunk, and a whole non-stream request with SigV4 signing.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::relays::translate::TranslateState;
use dx_core::stream::eventstream::{encode_frame, FrameDecoder, HeaderValue};
use dx_core::{Body, Bound, Codec, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

/// Decoders name what upstreams leave out after this.
const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "bench-model",
    id_prefix: "chatcmpl-",
};

const EVENTS: &str = include_str!("../../fixtures/bedrock/converse-stream-text.events.jsonl");
const COMPLETION: &[u8] = include_bytes!("../../fixtures/bedrock/converse-text.json");

fn frame(line: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let (kind, payload) = v.as_object().unwrap().iter().next().unwrap();
    encode_frame(
        &[
            (":event-type", HeaderValue::String(kind)),
            (":content-type", HeaderValue::String("application/json")),
            (":message-type", HeaderValue::String("event")),
        ],
        payload.to_string().as_bytes(),
    )
}

fn per_event(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = EVENTS.lines().map(frame).collect();
    // A text delta from the recording: `{"contentBlockIndex":0,"delta":{"text":" me count the \""}}`.
    let delta = frames[2].clone();
    let mut g = c.benchmark_group("bedrock_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame_only", |b| {
        let mut d = FrameDecoder::new();
        b.iter(|| {
            d.push(&delta);
            d.next_frame().unwrap().map(|f| f.payload.len())
        })
    });
    g.bench_function("frame_json_to_unified", |b| {
        let mut d = StreamDecoder::new(Codec::Bedrock, &DECODE).unwrap();
        b.iter(|| d.push(&delta).unwrap())
    });
    g.bench_function("frame_json_render_openai_chunk", |b| {
        let mut st = TranslateState::new(
            StreamDecoder::new(Codec::Bedrock, &DECODE).unwrap(),
            ChunkRenderer::new(true),
        );
        b.iter(|| st.push(&delta))
    });
    g.finish();

    let whole: Vec<u8> = frames.concat();
    let mut g = c.benchmark_group("bedrock_stream");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("whole_recording_to_openai_sse", |b| {
        b.iter_batched(
            || {
                TranslateState::new(
                    StreamDecoder::new(Codec::Bedrock, &DECODE).unwrap(),
                    ChunkRenderer::new(true),
                )
            },
            |mut st| {
                let n = st.push(&whole).map_or(0, |b| b.len());
                n + st.end().map_or(0, |b| b.len())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Answers every request with the recorded Converse body, instantly.
#[derive(Clone)]
struct Canned;

impl HttpClient for Canned {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        std::hint::black_box(req);
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from_static(COMPLETION),
        ))
    }
}
impl Clock for Canned {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Canned {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Canned {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Canned {
    fn var(&self, name: &str) -> Option<String> {
        (name == "DX_MASTER_KEY").then(|| "sk-bench".to_owned())
    }
}
impl Log for Canned {
    fn log(&self, line: &str) {
        std::hint::black_box(line);
    }
}

fn request() -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer sk-bench".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How many r are in strawberry?"}
        ],
        "temperature": 0.2,
    }))
    .unwrap();
    IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from(body),
    }
}

fn whole_request(c: &mut Criterion) {
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "claude"
        provider = "bedrock"
        model = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
        aws_region_name = "us-east-1"
        aws_access_key_id = "AKIDEXAMPLE"
        aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        "#,
    )
    .unwrap();
    let deployment = dx_core::resolve_model("claude", &config, &Canned).unwrap();
    let unified = dx_core::ingress::openai_chat::ChatEnvelope::parse(&request().body)
        .unwrap()
        .to_unified()
        .unwrap();
    let ctx = dx_core::codec::EncodeContext {
        now_ms: 1_700_000_000_000,
        access_token: None,
    };
    let gw = Bound::new(Canned, Arc::new(config));
    let mut g = c.benchmark_group("bedrock_request");
    g.bench_function("encode_and_sign", |b| {
        b.iter(|| dx_core::codec::encode(&unified, &deployment, &ctx).unwrap())
    });
    let body =
        dx_core::codec::bedrock::render_request(&unified, &deployment.upstream_model).unwrap();
    g.bench_function("encode_body_only", |b| {
        b.iter(|| {
            dx_core::codec::bedrock::render_request(&unified, &deployment.upstream_model).unwrap()
        })
    });
    g.bench_function("sign_only", |b| {
        b.iter_batched(
            || {
                http::Request::builder()
                    .method("POST")
                    .uri("https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse")
                    .header("content-type", "application/json")
                    .body(Bytes::from(body.clone()))
                    .unwrap()
            },
            |mut r| {
                dx_core::aws::sigv4::sign_request(
                    &mut r,
                    &dx_core::aws::sigv4::Credentials {
                        access_key_id: "AKIDEXAMPLE",
                        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        session_token: None,
                    },
                    "us-east-1",
                    "bedrock",
                    1_700_000_000_000,
                )
                .unwrap();
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("small_chat_sigv4_non_stream", |b| {
        b.iter_batched(
            request,
            |r| {
                futures::executor::block_on(async {
                    match gw.handle(r).await.into_body() {
                        Body::Full(b) => b.len(),
                        Body::Stream(mut s) => {
                            let mut n = 0;
                            while let Some(b) = s.next().await {
                                n += b.len();
                            }
                            n
                        }
                        Body::Empty => 0,
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, per_event, whole_request);
criterion_main!(benches);
