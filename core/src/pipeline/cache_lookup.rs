//! Stage 4: the exact-match response cache.
//!
//! The key is SHA-256 over the ingress format, the resolved model group, the
//! tenant (team, else key, else the master key / open gateway) and the body
//! with the fields that do not change the answer taken out (`stream`,
//! `stream_options`, `user`, `metadata`, `cache`, `model`: the group stands
//! for it), its keys sorted. A hit answers in the client's format, as a
//! stream when it asked for one; it costs nothing and reserves no budget.
//!
//! An entry is `DXC1`, when it was stored (ms, 8 bytes big-endian), its
//! kind, then the body: a whole answer (JSON in the ingress's format), or a
//! stream as relayed (with or without its usage chunk). A whole answer serves
//! both kinds of client; a stored stream serves only streams that ask for
//! usage the same way (a whole-answer client then misses and stores a whole
//! answer over it). Only answers that completed are stored: never an error,
//! a cut or failed stream, or a stream under an output guard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::authenticate::Principal;
use super::{sse, Call, Exchange, Ingress};
use crate::codec::{self, DecodeContext};
use crate::config::CacheSettings;
use crate::http::{json, Body, GatewayResponse};
use crate::ports::{Background, Log, MaybeSend, Ports};
use crate::state::CacheStore;
use crate::stream::{whole, BodyStream};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    #[default]
    Off,
    /// Looked up, not found (a stream is stored after it ends).
    Miss,
    Hit,
    /// The client asked not to read the cache (`no-cache`).
    Bypass,
    /// Not found (or not looked up), and the whole answer was stored.
    Stored,
}

impl CacheStatus {
    pub fn is_off(&self) -> bool {
        *self == CacheStatus::Off
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CacheStatus::Off => "off",
            CacheStatus::Miss => "miss",
            CacheStatus::Hit => "hit",
            CacheStatus::Bypass => "bypass",
            CacheStatus::Stored => "stored",
        }
    }
}

/// What the cache does for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub key: String,
    pub ttl_ms: u64,
    /// Read the cache (not `no-cache`).
    pub lookup: bool,
    /// Store the answer (not `no-store`).
    pub store: bool,
    pub max_bytes: usize,
}

/// Fields that never change the answer.
const NOT_IN_KEY: &[&str] = &[
    "stream",
    "stream_options",
    "user",
    "metadata",
    "cache",
    "model",
];

/// The tenant a cache entry belongs to: one team never reads another's.
pub fn tenant(p: &Principal) -> String {
    match p {
        Principal::Key(id) => match &id.key.team_id {
            Some(team) => format!("team:{team}"),
            None => format!("key:{}", id.key.token),
        },
        Principal::MasterKey => "master".into(),
        Principal::Open => "open".into(),
    }
}

/// The cache's plan for a request, or `None` when it is off for it (no
/// `[cache]`, a group with TTL 0, a body that is not a JSON object).
pub fn plan(
    settings: Option<&CacheSettings>,
    format: &str,
    group: &str,
    body: &[u8],
    headers: &HeaderMap,
    principal: &Principal,
) -> Option<Plan> {
    let settings = settings?;
    let mut ttl_ms = settings.ttl_ms(group);
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let (mut lookup, mut store) = (true, true);
    for directive in headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        match directive.trim().to_ascii_lowercase().as_str() {
            "no-cache" => lookup = false,
            "no-store" => store = false,
            _ => {}
        }
    }
    // LiteLLM's `cache` field: {"no-cache": true, "no-store": true, "ttl": s}.
    if let Some(Value::Object(c)) = fields.get("cache") {
        if c.get("no-cache").and_then(Value::as_bool) == Some(true) {
            lookup = false;
        }
        if c.get("no-store").and_then(Value::as_bool) == Some(true) {
            store = false;
        }
        if let Some(s) = c.get("ttl").and_then(Value::as_f64) {
            if s >= 0.0 {
                ttl_ms = (s * 1000.0) as u64;
            }
        }
    }
    if ttl_ms == 0 {
        return None;
    }
    for f in NOT_IN_KEY {
        fields.remove(*f);
    }
    let canonical = serde_json::to_vec(&Value::Object(fields)).ok()?;
    let mut h = Sha256::new();
    for part in [
        format.as_bytes(),
        group.as_bytes(),
        tenant(principal).as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(&canonical);
    let key = h
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Some(Plan {
        key: format!("rc:{key}"),
        ttl_ms,
        lookup,
        store,
        max_bytes: settings.max_entry_bytes,
    })
}

const MAGIC: &[u8; 4] = b"DXC1";

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Whole = 0,
    StreamWithUsage = 1,
    StreamWithoutUsage = 2,
}

pub fn encode(stored_ms: u64, kind: Kind, body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(13 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&stored_ms.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// `(stored_ms, kind, body)`; `None` for anything else.
pub fn decode(entry: &Bytes) -> Option<(u64, Kind, Bytes)> {
    let rest = entry.strip_prefix(MAGIC)?;
    let (ms, rest) = rest.split_first_chunk::<8>()?;
    let (kind, _) = rest.split_first()?;
    let kind = match kind {
        0 => Kind::Whole,
        1 => Kind::StreamWithUsage,
        2 => Kind::StreamWithoutUsage,
        _ => return None,
    };
    Some((u64::from_be_bytes(*ms), kind, entry.slice(13..)))
}

/// The cached answer for this client, or `None` when the entry cannot serve
/// it (see the module's text).
pub fn replay<I: Ingress>(
    ingress: &I,
    parsed: &I::Parsed<'_>,
    entry: &Bytes,
    now_ms: u64,
) -> Option<GatewayResponse> {
    let (stored_ms, kind, body) = decode(entry)?;
    let stream = ingress.stream(parsed);
    let usage = ingress.include_usage(parsed);
    let mut resp = match (kind, stream) {
        (Kind::Whole, false) => json(StatusCode::OK, body),
        (Kind::Whole, true) => {
            let ctx = DecodeContext {
                now_ms,
                model: "",
                id_prefix: I::ID_PREFIX,
            };
            let answer = codec::decode_response(ingress.codec()?, &body, &ctx).ok()?;
            let chunks = whole::chunks_of(&answer, usage);
            sse(ingress.render_chunks(&chunks, &answer.model, answer.usage, &None))
        }
        (Kind::StreamWithUsage, true) if usage => sse(once(body)),
        (Kind::StreamWithoutUsage, true) if !usage => sse(once(body)),
        _ => return None,
    };
    let h = resp.headers_mut();
    h.insert(
        "age",
        HeaderValue::from(now_ms.saturating_sub(stored_ms) / 1000),
    );
    h.insert("x-dx-cost-usd", HeaderValue::from_static("0"));
    Some(resp)
}

fn once(body: Bytes) -> BodyStream {
    Box::pin(futures::stream::once(async move { body }))
}

/// Where an answer goes once it is known to be whole and clean.
pub struct Fill {
    pub store: Arc<dyn CacheStore>,
    pub key: String,
    pub ttl_ms: u64,
    pub max_bytes: usize,
    pub now_ms: u64,
}

impl Fill {
    /// Stores a whole answer in the background; whether it was handed over.
    pub fn whole<P: Background + Log + Clone + MaybeSend + 'static>(
        self,
        ports: &P,
        resp: &GatewayResponse,
    ) -> bool {
        let Body::Full(body) = resp.body() else {
            return false;
        };
        if resp.status() != StatusCode::OK || body.len() > self.max_bytes {
            return false;
        }
        let entry = encode(self.now_ms, Kind::Whole, body);
        self.put(ports.clone(), entry);
        true
    }

    /// A store that fails is logged (its message only: never a key or a
    /// body); the request it came from has been answered already.
    fn put<P: Background + Log + Clone + MaybeSend + 'static>(self, ports: P, entry: Bytes) {
        let Fill {
            store, key, ttl_ms, ..
        } = self;
        let log = ports.clone();
        ports.defer(Box::pin(async move {
            if let Err(e) = store.put(&key, entry, ttl_ms).await {
                let line =
                    serde_json::json!({"event": "cache_store", "outcome": "error", "error": e});
                log.log(&line.to_string());
            }
        }));
    }

    /// Passes `body` through and stores it once it ended and `clean` says
    /// the relay completed (set by the stream's settler before the end).
    pub fn tee<P: Background + Log + Clone + MaybeSend + 'static>(
        self,
        ports: P,
        body: BodyStream,
        clean: Arc<AtomicBool>,
        kind: Kind,
    ) -> BodyStream {
        use futures::StreamExt;
        struct St<P> {
            inner: BodyStream,
            buf: Option<Vec<u8>>,
            fill: Option<Fill>,
            ports: P,
            clean: Arc<AtomicBool>,
            kind: Kind,
        }
        let st = St {
            inner: body,
            buf: Some(Vec::new()),
            fill: Some(self),
            ports,
            clean,
            kind,
        };
        Box::pin(futures::stream::unfold(st, |mut st| async move {
            match st.inner.next().await {
                Some(bytes) => {
                    let max = st.fill.as_ref().map_or(0, |f| f.max_bytes);
                    if let Some(buf) = &mut st.buf {
                        if buf.len() + bytes.len() > max {
                            st.buf = None;
                        } else {
                            buf.extend_from_slice(&bytes);
                        }
                    }
                    Some((bytes, st))
                }
                None => {
                    if let (Some(buf), Some(fill), true) = (
                        st.buf.take(),
                        st.fill.take(),
                        st.clean.load(Ordering::SeqCst),
                    ) {
                        let entry = encode(fill.now_ms, st.kind, &buf);
                        fill.put(st.ports.clone(), entry);
                    }
                    None
                }
            }
        }))
    }
}

/// The store and the cache's plan for a request, when both exist.
pub type Cached<'g> = Option<(&'g Arc<dyn CacheStore>, Plan)>;

/// The cache's plan for this request; `format` is the ingress's id prefix
/// (its name in keys), `group` the name routing resolved.
pub fn for_request<'g, P: Ports>(
    call: &Call<'g, P>,
    ex: &Exchange,
    format: &str,
    group: &str,
    body: &[u8],
    headers: &HeaderMap,
) -> Cached<'g> {
    let store = call.cache?;
    let planned = plan(
        call.config.cache.as_ref(),
        format,
        group,
        body,
        headers,
        &ex.principal,
    )?;
    Some((store, planned))
}

/// The stored entry and the tier it came from, when the plan looks one up
/// and there is one; the exchange says bypass or miss meanwhile. A store
/// that fails is a miss.
pub async fn fetch<P: Ports>(
    call: &Call<'_, P>,
    ex: &mut Exchange,
    cached: &Cached<'_>,
) -> crate::state::cache::Found {
    let (store, plan) = cached.as_ref()?;
    ex.cache = CacheStatus::Bypass;
    if !plan.lookup {
        return None;
    }
    ex.cache = CacheStatus::Miss;
    match store.lookup(&plan.key).await {
        Ok(entry) => entry,
        Err(e) => {
            let line = serde_json::json!({"event": "cache_lookup", "outcome": "error", "error": e});
            call.ports.log(&line.to_string());
            None
        }
    }
}

/// After the answer: a whole one is stored now, a stream once it ended
/// cleanly (`clean_end`); a stream under an output guard may be cut by it
/// and is not stored.
pub fn fill<P: Ports>(
    call: &Call<'_, P>,
    resp: &mut GatewayResponse,
    ex: &mut Exchange,
    cached: Cached<'_>,
    clean_end: Option<Arc<AtomicBool>>,
    guarded_output: bool,
    include_usage: bool,
) {
    // An answer cut short by a budget (`max_tokens_clamped`) is not the
    // answer to the request the cache keys: it is not stored.
    let Some((store, plan)) = cached.filter(|(_, p)| p.store && ex.output_bound.is_none()) else {
        return;
    };
    let fill = Fill {
        store: store.clone(),
        key: plan.key,
        ttl_ms: plan.ttl_ms,
        max_bytes: plan.max_bytes,
        now_ms: call.ports.now_ms(),
    };
    match std::mem::replace(resp.body_mut(), Body::Empty) {
        Body::Stream(s) => match clean_end {
            Some(clean) if !guarded_output => {
                let kind = if include_usage {
                    Kind::StreamWithUsage
                } else {
                    Kind::StreamWithoutUsage
                };
                *resp.body_mut() = Body::Stream(fill.tee(call.ports.clone(), s, clean, kind));
            }
            _ => *resp.body_mut() = Body::Stream(s),
        },
        other => {
            *resp.body_mut() = other;
            if fill.whole(&call.ports, resp) {
                ex.cache = CacheStatus::Stored;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::charge::Identity;
    use crate::keys::records::KeyRecord;

    fn settings() -> CacheSettings {
        CacheSettings::default()
    }

    fn key_of(body: &serde_json::Value, principal: &Principal) -> String {
        let body = body.to_string();
        plan(
            Some(&settings()),
            "chatcmpl-",
            "g",
            body.as_bytes(),
            &HeaderMap::new(),
            principal,
        )
        .unwrap()
        .key
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "model": "g",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2,
            "seed": 1,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "response_format": {"type": "json_object"},
        })
    }

    fn key_principal(team: Option<&str>, token: &str) -> Principal {
        Principal::Key(Arc::new(Identity {
            key: KeyRecord {
                token: token.into(),
                team_id: team.map(str::to_owned),
                ..KeyRecord::default()
            },
            user: None,
            team: None,
            ..Identity::default()
        }))
    }

    #[test]
    fn every_field_that_changes_the_answer_changes_the_key() {
        let p = Principal::MasterKey;
        let k = key_of(&base(), &p);
        let changes: &[(&str, serde_json::Value)] = &[
            (
                "messages",
                serde_json::json!([{"role": "user", "content": "hi!"}]),
            ),
            ("temperature", serde_json::json!(0.3)),
            ("seed", serde_json::json!(2)),
            ("tools", serde_json::json!([])),
            ("response_format", serde_json::json!({"type": "text"})),
            ("max_tokens", serde_json::json!(10)),
        ];
        for (field, value) in changes {
            let mut b = base();
            b[*field] = value.clone();
            assert_ne!(key_of(&b, &p), k, "{field} must change the key");
        }
        // the group, the format and the tenant too
        let body = base().to_string();
        let other = |format: &str, group: &str, p: &Principal| {
            plan(
                Some(&settings()),
                format,
                group,
                body.as_bytes(),
                &HeaderMap::new(),
                p,
            )
            .unwrap()
            .key
        };
        assert_ne!(other("chatcmpl-", "g2", &p), k);
        assert_ne!(other("msg_", "g", &p), k);
        assert_ne!(other("chatcmpl-", "g", &Principal::Open), k);
    }

    #[test]
    fn stream_user_metadata_and_key_order_do_not_change_the_key() {
        let p = Principal::MasterKey;
        let k = key_of(&base(), &p);
        let mut b = base();
        b["stream"] = true.into();
        b["stream_options"] = serde_json::json!({"include_usage": true});
        b["user"] = "u1".into();
        b["metadata"] = serde_json::json!({"run": 7});
        b["cache"] = serde_json::json!({"ttl": 60});
        assert_eq!(key_of(&b, &p), k);
        let reordered = r#"{"seed":1,"response_format":{"type":"json_object"},"temperature":0.2,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"user","content":"hi"}],"model":"g"}"#;
        let got = plan(
            Some(&settings()),
            "chatcmpl-",
            "g",
            reordered.as_bytes(),
            &HeaderMap::new(),
            &p,
        )
        .unwrap()
        .key;
        assert_eq!(got, k);
    }

    #[test]
    fn two_teams_or_two_lone_keys_never_share_an_entry() {
        let a = key_of(&base(), &key_principal(Some("team-a"), "h1"));
        let b = key_of(&base(), &key_principal(Some("team-b"), "h1"));
        let a2 = key_of(&base(), &key_principal(Some("team-a"), "h2"));
        assert_ne!(a, b);
        assert_eq!(a, a2, "keys of one team share its cache");
        let k1 = key_of(&base(), &key_principal(None, "h1"));
        let k2 = key_of(&base(), &key_principal(None, "h2"));
        assert_ne!(k1, k2);
        assert_ne!(k1, key_of(&base(), &Principal::MasterKey));
    }

    #[test]
    fn request_controls_and_group_ttls_shape_the_plan() {
        let body = base().to_string();
        let mut s = settings();
        s.groups.insert("off".into(), 0);
        s.groups.insert("short".into(), 5);
        let h = HeaderMap::new();
        let p = Principal::Open;
        let plan_for = |group: &str, body: &str, h: &HeaderMap| {
            plan(Some(&s), "chatcmpl-", group, body.as_bytes(), h, &p)
        };
        let g = plan_for("g", &body, &h).unwrap();
        assert_eq!((g.ttl_ms, g.lookup, g.store), (300_000, true, true));
        assert_eq!(plan_for("off", &body, &h), None);
        assert_eq!(plan_for("short", &body, &h).unwrap().ttl_ms, 5_000);
        assert_eq!(plan(None, "chatcmpl-", "g", body.as_bytes(), &h, &p), None);
        let mut cc = HeaderMap::new();
        cc.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("No-Cache, no-store"),
        );
        let g = plan_for("g", &body, &cc).unwrap();
        assert_eq!((g.lookup, g.store), (false, false));
        let mut b = base();
        b["cache"] = serde_json::json!({"no-cache": true, "ttl": 60});
        let g = plan_for("g", &b.to_string(), &h).unwrap();
        assert_eq!((g.lookup, g.store, g.ttl_ms), (false, true, 60_000));
        b["cache"] = serde_json::json!({"no-store": true});
        let g = plan_for("g", &b.to_string(), &h).unwrap();
        assert_eq!((g.lookup, g.store), (true, false));
        assert_eq!(plan_for("g", "not json", &h), None);
    }

    #[test]
    fn global_is_read_as_written_and_off_by_default() {
        let read = |v: serde_json::Value| CacheSettings::read(&v);
        assert!(!read(serde_json::json!({"ttl_s": 60})).unwrap().global);
        assert!(read(serde_json::json!({"global": true})).unwrap().global);
        let e = read(serde_json::json!({"global": "yes"})).unwrap_err();
        assert!(e.contains("`global`"), "{e}");
    }

    #[test]
    fn an_entry_decodes_to_what_was_encoded_and_nothing_else_decodes() {
        let e = encode(1_234, Kind::StreamWithUsage, b"data: x\n\n");
        let (ms, kind, body) = decode(&e).unwrap();
        assert_eq!(
            (ms, kind, &body[..]),
            (1_234, Kind::StreamWithUsage, &b"data: x\n\n"[..])
        );
        assert_eq!(decode(&Bytes::from_static(b"DXC1\0\0")), None);
        assert_eq!(decode(&Bytes::from_static(b"{\"a\":1}")), None);
        let mut bad = e.to_vec();
        bad[12] = 9;
        assert_eq!(decode(&Bytes::from(bad)), None);
    }
}
