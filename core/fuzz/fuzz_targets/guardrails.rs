//! Guardrails on arbitrary text and JSON: the JSON text view (request and
//! answer bodies, stream events), every detector and keyword list, masking
//! (the masked text keeps everything outside the matches), and the stream
//! protocol (the text cut at a fuzzer-chosen place, fed in two parts) —
//! never a panic, whatever the bytes, and the stream's output is exactly
//! the whole text's.
//!
//! Input: the first byte picks the cut; the rest is a JSON document or text.

#![no_main]

use std::sync::OnceLock;

use dx_core::guardrails::{rewrite_strings, Checker, Direction, Guardrails};
use dx_core::Config;
use libfuzzer_sys::fuzz_target;

fn guards() -> &'static std::sync::Arc<Guardrails> {
    static G: OnceLock<std::sync::Arc<Guardrails>> = OnceLock::new();
    G.get_or_init(|| {
        let text = r#"
[[guardrails]]
name = "pii"
detectors = ["pii", "secrets"]
action = "mask"
[[guardrails]]
name = "kw"
keywords = ["project nightingale", "internal only", "é", "ｆｕｌｌ"]
action = "log"
[[guardrails]]
name = "sub"
keywords = ["xx"]
match = "substring"
action = "mask"
"#;
        Config::parse(text).map(|c| c.guards).unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let g = guards();
    let active = g.active("m", Direction::Input);
    let mut checker = Checker::new(g.clone(), active);
    let _ = rewrite_strings(rest, true, &mut |_, t| checker.check(t));
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // A fresh checker: placeholder numbers depend on what it saw before.
    let whole = Checker::new(g.clone(), active).check(text);
    let mut at = usize::from(cut) * text.len() / 256;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let mut stream = Checker::new(g.clone(), active);
    let mut held = text[..at].to_owned();
    let mut left = String::new();
    let mut out = String::new();
    if let Ok((n, masked)) = stream.check_part(&mut left, &held, false) {
        assert!(n <= held.len() && held.is_char_boundary(n));
        out.push_str(masked.as_deref().unwrap_or(&held[..n]));
        held.drain(..n);
        held.push_str(&text[at..]);
        if let Ok((n, masked)) = stream.check_part(&mut left, &held, true) {
            assert_eq!(n, held.len());
            out.push_str(masked.as_deref().unwrap_or(&held));
            // Whatever the cut, the stream releases what checking the
            // text whole gives (the fuzz sets mask and log, never block).
            let whole = whole.map(|w| w.unwrap_or_else(|| text.to_owned()));
            assert_eq!(Ok(out), whole, "cut at {at}");
        }
    }
});
