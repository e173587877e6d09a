//! Guardrails: keyword lists and personal-data / secret detectors, run on
//! what a model reads (every request, whatever its path) and on what it
//! answers (whole and streamed). Sets come from `[[guardrails]]` in
//! `dx.toml` and are compiled once per instance; a set that cannot be
//! compiled fails the configuration at load, never a request.

mod fold;
pub mod json_text;
mod keywords;
mod pii;
mod secrets;
mod spec;

use std::fmt::Write as _;
use std::sync::Arc;

pub use json_text::{rewrite_strings, Channel};
pub use spec::{Action, DetectorName, Direction, GuardrailSpec, MatchMode};

use crate::error::{ErrorKind, GatewayError};
use keywords::Keywords;
use secrets::Secrets;

/// What a match is, and the placeholder a mask writes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
    Phone,
    PaymentCard,
    Iban,
    UsSsn,
    IpAddress,
    Secret,
    Keyword,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::PaymentCard => "payment_card",
            Kind::Iban => "iban",
            Kind::UsSsn => "us_ssn",
            Kind::IpAddress => "ip_address",
            Kind::Secret => "secret",
            Kind::Keyword => "keyword",
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "EMAIL",
            Kind::Phone => "PHONE",
            Kind::PaymentCard => "PAYMENT_CARD",
            Kind::Iban => "IBAN",
            Kind::UsSsn => "US_SSN",
            Kind::IpAddress => "IP_ADDRESS",
            Kind::Secret => "SECRET",
            Kind::Keyword => "KEYWORD",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A detector's or keyword list's match in a text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

impl Found {
    fn new(start: usize, end: usize, kind: Kind) -> Self {
        Found { start, end, kind }
    }
}

/// A match attributed to the set whose action wins for it.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    kind: Kind,
    set: usize,
}

#[derive(Debug)]
struct Set {
    name: String,
    action: Action,
    input: bool,
    output: bool,
    /// Model names (exact, or a `prefix*`) the set applies to; empty: all.
    models: Vec<String>,
    kinds: u16,
    mask_with: String,
    attach_to_keys: bool,
}

/// Every configured set, compiled.
#[derive(Debug, Default)]
pub struct Guardrails {
    sets: Vec<Set>,
    keywords: Option<Keywords>,
    secrets: Option<Secrets>,
}

/// The sets that apply to one request in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Active(u64);

impl Active {
    pub fn any(self) -> bool {
        self.0 != 0
    }
    fn has(self, set: usize) -> bool {
        self.0 & (1 << set) != 0
    }
    /// The sets of both.
    pub fn or(self, other: Active) -> Active {
        Active(self.0 | other.0)
    }
}

/// Most sets one configuration may hold (they are a bit set per request).
const MAX_SETS: usize = 64;

impl Guardrails {
    pub fn compile(specs: &[GuardrailSpec]) -> Result<Guardrails, String> {
        if specs.len() > MAX_SETS {
            return Err(format!("at most {MAX_SETS} [[guardrails]] sets"));
        }
        let mut sets = Vec::with_capacity(specs.len());
        let mut terms = Vec::new();
        let mut any_secrets = false;
        for (i, spec) in specs.iter().enumerate() {
            if specs[..i].iter().any(|s| s.name == spec.name) {
                return Err(format!("guardrail `{}` is defined twice", spec.name));
            }
            let mut kinds = 0;
            for d in &spec.detectors {
                for k in d.kinds() {
                    kinds |= k.bit();
                }
            }
            if !spec.keywords.is_empty() {
                kinds |= Kind::Keyword.bit();
                for k in &spec.keywords {
                    terms.push((k.as_str(), i, spec.match_mode == MatchMode::Word));
                }
            }
            any_secrets |= kinds & Kind::Secret.bit() != 0;
            sets.push(Set {
                name: spec.name.clone(),
                action: spec.action,
                input: spec.apply_to.contains(&Direction::Input),
                output: spec.apply_to.contains(&Direction::Output),
                models: spec.models.clone(),
                kinds,
                mask_with: spec
                    .mask_with
                    .clone()
                    .unwrap_or_else(|| "[REDACTED]".into()),
                attach_to_keys: spec.attach_to_keys,
            });
        }
        let keywords = if terms.is_empty() {
            None
        } else {
            Some(Keywords::new(&terms)?)
        };
        let secrets = if any_secrets {
            Some(Secrets::new()?)
        } else {
            None
        };
        Ok(Guardrails {
            sets,
            keywords,
            secrets,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Why a key, user or team may not attach `name`: no such set, or a set
    /// that applies to every request already.
    pub fn attachable(&self, name: &str) -> Result<(), String> {
        match self.sets.iter().find(|s| s.name == name) {
            Some(s) if s.attach_to_keys => Ok(()),
            Some(_) => Err(format!(
                "guardrail `{name}` applies to every request already (attach = \"all\")."
            )),
            None => Err(format!(
                "no guardrail set is named `{}`.",
                name.escape_debug()
            )),
        }
    }

    /// The sets for a request to `model`, on its input or its output.
    pub fn active(&self, model: &str, dir: Direction) -> Active {
        self.active_with(model, dir, &[])
    }

    /// The sets for a request whose key, user or team attached `named`
    /// (sets declared with `attach = "key"`) besides those for everyone.
    pub fn active_with(&self, model: &str, dir: Direction, named: &[&str]) -> Active {
        let mut bits = 0u64;
        for (i, s) in self.sets.iter().enumerate() {
            if s.attach_to_keys && !named.contains(&s.name.as_str()) {
                continue;
            }
            let on = match dir {
                Direction::Input => s.input,
                Direction::Output => s.output,
            };
            let model_ok = s.models.is_empty()
                || s.models.iter().any(|m| match m.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => m == model,
                });
            if on && model_ok {
                bits |= 1 << i;
            }
        }
        Active(bits)
    }

    fn kinds(&self, active: Active) -> u16 {
        self.sets
            .iter()
            .enumerate()
            .filter(|(i, _)| active.has(*i))
            .fold(0, |k, (_, s)| k | s.kinds)
    }

    /// How far back a stream must hold text so that a match split across
    /// chunks is still seen whole: the longest keyword, or the longest
    /// spaced PII form, whichever is longer (in characters).
    fn window_chars(&self, kinds: u16) -> usize {
        let kw = if kinds & Kind::Keyword.bit() != 0 {
            // Doubled: invisible characters between letters fold away.
            self.keywords.as_ref().map_or(0, |k| k.max_chars * 2)
        } else {
            0
        };
        let pii = if kinds & !Kind::Keyword.bit() != 0 {
            64
        } else {
            0
        };
        kw.max(pii) + 1
    }

    /// Every match of the active sets in `text`, overlaps merged, in order.
    /// Matches that start before `floor` (in text already released, seen
    /// only as context) are dropped before overlaps merge, so that one can
    /// never swallow a match after it.
    fn scan(
        &self,
        text: &str,
        active: Active,
        floor: usize,
        hits: &mut Vec<Hit>,
        found: &mut Vec<Found>,
    ) {
        hits.clear();
        found.clear();
        let kinds = self.kinds(active);
        if kinds & Kind::Keyword.bit() != 0 {
            if let Some(k) = &self.keywords {
                // A keyword's match depends on one character before it
                // at most, which the search reads: it starts at the floor.
                k.find(
                    text,
                    floor,
                    |set| active.has(set),
                    |f, set| {
                        hits.push(Hit {
                            start: f.start,
                            end: f.end,
                            kind: f.kind,
                            set,
                        })
                    },
                );
            }
        }
        if kinds & Kind::Email.bit() != 0 {
            pii::emails(text, floor, found);
        }
        let want = pii::Want {
            card: kinds & Kind::PaymentCard.bit() != 0,
            ssn: kinds & Kind::UsSsn.bit() != 0,
            phone: kinds & Kind::Phone.bit() != 0,
            ipv4: kinds & Kind::IpAddress.bit() != 0,
        };
        if want.card || want.ssn || want.phone || want.ipv4 {
            pii::numbers(text, floor, found, want);
        }
        if kinds & Kind::Iban.bit() != 0 {
            pii::ibans(text, floor, found);
        }
        if want.ipv4 {
            pii::ipv6(text, found);
        }
        if kinds & Kind::Secret.bit() != 0 {
            if let Some(s) = &self.secrets {
                s.find(text, found);
            }
        }
        for &f in found.iter() {
            if let Some(set) = self.strongest(active, f.kind.bit()) {
                hits.push(Hit {
                    start: f.start,
                    end: f.end,
                    kind: f.kind,
                    set,
                });
            }
        }
        hits.retain(|h| h.start >= floor);
        merge_overlaps(hits, &self.sets);
    }

    /// The active set with this kind whose action wins (block, mask, log).
    fn strongest(&self, active: Active, bit: u16) -> Option<usize> {
        self.sets
            .iter()
            .enumerate()
            .filter(|(i, s)| active.has(*i) && s.kinds & bit != 0)
            .max_by_key(|(_, s)| s.action)
            .map(|(i, _)| i)
    }
}

fn merge_overlaps(hits: &mut Vec<Hit>, sets: &[Set]) {
    hits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    // In place: a stream's check allocates nothing once its buffers grew.
    let mut kept: usize = 0;
    for i in 0..hits.len() {
        let h = hits[i];
        match kept.checked_sub(1).map(|k| &mut hits[k]) {
            Some(last) if h.start < last.end => {
                last.end = last.end.max(h.end);
                if sets[h.set].action > sets[last.set].action {
                    last.set = h.set;
                    last.kind = h.kind;
                }
            }
            _ => {
                hits[kept] = h;
                kept += 1;
            }
        }
    }
    hits.truncate(kept);
}

/// A request's guard in one direction: which sets apply, the placeholders
/// handed out so far (the same value masks the same way throughout the
/// request), and what was found, for the header and the log.
pub struct Checker {
    guards: Arc<Guardrails>,
    active: Active,
    /// Values masked so far and their numbers (few per request: a list).
    numbering: Vec<(Kind, String, u32)>,
    /// Matches per set and kind, in the order first seen.
    counts: Vec<(usize, Kind, u32)>,
    /// Not counting: the text was counted before.
    quiet: bool,
    /// Masking every match, whatever its set's action ([`Checker::redact`]).
    redact: bool,
    /// Buffers kept from one check to the next.
    hits: Vec<Hit>,
    found: Vec<Found>,
    joined: String,
}

/// Why a text was refused: the set, never the matched text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub set: String,
    /// `None`: the text could not be read, so it could not be checked.
    pub kind: Option<Kind>,
}

impl Blocked {
    pub fn into_error(self, dir: Direction) -> GatewayError {
        let what = match dir {
            Direction::Input => "The request",
            Direction::Output => "The answer",
        };
        GatewayError::new(
            ErrorKind::ContentFiltered,
            match self.kind {
                Some(kind) => format!(
                    "{what} was blocked by guardrail `{}` ({}).",
                    self.set,
                    kind.name()
                ),
                None => format!(
                    "{what} was blocked by guardrail `{}`: part of it could not be read.",
                    self.set
                ),
            },
        )
        .with_code("guardrail_blocked")
    }
}

impl Checker {
    pub fn new(guards: Arc<Guardrails>, active: Active) -> Self {
        Checker {
            guards,
            active,
            numbering: Vec::new(),
            counts: Vec::new(),
            quiet: false,
            redact: false,
            hits: Vec::new(),
            found: Vec::new(),
            joined: String::new(),
        }
    }

    pub fn active(&self) -> bool {
        self.active.any()
    }

    /// The first active set's name, for refusing what cannot be read.
    pub fn first_set(&self) -> String {
        let sets = &self.guards.sets;
        (0..sets.len())
            .find(|&i| self.active.has(i))
            .map(|i| sets[i].name.clone())
            .unwrap_or_default()
    }

    /// `text` with its matches masked (`None`: nothing to change), or the
    /// set that blocks it.
    pub fn check(&mut self, text: &str) -> Result<Option<String>, Blocked> {
        let (end, out) = self.check_part(&mut String::new(), text, true)?;
        debug_assert_eq!(end, text.len());
        Ok(out)
    }

    /// [`Checker::check`] for text already counted (a stream's whole
    /// values repeating what its deltas carried).
    pub fn check_uncounted(&mut self, text: &str) -> Result<Option<String>, Blocked> {
        self.quiet = true;
        let checked = self.check(text);
        self.quiet = false;
        checked
    }

    /// `text` with every match of the active sets masked, whatever their
    /// actions, uncounted: content exported to telemetry, where nothing a
    /// guardrail would mask may leave in plain text.
    pub fn redact(&mut self, text: &str) -> String {
        (self.quiet, self.redact) = (true, true);
        let out = self.check(text);
        (self.quiet, self.redact) = (false, false);
        match out {
            Ok(masked) => masked.unwrap_or_else(|| text.to_owned()),
            // Unreachable: redacting blocks nothing.
            Err(_) => String::new(),
        }
    }

    /// For a stream: how much of `text` can be released now (a byte
    /// offset) and what to release in its place when it changed. A match
    /// that could still grow, or start in what has not arrived, stays held.
    /// `left` is the end of what this run released before (kept up to date
    /// here): whether digits are glued to a word, or a keyword stands as a
    /// word, depends on the characters before the held text.
    pub fn check_part(
        &mut self,
        left: &mut String,
        text: &str,
        last: bool,
    ) -> Result<(usize, Option<String>), Blocked> {
        let floor = left.len();
        let mut joined = std::mem::take(&mut self.joined);
        let buf = if floor == 0 {
            text
        } else {
            joined.clear();
            joined.push_str(left);
            joined.push_str(text);
            joined.as_str()
        };
        let mut hits = std::mem::take(&mut self.hits);
        let mut found = std::mem::take(&mut self.found);
        // What starts in the released text was decided when it went out.
        self.guards
            .scan(buf, self.active, floor, &mut hits, &mut found);
        self.found = found;
        let mut release = if last {
            buf.len()
        } else {
            self.hold_point(buf).max(floor)
        };
        if !last {
            // Until stable: a cut moved back to a match's start may land in
            // a run of digit groups, and the run's start before a match.
            loop {
                let before = release;
                release = self.snap_to_run_start(buf, release).max(floor);
                while let Some(h) = hits.iter().find(|h| h.start < release && h.end > release) {
                    release = h.start;
                }
                if release == before {
                    break;
                }
            }
        }
        let result = self.apply(buf, &hits, floor, release);
        self.hits = hits;
        let out = result?;
        let context = if self.guards.secrets.is_some() {
            AWS_LEFT_CONTEXT
        } else {
            LEFT_CONTEXT
        };
        // The start of the last `context` characters (counted by their
        // first bytes: cheaper than decoding them).
        let keep = buf.as_bytes()[..release]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, &c)| c & 0xC0 != 0x80)
            .nth(context - 1)
            .map_or(0, |(i, _)| i);
        left.clear();
        left.push_str(&buf[keep..release]);
        let released = release - floor;
        self.joined = joined;
        Ok((released, out))
    }

    fn hold_point(&self, text: &str) -> usize {
        let kinds = self.guards.kinds(self.active);
        let window = self.guards.window_chars(kinds);
        let mut hold = text
            .char_indices()
            .rev()
            .nth(window.saturating_sub(1))
            .map_or(0, |(i, _)| i);
        if kinds & !Kind::Keyword.bit() != 0 {
            // A candidate written without spaces (an address, a key, a
            // token) may be longer than the window: hold it from its start.
            // Only ASCII letters, digits and the punctuation such values
            // use extend it, so prose without spaces (Chinese, Japanese)
            // is not held.
            let token = text
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "._%+-@/=:'".contains(c)))
                .map_or(0, |i| {
                    i + text[i..].chars().next().map_or(1, char::len_utf8)
                });
            hold = hold.min(token.max(text.len().saturating_sub(MAX_TOKEN_HOLD)));
        }
        if kinds & Kind::Secret.bit() != 0 {
            if let Some(label) = secrets::open_aws_label(text) {
                hold = hold.min(label);
            }
            // A PEM block still being written: its label line (which says
            // whether it holds a private key) or its END line has not come.
            let b = text.as_bytes();
            for begin in memchr::memchr_iter(b'-', b) {
                if !b[begin..].starts_with(b"-----BEGIN ") {
                    continue;
                }
                let rest = &text[begin..];
                let open = match rest.find(['\n', '\r']) {
                    None => true,
                    // Closed once an END line has its closing dashes.
                    Some(eol) => {
                        rest[..eol].contains("PRIVATE KEY-----")
                            && secrets::pem_close(text.as_bytes(), begin + eol).is_none()
                    }
                };
                if open {
                    hold = hold.min(begin.max(text.len().saturating_sub(MAX_PEM_HOLD)));
                    break;
                }
            }
        }
        floor_char_boundary(text, hold)
    }

    /// `at`, moved back to the start of the run of digit groups it falls
    /// in: which groups of such a run form a card, a phone number or an SSN
    /// depends on the whole run (and, while it is being written, on groups
    /// still to come), so a cut never falls inside one.
    fn snap_to_run_start(&self, text: &str, at: usize) -> usize {
        let numeric =
            Kind::PaymentCard.bit() | Kind::UsSsn.bit() | Kind::Phone.bit() | Kind::IpAddress.bit();
        if self.guards.kinds(self.active) & numeric == 0 {
            return at;
        }
        let b = text.as_bytes();
        let in_run = |c: u8| c.is_ascii_digit() || b" -.()+".contains(&c);
        let (mut s, mut e) = (at, at);
        while s > 0 && in_run(b[s - 1]) {
            s -= 1;
        }
        while e < b.len() && in_run(b[e]) {
            e += 1;
        }
        if s < at && b[s..e].iter().any(u8::is_ascii_digit) {
            s.max(text.len().saturating_sub(MAX_TOKEN_HOLD)).min(at)
        } else {
            at
        }
    }

    fn apply(
        &mut self,
        text: &str,
        hits: &[Hit],
        from: usize,
        release: usize,
    ) -> Result<Option<String>, Blocked> {
        let mut out: Option<String> = None;
        let mut copied = from;
        for h in hits
            .iter()
            .filter(|h| h.end <= release && h.start < release)
        {
            let set = &self.guards.sets[h.set];
            match self
                .counts
                .iter_mut()
                .find(|c| c.0 == h.set && c.1 == h.kind)
            {
                _ if self.quiet => {}
                Some(c) => c.2 += 1,
                None => self.counts.push((h.set, h.kind, 1)),
            }
            match if self.redact {
                Action::Mask
            } else {
                set.action
            } {
                Action::Log => {}
                Action::Block => {
                    return Err(Blocked {
                        set: set.name.clone(),
                        kind: Some(h.kind),
                    })
                }
                Action::Mask => {
                    let o = out.get_or_insert_with(|| String::with_capacity(release + 16));
                    o.push_str(&text[copied..h.start]);
                    if h.kind == Kind::Keyword {
                        o.push_str(&set.mask_with);
                    } else {
                        let value = &text[h.start..h.end];
                        let known = self
                            .numbering
                            .iter()
                            .find(|n| n.0 == h.kind && n.1 == value);
                        let n = match known {
                            Some(n) => n.2,
                            None => {
                                let n = 1 + self.numbering.iter().filter(|n| n.0 == h.kind).count()
                                    as u32;
                                self.numbering.push((h.kind, value.to_owned(), n));
                                n
                            }
                        };
                        let _ = write!(o, "[{}_{n}]", h.kind.placeholder());
                    }
                    copied = h.end;
                }
            }
        }
        if let Some(o) = &mut out {
            o.push_str(&text[copied..release]);
        }
        Ok(out)
    }

    /// `set:detector=count` pairs, for `x-dx-guardrails` and the log; empty
    /// when nothing matched. Never a matched value.
    pub fn report(&self) -> String {
        let mut counts = self.counts.clone();
        counts.sort_unstable();
        let mut out = String::new();
        for (set, kind, n) in &counts {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{}:{}={n}", self.guards.sets[*set].name, kind.name());
        }
        out
    }
}

/// Longest run of such candidate characters a stream holds back whole; longer runs are
/// released up to this many bytes from their end.
const MAX_TOKEN_HOLD: usize = 8 * 1024;
/// Characters of a run's released text kept as the left context of its
/// next check.
const LEFT_CONTEXT: usize = 16;
/// The left context when secrets are compiled: an AWS secret key is recognised
/// by the key id or label up to 141 bytes before it. Released text shorter
/// than that would lose the id, and a cut inside a longer token could
/// start a false one (`…AKIA` read from its middle) whose look-ahead
/// reaches the held text.
const AWS_LEFT_CONTEXT: usize = 160;
/// Longest open PEM block a stream holds back.
const MAX_PEM_HOLD: usize = 16 * 1024;

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests;
