//! Keyword and phrase lists: one Aho-Corasick automaton over every set's
//! folded terms, ASCII case-insensitive, so that plain-ASCII text (most of
//! it) is searched in place and only other text is folded first. The
//! contiguous NFA alone (not the `AhoCorasick` wrapper, which carries every
//! automaton kind): smaller in the Worker, and its memory stays modest at
//! 100,000 terms where a DFA's would not.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};

use super::fold::{fold, fold_str};
use super::spec::MAX_KEYWORDS;
use super::{Found, Kind};

#[derive(Debug)]
pub struct Keywords {
    automaton: NFA,
    /// Per pattern: its set, whether it must stand as a whole word, and
    /// whether its first and last characters are word characters.
    meta: Vec<(usize, bool, bool, bool)>,
    /// The longest folded term, in characters.
    pub max_chars: usize,
    /// Bytes a term can start with (both ASCII cases): from the automaton's
    /// start state, every other byte leads back to it, so the search skips
    /// them without a transition each.
    starts: [bool; 256],
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Keywords {
    pub fn new(terms: &[(&str, usize, bool)]) -> Result<Self, String> {
        if terms.len() > MAX_KEYWORDS {
            return Err(format!("more than {MAX_KEYWORDS} keywords in all"));
        }
        let mut patterns = Vec::with_capacity(terms.len());
        let mut meta = Vec::with_capacity(terms.len());
        let mut max_chars = 0;
        let mut starts = [false; 256];
        for &(term, set, whole) in terms {
            let folded = fold_str(term.trim());
            if folded.trim().is_empty() {
                return Err(format!(
                    "keyword `{}` is empty once folded",
                    term.escape_debug()
                ));
            }
            max_chars = max_chars.max(folded.chars().count());
            let first = folded.chars().next().is_some_and(is_word);
            let last = folded.chars().next_back().is_some_and(is_word);
            meta.push((set, whole, first, last));
            let b = folded.as_bytes()[0];
            starts[usize::from(b.to_ascii_lowercase())] = true;
            starts[usize::from(b.to_ascii_uppercase())] = true;
            patterns.push(folded);
        }
        let automaton = NFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| format!("keywords could not be compiled: {e}"))?;
        Ok(Keywords {
            automaton,
            meta,
            max_chars,
            starts,
        })
    }

    /// Calls `hit` with each match of an active set (`active(set)`) that
    /// starts at or after byte `from`, in `text`'s own byte offsets.
    pub fn find(
        &self,
        text: &str,
        from: usize,
        active: impl Fn(usize) -> bool,
        mut hit: impl FnMut(Found, usize),
    ) {
        let folded = (!text.is_ascii()).then(|| fold(text));
        let (hay, from) = match &folded {
            Some(f) => (
                f.text.as_str(),
                f.origin.partition_point(|&o| (o as usize) < from),
            ),
            None => (text, from),
        };
        let aut = &self.automaton;
        // Standard semantics, unanchored: there is always a start state.
        let Ok(start) = aut.start_state(Anchored::No) else {
            return;
        };
        let b = hay.as_bytes();
        let (mut sid, mut i) = (start, from);
        while i < b.len() {
            if sid == start {
                match b[i..].iter().position(|&c| self.starts[usize::from(c)]) {
                    Some(skip) => i += skip,
                    None => break,
                }
            }
            sid = aut.next_state(Anchored::No, sid, b[i]);
            i += 1;
            if !aut.is_match(sid) {
                continue;
            }
            for k in 0..aut.match_len(sid) {
                let pid = aut.match_pattern(sid, k);
                let (set, whole, first, last) = self.meta[pid.as_usize()];
                if !active(set) {
                    continue;
                }
                let (ms, me) = (i - aut.pattern_len(pid), i);
                if whole {
                    let before = hay[..ms].chars().next_back().is_some_and(is_word);
                    let after = hay[me..].chars().next().is_some_and(is_word);
                    if (first && before) || (last && after) {
                        continue;
                    }
                }
                let (s, e) = match &folded {
                    Some(f) => f.source_span(ms, me),
                    None => (ms, me),
                };
                hit(Found::new(s, e, Kind::Keyword), set);
            }
        }
    }
}
