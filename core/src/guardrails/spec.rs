//! `[[guardrails]]` as written in `dx.toml` (or in a JSON `DX_CONFIG`).
//! Read by hand from the parsed value rather than derived: a derived
//! reader is instantiated once per config format and cost the Worker
//! ~25 KB of wasm for eight fields.

use serde_json::{Map, Value};

use super::Kind;

#[derive(Debug, Clone, PartialEq)]
pub struct GuardrailSpec {
    /// Named in errors, `x-dx-guardrails` and the access log.
    pub name: String,
    /// Terms and phrases, matched after folding (see `fold.rs`).
    pub keywords: Vec<String>,
    /// `word` (default): a keyword must not be part of a longer word;
    /// `substring`: anywhere.
    pub match_mode: MatchMode,
    pub detectors: Vec<DetectorName>,
    pub action: Action,
    pub apply_to: Vec<Direction>,
    /// What a masked keyword becomes (detectors write typed placeholders).
    pub mask_with: Option<String>,
    /// Model names the set applies to (exact, or a `prefix*`); empty: all.
    pub models: Vec<String>,
    /// `all` (the default): every request (to `models`); `key`: only the
    /// requests of virtual keys whose key, user or team names the set in
    /// its `guardrails` list. A key can add sets, never remove one.
    pub attach_to_keys: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatchMode {
    #[default]
    Word,
    Substring,
}

/// Ordered by strength: where two sets match the same text, the stronger wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Log,
    Mask,
    #[default]
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorName {
    Email,
    Phone,
    PaymentCard,
    Iban,
    UsSsn,
    IpAddress,
    Secrets,
    /// Every personal-data detector (not `secrets`).
    Pii,
}

const DETECTORS: &[(&str, DetectorName)] = &[
    ("email", DetectorName::Email),
    ("phone", DetectorName::Phone),
    ("payment_card", DetectorName::PaymentCard),
    ("iban", DetectorName::Iban),
    ("us_ssn", DetectorName::UsSsn),
    ("ssn", DetectorName::UsSsn),
    ("ip_address", DetectorName::IpAddress),
    ("ip", DetectorName::IpAddress),
    ("secrets", DetectorName::Secrets),
    ("pii", DetectorName::Pii),
];

impl DetectorName {
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            DetectorName::Email => &[Kind::Email],
            DetectorName::Phone => &[Kind::Phone],
            DetectorName::PaymentCard => &[Kind::PaymentCard],
            DetectorName::Iban => &[Kind::Iban],
            DetectorName::UsSsn => &[Kind::UsSsn],
            DetectorName::IpAddress => &[Kind::IpAddress],
            DetectorName::Secrets => &[Kind::Secret],
            DetectorName::Pii => &[
                Kind::Email,
                Kind::Phone,
                Kind::PaymentCard,
                Kind::Iban,
                Kind::UsSsn,
                Kind::IpAddress,
            ],
        }
    }
}

/// Most keywords across all sets, and the longest one (bytes).
pub const MAX_KEYWORDS: usize = 100_000;
pub const MAX_KEYWORD_BYTES: usize = 256;

const FIELDS: &[&str] = &[
    "name",
    "keywords",
    "match",
    "detectors",
    "action",
    "apply_to",
    "mask_with",
    "models",
    "attach",
];

impl GuardrailSpec {
    /// Entry `n` (1-based) of `[[guardrails]]`, checked.
    pub fn read(v: &Value, n: usize) -> Result<GuardrailSpec, String> {
        let at = format!("entry {n}");
        let Some(m) = v.as_object() else {
            return Err(format!("{at}: expected a table"));
        };
        if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "{at}: unknown field `{}`, expected one of {}",
                k.escape_debug(),
                FIELDS.join(", ")
            ));
        }
        let name = string(m, "name", &at)?.ok_or_else(|| format!("{at}: missing field `name`"))?;
        let at = format!("guardrail `{}`", name.escape_debug());
        let spec = GuardrailSpec {
            keywords: strings(m, "keywords", &at)?,
            match_mode: match string(m, "match", &at)?.as_deref() {
                None | Some("word") => MatchMode::Word,
                Some("substring") => MatchMode::Substring,
                Some(_) => return Err(format!("{at}: `match` is \"word\" or \"substring\"")),
            },
            detectors: strings(m, "detectors", &at)?
                .iter()
                .map(|d| {
                    DETECTORS
                        .iter()
                        .find(|(n, _)| n == d)
                        .map(|x| x.1)
                        .ok_or_else(|| {
                            let known: Vec<&str> = DETECTORS.iter().map(|x| x.0).collect();
                            format!(
                                "{at}: unknown detector, expected one of {}",
                                known.join(", ")
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            action: match string(m, "action", &at)?.as_deref() {
                None | Some("block") => Action::Block,
                Some("mask") => Action::Mask,
                Some("log") => Action::Log,
                Some(_) => return Err(format!("{at}: `action` is \"block\", \"mask\" or \"log\"")),
            },
            apply_to: match m.get("apply_to") {
                None => vec![Direction::Input, Direction::Output],
                Some(_) => strings(m, "apply_to", &at)?
                    .iter()
                    .map(|d| match d.as_str() {
                        "input" => Ok(Direction::Input),
                        "output" => Ok(Direction::Output),
                        _ => Err(format!(
                            "{at}: `apply_to` holds \"input\" and/or \"output\""
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            },
            mask_with: string(m, "mask_with", &at)?,
            models: strings(m, "models", &at)?,
            attach_to_keys: match string(m, "attach", &at)?.as_deref() {
                None | Some("all") => false,
                Some("key") => true,
                Some(_) => return Err(format!("{at}: `attach` is \"all\" or \"key\"")),
            },
            name,
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        let name = &self.name;
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !name_ok {
            return Err(
                "a guardrail name must be 1-64 characters of letters, digits, `_`, `-`, `.`".into(),
            );
        }
        if self.keywords.is_empty() && self.detectors.is_empty() {
            return Err(format!(
                "guardrail `{name}` has neither keywords nor detectors"
            ));
        }
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(format!(
                "guardrail `{name}`: more than {MAX_KEYWORDS} keywords"
            ));
        }
        for (i, k) in self.keywords.iter().enumerate() {
            if k.trim().is_empty() {
                return Err(format!("guardrail `{name}`: keyword {} is empty", i + 1));
            }
            if k.len() > MAX_KEYWORD_BYTES {
                return Err(format!(
                    "guardrail `{name}`: keyword {} is longer than {MAX_KEYWORD_BYTES} bytes",
                    i + 1
                ));
            }
        }
        if self.apply_to.is_empty() {
            return Err(format!("guardrail `{name}`: apply_to is empty"));
        }
        if self.mask_with.as_ref().is_some_and(|m| m.len() > 64) {
            return Err(format!(
                "guardrail `{name}`: mask_with is longer than 64 bytes"
            ));
        }
        for m in &self.models {
            if m.is_empty() || m.trim_end_matches('*').contains('*') {
                return Err(format!(
                    "guardrail `{name}`: models entries are names or `prefix*`"
                ));
            }
        }
        Ok(())
    }
}

fn string(m: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{at}: `{key}` must be a string")),
    }
}

fn strings(m: &Map<String, Value>, key: &str, at: &str) -> Result<Vec<String>, String> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("{at}: `{key}` must be a list of strings")),
            })
            .collect(),
        Some(_) => Err(format!("{at}: `{key}` must be a list of strings")),
    }
}
