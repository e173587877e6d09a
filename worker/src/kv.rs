//! The core's [`KvStore`] on Workers KV (the `DX_STATE` binding). KV's own
//! expiry is at least 60 s and applies late, so each value starts with its
//! expiry (8 bytes, ms since the epoch, big-endian; 0 = never) and a read
//! checks it; KV is asked to drop the value at the same time, rounded up to
//! its 60 s minimum.

use bytes::Bytes;
use dx_core::state::KvStore;

use crate::catalog_store::STATE_BINDING;

/// KV refuses an `expirationTtl` below this.
const KV_MIN_TTL_S: u64 = 60;

pub struct WorkerKv(worker::kv::KvStore);

impl WorkerKv {
    pub fn open(env: &worker::Env) -> Option<Self> {
        env.kv(STATE_BINDING).ok().map(WorkerKv)
    }
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl KvStore for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, String> {
        let Some(raw) = self
            .0
            .get(key)
            .bytes()
            .await
            .map_err(|e| format!("KV get: {e}"))?
        else {
            return Ok(None);
        };
        let Some((head, value)) = raw.split_first_chunk::<8>() else {
            return Ok(None);
        };
        let expires = u64::from_be_bytes(*head);
        if expires != 0 && now_ms() >= expires {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(value)))
    }

    async fn put(&self, key: &str, value: Bytes, ttl_ms: Option<u64>) -> Result<(), String> {
        let expires = ttl_ms.map_or(0, |t| now_ms().saturating_add(t).max(1));
        let mut raw = Vec::with_capacity(8 + value.len());
        raw.extend_from_slice(&expires.to_be_bytes());
        raw.extend_from_slice(&value);
        let mut put = self
            .0
            .put_bytes(key, &raw)
            .map_err(|e| format!("KV put: {e}"))?;
        if let Some(t) = ttl_ms {
            put = put.expiration_ttl(t.div_ceil(1000).max(KV_MIN_TTL_S));
        }
        put.execute().await.map_err(|e| format!("KV put: {e}"))
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        self.0
            .delete(key)
            .await
            .map_err(|e| format!("KV delete: {e}"))
    }
}
