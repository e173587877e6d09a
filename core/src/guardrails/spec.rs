//! `[[guardrails]]` as written in `dx.toml`.

use serde::Deserialize;

use super::Kind;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Named in errors, `x-dx-guardrails` and the access log.
    pub name: String,
    /// Terms and phrases, matched after folding (see `fold.rs`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// `word` (default): a keyword must not be part of a longer word;
    /// `substring`: anywhere.
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub detectors: Vec<DetectorName>,
    #[serde(default)]
    pub action: Action,
    #[serde(default = "both_directions")]
    pub apply_to: Vec<Direction>,
    /// What a masked keyword becomes (detectors write typed placeholders).
    #[serde(default)]
    pub mask_with: Option<String>,
    /// Model names the set applies to (exact, or a `prefix*`); unset: all.
    #[serde(default)]
    pub models: Vec<String>,
}

fn both_directions() -> Vec<Direction> {
    vec![Direction::Input, Direction::Output]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    #[default]
    Word,
    Substring,
}

/// Ordered by strength: where two sets match the same text, the stronger wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Log,
    Mask,
    #[default]
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Input,
    Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorName {
    Email,
    Phone,
    PaymentCard,
    Iban,
    #[serde(alias = "ssn")]
    UsSsn,
    #[serde(alias = "ip")]
    IpAddress,
    Secrets,
    /// Every personal-data detector (not `secrets`).
    Pii,
}

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

impl GuardrailSpec {
    pub fn check(&self) -> Result<(), String> {
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
