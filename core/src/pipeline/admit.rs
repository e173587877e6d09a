//! Stage 2: whether the principal may spend now. A virtual key's request
//! reserves its worst case in every scope of its ledger (key, user, team:
//! rate windows, tokens, budgets, in-flight count) in one ledger call, and
//! acts on the answer: admitted with the reservation held in the exchange
//! until [`super::settle`], or refused with a 429 naming when to come back.

use std::sync::Arc;

use http::StatusCode;

use super::authenticate::{ledger_unavailable, Principal};
use super::{Call, Exchange};
use crate::catalog::Prices;
use crate::cost::{completion_cost, TokenUsage};
use crate::error::{ErrorKind, GatewayError};
use crate::keys::charge::{self, nano, Identity, Planned, Refusal, Unit};
use crate::ports::Ports;
use crate::state::accounts::{Accounts, Answer, Op};

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
    let tokens = input_bound.saturating_add(output).min(i64::MAX as u64) as i64;
    let cost = worst_cost(ex.prices.as_deref(), input_bound, output).map(nano);
    let planned = charge::plan(&id, now, &ex.model, tokens, cost);
    let used = if planned.is_empty() {
        Vec::new()
    } else {
        let holds = planned.iter().map(|p| p.hold.clone()).collect();
        let op = Op::Reserve { now_ms: now, holds };
        match accounts.call(&id.key.ledger, op).await {
            Ok(Answer::Reserved { used }) => used,
            Ok(Answer::Refused { index, used }) => {
                return Err(refused(ex, &planned, index, used, now));
            }
            Ok(other) => return Err(ledger_unavailable(&format!("unexpected answer {other:?}"))),
            Err(e) => return Err(ledger_unavailable(&e)),
        }
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
