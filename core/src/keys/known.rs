//! Virtual keys this instance has seen. A request with a known key skips
//! the lookup call: its reservation carries the records' stamp, and the
//! ledger takes no hold when they changed (`state::accounts::Check`), so a
//! revoked key is still refused from the next request on, on any instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::charge::Identity;

/// Enough for every key an instance serves in practice; when full it
/// starts over rather than tracking use.
const MAX_KNOWN: usize = 4096;

#[derive(Default)]
pub struct KnownKeys {
    by_token: Mutex<HashMap<String, Arc<Identity>>>,
}

impl KnownKeys {
    /// The key with this hash as last read from its ledger.
    pub fn get(&self, token: &str) -> Option<Arc<Identity>> {
        let map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token).cloned()
    }

    /// A key its ledger refused (deleted, blocked, expired): looked up
    /// again on its next use.
    pub fn forget(&self, token: &str) {
        let mut map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(token);
    }

    /// Remembers a key just read from its ledger.
    pub fn put(&self, id: &Arc<Identity>) {
        let mut map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_KNOWN {
            map.clear();
        }
        map.insert(id.key.token.clone(), id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_keys_come_back_until_forgotten_and_the_map_stays_bounded() {
        let known = KnownKeys::default();
        for i in 0..MAX_KNOWN + 10 {
            let mut id = Identity::default();
            id.key.token = format!("t{i}");
            known.put(&Arc::new(id));
        }
        assert!(known.by_token.lock().unwrap().len() <= MAX_KNOWN);
        let last = format!("t{}", MAX_KNOWN + 9);
        assert_eq!(known.get(&last).unwrap().key.token, last);
        assert!(known.get("t0").is_none());
        known.forget(&last);
        assert!(known.get(&last).is_none());
    }
}
