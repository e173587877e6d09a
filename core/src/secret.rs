//! A credential that cannot leak through `Debug`, `Display` or serialization.

use crate::ports::Env;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The only way to read the value: call sites that need it are easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares without an early exit, so timing does not reveal a prefix match.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, &x) in a.iter().enumerate() {
            diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
        }
        diff == 0
    }

    /// Whether `text` quotes this secret (too-short values never count: they
    /// would match ordinary words).
    pub fn occurs_in(&self, text: &str) -> bool {
        self.0.len() >= 4 && text.contains(&self.0)
    }

    /// Replaces every occurrence of this secret in `text`: upstream error bodies
    /// sometimes echo the credential they rejected.
    pub fn redact_in(&self, text: &str) -> String {
        if !self.occurs_in(text) {
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// `env:NAME` reads the environment; anything else is the literal value.
pub fn resolve_secret(value: &str, env: &impl Env) -> Option<Secret> {
    match value
        .strip_prefix("env:")
        .or_else(|| value.strip_prefix("os.environ/"))
    {
        Some(name) => env
            .var(name.trim())
            .filter(|v| !v.is_empty())
            .map(Secret::new),
        None if value.is_empty() => None,
        None => Some(Secret::new(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_value() {
        let s = Secret::new("sk-abc");
        assert!(s.matches("sk-abc"));
        assert!(!s.matches("sk-ab"));
        assert!(!s.matches("sk-abcd"));
        assert!(!s.matches("sk-abd"));
        assert!(!s.matches(""));
    }

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("sk-very-secret");
        assert!(!format!("{s:?}").contains("very"));
        assert_eq!(
            s.redact_in("bad key sk-very-secret given"),
            "bad key [redacted] given"
        );
    }
}
