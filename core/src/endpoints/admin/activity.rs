//! `/spend/logs` and daily activity: spend log entries from the ledgers
//! the filter names (every ledger when it names none).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::store::Cx;
use super::{bad, param};
use crate::error::GatewayError;
use crate::keys::{hash_key, KeyRecord, TeamRecord, UserRecord, KEY_PREFIX};
use crate::state::accounts::{Answer, Op};

const DAY_MS: u64 = 86_400_000;

/// `YYYY-MM-DD` (UTC midnight) or Unix milliseconds.
fn time_param(query: &str, name: &str) -> Result<Option<u64>, GatewayError> {
    let Some(v) = param(query, name) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(Some(ms));
    }
    let parts: Vec<_> = v.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] => y
            .parse::<i64>()
            .ok()
            .zip(m.parse::<u32>().ok().filter(|m| (1..=12).contains(m)))
            .zip(d.parse::<u32>().ok().filter(|d| (1..=31).contains(d)))
            .map(|((y, m), d)| crate::keys::period::days_from_civil(y, m, d)),
        _ => None,
    };
    match parsed {
        Some(days) if days >= 0 => Ok(Some(days as u64 * DAY_MS)),
        _ => Err(bad(format!(
            "`{name}` must be YYYY-MM-DD or Unix milliseconds."
        ))),
    }
}

struct Filter {
    api_key: Option<String>,
    user: Option<String>,
    team: Option<String>,
    model: Option<String>,
    since: u64,
    until: u64,
}

impl Filter {
    fn keeps(&self, e: &Value) -> bool {
        let is = |field: &str, want: &Option<String>| {
            want.as_ref()
                .is_none_or(|w| e.get(field).and_then(Value::as_str) == Some(w.as_str()))
        };
        is("api_key", &self.api_key)
            && is("user", &self.user)
            && is("team_id", &self.team)
            && is("model", &self.model)
    }
}

async fn entries(cx: &Cx<'_>, query: &str) -> Result<Vec<Value>, GatewayError> {
    let api_key = param(query, "api_key").map(|k| {
        if k.starts_with(KEY_PREFIX) {
            hash_key(&k)
        } else {
            k
        }
    });
    let f = Filter {
        api_key,
        user: param(query, "user_id"),
        team: param(query, "team_id"),
        model: param(query, "model"),
        since: time_param(query, "start_date")?.unwrap_or(0),
        // An end date names a whole day: up to its end.
        until: time_param(query, "end_date")?.map_or(u64::MAX, |t| {
            if t % DAY_MS == 0 {
                t + DAY_MS
            } else {
                t
            }
        }),
    };
    let mut ledgers = BTreeSet::new();
    if let Some(k) = &f.api_key {
        let (l, _): (String, KeyRecord) = cx.find("key", &format!("key#{k}"), "(given)").await?;
        ledgers.insert(l);
    } else if let Some(t) = &f.team {
        let (l, _): (String, TeamRecord) = cx.find("team", &format!("team#{t}"), t).await?;
        ledgers.insert(l);
    } else if let Some(u) = &f.user {
        let (l, _): (String, UserRecord) = cx.find("user", &format!("user#{u}"), u).await?;
        ledgers.insert(l);
    } else {
        let keys: Vec<KeyRecord> = cx.list("key#").await?;
        ledgers.extend(keys.into_iter().map(|k| k.ledger));
    }
    let mut out = Vec::new();
    for ledger in ledgers {
        let op = Op::Logs {
            now_ms: cx.now_ms,
            since_ms: f.since,
            until_ms: f.until,
        };
        if let Answer::Logs { entries } = cx.call(&ledger, op).await? {
            out.extend(entries.into_iter().filter(|e| f.keeps(e)));
        }
    }
    out.sort_by_key(|e| e.get("startTime").and_then(Value::as_u64).unwrap_or(0));
    Ok(out)
}

pub async fn logs(cx: &Cx<'_>, query: &str) -> Result<Value, GatewayError> {
    Ok(Value::Array(entries(cx, query).await?))
}

#[derive(Default)]
struct Metrics {
    spend_nano: i64,
    prompt_tokens: u64,
    completion_tokens: u64,
    requests: u64,
}

impl Metrics {
    fn add(&mut self, e: &Value) {
        let n = |f: &str| e.get(f).and_then(Value::as_u64).unwrap_or(0);
        self.spend_nano += e.get("spend_nano").and_then(Value::as_i64).unwrap_or(0);
        self.prompt_tokens += n("prompt_tokens");
        self.completion_tokens += n("completion_tokens");
        self.requests += 1;
    }
    fn json(&self) -> Value {
        json!({
            "spend": self.spend_nano as f64 / 1e9,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "api_requests": self.requests,
        })
    }
}

/// Per day and model: requests, tokens, spend. `by` is the filter the
/// route requires (`api_key`, `team_id` or `user_id`).
pub async fn daily(cx: &Cx<'_>, query: &str, by: &str) -> Result<Value, GatewayError> {
    if param(query, by).is_none() {
        return Err(bad(format!("`?{by}=` is required.")));
    }
    let mut days: BTreeMap<u64, (Metrics, BTreeMap<String, Metrics>)> = BTreeMap::new();
    let mut total = Metrics::default();
    for e in entries(cx, query).await? {
        let day = e.get("startTime").and_then(Value::as_u64).unwrap_or(0) / DAY_MS;
        let model = e
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let slot = days.entry(day).or_default();
        slot.0.add(&e);
        slot.1.entry(model).or_default().add(&e);
        total.add(&e);
    }
    let results: Vec<Value> = days
        .iter()
        .map(|(day, (m, models))| {
            let models: Map<String, Value> =
                models.iter().map(|(k, v)| (k.clone(), v.json())).collect();
            json!({
                "date": crate::keys::period::date_of(*day as i64),
                "metrics": m.json(),
                "breakdown": { "models": models },
            })
        })
        .collect();
    Ok(json!({ "results": results, "metadata": total.json() }))
}
