//! The accounts store in DynamoDB (the state table, hash key `pk`).
//!
//! | pk | attributes |
//! |---|---|
//! | `{ledger}#{record}` | `v`: the record's JSON |
//! | `{ledger}#c#{counter}` | `used`, `exp_ms`; `expires_at` (TTL, seconds) |
//! | `{ledger}#log#{ts}#{id}` | `v`, `ts`, `expires_at` |
//!
//! A reservation is one `TransactWriteItems`: an update per hold whose
//! condition is `used <= :cap` with the cap (`limit - amount`) computed
//! here, since DynamoDB allows no arithmetic in a condition. TTL deletes
//! late, so expiry is read from `exp_ms`: a hold on an expired counter
//! (only the in-flight count outlives its window under one name) starts
//! it over, conditioned on it still being expired. A transaction cancelled
//! by a race (another reservation, a conflict) is read again and retried;
//! one cancelled by a full counter is a refusal.

use futures::future::try_join_all;
use serde_json::{json, Map, Value};

use super::dynamodb::attr::{self, item, Item};
use super::dynamodb::{Condition, DynamoDb, DynamoError, Read};
use crate::ports::{BoxFuture, Clock, HttpClient, MaybeSend, MaybeSync, Sleep};
use crate::state::accounts::{identity_stamp, Accounts, Add, Answer, Check, Hold, Op};

/// Reservation attempts when races cancel the transaction.
const ATTEMPTS: u32 = 12;

pub struct DynamoAccounts<P> {
    db: DynamoDb<P>,
    table: String,
    random: fn(&mut [u8]) -> Result<(), String>,
}

fn pk(ledger: &str, key: &str) -> Value {
    attr::s(&format!("{ledger}#{key}"))
}

fn key_item(ledger: &str, key: &str) -> Item {
    item([("pk", pk(ledger, key))])
}

fn counter_key(ledger: &str, name: &str) -> String {
    format!("{ledger}#c#{name}")
}

fn err(e: DynamoError) -> String {
    e.to_string()
}

impl<P: HttpClient + Clock + Sleep + MaybeSend + MaybeSync> DynamoAccounts<P> {
    pub fn new(
        db: DynamoDb<P>,
        table: impl Into<String>,
        random: fn(&mut [u8]) -> Result<(), String>,
    ) -> Self {
        DynamoAccounts {
            db,
            table: table.into(),
            random,
        }
    }

    async fn get(&self, ledger: &str, key: &str) -> Result<Option<Value>, String> {
        let read = Read {
            consistent: true,
            attributes: &[],
        };
        let found = self
            .db
            .get_item(&self.table, key_item(ledger, key), read)
            .await
            .map_err(err)?;
        Ok(found
            .as_ref()
            .and_then(|i| attr::get_s(i, "v"))
            .and_then(|v| serde_json::from_str(v).ok()))
    }

    /// `(used, exp_ms)` of each counter; a missing one is `(0, 0)`.
    async fn counters(&self, ledger: &str, names: &[&str]) -> Result<Vec<(i64, u64)>, String> {
        let reads = names.iter().map(|name| async move {
            let read = Read {
                consistent: true,
                attributes: &["used", "exp_ms"],
            };
            let key = item([("pk", attr::s(&counter_key(ledger, name)))]);
            let found = self
                .db
                .get_item(&self.table, key, read)
                .await
                .map_err(err)?;
            Ok::<_, String>(found.map_or((0, 0), |i| {
                (
                    attr::get_n(&i, "used").unwrap_or(0),
                    attr::get_n(&i, "exp_ms").unwrap_or(0),
                )
            }))
        });
        try_join_all(reads).await
    }

    fn token(&self) -> Result<String, String> {
        let mut b = [0u8; 16];
        (self.random)(&mut b)?;
        Ok(b.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// An update adding `amount` to a counter (`restart`: setting it to
    /// `amount`), under `condition` when given.
    fn update(
        &self,
        ledger: &str,
        name: &str,
        amount: i64,
        expires_ms: u64,
        restart: bool,
        condition: Option<(&str, Map<String, Value>)>,
    ) -> Value {
        let mut values = Map::new();
        values.insert(":a".into(), attr::n(amount));
        values.insert(":em".into(), attr::n(expires_ms));
        values.insert(":ttl".into(), attr::n(expires_ms / 1000 + 1));
        let expression = if restart {
            "SET #u = :a, exp_ms = :em, expires_at = :ttl"
        } else {
            values.insert(":z".into(), attr::n(0));
            "SET #u = if_not_exists(#u, :z) + :a, exp_ms = :em, expires_at = :ttl"
        };
        let mut update = json!({
            "TableName": self.table,
            "Key": {"pk": attr::s(&counter_key(ledger, name))},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#u": "used"},
        });
        if let Some((c, extra)) = condition {
            values.extend(extra);
            update["ConditionExpression"] = Value::String(c.to_owned());
        }
        update["ExpressionAttributeValues"] = Value::Object(values);
        json!({ "Update": update })
    }

    async fn transact(&self, items: Vec<Value>) -> Result<(), DynamoError> {
        let token = self.token().unwrap_or_default();
        let mut body = json!({ "TransactItems": items });
        if !token.is_empty() {
            // A retried call with the same token is applied once.
            body["ClientRequestToken"] = Value::String(token);
        }
        self.db.call("TransactWriteItems", &body).await.map(drop)
    }

    /// With a `check`, the key's records are read (all three at once, by
    /// the check's user and team) together with the counters, and nothing
    /// is held when their stamp changed. Read, then reserve: not one
    /// transaction, as the two calls it replaces were not (a key revoked in
    /// between is refused from the next request on).
    async fn reserve(
        &self,
        ledger: &str,
        now_ms: u64,
        holds: &[Hold],
        check: Option<&Check>,
    ) -> Result<Answer, String> {
        // Holds without a limit (spend totals) cannot be refused: they are
        // added once the limited ones are in, as plain item updates that
        // never conflict, so they add no contention to the transaction.
        let (open, limited): (Vec<&Hold>, Vec<&Hold>) =
            holds.iter().partition(|h| h.limit == i64::MAX);
        let names: Vec<&str> = limited.iter().map(|h| h.counter.as_str()).collect();
        let mut seen = None;
        if let Some(check) = check {
            let records = self.records(
                ledger,
                &check.token,
                check.user.as_deref(),
                check.team.as_deref(),
            );
            let counters = async {
                if names.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.counters(ledger, &names).await
                }
            };
            let (values, counters) = futures::future::try_join(records, counters).await?;
            if identity_stamp(&values) != check.stamp {
                let values = self.identity(ledger, &check.token).await?;
                let stamp = identity_stamp(&values);
                return Ok(Answer::Identity { values, stamp });
            }
            seen = Some(counters);
        }
        let mut used = if limited.is_empty() {
            Vec::new()
        } else {
            let owned: Vec<Hold> = limited.into_iter().cloned().collect();
            match self.reserve_limited(ledger, now_ms, &owned, seen).await? {
                Answer::Reserved { used } => used,
                // The refused hold's index among all the holds asked for,
                // not among the limited ones.
                Answer::Refused { index, used } => {
                    let index = holds
                        .iter()
                        .enumerate()
                        .filter(|(_, h)| h.limit != i64::MAX)
                        .nth(index)
                        .map_or(index, |(i, _)| i);
                    return Ok(Answer::Refused { index, used });
                }
                other => return Ok(other),
            }
        };
        let adds: Vec<Add> = open
            .iter()
            .map(|h| Add {
                counter: h.counter.clone(),
                amount: h.amount,
                expires_ms: h.expires_ms,
            })
            .collect();
        self.adjust(ledger, &adds).await?;
        // Answered in the order asked; an open hold reports its amount.
        let mut limited_used = used.drain(..);
        let used = holds
            .iter()
            .map(|h| {
                if h.limit == i64::MAX {
                    h.amount
                } else {
                    limited_used.next().unwrap_or(h.amount)
                }
            })
            .collect();
        Ok(Answer::Reserved { used })
    }

    /// `seen`: the counters as already read for the first attempt.
    async fn reserve_limited(
        &self,
        ledger: &str,
        now_ms: u64,
        holds: &[Hold],
        mut seen: Option<Vec<(i64, u64)>>,
    ) -> Result<Answer, String> {
        let names: Vec<&str> = holds.iter().map(|h| h.counter.as_str()).collect();
        for attempt in 0..ATTEMPTS {
            let seen = match seen.take() {
                Some(s) => s,
                None => self.counters(ledger, &names).await?,
            };
            let mut items = Vec::with_capacity(holds.len());
            let mut after = Vec::with_capacity(holds.len());
            for (index, (h, (used, exp))) in holds.iter().zip(&seen).enumerate() {
                let live = *exp > now_ms;
                let used = if live { *used } else { 0 };
                let cap = h.limit - h.amount;
                if cap < 0 || used > cap {
                    return Ok(Answer::Refused { index, used });
                }
                after.push(used + h.amount);
                let mut v = Map::new();
                v.insert(":now".into(), attr::n(now_ms));
                let condition = if live {
                    v.insert(":cap".into(), attr::n(cap));
                    "#u <= :cap AND exp_ms > :now"
                } else {
                    "attribute_not_exists(#u) OR exp_ms <= :now"
                };
                let update = self.update(
                    ledger,
                    &h.counter,
                    h.amount,
                    h.expires_ms,
                    !live,
                    Some((condition, v)),
                );
                items.push(update);
            }
            match self.transact(items).await {
                Ok(()) => return Ok(Answer::Reserved { used: after }),
                Err(e) if e.error_type() == Some("TransactionCanceledException") => {
                    // Someone else moved a counter: look again.
                    let wait = 5 * u64::from(attempt + 1);
                    let mut jitter = [0u8; 1];
                    let _ = (self.random)(&mut jitter);
                    self.db
                        .ports()
                        .sleep(wait + u64::from(jitter[0] % 16))
                        .await;
                }
                Err(e) => return Err(err(e)),
            }
        }
        Err("the reservation kept racing; try again".into())
    }

    /// Each counter's add is one `UpdateItem`, atomic on its item: adds
    /// need no all-or-nothing, and separate updates never conflict, where
    /// concurrent transactions over one spend total would cancel each other.
    async fn adjust(&self, ledger: &str, adds: &[Add]) -> Result<Answer, String> {
        try_join_all(adds.iter().map(|a| {
            let update = self.update(ledger, &a.counter, a.amount, a.expires_ms, false, None);
            async move {
                let body = update.get("Update").cloned().unwrap_or_default();
                self.db.call("UpdateItem", &body).await.map(drop)
            }
        }))
        .await
        .map_err(err)?;
        Ok(Answer::Done)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({
                "TableName": self.table,
                "FilterExpression": "begins_with(pk, :p)",
                "ExpressionAttributeValues": {":p": attr::s(prefix)},
                "ConsistentRead": true,
            });
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let page = self.db.call("Scan", &body).await.map_err(err)?;
            if let Some(Value::Array(items)) = page.get("Items") {
                out.extend(items.iter().filter_map(|i| i.as_object().cloned()));
            }
            match page.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// The record `{prefix}{id}`, or none without an id.
    async fn named(
        &self,
        ledger: &str,
        prefix: &str,
        id: Option<&str>,
    ) -> Result<Option<Value>, String> {
        match id {
            Some(id) => self.get(ledger, &format!("{prefix}{id}")).await,
            None => Ok(None),
        }
    }

    /// A key's record with the user's and team's named, read at once.
    async fn records(
        &self,
        ledger: &str,
        token: &str,
        user: Option<&str>,
        team: Option<&str>,
    ) -> Result<Vec<Option<Value>>, String> {
        let (key, user, team) = futures::future::try_join3(
            self.named(ledger, "key#", Some(token)),
            self.named(ledger, "user#", user),
            self.named(ledger, "team#", team),
        )
        .await?;
        Ok(vec![key, user, team])
    }

    /// A key's record by its hash, then its user's and team's.
    async fn identity(&self, ledger: &str, token: &str) -> Result<Vec<Option<Value>>, String> {
        let key = self.get(ledger, &format!("key#{token}")).await?;
        let field = |name: &str| key.as_ref()?.get(name)?.as_str();
        let (user, team) = futures::future::try_join(
            self.named(ledger, "user#", field("user_id")),
            self.named(ledger, "team#", field("team_id")),
        )
        .await?;
        Ok(vec![key, user, team])
    }

    async fn run(&self, ledger: &str, op: Op) -> Result<Answer, String> {
        Ok(match op {
            Op::Get { keys } => Answer::Values {
                values: try_join_all(keys.iter().map(|k| self.get(ledger, k))).await?,
            },
            Op::Identity { token } => {
                let values = self.identity(ledger, &token).await?;
                let stamp = identity_stamp(&values);
                Answer::Identity { values, stamp }
            }
            Op::Put {
                key,
                value,
                create_only,
            } => {
                let mut it = key_item(ledger, &key);
                it.insert("v".into(), attr::s(&value.to_string()));
                let condition = create_only.then(|| Condition::new("attribute_not_exists(pk)"));
                match self.db.put_item(&self.table, it, condition).await {
                    Ok(()) => Answer::Done,
                    Err(e) if e.is_conditional_check_failed() => Answer::Conflict,
                    Err(e) => return Err(err(e)),
                }
            }
            Op::Delete { key } => {
                self.db
                    .delete_item(&self.table, key_item(ledger, &key), None)
                    .await
                    .map_err(err)?;
                Answer::Done
            }
            Op::List { prefix } => {
                let full = format!("{ledger}#{prefix}");
                let strip = ledger.len() + 1;
                let mut entries: Vec<(String, Value)> = self
                    .scan(&full)
                    .await?
                    .iter()
                    .filter_map(|i| {
                        let k = attr::get_s(i, "pk")?.get(strip..)?.to_owned();
                        let v = serde_json::from_str(attr::get_s(i, "v")?).ok()?;
                        Some((k, v))
                    })
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Answer::Entries { entries }
            }
            Op::Reserve {
                now_ms,
                holds,
                check,
            } => self.reserve(ledger, now_ms, &holds, check.as_ref()).await?,
            Op::Adjust { adds, .. } => self.adjust(ledger, &adds).await?,
            Op::Read { now_ms, counters } => {
                let names: Vec<&str> = counters.iter().map(String::as_str).collect();
                let seen = self.counters(ledger, &names).await?;
                Answer::Counters {
                    used: seen
                        .into_iter()
                        .map(|(u, exp)| if exp > now_ms { u } else { 0 })
                        .collect(),
                }
            }
            Op::Settle {
                now_ms: ts,
                adds,
                id,
                entry,
                expires_ms,
            } => {
                let it = item([
                    ("pk", pk(ledger, &format!("log#{ts:016}#{id}"))),
                    ("v", attr::s(&entry.to_string())),
                    ("ts", attr::n(ts)),
                    ("expires_at", attr::n(expires_ms / 1000)),
                ]);
                let put = async { self.db.put_item(&self.table, it, None).await.map_err(err) };
                futures::future::try_join(self.adjust(ledger, &adds), put).await?;
                Answer::Done
            }
            Op::Logs {
                now_ms,
                since_ms,
                until_ms,
            } => {
                let mut entries: Vec<(u64, Value)> = self
                    .scan(&format!("{ledger}#log#"))
                    .await?
                    .iter()
                    .filter(|i| {
                        attr::get_n::<u64>(i, "expires_at").is_none_or(|e| e * 1000 > now_ms)
                    })
                    .filter_map(|i| {
                        let ts: u64 = attr::get_n(i, "ts")?;
                        let v = serde_json::from_str(attr::get_s(i, "v")?).ok()?;
                        (ts >= since_ms && ts < until_ms).then_some((ts, v))
                    })
                    .collect();
                entries.sort_by_key(|e| e.0);
                Answer::Logs {
                    entries: entries.into_iter().map(|e| e.1).collect(),
                }
            }
        })
    }
}

impl<P: HttpClient + Clock + Sleep + MaybeSend + MaybeSync> Accounts for DynamoAccounts<P> {
    fn call<'a>(&'a self, ledger: &'a str, op: Op) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(self.run(ledger, op))
    }

    fn random(&self, out: &mut [u8]) -> Result<(), String> {
        (self.random)(out)
    }
}
