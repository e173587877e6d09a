//! When an instance looks at the stored catalog copy, and how a request that
//! names an unknown model waits for a look already under way.
//!
//! Instances start on the embedded snapshot and never wait for storage on
//! their way up (cold starts stay in milliseconds). The shell asks
//! [`SyncGate::start_if_due`] on each request; at most once per interval it
//! hands back a sync to run in the background (Workers: `waitUntil`;
//! Lambda: a task). A request that fails with `model_not_found` while that
//! sync is in flight waits for it ([`SyncGate::settle`]) and is routed again:
//! a model added by a refresh is never refused by a fresh instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::refresh::{
    refresh, sync_stored, CatalogStore, RefreshConfig, RefreshOutcome, SyncMemory, SyncOutcome,
};
use super::Installed;
use crate::ports::{
    with_timeout, Background, BoxFuture, Clock, HttpClient, Log, MaybeSend, MaybeSync, Sleep,
};

/// Only the request that started a sync polls it (on Workers its I/O
/// belongs to that request); others look at this flag on their own timers.
/// Waking them from the sync would run their I/O in the syncing request's
/// context, which workerd refuses ("Cannot perform I/O on behalf of a
/// different request").
#[derive(Default)]
struct Done {
    done: AtomicBool,
}

impl Done {
    fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }
}

/// How often a request waiting for a sync looks whether it finished.
const SETTLE_POLL_MS: u64 = 20;

type SyncFuture = BoxFuture<'static, ()>;

/// How long a request naming an unknown model waits for a sync in flight.
pub const SETTLE_MS: u64 = 3_000;

pub struct SyncGate {
    interval_ms: u64,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    last_start_ms: Option<u64>,
    in_flight: Option<Arc<Done>>,
}

impl SyncGate {
    pub fn new(interval_ms: u64) -> Self {
        SyncGate {
            interval_ms,
            state: Mutex::new(GateState::default()),
        }
    }

    /// Claims the next sync when none started within the interval and none
    /// is still running; the caller runs the returned future to completion
    /// off the request path.
    pub fn start_if_due(
        &self,
        now_ms: u64,
        make: impl FnOnce() -> BoxFuture<'static, ()>,
    ) -> Option<SyncFuture> {
        let mut state = self.state.lock().ok()?;
        if let Some(last) = state.last_start_ms {
            if now_ms < last.saturating_add(self.interval_ms) {
                return None;
            }
        }
        if state.in_flight.as_ref().is_some_and(|d| !d.is_done()) {
            return None;
        }
        let done = Arc::new(Done::default());
        state.last_start_ms = Some(now_ms);
        state.in_flight = Some(done.clone());
        let work = make();
        Some(Box::pin(async move {
            work.await;
            done.finish();
        }))
    }

    /// Waits at most `max_ms` for a sync in flight. `true` when one finished
    /// meanwhile, so that a lookup that failed before it is worth repeating.
    pub async fn settle<P: Sleep>(&self, ports: &P, max_ms: u64) -> bool {
        let running = match self.state.lock() {
            Ok(state) => state.in_flight.as_ref().filter(|d| !d.is_done()).cloned(),
            Err(_) => None,
        };
        let Some(done) = running else {
            return false;
        };
        let mut waited = 0;
        while waited < max_ms {
            let step = SETTLE_POLL_MS.min(max_ms - waited);
            ports.sleep(step).await;
            waited += step;
            if done.is_done() {
                return true;
            }
        }
        false
    }
}

/// A sync that takes longer is given up: a store read that never answers
/// must not stall every later sync.
pub const SYNC_TIMEOUT_MS: u64 = 10_000;

/// Runs a sync off the request path (Workers: `waitUntil`; Lambda: a thread
/// of its own, see the shell).
pub trait Spawner: Background + MaybeSend + MaybeSync {}
impl<T: Background + MaybeSend + MaybeSync> Spawner for T {}

/// What the gateway needs of an instance's catalog sync, without knowing its
/// store: start one when due, and wait for one in flight.
pub trait CatalogSync: MaybeSend + MaybeSync {
    fn gate(&self) -> &SyncGate;
    /// Starts a sync when one is due. It runs through `background` (the
    /// request's) unless the syncer was given a spawner of its own.
    fn start_if_due(&self, now_ms: u64, background: &dyn Background);
    /// The catalog this sync installs into: the instance's.
    fn installed(&self) -> &Arc<Installed>;
}

/// The one catalog sync and refresh both shells use: a stored copy polled at
/// most once per `[catalog] sync_interval_s`, the version seen last
/// remembered so that an unchanged store costs one small read, a timeout on
/// every sync, and one log shape (`{"event":"catalog_sync"|"catalog_refresh",
/// "outcome":...}`), a repeated line logged once.
pub struct Syncer<S, Q> {
    inner: Arc<Inner<S, Q>>,
    spawner: Option<Box<dyn Spawner>>,
}

struct Inner<S, Q> {
    gate: SyncGate,
    store: S,
    ports: Q,
    cfg: RefreshConfig,
    memory: SyncMemory,
    last_logged: Mutex<String>,
    catalog: Arc<Installed>,
}

impl<S, Q> Syncer<S, Q>
where
    S: CatalogStore + MaybeSend + MaybeSync + 'static,
    Q: Clock + Sleep + Log + MaybeSend + MaybeSync + 'static,
{
    /// `ports` are the instance's own (syncs outlive the request that
    /// starts them); a sync is due every `interval_ms` (`[catalog]
    /// sync_interval_s`), `cfg` is what a refresh fetches and accepts.
    pub fn new(store: S, ports: Q, interval_ms: u64, cfg: RefreshConfig) -> Self {
        Syncer {
            inner: Arc::new(Inner {
                gate: SyncGate::new(interval_ms),
                store,
                ports,
                cfg,
                memory: SyncMemory::new(),
                last_logged: Mutex::new(String::new()),
                catalog: Arc::default(),
            }),
            spawner: None,
        }
    }

    /// Syncs run through `spawner` instead of the request's `Background`.
    pub fn with_spawner(mut self, spawner: impl Spawner + 'static) -> Self {
        self.spawner = Some(Box::new(spawner));
        self
    }

    /// The scheduled job: makes this instance's catalog the stored copy
    /// (so that "unchanged" means the store already holds what the sources
    /// give, and a missing or damaged copy is written again), then fetches,
    /// merges, checks, stores and installs. Answers the summary it logged.
    pub async fn refresh<P: HttpClient + Sleep>(
        &self,
        ports: &P,
        trigger: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        let inner = &self.inner;
        let catalog = &inner.catalog;
        match sync_stored(&inner.store, &inner.cfg, &SyncMemory::new(), catalog).await {
            Ok(SyncOutcome::Installed { .. } | SyncOutcome::Unchanged) => {}
            Ok(SyncOutcome::NothingStored) => catalog.uninstall(),
            Err(e) => {
                inner.log_once(json!({"event": "catalog_refresh", "outcome": "stored_copy_refused", "error": e}));
                catalog.uninstall();
            }
        }
        let outcome = refresh(ports, &inner.store, &inner.cfg, catalog).await;
        let current = catalog.current();
        let mut summary = match &outcome {
            Ok(RefreshOutcome::Installed { version, .. }) => {
                inner.memory.remember(version);
                json!({"outcome": "installed"})
            }
            Ok(RefreshOutcome::Unchanged) => json!({"outcome": "unchanged"}),
            Err(e) => json!({"outcome": "error", "error": e}),
        };
        if outcome.is_ok() {
            summary["providers"] = current.provider_count().into();
            summary["models"] = current.model_count().into();
            summary["version"] = current.version().into();
        }
        if let Some(trigger) = trigger {
            summary["trigger"] = trigger.into();
        }
        let mut line = json!({"event": "catalog_refresh"});
        if let (Some(line), Some(fields)) = (line.as_object_mut(), summary.as_object()) {
            line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        inner.ports.log(&line.to_string());
        outcome.map(|_| summary)
    }
}

/// The line a scheduled refresh logs when `[catalog] refresh = false`.
pub fn refresh_disabled(log: &impl Log) -> serde_json::Value {
    log.log(r#"{"event":"catalog_refresh","outcome":"disabled"}"#);
    json!({"outcome": "disabled"})
}

impl<S, Q> CatalogSync for Syncer<S, Q>
where
    S: CatalogStore + MaybeSend + MaybeSync + 'static,
    Q: Clock + Sleep + Log + MaybeSend + MaybeSync + 'static,
{
    fn gate(&self) -> &SyncGate {
        &self.inner.gate
    }

    fn installed(&self) -> &Arc<Installed> {
        &self.inner.catalog
    }

    fn start_if_due(&self, now_ms: u64, background: &dyn Background) {
        let inner = self.inner.clone();
        let work = self
            .inner
            .gate
            .start_if_due(now_ms, move || Box::pin(async move { inner.sync().await }));
        match (work, &self.spawner) {
            (Some(work), Some(spawner)) => spawner.defer(work),
            (Some(work), None) => background.defer(work),
            (None, _) => {}
        }
    }
}

impl<S: CatalogStore, Q: Clock + Sleep + Log> Inner<S, Q> {
    async fn sync(&self) {
        let run = sync_stored(&self.store, &self.cfg, &self.memory, &self.catalog);
        let line = match with_timeout(&self.ports, SYNC_TIMEOUT_MS, run).await {
            Some(Ok(SyncOutcome::Unchanged)) => return,
            Some(Ok(SyncOutcome::Installed { version })) => {
                json!({"event": "catalog_sync", "outcome": "installed", "version": version})
            }
            Some(Ok(SyncOutcome::NothingStored)) => {
                json!({"event": "catalog_sync", "outcome": "nothing_stored"})
            }
            Some(Err(e)) => json!({"event": "catalog_sync", "outcome": "error", "error": e}),
            None => json!({"event": "catalog_sync", "outcome": "error",
                "error": format!("no answer from the store within {SYNC_TIMEOUT_MS} ms")}),
        };
        self.log_once(line);
    }

    fn log_once(&self, line: serde_json::Value) {
        let text = line.to_string();
        if let Ok(mut last) = self.last_logged.lock() {
            if *last == text {
                return;
            }
            last.clone_from(&text);
        }
        self.ports.log(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::oneshot;
    use futures::executor::block_on;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct NoSleep;
    impl Sleep for NoSleep {
        async fn sleep(&self, _ms: u64) {}
    }

    /// A timer that fires on the next poll, counting what was asked of it.
    #[derive(Default)]
    struct TurnSleep(AtomicUsize);
    impl Sleep for TurnSleep {
        async fn sleep(&self, ms: u64) {
            self.0.fetch_add(ms as usize, Ordering::SeqCst);
            let mut yielded = false;
            futures::future::poll_fn(|cx| {
                if yielded {
                    std::task::Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await
        }
    }

    #[test]
    fn one_sync_per_interval_and_none_while_one_runs() {
        let gate = SyncGate::new(1_000);
        let made = Arc::new(AtomicUsize::new(0));
        let make = || {
            let made = made.clone();
            move || -> BoxFuture<'static, ()> {
                made.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {})
            }
        };
        let first = gate
            .start_if_due(10, make())
            .expect("the first request starts one");
        assert!(
            gate.start_if_due(500, make()).is_none(),
            "within the interval"
        );
        block_on(first);
        assert!(gate.start_if_due(1_009, make()).is_none());
        let second = gate.start_if_due(1_010, make()).expect("due again");
        block_on(second);
        assert_eq!(made.load(Ordering::SeqCst), 2);

        // A sync still running when the interval is over is not doubled.
        let gate = SyncGate::new(1_000);
        let (_tx, rx) = oneshot::channel::<()>();
        let slow = gate.start_if_due(0, || Box::pin(async move { rx.await.unwrap_or(()) }));
        assert!(slow.is_some());
        assert!(gate.start_if_due(5_000, make()).is_none());
    }

    #[test]
    fn settle_waits_only_for_a_sync_in_flight() {
        let gate = SyncGate::new(1_000);
        assert!(!block_on(gate.settle(&NoSleep, 100)), "nothing in flight");
        let (tx, rx) = oneshot::channel::<()>();
        let sync = gate
            .start_if_due(0, || Box::pin(async move { rx.await.unwrap_or(()) }))
            .unwrap();
        // The waiter starts waiting first, then the sync finishes: the
        // waiter sees it on its own next timer (nothing wakes it from the
        // sync, whose context on Workers is another request's).
        let timers = TurnSleep::default();
        let waiter = gate.settle(&timers, 100);
        let (waited, ()) = block_on(futures::future::join(waiter, async move {
            tx.send(()).unwrap();
            sync.await
        }));
        assert!(waited);
        assert!(timers.0.load(Ordering::SeqCst) <= 2 * SETTLE_POLL_MS as usize);
        assert!(!block_on(gate.settle(&NoSleep, 100)), "already finished");
    }

    #[test]
    fn settle_gives_up_after_its_bound() {
        let gate = SyncGate::new(1_000);
        let (_tx, rx) = oneshot::channel::<()>();
        let _sync = gate.start_if_due(0, || Box::pin(async move { rx.await.unwrap_or(()) }));
        let timers = TurnSleep::default();
        assert!(!block_on(gate.settle(&timers, 100)));
        assert_eq!(
            timers.0.load(Ordering::SeqCst),
            100,
            "waited its bound, in steps"
        );
    }
}
