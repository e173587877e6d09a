//! Stage 5: where a request may go, as a plan the send stage walks. The
//! asked name's group and its fallback groups are resolved here, once:
//! every deployment's config, catalog metadata and label, then each
//! group's order under its strategy (see [`crate::router`]).

use super::admit::worst_cost;
use super::Call;
use crate::catalog::{Catalog, Prices};
use crate::config::{Config, ModelEntry};
use crate::error::{ErrorKind, GatewayError};
use crate::model_meta::{model_meta, ModelMeta};
use crate::ports::{Env, Ports};
use crate::resolve::{resolve_entry, resolve_listed, Deployment};
use crate::router::region::{self, Place};
use crate::router::{self, order, Candidate, Group, Groups, Plan};

/// One deployment a plan may send to, resolved.
pub struct Target<'c> {
    pub deployment: Deployment,
    pub entry: Option<&'c ModelEntry>,
    pub meta: ModelMeta,
    /// `x-dx-deployment`: the entry's `id`, else `provider/model`.
    pub label: String,
}

/// A request's plan and the deployments it refers to: a candidate's
/// `slot` indexes `targets`.
pub struct Route<'c> {
    pub plan: Plan,
    pub targets: Vec<Result<Target<'c>, GatewayError>>,
}

/// Health key of a deployment that is not a `model_list` entry.
pub const NOT_LISTED: usize = usize::MAX;

/// What the strategies need to know about the request.
pub struct Ask {
    /// Input tokens, an upper bound (the body's size).
    pub input_bound: u64,
    pub max_output: Option<u64>,
    /// The caller's own residency policies (a virtual key's, its user's,
    /// its team's), on top of each group's.
    pub residency: Vec<String>,
    /// A stream is ranked by time to first byte, a whole answer by all of it.
    pub stream: bool,
}

/// The plan for `name`. An unknown name is the client's 404, at once; a
/// fallback group that does not resolve is left out (the config was
/// checked when it loaded).
pub fn route<'c, P: Ports>(
    call: &Call<'c, P>,
    name: &str,
    ask: &Ask,
    here: Option<Place>,
) -> Result<Route<'c>, GatewayError> {
    let config: &'c Config = call.config;
    let settings = &config.router_settings;
    let now = call.ports.now_ms();
    call.health.mix(now);
    let lists = router::fallback_lists(settings, name);
    let mut names: Vec<&str> = vec![name];
    for list in lists {
        for n in list {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
    }
    let mut targets = Vec::new();
    let mut groups = Vec::with_capacity(names.len());
    let mut refused_by_residency = false;
    for (gi, group_name) in names.iter().enumerate() {
        let members = router::members(config, group_name);
        let mut resolved: Vec<(usize, Result<Target<'c>, GatewayError>)> = Vec::new();
        if members.is_empty() {
            match resolve_entry(group_name, config, call.catalog, &call.ports) {
                Ok((d, entry)) => {
                    let key = entry
                        .and_then(|e| config.model_list.iter().position(|x| std::ptr::eq(x, e)))
                        .unwrap_or(NOT_LISTED);
                    resolved.push((key, Ok(target(call.catalog, d, entry))));
                }
                Err(e) if gi == 0 => return Err(e),
                Err(_) => {}
            }
        }
        for i in members {
            let entry = &config.model_list[i];
            let t = resolve_listed(entry, call.catalog, &call.ports)
                .map(|d| target(call.catalog, d, Some(entry)));
            resolved.push((i, t));
        }
        let policies: Vec<&str> = settings
            .residency
            .get(*group_name)
            .into_iter()
            .chain(&ask.residency)
            .map(String::as_str)
            .collect();
        if !policies.is_empty() {
            let before = resolved.len();
            resolved.retain(|(i, _)| {
                let region = config.model_list.get(*i).and_then(|e| e.region.as_deref());
                policies.iter().all(|p| region::allowed(p, region))
            });
            refused_by_residency |= resolved.len() < before;
        }
        let mut cands = Vec::with_capacity(resolved.len());
        for (key, t) in resolved {
            let entry = config.model_list.get(key);
            let prices = t.as_ref().ok().map(|t| &t.meta.prices);
            cands.push(Candidate {
                entry: key,
                slot: targets.len(),
                order: entry.and_then(|e| e.order).unwrap_or(0),
                weight: entry.and_then(|e| e.weight).unwrap_or(1.0),
                rpm: entry.and_then(|e| e.rpm),
                tpm: entry.and_then(|e| e.tpm),
                cost: prices.and_then(|p| {
                    worst_cost(Some(p), ask.input_bound, ask.max_output.unwrap_or(0))
                }),
                distance_km: entry
                    .and_then(|e| e.region.as_deref())
                    .and_then(region::lookup)
                    .zip(here)
                    .map(|((p, _), h)| region::distance_km(h, p)),
            });
            targets.push(t);
        }
        let tokens = ask.input_bound.saturating_add(ask.max_output.unwrap_or(0));
        let (order, cooling) = order::arrange(
            cands,
            settings.strategy_of(group_name),
            call.health,
            now,
            tokens,
            ask.stream,
        );
        groups.push(Group {
            name: (*group_name).to_owned(),
            order,
            cooling,
        });
    }
    if groups
        .iter()
        .all(|g| g.order.is_empty() && g.cooling.is_empty())
        && refused_by_residency
    {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("No deployment of `{name}` is in the regions its residency policy (or this key's) allows."),
        )
        .with_code("residency_violation")
        .with_param("model"));
    }
    let index = |list: &[String]| -> Vec<usize> {
        list.iter()
            .filter_map(|n| names.iter().position(|x| x == n))
            .collect()
    };
    let [generic, context, policy] = lists.map(index);
    let groups = Groups {
        groups,
        generic,
        context,
        policy,
    };
    let num_retries = settings.num_retries.unwrap_or(config.general.num_retries);
    let plan = Plan::new(
        groups,
        settings,
        num_retries,
        config.general.max_retry_wait_ms,
        now,
        call.health.next_random(),
    );
    Ok(Route { plan, targets })
}

/// How a deployment is named in `x-dx-deployment`, logs and
/// `/model_group/info`: its entry's `id`, else `provider/model`.
pub fn label(d: &Deployment, entry: Option<&ModelEntry>) -> String {
    match entry.and_then(|e| e.id.clone()) {
        Some(id) => id,
        None => format!("{}/{}", d.provider.id, d.upstream_model),
    }
}

fn target<'c>(
    catalog: &'static Catalog,
    d: Deployment,
    entry: Option<&'c ModelEntry>,
) -> Target<'c> {
    let meta = model_meta(catalog, &d, entry);
    let label = label(&d, entry);
    Target {
        deployment: d,
        entry,
        meta,
        label,
    }
}

impl Route<'_> {
    /// The dearest prices among the deployments the plan may use: a
    /// reservation made with them covers whichever answers.
    pub fn dearest(&self, input: u64, output: u64) -> Option<&Prices> {
        self.targets
            .iter()
            .filter_map(|t| t.as_ref().ok())
            .map(|t| &t.meta.prices)
            .filter(|p| p.is_known())
            .max_by(|a, b| {
                let cost = |p: &Prices| worst_cost(Some(p), input, output).unwrap_or(0.0);
                cost(a).total_cmp(&cost(b))
            })
    }

    /// The plan narrowed to deployments priced at zero; false when it has
    /// none.
    pub fn keep_free(&mut self) -> bool {
        let free: Vec<bool> = self
            .targets
            .iter()
            .map(|t| t.as_ref().is_ok_and(|t| t.meta.free()))
            .collect();
        self.plan
            .keep(|c| free.get(c.slot).copied().unwrap_or(false), "budget")
    }

    /// The first deployment the plan will try, if any.
    pub fn first(&self) -> Option<&Target<'_>> {
        let g = self.plan.groups().iter().find(|g| !g.order.is_empty())?;
        self.targets.get(g.order[0].slot)?.as_ref().ok()
    }
}

/// Where the request landed, for the `nearest` strategy: the shell's
/// `x-dx-geo` (Workers: `request.cf`), else the AWS region the instance
/// runs in (Lambda).
pub fn here(headers: &http::HeaderMap, env: &impl Env) -> Option<Place> {
    if let Some(p) = headers
        .get("x-dx-geo")
        .and_then(|v| v.to_str().ok())
        .and_then(region::parse_place)
    {
        return Some(p);
    }
    let aws = env.var("AWS_REGION")?;
    region::lookup(&aws).map(|(p, _)| p)
}
