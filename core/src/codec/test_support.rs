//! Helpers shared by the codec fixture tests.

use crate::resolve::provider;
use crate::resolve::{Deployment, ProviderParams};
use crate::secret::Secret;
use crate::unified::{ChatChunk, FinishReason, Usage};

/// A deployment of provider `id` with the given key and base URL.
pub fn deployment(id: &str, model: &str, base: &str, key: Option<&str>) -> Deployment {
    Deployment {
        provider: provider(crate::catalog::embedded(), id).expect("known provider"),
        upstream_model: model.into(),
        api_base: base.into(),
        api_key: key.map(Secret::new),
        mock_response: None,
        request_timeout_ms: None,
        passthrough: true,
        params: ProviderParams::default(),
    }
}

/// What a client rebuilds from the chunks of one choice.
#[derive(Debug, Default, PartialEq)]
pub struct Assembled {
    pub text: String,
    pub reasoning: String,
    /// (id, name, arguments) per tool-call index.
    pub tools: Vec<(String, String, String)>,
    pub finish: Option<FinishReason>,
    pub usage: Option<Usage>,
    pub roles: usize,
}

pub fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled::default();
    for c in chunks {
        if c.usage.is_some() {
            a.usage = c.usage;
        }
        for ch in &c.choices {
            assert_eq!(ch.index, 0, "one choice expected");
            a.roles += usize::from(ch.delta.role.is_some());
            a.text.push_str(ch.delta.text.as_deref().unwrap_or(""));
            a.reasoning
                .push_str(ch.delta.reasoning.as_deref().unwrap_or(""));
            for t in &ch.delta.tool_calls {
                let i = t.index as usize;
                while a.tools.len() <= i {
                    a.tools.push(Default::default());
                }
                let slot = &mut a.tools[i];
                if let Some(id) = &t.id {
                    slot.0 = id.clone();
                }
                slot.1.push_str(t.name.as_deref().unwrap_or(""));
                slot.2.push_str(t.arguments.as_deref().unwrap_or(""));
            }
            if ch.finish_reason.is_some() {
                assert!(a.finish.is_none(), "two finish reasons");
                a.finish = ch.finish_reason.clone();
            }
        }
    }
    a
}

pub fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

/// `.chunks.jsonl` recordings back on the SSE wire, `event:` lines from each
/// payload's `type` when `with_event` (Cohere), `[DONE]` when `done` (OpenAI).
pub fn sse_from_chunks(lines: &[u8], with_event: bool, done: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if with_event {
            let v: serde_json::Value = serde_json::from_slice(line).expect("json line");
            out.extend_from_slice(
                format!("event: {}\n", v["type"].as_str().unwrap_or("")).as_bytes(),
            );
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
    }
    if done {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
    out
}

/// Feeds `wire` to a decoder in pieces of `split` bytes, then finishes it.
pub fn decode_in_pieces(
    decoder: &mut crate::codec::StreamDecoder,
    wire: &[u8],
    split: usize,
) -> Result<Vec<ChatChunk>, crate::error::GatewayError> {
    let mut out = Vec::new();
    for piece in wire.chunks(split) {
        out.extend(decoder.push(piece)?);
    }
    out.extend(decoder.finish()?);
    Ok(out)
}

/// The decode context of the codec tests: a fixed clock and a model name
/// no fixture uses, so where a value came from is plain.
pub fn decode_ctx() -> crate::codec::DecodeContext<'static> {
    crate::codec::DecodeContext {
        now_ms: 1_700_000_000_123,
        model: "deployment-model",
        id_prefix: "chatcmpl-",
    }
}
