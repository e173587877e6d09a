//! The admin API's reads and writes: a record in its ledger and its copy
//! in the directory.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::bad;
use crate::endpoints::admin::not_found;
use crate::error::GatewayError;
use crate::pipeline::authenticate::ledger_unavailable;
use crate::state::accounts::{Accounts, Answer, Op};

/// The ledger that lists every record.
pub const DIRECTORY: &str = "directory";

pub struct Cx<'a> {
    pub accounts: &'a dyn Accounts,
    pub now_ms: u64,
}

impl Cx<'_> {
    pub async fn call(&self, ledger: &str, op: Op) -> Result<Answer, GatewayError> {
        self.accounts
            .call(ledger, op)
            .await
            .map_err(|e| ledger_unavailable(&e))
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        ledger: &str,
        key: &str,
    ) -> Result<Option<T>, GatewayError> {
        let op = Op::Get {
            keys: vec![key.to_owned()],
        };
        match self.call(ledger, op).await? {
            Answer::Values { mut values } => Ok(values
                .pop()
                .flatten()
                .and_then(|v| serde_json::from_value(v).ok())),
            other => Err(unexpected(other)),
        }
    }

    /// A record by its directory entry, then from its own ledger.
    pub async fn find<T: DeserializeOwned>(
        &self,
        what: &str,
        key: &str,
        id: &str,
    ) -> Result<(String, T), GatewayError> {
        let entry: Option<Value> = self.get(DIRECTORY, key).await?;
        let ledger = entry
            .as_ref()
            .and_then(|v| v.get("ledger"))
            .and_then(Value::as_str)
            .ok_or_else(|| not_found(what, id))?
            .to_owned();
        let rec = self
            .get(&ledger, key)
            .await?
            .ok_or_else(|| not_found(what, id))?;
        Ok((ledger, rec))
    }

    /// A new record: the directory claims its id first, in one conditional
    /// write, so of two concurrent creations with one id exactly one wins
    /// (a check followed by a write would let both through). The record
    /// then goes to its own ledger; if that fails the claim is given back.
    pub async fn create<T: Serialize>(
        &self,
        ledger: &str,
        key: &str,
        rec: &T,
    ) -> Result<(), GatewayError> {
        // Serialised here, so that the async body below is one copy for
        // every record type.
        let value = serde_json::to_value(rec).map_err(|e| bad(e.to_string()))?;
        self.create_value(ledger, key, value).await
    }

    async fn create_value(
        &self,
        ledger: &str,
        key: &str,
        value: Value,
    ) -> Result<(), GatewayError> {
        match self
            .call(DIRECTORY, put_op(key, value.clone(), true))
            .await?
        {
            Answer::Done => {}
            Answer::Conflict => {
                return Err(bad(format!(
                    "`{}` already exists.",
                    key.split_once('#').map_or(key, |k| k.1)
                ))
                .with_status(http::StatusCode::CONFLICT)
                .with_code("already_exists"))
            }
            other => return Err(unexpected(other)),
        }
        if let Err(e) = self.call(ledger, put_op(key, value, false)).await {
            let _ = self
                .call(
                    DIRECTORY,
                    Op::Delete {
                        key: key.to_owned(),
                    },
                )
                .await;
            return Err(e);
        }
        Ok(())
    }

    /// An existing record, in its ledger and in the directory.
    pub async fn put<T: Serialize>(
        &self,
        ledger: &str,
        key: &str,
        rec: &T,
    ) -> Result<(), GatewayError> {
        let value = serde_json::to_value(rec).map_err(|e| bad(e.to_string()))?;
        self.put_value(ledger, key, value).await
    }

    async fn put_value(&self, ledger: &str, key: &str, value: Value) -> Result<(), GatewayError> {
        for target in [ledger, DIRECTORY] {
            match self.call(target, put_op(key, value.clone(), false)).await? {
                Answer::Done => {}
                other => return Err(unexpected(other)),
            }
        }
        Ok(())
    }

    pub async fn delete(&self, ledger: &str, key: &str) -> Result<(), GatewayError> {
        self.call(
            ledger,
            Op::Delete {
                key: key.to_owned(),
            },
        )
        .await?;
        self.call(
            DIRECTORY,
            Op::Delete {
                key: key.to_owned(),
            },
        )
        .await
        .map(drop)
    }

    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>, GatewayError> {
        let op = Op::List {
            prefix: prefix.to_owned(),
        };
        match self.call(DIRECTORY, op).await? {
            Answer::Entries { entries } => Ok(entries
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_value(v).ok())
                .collect()),
            other => Err(unexpected(other)),
        }
    }

    pub async fn counters(
        &self,
        ledger: &str,
        names: Vec<String>,
    ) -> Result<Vec<i64>, GatewayError> {
        let op = Op::Read {
            now_ms: self.now_ms,
            counters: names,
        };
        match self.call(ledger, op).await? {
            Answer::Counters { used } => Ok(used),
            other => Err(unexpected(other)),
        }
    }

    pub fn random<const N: usize>(&self) -> Result<[u8; N], GatewayError> {
        let mut out = [0u8; N];
        self.accounts
            .random(&mut out)
            .map_err(|e| ledger_unavailable(&e))?;
        Ok(out)
    }
}

fn unexpected(a: Answer) -> GatewayError {
    ledger_unavailable(&format!("unexpected answer {a:?}"))
}

/// A record write; `create_only`: refused ([`Answer::Conflict`]) when the key exists.
fn put_op(key: &str, value: Value, create_only: bool) -> Op {
    Op::Put {
        key: key.to_owned(),
        value,
        create_only,
    }
}
