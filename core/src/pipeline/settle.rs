//! Stage 8: settle and observe. The reservation [`super::admit`] made is
//! settled with what the exchange used (none is made yet), and the exchange
//! is observed: its access log line. A whole answer is settled as the
//! handler returns; a stream when it ends.
//!
//! The log line is written in place, not through `Background`: on Workers
//! every deferred future is a JS promise and `waitUntil` call per request,
//! the p99 budget's enemy, and a line is one `console.log`. Ledger writes,
//! which are IO, will go through `Background`.

use super::admit::Admission;
use super::Exchange;
use crate::cost::{completion_cost, TokenUsage};
use crate::ports::{Clock, Log, MaybeSend};
use crate::stream::{OnDone, StreamOutcome};

/// Settles a whole answer's reservation. The identity until a ledger exists.
pub fn settle(admission: Admission, _ex: &Exchange) {
    drop(admission.reservation);
}

/// Observes a finished exchange: its log line.
pub fn observe(ports: &impl Log, ex: &Exchange) {
    ports.log(&ex.log_line());
}

/// The exchange of a stream is settled and observed when the stream ends.
pub fn stream_settler<P: Clock + Log + MaybeSend + 'static>(ports: P, ex: &mut Exchange) -> OnDone {
    ex.deferred = true;
    let mut line = ex.clone();
    line.status = 200;
    OnDone::new(move |outcome: StreamOutcome| {
        line.latency_ms = ports.now_ms().saturating_sub(line.ts);
        line.usage = outcome.usage;
        line.cost = line
            .prices
            .as_deref()
            .zip(outcome.usage)
            .and_then(|(p, u)| completion_cost(p, &TokenUsage::from(u)));
        line.error = outcome.error;
        line.client_gone = outcome.client_gone;
        observe(&ports, &line);
    })
}
