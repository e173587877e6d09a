//! The order in which one group's deployments are tried for one request:
//! lower `order` (priority) first, then the group's strategy among equals.
//! Cooling deployments are left out by every strategy.

use super::health::Health;
use crate::config::Strategy;

/// One deployment of a group as the strategies see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Index in `model_list`: what the instance's health is keyed by.
    pub entry: usize,
    /// The caller's own index for the deployment (its resolved form).
    pub slot: usize,
    pub order: u32,
    pub weight: f64,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    /// USD for this request's estimated tokens, when the prices are known.
    pub cost: Option<f64>,
    /// Great-circle km from where the request landed, when both are known.
    pub distance_km: Option<f64>,
}

/// `cands` in the order to try them, without the cooling ones, which are
/// returned apart (earliest recovery first).
pub fn arrange(
    mut cands: Vec<Candidate>,
    strategy: Strategy,
    health: &Health,
    now_ms: u64,
    tokens: u64,
    stream: bool,
) -> (Vec<Candidate>, Vec<(Candidate, u64)>) {
    let mut cooling = Vec::new();
    // A group of one never cools: skipping it would turn a blip into an
    // outage of the whole model (LiteLLM does the same).
    if cands.len() > 1 {
        let mut i = 0;
        while i < cands.len() {
            if let Some(until) = health.cooling(cands[i].entry, now_ms) {
                cooling.push((cands.remove(i), until));
            } else {
                i += 1;
            }
        }
        insertion_sort(&mut cooling, |a, b| a.1 < b.1);
    }
    // A random key per candidate: the shuffle itself, and the tie-break of
    // every other strategy, so equal deployments share the load.
    let keyed: Vec<(f64, Candidate)> = cands
        .into_iter()
        .map(|c| {
            let u = (health.next_random() >> 11) as f64 / (1u64 << 53) as f64;
            // Efraimidis–Spirakis: u^(1/w), largest first, is a weighted
            // random order.
            let key = u.max(f64::MIN_POSITIVE).powf(1.0 / c.weight.max(1e-9));
            (key, c)
        })
        .collect();
    let score = |c: &Candidate| -> f64 {
        match strategy {
            Strategy::SimpleShuffle => 0.0,
            Strategy::LeastBusy => f64::from(health.of(c.entry, now_ms).in_flight),
            // What the client waits for: a stream its first byte, a whole
            // answer all of it (per output token). Unmeasured first: one
            // request learns its latency.
            Strategy::LowestLatency => {
                let d = health.of(c.entry, now_ms);
                let measured = if stream {
                    d.ttfb_ewma_ms
                } else {
                    d.per_token_ewma_ms
                };
                measured.unwrap_or(-1.0)
            }
            Strategy::LowestCost => c.cost.unwrap_or(f64::INFINITY),
            Strategy::UsageBased => usage_share(c, health, now_ms, tokens),
            Strategy::Nearest => c.distance_km.unwrap_or(f64::INFINITY),
        }
    };
    let mut scored: Vec<(u32, f64, f64, Candidate)> = keyed
        .into_iter()
        .map(|(k, c)| (c.order, score(&c), k, c))
        .collect();
    insertion_sort(&mut scored, |a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.total_cmp(&b.1))
            .then_with(|| b.2.total_cmp(&a.2))
            .is_lt()
    });
    (scored.into_iter().map(|(.., c)| c).collect(), cooling)
}

/// Groups are a handful of deployments: an insertion sort is as fast as
/// the library's and a fraction of its code in the Worker.
fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// The larger share of its per-minute limits this request would bring a
/// deployment to (over 1: over its limit). Unlimited deployments score 0.
fn usage_share(c: &Candidate, health: &Health, now_ms: u64, tokens: u64) -> f64 {
    let d = health.of(c.entry, now_ms);
    let share =
        |used: u64, limit: Option<u64>| limit.map_or(0.0, |l| (used as f64) / (l.max(1) as f64));
    share(d.rpm_used + 1, c.rpm).max(share(d.tpm_used + tokens, c.tpm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouterSettings;

    fn cand(entry: usize) -> Candidate {
        Candidate {
            entry,
            slot: entry,
            order: 0,
            weight: 1.0,
            rpm: None,
            tpm: None,
            cost: None,
            distance_km: None,
        }
    }

    fn entries(v: &[Candidate]) -> Vec<usize> {
        v.iter().map(|c| c.entry).collect()
    }

    #[test]
    fn the_shuffle_follows_the_weights() {
        let h = Health::with_seed(7);
        let mut first = [0u32; 3];
        for _ in 0..6_000 {
            let cands = vec![
                Candidate {
                    weight: 1.0,
                    ..cand(0)
                },
                Candidate {
                    weight: 2.0,
                    ..cand(1)
                },
                Candidate {
                    weight: 3.0,
                    ..cand(2)
                },
            ];
            let (order, _) = arrange(cands, Strategy::SimpleShuffle, &h, 0, 0, false);
            first[order[0].entry] += 1;
        }
        // Expected 1,000 / 2,000 / 3,000.
        for (got, want) in first.iter().zip([1_000.0, 2_000.0, 3_000.0]) {
            assert!((f64::from(*got) - want).abs() < want * 0.1, "{first:?}");
        }
    }

    #[test]
    fn priority_comes_before_the_strategy_and_cooling_ones_are_left_out() {
        let h = Health::with_seed(1);
        let s = RouterSettings {
            allowed_fails: 0,
            ..RouterSettings::default()
        };
        h.failure(1, 0, None, &s);
        let cands = vec![
            Candidate {
                order: 2,
                cost: Some(0.1),
                ..cand(0)
            },
            Candidate {
                order: 1,
                cost: Some(0.1),
                ..cand(1)
            },
            Candidate {
                order: 1,
                cost: Some(0.5),
                ..cand(2)
            },
            Candidate {
                order: 1,
                cost: Some(0.2),
                ..cand(3)
            },
        ];
        let (order, cooling) = arrange(cands, Strategy::LowestCost, &h, 10, 0, false);
        assert_eq!(entries(&order), [3, 2, 0]);
        assert_eq!(cooling.len(), 1);
        assert_eq!(cooling[0].0.entry, 1);
    }

    #[test]
    fn a_group_of_one_is_tried_even_when_cooling() {
        let h = Health::with_seed(1);
        let s = RouterSettings {
            allowed_fails: 0,
            ..RouterSettings::default()
        };
        h.failure(0, 0, None, &s);
        let (order, cooling) = arrange(vec![cand(0)], Strategy::SimpleShuffle, &h, 10, 0, false);
        assert_eq!(entries(&order), [0]);
        assert!(cooling.is_empty());
    }

    #[test]
    fn each_strategy_puts_its_best_first() {
        let h = std::sync::Arc::new(Health::with_seed(3));
        let _busy = [h.begin(0, 0, 0), h.begin(0, 0, 0), h.begin(1, 0, 0)];
        h.success(0, 40);
        h.success(1, 900);
        h.success(2, 300);
        let three = || vec![cand(0), cand(1), cand(2)];
        let (o, _) = arrange(three(), Strategy::LeastBusy, &h, 0, 0, false);
        assert_eq!(entries(&o), [2, 1, 0]);
        // A stream goes by time to first byte, a whole answer by time per
        // output token: entry 1 is slow to start and fast to finish.
        let (o, _) = arrange(three(), Strategy::LowestLatency, &h, 0, 0, true);
        assert_eq!(entries(&o), [0, 2, 1]);
        h.begin(0, 0, 0).completed(4_000, 100);
        h.begin(1, 0, 0).completed(1_000, 100);
        h.begin(2, 0, 0).completed(2_000, 100);
        let (o, _) = arrange(three(), Strategy::LowestLatency, &h, 0, 0, false);
        assert_eq!(entries(&o), [1, 2, 0]);
        let near = vec![
            Candidate {
                distance_km: Some(6_000.0),
                ..cand(0)
            },
            Candidate {
                distance_km: None,
                ..cand(1)
            },
            Candidate {
                distance_km: Some(400.0),
                ..cand(2)
            },
        ];
        let (o, _) = arrange(near, Strategy::Nearest, &h, 0, 0, false);
        assert_eq!(entries(&o), [2, 0, 1]);
        // Entry 0 has used 2 of its 4 rpm, entry 1 one of its 10.
        let usage = vec![
            Candidate {
                rpm: Some(4),
                ..cand(0)
            },
            Candidate {
                rpm: Some(10),
                ..cand(1)
            },
        ];
        let (o, _) = arrange(usage, Strategy::UsageBased, &h, 0, 0, false);
        assert_eq!(entries(&o), [1, 0]);
    }
}
