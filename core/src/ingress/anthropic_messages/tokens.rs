//! The input-token estimate used for long-context routing and for
//! `count_tokens` where no upstream counts exactly.
//!
//! Method: one token per 4 characters of every text the model reads (system
//! prompt, message text, thinking, tool inputs and results as their JSON text,
//! tool definitions as their JSON text), rounded up, plus 3 tokens of framing
//! per message; 1,600 tokens per image (Anthropic's figure for a ~1.15
//! megapixel image, the size its API scales large images down to); base64
//! documents at one token per 3 bytes of their decoded size (PDF text and
//! page images together land near that). English prose averages about 4
//! characters per token on current tokenizers; code and JSON run denser, so
//! the estimate errs low on tool-heavy requests and high on prose.

use super::MessagesEnvelope;
use crate::codec::anthropic::wire::{self, Block, Content};

const CHARS_PER_TOKEN: u64 = 4;
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_IMAGE: u64 = 1600;

#[derive(Default)]
struct Tally {
    chars: u64,
    fixed: u64,
}

impl Tally {
    fn text(&mut self, s: &str) {
        self.chars += s.chars().count() as u64;
    }

    fn block(&mut self, b: &Block<'_>) {
        for s in [&b.text, &b.thinking].into_iter().flatten() {
            self.text(s);
        }
        if let Some(input) = b.input {
            self.text(input.get());
        }
        match &b.content {
            Some(Content::Text(t)) => self.text(t),
            Some(Content::Blocks(inner)) => inner.iter().for_each(|x| self.block(x)),
            Some(Content::Raw(raw)) => self.text(raw.get()),
            None => {}
        }
        if let Some(src) = &b.source {
            match (b.kind.as_ref(), src.kind.as_ref()) {
                ("image", _) => self.fixed += TOKENS_PER_IMAGE,
                (_, "base64") => {
                    let decoded = src.data.as_ref().map_or(0, |d| d.len() as u64 * 3 / 4);
                    self.fixed += decoded / 3;
                }
                (_, "text") => {
                    if let Some(d) = &src.data {
                        self.text(d);
                    }
                }
                _ => {}
            }
        }
    }

    fn tokens(&self) -> u64 {
        self.chars.div_ceil(CHARS_PER_TOKEN) + self.fixed
    }
}

/// Estimated input tokens of a Messages request (see the module doc).
pub fn estimate_tokens(env: &MessagesEnvelope<'_>) -> u64 {
    let mut t = Tally::default();
    if let Ok(blocks) = env.system_blocks() {
        blocks.iter().for_each(|b| t.block(b));
    }
    if let Some(raw) = env.raw_field("messages") {
        let msgs: Vec<wire::Message<'_>> = serde_json::from_str(raw.get()).unwrap_or_default();
        for m in &msgs {
            t.fixed += TOKENS_PER_MESSAGE;
            match &m.content {
                Content::Text(s) => t.text(s),
                Content::Blocks(blocks) => blocks.iter().for_each(|b| t.block(b)),
                Content::Raw(raw) => t.text(raw.get()),
            }
        }
    }
    if let Some(raw) = env.raw_field("tools") {
        t.text(raw.get());
    }
    t.tokens()
}
