//! Rerank APIs, for `POST /v1/rerank` (Cohere's shape): Cohere `POST
//! /v2/rerank` (the client's request as Cohere takes it), Jina `POST
//! /v1/rerank` (Cohere-like, with `usage.total_tokens`) and Voyage `POST
//! /v1/rerank` (`top_k`; answers `data[{index, relevance_score}]`). Every
//! answer comes back as Cohere's `{id, results[{index, relevance_score,
//! document?}], meta}`; documents are added by the gateway when asked for
//! (it has them), so no provider is asked to send them back.

use std::fmt::Write;

use super::embeddings::{items, quoted, raw_at, u64_of};

use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;
use crate::unified::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Cohere,
    Jina,
    Voyage,
}

/// The rerank API of `d`'s provider, if it has one the gateway speaks.
pub fn api_of(d: &Deployment) -> Option<Api> {
    match d.provider.id {
        "cohere" => Some(Api::Cohere),
        "jina_ai" => Some(Api::Jina),
        "voyage" => Some(Api::Voyage),
        _ => None,
    }
}

/// A rerank request: the query, the documents as texts, how many results.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ask {
    pub query: String,
    pub documents: Vec<String>,
    pub top_n: Option<u64>,
    pub return_documents: bool,
}

/// The provider's body for `ask`.
pub fn request_body(api: Api, model: &str, ask: &Ask) -> Vec<u8> {
    let documents: Vec<String> = ask.documents.iter().map(|d| quoted(d)).collect();
    let top = match (api, ask.top_n) {
        (_, None) => String::new(),
        (Api::Voyage, Some(n)) => format!(",\"top_k\":{n}"),
        (_, Some(n)) => format!(",\"top_n\":{n}"),
    };
    format!(
        "{{\"model\":{},\"query\":{},\"documents\":[{}]{top}{}}}",
        quoted(model),
        quoted(&ask.query),
        documents.join(","),
        if api == Api::Cohere {
            ""
        } else {
            ",\"return_documents\":false"
        }
    )
    .into_bytes()
}

/// The path after the deployment's base (`/v2` is Cohere's; Jina's and
/// Voyage's bases end in `/v1`).
pub fn url(api: Api, api_base: &str) -> String {
    let base = api_base.trim_end_matches('/');
    match api {
        Api::Cohere => format!("{}/v2/rerank", base.strip_suffix("/v2").unwrap_or(base)),
        Api::Jina | Api::Voyage => format!("{base}/rerank"),
    }
}

/// A provider's answer in Cohere's shape, and its usage (tokens where the
/// provider counts them; a query priced per request otherwise).
pub fn cohere_answer(
    api: Api,
    body: &[u8],
    ask: &Ask,
    id: &str,
) -> Result<(Vec<u8>, Usage), GatewayError> {
    let invalid = || {
        GatewayError::new(
            ErrorKind::UpstreamUnavailable,
            "upstream returned a body that is not a valid rerank answer",
        )
        .with_code("invalid_upstream_response")
    };
    let text = std::str::from_utf8(body).map_err(|_| invalid())?;
    let list = if api == Api::Voyage {
        "data"
    } else {
        "results"
    };
    let results = raw_at(text, &[list]).ok_or_else(invalid)?;
    let id = raw_at(text, &["id"])
        .filter(|id| id.starts_with('"'))
        .map_or_else(|| quoted(id), str::to_owned);
    let mut out = format!("{{\"id\":{id},\"results\":[");
    for (i, item) in items(Some(results)).into_iter().enumerate() {
        let index = u64_of(raw_at(item, &["index"])).ok_or_else(invalid)?;
        let score = raw_at(item, &["relevance_score"]).ok_or_else(invalid)?;
        let text = ask.documents.get(index as usize).ok_or_else(invalid)?;
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"index\":{index},\"relevance_score\":{score}");
        if ask.return_documents {
            let _ = write!(out, ",\"document\":{{\"text\":{}}}", quoted(text));
        }
        out.push('}');
    }
    let tokens = u64_of(raw_at(text, &["usage", "total_tokens"]))
        .or_else(|| u64_of(raw_at(text, &["meta", "tokens", "input_tokens"])))
        .unwrap_or(0);
    match (api, raw_at(text, &["meta"])) {
        (Api::Cohere, Some(meta)) => {
            let _ = write!(out, "],\"meta\":{meta}}}");
        }
        _ => {
            let _ = write!(
                out,
                "],\"meta\":{{\"billed_units\":{{\"input_tokens\":{tokens}}}}}}}"
            );
        }
    }
    let usage = Usage {
        input_tokens: tokens,
        ..Usage::default()
    };
    Ok((out.into_bytes(), usage))
}

#[cfg(test)]
mod tests;
