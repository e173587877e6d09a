//! Token counts without a tokenizer: a documented estimate.
//!
//! Exact BPE for OpenAI's families does not fit the Worker: the `o200k_base`
//! vocabulary is 200,019 byte strings (3.6 MB as distributed, ~2.2 MB
//! gzipped) and `cl100k_base` 100,256 (1.7 MB, ~1 MB gzipped), against a
//! budget of 300 KB gzipped for the whole catalog feature and 1 MB for the
//! whole Worker. So the gateway estimates, the way the BPE pre-tokenizer
//! splits text:
//!
//! * a run of letters (with the space before it) is one token per 8
//!   letters, rounded up — common words are single tokens;
//! * digits go in groups of three (as `o200k`/`cl100k` split them);
//! * punctuation: one token per two characters;
//! * a run of whitespace other than a single space is one token;
//! * other characters (CJK, emoji, ...): one token per three UTF-8 bytes;
//! * chat overhead as OpenAI documents it: 3 tokens per message, 1 more for
//!   a `name`, 3 to prime the reply; tool definitions count as their JSON.
//!
//! Every byte-level BPE token covers at least one byte, so a prompt of `n`
//! bytes never has more than `n` tokens: the context-window check only
//! estimates when the body is larger than the window.

use crate::unified::{ChatRequest, Part};

pub const METHOD: &str = "estimate: BPE-like pre-tokenizer split (letters/8, digits/3, \
punctuation/2, other UTF-8 bytes/3) + OpenAI chat framing (3 per message, 3 per reply)";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Punct,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_ascii_alphabetic() || (c.is_alphabetic() && (c as u32) < 0x2E80) {
        Class::Letter
    } else if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_whitespace() {
        Class::Space
    } else if c.is_ascii() {
        Class::Punct
    } else {
        Class::Other
    }
}

/// Estimated tokens of plain text.
pub fn count_text(text: &str) -> u64 {
    let mut tokens = 0u64;
    let mut run_class = None;
    let mut run_chars = 0u64;
    let mut run_bytes = 0u64;
    let mut run_is_single_space = false;
    let mut flush = |class: Option<Class>, chars: u64, bytes: u64, single_space: bool| {
        tokens += match class {
            None => 0,
            Some(Class::Letter) => chars.div_ceil(8),
            Some(Class::Digit) => chars.div_ceil(3),
            Some(Class::Punct) => chars.div_ceil(2),
            Some(Class::Space) => u64::from(!single_space),
            Some(Class::Other) => bytes.div_ceil(3),
        };
    };
    for c in text.chars() {
        let k = class(c);
        if Some(k) != run_class {
            flush(run_class, run_chars, run_bytes, run_is_single_space);
            run_class = Some(k);
            run_chars = 0;
            run_bytes = 0;
            run_is_single_space = c == ' ';
        } else if k == Class::Space {
            run_is_single_space = false;
        }
        run_chars += 1;
        run_bytes += c.len_utf8() as u64;
    }
    flush(run_class, run_chars, run_bytes, run_is_single_space);
    tokens
}

/// Estimated prompt tokens of a chat request.
pub fn count_request(req: &ChatRequest) -> u64 {
    let mut tokens = 3;
    for m in &req.messages {
        tokens += 3;
        if m.name.is_some() {
            tokens += 1;
        }
        for part in &m.content {
            tokens += match part {
                Part::Text { text, .. } => count_text(text),
                Part::Thinking { text, .. } => count_text(text),
                Part::ToolUse {
                    name, arguments, ..
                } => count_text(name) + count_text(arguments) + 3,
                Part::ToolResult { content, .. } => content
                    .iter()
                    .map(|p| match p {
                        Part::Text { text, .. } => count_text(text),
                        _ => 85,
                    })
                    .sum::<u64>(),
                // A low-detail image; documents and audio at a flat guess.
                Part::Image { .. } => 85,
                _ => 85,
            };
        }
    }
    for tool in &req.tools {
        tokens += count_text(&tool.name) + 8;
        if let Some(d) = &tool.description {
            tokens += count_text(d);
        }
        if let Some(p) = &tool.parameters {
            tokens += count_text(p.get());
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_digits_punctuation() {
        // "Hello" " world" "!" → 1 + 1 + 1
        assert_eq!(count_text("Hello world!"), 3);
        // 7 digits → 3 groups
        assert_eq!(count_text("1234567"), 3);
        // a 20-letter word → 3
        assert_eq!(count_text("internationalization"), 3);
        // "a" "\n\n" "b" → 3
        assert_eq!(count_text("a\n\nb"), 3);
        // 4 CJK characters, 12 bytes → 4
        assert_eq!(count_text("你好世界"), 4);
        assert_eq!(count_text(""), 0);
    }

    #[test]
    fn never_more_tokens_than_bytes() {
        for s in ["a b c d", "!!!", "1 2 3", "é", "🙂🙂", "x\ny\nz", " , . ; "] {
            assert!(count_text(s) <= s.len() as u64, "{s}");
        }
    }
}
