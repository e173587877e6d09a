//! Stored Responses: `store` (OpenAI's default) keeps an answer in the
//! instance's key-value store under the caller's scope; `previous_response_id`
//! resumes from it whatever provider answers next, because the gateway
//! sends the whole conversation rather than a reference; `GET` and `DELETE
//! /v1/responses/{id}` read and remove it. A record is
//! `{"input":[…items so far…],"response":{…}}`.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::responses::not_found;
use crate::error::{ErrorKind, GatewayError};
use crate::http::{json, Body, GatewayResponse};
use crate::ingress::openai_chat::write_json_str;
use crate::ingress::openai_responses::ResponsesEnvelope;
use crate::pipeline::Exchange;
use crate::ports::{Log, MaybeSend, MaybeSync};
use crate::state::SharedKv;
use crate::stream::sse::Decoder;
use crate::stream::BodyStream;

/// How long a stored response is kept (OpenAI keeps them 30 days).
const KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// The store's key for one caller's response: a virtual key reads only
/// what it stored; the master key has its own scope.
pub fn key(ex: &Exchange, id: &str) -> String {
    let scope = if ex.key.is_empty() { "master" } else { &ex.key };
    format!("resp:{scope}:{id}")
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    input: &'a RawValue,
    #[serde(borrow)]
    response: &'a RawValue,
}

#[derive(Deserialize)]
struct Output<'a> {
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    output: Option<Vec<&'a RawValue>>,
}

fn store_error(e: String) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("The response store could not be read: {e}"),
    )
    .with_code("store_unavailable")
}

fn corrupt() -> GatewayError {
    store_error("a stored record is not valid JSON".into())
}

/// Items of a JSON array, without the brackets: `a,b,c` (empty for `[]`).
fn items(array: &str) -> &str {
    let inner = array.trim();
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    inner.strip_suffix(']').unwrap_or(inner).trim()
}

fn join(out: &mut Vec<u8>, part: &str) {
    if part.is_empty() {
        return;
    }
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(part.as_bytes());
}

/// The request's `input` as an item array (a string is one user message).
pub fn input_items(env: &ResponsesEnvelope<'_>) -> Vec<u8> {
    let raw = env.raw_field("input").map_or("[]", |r| r.get());
    if raw.starts_with('"') {
        let mut out = br#"[{"type":"message","role":"user","content":"#.to_vec();
        out.extend_from_slice(raw.as_bytes());
        out.extend_from_slice(b"}]");
        return out;
    }
    raw.as_bytes().to_vec()
}

/// The conversation so far (the stored input, then the stored answer's
/// output items) followed by this request's input.
pub async fn resume(
    kv: Option<&Arc<dyn SharedKv>>,
    ex: &Exchange,
    previous: &str,
    input: &[u8],
) -> Result<Vec<u8>, GatewayError> {
    let missing = || not_found(previous, "previous_response_id");
    let kv = kv.ok_or_else(missing)?;
    let stored = kv
        .read(&key(ex, previous))
        .await
        .map_err(store_error)?
        .ok_or_else(missing)?;
    let record: Record<'_> = serde_json::from_slice(&stored).map_err(|_| corrupt())?;
    let answer: Output<'_> = serde_json::from_str(record.response.get()).map_err(|_| corrupt())?;
    let mut out = Vec::with_capacity(stored.len() + input.len());
    out.push(b'[');
    join(&mut out, items(record.input.get()));
    for item in answer.output.unwrap_or_default() {
        join(&mut out, item.get());
    }
    join(&mut out, items(std::str::from_utf8(input).unwrap_or("[]")));
    out.push(b']');
    Ok(out)
}

/// Writes one answer's record; what failed is logged, never the client's
/// problem (the answer itself was fine).
async fn put<L: Log + MaybeSync>(
    kv: &dyn SharedKv,
    log: &L,
    prefix: &str,
    input: &[u8],
    response: &[u8],
) {
    let Ok(answer) = serde_json::from_slice::<Output<'_>>(response) else {
        return;
    };
    let Some(id) = answer.id.filter(|id| !id.is_empty()) else {
        return;
    };
    let mut record = Vec::with_capacity(input.len() + response.len() + 24);
    record.extend_from_slice(b"{\"input\":");
    record.extend_from_slice(input);
    record.extend_from_slice(b",\"response\":");
    record.extend_from_slice(response);
    record.push(b'}');
    if let Err(e) = kv
        .write(&format!("{prefix}{id}"), Bytes::from(record), Some(KEEP_MS))
        .await
    {
        let mut line = br#"{"event":"response_store","outcome":"error","id":"#.to_vec();
        write_json_str(&mut line, &id);
        line.extend_from_slice(br#","error":"#);
        write_json_str(&mut line, &e);
        line.push(b'}');
        log.log(&String::from_utf8_lossy(&line));
    }
}

/// Stores a whole answer now; a streamed one as its final event passes,
/// before the client reads that event (so a follow-up request that names it
/// always finds it).
pub async fn keep<L: Log + Clone + MaybeSend + MaybeSync + 'static>(
    kv: &Arc<dyn SharedKv>,
    log: &L,
    ex: &Exchange,
    input: Vec<u8>,
    resp: &mut GatewayResponse,
) {
    if resp.status() != StatusCode::OK {
        return;
    }
    let prefix = key(ex, "");
    match std::mem::replace(resp.body_mut(), Body::Empty) {
        Body::Full(body) => {
            put(kv.as_ref(), log, &prefix, &input, &body).await;
            *resp.body_mut() = Body::Full(body);
        }
        Body::Stream(s) => {
            *resp.body_mut() = Body::Stream(tee(s, kv.clone(), log.clone(), prefix, input))
        }
        Body::Empty => {}
    }
}

/// The `response` of a `response.completed` / `response.incomplete` event.
fn final_response(data: &[u8]) -> Option<&[u8]> {
    #[derive(Deserialize)]
    struct Final<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        response: Option<&'a RawValue>,
    }
    let head = data.get(..40).unwrap_or(data);
    let is_final = head.windows(18).any(|w| w == b"response.completed")
        || head.windows(19).any(|w| w == b"response.incomplete");
    if !is_final {
        return None;
    }
    let f: Final<'_> = serde_json::from_slice(data).ok()?;
    let raw = f.response?;
    (f.kind == "response.completed" || f.kind == "response.incomplete")
        .then(|| raw.get().as_bytes())
}

fn tee<L: Log + MaybeSend + MaybeSync + 'static>(
    inner: BodyStream,
    kv: Arc<dyn SharedKv>,
    log: L,
    prefix: String,
    input: Vec<u8>,
) -> BodyStream {
    let state = (inner, Decoder::new(), kv, log, prefix, input);
    Box::pin(futures::stream::unfold(Some(state), |state| async move {
        let (mut inner, mut decoder, kv, log, prefix, input) = state?;
        let chunk: Bytes = inner.next().await?;
        decoder.push(&chunk);
        while let Some(event) = decoder.next_event() {
            if let Some(response) = final_response(&event.data) {
                put(kv.as_ref(), &log, &prefix, &input, response).await;
            }
        }
        Some((chunk, Some((inner, decoder, kv, log, prefix, input))))
    }))
}

async fn read(
    kv: Option<&Arc<dyn SharedKv>>,
    ex: &Exchange,
    id: &str,
) -> Result<(Arc<dyn SharedKv>, String, Bytes), GatewayError> {
    let missing = || not_found(id, "response_id");
    let kv = kv.ok_or_else(missing)?;
    let k = key(ex, id);
    let stored = kv
        .read(&k)
        .await
        .map_err(store_error)?
        .ok_or_else(missing)?;
    Ok((kv.clone(), k, stored))
}

/// `GET /v1/responses/{id}` and `DELETE`.
pub async fn serve(
    kv: Option<&Arc<dyn SharedKv>>,
    ex: &Exchange,
    id: &str,
    delete: bool,
) -> Result<GatewayResponse, GatewayError> {
    let (kv, k, stored) = read(kv, ex, id).await?;
    if delete {
        kv.remove(&k).await.map_err(store_error)?;
        let mut out = br#"{"id":"#.to_vec();
        write_json_str(&mut out, id);
        out.extend_from_slice(br#","object":"response","deleted":true}"#);
        return Ok(json(StatusCode::OK, out));
    }
    let record: Record<'_> = serde_json::from_slice(&stored).map_err(|_| corrupt())?;
    Ok(json(
        StatusCode::OK,
        Bytes::copy_from_slice(record.response.get().as_bytes()),
    ))
}

/// `GET /v1/responses/{id}/input_items`: the conversation that produced a
/// stored response, as OpenAI lists it (`order` `desc` by default, `limit`
/// 1–100 (20), `after` an item id). Items the client sent without an id get
/// `msg_<n>_<response id>`, and a message's text content is written out
/// as an `input_text` (or, for the assistant, `output_text`) part.
pub async fn list_input_items(
    kv: Option<&Arc<dyn SharedKv>>,
    ex: &Exchange,
    id: &str,
    query: Option<&str>,
) -> Result<GatewayResponse, GatewayError> {
    use serde_json::{json as value, Value};
    let mut limit = 20usize;
    let mut ascending = false;
    let mut after = None;
    for (name, v) in query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
    {
        match name {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        GatewayError::invalid_request("`limit` must be an integer from 1 to 100.")
                            .with_param("limit")
                    })?
            }
            "order" if v == "asc" || v == "desc" => ascending = v == "asc",
            "order" => {
                return Err(
                    GatewayError::invalid_request("`order` must be `asc` or `desc`.")
                        .with_param("order"),
                )
            }
            "after" => after = Some(v.to_owned()),
            _ => {}
        }
    }
    let (_, _, stored) = read(kv, ex, id).await?;
    let record: Record<'_> = serde_json::from_slice(&stored).map_err(|_| corrupt())?;
    let mut items: Vec<Value> = serde_json::from_str(record.input.get()).map_err(|_| corrupt())?;
    for (n, item) in items.iter_mut().enumerate() {
        let Some(obj) = item.as_object_mut() else {
            continue;
        };
        if !obj.contains_key("type") && obj.contains_key("role") {
            obj.insert("type".into(), "message".into());
        }
        if obj
            .get("id")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            obj.insert("id".into(), format!("msg_{n}_{id}").into());
        }
        if let Some(Value::String(text)) = obj.get("content") {
            let kind = if obj.get("role").and_then(Value::as_str) == Some("assistant") {
                "output_text"
            } else {
                "input_text"
            };
            let part = value!([{ "type": kind, "text": text }]);
            obj.insert("content".into(), part);
        }
    }
    if !ascending {
        items.reverse();
    }
    if let Some(after) = after {
        let at = items.iter().position(|i| i["id"] == after.as_str());
        items.drain(..at.map_or(0, |i| i + 1));
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    let body = value!({
        "object": "list",
        "data": items,
        "first_id": items.first().map(|i| i["id"].clone()),
        "last_id": items.last().map(|i| i["id"].clone()),
        "has_more": has_more,
    });
    Ok(json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}
