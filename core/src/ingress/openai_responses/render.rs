//! Unified answers in the Responses shapes: a `response` object whose
//! `output` holds reasoning, message and call items, and the typed event
//! stream the SDKs' helpers and the Codex CLI read (`response.created`,
//! items added, deltas, items done, `response.completed` with usage), each
//! with an `event:` line and a `sequence_number`.

use std::sync::Arc;

use bytes::Bytes;

use super::ToolShapes;
use crate::error::GatewayError;
use crate::ingress::openai_chat::{write_json_str, write_key};
use crate::stream::Renderer;
use crate::unified::{ChatChunk, ChatResponse, FinishReason, Part, Usage};

/// What every response object of one request says besides its output:
/// its id, and the request's settings echoed back (as OpenAI does).
#[derive(Debug, Clone)]
pub struct Head {
    pub id: String,
    pub created_at: u64,
    pub model: String,
    /// `,"instructions":…,"tools":…` and the other echoed fields, as JSON.
    pub echo: Arc<[u8]>,
    pub shapes: Arc<ToolShapes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Reasoning,
    Call,
}

/// One output item as it builds up.
#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    id: String,
    /// Message text, reasoning summary, or call arguments.
    text: String,
    refusal: String,
    call_id: String,
    name: String,
    encrypted: Option<String>,
    done: bool,
}

impl Item {
    fn new(kind: Kind, id: String) -> Self {
        Item {
            kind,
            id,
            text: String::new(),
            refusal: String::new(),
            call_id: String::new(),
            name: String::new(),
            encrypted: None,
            done: false,
        }
    }
}

fn write_usage(out: &mut Vec<u8>, u: &Usage) {
    out.extend_from_slice(
        format!(
            r#"{{"input_tokens":{},"input_tokens_details":{{"cached_tokens":{}}},"output_tokens":{},"output_tokens_details":{{"reasoning_tokens":{}}},"total_tokens":{}}}"#,
            u.input_tokens,
            u.cache_read_tokens,
            u.output_tokens,
            u.reasoning_tokens,
            u.total()
        )
        .as_bytes(),
    );
}

fn field(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b',');
    write_key(out, key);
    write_json_str(out, value);
}

fn write_item(out: &mut Vec<u8>, item: &Item, shapes: &ToolShapes) {
    let status = if item.done {
        "completed"
    } else {
        "in_progress"
    };
    out.extend_from_slice(b"{\"id\":");
    write_json_str(out, &item.id);
    match item.kind {
        Kind::Message => {
            out.extend_from_slice(br#","type":"message","status":""#);
            out.extend_from_slice(status.as_bytes());
            out.extend_from_slice(br#"","role":"assistant","content":["#);
            if item.done || !item.text.is_empty() {
                write_text_part(out, &item.text);
            }
            if !item.refusal.is_empty() {
                if item.done || !item.text.is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(br#"{"type":"refusal","refusal":"#);
                write_json_str(out, &item.refusal);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        Kind::Reasoning => {
            out.extend_from_slice(br#","type":"reasoning","summary":["#);
            if !item.text.is_empty() {
                out.extend_from_slice(br#"{"type":"summary_text","text":"#);
                write_json_str(out, &item.text);
                out.push(b'}');
            }
            out.push(b']');
            if let Some(e) = &item.encrypted {
                field(out, "encrypted_content", e);
            }
            out.push(b'}');
        }
        Kind::Call if shapes.is_custom(&item.name) => {
            out.extend_from_slice(br#","type":"custom_tool_call","status":""#);
            out.extend_from_slice(status.as_bytes());
            out.push(b'"');
            field(out, "call_id", &item.call_id);
            write_name(out, &item.name, shapes);
            field(out, "input", &custom_input(&item.text));
            out.push(b'}');
        }
        Kind::Call => {
            out.extend_from_slice(br#","type":"function_call","status":""#);
            out.extend_from_slice(status.as_bytes());
            out.push(b'"');
            field(out, "call_id", &item.call_id);
            write_name(out, &item.name, shapes);
            field(out, "arguments", &item.text);
            out.push(b'}');
        }
    }
}

fn write_name(out: &mut Vec<u8>, flat: &str, shapes: &ToolShapes) {
    match shapes.namespace_of(flat) {
        Some((ns, name)) => {
            field(out, "name", name);
            field(out, "namespace", ns);
        }
        None => field(out, "name", flat),
    }
}

fn write_text_part(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(br#"{"type":"output_text","text":"#);
    write_json_str(out, text);
    out.extend_from_slice(br#","annotations":[],"logprobs":[]}"#);
}

/// A free-form tool's input from the arguments object it was called with.
fn custom_input(arguments: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Args {
        input: String,
    }
    serde_json::from_str::<Args>(arguments)
        .map(|a| a.input)
        .unwrap_or_else(|_| arguments.to_owned())
}

/// `status` and `incomplete_details` for how an answer finished.
fn status_of(finish: Option<&FinishReason>) -> (&'static str, Option<&'static str>) {
    match finish {
        Some(FinishReason::Length) => ("incomplete", Some("max_output_tokens")),
        Some(FinishReason::ContentFilter) => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

fn write_response(
    out: &mut Vec<u8>,
    head: &Head,
    status: &str,
    incomplete: Option<&str>,
    error: Option<&GatewayError>,
    items: &[Item],
    usage: Option<&Usage>,
) {
    out.extend_from_slice(b"{\"id\":");
    write_json_str(out, &head.id);
    out.extend_from_slice(br#","object":"response","created_at":"#);
    out.extend_from_slice(head.created_at.to_string().as_bytes());
    field(out, "status", status);
    out.extend_from_slice(br#","error":"#);
    match error {
        Some(e) => {
            out.extend_from_slice(b"{\"code\":");
            write_json_str(out, e.code.as_deref().unwrap_or("server_error"));
            field(out, "message", &e.message);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","incomplete_details":"#);
    match incomplete {
        Some(reason) => {
            out.extend_from_slice(br#"{"reason":"#);
            write_json_str(out, reason);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    field(out, "model", &head.model);
    out.extend_from_slice(br#","output":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item, &head.shapes);
    }
    out.push(b']');
    out.extend_from_slice(&head.echo);
    out.extend_from_slice(br#","usage":"#);
    match usage {
        Some(u) => write_usage(out, u),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// The output items of a whole answer, in the order the model made them:
/// reasoning, one message with the text, then the calls.
fn items_of(r: &ChatResponse, id: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut message: Option<Item> = None;
    let Some(choice) = r.choices.first() else {
        return items;
    };
    for (i, part) in choice.content.iter().enumerate() {
        match part {
            Part::Thinking { text, signature } => {
                let mut item = Item::new(Kind::Reasoning, format!("rs_{id}_{i}"));
                item.text.clone_from(text);
                item.encrypted.clone_from(signature);
                items.push(item);
            }
            Part::RedactedThinking { data } => {
                let mut item = Item::new(Kind::Reasoning, format!("rs_{id}_{i}"));
                item.encrypted = Some(data.clone());
                items.push(item);
            }
            Part::Text { text, .. } => message
                .get_or_insert_with(|| Item::new(Kind::Message, format!("msg_{id}")))
                .text
                .push_str(text),
            Part::ToolUse {
                id: call_id,
                name,
                arguments,
                ..
            } => {
                if let Some(m) = message.take() {
                    items.push(m);
                }
                let mut item = Item::new(Kind::Call, format!("fc_{call_id}"));
                item.call_id.clone_from(call_id);
                item.name.clone_from(name);
                item.text.clone_from(arguments);
                items.push(item);
            }
            _ => {}
        }
    }
    if let Some(refusal) = &choice.refusal {
        message
            .get_or_insert_with(|| Item::new(Kind::Message, format!("msg_{id}")))
            .refusal
            .clone_from(refusal);
    }
    if let Some(m) = message {
        // Text goes before the calls that follow it.
        let at = items
            .iter()
            .position(|i| i.kind == Kind::Call)
            .unwrap_or(items.len());
        items.insert(at, m);
    }
    for item in &mut items {
        item.done = true;
    }
    items
}

/// The id part after `resp_`, for the item ids made from it.
fn stem(id: &str) -> &str {
    id.strip_prefix("resp_").unwrap_or(id)
}

/// A whole answer as a `response` object.
pub fn render_response(r: &ChatResponse, head: &Head) -> Vec<u8> {
    let items = items_of(r, stem(&head.id));
    let finish = r.choices.first().and_then(|c| c.finish_reason.as_ref());
    let (status, incomplete) = status_of(finish);
    let mut head = head.clone();
    if !r.model.is_empty() {
        head.model.clone_from(&r.model);
    }
    let mut out = Vec::with_capacity(512);
    write_response(
        &mut out,
        &head,
        status,
        incomplete,
        None,
        &items,
        r.usage.as_ref(),
    );
    out
}

/// An error inside a started stream, as a lone `error` event. The SDKs
/// raise on the nested `error`; the Codex CLI reads the top-level fields.
pub fn error_event(e: &GatewayError) -> Bytes {
    let mut out = Vec::with_capacity(192 + 2 * e.message.len());
    write_error(&mut out, e, None);
    Bytes::from(out)
}

fn write_error(out: &mut Vec<u8>, e: &GatewayError, seq: Option<u64>) {
    let code = e.code.as_deref().unwrap_or("server_error");
    out.extend_from_slice(b"event: error\ndata: {\"type\":\"error\"");
    if let Some(seq) = seq {
        out.extend_from_slice(format!(",\"sequence_number\":{seq}").as_bytes());
    }
    field(out, "code", code);
    field(out, "message", &e.message);
    out.extend_from_slice(br#","param":null,"error":{"type":"#);
    write_json_str(out, e.kind.openai_type());
    field(out, "code", code);
    field(out, "message", &e.message);
    out.extend_from_slice(b"}}\n\n");
}

/// Unified chunks as the Responses event stream.
pub struct EventRenderer {
    head: Head,
    seq: u64,
    started: bool,
    items: Vec<Item>,
    /// The item text or reasoning deltas go to.
    open: Option<usize>,
    /// Output index of each unified tool call.
    calls: Vec<(u32, usize)>,
    finish: Option<FinishReason>,
}

impl EventRenderer {
    pub fn new(head: Head) -> Self {
        EventRenderer {
            head,
            seq: 0,
            started: false,
            items: Vec::new(),
            open: None,
            calls: Vec::new(),
            finish: None,
        }
    }

    /// `event: <kind>` and `data: {"type":<kind>,"sequence_number":n<body>}`.
    fn event(&mut self, out: &mut Vec<u8>, kind: &str, body: &[u8]) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        self.seq += 1;
        out.extend_from_slice(body);
        out.extend_from_slice(b"}\n\n");
    }

    fn response_event(
        &mut self,
        out: &mut Vec<u8>,
        kind: &str,
        status: &str,
        incomplete: Option<&str>,
        error: Option<&GatewayError>,
        usage: Option<&Usage>,
    ) {
        let mut body = br#","response":"#.to_vec();
        write_response(
            &mut body,
            &self.head,
            status,
            incomplete,
            error,
            &self.items,
            usage,
        );
        self.event(out, kind, &body);
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk: Option<&ChatChunk>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(c) = chunk.filter(|c| !c.model.is_empty()) {
            self.head.model.clone_from(&c.model);
        }
        self.response_event(out, "response.created", "in_progress", None, None, None);
        self.response_event(out, "response.in_progress", "in_progress", None, None, None);
    }

    /// Item location fields: `,"item_id":…,"output_index":n`.
    fn at(&self, index: usize) -> Vec<u8> {
        let mut b = br#","item_id":"#.to_vec();
        write_json_str(&mut b, &self.items[index].id);
        b.extend_from_slice(format!(",\"output_index\":{index}").as_bytes());
        b
    }

    fn add(&mut self, out: &mut Vec<u8>, item: Item) -> usize {
        let index = self.items.len();
        self.items.push(item);
        let mut body = format!(",\"output_index\":{index},\"item\":").into_bytes();
        write_item(&mut body, &self.items[index], &self.head.shapes);
        self.event(out, "response.output_item.added", &body);
        match self.items[index].kind {
            Kind::Message => {
                let mut body = self.at(index);
                body.extend_from_slice(br#","content_index":0,"part":"#);
                write_text_part(&mut body, "");
                self.event(out, "response.content_part.added", &body);
            }
            Kind::Reasoning => {
                let mut body = self.at(index);
                body.extend_from_slice(
                    br#","summary_index":0,"part":{"type":"summary_text","text":""}"#,
                );
                self.event(out, "response.reasoning_summary_part.added", &body);
            }
            Kind::Call => {}
        }
        index
    }

    /// The open item of `kind`, opening one (and closing another) first.
    fn open(&mut self, out: &mut Vec<u8>, kind: Kind) -> usize {
        if let Some(i) = self.open.filter(|&i| self.items[i].kind == kind) {
            return i;
        }
        self.close(out);
        let n = self.items.len();
        let prefix = if kind == Kind::Message { "msg" } else { "rs" };
        let id = format!("{prefix}_{}_{n}", stem(&self.head.id));
        let i = self.add(out, Item::new(kind, id));
        self.open = Some(i);
        i
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(i) = self.open.take() {
            self.finish_item(out, i);
        }
    }

    fn finish_item(&mut self, out: &mut Vec<u8>, i: usize) {
        if self.items[i].done {
            return;
        }
        let at = self.at(i);
        match self.items[i].kind {
            Kind::Message => {
                if !self.items[i].text.is_empty() || self.items[i].refusal.is_empty() {
                    let mut body = at.clone();
                    body.extend_from_slice(br#","content_index":0,"text":"#);
                    write_json_str(&mut body, &self.items[i].text);
                    body.extend_from_slice(br#","logprobs":[]"#);
                    self.event(out, "response.output_text.done", &body);
                    let mut body = at.clone();
                    body.extend_from_slice(br#","content_index":0,"part":"#);
                    write_text_part(&mut body, &self.items[i].text);
                    self.event(out, "response.content_part.done", &body);
                }
            }
            Kind::Reasoning
                if self.items[i].encrypted.is_none() || !self.items[i].text.is_empty() =>
            {
                let mut body = at.clone();
                body.extend_from_slice(br#","summary_index":0,"text":"#);
                write_json_str(&mut body, &self.items[i].text);
                self.event(out, "response.reasoning_summary_text.done", &body);
                let mut body = at.clone();
                body.extend_from_slice(
                    br#","summary_index":0,"part":{"type":"summary_text","text":"#,
                );
                write_json_str(&mut body, &self.items[i].text);
                body.push(b'}');
                self.event(out, "response.reasoning_summary_part.done", &body);
            }
            Kind::Reasoning => {}
            Kind::Call if self.head.shapes.is_custom(&self.items[i].name) => {
                let mut body = at.clone();
                field(&mut body, "input", &custom_input(&self.items[i].text));
                self.event(out, "response.custom_tool_call_input.done", &body);
            }
            Kind::Call => {
                let mut body = at.clone();
                field(&mut body, "arguments", &self.items[i].text);
                self.event(out, "response.function_call_arguments.done", &body);
            }
        }
        self.items[i].done = true;
        let mut body = format!(",\"output_index\":{i},\"item\":").into_bytes();
        write_item(&mut body, &self.items[i], &self.head.shapes);
        self.event(out, "response.output_item.done", &body);
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, kind: Kind, delta: &str, refusal: bool) {
        let i = self.open(out, kind);
        let mut body = self.at(i);
        let name = match kind {
            Kind::Reasoning => {
                self.items[i].text.push_str(delta);
                body.extend_from_slice(br#","summary_index":0"#);
                "response.reasoning_summary_text.delta"
            }
            _ if refusal => {
                self.items[i].refusal.push_str(delta);
                body.extend_from_slice(br#","content_index":0"#);
                "response.refusal.delta"
            }
            _ => {
                self.items[i].text.push_str(delta);
                body.extend_from_slice(br#","content_index":0,"logprobs":[]"#);
                "response.output_text.delta"
            }
        };
        field(&mut body, "delta", delta);
        self.event(out, name, &body);
    }
}

impl Renderer for EventRenderer {
    fn chunk(&mut self, chunk: &ChatChunk) -> Option<Bytes> {
        let mut out = Vec::with_capacity(256);
        self.start(&mut out, Some(chunk));
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(text) = d.reasoning.as_deref().filter(|t| !t.is_empty()) {
                self.text_delta(&mut out, Kind::Reasoning, text, false);
            }
            if let Some(sig) = d.reasoning_signature.as_deref().filter(|s| !s.is_empty()) {
                let i = self.open(&mut out, Kind::Reasoning);
                self.items[i].encrypted = Some(sig.to_owned());
            }
            if let Some(data) = d.redacted_reasoning.as_deref() {
                self.close(&mut out);
                let n = self.items.len();
                let mut item =
                    Item::new(Kind::Reasoning, format!("rs_{}_{n}", stem(&self.head.id)));
                item.encrypted = Some(data.to_owned());
                let i = self.add(&mut out, item);
                self.finish_item(&mut out, i);
            }
            if let Some(text) = d.text.as_deref().filter(|t| !t.is_empty()) {
                self.text_delta(&mut out, Kind::Message, text, false);
            }
            if let Some(text) = d.refusal.as_deref().filter(|t| !t.is_empty()) {
                self.text_delta(&mut out, Kind::Message, text, true);
            }
            for tc in &d.tool_calls {
                let known = self.calls.iter().find(|(t, _)| *t == tc.index).map(|c| c.1);
                let i = match known {
                    Some(i) if tc.id.is_none() => i,
                    _ => {
                        self.close(&mut out);
                        let call_id = tc.id.clone().unwrap_or_default();
                        let mut item = Item::new(Kind::Call, format!("fc_{call_id}"));
                        item.call_id = call_id;
                        item.name = tc.name.clone().unwrap_or_default();
                        let i = self.add(&mut out, item);
                        self.calls.push((tc.index, i));
                        i
                    }
                };
                if let Some(args) = tc.arguments.as_deref().filter(|a| !a.is_empty()) {
                    self.items[i].text.push_str(args);
                    // A free-form tool's input is said whole at its end.
                    if !self.head.shapes.is_custom(&self.items[i].name) {
                        let mut body = self.at(i);
                        field(&mut body, "delta", args);
                        self.event(&mut out, "response.function_call_arguments.delta", &body);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish = choice.finish_reason.clone();
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    fn end(&mut self, usage: Option<Usage>) -> Bytes {
        let mut out = Vec::with_capacity(512);
        self.start(&mut out, None);
        self.close(&mut out);
        for i in 0..self.items.len() {
            self.finish_item(&mut out, i);
        }
        let (status, incomplete) = status_of(self.finish.as_ref());
        let kind = if incomplete.is_some() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.response_event(&mut out, kind, status, incomplete, None, usage.as_ref());
        Bytes::from(out)
    }

    /// `response.failed` with what was made so far, then the `error` event.
    fn error(&mut self, error: &GatewayError) -> Bytes {
        let mut out = Vec::with_capacity(512);
        self.start(&mut out, None);
        self.response_event(
            &mut out,
            "response.failed",
            "failed",
            None,
            Some(error),
            None,
        );
        let seq = self.seq;
        self.seq += 1;
        write_error(&mut out, error, Some(seq));
        Bytes::from(out)
    }
}
