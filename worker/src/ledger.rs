//! The ledgers on Workers: one SQLite-backed Durable Object per ledger (a
//! team with its users and keys, a user, or a lone key), running the
//! core's [`apply`] over its own tables. A Durable Object runs one event at
//! a time and `sql.exec` is synchronous, so one call's reads and writes
//! have nothing interleaved; the runtime commits the writes of an event
//! that awaits nothing together.

use dx_core::ports::BoxFuture;
use dx_core::state::accounts::{apply, Accounts, Answer, Op, Tables};
use js_sys::futures::JsFuture;
use js_sys::{Array, Function, Object, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// The Durable Object binding (wrangler.toml `[[durable_objects.bindings]]`).
pub const BINDING: &str = "DX_LEDGER";
/// Spend log entries are kept at most this many per ledger, beyond their TTL.
const MAX_LOG_ROWS: i64 = 100_000;

/// The Durable Object class (wrangler.toml `class_name = "Ledger"`).
///
/// Bound by hand rather than through workers-rs's `#[durable_object]`: its
/// wrappers (alarms, websockets, the storage API, chrono) cost the bundle
/// tens of KB gzip, and the ledger needs `sql.exec` and `fetch` only.
#[wasm_bindgen]
pub struct Ledger {
    sql: JsValue,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, used TEXT NOT NULL, exp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logs (ts INTEGER NOT NULL, id TEXT NOT NULL, v TEXT NOT NULL, exp INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts);
CREATE INDEX IF NOT EXISTS logs_exp ON logs (exp);
";

fn get(target: &JsValue, name: &str) -> Result<JsValue, String> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(js_error)
}

fn method(target: &JsValue, name: &str) -> Result<Function, String> {
    get(target, name)?
        .dyn_into::<Function>()
        .map_err(|_| format!("`{name}` is not a function"))
}

fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "a JavaScript error".into())
}

#[wasm_bindgen]
impl Ledger {
    #[wasm_bindgen(constructor)]
    pub fn new(state: JsValue, _env: JsValue) -> Ledger {
        let sql = get(&state, "storage")
            .and_then(|s| get(&s, "sql"))
            .unwrap_or(JsValue::UNDEFINED);
        if let Err(e) = SqlTables(&sql).run(SCHEMA, vec![]) {
            worker::console_error!("ledger schema: {e}");
        }
        Ledger { sql }
    }

    pub fn fetch(&self, req: web_sys::Request) -> js_sys::Promise {
        let sql = self.sql.clone();
        let text = req.text();
        crate::task::promise(async move {
            let text = match text {
                Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
                Err(_) => None,
            };
            // Nothing is awaited from here on: the call is atomic.
            let answer = match serde_json::from_str::<Op>(text.as_deref().unwrap_or("")) {
                Ok(op) => apply(&mut SqlTables(&sql), op),
                Err(e) => Err(format!("not a ledger operation: {e}")),
            };
            let (status, body) = match answer {
                Ok(a) => (200, serde_json::to_string(&a).unwrap_or_default()),
                Err(e) => (500, e),
            };
            let init = web_sys::ResponseInit::new();
            init.set_status(status);
            web_sys::Response::new_with_opt_str_and_init(Some(&body), &init)
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL)
        })
    }
}

struct SqlTables<'a>(&'a JsValue);

fn text(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn int(v: u64) -> JsValue {
    // Timestamps in ms stay far below 2^53.
    JsValue::from_f64(v.min(1 << 52) as f64)
}

fn as_u64(v: &JsValue) -> u64 {
    v.as_f64().map_or(0, |f| f.max(0.0) as u64)
}

fn as_str(v: &JsValue) -> String {
    v.as_string().unwrap_or_default()
}

impl SqlTables<'_> {
    /// `sql.exec(query, ...bindings).raw()`, every row as an array.
    fn rows(&self, query: &str, bindings: Vec<JsValue>) -> Result<Vec<Array>, String> {
        let exec = method(self.0, "exec")?;
        let args = Array::new();
        args.push(&JsValue::from_str(query));
        for b in &bindings {
            args.push(b);
        }
        let cursor = exec.apply(self.0, &args).map_err(js_error)?;
        let raw = method(&cursor, "raw")?.call0(&cursor).map_err(js_error)?;
        Ok(Array::from(&raw)
            .iter()
            .map(|row| Array::from(&row))
            .collect())
    }

    fn run(&self, query: &str, bindings: Vec<JsValue>) -> Result<(), String> {
        self.rows(query, bindings).map(drop)
    }
}

fn json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

impl Tables for SqlTables<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Value>, String> {
        let rows = self.rows("SELECT v FROM records WHERE k = ?", vec![text(key)])?;
        rows.first().map(|r| json(&as_str(&r.get(0)))).transpose()
    }

    fn put(&mut self, key: &str, value: &Value) -> Result<(), String> {
        self.run(
            "INSERT INTO records (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            vec![text(key), text(&value.to_string())],
        )
    }

    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.run("DELETE FROM records WHERE k = ?", vec![text(key)])
    }

    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Value)>, String> {
        // A range on the primary key: `prefix` up to the next string after it.
        let mut end = prefix.to_owned();
        end.push(char::MAX);
        let rows = self.rows(
            "SELECT k, v FROM records WHERE k >= ? AND k < ? ORDER BY k",
            vec![text(prefix), text(&end)],
        )?;
        rows.iter()
            .map(|r| Ok((as_str(&r.get(0)), json(&as_str(&r.get(1)))?)))
            .collect()
    }

    fn counter(&mut self, name: &str) -> Result<Option<(i64, u64)>, String> {
        let rows = self.rows(
            "SELECT used, exp FROM counters WHERE name = ?",
            vec![text(name)],
        )?;
        Ok(rows
            .first()
            .map(|r| (as_str(&r.get(0)).parse().unwrap_or(0), as_u64(&r.get(1)))))
    }

    fn set_counter(&mut self, name: &str, used: i64, expires_ms: u64) -> Result<(), String> {
        // `used` as text: nano-dollars pass 2^53, which a JS number cannot hold.
        self.run(
            "INSERT INTO counters (name, used, exp) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET used = excluded.used, exp = excluded.exp",
            vec![text(name), text(&used.to_string()), int(expires_ms)],
        )
    }

    fn append_log(
        &mut self,
        ts: u64,
        id: &str,
        entry: &Value,
        expires_ms: u64,
    ) -> Result<(), String> {
        self.run(
            "INSERT INTO logs (ts, id, v, exp) VALUES (?, ?, ?, ?)",
            vec![int(ts), text(id), text(&entry.to_string()), int(expires_ms)],
        )?;
        // Retention: expired entries, and the oldest past the row bound.
        // Both are range deletes over an index (exp; rowid, which grows
        // with every insert), touching only the rows they remove: a scan
        // per request cost CPU and billed rows read in proportion to the
        // log's size (measured: 3.8 -> 5.6 CPU-ms per request as a bench
        // key's log grew by a few thousand rows).
        self.run("DELETE FROM logs WHERE exp <= ?", vec![int(ts)])?;
        self.run(
            "DELETE FROM logs WHERE rowid <= (SELECT max(rowid) FROM logs) - ?",
            vec![JsValue::from_f64(MAX_LOG_ROWS as f64)],
        )
    }

    fn logs(&mut self, now_ms: u64, since: u64, until: u64) -> Result<Vec<Value>, String> {
        let rows = self.rows(
            "SELECT v FROM logs WHERE ts >= ? AND ts < ? AND exp > ? ORDER BY ts",
            vec![int(since), int(until), int(now_ms)],
        )?;
        rows.iter().map(|r| json(&as_str(&r.get(0)))).collect()
    }
}

/// The gateway's side: each call goes to the ledger's Durable Object.
pub struct DoAccounts {
    namespace: JsValue,
}

impl DoAccounts {
    /// `None` when the binding is missing (then only the master key works).
    pub fn new(env: &worker::Env) -> Option<Self> {
        let env: &JsValue = env.as_ref();
        let namespace = get(env, BINDING).ok().filter(|n| n.is_object())?;
        Some(DoAccounts { namespace })
    }

    async fn send(&self, ledger: &str, op: Op) -> Result<Answer, String> {
        let body = serde_json::to_string(&op).map_err(|e| e.to_string())?;
        let mut attempt = 0;
        loop {
            match self.send_once(ledger, &body).await {
                Err(Call::Shed(_)) if attempt < SHED_RETRIES => {
                    // A call the object shed never ran, so sending it again
                    // cannot apply it twice. Full jitter spreads a burst's
                    // retries instead of queueing them all at once again.
                    let mut r = [0u8; 2];
                    let _ = getrandom::fill(&mut r);
                    let cap = 20u64 << attempt;
                    crate::ports::Timer::new(u64::from(u16::from_le_bytes(r)) % cap + 1).await;
                    attempt += 1;
                }
                Err(Call::Shed(e) | Call::Failed(e)) => return Err(e),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    async fn send_once(&self, ledger: &str, body: &str) -> Result<Answer, Call> {
        let ns = &self.namespace;
        let id = method(ns, "idFromName")?
            .call1(ns, &JsValue::from_str(ledger))
            .map_err(js_error)?;
        let stub = method(ns, "get")?.call1(ns, &id).map_err(js_error)?;
        let init = Object::new();
        Reflect::set(&init, &"method".into(), &"POST".into()).map_err(js_error)?;
        Reflect::set(&init, &"body".into(), &JsValue::from_str(body)).map_err(js_error)?;
        let promise = method(&stub, "fetch")?
            .call2(&stub, &JsValue::from_str("https://ledger/"), &init)
            .map_err(js_error)?;
        let resp: web_sys::Response = JsFuture::from(js_sys::Promise::from(promise))
            .await
            .map_err(|e| {
                // `overloaded`: the object's queue was too long, too old or
                // too large, and the call was dropped from it unrun. (Not
                // `retryable`: that also covers a lost connection after the
                // call ran, and a settle must never apply twice.)
                let flagged = get(&e, "overloaded").is_ok_and(|v| v.is_truthy());
                let message = js_error(e);
                if flagged || message.contains("Durable Object is overloaded") {
                    Call::Shed(message)
                } else {
                    Call::Failed(message)
                }
            })?
            .dyn_into()
            .map_err(|_| "the ledger did not answer with a Response".to_string())?;
        let text = JsFuture::from(resp.text().map_err(js_error)?)
            .await
            .map_err(js_error)?
            .as_string()
            .unwrap_or_default();
        if resp.status() != 200 {
            return Err(format!("ledger {}: {text}", resp.status()).into());
        }
        serde_json::from_str(&text).map_err(|e| format!("ledger answer: {e}").into())
    }
}

/// How often a call the Durable Object shed is sent again (waits of up to
/// 20, 40 and 80 ms).
const SHED_RETRIES: u32 = 3;

/// Why a ledger call failed.
enum Call {
    /// Refused by the runtime before the object ran it.
    Shed(String),
    Failed(String),
}

impl From<String> for Call {
    fn from(e: String) -> Self {
        Call::Failed(e)
    }
}

impl Accounts for DoAccounts {
    fn call<'a>(&'a self, ledger: &'a str, op: Op) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(self.send(ledger, op))
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        getrandom::fill(out).map_err(|e| format!("no secure random source: {e}"))
    }
}
