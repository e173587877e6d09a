//! Stage 3: input guardrails. They read the client's body as sent, through
//! the JSON text view (every string a model reads, on any ingress and any
//! path, the passthrough bytes included, without converting the request),
//! and mask or refuse before anything is resolved or sent.

use crate::error::GatewayError;
use crate::guardrails::{rewrite_strings, Blocked, Checker, Direction};

/// The body with its matches masked (`None`: unchanged), or the refusal.
pub fn guard_input(body: &[u8], checker: &mut Checker) -> Result<Option<Vec<u8>>, GatewayError> {
    let result = rewrite_strings(body, false, &mut |_, text| checker.check(text));
    match result {
        Ok(Ok(masked)) => Ok(masked),
        Ok(Err(_unreadable)) => Err(Blocked {
            set: checker.first_set(),
            kind: None,
        }
        .into_error(Direction::Input)),
        Err(blocked) => Err(blocked.into_error(Direction::Input)),
    }
}
