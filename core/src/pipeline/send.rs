//! Stage 6: send attempts, as the route plan directs: one attempt per
//! `Send`, a sleep per `Wait`, the last error on `GiveUp`.

use bytes::Bytes;

use super::route_plan::{Planner, RoutePlan};
use super::{Call, Exchange};
use crate::codec::{self, ErrorDecoder};
use crate::config::General;
use crate::error::{ErrorKind, GatewayError};
use crate::http::read_body;
use crate::ports::{with_timeout, Ports, TransportError, UpstreamResponse};
use crate::resolve::Deployment;

/// The route plan's attempts for one request built for `deployment`: what
/// the upstream answered (or the last error), and the plan, which knows the
/// deployment that answered. The attempt count goes into the exchange.
pub async fn send_with_plan<P: Ports>(
    call: &Call<'_, P>,
    deployment: Deployment,
    request: http::Request<Bytes>,
    decode_error: ErrorDecoder,
    ex: &mut Exchange,
) -> (Result<UpstreamResponse, GatewayError>, Planner) {
    let general = &call.config.general;
    let mut planner = Planner::new(deployment, general);
    let upstream = send_planned(&call.ports, general, &mut planner, request, decode_error).await;
    ex.attempts = planner.attempts();
    (upstream, planner)
}

/// Sends `request` until it succeeds or the plan gives up. The request is
/// built once for the plan's one deployment; a plan with fallbacks will
/// build one per deployment.
pub async fn send_planned<P: Ports>(
    ports: &P,
    general: &General,
    planner: &mut Planner,
    request: http::Request<Bytes>,
    decode_error: ErrorDecoder,
) -> Result<UpstreamResponse, GatewayError> {
    loop {
        let err = match planner.next(ports.now_ms()) {
            RoutePlan::Send(deployment) => {
                match attempt(ports, general, deployment, &request, decode_error).await {
                    Ok(resp) => return Ok(resp),
                    Err(Fatal(e)) => return Err(e),
                    Err(Retry(e)) => e,
                }
            }
            RoutePlan::Wait(ms) => {
                ports.sleep(ms).await;
                continue;
            }
            RoutePlan::GiveUp(e) => return Err(e),
        };
        planner.failed(err, ports.now_ms());
    }
}

/// Why an attempt failed: worth asking the plan about, or not at all.
enum Failure {
    Retry(GatewayError),
    Fatal(GatewayError),
}
use Failure::{Fatal, Retry};

/// One attempt with the deployment's timeout; an error status is decoded
/// into the gateway's error with the upstream's credentials redacted.
async fn attempt<P: Ports>(
    ports: &P,
    general: &General,
    deployment: &Deployment,
    request: &http::Request<Bytes>,
    decode_error: ErrorDecoder,
) -> Result<UpstreamResponse, Failure> {
    let timeout = deployment
        .request_timeout_ms
        .unwrap_or(general.request_timeout_ms);
    match with_timeout(ports, timeout, ports.send(request.clone())).await {
        None => Err(Retry(
            GatewayError::new(
                ErrorKind::UpstreamTimeout,
                format!(
                    "The upstream ({}) did not answer within {timeout} ms.",
                    deployment.provider.id
                ),
            )
            .with_code("upstream_timeout"),
        )),
        Some(Err(TransportError::InvalidRequest(m))) => Err(Fatal(
            GatewayError::new(
                ErrorKind::Configuration,
                format!("Could not build the upstream request: {m}."),
            )
            .with_code("config_error"),
        )),
        Some(Err(e)) => Err(Retry(
            GatewayError::new(
                ErrorKind::UpstreamUnavailable,
                format!(
                    "Could not reach the upstream ({}): {e}.",
                    deployment.provider.id
                ),
            )
            .with_code("upstream_unreachable"),
        )),
        Some(Ok(resp)) if resp.status.is_success() => Ok(resp),
        Some(Ok(resp)) => {
            let body = read_body(
                ports,
                resp.body,
                general.stream_idle_timeout_ms,
                1024 * 1024,
            )
            .await
            .unwrap_or_default();
            let mut err = decode_error(resp.status, &resp.headers, &body, deployment);
            if matches!(
                err.kind,
                ErrorKind::Authentication | ErrorKind::PermissionDenied
            ) {
                // The client's own key was fine: say whose credentials failed.
                err.message = format!(
                    "The upstream provider `{}` rejected the gateway's credentials: {}",
                    deployment.provider.id, err.message
                );
            }
            Err(Retry(codec::redact_credentials(
                err,
                deployment,
                request.headers(),
            )))
        }
    }
}
