//! Guardrails through `Gateway::handle`, on recorded provider streams with
//! terms inserted so that each one is split across two of the provider's
//! text deltas, and the provider's bytes cut at every position around them:
//! OpenAI (passthrough), Anthropic (passthrough on `/v1/messages`), Gemini,
//! Bedrock and the Responses API (translated to OpenAI chat chunks). A mask
//! must give exactly the unguarded answer with the placeholder in place of
//! the term; a block must end the stream with an error event, with nothing
//! of the term released before it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::stream::eventstream::{encode_frame, HeaderValue};
use dx_core::{Body, Bound, Config, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};

/// A provider that answers every request with `body`, cut into `chunks`.
#[derive(Clone, Default)]
struct Upstream {
    answer: Arc<Mutex<(Vec<Bytes>, &'static str)>>,
    seen: Arc<Mutex<Vec<Bytes>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Upstream {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        self.seen.lock().unwrap().push(req.body().clone());
        let (chunks, content_type) = self.answer.lock().unwrap().clone();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", content_type.parse().unwrap());
        Ok(UpstreamResponse {
            status: StatusCode::OK,
            headers,
            body: Box::pin(futures::stream::iter(chunks.into_iter().map(Ok))),
        })
    }
}
impl Clock for Upstream {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
impl Sleep for Upstream {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Upstream {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}
impl Env for Upstream {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}
impl Log for Upstream {
    fn log(&self, line: &str) {
        assert!(!line.contains("jane@example.com"), "{line}");
        self.logs.lock().unwrap().push(line.to_owned());
    }
}

const MODELS: &str = r#"
[[model_list]]
model_name = "oai"
provider = "openai"
model = "gpt-4o"
api_base = "http://up/v1"
api_key = "k"

[[model_list]]
model_name = "ant"
provider = "anthropic"
model = "claude-sonnet-4-5"
api_base = "http://up"
api_key = "k"

[[model_list]]
model_name = "gem"
provider = "gemini"
model = "gemini-2.0-flash"
api_base = "http://up"
api_key = "k"

[[model_list]]
model_name = "bed"
provider = "bedrock"
model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
api_base = "http://up"
aws_region_name = "us-east-1"
aws_access_key_id = "AKIDEXAMPLE"
aws_secret_access_key = "secret"

[[model_list]]
model_name = "resp"
provider = "openai"
model = "gpt-5"
api_mode = "responses"
api_base = "http://up/v1"
api_key = "k"
"#;

const GUARDS: &str = r#"
[[guardrails]]
name = "pii"
detectors = ["email", "payment_card", "secrets"]
action = "mask"

[[guardrails]]
name = "banned"
keywords = ["project nightingale", "internal only"]
action = "block"
"#;

fn gateway(up: &Upstream, guarded: bool) -> Bound<Upstream> {
    let text = if guarded {
        format!("{MODELS}{GUARDS}")
    } else {
        MODELS.to_owned()
    };
    Bound::new(up.clone(), Arc::new(Config::parse(&text).unwrap()))
}

fn request(model: &str) -> IncomingRequest {
    let messages = model == "ant";
    let body = if messages {
        format!(
            r#"{{"model":"{model}","max_tokens":100,"stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#
        )
    } else {
        format!(
            r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#
        )
    };
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    IncomingRequest {
        method: Method::POST,
        path: if messages {
            "/v1/messages"
        } else {
            "/v1/chat/completions"
        }
        .into(),
        query: None,
        headers,
        body: Bytes::from(body),
    }
}

fn run(gw: &Bound<Upstream>, model: &str) -> String {
    let resp = futures::executor::block_on(gw.handle(request(model)));
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = match resp.into_body() {
        Body::Stream(mut s) => futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(b) = s.next().await {
                out.extend_from_slice(&b);
            }
            out
        }),
        Body::Full(b) => b.to_vec(),
        Body::Empty => Vec::new(),
    };
    String::from_utf8(bytes).unwrap()
}

/// The text a client reads from the stream (OpenAI chunks or Anthropic
/// events), and whether it ended with an error event.
fn client_text(sse: &str) -> (String, Option<String>) {
    let mut text = String::new();
    let mut error = None;
    for line in sse.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
            continue;
        };
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            error = Some(e.to_string());
        }
        if let Some(t) = v
            .pointer("/choices/0/delta/content")
            .and_then(|t| t.as_str())
        {
            text.push_str(t);
        }
        if let Some(t) = v.pointer("/delta/text").and_then(|t| t.as_str()) {
            text.push_str(t);
        }
    }
    (text, error)
}

/// `recording` with `a` + `b` (the two halves of a term) put into two
/// consecutive text deltas: the first `first` becomes `first + a`, the
/// next `second` becomes `b + second`.
fn insert(recording: &str, first: &str, a: &str, second: &str, b: &str) -> String {
    let i = recording.find(first).expect(first);
    let mut out = recording.to_owned();
    out.replace_range(
        i..i + first.len(),
        &format!("{}{a}\"", &first[..first.len() - 1]),
    );
    let j = out[i..].find(second).expect(second) + i;
    let colon = second.find(':').unwrap();
    let open = colon + second[colon..].find('"').unwrap() + 1;
    out.replace_range(
        j..j + second.len(),
        &format!("{}{b}{}", &second[..open], &second[open..]),
    );
    out
}

fn bedrock_wire(events: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in events.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (kind, payload) = v.as_object().unwrap().iter().next().unwrap();
        out.extend(encode_frame(
            &[
                (":event-type", HeaderValue::String(kind)),
                (":content-type", HeaderValue::String("application/json")),
                (":message-type", HeaderValue::String("event")),
            ],
            payload.to_string().as_bytes(),
        ));
    }
    out
}

fn responses_sse(jsonl: &str) -> String {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("event: {}\ndata: {l}\n\n", v["type"].as_str().unwrap())
        })
        .collect()
}

struct Case {
    model: &'static str,
    content_type: &'static str,
    /// The recording with `a`/`b` inserted into two consecutive deltas.
    build: fn(&str, &str) -> Vec<u8>,
}

const CASES: &[Case] = &[
    Case {
        model: "oai",
        content_type: "text/event-stream",
        build: |a, b| {
            let r = include_str!("../../fixtures/openai/chat-stream-text-usage.sse");
            insert(r, r#""content":" unable""#, a, r#""content":" to""#, b).into_bytes()
        },
    },
    Case {
        model: "ant",
        content_type: "text/event-stream",
        build: |a, b| {
            let r = include_str!("../../fixtures/anthropic/messages-stream-basic.sse");
            insert(r, r#""text":"Hello""#, a, r#""text":" there""#, b).into_bytes()
        },
    },
    Case {
        model: "gem",
        content_type: "text/event-stream",
        build: |a, b| {
            let r = include_str!("../../fixtures/gemini/streamGenerateContent-text.sse");
            insert(
                r,
                r#""text": "The""#,
                a,
                r#""text": " capital of Wyoming""#,
                b,
            )
            .into_bytes()
        },
    },
    Case {
        model: "bed",
        content_type: "application/vnd.amazon.eventstream",
        build: |a, b| {
            let r = include_str!("../../fixtures/bedrock/converse-stream-text.events.jsonl");
            bedrock_wire(&insert(
                r,
                r#""text":"Let""#,
                a,
                r#""text":" me count the \"""#,
                b,
            ))
        },
    },
    Case {
        model: "resp",
        content_type: "text/event-stream",
        build: |a, b| {
            let r = include_str!("../../fixtures/openai/responses-stream-text.chunks.jsonl");
            responses_sse(&insert(r, r#""delta":"Got""#, a, r#""delta":" it""#, b)).into_bytes()
        },
    },
];

/// Cuts the wire in two at every position near the inserted halves (`a`
/// and `b`: every cut that can split them or their events), at every fifth
/// elsewhere, and into single bytes once.
fn cuts(wire: &[u8], a: &str, b: &str) -> Vec<Vec<Bytes>> {
    let find = |s: &str| {
        wire.windows(s.len())
            .position(|w| w == s.as_bytes())
            .unwrap_or_else(|| panic!("{s} not in the wire"))
    };
    let near = find(a).saturating_sub(400)..find(b) + b.len() + 400;
    let mut all: Vec<Vec<Bytes>> = (1..wire.len())
        .filter(|i| near.contains(i) || i % 5 == 0)
        .map(|i| {
            vec![
                Bytes::copy_from_slice(&wire[..i]),
                Bytes::copy_from_slice(&wire[i..]),
            ]
        })
        .collect();
    all.push(wire.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect());
    all
}

#[test]
fn a_masked_term_split_across_deltas_is_masked_at_every_cut() {
    for case in CASES {
        let up = Upstream::default();
        let wire = (case.build)(" jane@exa", "mple.com ");
        *up.answer.lock().unwrap() = (vec![Bytes::from(wire.clone())], case.content_type);
        let (plain, err) = client_text(&run(&gateway(&up, false), case.model));
        assert!(
            err.is_none() && plain.contains("jane@example.com"),
            "{}: {plain}",
            case.model
        );
        let want = plain.replace("jane@example.com", "[EMAIL_1]");
        let guarded = gateway(&up, true);
        for chunks in cuts(&wire, "jane@exa", "mple.com") {
            *up.answer.lock().unwrap() = (chunks, case.content_type);
            let out = run(&guarded, case.model);
            let (text, err) = client_text(&out);
            assert!(err.is_none(), "{}: {out}", case.model);
            assert_eq!(text, want, "{}", case.model);
            assert!(!out.contains("jane@"), "{}: {out}", case.model);
        }
    }
}

#[test]
fn a_blocked_term_split_across_deltas_ends_the_stream_with_nothing_of_it_released() {
    for case in CASES {
        let up = Upstream::default();
        let wire = (case.build)(" Project Night", "ingale ");
        let guarded = gateway(&up, true);
        for chunks in cuts(&wire, "Project Night", "ingale") {
            *up.answer.lock().unwrap() = (chunks, case.content_type);
            let out = run(&guarded, case.model);
            let (text, err) = client_text(&out);
            let err = err.unwrap_or_else(|| panic!("{}: no error event in {out}", case.model));
            assert!(err.contains("`banned`"), "{}: {err}", case.model);
            assert!(
                !text.to_lowercase().contains("project"),
                "{}: {text}",
                case.model
            );
            assert!(
                !out.to_lowercase().contains("nightingale"),
                "{}: {out}",
                case.model
            );
        }
    }
}

#[test]
fn a_masked_prompt_reaches_the_provider_masked_on_every_path() {
    for model in ["oai", "ant", "gem", "bed", "resp"] {
        let up = Upstream::default();
        let wire = (CASES.iter().find(|c| c.model == model).unwrap().build)("", "");
        *up.answer.lock().unwrap() = (vec![Bytes::from(wire)], "text/event-stream");
        let mut req = request(model);
        let body = String::from_utf8(req.body.to_vec()).unwrap().replace(
            r#""content":"hi""#,
            r#""content":"card 4111 1111 1111 1111, key sk-proj-abcdefghijklmnopqrstuvwx""#,
        );
        req.body = Bytes::from(body);
        let resp = futures::executor::block_on(gateway(&up, true).handle(req));
        assert_eq!(
            resp.headers()["x-dx-guardrails"],
            "pii:payment_card=1,pii:secret=1",
            "{model}"
        );
        let sent = up.seen.lock().unwrap().concat();
        let sent = String::from_utf8_lossy(&sent);
        assert!(
            sent.contains("[PAYMENT_CARD_1]") && sent.contains("[SECRET_1]"),
            "{model}: {sent}"
        );
        assert!(
            !sent.contains("4111") && !sent.contains("sk-proj"),
            "{model}: {sent}"
        );
    }
}

/// A stream's access log line carries what the output guard found, counts
/// only: written once the guard has checked the text it held at the end,
/// and still written (once) when the client hangs up mid-stream.
#[test]
fn a_streamed_answer_logs_its_output_matches_when_it_ends() {
    for case in CASES {
        let up = Upstream::default();
        let wire = (case.build)(" jane@exa", "mple.com ");
        *up.answer.lock().unwrap() = (vec![Bytes::from(wire.clone())], case.content_type);
        let out = run(&gateway(&up, true), case.model);
        assert!(out.contains("[EMAIL_1]"), "{}: {out}", case.model);
        let logs = std::mem::take(&mut *up.logs.lock().unwrap());
        assert_eq!(logs.len(), 1, "{}: {logs:?}", case.model);
        let line: serde_json::Value = serde_json::from_str(&logs[0]).unwrap();
        assert_eq!(line["stream"], true, "{}", case.model);
        assert_eq!(line["guardrails"], "pii:email=1", "{}: {line}", case.model);

        // The client reads the first chunk, then leaves.
        *up.answer.lock().unwrap() = (
            wire.chunks(64).map(Bytes::copy_from_slice).collect(),
            case.content_type,
        );
        let resp = futures::executor::block_on(gateway(&up, true).handle(request(case.model)));
        let Body::Stream(mut s) = resp.into_body() else {
            panic!("{}: not a stream", case.model)
        };
        assert!(futures::executor::block_on(s.next()).is_some());
        assert!(up.logs.lock().unwrap().is_empty(), "{}", case.model);
        drop(s);
        let logs = up.logs.lock().unwrap();
        assert_eq!(logs.len(), 1, "{}: {logs:?}", case.model);
        assert!(
            logs[0].contains("\"client_gone\":true"),
            "{}: {}",
            case.model,
            logs[0]
        );
    }
}

/// On the Responses ingress the `….done` events and `response.completed`
/// repeat the whole text the deltas streamed: it is masked alike, and
/// counted once (in the access log).
#[test]
fn a_responses_stream_masks_its_deltas_and_the_text_its_done_events_repeat() {
    // (Anthropic's stream translated: the Responses recording's own `done`
    // text would not hold the inserted address.)
    for model in ["ant"] {
        let up = Upstream::default();
        let case = CASES.iter().find(|c| c.model == model).unwrap();
        let wire = (case.build)(" jane@exa", "mple.com ");
        *up.answer.lock().unwrap() = (
            wire.chunks(7).map(Bytes::copy_from_slice).collect(),
            case.content_type,
        );
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let req = IncomingRequest {
            method: Method::POST,
            path: "/v1/responses".into(),
            query: None,
            headers,
            body: Bytes::from(format!(
                r#"{{"model":"{model}","stream":true,"input":"hi"}}"#
            )),
        };
        let resp = futures::executor::block_on(gateway(&up, true).handle(req));
        assert_eq!(resp.status(), StatusCode::OK, "{model}");
        let Body::Stream(mut s) = resp.into_body() else {
            panic!("{model}: not a stream")
        };
        let out = futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(b) = s.next().await {
                out.extend_from_slice(&b);
            }
            String::from_utf8(out).unwrap()
        });
        drop(s);
        assert!(!out.contains("jane@"), "{model}: {out}");
        let (mut deltas, mut done, mut completed) = (String::new(), None, None);
        for data in out.lines().filter_map(|l| l.strip_prefix("data: ")) {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            match v["type"].as_str().unwrap_or_default() {
                "response.output_text.delta" => deltas.push_str(v["delta"].as_str().unwrap()),
                "response.output_text.done" => done = v["text"].as_str().map(str::to_owned),
                "response.completed" => {
                    completed = v
                        .pointer("/response/output/0/content/0/text")
                        .and_then(|t| t.as_str())
                        .map(str::to_owned)
                }
                _ => {}
            }
        }
        assert!(deltas.contains("[EMAIL_1]"), "{model}: {out}");
        assert_eq!(done.as_deref(), Some(deltas.as_str()), "{model}");
        assert_eq!(completed.as_deref(), Some(deltas.as_str()), "{model}");
        let logs = up.logs.lock().unwrap();
        assert!(
            logs.last()
                .unwrap()
                .contains(r#""guardrails":"pii:email=1""#),
            "{model}: {logs:?}"
        );
    }
}
