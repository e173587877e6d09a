//! `/key/*`: virtual keys. The key itself is in the answer of `generate`
//! and `regenerate` only; everything else names a key by its hash (`token`)
//! or by the key.

use serde_json::{json, Map, Value};

use super::store::Cx;
use super::{bad, not_found, param};
use crate::error::GatewayError;
use crate::keys::charge::{key_scope, usd};
use crate::keys::records::{check_id, overlay, KeyInput};
use crate::keys::{
    display_name, hash_key, ledger_of, new_key, new_ledger_id, parse_duration, KeyRecord, Limits,
    Period, TeamRecord, UserRecord, KEY_PREFIX,
};

/// A key's token and ledger from what the caller named it by.
async fn locate(cx: &Cx<'_>, named: &str) -> Result<(String, KeyRecord), GatewayError> {
    let token = if named.starts_with(KEY_PREFIX) {
        hash_key(named)
    } else {
        named.to_owned()
    };
    let (ledger, rec): (String, KeyRecord) = cx
        .find("key", &format!("key#{token}"), "(given)")
        .await
        .map_err(|_| not_found("key", "(given)"))?;
    if named.starts_with(KEY_PREFIX) && ledger_of(named) != Some(ledger.as_str()) {
        return Err(not_found("key", "(given)"));
    }
    Ok((ledger, rec))
}

fn named_key(input: &Map<String, Value>) -> Result<String, GatewayError> {
    match input.get("key") {
        Some(Value::String(k)) if !k.is_empty() => Ok(k.clone()),
        _ => Err(bad(
            "`key` (the key or its token) is required and must be a string.",
        )),
    }
}

fn expires_from(
    duration: Option<&Value>,
    now_ms: u64,
) -> Result<Option<Option<u64>>, GatewayError> {
    match duration {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(d)) => match parse_duration(d) {
            Some(Period::Fixed(ms)) => Ok(Some(Some(now_ms + ms))),
            Some(Period::Month) => Ok(Some(Some(now_ms + 30 * 86_400_000))),
            None => Err(bad(format!(
                "duration `{d}` is not a duration: use e.g. 1h, 1d or 30d."
            ))),
        },
        Some(_) => Err(bad("duration must be a string such as \"30d\".")),
    }
}

fn check(rec: &KeyRecord) -> Result<(), GatewayError> {
    rec.limits.check().map_err(bad)?;
    if rec.key_alias.as_ref().is_some_and(|a| a.len() > 256) {
        return Err(bad("key_alias must be at most 256 characters."));
    }
    if let Some(r) = &rec.user_role {
        if r != "proxy_admin" && r != "internal_user" {
            return Err(bad("user_role must be `proxy_admin` or `internal_user`."));
        }
    }
    Ok(())
}

pub async fn generate(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    if input.contains_key("key") {
        return Err(bad("Keys are made by the gateway; `key` cannot be given."));
    }
    let mut rec: KeyRecord = overlay::<KeyInput, _>(&KeyRecord::default(), input).map_err(bad)?;
    if let Some(Some(e)) = expires_from(input.get("duration"), cx.now_ms)? {
        rec.expires = Some(e);
    }
    check(&rec)?;
    let team = match &rec.team_id {
        Some(t) => {
            check_id("team_id", t).map_err(bad)?;
            Some(
                cx.find::<TeamRecord>("team", &format!("team#{t}"), t)
                    .await?
                    .1,
            )
        }
        None => None,
    };
    let user = match &rec.user_id {
        Some(u) => {
            check_id("user_id", u).map_err(bad)?;
            Some(
                cx.find::<UserRecord>("user", &format!("user#{u}"), u)
                    .await?
                    .1,
            )
        }
        None => None,
    };
    if let Some(u) = &user {
        match (&u.team_id, &rec.team_id) {
            (Some(ut), Some(kt)) if ut != kt => {
                return Err(bad(format!(
                    "User `{}` is in team `{ut}`, not `{kt}`.",
                    u.user_id
                )))
            }
            (Some(ut), None) => rec.team_id = Some(ut.clone()),
            _ => {}
        }
    }
    let team = match (&team, &rec.team_id) {
        (None, Some(t)) => Some(
            cx.find::<TeamRecord>("team", &format!("team#{t}"), t)
                .await?
                .1,
        ),
        _ => team,
    };
    let ledger = match (&team, &user) {
        (Some(t), _) => t.ledger.clone(),
        (None, Some(u)) => u.ledger.clone(),
        (None, None) => new_ledger_id('k', cx.random()?),
    };
    let key = new_key(&ledger, cx.random()?);
    rec.token = hash_key(&key);
    rec.key_id = rec.token[..16].to_owned();
    rec.key_name = display_name(&key);
    rec.ledger = ledger.clone();
    rec.created_at = cx.now_ms;
    cx.create(&ledger, &format!("key#{}", rec.token), &rec)
        .await?;
    let mut out = view(&rec);
    out.insert("key".into(), Value::String(key));
    Ok(Value::Object(out))
}

fn view(rec: &KeyRecord) -> Map<String, Value> {
    match serde_json::to_value(rec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

pub async fn update(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    let (ledger, old) = locate(cx, &named_key(input)?).await?;
    let mut rec: KeyRecord = overlay::<KeyInput, _>(&old, input).map_err(bad)?;
    if rec.team_id != old.team_id || rec.user_id != old.user_id {
        return Err(bad(
            "A key's team_id and user_id are fixed when it is made (they choose its ledger); make a new key instead.",
        ));
    }
    if let Some(e) = expires_from(input.get("duration"), cx.now_ms)? {
        rec.expires = e;
    }
    check(&rec)?;
    cx.put(&ledger, &format!("key#{}", rec.token), &rec).await?;
    Ok(Value::Object(view(&rec)))
}

pub async fn block(
    cx: &Cx<'_>,
    input: &Map<String, Value>,
    blocked: bool,
) -> Result<Value, GatewayError> {
    if let Some(extra) = input.keys().find(|k| *k != "key") {
        return Err(bad(format!(
            "Unknown field `{extra}`: only `key` is accepted."
        )));
    }
    let (ledger, mut rec) = locate(cx, &named_key(input)?).await?;
    rec.blocked = blocked;
    cx.put(&ledger, &format!("key#{}", rec.token), &rec).await?;
    Ok(Value::Object(view(&rec)))
}

pub async fn regenerate(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    if let Some(extra) = input.keys().find(|k| *k != "key") {
        return Err(bad(format!(
            "Unknown field `{extra}`: only `key` is accepted."
        )));
    }
    let (ledger, old) = locate(cx, &named_key(input)?).await?;
    let key = new_key(&ledger, cx.random()?);
    let mut rec = old.clone();
    rec.token = hash_key(&key);
    rec.key_name = display_name(&key);
    cx.create(&ledger, &format!("key#{}", rec.token), &rec)
        .await?;
    cx.delete(&ledger, &format!("key#{}", old.token)).await?;
    let mut out = view(&rec);
    out.insert("key".into(), Value::String(key));
    Ok(Value::Object(out))
}

pub async fn delete(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    if let Some(extra) = input.keys().find(|k| *k != "keys") {
        return Err(bad(format!(
            "Unknown field `{extra}`: only `keys` is accepted."
        )));
    }
    let Some(Value::Array(named)) = input.get("keys") else {
        return Err(bad("`keys` must be a list of keys or tokens."));
    };
    let mut found = Vec::with_capacity(named.len());
    for n in named {
        let Value::String(n) = n else {
            return Err(bad("`keys` must be a list of strings."));
        };
        found.push(locate(cx, n).await?);
    }
    for (ledger, rec) in &found {
        cx.delete(ledger, &format!("key#{}", rec.token)).await?;
    }
    let deleted: Vec<_> = found.into_iter().map(|(_, r)| r.token).collect();
    Ok(json!({ "deleted_keys": deleted }))
}

pub async fn info(cx: &Cx<'_>, query: &str) -> Result<Value, GatewayError> {
    let named =
        param(query, "key").ok_or_else(|| bad("`?key=` (the key or its token) is required."))?;
    let (ledger, rec) = locate(cx, &named).await?;
    let mut out = view(&rec);
    out.extend(spend_view(cx, &ledger, &key_scope(&rec), &rec.limits).await?);
    Ok(json!({ "key": rec.token, "info": out }))
}

/// Spend to date and, under a budget, what remains of the current period.
pub async fn spend_view(
    cx: &Cx<'_>,
    ledger: &str,
    scope: &str,
    limits: &Limits,
) -> Result<Map<String, Value>, GatewayError> {
    let period = limits
        .period()
        .map_or((0, u64::MAX), |p| p.bounds(cx.now_ms));
    let names = vec![
        format!("{scope}:spend"),
        format!("{scope}:bud:{}", period.0),
    ];
    let used = cx.counters(ledger, names).await?;
    let mut out = Map::new();
    out.insert("spend".into(), json!(usd(used[0])));
    if let Some(max) = limits.max_budget {
        out.insert("budget_spent".into(), json!(usd(used[1])));
        out.insert(
            "budget_remaining".into(),
            json!((max - usd(used[1])).max(0.0)),
        );
        if limits.period().is_some() {
            out.insert("budget_reset_at".into(), json!(period.1));
        }
    }
    Ok(out)
}

pub async fn list(cx: &Cx<'_>, query: &str) -> Result<Value, GatewayError> {
    let team = param(query, "team_id");
    let user = param(query, "user_id");
    let full = param(query, "return_full_object").as_deref() == Some("true");
    // With full objects: each key's spend and budget left, as `/key/info`
    // gives them (one ledger read per key).
    let spend = full && param(query, "include_spend").as_deref() == Some("true");
    let page = page_of(query)?;
    let keys: Vec<KeyRecord> = cx.list("key#").await?;
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| team.is_none() || k.team_id == team)
        .filter(|k| user.is_none() || k.user_id == user)
        .collect();
    let total = keys.len();
    // Only the page's keys are viewed (and, with spend, read from their ledgers).
    let keys: Vec<_> = match page {
        Some((n, size)) => keys.into_iter().skip((n - 1) * size).take(size).collect(),
        None => keys,
    };
    let keys: Vec<Value> = if spend {
        let mut out = Vec::with_capacity(keys.len());
        for k in &keys {
            let mut v = view(k);
            v.extend(spend_view(cx, &k.ledger, &key_scope(k), &k.limits).await?);
            out.push(Value::Object(v));
        }
        out
    } else if full {
        keys.iter().map(|k| Value::Object(view(k))).collect()
    } else {
        keys.into_iter().map(|k| Value::String(k.token)).collect()
    };
    let mut out = json!({ "keys": keys, "total_count": total });
    if let Some((n, size)) = page {
        out["current_page"] = json!(n);
        out["total_pages"] = json!(total.div_ceil(size));
    }
    Ok(out)
}

/// LiteLLM's paging of `/key/list`: `page` (from 1) and `size` (1 to 100,
/// default 10) when either is given; without both, every key.
fn page_of(query: &str) -> Result<Option<(usize, usize)>, GatewayError> {
    let (page, size) = (param(query, "page"), param(query, "size"));
    if page.is_none() && size.is_none() {
        return Ok(None);
    }
    let number = |v: Option<String>, default: usize, max: usize, what: &str| {
        let Some(v) = v else { return Ok(default) };
        match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "`{what}` must be a whole number from 1 to {max}."
            ))),
        }
    };
    Ok(Some((
        number(page, 1, u32::MAX as usize, "page")?,
        number(size, 10, 100, "size")?,
    )))
}
