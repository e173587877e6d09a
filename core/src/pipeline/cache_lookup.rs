//! Stage 4: the response cache. No cache is configured yet: every request
//! is a miss that is not filled, recorded as `Off`.

use serde::Serialize;

// `Miss` and `Hit` are the cache's to set once it exists.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    #[default]
    Off,
    Miss,
    Hit,
}

impl CacheStatus {
    pub fn is_off(&self) -> bool {
        *self == CacheStatus::Off
    }
}

/// A cached answer to serve instead of calling upstream, when there is one.
pub fn cache_lookup() -> (CacheStatus, Option<crate::http::GatewayResponse>) {
    (CacheStatus::Off, None)
}
