//! A key-value store with expiry: get, put with a TTL, delete.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::ports::{BoxFuture, Clock, MaybeSend, MaybeSync};

pub trait KvStore {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, String>> + MaybeSend;
    /// `ttl_ms: None` keeps the value until it is deleted or overwritten.
    fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl_ms: Option<u64>,
    ) -> impl Future<Output = Result<(), String>> + MaybeSend;
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), String>> + MaybeSend;
}

/// Any [`KvStore`] behind a pointer: the one a gateway instance holds,
/// whichever store its shell has.
/// Its methods are named apart from [`KvStore`]'s so that both traits can
/// be in scope.
pub trait SharedKv: MaybeSend + MaybeSync {
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>>;
    fn write<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: Option<u64>,
    ) -> BoxFuture<'a, Result<(), String>>;
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

impl<T: KvStore + MaybeSend + MaybeSync> SharedKv for T {
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        Box::pin(KvStore::get(self, key))
    }
    fn write<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: Option<u64>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(KvStore::put(self, key, value, ttl_ms))
    }
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(KvStore::delete(self, key))
    }
}

/// One process's store; expiry is read from the clock it was given.
pub struct MemoryKv<C> {
    clock: C,
    entries: Mutex<HashMap<String, (Bytes, Option<u64>)>>,
}

impl<C: Clock> MemoryKv<C> {
    pub fn new(clock: C) -> Self {
        MemoryKv {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<C: Clock + Sync> KvStore for MemoryKv<C> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, String> {
        let now = self.clock.now_ms();
        // Never held across an await; a poisoned map still holds valid entries.
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((_, Some(expires))) if now >= *expires => {
                entries.remove(key);
                Ok(None)
            }
            Some((value, _)) => Ok(Some(value.clone())),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: Bytes, ttl_ms: Option<u64>) -> Result<(), String> {
        let expires = ttl_ms.map(|ttl| self.clock.now_ms().saturating_add(ttl));
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock the test moves (shared by the state module's tests).
    #[derive(Default)]
    pub(crate) struct FakeClock(pub AtomicU64);
    impl Clock for &FakeClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn values_expire_after_their_ttl_and_deletes_remove_them() {
        let clock = FakeClock::default();
        let kv = MemoryKv::new(&clock);
        block_on(kv.put("short", Bytes::from_static(b"a"), Some(1_000))).unwrap();
        block_on(kv.put("forever", Bytes::from_static(b"b"), None)).unwrap();
        clock.0.store(999, Ordering::SeqCst);
        assert_eq!(
            block_on(kv.get("short")).unwrap().as_deref(),
            Some(&b"a"[..])
        );
        clock.0.store(1_000, Ordering::SeqCst);
        assert_eq!(block_on(kv.get("short")).unwrap(), None);
        clock.0.store(u64::MAX / 2, Ordering::SeqCst);
        assert_eq!(
            block_on(kv.get("forever")).unwrap().as_deref(),
            Some(&b"b"[..])
        );
        block_on(kv.delete("forever")).unwrap();
        assert_eq!(block_on(kv.get("forever")).unwrap(), None);
    }

    #[test]
    fn a_put_replaces_the_value_and_its_ttl() {
        let clock = FakeClock::default();
        let kv = MemoryKv::new(&clock);
        block_on(kv.put("k", Bytes::from_static(b"old"), Some(10))).unwrap();
        block_on(kv.put("k", Bytes::from_static(b"new"), None)).unwrap();
        clock.0.store(50, Ordering::SeqCst);
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some(&b"new"[..]));
    }
}
