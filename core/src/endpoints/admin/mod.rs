//! The admin API, under LiteLLM's names so that its users can move over:
//! `/key/*`, `/team/*`, `/user/*`, `/spend/logs` and daily activity. Open
//! to the master key and to keys with `user_role = "proxy_admin"`.
//!
//! Records live in their ledger (the copy requests read) and in a
//! directory ledger that lists them; a write goes to the ledger first.
//! Input is checked whole before anything is written: a refused call
//! changes nothing.

mod activity;
mod keys;
mod store;
mod teams;
mod users;

use http::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::error::{ErrorKind, GatewayError};
use crate::http::{json, GatewayResponse, IncomingRequest};
use crate::pipeline::Call;
use crate::ports::Ports;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    KeyGenerate,
    KeyUpdate,
    KeyDelete,
    KeyInfo,
    KeyList,
    KeyRegenerate,
    KeyBlock,
    KeyUnblock,
    TeamNew,
    TeamUpdate,
    TeamDelete,
    TeamInfo,
    TeamList,
    UserNew,
    UserUpdate,
    UserDelete,
    UserInfo,
    UserList,
    SpendLogs,
    KeyActivity,
    TeamActivity,
    UserActivity,
}

/// The admin route at `path` and the method it takes.
pub fn find(path: &str) -> Option<(Route, Method)> {
    use Route::*;
    let post = Method::POST;
    let get = Method::GET;
    Some(match path {
        "/key/generate" => (KeyGenerate, post),
        "/key/update" => (KeyUpdate, post),
        "/key/delete" => (KeyDelete, post),
        "/key/info" => (KeyInfo, get),
        "/key/list" => (KeyList, get),
        "/key/regenerate" => (KeyRegenerate, post),
        "/key/block" => (KeyBlock, post),
        "/key/unblock" => (KeyUnblock, post),
        "/team/new" => (TeamNew, post),
        "/team/update" => (TeamUpdate, post),
        "/team/delete" => (TeamDelete, post),
        "/team/info" => (TeamInfo, get),
        "/team/list" => (TeamList, get),
        "/user/new" => (UserNew, post),
        "/user/update" => (UserUpdate, post),
        "/user/delete" => (UserDelete, post),
        "/user/info" => (UserInfo, get),
        "/user/list" => (UserList, get),
        "/spend/logs" => (SpendLogs, get),
        "/key/daily/activity" => (KeyActivity, get),
        "/team/daily/activity" => (TeamActivity, get),
        "/user/daily/activity" => (UserActivity, get),
        _ => return None,
    })
}

pub async fn serve<P: Ports>(
    call: &Call<'_, P>,
    route: Route,
    req: &IncomingRequest,
    admin: bool,
) -> Result<GatewayResponse, GatewayError> {
    if !admin {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            "The admin API needs the master key or an admin key.",
        )
        .with_code("admin_only"));
    }
    let Some(accounts) = call.accounts else {
        return Err(GatewayError::new(
            ErrorKind::Configuration,
            "This gateway has no key store configured.",
        )
        .with_code("no_key_store"));
    };
    let cx = store::Cx {
        accounts: accounts.as_ref(),
        now_ms: crate::ports::Clock::now_ms(&call.ports),
    };
    let query = req.query.as_deref().unwrap_or("");
    // Inputs that may attach guardrail sets name only sets that exist and
    // are attachable.
    let checked = || -> Result<Map<String, Value>, GatewayError> {
        let input = body(req)?;
        if let Some(v) = input.get("guardrails") {
            let list = "guardrails must be a list of set names.";
            let names = v.as_array().ok_or_else(|| bad(list))?;
            for n in names {
                let name = n.as_str().ok_or_else(|| bad(list))?;
                call.config.guards.attachable(name).map_err(bad)?;
            }
        }
        Ok(input)
    };
    use Route::*;
    let out = match route {
        KeyGenerate => keys::generate(&cx, &checked()?).await?,
        KeyUpdate => keys::update(&cx, &checked()?).await?,
        KeyDelete => keys::delete(&cx, &body(req)?).await?,
        KeyInfo => keys::info(&cx, query).await?,
        KeyList => keys::list(&cx, query).await?,
        KeyRegenerate => keys::regenerate(&cx, &body(req)?).await?,
        KeyBlock => keys::block(&cx, &body(req)?, true).await?,
        KeyUnblock => keys::block(&cx, &body(req)?, false).await?,
        TeamNew => teams::new(&cx, &checked()?).await?,
        TeamUpdate => teams::update(&cx, &checked()?).await?,
        TeamDelete => teams::delete(&cx, &body(req)?).await?,
        TeamInfo => teams::info(&cx, query).await?,
        TeamList => teams::list(&cx).await?,
        UserNew => users::new(&cx, &checked()?).await?,
        UserUpdate => users::update(&cx, &checked()?).await?,
        UserDelete => users::delete(&cx, &body(req)?).await?,
        UserInfo => users::info(&cx, query).await?,
        UserList => users::list(&cx).await?,
        SpendLogs => activity::logs(&cx, query).await?,
        KeyActivity => activity::daily(&cx, query, "api_key").await?,
        TeamActivity => activity::daily(&cx, query, "team_id").await?,
        UserActivity => activity::daily(&cx, query, "user_id").await?,
    };
    let bytes = serde_json::to_vec(&out).unwrap_or_default();
    Ok(json(StatusCode::OK, bytes))
}

/// The request body: a JSON object.
fn body(req: &IncomingRequest) -> Result<Map<String, Value>, GatewayError> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("The request body must be a JSON object.")),
        Err(e) => Err(GatewayError::invalid_json(e)),
    }
}

pub(super) fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_code("invalid_admin_request")
}

pub(super) fn not_found(what: &str, id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("No {what} `{id}`."))
        .with_code(&format!("{}_not_found", what.replace(' ', "_")))
}

/// One query parameter, percent-decoded.
pub(super) fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| crate::catalog_api::percent_decode(&v.replace('+', " ")))
    })
}
