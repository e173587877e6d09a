//! What one instance knows about its deployments: recent failures and
//! cooldowns, time to first byte, requests in flight, this minute's usage.
//! Sans-IO: every call takes the time, so tests drive it with a fake clock.
//! Keyed by the deployment's index in `model_list`, which is fixed for the
//! life of the instance's config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::RouterSettings;

/// The instance's deployment health, shared by its requests. The lock is
/// never held across an await.
#[derive(Debug)]
pub struct Health {
    inner: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rng: u64,
    /// Whether a clock reading went into `rng` (instances started from
    /// the same code must not all shuffle alike).
    mixed: bool,
    by_entry: HashMap<usize, Deployment>,
}

#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Failure times within the window, oldest first.
    fails: Vec<u64>,
    pub cool_until_ms: u64,
    /// Moving average of time to first byte; `None` until measured.
    pub ttfb_ewma_ms: Option<f64>,
    /// Moving average of a whole answer's time per output token (LiteLLM's
    /// latency measure: long answers are not held against a deployment).
    pub per_token_ewma_ms: Option<f64>,
    /// Attempts sent and not yet over: a stream counts until it ends.
    pub in_flight: u32,
    minute: u64,
    pub rpm_used: u64,
    pub tpm_used: u64,
}

/// The weight of the newest sample in the latency average.
const EWMA_ALPHA: f64 = 0.3;

impl Default for Health {
    fn default() -> Self {
        Health::with_seed(0x9e37_79b9_7f4a_7c15)
    }
}

impl Health {
    pub fn with_seed(seed: u64) -> Self {
        Health {
            inner: Mutex::new(State {
                rng: seed | 1,
                mixed: false,
                by_entry: HashMap::new(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A panic while holding the lock cannot leave the state invalid
        // (plain counters): keep using it.
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// A snapshot of `entry` at `now_ms` (its minute counters reset when
    /// the minute changed).
    pub fn of(&self, entry: usize, now_ms: u64) -> Deployment {
        self.with(|s| {
            let mut d = s.by_entry.get(&entry).cloned().unwrap_or_default();
            if d.minute != now_ms / 60_000 {
                d.rpm_used = 0;
                d.tpm_used = 0;
            }
            d
        })
    }

    pub fn cooling(&self, entry: usize, now_ms: u64) -> Option<u64> {
        let until = self.with(|s| s.by_entry.get(&entry).map_or(0, |d| d.cool_until_ms));
        (until > now_ms).then_some(until)
    }

    /// Mixes the first request's clock into the random state, once.
    pub fn mix(&self, now_ms: u64) {
        self.with(|s| {
            if !s.mixed {
                s.mixed = true;
                s.rng ^= now_ms.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            }
        })
    }

    /// The next pseudo-random number (xorshift64*): good enough to spread
    /// load, and seeded so tests can replay an order.
    pub fn next_random(&self) -> u64 {
        self.with(|s| {
            let mut x = s.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            s.rng = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
    }

    /// An attempt is about to be sent to `entry`: in flight until the
    /// answer is over and the returned guard dropped.
    pub fn begin(self: &Arc<Self>, entry: usize, now_ms: u64, tokens: u64) -> Busy {
        self.with(|s| {
            let d = s.by_entry.entry(entry).or_default();
            let minute = now_ms / 60_000;
            if d.minute != minute {
                d.minute = minute;
                d.rpm_used = 0;
                d.tpm_used = 0;
            }
            d.in_flight += 1;
            d.rpm_used += 1;
            d.tpm_used += tokens;
        });
        Busy {
            health: self.clone(),
            entry,
            sent_at_ms: now_ms,
        }
    }

    fn end(&self, entry: usize) {
        self.with(|s| {
            if let Some(d) = s.by_entry.get_mut(&entry) {
                d.in_flight = d.in_flight.saturating_sub(1);
            }
        })
    }

    /// `entry` answered after `ttfb_ms`: its average moves, and a cooled
    /// deployment that answers is healthy again.
    pub fn success(&self, entry: usize, ttfb_ms: u64) {
        self.with(|s| {
            let d = s.by_entry.entry(entry).or_default();
            let sample = ttfb_ms as f64;
            d.ttfb_ewma_ms = Some(match d.ttfb_ewma_ms {
                Some(avg) => avg + EWMA_ALPHA * (sample - avg),
                None => sample,
            });
            d.fails.clear();
            d.cool_until_ms = 0;
        })
    }

    /// A whole answer from `entry` took `total_ms` for `output_tokens`.
    fn finished(&self, entry: usize, total_ms: u64, output_tokens: u64) {
        let sample = total_ms as f64 / output_tokens.max(1) as f64;
        self.with(|s| {
            let d = s.by_entry.entry(entry).or_default();
            d.per_token_ewma_ms = Some(match d.per_token_ewma_ms {
                Some(avg) => avg + EWMA_ALPHA * (sample - avg),
                None => sample,
            });
        })
    }

    /// `entry` failed at `now_ms`. More than `allowed_fails` failures within
    /// the window, or an upstream asking to wait longer than the cooldown,
    /// cool it down. Returns whether it is cooling now.
    pub fn failure(
        &self,
        entry: usize,
        now_ms: u64,
        retry_after_ms: Option<u64>,
        settings: &RouterSettings,
    ) -> bool {
        let window = settings.allowed_fails_window_s.saturating_mul(1000);
        let cooldown = (settings.cooldown_time * 1000.0) as u64;
        self.with(|s| {
            let d = s.by_entry.entry(entry).or_default();
            d.fails.retain(|&t| now_ms.saturating_sub(t) < window);
            d.fails.push(now_ms);
            let mut until = 0;
            if d.fails.len() as u64 > u64::from(settings.allowed_fails) {
                until = now_ms.saturating_add(cooldown);
                d.fails.clear();
            }
            if let Some(wait) = retry_after_ms.filter(|&w| w > cooldown) {
                until = until.max(now_ms.saturating_add(wait));
            }
            d.cool_until_ms = d.cool_until_ms.max(until);
            d.cool_until_ms > now_ms
        })
    }
}

/// One attempt in flight at a deployment. Dropping it ends the attempt,
/// however the answer went (a stream's guard lives as long as the stream).
#[derive(Debug)]
pub struct Busy {
    health: Arc<Health>,
    entry: usize,
    sent_at_ms: u64,
}

impl Busy {
    /// The answer is complete at `now_ms` with `output_tokens`: its time
    /// per token goes into the deployment's latency.
    pub fn completed(&self, now_ms: u64, output_tokens: u64) {
        let total = now_ms.saturating_sub(self.sent_at_ms);
        self.health.finished(self.entry, total, output_tokens);
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.health.end(self.entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allowed_fails: u32, cooldown_s: f64) -> RouterSettings {
        RouterSettings {
            allowed_fails,
            cooldown_time: cooldown_s,
            ..RouterSettings::default()
        }
    }

    #[test]
    fn the_failure_past_the_allowance_cools_a_deployment_until_the_cooldown_ends() {
        let h = Health::default();
        let s = settings(2, 5.0);
        assert!(!h.failure(0, 1_000, None, &s));
        assert!(!h.failure(0, 2_000, None, &s));
        assert!(h.failure(0, 3_000, None, &s), "third failure within 60 s");
        assert_eq!(h.cooling(0, 7_999), Some(8_000));
        assert_eq!(h.cooling(0, 8_000), None, "cooldown over");
        assert_eq!(h.cooling(1, 3_000), None, "others unaffected");
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let h = Health::default();
        let s = settings(1, 5.0);
        assert!(!h.failure(0, 0, None, &s));
        assert!(!h.failure(0, 61_000, None, &s), "the first left the window");
        assert!(h.failure(0, 62_000, None, &s));
    }

    #[test]
    fn a_long_retry_after_cools_at_once_for_as_long_as_asked() {
        let h = Health::default();
        let s = settings(3, 5.0);
        assert!(h.failure(0, 0, Some(30_000), &s));
        assert_eq!(h.cooling(0, 29_999), Some(30_000));
        // A short one is within the cooldown's own scale: no cooldown.
        assert!(!h.failure(1, 0, Some(1_000), &s));
    }

    #[test]
    fn a_success_restores_and_moves_the_latency_average() {
        let h = Health::default();
        let s = settings(0, 5.0);
        assert!(h.failure(0, 0, None, &s));
        h.success(0, 100);
        assert_eq!(h.cooling(0, 1), None);
        h.success(0, 200);
        let avg = h.of(0, 0).ttfb_ewma_ms.unwrap();
        assert!((avg - 130.0).abs() < 1e-9, "{avg}");
    }

    #[test]
    fn in_flight_and_minute_usage_are_counted() {
        let h = Arc::new(Health::default());
        let first = h.begin(3, 1_000, 50);
        let second = h.begin(3, 2_000, 70);
        assert_eq!(h.of(3, 2_000).in_flight, 2);
        drop(first);
        let d = h.of(3, 2_000);
        assert_eq!((d.in_flight, d.rpm_used, d.tpm_used), (1, 2, 120));
        drop(second);
        assert_eq!(h.of(3, 2_000).in_flight, 0);
        let next_minute = h.of(3, 61_000);
        assert_eq!((next_minute.rpm_used, next_minute.tpm_used), (0, 0));
    }

    #[test]
    fn a_completed_answer_moves_the_time_per_token() {
        let h = Arc::new(Health::default());
        // 1,000 ms for 100 tokens, then 600 ms for 20 tokens: 10 then 30
        // ms per token; no tokens counts as one.
        h.begin(1, 0, 1).completed(1_000, 100);
        assert_eq!(h.of(1, 0).per_token_ewma_ms, Some(10.0));
        h.begin(1, 2_000, 1).completed(2_600, 20);
        let avg = h.of(1, 0).per_token_ewma_ms.unwrap();
        assert!((avg - 16.0).abs() < 1e-9, "{avg}");
        h.begin(2, 0, 1).completed(50, 0);
        assert_eq!(h.of(2, 0).per_token_ewma_ms, Some(50.0));
        assert_eq!(h.of(1, 0).in_flight + h.of(2, 0).in_flight, 0);
    }
}
