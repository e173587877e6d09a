//! How model ids are matched: across the two sources when the catalog is
//! built, and from what a client sends to a catalog entry at run time.
//!
//! Both sides spell the same model differently: LiteLLM prefixes ids with its
//! provider (`groq/llama-3.1-8b-instant`), Vertex AI writes versions with `@`
//! (`claude-sonnet-4-5@20250929`) where Anthropic writes `-`, models.dev gives
//! Vertex's rolling versions as `@default`, Bedrock prefixes cross-region
//! inference profiles (`us.anthropic...`), and clients send dated and undated
//! ids interchangeably (`claude-haiku-4-5` / `claude-haiku-4-5-20251001`).

/// Why an id matched a catalog entry with another id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    /// A catalog alias (an undated name, another source's spelling).
    Alias,
    /// Same letters, other case.
    CaseInsensitive,
    /// `x` ↔ `x@default`, `x-20250101` ↔ `x@20250101`.
    VersionSpelling,
    /// A Bedrock cross-region profile, or a LiteLLM regional name
    /// (`eu/...`, `us-east-1/...`), priced like the base model.
    RegionPrefix,
    /// A dated id not in the catalog, priced like its undated entry.
    Undated,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Alias => "alias",
            MatchKind::CaseInsensitive => "case_insensitive",
            MatchKind::VersionSpelling => "version_spelling",
            MatchKind::RegionPrefix => "region_prefix",
            MatchKind::Undated => "undated",
        }
    }
}

/// Bedrock cross-region inference profile prefixes.
const REGION_PREFIXES: [&str; 8] = [
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.",
];

fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `claude-x-20250929` → (`claude-x`, `20250929`); `gpt-4o-2024-08-06` →
/// (`gpt-4o`, `2024-08-06`); `claude-x@20250929` → (`claude-x`, `20250929`).
pub fn split_date(id: &str) -> Option<(&str, &str)> {
    // The date is ASCII, so a cut that is not a char boundary is no date: it
    // falls inside a multi-byte character (`get` refuses it, never panics).
    let cut = |n: usize| {
        let at = id.len().checked_sub(n).filter(|&at| at > 0)?;
        Some((id.get(..at)?, id.get(at..)?))
    };
    if let Some((base, tail)) = cut(11) {
        let b = tail.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b[0] == b'-'
            && digits(1..5)
            && b[5] == b'-'
            && digits(6..8)
            && b[8] == b'-'
            && digits(9..11)
        {
            return Some((base, &tail[1..]));
        }
    }
    if let Some((base, tail)) = cut(9) {
        if (tail.starts_with('-') || tail.starts_with('@'))
            && is_digits(&tail[1..], 8)
            && tail[1..].starts_with("20")
        {
            return Some((base, &tail[1..]));
        }
    }
    None
}

/// Other spellings of the same version: `@` ↔ `-` before an 8-digit date,
/// and `@default` added or removed.
pub fn version_spellings(id: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(base) = id.strip_suffix("@default") {
        out.push(base.to_owned());
    } else if !id.contains('@') {
        out.push(format!("{id}@default"));
    }
    if let Some((base, date)) = split_date(id) {
        if is_digits(date, 8) {
            let at = id.as_bytes()[base.len()] == b'@';
            out.push(format!("{base}{}{date}", if at { '-' } else { '@' }));
        }
    }
    out
}

/// `us.anthropic.claude-...` → `anthropic.claude-...`.
pub fn strip_region_prefix(id: &str) -> Option<&str> {
    REGION_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .filter(|rest| rest.contains('.'))
}

/// Azure data zones LiteLLM prices apart (`azure/eu/gpt-4o-2024-08-06`).
const DATA_ZONES: [&str; 4] = ["eu", "us", "global", "global-standard"];

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-northeast-1`: two
/// letters, one or more words, a number.
pub fn is_aws_region(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(last_dash) = s.rfind('-') else {
        return false;
    };
    b.len() > 5
        && b[0].is_ascii_lowercase()
        && b[1].is_ascii_lowercase()
        && b[2] == b'-'
        && last_dash > 3
        && last_dash + 1 < b.len()
        && b[last_dash + 1..].iter().all(u8::is_ascii_digit)
}

/// `eu/gpt-4o` → `gpt-4o`, `us-east-1/anthropic.claude-v2` →
/// `anthropic.claude-v2`: LiteLLM's names for a model served (and priced)
/// in one data zone or region.
pub fn strip_region_segment(id: &str) -> Option<&str> {
    let (first, rest) = id.split_once('/')?;
    (!rest.is_empty() && (DATA_ZONES.contains(&first) || is_aws_region(first))).then_some(rest)
}

/// The candidate ids to try, in order, after the exact id and its aliases:
/// other version spellings, then the region-less id, then the undated id.
pub fn fallbacks(id: &str) -> Vec<(String, MatchKind)> {
    let mut out: Vec<(String, MatchKind)> = version_spellings(id)
        .into_iter()
        .map(|s| (s, MatchKind::VersionSpelling))
        .collect();
    let base = strip_region_prefix(id).or_else(|| strip_region_segment(id));
    if let Some(base) = base {
        out.push((base.to_owned(), MatchKind::RegionPrefix));
    }
    for candidate in [Some(id), base].into_iter().flatten() {
        if let Some((undated, _)) = split_date(candidate) {
            out.push((undated.to_owned(), MatchKind::Undated));
            out.push((format!("{undated}@default"), MatchKind::Undated));
        }
    }
    out
}

/// Edit distance, giving up (returning `None`) once it must exceed `max`.
pub fn bounded_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[b.len()] <= max).then_some(prev[b.len()])
}

/// Which kinds of character (case-folded, hashed into 64 bins) a name holds.
/// Each edit adds or removes at most one kind on each side, so two names
/// whose kinds differ by more than `max` are further apart than `max` edits:
/// most of the catalog is ruled out with a popcount, before the quadratic
/// edit distance.
fn kinds(s: &str) -> u64 {
    s.chars()
        .fold(0, |m, c| m | 1 << (c.to_ascii_lowercase() as u32 % 64))
}

fn kinds_differ_by(a: u64, b: u64) -> usize {
    (a & !b).count_ones().max((b & !a).count_ones()) as usize
}

/// How many characters of each kind (case-folded, 64 bins) a name holds: a
/// tighter bound than [`kinds`] (an edit changes one count on each side by
/// one), for the few candidates that pass it.
fn counts(s: &str) -> [u8; 64] {
    let mut bag = [0u8; 64];
    for c in s.chars() {
        let bin = (c.to_ascii_lowercase() as u32 % 64) as usize;
        bag[bin] = bag[bin].saturating_add(1);
    }
    bag
}

fn counts_differ_by(a: &[u8; 64], b: &[u8; 64]) -> usize {
    let (mut more, mut fewer) = (0usize, 0usize);
    for (x, y) in a.iter().zip(b) {
        if x > y {
            more += usize::from(x - y);
        } else {
            fewer += usize::from(y - x);
        }
    }
    more.max(fewer)
}

/// `needle` in `hay`, ignoring ASCII case: each place the needle's first
/// byte occurs is compared. Names are short, so this beats building a
/// substring searcher (and keeps one out of the Worker's bundle).
fn occurs_folded(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    if needle.len() > hay.len() {
        return false;
    }
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, hay).any(|i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Names longer than this get no suggestions: nobody mistypes a name this
/// long, and the work grows with its length.
pub const SUGGEST_MAX_NAME: usize = 128;

/// At most this many candidates reach the edit distance, so an unknown name
/// costs a bounded amount of CPU whatever the catalog's size.
const SUGGEST_MAX_DISTANCES: usize = 128;

/// The closest few of `candidates` to `wanted` (case-insensitive edit
/// distance, at most a third of its length), best first, ties by name.
/// Cheap on purpose: any caller can send an unknown name, so the not-found
/// path filters by length and character kinds before any edit distance,
/// and computes a bounded number of them.
pub fn closest<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    if wanted.len() > SUGGEST_MAX_NAME {
        return Vec::new();
    }
    let chars = wanted.chars().count();
    let max = (chars / 3).clamp(2, 12);
    let wanted_kinds = kinds(wanted);
    let wanted_counts = counts(wanted);
    let mut distances = 0;
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let cb = c.as_bytes();
            let holds_wanted = occurs_folded(cb, wanted.as_bytes());
            // A candidate inside the name counts when it is a fair part of
            // it (`my-gpt-4o` → `gpt-4o`), not a stray short id in a long
            // name; that also bounds the comparisons.
            let held = cb.len() * 3 >= wanted.len() && occurs_folded(wanted.as_bytes(), cb);
            if holds_wanted || held {
                return Some((c.len().abs_diff(wanted.len()).min(max), c));
            }
            // Lengths in characters more than `max` apart: too far. (A
            // non-ASCII candidate has at least a quarter as many as bytes.)
            let fewest = if c.is_ascii() { cb.len() } else { cb.len() / 4 };
            if cb.len() + max < chars || fewest > chars + max {
                return None;
            }
            if distances >= SUGGEST_MAX_DISTANCES
                || kinds_differ_by(wanted_kinds, kinds(c)) > max
                || counts_differ_by(&wanted_counts, &counts(c)) > max
            {
                return None;
            }
            distances += 1;
            bounded_distance(wanted, c, max).map(|d| (d, c))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_found_in_each_spelling() {
        assert_eq!(
            split_date("claude-haiku-4-5-20251001"),
            Some(("claude-haiku-4-5", "20251001"))
        );
        assert_eq!(
            split_date("gpt-4o-2024-08-06"),
            Some(("gpt-4o", "2024-08-06"))
        );
        assert_eq!(
            split_date("claude-sonnet-4@20250514"),
            Some(("claude-sonnet-4", "20250514"))
        );
        // Four-digit suffixes are part of names (kimi-k2-0905), not dates.
        assert_eq!(split_date("kimi-k2-0905"), None);
        assert_eq!(split_date("model-12345678"), None);
        assert_eq!(split_date("20250101"), None);
    }

    #[test]
    fn vertex_and_anthropic_version_spellings() {
        assert_eq!(
            version_spellings("claude-sonnet-4-5@20250929"),
            vec!["claude-sonnet-4-5-20250929".to_string()]
        );
        assert_eq!(
            version_spellings("claude-sonnet-4-5-20250929"),
            vec![
                "claude-sonnet-4-5-20250929@default".to_string(),
                "claude-sonnet-4-5@20250929".to_string()
            ]
        );
        assert_eq!(
            version_spellings("claude-opus-4-6@default"),
            vec!["claude-opus-4-6".to_string()]
        );
    }

    #[test]
    fn bedrock_region_prefixes() {
        assert_eq!(
            strip_region_prefix("us.anthropic.claude-3-haiku-20240307-v1:0"),
            Some("anthropic.claude-3-haiku-20240307-v1:0")
        );
        assert_eq!(
            strip_region_prefix("global.anthropic.claude-opus-4-7"),
            Some("anthropic.claude-opus-4-7")
        );
        assert_eq!(strip_region_prefix("us.gpt"), None);
        assert_eq!(strip_region_prefix("anthropic.claude"), None);
    }

    #[test]
    fn litellm_regional_names() {
        assert_eq!(strip_region_segment("eu/gpt-4o"), Some("gpt-4o"));
        assert_eq!(
            strip_region_segment("global-standard/gpt-4o-mini"),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            strip_region_segment("us-gov-west-1/anthropic.claude-v2"),
            Some("anthropic.claude-v2")
        );
        assert_eq!(strip_region_segment("openai/gpt-4o"), None);
        assert_eq!(strip_region_segment("eu/"), None);
        assert_eq!(strip_region_segment("us-east-/x"), None);
        assert!(is_aws_region("ap-northeast-1") && !is_aws_region("gpt-4-0613"));
        let f = fallbacks("eu/gpt-4o-2024-08-06");
        assert!(f.contains(&("gpt-4o-2024-08-06".to_owned(), MatchKind::RegionPrefix)));
        assert!(f.contains(&("gpt-4o".to_owned(), MatchKind::Undated)));
    }

    #[test]
    fn fallback_order() {
        let f = fallbacks("us.anthropic.claude-x-20250101");
        let kinds: Vec<MatchKind> = f.iter().map(|(_, k)| *k).collect();
        assert_eq!(f[0].0, "us.anthropic.claude-x-20250101@default");
        assert_eq!(f[1].0, "us.anthropic.claude-x@20250101");
        assert_eq!(f[2].0, "anthropic.claude-x-20250101");
        assert_eq!(f[3].0, "us.anthropic.claude-x");
        assert_eq!(f[5].0, "anthropic.claude-x");
        assert_eq!(kinds[2], MatchKind::RegionPrefix);
        assert_eq!(kinds[3], MatchKind::Undated);
    }

    #[test]
    fn closest_ids() {
        let ids = [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "o3",
            "claude-sonnet-4-5",
        ];
        assert_eq!(
            closest("gpt-4o-mni", ids.iter().copied(), 2),
            vec!["gpt-4o-mini", "gpt-4o"]
        );
        assert_eq!(
            closest("claude-sonet-4-5", ids.iter().copied(), 3),
            vec!["claude-sonnet-4-5"]
        );
        assert!(closest("zzzzzzzzzz", ids.iter().copied(), 3).is_empty());
        assert_eq!(bounded_distance("abc", "abd", 1), Some(1));
        assert_eq!(bounded_distance("abc", "xyz", 2), None);
    }
}
