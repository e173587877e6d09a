//! The whole gateway in front of Gemini and Vertex AI, with in-memory ports:
//! the Vertex access token is minted through the HTTP port before encoding
//! and reused from the cache; token refusals surface as a clean 401; mangled
//! Gemini streams never panic and never end silently.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::codec::gemini::StreamDecoder;
use dx_core::codec::DecodeContext;
use dx_core::codec::StreamDecoder as AnyDecoder;
use dx_core::ingress::openai_chat::ChunkRenderer;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::relays::translate::TranslateState;
use dx_core::{Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

const DECODE: DecodeContext<'static> = DecodeContext {
    now_ms: 1_700_000_000_000,
    model: "test-model",
    id_prefix: "chatcmpl-",
};

const TEST_SA: &str = include_str!("../../tests/fleet/vertex_test_service_account.json");
const ANSWER: &[u8] = include_bytes!("../../fixtures/gemini/generateContent-text.json");
const STREAM: &[u8] =
    include_bytes!("../../fixtures/gemini/streamGenerateContent-thinking-function-call.sse");

/// Google in a box: a token endpoint and Vertex AI, recording what they receive.
#[derive(Clone, Default)]
struct FakeGoogle {
    mints: Arc<AtomicUsize>,
    refuse: bool,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl HttpClient for FakeGoogle {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let uri = req.uri().to_string();
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().unwrap().push((uri.clone(), auth));
        let (status, body) = if uri == "https://oauth2.googleapis.com/token" {
            if self.refuse {
                (
                    400,
                    r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
                        .to_owned(),
                )
            } else {
                let n = self.mints.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    200,
                    format!(
                        r#"{{"access_token":"ya29.minted-{n}","expires_in":3599,"token_type":"Bearer"}}"#
                    ),
                )
            }
        } else {
            (200, String::from_utf8_lossy(ANSWER).into_owned())
        };
        Ok(UpstreamResponse::full(
            StatusCode::from_u16(status).unwrap(),
            HeaderMap::new(),
            Bytes::from(body),
        ))
    }
}
impl Clock for FakeGoogle {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for FakeGoogle {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for FakeGoogle {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for FakeGoogle {
    fn var(&self, name: &str) -> Option<String> {
        // Each test gets its own account (the token cache is per process).
        let account = if self.refuse {
            "refused"
        } else {
            "gateway-test"
        };
        (name == "SA").then(|| TEST_SA.replace("dx-gateway@", &format!("{account}@")))
    }
}
impl Log for FakeGoogle {
    fn log(&self, line: &str) {
        assert!(
            !line.contains("ya29.") && !line.contains("PRIVATE KEY"),
            "{line}"
        );
    }
}

fn gateway(google: FakeGoogle) -> Bound<FakeGoogle> {
    let config = Config::parse(
        r#"
        [[model_list]]
        model_name = "vertex-flash"
        provider = "vertex_ai"
        model = "gemini-2.0-flash"
        vertex_location = "europe-west4"
        vertex_credentials = "env:SA"
        "#,
    )
    .unwrap();
    Bound::new(google, Arc::new(config))
}

fn chat() -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    IncomingRequest {
        method: Method::POST,
        path: "/v1/chat/completions".into(),
        query: None,
        headers,
        body: Bytes::from_static(
            br#"{"model":"vertex-flash","messages":[{"role":"user","content":"hq?"}]}"#,
        ),
    }
}

fn body_of(resp: http::Response<Body>) -> (StatusCode, String) {
    let status = resp.status();
    let bytes = match resp.into_body() {
        Body::Full(b) => b.to_vec(),
        Body::Stream(mut s) => futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(b) = s.next().await {
                out.extend_from_slice(&b);
            }
            out
        }),
        Body::Empty => Vec::new(),
    };
    (status, String::from_utf8(bytes).unwrap())
}

#[test]
fn vertex_token_is_minted_once_then_reused() {
    let google = FakeGoogle::default();
    let gw = gateway(google.clone());
    for _ in 0..2 {
        let (status, body) = body_of(futures::executor::block_on(gw.handle(chat())));
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Mountain View, California"));
    }
    assert_eq!(google.mints.load(Ordering::SeqCst), 1);
    let seen = google.seen.lock().unwrap().clone();
    let upstream = "https://europe-west4-aiplatform.googleapis.com/v1/projects/dx-fleet-test/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent";
    assert_eq!(
        seen,
        vec![
            (
                "https://oauth2.googleapis.com/token".to_owned(),
                String::new()
            ),
            (upstream.to_owned(), "Bearer ya29.minted-1".to_owned()),
            (upstream.to_owned(), "Bearer ya29.minted-1".to_owned()),
        ]
    );
}

#[test]
fn refused_credentials_are_a_401_without_secrets() {
    let google = FakeGoogle {
        refuse: true,
        ..FakeGoogle::default()
    };
    let (status, body) = body_of(futures::executor::block_on(
        gateway(google.clone()).handle(chat()),
    ));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid_grant: Invalid JWT Signature."),
        "{message}"
    );
    assert!(!body.contains("PRIVATE KEY") && !body.contains("eyJ"));
    // Nothing reached Vertex.
    assert_eq!(google.seen.lock().unwrap().len(), 1);
}

/// xorshift64*: deterministic, so a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn mangled_gemini_streams_end_in_done_or_an_error_event() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..2000 {
        let mut wire = STREAM.to_vec();
        for _ in 0..1 + next(&mut rng) % 4 {
            if wire.is_empty() {
                break;
            }
            let i = (next(&mut rng) % wire.len() as u64) as usize;
            match next(&mut rng) % 4 {
                0 => wire[i] = next(&mut rng) as u8,
                1 => {
                    wire.remove(i);
                }
                2 => wire.insert(i, b"{}[]\":,\\\n\r"[(next(&mut rng) % 10) as usize]),
                _ => wire.truncate(i),
            }
        }
        let mut state = TranslateState::new(
            AnyDecoder::Gemini(StreamDecoder::new(&DECODE)),
            ChunkRenderer::new(true),
        );
        let mut out = Vec::new();
        let step = 1 + (next(&mut rng) % 97) as usize;
        for piece in wire.chunks(step) {
            out.extend(state.push(piece).unwrap_or_default());
        }
        out.extend(state.end().unwrap_or_default());
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.ends_with("data: [DONE]\n\n") || text.contains("data: {\"error\""),
            "round {round}: stream ended silently: …{}",
            &text[text.len().saturating_sub(200)..]
        );
    }
}
