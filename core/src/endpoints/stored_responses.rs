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

/// `GET /v1/responses/{id}` and `DELETE`.
pub async fn serve(
    kv: Option<&Arc<dyn SharedKv>>,
    ex: &Exchange,
    id: &str,
    delete: bool,
) -> Result<GatewayResponse, GatewayError> {
    let missing = || not_found(id, "response_id");
    let kv = kv.ok_or_else(missing)?;
    let k = key(ex, id);
    let stored = kv
        .read(&k)
        .await
        .map_err(store_error)?
        .ok_or_else(missing)?;
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
