//! Stage 3: input guardrails (content rules, PII redaction). None are
//! configured yet: every request passes unchanged.

use crate::error::GatewayError;

/// What the guard sees of the request, in either representation (read
/// by the guardrails to come).
#[allow(dead_code)]
pub enum InputView<'r> {
    /// The client's own body, forwarded as is (passthrough).
    Raw(&'r [u8]),
    Unified(&'r crate::unified::ChatRequest),
}

pub fn guard_input(_view: InputView<'_>) -> Result<(), GatewayError> {
    Ok(())
}
