//! AWS Signature Version 4 over a finished request, with the `aws-sigv4`
//! crate. The signing time is passed in: `SystemTime::now()` panics on wasm32,
//! and a pure core takes its clock from the shell anyway.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

use crate::error::{ErrorKind, GatewayError};

pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// Adds `x-amz-date`, `x-amz-security-token` (with a session token) and
/// `authorization` to `req`, signing its method, path, query, headers and body.
pub fn sign_request(
    req: &mut http::Request<Bytes>,
    creds: &Credentials<'_>,
    region: &str,
    service: &str,
    now_ms: u64,
) -> Result<(), GatewayError> {
    if req.uri().host().is_none() {
        return Err(signing_error("the upstream URL has no host"));
    }
    let identity: Identity = aws_credential_types::Credentials::new(
        creds.access_key_id,
        creds.secret_access_key,
        creds.session_token.map(str::to_owned),
        None,
        "dx-gateway",
    )
    .into();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| signing_error("incomplete signing parameters"))?
        .into();
    let uri = req.uri().to_string();
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers,
        SignableBody::Bytes(req.body()),
    )
    .map_err(|_| signing_error("the request cannot be signed"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|_| signing_error("the request cannot be signed"))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// Never carries the signing error's text: it could quote credentials.
fn signing_error(why: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::Configuration,
        format!("Could not sign the Bedrock request (SigV4): {why}."),
    )
    .with_code("config_error")
}
