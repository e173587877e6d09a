//! Stage 2: whether the principal may spend now. Rate limits and budgets
//! reserve through a [`crate::state::Ledger`] here and act on its answer;
//! until they exist every request is admitted with nothing reserved.

use super::authenticate::Principal;
use crate::error::{ErrorKind, GatewayError};
use crate::state::{LedgerAnswer, Reservation};

/// What the driver holds until [`super::settle`]: nothing, or a reservation.
#[derive(Debug, Default)]
pub struct Admission {
    pub reservation: Option<Reservation>,
}

pub fn admit(_principal: Principal) -> Result<Admission, GatewayError> {
    Ok(Admission::default())
}

// The seam limits and budgets plug into; nothing calls it until they exist.
#[allow(dead_code)]
/// A ledger's answer as the driver acts on it: admitted with its
/// reservation, or a 429 naming when to come back.
pub fn decide(answer: LedgerAnswer) -> Result<Admission, GatewayError> {
    match answer {
        LedgerAnswer::Admitted(r) => Ok(Admission {
            reservation: Some(r),
        }),
        LedgerAnswer::Limited { retry_after_ms } => {
            let mut e = GatewayError::new(
                ErrorKind::RateLimited,
                "This key is over its limit; try again later.",
            )
            .with_code("rate_limit_exceeded");
            e.retry_after = Some(retry_after_ms.div_ceil(1000).to_string().into());
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_answer_is_a_429_with_whole_seconds_to_wait() {
        let e = decide(LedgerAnswer::Limited {
            retry_after_ms: 1_200,
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after.as_deref(), Some("2"));
        assert!(admit(Principal::Open).unwrap().reservation.is_none());
    }
}
