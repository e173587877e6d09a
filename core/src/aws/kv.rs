//! [`KvStore`] in the gateway's DynamoDB state table, for Lambda: one item
//! per key (hash key `pk` = `kv#<key>`), the value in `v` (B), its expiry in
//! `expires_at` (N, seconds: the table's TTL attribute) and `exp_ms` (N, ms).
//! DynamoDB deletes expired items late (up to days), so a read checks
//! `exp_ms` itself. Values must fit DynamoDB's 400 KB item limit; a larger
//! one is refused with an error, not split.

use bytes::Bytes;

use super::dynamodb::attr::{self, item};
use super::dynamodb::{DynamoDb, Read};
use crate::ports::{Clock, HttpClient, MaybeSync, Sleep};
use crate::state::KvStore;

/// The largest value [`DynamoKv`] stores: the item limit less room for the
/// key and attribute names.
pub const MAX_VALUE_BYTES: usize = 399 * 1024 - 1024;

pub struct DynamoKv<P> {
    db: DynamoDb<P>,
    table: String,
}

impl<P> DynamoKv<P> {
    pub fn new(db: DynamoDb<P>, table: impl Into<String>) -> Self {
        DynamoKv {
            db,
            table: table.into(),
        }
    }
}

fn pk(key: &str) -> String {
    format!("kv#{key}")
}

impl<P: HttpClient + Clock + Sleep + MaybeSync> KvStore for DynamoKv<P> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, String> {
        let found = self
            .db
            .get_item(
                &self.table,
                item([("pk", attr::s(&pk(key)))]),
                Read {
                    consistent: false,
                    attributes: &["v", "exp_ms"],
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let Some(it) = found else { return Ok(None) };
        let now = self.db.ports().now_ms();
        if attr::get_n::<u64>(&it, "exp_ms").is_some_and(|e| now >= e) {
            return Ok(None);
        }
        Ok(attr::get_b(&it, "v").map(Bytes::from))
    }

    async fn put(&self, key: &str, value: Bytes, ttl_ms: Option<u64>) -> Result<(), String> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "a value of {} bytes is over the {MAX_VALUE_BYTES} bytes a DynamoDB item holds",
                value.len()
            ));
        }
        let mut it = item([("pk", attr::s(&pk(key))), ("v", attr::b(&value))]);
        if let Some(ttl) = ttl_ms {
            let exp = self.db.ports().now_ms().saturating_add(ttl);
            it.insert("exp_ms".into(), attr::n(exp));
            // TTL deletes by whole seconds; round up so it never runs early.
            it.insert("expires_at".into(), attr::n(exp.div_ceil(1000)));
        }
        self.db
            .put_item(&self.table, it, None)
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        self.db
            .delete_item(&self.table, item([("pk", attr::s(&pk(key)))]), None)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::aws::credentials::AwsCredentials;
    use crate::aws::dynamodb::DynamoDbConfig;
    use crate::aws::fake_dynamodb::FakeDynamo;
    use crate::secret::Secret;

    const TABLE: &str = "dx-state";

    fn kv(fake: &FakeDynamo) -> DynamoKv<FakeDynamo> {
        let config = DynamoDbConfig {
            endpoint: "http://dynamodb.local:8000".into(),
            region: "us-east-1".into(),
            credentials: AwsCredentials {
                access_key_id: Secret::new("AKIDEXAMPLE"),
                secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                session_token: None,
            },
            timeout_ms: 1_000,
            max_attempts: 1,
        };
        DynamoKv::new(DynamoDb::new(fake.clone(), config), TABLE)
    }

    #[test]
    fn values_round_trip_with_their_expiry_and_deletes_remove_them() {
        let fake = FakeDynamo::with_table(TABLE);
        let s = kv(&fake);
        let now = fake.now_ms();
        block_on(s.put("a", Bytes::from_static(b"\x00\xffbin"), Some(1_500))).unwrap();
        block_on(s.put("b", Bytes::from_static(b"kept"), None)).unwrap();
        let stored = fake.item(TABLE, "kv#a").unwrap();
        assert_eq!(attr::get_n::<u64>(&stored, "exp_ms"), Some(now + 1_500));
        assert_eq!(
            attr::get_n::<u64>(&stored, "expires_at"),
            Some((now + 1_500).div_ceil(1000))
        );
        assert!(fake
            .item(TABLE, "kv#b")
            .unwrap()
            .get("expires_at")
            .is_none());
        assert_eq!(
            block_on(s.get("a")).unwrap().as_deref(),
            Some(&b"\x00\xffbin"[..])
        );
        assert_eq!(block_on(s.get("b")).unwrap().as_deref(), Some(&b"kept"[..]));
        assert_eq!(block_on(s.get("none")).unwrap(), None);
        block_on(s.delete("b")).unwrap();
        assert_eq!(block_on(s.get("b")).unwrap(), None);
    }

    #[test]
    fn an_expired_item_that_dynamodb_has_not_deleted_yet_reads_as_absent() {
        let fake = FakeDynamo::with_table(TABLE);
        let s = kv(&fake);
        let now = fake.now_ms();
        fake.put(
            TABLE,
            item([
                ("pk", attr::s("kv#old")),
                ("v", attr::b(b"stale")),
                ("exp_ms", attr::n(now)),
                ("expires_at", attr::n(now / 1000)),
            ]),
        );
        assert_eq!(block_on(s.get("old")).unwrap(), None);
    }

    #[test]
    fn a_value_over_the_item_limit_is_refused_not_sent() {
        let fake = FakeDynamo::with_table(TABLE);
        let s = kv(&fake);
        let big = Bytes::from(vec![b'x'; MAX_VALUE_BYTES + 1]);
        assert!(block_on(s.put("big", big, Some(1_000))).is_err());
        assert!(fake.calls().is_empty());
    }
}
