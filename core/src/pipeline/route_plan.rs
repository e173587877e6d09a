//! Where the next attempt goes, as a value the driver acts on: send to a
//! deployment, wait, or give up. Today a plan holds one deployment and
//! retries it; fallbacks and cooldowns add deployments and reasons to skip
//! them here, without touching the driver.

use crate::config::General;
use crate::error::GatewayError;
use crate::resolve::Deployment;

#[derive(Debug)]
pub enum RoutePlan<'p> {
    Send(&'p Deployment),
    Wait(u64),
    GiveUp(GatewayError),
}

pub struct Planner {
    deployment: Deployment,
    num_retries: u32,
    max_wait_ms: u64,
    attempts: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    Ready,
    /// The last attempt failed; the next one may start at `resume_at_ms`.
    Backoff {
        resume_at_ms: u64,
    },
    Failed(GatewayError),
}

impl Planner {
    pub fn new(deployment: Deployment, general: &General) -> Self {
        Planner {
            deployment,
            num_retries: general.num_retries,
            max_wait_ms: general.max_retry_wait_ms,
            attempts: 0,
            state: State::Ready,
        }
    }

    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    pub fn into_deployment(self) -> Deployment {
        self.deployment
    }

    /// Attempts sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next step at `now_ms`. A `Wait` is answered once: after it the
    /// plan sends, whatever the clock says (on Workers it moves only across
    /// IO, in tests it may not move at all).
    pub fn next(&mut self, now_ms: u64) -> RoutePlan<'_> {
        match std::mem::replace(&mut self.state, State::Ready) {
            State::Ready => {
                self.attempts += 1;
                RoutePlan::Send(&self.deployment)
            }
            State::Backoff { resume_at_ms } if resume_at_ms > now_ms => {
                RoutePlan::Wait(resume_at_ms - now_ms)
            }
            State::Backoff { .. } => {
                self.attempts += 1;
                RoutePlan::Send(&self.deployment)
            }
            State::Failed(e) => RoutePlan::GiveUp(e),
        }
    }

    /// Records that the attempt just sent failed with `err` at `now_ms`:
    /// retryable errors are tried again after the upstream's `Retry-After`
    /// (seconds) or an exponential backoff, capped at `max_retry_wait_ms`.
    pub fn failed(&mut self, err: GatewayError, now_ms: u64) {
        let retries = self.attempts.saturating_sub(1);
        if retries >= self.num_retries || !err.kind.is_retryable() {
            self.state = State::Failed(err);
            return;
        }
        let asked_ms = err
            .retry_after
            .as_deref()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|s| (s * 1000.0) as u64);
        let backoff_ms = 250u64 << (retries + 1).min(6);
        let wait = asked_ms.unwrap_or(backoff_ms).min(self.max_wait_ms);
        self.state = State::Backoff {
            resume_at_ms: now_ms.saturating_add(wait),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::ports::Env;

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn planner(num_retries: u32, max_retry_wait_ms: u64) -> Planner {
        let config =
            crate::Config::parse("[[model_list]]\nmodel_name = \"m\"\nmodel = \"mock/m\"\n")
                .unwrap();
        let d = crate::resolve::resolve_model("m", &config, &NoEnv).unwrap();
        let general = General {
            num_retries,
            max_retry_wait_ms,
            ..config.general.clone()
        };
        Planner::new(d, &general)
    }

    fn overloaded(retry_after: Option<&str>) -> GatewayError {
        let mut e = GatewayError::new(ErrorKind::UpstreamUnavailable, "busy");
        e.retry_after = retry_after.map(Into::into);
        e
    }

    #[test]
    fn retries_after_the_asked_wait_measured_on_the_clock() {
        let mut p = planner(2, 60_000);
        assert!(matches!(p.next(1_000), RoutePlan::Send(_)));
        p.failed(overloaded(Some("2")), 1_000);
        // Reading the error took 500 ms: only the rest is waited for.
        assert!(matches!(p.next(1_500), RoutePlan::Wait(1_500)));
        assert!(
            matches!(p.next(1_500), RoutePlan::Send(_)),
            "a wait is answered once"
        );
        p.failed(overloaded(None), 4_000);
        assert!(
            matches!(p.next(4_000), RoutePlan::Wait(1_000)),
            "backoff 250 << 2"
        );
        assert!(matches!(p.next(5_000), RoutePlan::Send(_)));
        assert_eq!(p.attempts(), 3);
        p.failed(overloaded(None), 5_100);
        match p.next(5_100) {
            RoutePlan::GiveUp(e) => assert_eq!(e.message, "busy"),
            other => panic!("expected to give up, got {other:?}"),
        }
    }

    #[test]
    fn a_clock_past_the_deadline_sends_at_once_and_waits_are_capped() {
        let mut p = planner(1, 300);
        assert!(matches!(p.next(0), RoutePlan::Send(_)));
        p.failed(overloaded(Some("30")), 0);
        assert!(
            matches!(p.next(100), RoutePlan::Wait(200)),
            "capped at 300 ms"
        );
        let mut p = planner(1, 300);
        assert!(matches!(p.next(0), RoutePlan::Send(_)));
        p.failed(overloaded(Some("30")), 0);
        assert!(matches!(p.next(301), RoutePlan::Send(_)));
    }

    #[test]
    fn errors_that_are_not_retryable_give_up_at_once() {
        let mut p = planner(5, 60_000);
        assert!(matches!(p.next(0), RoutePlan::Send(_)));
        p.failed(GatewayError::invalid_request("bad"), 0);
        assert!(matches!(p.next(0), RoutePlan::GiveUp(_)));
        assert_eq!(p.attempts(), 1);
    }
}
