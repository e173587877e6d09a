//! Keyword and phrase lists: one Aho-Corasick automaton over every set's
//! folded terms, ASCII case-insensitive, so that plain-ASCII text (most of
//! it) is searched in place and only other text is folded first. The
//! contiguous NFA alone (not the `AhoCorasick` wrapper, which carries every
//! automaton kind): smaller in the Worker, and its memory stays modest at
//! 100,000 terms where a DFA's would not.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Input, MatchKind};

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
        })
    }

    /// Calls `hit` with each match of an active set (`active(set)`), in
    /// `text`'s own byte offsets.
    pub fn find(
        &self,
        text: &str,
        active: impl Fn(usize) -> bool,
        mut hit: impl FnMut(Found, usize),
    ) {
        let folded = (!text.is_ascii()).then(|| fold(text));
        let hay = folded.as_ref().map_or(text, |f| f.text.as_str());
        // Standard semantics on an unanchored input: the iterator cannot fail.
        let Ok(matches) = self.automaton.try_find_overlapping_iter(Input::new(hay)) else {
            return;
        };
        for m in matches {
            let (set, whole, first, last) = self.meta[m.pattern().as_usize()];
            if !active(set) {
                continue;
            }
            if whole {
                let before = hay[..m.start()].chars().next_back().is_some_and(is_word);
                let after = hay[m.end()..].chars().next().is_some_and(is_word);
                if (first && before) || (last && after) {
                    continue;
                }
            }
            let (s, e) = match &folded {
                Some(f) => f.source_span(m.start(), m.end()),
                None => (m.start(), m.end()),
            };
            hit(Found::new(s, e, Kind::Keyword), set);
        }
    }
}
