//! The ledgers on Workers: one SQLite-backed Durable Object per ledger (a
//! team with its users and keys, a user, or a lone key), running the
//! core's [`apply`] over its own tables. A Durable Object runs one event at
//! a time and `sql.exec` is synchronous, so one call's reads and writes
//! have nothing interleaved; the runtime commits the writes of an event
//! that awaits nothing together.

use std::sync::Arc;

use dx_core::ports::BoxFuture;
use dx_core::state::accounts::{apply, Accounts, Answer, Op, Tables};
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result,
    SqlStorage, SqlStorageValue, State,
};

/// The Durable Object binding (wrangler.toml `[[durable_objects.bindings]]`).
pub const BINDING: &str = "DX_LEDGER";
/// Spend log entries are kept at most this many per ledger, beyond their TTL.
const MAX_LOG_ROWS: i64 = 100_000;

#[durable_object]
pub struct Ledger {
    sql: SqlStorage,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, used TEXT NOT NULL, exp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logs (ts INTEGER NOT NULL, id TEXT NOT NULL, v TEXT NOT NULL, exp INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts);
";

impl DurableObject for Ledger {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(SCHEMA, None) {
            worker::console_error!("ledger schema: {e}");
        }
        Ledger { sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let text = req.text().await?;
        // Nothing is awaited from here on: the call is atomic.
        let answer = match serde_json::from_str::<Op>(&text) {
            Ok(op) => apply(&mut SqlTables(&self.sql), op),
            Err(e) => Err(format!("not a ledger operation: {e}")),
        };
        match answer {
            Ok(a) => Response::ok(serde_json::to_string(&a).unwrap_or_default()),
            Err(e) => Ok(Response::error(e, 500)?),
        }
    }
}

struct SqlTables<'a>(&'a SqlStorage);

fn text(v: &str) -> SqlStorageValue {
    SqlStorageValue::String(v.to_owned())
}

fn int(v: u64) -> SqlStorageValue {
    // Timestamps in ms stay far below 2^53.
    SqlStorageValue::Integer(v.min(1 << 52) as i64)
}

fn as_u64(v: &SqlStorageValue) -> u64 {
    match v {
        SqlStorageValue::Integer(i) => (*i).max(0) as u64,
        SqlStorageValue::Float(f) => f.max(0.0) as u64,
        _ => 0,
    }
}

fn as_str(v: &SqlStorageValue) -> &str {
    match v {
        SqlStorageValue::String(s) => s,
        _ => "",
    }
}

impl SqlTables<'_> {
    fn rows(&self, query: &str, bindings: Vec<SqlStorageValue>) -> std::result::Result<Vec<Vec<SqlStorageValue>>, String> {
        let cursor = self.0.exec(query, bindings).map_err(|e| e.to_string())?;
        cursor.raw().collect::<Result<Vec<_>>>().map_err(|e| e.to_string())
    }

    fn run(&self, query: &str, bindings: Vec<SqlStorageValue>) -> std::result::Result<(), String> {
        self.rows(query, bindings).map(drop)
    }
}

fn json(s: &str) -> std::result::Result<Value, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

impl Tables for SqlTables<'_> {
    fn get(&mut self, key: &str) -> std::result::Result<Option<Value>, String> {
        let rows = self.rows("SELECT v FROM records WHERE k = ?", vec![text(key)])?;
        rows.first().map(|r| json(as_str(&r[0]))).transpose()
    }

    fn put(&mut self, key: &str, value: &Value) -> std::result::Result<(), String> {
        self.run(
            "INSERT INTO records (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            vec![text(key), text(&value.to_string())],
        )
    }

    fn delete(&mut self, key: &str) -> std::result::Result<(), String> {
        self.run("DELETE FROM records WHERE k = ?", vec![text(key)])
    }

    fn list(&mut self, prefix: &str) -> std::result::Result<Vec<(String, Value)>, String> {
        // A range on the primary key: `prefix` up to the next string after it.
        let mut end = prefix.to_owned();
        end.push(char::MAX);
        let rows = self.rows(
            "SELECT k, v FROM records WHERE k >= ? AND k < ? ORDER BY k",
            vec![text(prefix), text(&end)],
        )?;
        rows.iter()
            .map(|r| Ok((as_str(&r[0]).to_owned(), json(as_str(&r[1]))?)))
            .collect()
    }

    fn counter(&mut self, name: &str) -> std::result::Result<Option<(i64, u64)>, String> {
        let rows = self.rows("SELECT used, exp FROM counters WHERE name = ?", vec![text(name)])?;
        Ok(rows
            .first()
            .map(|r| (as_str(&r[0]).parse().unwrap_or(0), as_u64(&r[1]))))
    }

    fn set_counter(&mut self, name: &str, used: i64, expires_ms: u64) -> std::result::Result<(), String> {
        // `used` as text: nano-dollars pass 2^53, which a JS number cannot hold.
        self.run(
            "INSERT INTO counters (name, used, exp) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET used = excluded.used, exp = excluded.exp",
            vec![text(name), text(&used.to_string()), int(expires_ms)],
        )
    }

    fn append_log(&mut self, ts: u64, id: &str, entry: &Value, expires_ms: u64) -> std::result::Result<(), String> {
        self.run(
            "INSERT INTO logs (ts, id, v, exp) VALUES (?, ?, ?, ?)",
            vec![int(ts), text(id), text(&entry.to_string()), int(expires_ms)],
        )?;
        // Retention: expired entries, and the oldest past the row bound.
        self.run("DELETE FROM logs WHERE exp <= ?", vec![int(ts)])?;
        self.run(
            "DELETE FROM logs WHERE ts < (SELECT ts FROM logs ORDER BY ts DESC LIMIT 1 OFFSET ?)",
            vec![SqlStorageValue::Integer(MAX_LOG_ROWS)],
        )
    }

    fn logs(&mut self, now_ms: u64, since: u64, until: u64) -> std::result::Result<Vec<Value>, String> {
        let rows = self.rows(
            "SELECT v FROM logs WHERE ts >= ? AND ts < ? AND exp > ? ORDER BY ts",
            vec![int(since), int(until), int(now_ms)],
        )?;
        rows.iter().map(|r| json(as_str(&r[0]))).collect()
    }
}

/// The gateway's side: each call goes to the ledger's Durable Object.
pub struct DoAccounts {
    env: Arc<Env>,
}

impl DoAccounts {
    /// `None` when the binding is missing (then only the master key works).
    pub fn new(env: &Env) -> Option<Self> {
        env.durable_object(BINDING).ok()?;
        Some(DoAccounts {
            env: Arc::new(env.clone()),
        })
    }

    async fn send(&self, ledger: &str, op: Op) -> std::result::Result<Answer, String> {
        let ns = self.env.durable_object(BINDING).map_err(|e| e.to_string())?;
        let stub = ns.get_by_name(ledger).map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&op).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body)));
        let req = Request::new_with_init("https://ledger/", &init).map_err(|e| e.to_string())?;
        let mut resp = stub.fetch_with_request(req).await.map_err(|e| e.to_string())?;
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if resp.status_code() != 200 {
            return Err(format!("ledger {}: {text}", resp.status_code()));
        }
        serde_json::from_str(&text).map_err(|e| format!("ledger answer: {e}"))
    }
}

impl Accounts for DoAccounts {
    fn call<'a>(&'a self, ledger: &'a str, op: Op) -> BoxFuture<'a, std::result::Result<Answer, String>> {
        Box::pin(self.send(ledger, op))
    }

    fn random(&self, out: &mut [u8]) -> std::result::Result<(), String> {
        getrandom::fill(out).map_err(|e| format!("no secure random source: {e}"))
    }
}
