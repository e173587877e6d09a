//! The refreshed model catalog in DynamoDB, for Lambda.
//!
//! The catalog text (about 700 KB) is over DynamoDB's 400 KB item limit, so
//! it is kept as chunk items under one pointer item, in the gateway's state
//! table (hash key `pk`, a string):
//!
//! | pk | attributes |
//! |---|---|
//! | `catalog` | `version` (S, [`version_of`] the text), `parts` (N), `bytes` (N), `saved_at` (N, ms) |
//! | `catalog#<version>#<n>` | `data` (B: bytes `n * CHUNK_BYTES ..` of the text) |
//!
//! Saving writes every chunk, then moves the pointer (only if it still names
//! the version read before: two refreshes cannot interleave their chunks),
//! then deletes the previous version's chunks. A reader therefore never sees
//! a pointer whose chunks are not written yet, and polling costs one small
//! read of the pointer ([`CatalogStore::version`]).
//!
//! [`version_of`]: crate::catalog::refresh::version_of

use crate::catalog::refresh::{CatalogStore, Stored};
use crate::ports::{Clock, HttpClient, MaybeSync, Sleep};

use super::dynamodb::attr::{self, item, Item};
use super::dynamodb::{Condition, DynamoDb, Read};

/// Names the state table (the same table will hold keys, budgets, ...).
pub const STATE_TABLE_ENV: &str = "DX_STATE_TABLE";
const POINTER_KEY: &str = "catalog";
/// Bytes of catalog text per chunk item: well below the 400 KB limit.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// A pointer naming more parts than this (16 MB of text) is not believed.
const MAX_PARTS: usize = 64;

pub struct DynamoCatalogStore<P> {
    db: DynamoDb<P>,
    table: String,
}

fn chunk_key(version: &str, n: usize) -> String {
    format!("{POINTER_KEY}#{version}#{n}")
}

fn key(pk: &str) -> Item {
    item([("pk", attr::s(pk))])
}

/// What the pointer item says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pointer {
    version: String,
    parts: usize,
    bytes: usize,
}

fn parse_pointer(it: &Item) -> Result<Pointer, String> {
    let bad = || "the stored catalog pointer is malformed".to_owned();
    let version = attr::get_s(it, "version").ok_or_else(bad)?.to_owned();
    let parts: usize = attr::get_n(it, "parts").ok_or_else(bad)?;
    let bytes: usize = attr::get_n(it, "bytes").ok_or_else(bad)?;
    if parts == 0 || parts > MAX_PARTS || bytes > parts * CHUNK_BYTES {
        return Err(format!(
            "the stored catalog pointer is implausible ({parts} parts, {bytes} bytes)"
        ));
    }
    Ok(Pointer {
        version,
        parts,
        bytes,
    })
}

/// Lets the pointer move only from what was read before the chunks were
/// written (a malformed pointer included, so that a refresh repairs it).
fn unchanged_since(read: Option<&Item>) -> Condition {
    match read.map(|it| it.get("version")) {
        None => Condition::new("attribute_not_exists(pk)"),
        Some(None) => Condition::new("attribute_not_exists(#v)").name("#v", "version"),
        Some(Some(v)) => Condition::new("#v = :v")
            .name("#v", "version")
            .value(":v", v.clone()),
    }
}

impl<P: HttpClient + Clock + Sleep + MaybeSync> DynamoCatalogStore<P> {
    pub fn new(db: DynamoDb<P>, table: impl Into<String>) -> Self {
        DynamoCatalogStore {
            db,
            table: table.into(),
        }
    }

    async fn pointer_item(&self, consistent: bool) -> Result<Option<Item>, String> {
        self.db
            .get_item(
                &self.table,
                key(POINTER_KEY),
                Read {
                    consistent,
                    attributes: &["version", "parts", "bytes"],
                },
            )
            .await
            .map_err(|e| e.to_string())
    }

    async fn pointer(&self, consistent: bool) -> Result<Option<Pointer>, String> {
        match self.pointer_item(consistent).await? {
            Some(it) => parse_pointer(&it).map(Some),
            None => Ok(None),
        }
    }

    /// The chunks `pointer` names, joined; `Ok(None)` when one is missing.
    async fn chunks(&self, pointer: &Pointer) -> Result<Option<Vec<u8>>, String> {
        let mut text = Vec::with_capacity(pointer.bytes);
        for n in 0..pointer.parts {
            // Consistent: the chunks were written just before the pointer.
            let found = self
                .db
                .get_item(
                    &self.table,
                    key(&chunk_key(&pointer.version, n)),
                    Read {
                        consistent: true,
                        attributes: &["data"],
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            let Some(it) = found else { return Ok(None) };
            let data = attr::get_b(&it, "data").ok_or_else(|| {
                format!(
                    "part {n} of the stored catalog {} is not binary",
                    pointer.version
                )
            })?;
            text.extend_from_slice(&data);
        }
        Ok(Some(text))
    }

    async fn delete_chunks(&self, version: &str, parts: usize) -> Result<(), String> {
        for n in 0..parts {
            self.db
                .delete_item(&self.table, key(&chunk_key(version, n)), None)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl<P: HttpClient + Clock + Sleep + MaybeSync> CatalogStore for DynamoCatalogStore<P> {
    async fn version(&self) -> Result<Option<String>, String> {
        let it = self
            .db
            .get_item(
                &self.table,
                key(POINTER_KEY),
                Read {
                    consistent: false,
                    attributes: &["version"],
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(it.and_then(|it| attr::get_s(&it, "version").map(str::to_owned)))
    }

    async fn load(&self) -> Result<Option<Stored>, String> {
        let Some(mut pointer) = self.pointer(true).await? else {
            return Ok(None);
        };
        let mut text = self.chunks(&pointer).await?;
        if text.is_none() {
            // A save may have moved the pointer and deleted these chunks
            // while they were read: follow the pointer once more.
            match self.pointer(true).await? {
                Some(now) if now.version != pointer.version => {
                    text = self.chunks(&now).await?;
                    pointer = now;
                }
                _ => {}
            }
        }
        let text = text.ok_or_else(|| {
            format!(
                "the stored catalog {} lacks some of its {} parts",
                pointer.version, pointer.parts
            )
        })?;
        if text.len() != pointer.bytes {
            return Err(format!(
                "the stored catalog {} has {} bytes, its pointer says {}",
                pointer.version,
                text.len(),
                pointer.bytes
            ));
        }
        let text = String::from_utf8(text)
            .map_err(|_| format!("the stored catalog {} is not UTF-8", pointer.version))?;
        Ok(Some(Stored {
            version: pointer.version,
            text,
        }))
    }

    async fn save(&self, stored: &Stored) -> Result<(), String> {
        let read = self.pointer_item(true).await?;
        let previous = read.as_ref().and_then(|it| parse_pointer(it).ok());
        let bytes = stored.text.as_bytes();
        let parts = bytes.len().div_ceil(CHUNK_BYTES).max(1);
        if parts > MAX_PARTS {
            return Err(format!(
                "a catalog of {} bytes is too large to store",
                bytes.len()
            ));
        }
        for n in 0..parts {
            let data = bytes.get(n * CHUNK_BYTES..((n + 1) * CHUNK_BYTES).min(bytes.len()));
            let chunk = item([
                ("pk", attr::s(&chunk_key(&stored.version, n))),
                ("data", attr::b(data.unwrap_or_default())),
            ]);
            self.db
                .put_item(&self.table, chunk, None)
                .await
                .map_err(|e| e.to_string())?;
        }
        let pointer = item([
            ("pk", attr::s(POINTER_KEY)),
            ("version", attr::s(&stored.version)),
            ("parts", attr::n(parts)),
            ("bytes", attr::n(bytes.len())),
            ("saved_at", attr::n(self.db.ports().now_ms())),
        ]);
        // Of two concurrent saves one fails, instead of a pointer naming
        // the other's chunks.
        let condition = unchanged_since(read.as_ref());
        if let Err(e) = self
            .db
            .put_item(&self.table, pointer, Some(condition))
            .await
        {
            if e.is_conditional_check_failed() {
                return Err(
                    "another refresh saved a catalog meanwhile; this copy was not saved".into(),
                );
            }
            return Err(e.to_string());
        }
        match previous {
            Some(p) if p.version != stored.version => {
                self.delete_chunks(&p.version, p.parts).await.map_err(|e| {
                    format!(
                        "saved catalog {}, but the previous copy's chunks are left: {e}",
                        stored.version
                    )
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
