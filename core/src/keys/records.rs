//! Key, team and user records as stored, and the admin input that makes
//! and changes them. Input is strict: unknown fields and wrong types are
//! refused by serde, out-of-range values by [`Limits::check`]; a change is
//! the stored record with the input's fields laid over it, checked whole
//! before anything is written.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::period::{parse_duration, Period};

/// The most a budget may be (USD) and a limit may count: larger values are
/// typos, and keep every amount well inside an `i64` of nano-dollars.
pub const MAX_BUDGET_USD: f64 = 1e9;
pub const MAX_LIMIT: u64 = 1_000_000_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_rpm_limit: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_tpm_limit: BTreeMap<String, u64>,
    /// Guardrail sets (`attach = "key"`) this key, user or team adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
    /// Where this key's, user's or team's requests may be served (`eu`,
    /// `us`, ISO country codes, region names; comma-separated): deployments
    /// elsewhere are never used for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residency: Option<String>,
}

impl Limits {
    pub fn check(&self) -> Result<(), String> {
        if let Some(r) = &self.residency {
            let ok = r.split(',').map(str::trim).all(|rule| {
                !rule.is_empty()
                    && rule.len() <= 32
                    && rule.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
            if !ok {
                return Err(format!(
                    "residency `{r}` is not a list of places: use e.g. eu, us, DE or eu-central-1, comma-separated."
                ));
            }
        }
        if let Some(b) = self.max_budget {
            if !b.is_finite() || !(0.0..=MAX_BUDGET_USD).contains(&b) {
                return Err(format!(
                    "max_budget must be a number from 0 to {MAX_BUDGET_USD} (USD); got {b}."
                ));
            }
        }
        if let Some(d) = &self.budget_duration {
            if parse_duration(d).is_none() {
                return Err(format!(
                    "budget_duration `{d}` is not a duration: use e.g. 30s, 15m, 1h, 1d, 30d or 1mo."
                ));
            }
        }
        let counts = [
            ("rpm_limit", self.rpm_limit),
            ("tpm_limit", self.tpm_limit),
            ("max_parallel_requests", self.max_parallel_requests),
        ];
        let per_model = self
            .model_rpm_limit
            .values()
            .map(|v| ("model_rpm_limit", Some(*v)))
            .chain(
                self.model_tpm_limit
                    .values()
                    .map(|v| ("model_tpm_limit", Some(*v))),
            );
        for (name, v) in counts.into_iter().chain(per_model) {
            if v.is_some_and(|v| v > MAX_LIMIT) {
                return Err(format!("{name} must be at most {MAX_LIMIT}."));
            }
        }
        Ok(())
    }

    pub fn period(&self) -> Option<Period> {
        self.budget_duration.as_deref().and_then(parse_duration)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// SHA-256 of the key, hex: its id everywhere after creation.
    pub token: String,
    /// The key's counters are kept under this id, which a regenerated key
    /// keeps (its spend and windows carry over).
    #[serde(default)]
    pub key_id: String,
    pub key_name: String,
    pub ledger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Unix ms after which the key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `proxy_admin`: the key may use the admin API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
    #[serde(default)]
    pub created_at: u64,
    #[serde(flatten)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    pub team_id: String,
    pub ledger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_alias: Option<String>,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    #[serde(default)]
    pub created_at: u64,
    #[serde(flatten)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    pub ledger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    #[serde(default)]
    pub created_at: u64,
    #[serde(flatten)]
    pub limits: Limits,
}

/// The fields a key's admin input may carry: their types are checked by
/// deserializing into this (unknown fields refused); the values are then
/// laid over the record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde for its checks only
pub struct KeyInput {
    key: Option<String>,
    key_alias: Option<String>,
    team_id: Option<String>,
    user_id: Option<String>,
    duration: Option<String>,
    blocked: Option<bool>,
    models: Option<Vec<String>>,
    blocked_models: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
    tags: Option<Vec<String>>,
    user_role: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    max_parallel_requests: Option<u64>,
    model_rpm_limit: Option<BTreeMap<String, u64>>,
    model_tpm_limit: Option<BTreeMap<String, u64>>,
    guardrails: Option<Vec<String>>,
    residency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamInput {
    team_id: Option<String>,
    team_alias: Option<String>,
    blocked: Option<bool>,
    models: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    max_parallel_requests: Option<u64>,
    model_rpm_limit: Option<BTreeMap<String, u64>>,
    model_tpm_limit: Option<BTreeMap<String, u64>>,
    guardrails: Option<Vec<String>>,
    residency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserInput {
    user_id: Option<String>,
    user_email: Option<String>,
    team_id: Option<String>,
    models: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    max_parallel_requests: Option<u64>,
    model_rpm_limit: Option<BTreeMap<String, u64>>,
    model_tpm_limit: Option<BTreeMap<String, u64>>,
    guardrails: Option<Vec<String>>,
    residency: Option<String>,
}

/// Input fields that steer the call instead of being stored.
const CONTROL: &[&str] = &["key", "duration"];

/// `input` (a JSON object, already type-checked as `I`) laid over `record`:
/// a `null` clears a field, control fields are left out.
pub fn overlay<I: DeserializeOwned, R: Serialize + DeserializeOwned>(
    record: &R,
    input: &Map<String, Value>,
) -> Result<R, String> {
    serde_json::from_value::<I>(Value::Object(input.clone())).map_err(|e| e.to_string())?;
    let mut merged = match serde_json::to_value(record) {
        Ok(Value::Object(m)) => m,
        _ => return Err("the stored record is not an object".into()),
    };
    for (k, v) in input {
        if CONTROL.contains(&k.as_str()) {
            continue;
        }
        if v.is_null() {
            merged.remove(k);
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| e.to_string())
}

/// Ids given by clients: short, printable, no separators of our own.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 1 to 128 characters of letters, digits, `-`, `_`, `.` or `@`."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn input_is_refused_on_unknown_fields_wrong_types_and_bad_values() {
        let rec = KeyRecord::default();
        for bad in [
            json!({"max_budjet": 1}),
            json!({"max_budget": "10"}),
            json!({"rpm_limit": -1}),
            json!({"rpm_limit": 1.5}),
            json!({"models": "gpt-4o"}),
            json!({"metadata": [1]}),
        ] {
            assert!(
                overlay::<KeyInput, _>(&rec, &obj(bad.clone())).is_err(),
                "{bad}"
            );
        }
        let r = overlay::<KeyInput, _>(&rec, &obj(json!({"max_budget": -1.0}))).unwrap();
        assert!(r.limits.check().is_err());
        let r = overlay::<KeyInput, _>(&rec, &obj(json!({"max_budget": 1e300}))).unwrap();
        assert!(r.limits.check().is_err());
        let r = overlay::<KeyInput, _>(&rec, &obj(json!({"rpm_limit": 2_000_000_000u64}))).unwrap();
        assert!(r.limits.check().is_err());
        let r = overlay::<KeyInput, _>(&rec, &obj(json!({"budget_duration": "1w"}))).unwrap();
        assert!(r.limits.check().is_err());
    }

    #[test]
    fn an_overlay_changes_what_it_names_and_clears_nulls() {
        let rec = KeyRecord {
            token: "t".into(),
            key_alias: Some("a".into()),
            limits: Limits {
                rpm_limit: Some(5),
                ..Limits::default()
            },
            ..KeyRecord::default()
        };
        let r = overlay::<KeyInput, _>(
            &rec,
            &obj(json!({"key": "x", "max_budget": 2.5, "key_alias": null})),
        )
        .unwrap();
        assert_eq!(r.token, "t");
        assert_eq!(r.key_alias, None);
        assert_eq!(r.limits.max_budget, Some(2.5));
        assert_eq!(r.limits.rpm_limit, Some(5));
        r.limits.check().unwrap();
        assert!(check_id("team_id", "team-a_1").is_ok());
        assert!(check_id("team_id", "a#b").is_err());
        assert!(check_id("team_id", "").is_err());
    }
}
