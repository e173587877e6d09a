//! `/user/*`: a user in a team is charged in the team's ledger; a user
//! without one has a ledger of its own.

use serde_json::{json, Map, Value};

use super::keys::spend_view;
use super::store::Cx;
use super::{bad, param};
use crate::error::GatewayError;
use crate::keys::records::{check_id, overlay, UserInput};
use crate::keys::{new_ledger_id, KeyRecord, TeamRecord, UserRecord};

fn user_id(input: &Map<String, Value>) -> Result<String, GatewayError> {
    match input.get("user_id") {
        Some(Value::String(u)) => {
            check_id("user_id", u).map_err(bad)?;
            Ok(u.clone())
        }
        _ => Err(bad("`user_id` is required and must be a string.")),
    }
}

pub async fn new(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    let mut rec: UserRecord =
        overlay::<UserInput, _>(&UserRecord::default(), input).map_err(bad)?;
    rec.user_id = if input.contains_key("user_id") {
        user_id(input)?
    } else {
        cx.random::<16>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    rec.limits.check().map_err(bad)?;
    rec.ledger = match &rec.team_id {
        Some(t) => {
            check_id("team_id", t).map_err(bad)?;
            cx.find::<TeamRecord>("team", &format!("team#{t}"), t)
                .await?
                .1
                .ledger
        }
        None => new_ledger_id('u', cx.random()?),
    };
    rec.created_at = cx.now_ms;
    cx.create(&rec.ledger, &format!("user#{}", rec.user_id), &rec)
        .await?;
    Ok(serde_json::to_value(&rec).unwrap_or_default())
}

pub async fn update(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    let id = user_id(input)?;
    let (ledger, old): (String, UserRecord) = cx.find("user", &format!("user#{id}"), &id).await?;
    let rec: UserRecord = overlay::<UserInput, _>(&old, input).map_err(bad)?;
    if rec.team_id != old.team_id {
        return Err(bad(
            "A user's team_id is fixed when it is made (it chooses the ledger).",
        ));
    }
    rec.limits.check().map_err(bad)?;
    cx.put(&ledger, &format!("user#{id}"), &rec).await?;
    Ok(serde_json::to_value(&rec).unwrap_or_default())
}

pub async fn delete(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    if let Some(extra) = input.keys().find(|k| *k != "user_ids") {
        return Err(bad(format!(
            "Unknown field `{extra}`: only `user_ids` is accepted."
        )));
    }
    let Some(Value::Array(ids)) = input.get("user_ids") else {
        return Err(bad("`user_ids` must be a list of user ids."));
    };
    let mut found = Vec::new();
    for id in ids {
        let Value::String(id) = id else {
            return Err(bad("`user_ids` must be a list of strings."));
        };
        found.push(
            cx.find::<UserRecord>("user", &format!("user#{id}"), id)
                .await?,
        );
    }
    let keys: Vec<KeyRecord> = cx.list("key#").await?;
    for (ledger, user) in &found {
        for k in keys
            .iter()
            .filter(|k| k.user_id.as_deref() == Some(&user.user_id))
        {
            cx.delete(ledger, &format!("key#{}", k.token)).await?;
        }
        cx.delete(ledger, &format!("user#{}", user.user_id)).await?;
    }
    let deleted: Vec<_> = found.into_iter().map(|(_, u)| u.user_id).collect();
    Ok(json!({ "deleted_users": deleted }))
}

pub async fn info(cx: &Cx<'_>, query: &str) -> Result<Value, GatewayError> {
    let id = param(query, "user_id").ok_or_else(|| bad("`?user_id=` is required."))?;
    let (ledger, rec): (String, UserRecord) = cx.find("user", &format!("user#{id}"), &id).await?;
    let mut info = match serde_json::to_value(&rec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    info.extend(spend_view(cx, &ledger, &format!("u.{id}"), &rec.limits).await?);
    let keys: Vec<KeyRecord> = cx.list("key#").await?;
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| k.user_id.as_deref() == Some(&id))
        .map(|k| k.token)
        .collect();
    Ok(json!({ "user_id": id, "user_info": info, "keys": keys }))
}

pub async fn list(cx: &Cx<'_>) -> Result<Value, GatewayError> {
    let users: Vec<UserRecord> = cx.list("user#").await?;
    Ok(json!({ "users": users, "total": users.len() }))
}
