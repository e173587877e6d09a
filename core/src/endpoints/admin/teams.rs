//! `/team/*`: a team is a ledger; its users' and keys' spend is held there.

use serde_json::{json, Map, Value};

use super::keys::spend_view;
use super::store::Cx;
use super::{bad, param};
use crate::error::GatewayError;
use crate::keys::records::{check_id, overlay, TeamInput};
use crate::keys::{new_ledger_id, KeyRecord, TeamRecord, UserRecord};

fn team_id(input: &Map<String, Value>) -> Result<String, GatewayError> {
    match input.get("team_id") {
        Some(Value::String(t)) => {
            check_id("team_id", t).map_err(bad)?;
            Ok(t.clone())
        }
        _ => Err(bad("`team_id` is required and must be a string.")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn new(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    let mut rec: TeamRecord =
        overlay::<TeamInput, _>(&TeamRecord::default(), input).map_err(bad)?;
    if input.contains_key("team_id") {
        rec.team_id = team_id(input)?;
    } else {
        rec.team_id = hex(&cx.random::<16>()?);
    }
    rec.limits.check().map_err(bad)?;
    rec.ledger = new_ledger_id('t', cx.random()?);
    rec.created_at = cx.now_ms;
    cx.create(&rec.ledger, &format!("team#{}", rec.team_id), &rec)
        .await?;
    Ok(serde_json::to_value(&rec).unwrap_or_default())
}

pub async fn update(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    let id = team_id(input)?;
    let (ledger, old): (String, TeamRecord) = cx.find("team", &format!("team#{id}"), &id).await?;
    let rec: TeamRecord = overlay::<TeamInput, _>(&old, input).map_err(bad)?;
    rec.limits.check().map_err(bad)?;
    cx.put(&ledger, &format!("team#{id}"), &rec).await?;
    Ok(serde_json::to_value(&rec).unwrap_or_default())
}

pub async fn delete(cx: &Cx<'_>, input: &Map<String, Value>) -> Result<Value, GatewayError> {
    if let Some(extra) = input.keys().find(|k| *k != "team_ids") {
        return Err(bad(format!(
            "Unknown field `{extra}`: only `team_ids` is accepted."
        )));
    }
    let Some(Value::Array(ids)) = input.get("team_ids") else {
        return Err(bad("`team_ids` must be a list of team ids."));
    };
    let users: Vec<UserRecord> = cx.list("user#").await?;
    let mut found = Vec::new();
    for id in ids {
        let Value::String(id) = id else {
            return Err(bad("`team_ids` must be a list of strings."));
        };
        let (ledger, rec): (String, TeamRecord) =
            cx.find("team", &format!("team#{id}"), id).await?;
        if users.iter().any(|u| u.team_id.as_deref() == Some(id)) {
            return Err(bad(format!(
                "Team `{id}` still has users: delete them first."
            )));
        }
        found.push((ledger, rec));
    }
    let keys: Vec<KeyRecord> = cx.list("key#").await?;
    for (ledger, team) in &found {
        for k in keys
            .iter()
            .filter(|k| k.team_id.as_deref() == Some(&team.team_id))
        {
            cx.delete(ledger, &format!("key#{}", k.token)).await?;
        }
        cx.delete(ledger, &format!("team#{}", team.team_id)).await?;
    }
    let deleted: Vec<_> = found.into_iter().map(|(_, t)| t.team_id).collect();
    Ok(json!({ "deleted_teams": deleted }))
}

pub async fn info(cx: &Cx<'_>, query: &str) -> Result<Value, GatewayError> {
    let id = param(query, "team_id").ok_or_else(|| bad("`?team_id=` is required."))?;
    let (ledger, rec): (String, TeamRecord) = cx.find("team", &format!("team#{id}"), &id).await?;
    let mut info = match serde_json::to_value(&rec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    info.extend(spend_view(cx, &ledger, &format!("t.{id}"), &rec.limits).await?);
    let keys: Vec<KeyRecord> = cx.list("key#").await?;
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|k| k.team_id.as_deref() == Some(&id))
        .map(|k| k.token)
        .collect();
    Ok(json!({ "team_id": id, "team_info": info, "keys": keys }))
}

pub async fn list(cx: &Cx<'_>) -> Result<Value, GatewayError> {
    let teams: Vec<TeamRecord> = cx.list("team#").await?;
    Ok(serde_json::to_value(teams).unwrap_or_default())
}
