//! What a request under a virtual key is charged to: the holds reserved
//! before the upstream call (every scope of the key's ledger at once), and
//! the adjustments that settle them with what the answer really used.
//!
//! Amounts: requests, tokens, nano-USD (every catalog price per token is a
//! whole number of nano-dollars, so sums are exact).
//!
//! Reclaim rule: a reservation is debited when it is made and a settlement
//! only returns the unused part, so a reservation whose instance died is
//! charged in full. The in-flight count (`max_parallel_requests`) expires
//! [`INFLIGHT_TIMEOUT_MS`] after the last admission under it.

use std::sync::Arc;

use serde_json::Value;

use super::records::{KeyRecord, Limits, TeamRecord, UserRecord};
use crate::state::accounts::{Add, Hold};

pub const RATE_WINDOW_MS: u64 = 60_000;
pub const INFLIGHT_TIMEOUT_MS: u64 = 600_000;
/// Spend totals are kept this long after their last change.
const TOTAL_TTL_MS: u64 = 3_650 * 86_400_000;
/// Windows are kept a little past their end, for late settlements.
const SLACK_MS: u64 = 3_600_000;

pub fn nano(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

pub fn usd(nano: i64) -> f64 {
    nano as f64 / 1e9
}

/// A virtual key with its user and team, as read from its ledger.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    pub key: KeyRecord,
    pub user: Option<UserRecord>,
    pub team: Option<TeamRecord>,
    /// The ledger's digest of the three records (`identity_stamp`).
    pub stamp: String,
}

/// Why a request is refused before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Blocked,
    Expired,
    ModelNotAllowed,
}

impl Identity {
    pub fn from_values(values: &[Option<Value>], stamp: String) -> Option<Identity> {
        Some(Identity {
            key: parse(values, 0)?,
            user: parse(values, 1),
            team: parse(values, 2),
            stamp,
        })
    }

    pub fn is_admin(&self) -> bool {
        self.key.user_role.as_deref() == Some("proxy_admin")
    }

    /// Blocked, expired, or a model outside some scope's lists.
    pub fn check(&self, now_ms: u64, names: &[&str]) -> Result<(), Refusal> {
        if self.key.blocked || self.team.as_ref().is_some_and(|t| t.blocked) {
            return Err(Refusal::Blocked);
        }
        if self.key.expires.is_some_and(|e| now_ms >= e) {
            return Err(Refusal::Expired);
        }
        let allowed = super::model_allowed(&self.key.models, &self.key.blocked_models, names)
            && self
                .user
                .as_ref()
                .is_none_or(|u| super::model_allowed(&u.models, &[], names))
            && self
                .team
                .as_ref()
                .is_none_or(|t| super::model_allowed(&t.models, &[], names));
        if allowed {
            Ok(())
        } else {
            Err(Refusal::ModelNotAllowed)
        }
    }

    /// `(scope id, limits)`: key, user, team.
    pub fn scopes(&self) -> Vec<(String, &Limits)> {
        let mut out = vec![(key_scope(&self.key), &self.key.limits)];
        if let Some(u) = &self.user {
            out.push((format!("u.{}", u.user_id), &u.limits));
        }
        if let Some(t) = &self.team {
            out.push((format!("t.{}", t.team_id), &t.limits));
        }
        out
    }
}

fn parse<T: serde::de::DeserializeOwned>(values: &[Option<Value>], i: usize) -> Option<T> {
    values
        .get(i)
        .cloned()
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok())
}

pub fn key_scope(key: &KeyRecord) -> String {
    if key.key_id.is_empty() {
        format!("k.{}", key.token.get(..16).unwrap_or(&key.token))
    } else {
        format!("k.{}", key.key_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Requests,
    Tokens,
    Budget,
    Inflight,
    /// A spend total (lifetime, and per model): no limit, reserved at the
    /// worst case like a budget so that a request nobody settles is never
    /// missing from it.
    Spend,
}

/// One hold with what it is for, to read a refusal and fill headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub hold: Hold,
    pub unit: Unit,
    /// Per-model windows do not make the rate headers.
    pub per_model: bool,
    pub resets_ms: u64,
}

/// The holds for one request: `tokens` (input upper bound plus output
/// bound) and `cost` (its worst case, nano-USD; `None` for a free model,
/// which no budget limits).
pub fn plan(
    id: &Identity,
    now_ms: u64,
    model: &str,
    tokens: i64,
    cost: Option<i64>,
) -> Vec<Planned> {
    let ws = now_ms - now_ms % RATE_WINDOW_MS;
    let we = ws + RATE_WINDOW_MS;
    let mut out = Vec::new();
    let mut push = |counter: String, amount: i64, limit: u64, unit, per_model, resets_ms: u64| {
        out.push(Planned {
            hold: Hold {
                counter,
                amount,
                limit: limit as i64,
                expires_ms: resets_ms + SLACK_MS,
            },
            unit,
            per_model,
            resets_ms,
        })
    };
    for (scope, l) in id.scopes() {
        if let Some(n) = l.rpm_limit {
            push(format!("{scope}:rpm:{ws}"), 1, n, Unit::Requests, false, we);
        }
        if let Some(n) = l.tpm_limit {
            push(
                format!("{scope}:tpm:{ws}"),
                tokens,
                n,
                Unit::Tokens,
                false,
                we,
            );
        }
        if let Some(n) = l.model_rpm_limit.get(model) {
            push(
                format!("{scope}:mrpm:{model}:{ws}"),
                1,
                *n,
                Unit::Requests,
                true,
                we,
            );
        }
        if let Some(n) = l.model_tpm_limit.get(model) {
            push(
                format!("{scope}:mtpm:{model}:{ws}"),
                tokens,
                *n,
                Unit::Tokens,
                true,
                we,
            );
        }
        if let Some(n) = l.max_parallel_requests {
            let until = now_ms + INFLIGHT_TIMEOUT_MS;
            push(format!("{scope}:par"), 1, n, Unit::Inflight, false, until);
        }
        if let (Some(max), Some(cost)) = (l.max_budget, cost) {
            let (ps, pe) = match l.period() {
                Some(p) => p.bounds(now_ms),
                None => (0, now_ms + TOTAL_TTL_MS),
            };
            push(
                format!("{scope}:bud:{ps}"),
                cost,
                nano(max) as u64,
                Unit::Budget,
                false,
                pe,
            );
        }
        if let Some(cost) = cost.filter(|c| *c > 0) {
            let until = now_ms + TOTAL_TTL_MS - SLACK_MS;
            for counter in [format!("{scope}:spend"), format!("{scope}:spend:{model}")] {
                push(counter, cost, i64::MAX as u64, Unit::Spend, false, until);
            }
        }
    }
    out
}

/// What a settled request cost in nano-USD: its real cost, or, when that is
/// not known, what was reserved for it (the rule for streams nobody saw end).
pub fn charged(holds: &[Planned], cost: Option<i64>) -> i64 {
    cost.unwrap_or_else(|| {
        holds
            .iter()
            .filter(|p| p.unit == Unit::Spend)
            .map(|p| p.hold.amount)
            .max()
            .unwrap_or(0)
    })
}

/// Settles a reservation: each hold's unused part returned (`tokens` and
/// `cost` are what the request really used; `None`: not known, so the
/// reservation stands), the in-flight count released. Spend totals were
/// reserved with the budget: they are corrected the same way.
pub fn settle(holds: &[Planned], tokens: Option<i64>, cost: Option<i64>) -> Vec<Add> {
    let mut adds = Vec::new();
    for p in holds {
        let back = match p.unit {
            Unit::Requests => 0,
            Unit::Inflight => 1,
            // More than reserved (an estimate that fell short) is charged too.
            Unit::Tokens => tokens.map_or(0, |t| p.hold.amount - t),
            Unit::Budget | Unit::Spend => cost.map_or(0, |c| p.hold.amount - c),
        };
        if back != 0 {
            adds.push(Add {
                counter: p.hold.counter.clone(),
                amount: -back,
                expires_ms: p.hold.expires_ms,
            });
        }
    }
    adds
}

/// What the rate and budget headers say after an admission: per unit, the
/// limit and what remains of the scope with the least left.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quota {
    pub requests: Option<(i64, i64)>,
    pub tokens: Option<(i64, i64)>,
    pub budget_nano: Option<i64>,
}

pub fn quota(holds: &[Planned], used: &[i64]) -> Quota {
    let mut q = Quota::default();
    for (p, used) in holds.iter().zip(used) {
        if p.per_model {
            continue;
        }
        let left = (p.hold.limit - used).max(0);
        let tighter = |cur: Option<(i64, i64)>| match cur {
            Some((_, l)) if l <= left => cur,
            _ => Some((p.hold.limit, left)),
        };
        match p.unit {
            Unit::Requests => q.requests = tighter(q.requests),
            Unit::Tokens => q.tokens = tighter(q.tokens),
            Unit::Budget => q.budget_nano = Some(q.budget_nano.map_or(left, |b| b.min(left))),
            Unit::Inflight | Unit::Spend => {}
        }
    }
    q
}

/// A reservation as the pipeline carries it to settlement.
#[derive(Debug, Clone)]
pub struct Held {
    pub identity: Arc<Identity>,
    pub ledger: String,
    pub model: String,
    pub holds: Vec<Planned>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(limits: Limits) -> Identity {
        Identity {
            key: KeyRecord {
                token: "0123456789abcdef0123".into(),
                limits,
                ..KeyRecord::default()
            },
            user: None,
            team: Some(TeamRecord {
                team_id: "a".into(),
                limits: Limits {
                    max_budget: Some(1.0),
                    budget_duration: Some("1d".into()),
                    ..Limits::default()
                },
                ..TeamRecord::default()
            }),
            ..Identity::default()
        }
    }

    #[test]
    fn a_plan_holds_every_scope_and_a_free_model_skips_budgets() {
        let id = identity(Limits {
            max_budget: Some(0.5),
            rpm_limit: Some(10),
            tpm_limit: Some(1_000),
            ..Limits::default()
        });
        let now = 86_400_000 * 3 + 5;
        let p = plan(&id, now, "m", 100, Some(2_000));
        let names: Vec<_> = p.iter().map(|p| p.hold.counter.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("k.0123456789abcdef:rpm:{}", now - 5),
                format!("k.0123456789abcdef:tpm:{}", now - 5),
                "k.0123456789abcdef:bud:0".to_string(),
                "k.0123456789abcdef:spend".to_string(),
                "k.0123456789abcdef:spend:m".to_string(),
                format!("t.a:bud:{}", 86_400_000 * 3),
                "t.a:spend".to_string(),
                "t.a:spend:m".to_string(),
            ]
        );
        assert_eq!(p[2].hold.limit, 500_000_000);
        // Spend totals are reserved like a budget, with no limit.
        assert!(p[3].unit == Unit::Spend && p[3].hold.limit == i64::MAX);
        assert_eq!(p[3].hold.amount, 2_000);
        let free = plan(&id, now, "m", 100, None);
        assert!(free
            .iter()
            .all(|p| p.unit != Unit::Budget && p.unit != Unit::Spend));
        assert_eq!(free.len(), 2);
    }

    #[test]
    fn settling_returns_the_unused_part_and_adds_spend() {
        let id = identity(Limits {
            max_budget: Some(0.5),
            tpm_limit: Some(1_000),
            ..Limits::default()
        });
        let p = plan(&id, 0, "m", 100, Some(2_000));
        let adds = settle(&p, Some(40), Some(500));
        let amounts: Vec<_> = adds
            .iter()
            .map(|a| (a.counter.as_str(), a.amount))
            .collect();
        assert_eq!(amounts[0], ("k.0123456789abcdef:tpm:0", -60));
        assert_eq!(amounts[1], ("k.0123456789abcdef:bud:0", -1_500));
        // The totals, reserved at 2,000, come down to the real 500.
        assert!(amounts.contains(&("k.0123456789abcdef:spend", -1_500)));
        assert!(amounts.contains(&("t.a:spend:m", -1_500)));
        assert!(amounts.contains(&("t.a:bud:0", -1_500)));
        assert_eq!(charged(&p, Some(500)), 500);
        // Usage unknown: the reservation stands (nothing to return) and is
        // what the request cost.
        let adds = settle(&p, None, None);
        assert!(adds.is_empty(), "{adds:?}");
        assert_eq!(charged(&p, None), 2_000);
        let q = quota(&p, &[100, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000]);
        assert_eq!(q.tokens, Some((1_000, 900)));
        assert_eq!(q.budget_nano, Some(499_998_000));
    }
}
