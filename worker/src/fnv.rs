//! FNV-1a for the Worker's small per-isolate maps (vars and secrets by name,
//! pending timers and promises by key). std's DoS-resistant SipHash costs
//! more than these lookups themselves, and the core asks for a dozen or so
//! mostly unset variables per request. The keys come from the code, the
//! config and counters, never from clients.

use std::hash::{BuildHasherDefault, Hasher};

pub(crate) type FnvBuild = BuildHasherDefault<Fnv>;

pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
