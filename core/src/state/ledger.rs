//! A ledger of spend against limits: reserve before a call, settle with
//! what it really cost after it, or release when it never happened. One
//! scope (a key, a team, a model) is updated atomically; the answer is a
//! value the pipeline acts on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use crate::ports::{Clock, MaybeSend};

/// How much a scope may spend per window (requests, tokens or micro-USD:
/// the caller picks the unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window_ms: u64,
}

/// An amount held against a scope's window until it is settled or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub scope: String,
    pub amount: u64,
    /// The window the amount was held in: settling in a later one changes
    /// nothing in the new window.
    window_start_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerAnswer {
    Admitted(Reservation),
    Limited { retry_after_ms: u64 },
}

pub trait Ledger {
    fn reserve(
        &self,
        scope: &str,
        amount: u64,
        limit: Limit,
    ) -> impl Future<Output = Result<LedgerAnswer, String>> + MaybeSend;
    /// Replaces the reserved amount with `actual`.
    fn settle(
        &self,
        reservation: Reservation,
        actual: u64,
    ) -> impl Future<Output = Result<(), String>> + MaybeSend;
    fn release(
        &self,
        reservation: Reservation,
    ) -> impl Future<Output = Result<(), String>> + MaybeSend;
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start_ms: u64,
    used: u64,
}

/// One process's ledger: fixed windows per scope, read from `clock`.
pub struct MemoryLedger<C> {
    clock: C,
    scopes: Mutex<HashMap<String, Window>>,
}

impl<C: Clock> MemoryLedger<C> {
    pub fn new(clock: C) -> Self {
        MemoryLedger {
            clock,
            scopes: Mutex::new(HashMap::new()),
        }
    }

    fn adjust(&self, r: &Reservation, actual: u64) {
        let mut scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = scopes.get_mut(&r.scope) {
            if w.start_ms == r.window_start_ms {
                w.used = w.used.saturating_sub(r.amount).saturating_add(actual);
            }
        }
    }
}

impl<C: Clock + Sync> Ledger for MemoryLedger<C> {
    async fn reserve(
        &self,
        scope: &str,
        amount: u64,
        limit: Limit,
    ) -> Result<LedgerAnswer, String> {
        let now = self.clock.now_ms();
        let window_ms = limit.window_ms.max(1);
        let start_ms = now - now % window_ms;
        let mut scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        let w = scopes.entry(scope.to_owned()).or_default();
        if w.start_ms != start_ms {
            *w = Window { start_ms, used: 0 };
        }
        if w.used.saturating_add(amount) > limit.max {
            return Ok(LedgerAnswer::Limited {
                retry_after_ms: start_ms + window_ms - now,
            });
        }
        w.used += amount;
        Ok(LedgerAnswer::Admitted(Reservation {
            scope: scope.to_owned(),
            amount,
            window_start_ms: start_ms,
        }))
    }

    async fn settle(&self, reservation: Reservation, actual: u64) -> Result<(), String> {
        self.adjust(&reservation, actual);
        Ok(())
    }

    async fn release(&self, reservation: Reservation) -> Result<(), String> {
        self.adjust(&reservation, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct FakeClock(AtomicU64);
    impl Clock for &FakeClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    const LIMIT: Limit = Limit {
        max: 10,
        window_ms: 60_000,
    };

    fn admitted(answer: LedgerAnswer) -> Reservation {
        match answer {
            LedgerAnswer::Admitted(r) => r,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    #[test]
    fn limits_within_a_window_and_says_when_the_next_one_starts() {
        let clock = FakeClock::default();
        clock.0.store(120_000 + 15_000, Ordering::SeqCst);
        let ledger = MemoryLedger::new(&clock);
        admitted(block_on(ledger.reserve("key-a", 6, LIMIT)).unwrap());
        admitted(block_on(ledger.reserve("key-a", 4, LIMIT)).unwrap());
        assert_eq!(
            block_on(ledger.reserve("key-a", 1, LIMIT)).unwrap(),
            LedgerAnswer::Limited {
                retry_after_ms: 45_000
            }
        );
        // Scopes are independent.
        admitted(block_on(ledger.reserve("key-b", 10, LIMIT)).unwrap());
        clock.0.store(180_000, Ordering::SeqCst);
        admitted(block_on(ledger.reserve("key-a", 10, LIMIT)).unwrap());
    }

    #[test]
    fn settle_replaces_the_reservation_and_release_returns_it() {
        let clock = FakeClock::default();
        let ledger = MemoryLedger::new(&clock);
        let r = admitted(block_on(ledger.reserve("k", 8, LIMIT)).unwrap());
        block_on(ledger.settle(r, 3)).unwrap();
        let r = admitted(block_on(ledger.reserve("k", 7, LIMIT)).unwrap());
        assert!(matches!(
            block_on(ledger.reserve("k", 1, LIMIT)).unwrap(),
            LedgerAnswer::Limited { .. }
        ));
        block_on(ledger.release(r)).unwrap();
        admitted(block_on(ledger.reserve("k", 7, LIMIT)).unwrap());
    }

    #[test]
    fn settling_after_the_window_rolled_over_leaves_the_new_window_alone() {
        let clock = FakeClock::default();
        let ledger = MemoryLedger::new(&clock);
        let r = admitted(block_on(ledger.reserve("k", 9, LIMIT)).unwrap());
        clock.0.store(60_000, Ordering::SeqCst);
        admitted(block_on(ledger.reserve("k", 5, LIMIT)).unwrap());
        block_on(ledger.settle(r, 0)).unwrap();
        admitted(block_on(ledger.reserve("k", 5, LIMIT)).unwrap());
        assert!(matches!(
            block_on(ledger.reserve("k", 1, LIMIT)).unwrap(),
            LedgerAnswer::Limited { .. }
        ));
    }
}
