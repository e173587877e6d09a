//! Credentials: provider API keys (OpenAI and Anthropic `sk-…`, Google
//! `AIza…`), AWS access key ids with the secret key that follows them,
//! GitHub and Slack tokens, PEM private-key blocks and JWTs. Each starts
//! with a fixed prefix holding one of four bytes rare in prose (`-`, `_`,
//! `A`, `J`), so one pass for those bytes finds the candidates and a small
//! validator per kind checks the rest.

use super::{Found, Kind};

#[derive(Clone, Copy)]
enum Shape {
    /// `sk-…`: OpenAI (`sk-proj-…`), Anthropic (`sk-ant-…`), DX (`sk-dx-…`).
    SkKey,
    AwsKeyId,
    AwsSecretLabel,
    GoogleKey,
    GitHub,
    GitHubPat,
    Slack,
    Pem,
    Jwt,
}

const PREFIXES: &[(&str, Shape)] = &[
    ("sk-", Shape::SkKey),
    ("AKIA", Shape::AwsKeyId),
    ("ASIA", Shape::AwsKeyId),
    ("aws_secret_access_key", Shape::AwsSecretLabel),
    ("AWS_SECRET_ACCESS_KEY", Shape::AwsSecretLabel),
    ("SecretAccessKey", Shape::AwsSecretLabel),
    ("AIza", Shape::GoogleKey),
    ("ghp_", Shape::GitHub),
    ("gho_", Shape::GitHub),
    ("ghu_", Shape::GitHub),
    ("ghs_", Shape::GitHub),
    ("ghr_", Shape::GitHub),
    ("github_pat_", Shape::GitHubPat),
    ("xoxb-", Shape::Slack),
    ("xoxp-", Shape::Slack),
    ("xoxa-", Shape::Slack),
    ("xoxr-", Shape::Slack),
    ("xoxs-", Shape::Slack),
    ("xapp-", Shape::Slack),
    ("-----BEGIN ", Shape::Pem),
    ("eyJ", Shape::Jwt),
];

/// Whether a byte is one of the prefixes' rare bytes.
fn rare(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b'A' | b'J')
}

#[derive(Debug)]
pub struct Secrets {
    /// Per rare byte: the prefixes (index into `PREFIXES`) whose first rare
    /// byte it is, and where it stands in them.
    by_rare: [Vec<(usize, usize)>; 4],
}

fn rare_slot(c: u8) -> usize {
    match c {
        b'-' => 0,
        b'_' => 1,
        b'A' => 2,
        _ => 3,
    }
}

impl Secrets {
    pub fn new() -> Result<Self, String> {
        let mut by_rare: [Vec<(usize, usize)>; 4] = Default::default();
        for (i, (p, _)) in PREFIXES.iter().enumerate() {
            let at = p
                .bytes()
                .position(rare)
                .ok_or_else(|| format!("secret prefix `{p}` has no rare byte"))?;
            by_rare[rare_slot(p.as_bytes()[at])].push((i, at));
        }
        Ok(Secrets { by_rare })
    }

    pub fn find(&self, text: &str, out: &mut Vec<Found>) {
        let b = text.as_bytes();
        // Every prefix is validated alone, even inside an earlier match
        // (overlaps merge later): skipping those would make each decision
        // depend on all the text before it, which a stream does not keep.
        let candidates =
            memchr::memchr3_iter(b'-', b'_', b'A', b).chain(memchr::memchr_iter(b'J', b));
        for r in candidates {
            for &(i, at) in &self.by_rare[rare_slot(b[r])] {
                let (prefix, shape) = PREFIXES[i];
                let Some(s) = r.checked_sub(at) else {
                    continue;
                };
                if !b[s..].starts_with(prefix.as_bytes()) {
                    continue;
                }
                if let Some((vs, e)) = validate(b, s, s + prefix.len(), shape) {
                    out.push(Found::new(vs, e, Kind::Secret));
                    // The secret key usually follows its id (a credentials file, an env block).
                    if let (Shape::AwsKeyId, Some((ss, se))) = (shape, aws_secret_after(b, e)) {
                        out.push(Found::new(ss, se, Kind::Secret));
                    }
                }
            }
        }
    }
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn run(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut e = from;
    while e < b.len() && ok(b[e]) {
        e += 1;
    }
    e
}

/// A prefix must start a token: `task-…` holds `sk-` but is no key.
fn starts_token(b: &[u8], at: usize) -> bool {
    at == 0 || !is_token(b[at - 1])
}

fn validate(b: &[u8], s: usize, p: usize, shape: Shape) -> Option<(usize, usize)> {
    match shape {
        Shape::SkKey => {
            let e = run(b, p, is_token);
            (starts_token(b, s) && e - p >= 20).then_some((s, e))
        }
        Shape::AwsKeyId => {
            let e = run(b, p, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            let alone = !b.get(e).copied().is_some_and(is_token);
            (starts_token(b, s) && e - p == 16 && alone).then_some((s, e))
        }
        Shape::AwsSecretLabel => aws_secret_after(b, p),
        Shape::GoogleKey => {
            let e = run(b, p, is_token);
            (starts_token(b, s) && e - p >= 35).then_some((s, e))
        }
        Shape::GitHub => {
            let e = run(b, p, |c| c.is_ascii_alphanumeric());
            (starts_token(b, s) && e - p >= 36).then_some((s, e))
        }
        Shape::GitHubPat => {
            let e = run(b, p, |c| c.is_ascii_alphanumeric() || c == b'_');
            (starts_token(b, s) && e - p >= 60).then_some((s, e))
        }
        Shape::Slack => {
            let e = run(b, p, |c| c.is_ascii_alphanumeric() || c == b'-');
            (starts_token(b, s) && e - p >= 10).then_some((s, e))
        }
        Shape::Pem => pem(b, s, p),
        Shape::Jwt => jwt(b, s),
    }
}

/// Where an AWS key id or secret label begins whose look-ahead for the
/// secret key (`AWS_SECRET_WINDOW` bytes) is not all in `text` yet: a
/// stream holds from there, so the pair is decided in one piece.
pub fn open_aws_label(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let from = b.len().saturating_sub(AWS_SECRET_WINDOW + 32);
    let mut first: Option<usize> = None;
    for r in memchr::memchr2_iter(b'A', b'_', &b[from..]).map(|r| from + r) {
        for &(p, head, at) in &AWS_PREFIXES {
            let Some(i) = r.checked_sub(at).filter(|&i| i >= from) else {
                continue;
            };
            if b[i..].starts_with(p.as_bytes()) && i + head + AWS_SECRET_WINDOW > b.len() {
                first = Some(first.map_or(i, |f| f.min(i)));
            }
        }
    }
    first
}

/// The prefixes of an AWS key id and of a secret key's labels, with where
/// the look-ahead for the secret key starts (after the whole 20-character
/// key id, or after the label) and where their first `A` or `_` stands (the
/// bytes looked for: rare in prose).
const AWS_PREFIXES: [(&str, usize, usize); 5] = [
    ("AKIA", 20, 0),
    ("ASIA", 20, 0),
    ("aws_secret_access_key", 21, 3),
    ("AWS_SECRET_ACCESS_KEY", 21, 0),
    ("SecretAccessKey", 15, 6),
];

/// How far after an AWS key id or label its secret key is looked for.
const AWS_SECRET_WINDOW: usize = 120;

/// A 40-character AWS secret access key within a short distance after `from`
/// (past `=`, `:`, quotes, spaces, or the rest of a key id's line).
fn aws_secret_after(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let window = &b[from..b.len().min(from + AWS_SECRET_WINDOW)];
    let is_secret = |c: u8| c.is_ascii_alphanumeric() || c == b'/' || c == b'+';
    let mut i = 0;
    while i < window.len() {
        if is_secret(window[i]) && (i == 0 || !is_secret(window[i - 1])) {
            let e = run(window, i, is_secret);
            if e - i == 40 && window.get(e) != Some(&b'=') {
                return Some((from + i, from + e));
            }
            i = e;
        } else {
            i += 1;
        }
    }
    None
}

/// A PEM block holding a private key, to its END line; a block that never
/// ends (cut off) is taken to the end of the text.
fn pem(b: &[u8], s: usize, p: usize) -> Option<(usize, usize)> {
    let line_end = memchr::memchr2(b'\n', b'\r', &b[p..]).map_or(b.len(), |i| p + i);
    find(&b[p..line_end], b"PRIVATE KEY-----")?;
    Some((s, pem_close(b, line_end).unwrap_or(b.len())))
}

/// The end of the first complete END line (`-----END …-----`, its closing
/// dashes on its own line) at or after `from`; `None` while there is none.
/// The stream guard asks the same question to know a block is still open.
pub fn pem_close(b: &[u8], mut from: usize) -> Option<usize> {
    const END: &[u8] = b"-----END ";
    while let Some(at) = find(&b[from..], END) {
        let label = from + at + END.len();
        let eol = memchr::memchr2(b'\n', b'\r', &b[label..]).map_or(b.len(), |i| label + i);
        if let Some(dashes) = find(&b[label..eol], b"-----") {
            return Some(label + dashes + 5);
        }
        from = label;
    }
    None
}

/// `header.payload.signature`, base64url, both JSON parts starting `eyJ`.
fn jwt(b: &[u8], s: usize) -> Option<(usize, usize)> {
    if !starts_token(b, s) {
        return None;
    }
    let seg = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let h = run(b, s, seg);
    if h - s < 10 || b.get(h) != Some(&b'.') || !b[h + 1..].starts_with(b"eyJ") {
        return None;
    }
    let pl = run(b, h + 1, seg);
    if pl - (h + 1) < 10 || b.get(pl) != Some(&b'.') {
        return None;
    }
    let sig = run(b, pl + 1, seg);
    (sig - (pl + 1) >= 16).then_some((s, sig))
}

/// `needle` in `hay`: PEM markers only, rare enough for a plain scan (the
/// memchr searcher costs the Worker 4 KB).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        Secrets::new().unwrap().find(text, &mut out);
        // A key found twice (after its id and after its label) merges later.
        out.dedup();
        out.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn provider_keys_are_found_in_code_blocks() {
        let text = "```python\nclient = OpenAI(api_key=\"sk-proj-AbCdEf0123456789_xyzXYZ-0123\")\nanthropic = \"sk-ant-api03-ZZZZZZZZZZZZZZZZZZZZZZZZ\"\n```";
        assert_eq!(
            found(text),
            [
                "sk-proj-AbCdEf0123456789_xyzXYZ-0123",
                "sk-ant-api03-ZZZZZZZZZZZZZZZZZZZZZZZZ"
            ]
        );
        assert!(found("ask-me-anything task-list sk-short").is_empty());
    }

    #[test]
    fn aws_pairs_google_github_slack() {
        let creds = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        assert_eq!(
            found(creds),
            [
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ]
        );
        assert_eq!(
            found("AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            [
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ]
        );
        assert_eq!(
            found("key=AIzaSyA1234567890abcdefghijklmnopqrstuv"),
            ["AIzaSyA1234567890abcdefghijklmnopqrstuv"]
        );
        assert_eq!(
            found("ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
            ["ghp_0123456789abcdefghijklmnopqrstuvwxyz"]
        );
        assert_eq!(
            found("xoxb-1234567890-abcdefghij"),
            ["xoxb-1234567890-abcdefghij"]
        );
        assert!(found("AKIASHORT and AIza-too-short and ghp_short").is_empty());
    }

    #[test]
    fn the_stream_hold_knows_every_aws_prefix() {
        let aws: Vec<(&str, usize)> = PREFIXES
            .iter()
            .filter_map(|&(p, shape)| match shape {
                Shape::AwsKeyId => Some((p, 20)),
                Shape::AwsSecretLabel => Some((p, p.len())),
                _ => None,
            })
            .collect();
        let listed: Vec<(&str, usize)> = AWS_PREFIXES.iter().map(|a| (a.0, a.1)).collect();
        assert_eq!(aws, listed);
        for (p, _, at) in AWS_PREFIXES {
            assert_eq!(p.bytes().position(|c| c == b'A' || c == b'_'), Some(at));
        }
    }

    #[test]
    fn pem_blocks_and_jwts() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(&format!("key:\n{pem}\nthanks")), [pem]);
        assert_eq!(
            found("-----BEGIN PRIVATE KEY-----\nMIIEvQ cut"),
            ["-----BEGIN PRIVATE KEY-----\nMIIEvQ cut"]
        );
        assert!(found("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").is_empty());
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found(&format!("Bearer {jwt}")), [jwt]);
        assert!(found("eyJhbGciOiJIUzI1NiJ9 alone").is_empty());
    }
}
