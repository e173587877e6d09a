//! Virtual keys through the whole pipeline with in-memory ports and ledger:
//! the admin API, refusals in each ingress's shape, reservations settled
//! with the real cost.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dx_core::ports::{
    Background, BoxFuture, Clock, Env, HttpClient, Log, Sleep, TransportError, UpstreamResponse,
};
use dx_core::state::accounts::{Accounts, MemoryAccounts, Op};
use dx_core::{Body, Config, Gateway, IncomingRequest};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

const MASTER: &str = "sk-dx-master-test";
const CHAT: &[u8] = include_bytes!("../../fixtures/openai/chat-completion-text.json");

#[derive(Clone, Default)]
struct Fake {
    deferred: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Fake {
    async fn send(&self, _req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        Ok(UpstreamResponse::full(
            StatusCode::OK,
            headers,
            Bytes::from_static(CHAT),
        ))
    }
}
impl Clock for Fake {
    fn now_ms(&self) -> u64 {
        1_780_000_000_000
    }
}
impl Sleep for Fake {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}
impl Background for Fake {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.deferred.lock().unwrap().push(work);
    }
}
impl Env for Fake {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "DX_MASTER_KEY" => Some(MASTER.into()),
            "OPENAI_API_KEY" => Some("sk-upstream".into()),
            _ => None,
        }
    }
}
impl Log for Fake {
    fn log(&self, line: &str) {
        self.logs.lock().unwrap().push(line.to_owned());
    }
}

struct Gw {
    fake: Fake,
    gw: Gateway,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Gw {
    fn new() -> Self {
        Gw::with_config(Config::default())
    }

    fn with_config(config: Config) -> Self {
        Gw::sharing(config, Arc::new(MemoryAccounts::default()))
    }

    /// Another instance of the same deployment: its own memory, the same ledgers.
    fn sharing(config: Config, accounts: Arc<dyn Accounts>) -> Self {
        let fake = Fake::default();
        let gw = Gateway::new(Arc::new(config), &fake).with_accounts(accounts);
        Gw { fake, gw }
    }

    fn say(&self, key: &str, text: &str) -> Answer {
        let body =
            json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": text}]});
        self.send(Method::POST, "/v1/chat/completions", key, Some(body))
    }

    fn send(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Answer {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (path, None),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
        let req = IncomingRequest {
            method,
            path: path.into(),
            query,
            headers,
            body: body
                .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap()))
                .unwrap_or_default(),
        };
        let answer = futures::executor::block_on(async {
            let mut resp = self.gw.handle(&self.fake, req).await;
            let body = match std::mem::replace(resp.body_mut(), Body::Empty) {
                Body::Empty => Vec::new(),
                Body::Full(b) => b.to_vec(),
                Body::Stream(s) => s.collect::<Vec<Bytes>>().await.concat(),
            };
            Answer {
                status: resp.status(),
                headers: resp.headers().clone(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            }
        });
        let work: Vec<_> = self.fake.deferred.lock().unwrap().drain(..).collect();
        for w in work {
            futures::executor::block_on(w);
        }
        answer
    }

    fn admin(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, MASTER, Some(body))
    }

    fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, MASTER, None)
    }

    fn chat(&self, key: &str, model: &str) -> Answer {
        let body = json!({"model": model, "max_tokens": 400, "messages": [{"role": "user", "content": "hi"}]});
        self.send(Method::POST, "/v1/chat/completions", key, Some(body))
    }

    fn messages(&self, key: &str, model: &str) -> Answer {
        let body = json!({"model": model, "max_tokens": 400, "messages": [{"role": "user", "content": "hi"}]});
        self.send(Method::POST, "/v1/messages", key, Some(body))
    }
}

fn cost(a: &Answer) -> f64 {
    a.headers["x-dx-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_budget_admits_what_it_pays_for_and_records_the_exact_spend() {
    let g = Gw::new();
    let probe = g.admin("/key/generate", json!({}));
    let probe_key = probe.body["key"].as_str().unwrap().to_owned();
    let one = cost(&g.chat(&probe_key, "openai/gpt-4o-mini"));
    assert!(one > 0.0);
    // Pays for exactly three answers.
    let k = g.admin(
        "/key/generate",
        json!({"max_budget": one * 3.0, "budget_duration": "1d"}),
    );
    assert_eq!(k.status, 200, "{}", k.body);
    let key = k.body["key"].as_str().unwrap().to_owned();
    let mut served = 0;
    for _ in 0..6 {
        let a = g.chat(&key, "openai/gpt-4o-mini");
        if a.status == 200 {
            served += 1;
            assert!(a.headers.contains_key("x-dx-budget-remaining"));
        } else {
            assert_eq!(a.status, 429);
            assert_eq!(a.body["error"]["code"], "budget_exceeded");
        }
    }
    assert!((1..=3).contains(&served), "{served}");
    let info = g.get(&format!(
        "/key/info?key={}",
        k.body["token"].as_str().unwrap()
    ));
    let spend = info.body["info"]["spend"].as_f64().unwrap();
    assert!(
        (spend - one * served as f64).abs() < 1e-12,
        "{spend} vs {served} x {one}"
    );
    assert!(spend <= one * 3.0 + 1e-12);
    // The spend log has one entry per served request, attributed.
    let logs = g.get(&format!(
        "/spend/logs?api_key={}",
        k.body["token"].as_str().unwrap()
    ));
    assert_eq!(
        logs.body
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == 200)
            .count(),
        served
    );
    // No key in any log line.
    let lines = g.fake.logs.lock().unwrap().join("\n");
    assert!(!lines.contains(&key) && !lines.contains(&probe_key));
}

#[test]
fn rate_limits_answer_429_with_retry_after_and_headers() {
    let g = Gw::new();
    let k = g.admin(
        "/key/generate",
        json!({"rpm_limit": 2, "tpm_limit": 1_000_000}),
    );
    let key = k.body["key"].as_str().unwrap().to_owned();
    let a = g.chat(&key, "openai/gpt-4o-mini");
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["x-ratelimit-limit-requests"], "2");
    assert_eq!(a.headers["x-ratelimit-remaining-requests"], "1");
    assert_eq!(a.headers["x-ratelimit-limit-tokens"], "1000000");
    assert_eq!(g.chat(&key, "openai/gpt-4o-mini").status, 200);
    let a = g.chat(&key, "openai/gpt-4o-mini");
    assert_eq!(a.status, 429);
    assert_eq!(a.body["error"]["code"], "rate_limit_exceeded");
    assert!(a.headers.contains_key("retry-after"));
    // The Anthropic ingress refuses in Anthropic's shape.
    let a = g.messages(&key, "openai/gpt-4o-mini");
    assert_eq!(a.status, 429);
    assert_eq!(a.body["type"], "error");
}

#[test]
fn blocked_deleted_and_expired_keys_and_model_lists() {
    let g = Gw::new();
    let k = g.admin(
        "/key/generate",
        json!({"models": ["openai/*"], "blocked_models": ["openai/gpt-4o"]}),
    );
    let key = k.body["key"].as_str().unwrap().to_owned();
    assert_eq!(g.chat(&key, "openai/gpt-4o-mini").status, 200);
    let a = g.chat(&key, "openai/gpt-4o");
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "model_not_allowed");
    assert_eq!(g.admin("/key/block", json!({"key": key})).status, 200);
    let a = g.chat(&key, "openai/gpt-4o-mini");
    assert_eq!(
        (a.status.as_u16(), a.body["error"]["code"].clone()),
        (401, json!("key_blocked"))
    );
    assert_eq!(g.admin("/key/unblock", json!({"key": key})).status, 200);
    assert_eq!(g.chat(&key, "openai/gpt-4o-mini").status, 200);
    assert_eq!(g.admin("/key/delete", json!({"keys": [key]})).status, 200);
    assert_eq!(g.chat(&key, "openai/gpt-4o-mini").status, 401);
    // The fake clock never moves: a 1-second key made now is live.
    let k = g.admin("/key/generate", json!({"duration": "1s"}));
    let key = k.body["key"].as_str().unwrap().to_owned();
    assert_eq!(g.chat(&key, "openai/gpt-4o-mini").status, 200);
    let token = k.body["token"].as_str().unwrap();
    let rec = g.get(&format!("/key/info?key={token}")).body["info"].clone();
    assert_eq!(rec["expires"], json!(1_780_000_001_000u64));
    // `expires` is not an input: the record is changed only through `duration`.
    assert_eq!(
        g.admin("/key/update", json!({"key": token, "expires": 0}))
            .status,
        400
    );
    // The master key is not a virtual key and a non-admin key is no admin.
    let a = g.send(Method::POST, "/key/generate", &key, Some(json!({})));
    assert_eq!(a.status, 403);
}

#[test]
fn bad_admin_input_changes_nothing() {
    let g = Gw::new();
    let before = g.get("/key/list").body["total_count"].clone();
    for bad in [
        json!({"max_budget": -1}),
        json!({"max_budget": "10"}),
        json!({"max_budget": 1e300}),
        json!({"rpm_limit": 1.5}),
        json!({"unknown": true}),
        json!({"team_id": "no-such-team"}),
        json!({"budget_duration": "fortnight"}),
        json!({"key": "sk-dx-chosen"}),
    ] {
        let a = g.admin("/key/generate", bad.clone());
        assert!(a.status.is_client_error(), "{bad}: {}", a.status);
        assert!(a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(g.get("/key/list").body["total_count"], before);
    let a = g.send(Method::POST, "/key/generate", MASTER, None);
    assert_eq!(a.status, 400);
}

#[test]
fn a_team_budget_is_shared_by_its_keys() {
    let g = Gw::new();
    let probe = g.admin("/key/generate", json!({}));
    let one = cost(&g.chat(probe.body["key"].as_str().unwrap(), "openai/gpt-4o-mini"));
    let t = g.admin(
        "/team/new",
        json!({"team_id": "red", "max_budget": one * 2.0}),
    );
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(g.admin("/team/new", json!({"team_id": "red"})).status, 409);
    let keys: Vec<String> = (0..3)
        .map(|_| {
            g.admin("/key/generate", json!({"team_id": "red"})).body["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let served = keys
        .iter()
        .cycle()
        .take(6)
        .filter(|k| g.chat(k, "openai/gpt-4o-mini").status == 200)
        .count();
    assert!((1..=2).contains(&served), "{served}");
    let info = g.get("/team/info?team_id=red");
    let spend = info.body["team_info"]["spend"].as_f64().unwrap();
    assert!((spend - one * served as f64).abs() < 1e-12);
    assert_eq!(info.body["keys"].as_array().unwrap().len(), 3);
    let act = g.get("/team/daily/activity?team_id=red");
    assert_eq!(
        act.body["metadata"]["api_requests"].as_u64().unwrap() as usize,
        served
    );
    // A user in the team is charged there too.
    assert_eq!(
        g.admin("/user/new", json!({"user_id": "ann", "team_id": "red"}))
            .status,
        200
    );
    let u = g.admin("/key/generate", json!({"user_id": "ann"}));
    assert_eq!(u.body["team_id"], "red");
}

/// Sets declared `attach = "key"` apply to the requests of keys whose key,
/// user or team record names them, and only to those; sets for everyone
/// apply to every key and cannot be attached (or detached).
#[test]
fn guardrail_sets_attached_to_a_key_or_its_team_apply_to_their_requests_only() {
    let config = Config::parse(
        "[[guardrails]]\nname = \"everyone\"\nkeywords = [\"internal only\"]\n\
         [[guardrails]]\nname = \"strict\"\nkeywords = [\"foo\"]\nattach = \"key\"\n",
    )
    .unwrap();
    let g = Gw::with_config(config);
    let before = g.get("/key/list").body["total_count"].clone();
    for bad in [
        json!(["nope"]),
        json!(["everyone"]),
        json!("strict"),
        json!([1]),
    ] {
        let a = g.admin("/key/generate", json!({ "guardrails": bad }));
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    assert_eq!(g.get("/key/list").body["total_count"], before);
    let key_of = |a: Answer| a.body["key"].as_str().unwrap().to_owned();
    let strict = key_of(g.admin("/key/generate", json!({"guardrails": ["strict"]})));
    let plain = key_of(g.admin("/key/generate", json!({})));
    assert_eq!(
        g.admin(
            "/team/new",
            json!({"team_id": "t1", "guardrails": ["strict"]})
        )
        .status,
        200
    );
    let in_team = key_of(g.admin("/key/generate", json!({"team_id": "t1"})));
    for (key, refused) in [
        (&strict, true),
        (&in_team, true),
        (&plain, false),
        (&MASTER.to_owned(), false),
    ] {
        let a = g.say(key, "tell me about foo");
        if refused {
            assert_eq!(a.status, 400, "{}", a.body);
            assert_eq!(a.body["error"]["code"], "guardrail_blocked");
            assert!(a.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`strict`"));
        } else {
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let a = g.say(key, "this is internal only");
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`everyone`"));
    }
    // Detaching the team's set takes effect on the team's next request.
    assert_eq!(
        g.admin("/team/update", json!({"team_id": "t1", "guardrails": []}))
            .status,
        200
    );
    assert_eq!(g.say(&in_team, "tell me about foo").status, 200);
}

#[test]
fn a_key_s_or_team_s_residency_keeps_its_requests_in_its_regions() {
    let config = Config::parse(
        "[[model_list]]\nmodel_name = \"g\"\nid = \"us\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\nregion = \"us-east-1\"\n\
         [[model_list]]\nmodel_name = \"g\"\nid = \"eu\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\nregion = \"europe-west4\"\n\
         [[model_list]]\nmodel_name = \"us-only\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\nregion = \"us-east-1\"\n",
    )
    .unwrap();
    let g = Gw::with_config(config);
    assert_eq!(
        g.admin("/key/generate", json!({"residency": "eu; drop table"}))
            .status,
        400
    );
    let key_of = |a: Answer| a.body["key"].as_str().unwrap().to_owned();
    let eu = key_of(g.admin("/key/generate", json!({"residency": "eu"})));
    assert_eq!(
        g.admin("/team/new", json!({"team_id": "t-eu", "residency": "eu"}))
            .status,
        200
    );
    let in_team = key_of(g.admin("/key/generate", json!({"team_id": "t-eu"})));
    for key in [&eu, &in_team] {
        for _ in 0..10 {
            let a = g.chat(key, "g");
            assert_eq!(a.status, 200, "{}", a.body);
            assert_eq!(a.headers["x-dx-deployment"], "eu");
        }
        let a = g.chat(key, "us-only");
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(a.body["error"]["code"], "residency_violation");
    }
    // The master key and unrestricted keys use either.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let a = g.chat(MASTER, "g");
        seen.insert(a.headers["x-dx-deployment"].to_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn the_key_list_carries_spend_when_asked() {
    let g = Gw::new();
    let k = g.admin(
        "/key/generate",
        json!({"key_alias": "listed", "max_budget": 1.0, "budget_duration": "1d"}),
    );
    let key = k.body["key"].as_str().unwrap().to_owned();
    let one = cost(&g.chat(&key, "openai/gpt-4o-mini"));
    assert!(one > 0.0);
    let token = k.body["token"].as_str().unwrap();
    let find = |path: &str| {
        let list = g.get(path);
        assert_eq!(list.status, 200, "{}", list.body);
        list.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["token"] == token)
            .cloned()
            .unwrap()
    };
    let plain = find("/key/list?return_full_object=true");
    assert_eq!(plain["key_alias"], "listed");
    assert!(plain.get("spend").is_none());
    let with = find("/key/list?return_full_object=true&include_spend=true");
    assert!(
        (with["spend"].as_f64().unwrap() - one).abs() < 1e-12,
        "{with}"
    );
    assert!((with["budget_remaining"].as_f64().unwrap() - (1.0 - one)).abs() < 1e-12);
    // Never the key itself.
    assert!(!with.to_string().contains(&key));
}

#[test]
fn a_spent_budget_sends_the_request_to_a_free_local_deployment() {
    let config = Config::parse(
        "[[model_list]]\nmodel_name = \"chat\"\nid = \"cloud\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\norder = 1\n\
         [[model_list]]\nmodel_name = \"chat\"\nid = \"local\"\nprovider = \"openai_compatible\"\nmodel = \"llama3\"\n\
         api_base = \"http://127.0.0.1:11434/v1\"\norder = 2\ninput_cost_per_token = 0\noutput_cost_per_token = 0\n\
         [[model_list]]\nmodel_name = \"cloud-only\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n",
    )
    .unwrap();
    let g = Gw::with_config(config);
    let key_of = |a: Answer| a.body["key"].as_str().unwrap().to_owned();
    let rich = key_of(g.admin("/key/generate", json!({"max_budget": 10.0})));
    let broke = key_of(g.admin("/key/generate", json!({"max_budget": 0.000001})));
    let a = g.chat(&rich, "chat");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["x-dx-deployment"], "cloud");
    assert!(a.headers.get("x-dx-fallback").is_none());
    let a = g.chat(&broke, "chat");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["x-dx-deployment"], "local");
    assert_eq!(a.headers["x-dx-fallback"], "chat -> chat (budget)");
    // Nothing free to go to: the budget's refusal stands.
    let a = g.chat(&broke, "cloud-only");
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "budget_exceeded");
}

/// The ledger calls an instance makes, by kind.
#[derive(Default)]
struct Counting {
    inner: MemoryAccounts,
    calls: Mutex<Vec<&'static str>>,
}

impl Accounts for Counting {
    fn call<'a>(
        &'a self,
        ledger: &'a str,
        op: Op,
    ) -> BoxFuture<'a, Result<dx_core::state::accounts::Answer, String>> {
        let kind = match &op {
            Op::Identity { .. } => "identity",
            Op::Reserve { check: Some(_), .. } => "checked reserve",
            Op::Reserve { .. } => "reserve",
            Op::Settle { .. } => "settle",
            _ => "other",
        };
        self.calls.lock().unwrap().push(kind);
        self.inner.call(ledger, op)
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        self.inner.random(out)
    }
}

impl Counting {
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[test]
fn a_remembered_key_costs_one_call_before_the_answer_and_revocation_still_counts_at_once() {
    let ledgers = Arc::new(Counting::default());
    let admin = Gw::sharing(Config::default(), ledgers.clone());
    let serving = Gw::sharing(Config::default(), ledgers.clone());
    assert_eq!(
        admin.admin("/team/new", json!({"team_id": "t1"})).status,
        200
    );
    let k = admin.admin(
        "/key/generate",
        json!({"team_id": "t1", "rpm_limit": 100, "max_budget": 10.0}),
    );
    let key = k.body["key"].as_str().unwrap().to_owned();
    let token = k.body["token"].as_str().unwrap().to_owned();
    ledgers.take();

    // First request: looked up, reserved, settled. Then the instance
    // remembers the key: one checked reservation, then the settlement.
    assert_eq!(serving.say(&key, "hi").status, 200);
    assert_eq!(ledgers.take(), ["identity", "reserve", "settle"]);
    assert_eq!(serving.say(&key, "hi").status, 200);
    assert_eq!(ledgers.take(), ["checked reserve", "settle"]);
    // Endpoints that reserve nothing still look the key up every time.
    let models = serving.send(Method::GET, "/v1/models", &key, None);
    assert_eq!(models.status, 200);
    assert_eq!(ledgers.take(), ["identity"]);

    // Blocked through the other instance: refused on the very next request.
    let blocked = admin.admin("/key/block", json!({"key": token}));
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    ledgers.take();
    let a = serving.say(&key, "hi");
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "key_blocked");
    assert_eq!(ledgers.take(), ["checked reserve"], "no hold was taken");
    let a = serving.say(&key, "hi");
    assert_eq!(a.status, 401);
    assert_eq!(
        ledgers.take(),
        ["identity"],
        "a refused key is looked up again"
    );
    assert_eq!(
        admin.admin("/key/unblock", json!({"key": token})).status,
        200
    );
    assert_eq!(serving.say(&key, "hi").status, 200);

    // A team guardrail attached through the other instance applies to the
    // next request, though the stages before admission saw the old records.
    let config = Config::parse(
        "[[guardrails]]\nname = \"strict\"\nkeywords = [\"foo\"]\nattach = \"key\"\n",
    )
    .unwrap();
    let admin = Gw::sharing(config.clone(), ledgers.clone());
    let serving = Gw::sharing(config, ledgers.clone());
    assert_eq!(serving.say(&key, "tell me about foo").status, 200);
    assert_eq!(serving.say(&key, "tell me about foo").status, 200);
    let set = admin.admin(
        "/team/update",
        json!({"team_id": "t1", "guardrails": ["strict"]}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    ledgers.take();
    let a = serving.say(&key, "tell me about foo");
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "guardrail_blocked");
    assert_eq!(
        ledgers.take(),
        ["checked reserve"],
        "refused before any hold"
    );
    // And detached: the remembered records block, a lookup finds them
    // changed, and the exchange runs again under the new ones.
    let unset = admin.admin("/team/update", json!({"team_id": "t1", "guardrails": []}));
    assert_eq!(unset.status, 200);
    ledgers.take();
    assert_eq!(serving.say(&key, "tell me about foo").status, 200);
    assert_eq!(ledgers.take(), ["identity", "reserve", "settle"]);
    // A refusal on unchanged records is looked up once, and stands.
    let bad = json!({"model": "openai/gpt-4o-mini", "messages": "not a list"});
    let a = serving.send(Method::POST, "/v1/chat/completions", &key, Some(bad));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(ledgers.take(), ["identity"]);
}
