//! Prompts and completions for the telemetry sinks that export them
//! (`include_content = true`). Captured only when such a sink exists: the
//! prompt from the body as it went upstream, the completion from the
//! answer as it was relayed (a stream's text deltas, read as they pass).
//! Every guardrail set of the request (input and output) masks both sides,
//! whatever its action: a set that only logs for the client still keeps
//! its matches out of the export. Each side is capped at
//! [`CONTENT_CAP`] bytes of text, cut with [`TRUNCATED`].

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde_json::Value;

use super::{Content, CONTENT_CAP, TRUNCATED};
use crate::guardrails::Checker;
use crate::stream::BodyStream;

/// A partial SSE line longer than this is not read (no delta is that long).
const MAX_LINE: usize = 64 * 1024;
/// Text read past the cap before it is cut: masking sees a value that
/// straddles the cut whole (a PEM block longer than this may not be).
const SLACK: usize = 16 * 1024;

/// One exchange's capture, shared with its stream's settler.
pub struct Capture(Mutex<State>);

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

struct State {
    /// Rendered and masked already.
    input: String,
    output: String,
    finish: Option<String>,
    /// The output reached the cap: nothing more is read.
    full: bool,
    /// A stream's line not ended yet.
    line: Vec<u8>,
    checker: Option<Checker>,
}

impl Capture {
    /// The prompt read from `body` (the request as it went upstream);
    /// `checker` masks, with every set of the request.
    pub fn new(mut checker: Option<Checker>, body: &[u8]) -> Capture {
        let input = serde_json::from_slice::<Value>(body)
            .map(|v| render(&prompt(&v), None, checker.as_mut()))
            .unwrap_or_else(|_| "[]".into());
        Capture(Mutex::new(State {
            input,
            output: String::new(),
            finish: None,
            full: false,
            line: Vec::new(),
            checker,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A whole answer (JSON in the client's format).
    pub fn whole(&self, body: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let mut st = self.state();
        let (text, finish) = answer(&v);
        st.push(&text);
        st.finish = finish;
    }

    /// Stream bytes as relayed (SSE in the client's format).
    pub fn relayed(&self, bytes: &[u8]) {
        let mut st = self.state();
        if st.full {
            return;
        }
        let mut rest = bytes;
        while let Some(n) = memchr::memchr(b'\n', rest) {
            let mut line = std::mem::take(&mut st.line);
            line.extend_from_slice(&rest[..n]);
            rest = &rest[n + 1..];
            if let Some(data) = line.strip_prefix(b"data:") {
                if let Ok(v) = serde_json::from_slice::<Value>(data.trim_ascii()) {
                    st.delta(&v);
                }
            }
            line.clear();
            st.line = line;
        }
        if st.line.len() + rest.len() <= MAX_LINE {
            st.line.extend_from_slice(rest);
        } else {
            st.line.clear();
        }
    }

    /// What the sinks get: the output masked now that it is whole.
    pub fn export(&self) -> Arc<Content> {
        let mut st = self.state();
        let st = &mut *st;
        let text = [(String::from("assistant"), std::mem::take(&mut st.output))];
        let output = render(&text, st.finish.as_deref(), st.checker.as_mut());
        Arc::new(Content {
            input: st.input.clone(),
            output,
        })
    }
}

impl State {
    fn push(&mut self, text: &str) {
        let room = (CONTENT_CAP + SLACK).saturating_sub(self.output.len());
        if self.full {
            return;
        }
        if text.len() > room {
            // Cut (and marked) once masked, in `render`.
            self.output
                .push_str(&text[..text.floor_char_boundary(room)]);
            self.full = true;
            self.line = Vec::new();
        } else {
            self.output.push_str(text);
        }
    }

    /// One stream event: OpenAI chat chunks, Anthropic events, Responses
    /// events.
    fn delta(&mut self, v: &Value) {
        let text = match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") => v["delta"]["text"].as_str(),
            Some("response.output_text.delta") => v["delta"].as_str(),
            Some("message_delta") => {
                self.finish = v["delta"]["stop_reason"].as_str().map(str::to_owned);
                None
            }
            _ => {
                let choice = &v["choices"][0];
                if let Some(f) = choice["finish_reason"].as_str() {
                    self.finish = Some(f.to_owned());
                }
                choice["delta"]["content"].as_str()
            }
        };
        if let Some(t) = text {
            self.push(t);
        }
    }
}

/// A message's text: a string, or the text of its parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.as_str().or_else(|| p["text"].as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The prompt's messages, in order: the system text (Anthropic's `system`,
/// Responses' `instructions`), then `messages` or `input`.
fn prompt(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for system in [&v["system"], &v["instructions"]] {
        if !system.is_null() {
            out.push(("system".to_owned(), text_of(system)));
        }
    }
    let messages = if v["messages"].is_array() {
        &v["messages"]
    } else {
        &v["input"]
    };
    match messages {
        Value::Array(list) => {
            for m in list {
                let role = m["role"].as_str().unwrap_or("user").to_owned();
                let text = if m.is_string() {
                    text_of(m)
                } else {
                    text_of(&m["content"])
                };
                out.push((role, text));
            }
        }
        Value::String(s) => out.push(("user".to_owned(), s.clone())),
        _ => {}
    }
    out
}

/// A whole answer's text and finish reason: OpenAI chat, Anthropic
/// messages, Responses.
fn answer(v: &Value) -> (String, Option<String>) {
    let choice = &v["choices"][0];
    if !choice.is_null() {
        let finish = choice["finish_reason"].as_str().map(str::to_owned);
        return (text_of(&choice["message"]["content"]), finish);
    }
    if v["content"].is_array() {
        let finish = v["stop_reason"].as_str().map(str::to_owned);
        return (text_of(&v["content"]), finish);
    }
    let text = v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| text_of(&item["content"]))
        .collect::<Vec<_>>()
        .join("");
    (text, v["status"].as_str().map(str::to_owned))
}

/// GenAI semantic conventions' message list, masked, the text capped.
/// Messages after the cut are left out. Written by hand (Worker size).
fn render(
    messages: &[(String, String)],
    finish: Option<&str>,
    mut checker: Option<&mut Checker>,
) -> String {
    let quoted = |out: &mut String, s: &str| {
        out.push_str(&Value::from(s).to_string());
    };
    let mut left = CONTENT_CAP;
    let mut out = String::from("[");
    for (role, text) in messages {
        let mut text = match checker.as_deref_mut() {
            Some(c) => c.redact(text),
            None => text.clone(),
        };
        let cut = text.len() > left;
        if cut {
            text.truncate(text.floor_char_boundary(left));
            text.push_str(TRUNCATED);
        }
        left = left.saturating_sub(text.len());
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str("{\"role\":");
        quoted(&mut out, role);
        out.push_str(",\"parts\":[{\"type\":\"text\",\"content\":");
        quoted(&mut out, &text);
        out.push_str("}]");
        if let Some(f) = finish {
            out.push_str(",\"finish_reason\":");
            quoted(&mut out, f);
        }
        out.push('}');
        if cut {
            break;
        }
    }
    out.push(']');
    out
}

/// Passes a stream through, reading its text deltas into `capture`.
pub fn tee(capture: Arc<Capture>, body: BodyStream) -> BodyStream {
    use futures::StreamExt;
    Box::pin(body.map(move |bytes: Bytes| {
        capture.relayed(&bytes);
        bytes
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::Direction;

    fn messages(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    /// A set that only logs emails and blocks a keyword: neither masks for
    /// the client, both mask in the export.
    fn logging_checker() -> Checker {
        let g = crate::Config::parse(
            "[[guardrails]]\nname = \"watch\"\ndetectors = [\"email\"]\naction = \"log\"\napply_to = [\"input\"]\n\n[[guardrails]]\nname = \"stop\"\nkeywords = [\"nightingale\"]\naction = \"block\"\napply_to = [\"output\"]\n",
        )
        .unwrap()
        .guards;
        let active = g
            .active("m", Direction::Input)
            .or(g.active("m", Direction::Output));
        Checker::new(g, active)
    }

    #[test]
    fn a_chat_prompt_and_answer_become_genai_messages() {
        let c = Capture::new(
            None,
            br#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
        );
        c.whole(br#"{"choices":[{"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}"#);
        let out = c.export();
        assert_eq!(
            messages(&out.input),
            serde_json::json!([
                {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
            ])
        );
        assert_eq!(
            messages(&out.output),
            serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}])
        );
    }

    #[test]
    fn stream_deltas_split_across_chunks_are_assembled_in_each_format() {
        let openai = Capture::new(None, b"{}");
        for part in [
            &b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel"[..],
            b"\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        ] {
            openai.relayed(part);
        }
        let out = messages(&openai.export().output);
        assert_eq!(out[0]["parts"][0]["content"], "Hello");
        assert_eq!(out[0]["finish_reason"], "stop");
        let anthropic = Capture::new(
            None,
            br#"{"system":"s","messages":[{"role":"user","content":"q"}]}"#,
        );
        anthropic.relayed(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n");
        let out = anthropic.export();
        assert_eq!(messages(&out.output)[0]["parts"][0]["content"], "Hi");
        assert_eq!(messages(&out.output)[0]["finish_reason"], "end_turn");
        assert_eq!(messages(&out.input)[0]["role"], "system");
        let responses = Capture::new(None, br#"{"instructions":"s","input":"q"}"#);
        responses.relayed(b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"Yo\"}\n\n");
        let out = responses.export();
        assert_eq!(messages(&out.output)[0]["parts"][0]["content"], "Yo");
        assert_eq!(messages(&out.input)[1]["parts"][0]["content"], "q");
    }

    #[test]
    fn every_set_masks_the_export_whatever_its_action() {
        let c = Capture::new(
            Some(logging_checker()),
            br#"{"messages":[{"role":"user","content":"write to ann@example.com"}]}"#,
        );
        c.relayed(b"data: {\"choices\":[{\"delta\":{\"content\":\"nightingale says ann@example.com\"}}]}\n\n");
        let out = c.export();
        assert!(!out.input.contains("ann@example.com"), "{}", out.input);
        assert!(out.input.contains("[EMAIL_1]"), "{}", out.input);
        assert!(!out.output.contains("ann@"), "{}", out.output);
        assert!(!out.output.contains("nightingale"), "{}", out.output);
        assert!(
            out.output.contains("[EMAIL_1]"),
            "the same value, the same placeholder"
        );
    }

    #[test]
    fn each_side_is_capped_with_a_marker() {
        let long = "é".repeat(CONTENT_CAP);
        let body = serde_json::json!({"messages": [
            {"role": "user", "content": long},
            {"role": "user", "content": "after the cut"},
        ]});
        let c = Capture::new(None, body.to_string().as_bytes());
        for _ in 0..100 {
            c.relayed(
                format!(
                    "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n",
                    "x".repeat(1000)
                )
                .as_bytes(),
            );
        }
        let out = c.export();
        let input = messages(&out.input);
        assert_eq!(
            input.as_array().unwrap().len(),
            1,
            "messages after the cut are left out"
        );
        let text = input[0]["parts"][0]["content"].as_str().unwrap();
        assert!(text.ends_with(TRUNCATED));
        assert!(text.len() <= CONTENT_CAP + TRUNCATED.len());
        let text = messages(&out.output)[0]["parts"][0]["content"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(text.len(), CONTENT_CAP + TRUNCATED.len());
        assert!(text.ends_with(TRUNCATED));
    }
}
