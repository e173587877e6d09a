//! Virtual keys, teams and users: their records, key material and the
//! policy a record sets (models, expiry, limits, budget periods).

pub mod charge;
pub mod known;
pub mod material;
pub mod period;
pub mod records;

pub use material::{display_name, hash_key, ledger_of, new_key, new_ledger_id, KEY_PREFIX};
pub use period::{parse_duration, Period};
pub use records::{KeyRecord, Limits, TeamRecord, UserRecord};

/// Whether `model` is allowed by `allow` (empty: every model) and not by
/// `block`. Patterns are exact names or `prefix/*`.
pub fn model_allowed(allow: &[String], block: &[String], names: &[&str]) -> bool {
    let hit = |patterns: &[String]| {
        patterns
            .iter()
            .any(|p| names.iter().any(|n| pattern_matches(p, n)))
    };
    (allow.is_empty() || hit(allow)) && !hit(block)
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/')),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_take_exact_names_and_provider_patterns() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(model_allowed(&[], &[], &["gpt-4o"]));
        assert!(model_allowed(&s(&["openai/*"]), &[], &["openai/gpt-4o"]));
        assert!(!model_allowed(&s(&["openai/*"]), &[], &["openaix/gpt-4o"]));
        assert!(!model_allowed(&s(&["openai/*"]), &[], &["gpt-4o"]));
        assert!(model_allowed(
            &s(&["openai/*"]),
            &[],
            &["gpt-4o", "openai/gpt-4o"]
        ));
        assert!(!model_allowed(&[], &s(&["fleet/*"]), &["fleet/a"]));
        assert!(!model_allowed(&s(&["*"]), &s(&["gpt-4o"]), &["gpt-4o"]));
    }
}
