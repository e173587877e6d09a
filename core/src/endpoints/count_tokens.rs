//! `POST /v1/messages/count_tokens`: exact from an Anthropic passthrough
//! deployment, else estimated. Routed like `/v1/messages`; authenticated
//! by the pipeline like every protected endpoint.

use http::{HeaderValue, StatusCode};

use super::messages::plan;
use crate::codec::anthropic::{self, count_tokens_url, Target};
use crate::error::{ErrorKind, GatewayError};
use crate::http::{json, read_body};
use crate::http::{GatewayResponse, IncomingRequest};
use crate::ingress::anthropic_messages::{
    beta_features, estimate_tokens, passthrough_body, MessagesEnvelope, COUNT_FIELDS,
};
use crate::pipeline::{send, within_limit, Call, Exchange};
use crate::ports::Ports;
use crate::providers::Codec;
use crate::resolve::resolve_entry;

pub async fn count_tokens<P: Ports>(
    call: &Call<'_, P>,
    req: &IncomingRequest,
    ex: &mut Exchange,
) -> Result<GatewayResponse, GatewayError> {
    let config = call.config;
    within_limit(&req.body, config)?;
    let env = MessagesEnvelope::parse(&req.body)?;
    ex.model = env.model.clone();
    let route = plan(&env, config)?;
    ex.route = route.rule.as_str();
    ex.routed_model = route.model.clone();
    let (deployment, _) = resolve_entry(&route.model, config, call.catalog, &call.ports)?;
    ex.provider = deployment.provider.id;
    ex.upstream_model = deployment.upstream_model.clone();
    let (mut resp, method) = if deployment.codec() == Codec::Anthropic && deployment.passthrough {
        let body = passthrough_body(
            &env,
            &route,
            &deployment,
            Target::Anthropic,
            None,
            &config.task_routing,
            Some(COUNT_FIELDS),
        )?;
        let betas = beta_features(&req.headers);
        let mut request =
            anthropic::build_request(&deployment, body, false, Target::Anthropic, None, &betas)?;
        *request.uri_mut() = count_tokens_url(&deployment.api_base)
            .parse()
            .map_err(|_| {
                GatewayError::new(
                    ErrorKind::Configuration,
                    "invalid api_base for count_tokens",
                )
                .with_code("config_error")
            })?;
        let upstream =
            send::send_alone(call, &deployment, request, anthropic::decode_error, ex).await?;
        let idle_ms = config.general.stream_idle_timeout_ms;
        let body = read_body(&call.ports, upstream.body, idle_ms, 1024 * 1024).await?;
        (json(StatusCode::OK, body), "exact")
    } else {
        let n = estimate_tokens(&env);
        (
            json(StatusCode::OK, format!("{{\"input_tokens\":{n}}}")),
            "estimate",
        )
    };
    let h = resp.headers_mut();
    h.insert("x-dx-token-count", HeaderValue::from_static(method));
    h.insert("x-dx-route", HeaderValue::from_static(route.rule.as_str()));
    if let Ok(v) = HeaderValue::from_str(&route.model) {
        h.insert("x-dx-model", v);
    }
    Ok(resp)
}
