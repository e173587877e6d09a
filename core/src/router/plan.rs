//! One request's route as a state machine: which deployment next, how long
//! to wait first, or give up. It knows the groups (the asked one and its
//! fallbacks, each already in strategy order) and how each error class
//! moves on:
//!
//! - 429, 5xx, timeouts, unreachable: the next deployment of the group at
//!   once; when all were tried, the group again after a backoff, while
//!   retries and the wait budget last; then the generic fallbacks;
//! - the gateway's credentials refused, model unknown upstream, a broken
//!   deployment config: the next deployment, then the generic fallbacks,
//!   never the same deployment again;
//! - the prompt over a window: the next deployment (it may have a larger
//!   one), then the context-window fallbacks;
//! - the content refused: the content-policy fallbacks;
//! - anything else (the client's own mistake): give up at once.

use super::order::Candidate;
use crate::config::RouterSettings;
use crate::error::{ErrorKind, GatewayError};

/// One group of a plan, its deployments in the order to try them.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub order: Vec<Candidate>,
    /// Deployments left out because they are cooling, with the time their
    /// cooldown ends.
    pub cooling: Vec<(Candidate, u64)>,
}

#[derive(Debug)]
pub enum Step<'p> {
    /// Send to this deployment of this group (index into the plan's groups).
    Send(usize, &'p Candidate),
    Wait(u64),
    GiveUp(GatewayError),
}

/// Which fallback list the plan is walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Generic,
    ContextWindow,
    ContentPolicy,
}

#[derive(Debug)]
enum State {
    Ready,
    Backoff { resume_at_ms: u64 },
    Failed(GatewayError),
}

#[derive(Debug)]
pub struct Plan {
    groups: Vec<Group>,
    /// Fallback lists as indexes into `groups`.
    generic: Vec<usize>,
    context: Vec<usize>,
    policy: Vec<usize>,
    group: usize,
    /// Next position in the current group's order.
    next: usize,
    via: Option<(Via, usize)>,
    num_retries: u32,
    retries_left: u32,
    max_wait_ms: u64,
    budget_ms: u64,
    waited_ms: u64,
    max_fallbacks: usize,
    fallbacks_used: usize,
    attempts: u32,
    fallback: Option<String>,
    state: State,
    random: u64,
}

/// What a plan is made of: its groups (the asked one first) and the
/// fallback lists as indexes into them.
pub struct Groups {
    pub groups: Vec<Group>,
    pub generic: Vec<usize>,
    pub context: Vec<usize>,
    pub policy: Vec<usize>,
}

impl Plan {
    /// `random` seeds the backoff jitter.
    pub fn new(
        g: Groups,
        settings: &RouterSettings,
        num_retries: u32,
        max_wait_ms: u64,
        now_ms: u64,
        random: u64,
    ) -> Plan {
        let mut plan = Plan {
            groups: g.groups,
            generic: g.generic,
            context: g.context,
            policy: g.policy,
            group: 0,
            next: 0,
            via: None,
            num_retries,
            retries_left: num_retries,
            max_wait_ms,
            budget_ms: settings.retry_budget_ms,
            waited_ms: 0,
            max_fallbacks: settings.max_fallbacks,
            fallbacks_used: 0,
            attempts: 0,
            fallback: None,
            state: State::Ready,
            random,
        };
        if plan.groups.first().is_none_or(|g| g.order.is_empty()) {
            plan.state = match plan.walk(Via::Generic, "cooldown") {
                true => State::Ready,
                false => State::Failed(plan.no_healthy(now_ms)),
            };
        }
        plan
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Attempts sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// `from → to (why)` when the request left its group.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Narrows the plan to the deployments `keep` accepts (the free ones,
    /// when the caller's budget is spent), from its first group that has
    /// one; false when none is left.
    pub fn keep(&mut self, keep: impl Fn(&Candidate) -> bool, why: &str) -> bool {
        for g in &mut self.groups {
            g.order.retain(&keep);
            g.cooling.retain(|(c, _)| keep(c));
        }
        let Some(first) = self.groups.iter().position(|g| !g.order.is_empty()) else {
            return false;
        };
        self.group = first;
        self.next = 0;
        self.state = State::Ready;
        self.fallback = Some(format!(
            "{} -> {} ({why})",
            self.groups[0].name, self.groups[first].name
        ));
        true
    }

    /// The next step at `now_ms`. A `Wait` is answered once: after it the
    /// plan sends, whatever the clock says (on Workers it moves only across
    /// IO).
    pub fn next(&mut self, now_ms: u64) -> Step<'_> {
        match std::mem::replace(&mut self.state, State::Ready) {
            State::Failed(e) => Step::GiveUp(e),
            State::Backoff { resume_at_ms } if resume_at_ms > now_ms => {
                self.state = State::Ready;
                Step::Wait(resume_at_ms - now_ms)
            }
            State::Ready | State::Backoff { .. } => {
                let g = self.group;
                let Some(last) = self.groups[g].order.len().checked_sub(1) else {
                    return Step::GiveUp(self.no_healthy(now_ms));
                };
                let i = self.next.min(last);
                self.next = i + 1;
                self.attempts += 1;
                Step::Send(g, &self.groups[g].order[i])
            }
        }
    }

    /// The attempt just planned failed with `err` at `now_ms`; `sent` is
    /// false when it never left (a prompt over the deployment's window, a
    /// deployment whose config does not resolve).
    pub fn failed(&mut self, err: GatewayError, now_ms: u64, sent: bool) {
        if !sent {
            self.attempts -= 1;
        }
        let moved = match class(&err) {
            Class::Client => false,
            Class::ContentPolicy => self.walk(Via::ContentPolicy, "content_policy"),
            Class::ContextWindow => {
                self.next_in_group() || self.walk(Via::ContextWindow, "context_window")
            }
            Class::Deployment => self.next_in_group() || self.walk(Via::Generic, reason(&err)),
            Class::Transient => {
                self.next_in_group()
                    || self.backoff(&err, now_ms)
                    || self.walk(Via::Generic, reason(&err))
            }
        };
        if !moved {
            self.state = State::Failed(err);
        }
    }

    fn next_in_group(&mut self) -> bool {
        self.next < self.groups[self.group].order.len()
    }

    /// The group again from its first deployment, after a wait.
    fn backoff(&mut self, err: &GatewayError, now_ms: u64) -> bool {
        if self.retries_left == 0 {
            return false;
        }
        let asked_ms = retry_after_ms(err);
        let n = self.num_retries - self.retries_left;
        let backoff = 250u64 << (n + 1).min(6);
        // Full jitter on the upper half: retries of many clients spread out.
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        let jittered = backoff / 2 + self.random % (backoff / 2 + 1);
        let wait = asked_ms.unwrap_or(jittered).min(self.max_wait_ms);
        if self.waited_ms.saturating_add(wait) > self.budget_ms {
            return false;
        }
        self.retries_left -= 1;
        self.waited_ms += wait;
        self.next = 0;
        self.state = State::Backoff {
            resume_at_ms: now_ms.saturating_add(wait),
        };
        true
    }

    /// On to the next group of the `via` list that has a deployment to try.
    fn walk(&mut self, via: Via, why: &str) -> bool {
        let list = match via {
            Via::Generic => &self.generic,
            Via::ContextWindow => &self.context,
            Via::ContentPolicy => &self.policy,
        };
        let mut pos = match self.via {
            Some((v, p)) if v == via => p + 1,
            _ => 0,
        };
        while let Some(&g) = list.get(pos) {
            if self.fallbacks_used >= self.max_fallbacks {
                return false;
            }
            if !self.groups[g].order.is_empty() && g != self.group {
                self.fallbacks_used += 1;
                self.fallback = Some(format!(
                    "{} -> {} ({why})",
                    self.groups[0].name, self.groups[g].name
                ));
                self.via = Some((via, pos));
                self.group = g;
                self.next = 0;
                self.retries_left = self.num_retries;
                return true;
            }
            pos += 1;
        }
        false
    }

    /// Every deployment that could answer is cooling down.
    fn no_healthy(&self, now_ms: u64) -> GatewayError {
        let soonest = self
            .groups
            .iter()
            .flat_map(|g| g.cooling.iter().map(|(_, until)| *until))
            .min();
        let mut e = GatewayError::new(
            ErrorKind::UpstreamUnavailable,
            format!(
                "Every deployment of `{}` is cooling down after repeated failures.",
                self.groups.first().map_or("", |g| g.name.as_str())
            ),
        )
        .with_code("no_healthy_deployment");
        e.status = http::StatusCode::SERVICE_UNAVAILABLE;
        e.retry_after = soonest.map(|until| {
            let secs = until.saturating_sub(now_ms).div_ceil(1000).max(1);
            secs.to_string().into_boxed_str()
        });
        e
    }
}

/// The upstream's `Retry-After` (seconds, as relayed) in milliseconds.
pub fn retry_after_ms(err: &GatewayError) -> Option<u64> {
    let s: f64 = err.retry_after.as_deref()?.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then_some((s * 1000.0) as u64)
}

/// Whether a failure counts towards cooling the deployment that gave it:
/// it was unavailable, or refused the gateway's own credentials.
pub fn counts_against_deployment(err: &GatewayError) -> bool {
    err.kind.is_retryable()
        || matches!(
            err.kind,
            ErrorKind::Authentication | ErrorKind::PermissionDenied
        )
}

enum Class {
    Transient,
    Deployment,
    ContextWindow,
    ContentPolicy,
    Client,
}

fn class(err: &GatewayError) -> Class {
    match err.kind {
        ErrorKind::RateLimited
        | ErrorKind::UpstreamTimeout
        | ErrorKind::UpstreamUnavailable
        | ErrorKind::UpstreamServer => Class::Transient,
        ErrorKind::Authentication
        | ErrorKind::PermissionDenied
        | ErrorKind::NotFound
        | ErrorKind::Configuration => Class::Deployment,
        ErrorKind::ContextWindowExceeded => Class::ContextWindow,
        ErrorKind::ContentFiltered => Class::ContentPolicy,
        ErrorKind::InvalidRequest | ErrorKind::MethodNotAllowed | ErrorKind::PayloadTooLarge => {
            Class::Client
        }
    }
}

/// Why a request left its group, in a word for headers and logs.
fn reason(err: &GatewayError) -> &'static str {
    match err.kind {
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::UpstreamTimeout => "timeout",
        ErrorKind::UpstreamUnavailable => "unavailable",
        ErrorKind::UpstreamServer => "server_error",
        ErrorKind::Authentication | ErrorKind::PermissionDenied => "upstream_auth",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Configuration => "config",
        ErrorKind::ContextWindowExceeded => "context_window",
        ErrorKind::ContentFiltered => "content_policy",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn group(name: &str, entries: &[usize]) -> Group {
        Group {
            name: name.into(),
            order: entries.iter().map(|&e| cand(e)).collect(),
            cooling: Vec::new(),
        }
    }

    fn plan(
        groups: Vec<Group>,
        generic: Vec<usize>,
        context: Vec<usize>,
        policy: Vec<usize>,
        retries: u32,
    ) -> Plan {
        let g = Groups {
            groups,
            generic,
            context,
            policy,
        };
        Plan::new(g, &RouterSettings::default(), retries, 10_000, 0, 42)
    }

    fn send(p: &mut Plan, now: u64) -> (String, usize) {
        match p.next(now) {
            Step::Send(g, c) => {
                let entry = c.entry;
                (p.groups[g].name.clone(), entry)
            }
            other => panic!("expected a send, got {other:?}"),
        }
    }

    fn err(kind: ErrorKind) -> GatewayError {
        GatewayError::new(kind, "x")
    }

    #[test]
    fn a_transient_failure_goes_to_the_next_deployment_then_backs_off_then_falls_back() {
        let mut p = plan(
            vec![group("a", &[0, 1]), group("b", &[2])],
            vec![1],
            vec![],
            vec![],
            1,
        );
        assert_eq!(send(&mut p, 0), ("a".into(), 0));
        p.failed(err(ErrorKind::UpstreamServer), 0, true);
        assert_eq!(send(&mut p, 0), ("a".into(), 1), "next deployment at once");
        p.failed(err(ErrorKind::UpstreamServer), 0, true);
        let wait = match p.next(0) {
            Step::Wait(ms) => ms,
            other => panic!("expected a backoff, got {other:?}"),
        };
        assert!(
            (250..=500).contains(&wait),
            "jittered 500 ms backoff: {wait}"
        );
        assert_eq!(
            send(&mut p, 0),
            ("a".into(), 0),
            "the group again from the top"
        );
        p.failed(err(ErrorKind::RateLimited), 600, true);
        assert_eq!(send(&mut p, 600), ("a".into(), 1));
        p.failed(err(ErrorKind::UpstreamTimeout), 600, true);
        assert_eq!(
            send(&mut p, 600),
            ("b".into(), 2),
            "retries spent: fallback"
        );
        assert_eq!(p.fallback(), Some("a -> b (timeout)"));
        p.failed(err(ErrorKind::UpstreamServer), 700, true);
        // b has one retry of its own.
        assert!(matches!(p.next(700), Step::Wait(_)));
        assert_eq!(send(&mut p, 5_000), ("b".into(), 2));
        p.failed(err(ErrorKind::UpstreamServer), 5_000, true);
        assert!(matches!(p.next(5_000), Step::GiveUp(e) if e.kind == ErrorKind::UpstreamServer));
        assert_eq!(p.attempts(), 6);
    }

    #[test]
    fn the_client_s_own_mistakes_are_never_retried() {
        for kind in [ErrorKind::InvalidRequest, ErrorKind::PayloadTooLarge] {
            let mut p = plan(
                vec![group("a", &[0, 1]), group("b", &[2])],
                vec![1],
                vec![1],
                vec![1],
                3,
            );
            send(&mut p, 0);
            p.failed(err(kind), 0, true);
            assert!(matches!(p.next(0), Step::GiveUp(e) if e.kind == kind));
            assert_eq!(p.attempts(), 1);
        }
    }

    #[test]
    fn a_deployment_problem_moves_on_without_retrying_it() {
        let mut p = plan(
            vec![group("a", &[0]), group("b", &[1])],
            vec![1],
            vec![],
            vec![],
            3,
        );
        send(&mut p, 0);
        p.failed(err(ErrorKind::Authentication), 0, true);
        assert_eq!(send(&mut p, 0), ("b".into(), 1));
        assert_eq!(p.fallback(), Some("a -> b (upstream_auth)"));
    }

    #[test]
    fn context_and_content_errors_take_their_own_lists() {
        let groups = || {
            vec![
                group("small", &[0, 1]),
                group("generic", &[2]),
                group("big", &[3]),
                group("lenient", &[4]),
            ]
        };
        let mut p = plan(groups(), vec![1], vec![2], vec![3], 0);
        send(&mut p, 0);
        // Found before sending: not an attempt; the sibling may be larger.
        p.failed(err(ErrorKind::ContextWindowExceeded), 0, false);
        assert_eq!(send(&mut p, 0), ("small".into(), 1));
        p.failed(err(ErrorKind::ContextWindowExceeded), 0, true);
        assert_eq!(send(&mut p, 0), ("big".into(), 3));
        assert_eq!(p.fallback(), Some("small -> big (context_window)"));
        assert_eq!(p.attempts(), 2);

        let mut p = plan(groups(), vec![1], vec![2], vec![3], 0);
        send(&mut p, 0);
        p.failed(err(ErrorKind::ContentFiltered), 0, true);
        assert_eq!(
            send(&mut p, 0),
            ("lenient".into(), 4),
            "not the sibling: same model"
        );

        let mut p = plan(groups(), vec![1], vec![], vec![], 0);
        send(&mut p, 0);
        p.failed(err(ErrorKind::ContentFiltered), 0, true);
        assert!(matches!(p.next(0), Step::GiveUp(e) if e.kind == ErrorKind::ContentFiltered));
    }

    #[test]
    fn a_group_all_cooling_falls_back_at_once_or_says_when_to_come_back() {
        let mut cooled = group("a", &[]);
        cooled.cooling = vec![(cand(0), 4_200), (cand(1), 9_000)];
        let mut p = plan(
            vec![cooled.clone(), group("b", &[2])],
            vec![1],
            vec![],
            vec![],
            0,
        );
        assert_eq!(send(&mut p, 0), ("b".into(), 2));
        assert_eq!(p.fallback(), Some("a -> b (cooldown)"));

        let g = Groups {
            groups: vec![cooled],
            generic: vec![],
            context: vec![],
            policy: vec![],
        };
        let mut p = Plan::new(g, &RouterSettings::default(), 0, 10_000, 1_000, 1);
        match p.next(1_000) {
            Step::GiveUp(e) => {
                assert_eq!(e.status.as_u16(), 503);
                assert_eq!(e.retry_after.as_deref(), Some("4"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn waits_stop_at_the_budget_and_retry_after_is_honoured() {
        let settings = RouterSettings {
            retry_budget_ms: 3_000,
            ..RouterSettings::default()
        };
        let g = Groups {
            groups: vec![group("a", &[0])],
            generic: vec![],
            context: vec![],
            policy: vec![],
        };
        let mut p = Plan::new(g, &settings, 5, 60_000, 0, 9);
        send(&mut p, 0);
        let mut e = err(ErrorKind::RateLimited);
        e.retry_after = Some("2".into());
        p.failed(e.clone(), 0, true);
        assert!(matches!(p.next(500), Step::Wait(1_500)));
        send(&mut p, 2_000);
        p.failed(e, 2_000, true);
        assert!(
            matches!(p.next(2_000), Step::GiveUp(_)),
            "2 s + 2 s is over the 3 s budget"
        );
    }

    #[test]
    fn fallbacks_stop_at_the_maximum() {
        let settings = RouterSettings {
            max_fallbacks: 1,
            ..RouterSettings::default()
        };
        let g = Groups {
            groups: vec![group("a", &[0]), group("b", &[1]), group("c", &[2])],
            generic: vec![1, 2],
            context: vec![],
            policy: vec![],
        };
        let mut p = Plan::new(g, &settings, 0, 0, 0, 1);
        send(&mut p, 0);
        p.failed(err(ErrorKind::UpstreamServer), 0, true);
        assert_eq!(send(&mut p, 0), ("b".into(), 1));
        p.failed(err(ErrorKind::UpstreamServer), 0, true);
        assert!(matches!(p.next(0), Step::GiveUp(_)));
    }
}
