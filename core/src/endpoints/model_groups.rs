//! `GET /model_group/info`: the configured model groups as the router sees
//! them on this instance: strategy, fallbacks, residency, and each
//! deployment with its priority, weight, region and health (cooling,
//! requests in flight, time to first byte). Health is per instance: another
//! instance may have seen other failures.

use http::StatusCode;
use serde_json::{json, Value};

use crate::error::GatewayError;
use crate::http::{json as respond, GatewayResponse};
use crate::pipeline::route_plan::label;
use crate::pipeline::Call;
use crate::ports::Ports;
use crate::resolve::resolve_listed;
use crate::router;

pub fn model_groups<P: Ports>(call: &Call<'_, P>) -> Result<GatewayResponse, GatewayError> {
    let config = call.config;
    let settings = &config.router_settings;
    let now = call.ports.now_ms();
    let mut names: Vec<&str> = Vec::new();
    for e in &config.model_list {
        if !names.contains(&e.model_name.as_str()) {
            names.push(&e.model_name);
        }
    }
    let data: Vec<Value> = names
        .iter()
        .map(|name| {
            let [generic, context, policy] = router::fallback_lists(settings, name);
            let deployments: Vec<Value> = router::members(config, name)
                .into_iter()
                .map(|i| {
                    let e = &config.model_list[i];
                    let health = call.health.of(i, now);
                    let cooling = call.health.cooling(i, now);
                    let (id, error) = match resolve_listed(e, call.catalog, &call.ports) {
                        Ok(d) => (label(&d, Some(e)), None),
                        Err(err) => (e.id.clone().unwrap_or_default(), Some(err.message)),
                    };
                    json!({
                        "id": id,
                        "order": e.order.unwrap_or(0),
                        "weight": e.weight.unwrap_or(1.0),
                        "region": e.region,
                        "rpm": e.rpm,
                        "tpm": e.tpm,
                        "healthy": cooling.is_none(),
                        "cooling_for_s": cooling.map(|until| until.saturating_sub(now).div_ceil(1000)),
                        "in_flight": health.in_flight,
                        "ttfb_ms": health.ttfb_ewma_ms.map(|ms| (ms * 10.0).round() / 10.0),
                        "ms_per_output_token": health.per_token_ewma_ms.map(|ms| (ms * 100.0).round() / 100.0),
                        "requests_this_minute": health.rpm_used,
                        "error": error,
                    })
                })
                .collect();
            json!({
                "model_group": name,
                "routing_strategy": settings.strategy_of(name).name(),
                "fallbacks": generic,
                "context_window_fallbacks": context,
                "content_policy_fallbacks": policy,
                "residency": settings.residency.get(*name),
                "deployments": deployments,
            })
        })
        .collect();
    let body = json!({ "data": data, "health": "this instance's" });
    Ok(respond(StatusCode::OK, body.to_string()))
}
