//! The path table and one file per endpoint. [`find`] names the endpoint a
//! request is for, the method it takes and whether it needs the key; the
//! stages of [`crate::pipeline`] do the rest ([`serve`]).

pub mod admin;
pub mod chat_completions;
pub mod completions;
pub mod count_tokens;
pub mod embeddings;
pub mod messages;
pub mod model_groups;
pub mod models;
pub mod responses;
pub mod stored_responses;
#[cfg(feature = "console")]
pub mod ui;

use http::header::RETRY_AFTER;
use http::{HeaderValue, Method, StatusCode};

use crate::catalog_api;
use crate::error::ErrorKind;
use crate::error::GatewayError;
use crate::http::json;
use crate::http::{Body, GatewayResponse, IncomingRequest};
use crate::ingress::anthropic_messages::is_messages_path;
use crate::pipeline::authenticate::authenticate;
use crate::pipeline::{exchange, expect_method, recheck, Call, Exchange};
use crate::ports::Ports;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    Health,
    ChatCompletions,
    Messages,
    CountTokens,
    Responses,
    Embeddings,
    Rerank,
    Completions,
    /// `/v1/responses/{id}`: a stored response, read (`GET`) or deleted.
    StoredResponse(String),
    /// `/v1/responses/{id}/input_items`.
    InputItems(String),
    Models,
    /// `/v1/models/{id}`, the id percent-decoded (SDKs escape the `/` of
    /// `provider/model` ids).
    Model(String),
    ModelInfo,
    ModelGroups,
    CatalogStatus,
    CostEstimate,
    TokenCounter,
    Admin(admin::Route),
    /// The admin console's static files (no key: the page holds no data).
    #[cfg(feature = "console")]
    Ui(ui::Asset),
}

/// The endpoint at `path`, the method it takes, and whether it needs the key.
/// `None`: no such URL (for this method, where the path is method-specific).
pub fn find(method: &Method, path: &str) -> Option<(Endpoint, Method, bool)> {
    let path = path.trim_end_matches('/');
    let get_or_head = *method == Method::GET || *method == Method::HEAD;
    let found = match path {
        "" if get_or_head => (Endpoint::Root, method.clone(), false),
        "/health" if get_or_head => (Endpoint::Health, method.clone(), false),
        "/v1/chat/completions" | "/chat/completions" => {
            (Endpoint::ChatCompletions, Method::POST, true)
        }
        "/v1/messages" => (Endpoint::Messages, Method::POST, true),
        "/v1/messages/count_tokens" => (Endpoint::CountTokens, Method::POST, true),
        "/v1/responses" | "/responses" => (Endpoint::Responses, Method::POST, true),
        "/v1/embeddings" | "/embeddings" => (Endpoint::Embeddings, Method::POST, true),
        "/v1/rerank" | "/rerank" | "/v2/rerank" => (Endpoint::Rerank, Method::POST, true),
        "/v1/completions" | "/completions" => (Endpoint::Completions, Method::POST, true),
        "/v1/models" | "/models" => (Endpoint::Models, Method::GET, true),
        "/model/info" | "/v1/model/info" => (Endpoint::ModelInfo, Method::GET, true),
        "/model_group/info" => (Endpoint::ModelGroups, Method::GET, true),
        "/catalog/status" => (Endpoint::CatalogStatus, Method::GET, true),
        "/cost/estimate" | "/v1/cost/estimate" => (Endpoint::CostEstimate, Method::POST, true),
        "/utils/token_counter" | "/v1/utils/token_counter" => {
            (Endpoint::TokenCounter, Method::POST, true)
        }
        #[cfg(feature = "console")]
        p if get_or_head && ui::find(p).is_some() => match ui::find(p) {
            Some(asset) => (Endpoint::Ui(asset), method.clone(), false),
            None => return None,
        },
        p if admin::find(p).is_some() => match admin::find(p) {
            Some((route, m)) => (Endpoint::Admin(route), m, true),
            None => return None,
        },
        p if p.starts_with("/v1/responses/") && p.ends_with("/input_items") && get_or_head => {
            let id = p["/v1/responses/".len()..p.len() - "/input_items".len()].to_owned();
            (Endpoint::InputItems(id), method.clone(), true)
        }
        p if p.starts_with("/v1/responses/") && (get_or_head || *method == Method::DELETE) => {
            let id = p["/v1/responses/".len()..].to_owned();
            (Endpoint::StoredResponse(id), method.clone(), true)
        }
        p if p.starts_with("/v1/models/") && *method == Method::GET => {
            let id = catalog_api::percent_decode(&p["/v1/models/".len()..]);
            (Endpoint::Model(id), Method::GET, true)
        }
        _ => return None,
    };
    Some(found)
}

/// Every request: the endpoint table, the method, authentication, then the
/// endpoint (the chat ingresses through the pipeline's `exchange`).
pub async fn serve<P: Ports>(
    call: &Call<'_, P>,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    if req.method == Method::OPTIONS {
        return Ok(preflight());
    }
    let Some(found) = find(&req.method, &req.path) else {
        return Err(GatewayError::new(
            ErrorKind::NotFound,
            format!("Unknown request URL: {} {}.", req.method, req.path),
        )
        .with_code("unknown_url"));
    };
    let (endpoint, method, protected) = found;
    expect_method(&req.method, method)?;
    // Every answer of these goes through admission, which checks a
    // remembered key with its ledger.
    let admitted = matches!(
        endpoint,
        Endpoint::ChatCompletions
            | Endpoint::Messages
            | Endpoint::Embeddings
            | Endpoint::Rerank
            | Endpoint::Completions
    );
    if protected {
        let known = admitted.then_some(call.known);
        let (principal, remembered) = authenticate(
            call.master_key,
            call.accounts,
            known,
            &call.ports,
            &req.headers,
        )
        .await?;
        ex.set_principal(principal);
        ex.key_remembered = remembered;
    }
    if admitted {
        return inference(call, &endpoint, req, ex).await;
    }
    match endpoint {
        Endpoint::CountTokens => count_tokens::count_tokens(call, req, ex).await,
        Endpoint::Responses => responses::serve(call, req, ex).await,
        Endpoint::InputItems(id) => {
            stored_responses::list_input_items(call.kv, ex, &id, req.query.as_deref()).await
        }
        Endpoint::StoredResponse(id) => {
            stored_responses::serve(call.kv, ex, &id, req.method == Method::DELETE).await
        }
        Endpoint::Admin(route) => admin::serve(call, route, req, ex.principal.is_admin()).await,
        other => serve_other(call, other, req),
    }
}

/// The endpoints whose every answer goes through admission, each through
/// the pipeline's `exchange`; run again, once, when it ran under a key the
/// instance remembered whose records had changed (`pipeline::recheck`).
async fn inference<P: Ports>(
    call: &Call<'_, P>,
    endpoint: &Endpoint,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    let mut again = ex.key_remembered;
    loop {
        let result = match endpoint {
            Endpoint::Messages => {
                let ingress = messages::AnthropicMessages(&call.config.task_routing);
                exchange(call, &ingress, req, ex).await
            }
            Endpoint::Embeddings => {
                exchange(call, &embeddings::Retrieval::Embeddings, req, ex).await
            }
            // The same ingress type: one more copy of the pipeline would
            // cost the Worker upload.
            Endpoint::Rerank => exchange(call, &embeddings::Retrieval::Rerank, req, ex).await,
            Endpoint::Completions => {
                let ingress = completions::OpenAiCompletions {
                    catalog: call.catalog,
                };
                exchange(call, &ingress, req, ex).await
            }
            _ => exchange(call, &chat_completions::OpenAiChat, req, ex).await,
        };
        if !std::mem::take(&mut again) {
            return result;
        }
        match recheck(call, ex, result.as_ref().err()).await? {
            Some(principal) => ex.restart(principal),
            None => return result,
        }
    }
}

/// The endpoints that are not a chat exchange: health, models, catalog.
pub fn serve_other<P: Ports>(
    call: &Call<'_, P>,
    endpoint: Endpoint,
    req: &IncomingRequest,
) -> Result<GatewayResponse, GatewayError> {
    let config = call.config;
    match endpoint {
        Endpoint::Root => Ok(json(
            StatusCode::OK,
            &br#"{"name":"dx-gateway","status":"ok"}"#[..],
        )),
        Endpoint::Health => Ok(json(StatusCode::OK, &br#"{"status":"ok"}"#[..])),
        Endpoint::Models => Ok(models::list(config, call.catalog, req.query.as_deref())),
        Endpoint::Model(id) => models::one(config, call.catalog, &call.ports, &id),
        Endpoint::ModelInfo => {
            catalog_api::model_info(config, call.catalog, &call.ports, req.query.as_deref())
        }
        Endpoint::ModelGroups => model_groups::model_groups(call),
        Endpoint::CatalogStatus => Ok(catalog_api::catalog_status(call.catalog)),
        Endpoint::CostEstimate => {
            catalog_api::cost_estimate(config, call.catalog, &call.ports, &req.body)
        }
        Endpoint::TokenCounter => {
            catalog_api::token_counter(config, call.catalog, &call.ports, &req.body)
        }
        #[cfg(feature = "console")]
        Endpoint::Ui(asset) => Ok(ui::serve(asset, req)),
        // Served by the pipeline's chat exchange.
        Endpoint::ChatCompletions
        | Endpoint::Messages
        | Endpoint::CountTokens
        | Endpoint::Responses
        | Endpoint::Embeddings
        | Endpoint::Rerank
        | Endpoint::Completions
        | Endpoint::StoredResponse(_)
        | Endpoint::InputItems(_)
        | Endpoint::Admin(_) => Err(GatewayError::new(
            crate::error::ErrorKind::NotFound,
            format!("Unknown request URL: {} {}.", req.method, req.path),
        )
        .with_code("unknown_url")),
    }
}

/// `x-dx-provider` and `x-dx-upstream-model`: who answered, as what.
pub fn provider_headers(resp: &mut GatewayResponse, d: &crate::resolve::Deployment) {
    let h = resp.headers_mut();
    h.insert("x-dx-provider", HeaderValue::from_static(d.provider.id));
    if let Ok(v) = HeaderValue::from_str(&d.upstream_model) {
        h.insert("x-dx-upstream-model", v);
    }
}

pub fn preflight() -> GatewayResponse {
    let mut resp = http::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, x-api-key, anthropic-version, anthropic-beta, openai-organization, openai-project",
        ),
    );
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// An error in the shape of the ingress API `path` belongs to: Anthropic's
/// on `/v1/messages…`, OpenAI's everywhere else. For the shells too, when
/// they answer before a gateway exists (a config that does not load).
pub fn error_response(path: &str, e: &GatewayError) -> GatewayResponse {
    let body = if is_messages_path(path) {
        e.to_anthropic_json()
    } else {
        e.to_openai_json()
    };
    let mut resp = json(e.status, body);
    if let Some(v) = e
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
    resp
}
