//! The response cache's storage port: [`KvStore`] behind a trait object, so
//! that a gateway holds whichever store its shell has (Workers: the Cache
//! API, and KV behind it with `[cache] global = true`; Lambda: DynamoDB;
//! tests: [`super::MemoryKv`]).

use bytes::Bytes;

use super::KvStore;
use crate::ports::{BoxFuture, Clock, MaybeSend, MaybeSync};

/// Which tier of a [`Tiered`] store answered a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The instance's own (on Workers, the colo's Cache API).
    Local,
    /// The one every instance shares (Workers KV).
    Global,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::Global => "global",
        }
    }
}

/// A found entry and the tier it came from (`None`: a store of one tier).
pub type Found = Option<(Bytes, Option<Tier>)>;

/// One method a direction: a trait object's every method is in the Worker's
/// upload, used or not.
pub trait CacheStore: MaybeSend + MaybeSync {
    /// The entry under `key`, and which tier answered.
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Found, String>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<(), String>>;
}

impl<K: KvStore + MaybeSend + MaybeSync> CacheStore for K {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(async move { Ok(KvStore::get(self, key).await?.map(|v| (v, None))) })
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

/// Two tiers: a lookup reads the local one, then the global one; a global
/// hit fills the local tier for what is left of the entry's TTL (not a
/// fresh one), so that it expires everywhere at the same time. A put writes
/// both. Global values start with their expiry (ms since the epoch, 8
/// bytes big-endian), which a read checks: the global store may keep a
/// value longer than asked (Workers KV's expiry is at least 60 s).
pub struct Tiered<L, G, C> {
    pub local: L,
    pub global: G,
    pub clock: C,
}

impl<L, G, C> Tiered<L, G, C>
where
    L: CacheStore,
    G: CacheStore,
    C: Clock + MaybeSend + MaybeSync,
{
    async fn find(&self, key: &str) -> Result<Found, String> {
        // A local tier that fails is a local miss: the global one may hold it.
        if let Ok(Some((v, _))) = self.local.lookup(key).await {
            return Ok(Some((v, Some(Tier::Local))));
        }
        let Some((raw, _)) = self.global.lookup(key).await? else {
            return Ok(None);
        };
        let Some((head, _)) = raw.split_first_chunk::<8>() else {
            return Ok(None);
        };
        let left = u64::from_be_bytes(*head).saturating_sub(self.clock.now_ms());
        if left == 0 {
            return Ok(None);
        }
        let value = raw.slice(8..);
        // The hit is served whether or not the local copy was kept.
        let _ = self.local.put(key, value.clone(), left).await;
        Ok(Some((value, Some(Tier::Global))))
    }
}

impl<L, G, C> CacheStore for Tiered<L, G, C>
where
    L: CacheStore,
    G: CacheStore,
    C: Clock + MaybeSend + MaybeSync,
{
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Found, String>> {
        Box::pin(self.find(key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<(), String>> {
        let expires = self.clock.now_ms().saturating_add(ttl_ms);
        let mut raw = Vec::with_capacity(8 + value.len());
        raw.extend_from_slice(&expires.to_be_bytes());
        raw.extend_from_slice(&value);
        // One after the other: stores run after the response.
        Box::pin(async move {
            let local = self.local.put(key, value, ttl_ms).await;
            let global = self.global.put(key, Bytes::from(raw), ttl_ms).await;
            local.and(global)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::kv::tests::FakeClock;
    use crate::state::MemoryKv;
    use futures::executor::block_on;
    use std::sync::atomic::Ordering;

    type TwoTiers<'c> = Tiered<MemoryKv<&'c FakeClock>, MemoryKv<&'c FakeClock>, &'c FakeClock>;

    fn tiered(clock: &FakeClock) -> TwoTiers<'_> {
        Tiered {
            local: MemoryKv::new(clock),
            global: MemoryKv::new(clock),
            clock,
        }
    }

    #[test]
    fn a_global_hit_fills_the_local_tier_for_the_ttl_left() {
        let clock = FakeClock::default();
        let t = tiered(&clock);
        block_on(CacheStore::put(&t, "k", Bytes::from_static(b"v"), 10_000)).unwrap();
        let hit = |t: &TwoTiers| block_on(t.lookup("k")).unwrap();
        assert_eq!(hit(&t), Some((Bytes::from_static(b"v"), Some(Tier::Local))));
        // Another instance: its local tier is empty.
        block_on(KvStore::delete(&t.local, "k")).unwrap();
        clock.0.store(4_000, Ordering::SeqCst);
        assert_eq!(
            hit(&t),
            Some((Bytes::from_static(b"v"), Some(Tier::Global)))
        );
        assert_eq!(hit(&t).unwrap().1, Some(Tier::Local));
        // The local copy expires with the global one: 6 s were left.
        clock.0.store(9_999, Ordering::SeqCst);
        assert_eq!(hit(&t).unwrap().1, Some(Tier::Local));
        clock.0.store(10_000, Ordering::SeqCst);
        assert_eq!(hit(&t), None);
    }

    #[test]
    fn a_global_value_past_its_expiry_is_a_miss_even_if_the_store_kept_it() {
        let clock = FakeClock::default();
        let t = tiered(&clock);
        // As Workers KV keeps a 5 s entry for its 60 s minimum.
        let mut raw = 5_000u64.to_be_bytes().to_vec();
        raw.extend_from_slice(b"v");
        block_on(KvStore::put(&t.global, "k", Bytes::from(raw), Some(60_000))).unwrap();
        clock.0.store(4_999, Ordering::SeqCst);
        assert_eq!(
            block_on(t.lookup("k")).unwrap().unwrap().0,
            Bytes::from_static(b"v")
        );
        block_on(KvStore::delete(&t.local, "k")).unwrap();
        clock.0.store(5_000, Ordering::SeqCst);
        assert_eq!(block_on(t.lookup("k")).unwrap(), None);
        assert_eq!(block_on(KvStore::get(&t.local, "k")).unwrap(), None);
    }

    #[test]
    fn a_one_tier_store_names_no_tier() {
        let clock = FakeClock::default();
        let kv = MemoryKv::new(&clock);
        block_on(CacheStore::put(&kv, "k", Bytes::from_static(b"v"), 1_000)).unwrap();
        assert_eq!(
            block_on(kv.lookup("k")).unwrap(),
            Some((Bytes::from_static(b"v"), None))
        );
    }
}
