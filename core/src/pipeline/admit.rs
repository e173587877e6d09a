//! Stage 2: whether the principal may spend now. A virtual key's request
//! reserves its worst case in every scope of its ledger (key, user, team:
//! rate windows, tokens, budgets, in-flight count) in one ledger call, and
//! acts on the answer: admitted with the reservation held in the exchange
//! until [`super::settle`], or refused with a 429 naming when to come back.

use std::sync::Arc;

use http::StatusCode;

use super::authenticate::{accept, ledger_unavailable, Principal};
use super::{Call, Exchange};
use crate::catalog::Prices;
use crate::cost::{completion_cost, TokenUsage};
use crate::error::{ErrorKind, GatewayError};
use crate::keys::charge::{self, nano, Identity, Planned, Refusal, Unit};
use crate::ports::Ports;
use crate::state::accounts::{Accounts, Answer, Check, Op};

/// Output bound when neither the client nor the catalog gives one.
pub const DEFAULT_MAX_OUTPUT: u64 = 4_096;

/// A reservation held until the exchange settles.
pub struct Held {
    pub accounts: Arc<dyn Accounts>,
    pub identity: Arc<Identity>,
    pub model: String,
    pub holds: Vec<Planned>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("ledger", &self.identity.key.ledger)
            .field("holds", &self.holds.len())
            .finish()
    }
}

/// What a request may cost at most: every input token priced at the
/// dearest input rate (plain, cache write, 1-hour cache write), every
/// output token at the output rate. `None`: a free or unpriced model.
pub fn worst_cost(prices: Option<&Prices>, input: u64, output: u64) -> Option<f64> {
    let prices = prices.filter(|p| !p.is_free())?;
    let base = TokenUsage {
        input_tokens: input,
        output_tokens: output,
        ..TokenUsage::default()
    };
    [
        base,
        TokenUsage {
            cache_write_tokens: input,
            ..base
        },
        TokenUsage {
            cache_write_1h_tokens: input,
            ..base
        },
    ]
    .iter()
    .filter_map(|u| completion_cost(prices, u))
    .reduce(f64::max)
}

/// `names`: the model as asked for and as resolved, for the model lists.
/// `input_bound`: tokens the prompt cannot exceed (its size in bytes: no
/// token is shorter than a byte). `max_output`: the client's or the model's.
pub async fn admit<P: Ports>(
    call: &Call<'_, P>,
    ex: &mut Exchange,
    names: &[&str],
    input_bound: u64,
    max_output: Option<u64>,
) -> Result<(), GatewayError> {
    let Principal::Key(id) = &ex.principal else {
        return Ok(());
    };
    let Some(accounts) = call.accounts else {
        return Ok(());
    };
    let id = id.clone();
    let now = call.ports.now_ms();
    if id.check(now, names) == Err(Refusal::ModelNotAllowed) {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("This key may not use the model `{}`.", ex.model),
        )
        .with_code("model_not_allowed")
        .with_param("model"));
    }
    let output = max_output.unwrap_or(DEFAULT_MAX_OUTPUT);
    let prices = ex.prices.as_deref();
    let key = Key {
        id: &id,
        remembered: ex.key_remembered,
    };
    let reserve = reserve(
        &**accounts,
        key,
        now,
        &ex.model,
        prices,
        input_bound,
        output,
    );
    let reservation = reserve.await;
    // Any answer of the ledger's confirmed or replaced a remembered key.
    if reservation.is_ok() {
        ex.key_remembered = false;
    }
    let (planned, used) = match reservation {
        Ok(Reservation::Held {
            holds,
            used,
            clamped,
        }) => {
            if let Some(n) = clamped {
                ex.max_tokens_clamped = format!("{output}->{n}");
                ex.output_bound = Some(n.min(u32::MAX.into()) as u32);
            }
            (holds, used)
        }
        Ok(Reservation::Refused { holds, index, used }) => {
            return Err(refused(ex, &holds, index, used, now));
        }
        Ok(Reservation::Stale { values, stamp }) => {
            // Judged so far on records that changed: the exchange starts
            // over under the ledger's (nothing has been sent upstream).
            let fresh =
                accept(&values, stamp, now).inspect_err(|_| call.known.forget(&id.key.token))?;
            let fresh = Arc::new(fresh);
            call.known.put(&fresh);
            ex.principal = Principal::Key(fresh);
            return Err(restart());
        }
        Err(e) => return Err(ledger_unavailable(&e)),
    };
    ex.quota = Some(charge::quota(&planned, &used));
    // Shared by the exchange and a stream's settler; on wasm32 nothing is
    // `Send`, and nothing needs to be.
    #[allow(clippy::arc_with_non_send_sync)]
    let held = Arc::new(Held {
        accounts: accounts.clone(),
        identity: id,
        model: ex.model.clone(),
        holds: planned,
    });
    ex.held = Some(held);
    Ok(())
}

const RESTART: &str = "dx_restart";

/// Never reaches a client: `endpoints::inference` runs the exchange again
/// (see `pipeline::recheck`).
fn restart() -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        "The key changed during the request; try again.",
    )
    .with_code(RESTART)
}

pub fn is_restart(e: &GatewayError) -> bool {
    e.code.as_deref() == Some(RESTART)
}

/// The fewest output tokens a budget clamps a request to: below it the
/// request is refused (`budget_exceeded`) rather than cut to an answer too
/// short to use.
pub const CLAMP_FLOOR: u64 = 16;

/// What the ledger answered a reservation.
#[derive(Debug, PartialEq)]
pub enum Reservation {
    /// Every hold taken, with each counter's value after it. `clamped`: the
    /// output bound a budget lowered the request to, which is what the
    /// holds are for and what the upstream must be told.
    Held {
        holds: Vec<Planned>,
        used: Vec<i64>,
        clamped: Option<u64>,
    },
    /// `holds[index]` did not fit: its counter stood at `used`.
    Refused {
        holds: Vec<Planned>,
        index: usize,
        used: i64,
    },
    /// A remembered key's records changed: nothing is held, and these are
    /// the records as they are now.
    Stale {
        values: Vec<Option<serde_json::Value>>,
        stamp: String,
    },
}

/// The key a reservation is for, and whether the instance remembered it
/// (its records are then checked by the ledger first).
#[derive(Clone, Copy)]
pub struct Key<'a> {
    pub id: &'a Identity,
    pub remembered: bool,
}

/// Reserves a request of `input` tokens and `output` more in every scope
/// of `id`'s ledger. A budget that cannot pay for that but can pay for the
/// input and at least [`CLAMP_FLOOR`] output tokens lowers the output
/// bound to what its remainder pays for, and the reservation is asked
/// again: at most once per budget scope (a second budget, or a first one
/// that others spent from meanwhile, may still refuse the lower bound).
pub async fn reserve(
    accounts: &dyn Accounts,
    key: Key<'_>,
    now: u64,
    model: &str,
    prices: Option<&Prices>,
    input: u64,
    mut output: u64,
) -> Result<Reservation, String> {
    let Key { id, remembered } = key;
    let mut clamped = None;
    let mut retries = 0;
    loop {
        let tokens = input.saturating_add(output).min(i64::MAX as u64) as i64;
        let cost = worst_cost(prices, input, output).map(nano);
        let holds = charge::plan(id, now, model, tokens, cost);
        // A remembered key is checked even when nothing is held.
        if holds.is_empty() && !remembered {
            return Ok(Reservation::Held {
                holds,
                used: Vec::new(),
                clamped,
            });
        }
        let check = remembered.then(|| Check {
            token: id.key.token.clone(),
            stamp: id.stamp.clone(),
            user: id.key.user_id.clone(),
            team: id.key.team_id.clone(),
        });
        let op = Op::Reserve {
            now_ms: now,
            holds: holds.iter().map(|p| p.hold.clone()).collect(),
            check,
        };
        let (index, used) = match accounts.call(&id.key.ledger, op).await? {
            Answer::Reserved { used } => {
                return Ok(Reservation::Held {
                    holds,
                    used,
                    clamped,
                })
            }
            Answer::Refused { index, used } => (index, used),
            Answer::Identity { values, stamp } => return Ok(Reservation::Stale { values, stamp }),
            other => return Err(format!("unexpected answer {other:?}")),
        };
        let budgets = holds.iter().filter(|p| p.unit == Unit::Budget).count();
        let fits = holds
            .get(index)
            .filter(|p| p.unit == Unit::Budget && retries < budgets)
            .and_then(|p| affordable_output(prices, input, p.hold.limit - used));
        match fits {
            Some(n) if n < output => {
                retries += 1;
                output = n;
                clamped = Some(n);
            }
            _ => return Ok(Reservation::Refused { holds, index, used }),
        }
    }
}

/// The most output tokens `left` nano-USD pays for beside the worst case of
/// `input` tokens, when that is at least [`CLAMP_FLOOR`]. For a given input
/// the worst case is linear in output (a price tier goes by input), so the
/// count is computed from its slope, then checked against `nano`'s rounding.
#[inline(never)]
pub fn affordable_output(prices: Option<&Prices>, input: u64, left: i64) -> Option<u64> {
    let at = |n: u64| worst_cost(prices, input, n).map(nano);
    let base = at(0)?;
    let per_m = at(1_000_000)? - base;
    if per_m <= 0 || left < base {
        return None;
    }
    let mut n = ((left - base) as f64 * 1e6 / per_m as f64) as u64;
    for _ in 0..2 {
        if at(n)? <= left {
            break;
        }
        n = n.saturating_sub(1);
    }
    (n >= CLAMP_FLOOR && at(n)? <= left).then_some(n)
}

fn refused(
    ex: &mut Exchange,
    planned: &[Planned],
    index: usize,
    used: i64,
    now: u64,
) -> GatewayError {
    let Some(p) = planned.get(index) else {
        return ledger_unavailable("a refusal named no hold");
    };
    let mut quota = charge::quota(&planned[..index], &[]);
    let left = (p.hold.limit - used).max(0);
    match p.unit {
        Unit::Requests if !p.per_model => quota.requests = Some((p.hold.limit, left)),
        Unit::Tokens if !p.per_model => quota.tokens = Some((p.hold.limit, left)),
        Unit::Budget => quota.budget_nano = Some(left),
        _ => {}
    }
    ex.quota = Some(quota);
    if p.unit == Unit::Budget {
        return GatewayError::new(
            ErrorKind::RateLimited,
            "This request could cost more than what remains of the budget.",
        )
        .with_code("budget_exceeded");
    }
    let (message, wait_ms) = match p.unit {
        Unit::Inflight => (
            "Too many requests in flight for this key; try again shortly.",
            1_000,
        ),
        Unit::Tokens => (
            "Token rate limit reached; try again later.",
            p.resets_ms - now,
        ),
        _ => (
            "Request rate limit reached; try again later.",
            p.resets_ms - now,
        ),
    };
    let mut e = GatewayError::new(ErrorKind::RateLimited, message)
        .with_code("rate_limit_exceeded")
        .with_status(StatusCode::TOO_MANY_REQUESTS);
    e.retry_after = Some(wait_ms.div_ceil(1000).max(1).to_string().into());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::records::{KeyRecord, Limits, TeamRecord, UserRecord};
    use crate::state::accounts::{Add, MemoryAccounts};
    use futures::executor::block_on;

    /// USD per million tokens: input 1, cache writes 1.25 (the dearest
    /// input rate: 1,250 nano-USD a token), output 2 (2,000 a token).
    fn prices() -> Prices {
        Prices {
            input: Some(1.0),
            output: Some(2.0),
            cache_write: Some(1.25),
            ..Prices::default()
        }
    }

    fn budget(usd: f64) -> Limits {
        Limits {
            max_budget: Some(usd),
            ..Limits::default()
        }
    }

    /// A key with a user and a team, each with these limits.
    fn identity(key: Limits, user: Limits, team: Limits) -> Identity {
        Identity {
            key: KeyRecord {
                token: "0123456789abcdef0123".into(),
                key_id: "k1".into(),
                ledger: "l".into(),
                limits: key,
                ..KeyRecord::default()
            },
            user: Some(UserRecord {
                user_id: "u1".into(),
                limits: user,
                ..UserRecord::default()
            }),
            team: Some(TeamRecord {
                team_id: "t1".into(),
                limits: team,
                ..TeamRecord::default()
            }),
            ..Identity::default()
        }
    }

    /// Spends `nano` of a scope's budget (`k.k1`, `u.u1`, `t.t1`).
    fn spend(a: &MemoryAccounts, scope: &str, nano: i64) {
        let adds = vec![Add {
            counter: format!("{scope}:bud:0"),
            amount: nano,
            expires_ms: u64::MAX,
        }];
        block_on(a.call("l", Op::Adjust { now_ms: 0, adds })).unwrap();
    }

    fn read(a: &MemoryAccounts, scope: &str) -> i64 {
        let op = Op::Read {
            now_ms: 0,
            counters: vec![format!("{scope}:bud:0")],
        };
        match block_on(a.call("l", op)).unwrap() {
            Answer::Counters { used } => used[0],
            other => panic!("{other:?}"),
        }
    }

    fn ask(a: &MemoryAccounts, id: &Identity, prices: Option<&Prices>, output: u64) -> Reservation {
        let key = Key {
            id,
            remembered: false,
        };
        block_on(reserve(a, key, 0, "m", prices, 1_000, output)).unwrap()
    }

    fn clamped(r: &Reservation) -> Option<u64> {
        match r {
            Reservation::Held { clamped, .. } => *clamped,
            other => panic!("not held: {other:?}"),
        }
    }

    #[test]
    fn the_affordable_output_is_the_largest_count_the_remainder_pays_for() {
        let p = prices();
        // 1,000 input tokens at 1,250 nano-USD: 1,250,000 before any output.
        let base = 1_250_000;
        assert_eq!(
            affordable_output(Some(&p), 1_000, base + 100 * 2_000),
            Some(100)
        );
        assert_eq!(
            affordable_output(Some(&p), 1_000, base + 100 * 2_000 + 1_999),
            Some(100)
        );
        // The floor: 16 tokens, and not one fewer.
        assert_eq!(
            affordable_output(Some(&p), 1_000, base + 16 * 2_000),
            Some(16)
        );
        assert_eq!(
            affordable_output(Some(&p), 1_000, base + 16 * 2_000 - 1),
            None
        );
        assert_eq!(affordable_output(Some(&p), 1_000, base - 1), None);
        assert_eq!(affordable_output(Some(&p), 1_000, -5), None);
        // Free or unpriced: nothing to compute.
        assert_eq!(affordable_output(None, 1_000, 1 << 40), None);
        // Computed, not searched, and right against the worst case itself
        // for awkward prices: the count fits, one more does not.
        let odd = Prices {
            input: Some(0.15),
            output: Some(0.6),
            cache_write_1h: Some(0.3),
            ..Prices::default()
        };
        // 777 input tokens at 300 nano-USD: 233,100 before any output.
        for left in [300_000, 1_234_567, 987_654_321, 5_000_000_003] {
            let n = affordable_output(Some(&odd), 777, left).unwrap();
            let at = |n| nano(worst_cost(Some(&odd), 777, n).unwrap());
            assert!(at(n) <= left && at(n + 1) > left, "{left}: {n}");
        }
    }

    #[test]
    fn a_budget_that_pays_for_less_than_the_bound_clamps_it_in_each_scope() {
        let p = prices();
        // $0.002 = 2,000,000 nano: the prompt's 1,250,000 and 375 output
        // tokens at 2,000.
        let none = Limits::default;
        for (scope, id) in [
            ("k.k1", identity(budget(0.002), none(), none())),
            ("u.u1", identity(none(), budget(0.002), none())),
            ("t.t1", identity(none(), none(), budget(0.002))),
        ] {
            let a = MemoryAccounts::default();
            let r = ask(&a, &id, Some(&p), 4_096);
            assert_eq!(clamped(&r), Some(375), "{scope}");
            // What was reserved is the clamped worst case: within the budget.
            assert_eq!(read(&a, scope), 1_250_000 + 375 * 2_000, "{scope}");
            // 1,290,000 left: the prompt and 20 tokens; then nothing.
            spend(&a, scope, -1_290_000);
            assert_eq!(clamped(&ask(&a, &id, Some(&p), 4_096)), Some(20), "{scope}");
            assert_eq!(read(&a, scope), 2_000_000, "{scope}");
            let r = ask(&a, &id, Some(&p), 4_096);
            assert!(matches!(r, Reservation::Refused { .. }), "{scope}: {r:?}");
        }
    }

    #[test]
    fn no_clamp_when_the_bound_fits_and_a_refusal_below_the_floor() {
        let p = prices();
        let none = Limits::default;
        let id = identity(budget(0.002), none(), none());
        let a = MemoryAccounts::default();
        // 200 tokens fit: reserved as asked, nothing clamped.
        let r = ask(&a, &id, Some(&p), 200);
        assert_eq!(clamped(&r), None);
        assert_eq!(read(&a, "k.k1"), 1_250_000 + 200 * 2_000);
        // 350,000 nano left: 1,250,000 is not even the prompt.
        match ask(&a, &id, Some(&p), 4_096) {
            Reservation::Refused { holds, index, used } => {
                assert_eq!(holds[index].unit, Unit::Budget);
                assert_eq!(used, 1_650_000);
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(read(&a, "k.k1"), 1_650_000);
        // A free model is not held by budgets at all.
        let r = ask(&a, &id, None, 4_096);
        assert_eq!(clamped(&r), None);
    }

    #[test]
    fn two_budgets_clamp_once_each_to_the_tighter() {
        let p = prices();
        let none = Limits::default;
        // The key pays for 375 output tokens, the team for 100.
        let id = identity(budget(0.002), none(), budget(0.00145));
        let a = MemoryAccounts::default();
        let r = ask(&a, &id, Some(&p), 4_096);
        assert_eq!(clamped(&r), Some(100));
        assert_eq!(read(&a, "k.k1"), 1_450_000);
        assert_eq!(read(&a, "t.t1"), 1_450_000);
        // The key clamps to 375, then the team pays for 10: below the
        // floor, refused by the team with nothing held.
        let id = identity(budget(0.002), none(), budget(0.00127));
        let a = MemoryAccounts::default();
        match ask(&a, &id, Some(&p), 4_096) {
            Reservation::Refused { holds, index, used } => {
                assert_eq!(holds[index].hold.counter, "t.t1:bud:0");
                assert_eq!(used, 0);
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(read(&a, "k.k1"), 0);
    }

    #[test]
    fn the_worst_case_prices_every_input_token_at_the_dearest_rate() {
        let prices = Prices {
            // USD per million tokens.
            input: Some(1.0),
            output: Some(2.0),
            cache_write: Some(1.25),
            ..Prices::default()
        };
        let w = worst_cost(Some(&prices), 1_000, 100).unwrap();
        assert!(
            (w - (1_000.0 * 1.25e-6 + 100.0 * 2e-6)).abs() < 1e-15,
            "{w}"
        );
        let free = Prices {
            input: Some(0.0),
            output: Some(0.0),
            ..Prices::default()
        };
        assert_eq!(worst_cost(Some(&free), 1_000, 100), None);
        assert_eq!(worst_cost(None, 1_000, 100), None);
    }
}
