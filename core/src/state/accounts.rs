//! The accounts store: key, team and user records, counters (budgets, rate
//! windows, spend totals) and spend logs, partitioned into ledgers. One
//! ledger is a team with its users and keys, a user without a team with its
//! keys, or a lone key: every scope a request is charged to lives in the same
//! ledger, so a reservation across all of them is one atomic call.
//!
//! The port is one method taking an [`Op`] and answering an [`Answer`], both
//! plain data: a shell can ship them to where the ledger lives (a Durable
//! Object) and run [`apply`] there over its own [`Tables`], or map them onto
//! another store (DynamoDB, [`crate::aws::accounts`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::{BoxFuture, MaybeSend, MaybeSync};

/// An amount to add to a counter, all-or-nothing with the other holds of
/// its call: refused when the counter would pass `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub counter: String,
    pub amount: i64,
    pub limit: i64,
    /// When the counter may be forgotten (the end of its window, plus slack).
    pub expires_ms: u64,
}

/// An unconditional change to a counter (a settlement's refund, a spend total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Add {
    pub counter: String,
    pub amount: i64,
    pub expires_ms: u64,
}

/// The key a reservation is for, as the gateway last saw it: the ledger
/// takes no hold unless the key's records still have `stamp`
/// ([`identity_stamp`]), so an instance may keep key records between
/// requests and a revocation still counts from the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub token: String,
    pub stamp: String,
    /// The user and team the gateway knows the key by: a store that reads
    /// records one round trip at a time may read all three at once (a key
    /// moved since has another stamp anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Records by key, strongly consistent.
    Get {
        keys: Vec<String>,
    },
    /// A key record by its hash, with its user's and team's records
    /// ([`Answer::Identity`]), in one call.
    Identity {
        token: String,
    },
    /// `create_only`: answered [`Answer::Conflict`] when the key exists.
    Put {
        key: String,
        value: Value,
        create_only: bool,
    },
    Delete {
        key: String,
    },
    List {
        prefix: String,
    },
    /// Every hold or none: [`Answer::Reserved`] with each counter's value
    /// after it, or [`Answer::Refused`] naming the first hold that did not
    /// fit; with a `check` that fails, no hold and [`Answer::Identity`]
    /// with the key's records as they are now.
    Reserve {
        now_ms: u64,
        holds: Vec<Hold>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check: Option<Check>,
    },
    Adjust {
        now_ms: u64,
        adds: Vec<Add>,
    },
    /// Counter values (0 for a missing or expired one).
    Read {
        now_ms: u64,
        counters: Vec<String>,
    },
    /// A finished request: its refunds and spend totals, and its spend log
    /// entry (at `now_ms`, until `expires_ms`), in one call, so the two
    /// never disagree. Flat rather than nested: each nested type's decoder
    /// costs the Worker upload.
    Settle {
        now_ms: u64,
        adds: Vec<Add>,
        id: String,
        entry: Value,
        expires_ms: u64,
    },
    /// Spend log entries with `since_ms <= ts < until_ms`, oldest first.
    Logs {
        now_ms: u64,
        since_ms: u64,
        until_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Done,
    Conflict,
    Values {
        values: Vec<Option<Value>>,
    },
    /// Key, user and team records, and their [`identity_stamp`].
    Identity {
        values: Vec<Option<Value>>,
        stamp: String,
    },
    Entries {
        entries: Vec<(String, Value)>,
    },
    Reserved {
        used: Vec<i64>,
    },
    Refused {
        index: usize,
        used: i64,
    },
    Counters {
        used: Vec<i64>,
    },
    Logs {
        entries: Vec<Value>,
    },
}

/// Where the ledgers live. Implemented by each shell.
pub trait Accounts: MaybeSend + MaybeSync {
    fn call<'a>(&'a self, ledger: &'a str, op: Op) -> BoxFuture<'a, Result<Answer, String>>;
    /// Fills `out` from the platform's secure random source (key material).
    fn random(&self, out: &mut [u8]) -> Result<(), String>;
}

/// One ledger's storage, for stores that run [`apply`] next to their data
/// with nothing else interleaved (a Durable Object: single-threaded, and
/// its SQL calls are synchronous).
pub trait Tables {
    fn get(&mut self, key: &str) -> Result<Option<Value>, String>;
    fn put(&mut self, key: &str, value: &Value) -> Result<(), String>;
    fn delete(&mut self, key: &str) -> Result<(), String>;
    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Value)>, String>;
    /// `(used, expires_ms)`.
    fn counter(&mut self, name: &str) -> Result<Option<(i64, u64)>, String>;
    fn set_counter(&mut self, name: &str, used: i64, expires_ms: u64) -> Result<(), String>;
    fn append_log(
        &mut self,
        ts: u64,
        id: &str,
        entry: &Value,
        expires_ms: u64,
    ) -> Result<(), String>;
    /// Entries in `[since, until)`, oldest first; drops expired ones.
    fn logs(&mut self, now_ms: u64, since: u64, until: u64) -> Result<Vec<Value>, String>;
}

/// What an [`Op::Reserve`]'s check compares: a digest of the key's, its
/// user's and its team's records as the ledger holds them. Computed by the
/// ledger only, so it never depends on how a record crossed the wire.
pub fn identity_stamp(values: &[Option<Value>]) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(values).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn identity(t: &mut impl Tables, token: &str) -> Result<Vec<Option<Value>>, String> {
    let key = t.get(&format!("key#{token}"))?;
    let field = |name: &str| {
        key.as_ref()
            .and_then(|k| k.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let user = match field("user_id") {
        Some(u) => t.get(&format!("user#{u}"))?,
        None => None,
    };
    let team = match field("team_id") {
        Some(id) => t.get(&format!("team#{id}"))?,
        None => None,
    };
    Ok(vec![key, user, team])
}

fn live(t: &mut impl Tables, name: &str, now_ms: u64) -> Result<i64, String> {
    Ok(match t.counter(name)? {
        Some((used, expires)) if expires > now_ms => used,
        _ => 0,
    })
}

/// Runs one operation against one ledger's tables. Must run without any
/// other operation on the same ledger in between.
pub fn apply(t: &mut impl Tables, op: Op) -> Result<Answer, String> {
    Ok(match op {
        Op::Get { keys } => Answer::Values {
            values: keys.iter().map(|k| t.get(k)).collect::<Result<_, _>>()?,
        },
        Op::Identity { token } => {
            let values = identity(t, &token)?;
            let stamp = identity_stamp(&values);
            Answer::Identity { values, stamp }
        }
        Op::Put {
            key,
            value,
            create_only,
        } => {
            if create_only && t.get(&key)?.is_some() {
                return Ok(Answer::Conflict);
            }
            t.put(&key, &value)?;
            Answer::Done
        }
        Op::Delete { key } => {
            t.delete(&key)?;
            Answer::Done
        }
        Op::List { prefix } => Answer::Entries {
            entries: t.list(&prefix)?,
        },
        Op::Reserve {
            now_ms,
            holds,
            check,
        } => {
            if let Some(check) = check {
                let values = identity(t, &check.token)?;
                let stamp = identity_stamp(&values);
                if stamp != check.stamp {
                    return Ok(Answer::Identity { values, stamp });
                }
            }
            let mut after = Vec::with_capacity(holds.len());
            for (index, h) in holds.iter().enumerate() {
                let used = live(t, &h.counter, now_ms)?;
                if used.saturating_add(h.amount) > h.limit {
                    return Ok(Answer::Refused { index, used });
                }
                after.push(used + h.amount);
            }
            for (h, used) in holds.iter().zip(&after) {
                t.set_counter(&h.counter, *used, h.expires_ms)?;
            }
            Answer::Reserved { used: after }
        }
        Op::Adjust { now_ms, adds } => {
            adjust(t, now_ms, &adds)?;
            Answer::Done
        }
        Op::Settle {
            now_ms,
            adds,
            id,
            entry,
            expires_ms,
        } => {
            adjust(t, now_ms, &adds)?;
            t.append_log(now_ms, &id, &entry, expires_ms)?;
            Answer::Done
        }
        Op::Read { now_ms, counters } => Answer::Counters {
            used: counters
                .iter()
                .map(|c| live(t, c, now_ms))
                .collect::<Result<_, _>>()?,
        },
        Op::Logs {
            now_ms,
            since_ms,
            until_ms,
        } => Answer::Logs {
            entries: t.logs(now_ms, since_ms, until_ms)?,
        },
    })
}

fn adjust(t: &mut impl Tables, now_ms: u64, adds: &[Add]) -> Result<(), String> {
    for a in adds {
        let used = live(t, &a.counter, now_ms)?;
        t.set_counter(
            &a.counter,
            used.saturating_add(a.amount).max(0),
            a.expires_ms,
        )?;
    }
    Ok(())
}

/// One ledger in memory.
#[derive(Debug, Default)]
pub struct MemoryTables {
    records: BTreeMap<String, Value>,
    counters: HashMap<String, (i64, u64)>,
    logs: Vec<(u64, String, Value, u64)>,
}

impl Tables for MemoryTables {
    fn get(&mut self, key: &str) -> Result<Option<Value>, String> {
        Ok(self.records.get(key).cloned())
    }
    fn put(&mut self, key: &str, value: &Value) -> Result<(), String> {
        self.records.insert(key.to_owned(), value.clone());
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.records.remove(key);
        Ok(())
    }
    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Value)>, String> {
        Ok(self
            .records
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn counter(&mut self, name: &str) -> Result<Option<(i64, u64)>, String> {
        Ok(self.counters.get(name).copied())
    }
    fn set_counter(&mut self, name: &str, used: i64, expires_ms: u64) -> Result<(), String> {
        self.counters.insert(name.to_owned(), (used, expires_ms));
        Ok(())
    }
    fn append_log(
        &mut self,
        ts: u64,
        id: &str,
        entry: &Value,
        expires_ms: u64,
    ) -> Result<(), String> {
        self.logs
            .push((ts, id.to_owned(), entry.clone(), expires_ms));
        Ok(())
    }
    fn logs(&mut self, now_ms: u64, since: u64, until: u64) -> Result<Vec<Value>, String> {
        self.logs.retain(|l| l.3 > now_ms);
        let mut out: Vec<_> = self
            .logs
            .iter()
            .filter(|l| l.0 >= since && l.0 < until)
            .map(|l| (l.0, l.2.clone()))
            .collect();
        out.sort_by_key(|l| l.0);
        Ok(out.into_iter().map(|l| l.1).collect())
    }
}

/// Every ledger in one process's memory (tests, single-instance hosts). Its
/// random source is a counter: never for real keys.
#[derive(Default)]
pub struct MemoryAccounts {
    ledgers: Mutex<HashMap<String, MemoryTables>>,
    seed: AtomicU64,
}

impl Accounts for MemoryAccounts {
    fn call<'a>(&'a self, ledger: &'a str, op: Op) -> BoxFuture<'a, Result<Answer, String>> {
        let mut ledgers = self.ledgers.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = apply(ledgers.entry(ledger.to_owned()).or_default(), op);
        Box::pin(async move { answer })
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        for b in out.iter_mut() {
            let n = self.seed.fetch_add(1, Ordering::Relaxed);
            *b = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn hold(counter: &str, amount: i64, limit: i64) -> Hold {
        Hold {
            counter: counter.into(),
            amount,
            limit,
            expires_ms: 1_000,
        }
    }

    #[test]
    fn a_reservation_holds_every_scope_or_none() {
        let a = MemoryAccounts::default();
        let r = block_on(a.call(
            "l",
            Op::Reserve {
                now_ms: 0,
                holds: vec![hold("key", 6, 10), hold("team", 6, 20)],
                check: None,
            },
        ))
        .unwrap();
        assert_eq!(r, Answer::Reserved { used: vec![6, 6] });
        // The team has room, the key does not: the team is left untouched.
        let r = block_on(a.call(
            "l",
            Op::Reserve {
                now_ms: 0,
                holds: vec![hold("team", 6, 20), hold("key", 6, 10)],
                check: None,
            },
        ))
        .unwrap();
        assert_eq!(r, Answer::Refused { index: 1, used: 6 });
        let read = Op::Read {
            now_ms: 0,
            counters: vec!["key".into(), "team".into()],
        };
        assert_eq!(
            block_on(a.call("l", read.clone())).unwrap(),
            Answer::Counters { used: vec![6, 6] }
        );
        // Expired counters read as zero.
        let later = Op::Read {
            now_ms: 1_000,
            counters: vec!["key".into()],
        };
        assert_eq!(
            block_on(a.call("l", later)).unwrap(),
            Answer::Counters { used: vec![0] }
        );
        // Ledgers are apart.
        assert_eq!(
            block_on(a.call("other", read)).unwrap(),
            Answer::Counters { used: vec![0, 0] }
        );
    }

    #[test]
    fn a_checked_reservation_takes_no_hold_once_the_key_changed() {
        let a = MemoryAccounts::default();
        let put = |v: Value| Op::Put {
            key: "key#t".into(),
            value: v,
            create_only: false,
        };
        block_on(a.call("l", put(serde_json::json!({"blocked": false})))).unwrap();
        let Answer::Identity { values, stamp } =
            block_on(a.call("l", Op::Identity { token: "t".into() })).unwrap()
        else {
            panic!("not an identity")
        };
        assert_eq!(values[0], Some(serde_json::json!({"blocked": false})));
        let reserve = |stamp: &str| Op::Reserve {
            now_ms: 0,
            holds: vec![hold("key", 1, 10)],
            check: Some(Check {
                token: "t".into(),
                stamp: stamp.into(),
                user: None,
                team: None,
            }),
        };
        assert_eq!(
            block_on(a.call("l", reserve(&stamp))).unwrap(),
            Answer::Reserved { used: vec![1] }
        );
        block_on(a.call("l", put(serde_json::json!({"blocked": true})))).unwrap();
        match block_on(a.call("l", reserve(&stamp))).unwrap() {
            Answer::Identity { values, stamp: now } => {
                assert_ne!(now, stamp);
                assert_eq!(values[0], Some(serde_json::json!({"blocked": true})));
            }
            other => panic!("{other:?}"),
        }
        let read = Op::Read {
            now_ms: 0,
            counters: vec!["key".into()],
        };
        assert_eq!(
            block_on(a.call("l", read)).unwrap(),
            Answer::Counters { used: vec![1] },
            "the refused check took nothing"
        );
    }

    #[test]
    fn a_settlement_adjusts_and_logs_in_one_call() {
        let a = MemoryAccounts::default();
        let settle = Op::Settle {
            now_ms: 0,
            adds: vec![Add {
                counter: "spend".into(),
                amount: 7,
                expires_ms: 1_000,
            }],
            id: "r".into(),
            entry: serde_json::json!({"spend_nano": 7}),
            expires_ms: 1_000,
        };
        assert_eq!(block_on(a.call("l", settle)).unwrap(), Answer::Done);
        let read = Op::Read {
            now_ms: 0,
            counters: vec!["spend".into()],
        };
        assert_eq!(
            block_on(a.call("l", read)).unwrap(),
            Answer::Counters { used: vec![7] }
        );
        let logs = Op::Logs {
            now_ms: 0,
            since_ms: 0,
            until_ms: 10,
        };
        assert_eq!(
            block_on(a.call("l", logs)).unwrap(),
            Answer::Logs {
                entries: vec![serde_json::json!({"spend_nano": 7})]
            }
        );
    }

    #[test]
    fn ops_and_answers_round_trip_as_json() {
        let op = Op::Reserve {
            now_ms: 5,
            holds: vec![hold("c", 1, 2)],
            check: Some(Check {
                token: "t".into(),
                stamp: "s".into(),
                user: Some("u".into()),
                team: None,
            }),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
        let answer = Answer::Entries {
            entries: vec![("k".into(), serde_json::json!({"a": 1}))],
        };
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(serde_json::from_str::<Answer>(&text).unwrap(), answer);
    }
}
