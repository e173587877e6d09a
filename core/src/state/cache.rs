//! The response cache's storage port: [`KvStore`] behind a trait object, so
//! that a gateway holds whichever store its shell has (Workers: the Cache
//! API; Lambda: DynamoDB; tests: [`super::MemoryKv`]).

use bytes::Bytes;

use super::KvStore;
use crate::ports::{BoxFuture, MaybeSend, MaybeSync};

pub trait CacheStore: MaybeSend + MaybeSync {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<(), String>>;
}

impl<K: KvStore + MaybeSend + MaybeSync> CacheStore for K {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        Box::pin(KvStore::get(self, key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(KvStore::put(self, key, value, Some(ttl_ms)))
    }
}
