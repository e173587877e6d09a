//! AWS Signature Version 4 over a finished request, with the `aws-sigv4`
//! crate: Bedrock Runtime and DynamoDB requests are signed here. The signing
//! time is passed in: `SystemTime::now()` panics on wasm32, and a pure core
//! takes its clock from the shell anyway.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

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
) -> Result<(), SigningError> {
    if req.uri().host().is_none() {
        return Err(SigningError("the request URL has no host"));
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
        .map_err(|_| SigningError("incomplete signing parameters"))?
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
    .map_err(|_| SigningError("the request cannot be signed"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|_| SigningError("the request cannot be signed"))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

/// Why a request could not be signed. Never carries the signing crate's
/// error text: it could quote credentials. Callers say which service the
/// request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningError(&'static str);

impl SigningError {
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for SigningError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not sign the request (SigV4): {}", self.0)
    }
}

impl std::error::Error for SigningError {}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_SUITE_TIME_MS: u64 = 1_440_938_160_000; // 2015-08-30T12:36:00Z

    fn suite_request() -> http::Request<Bytes> {
        http::Request::builder()
            .method("POST")
            .uri("https://example.amazonaws.com/")
            .body(Bytes::new())
            .unwrap()
    }

    #[test]
    fn sigv4_matches_the_aws_test_suite_post_vanilla() {
        let mut req = suite_request();
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
        };
        sign_request(&mut req, &creds, "us-east-1", "service", AWS_SUITE_TIME_MS).unwrap();
        // aws-signing-test-suite/v4/post-vanilla/header-signed-request.txt
        assert_eq!(
            req.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn sigv4_matches_the_aws_test_suite_with_a_session_token() {
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let mut req = suite_request();
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: Some(token),
        };
        sign_request(&mut req, &creds, "us-east-1", "service", AWS_SUITE_TIME_MS).unwrap();
        // aws-signing-test-suite/v4/post-sts-header-before/header-signed-request.txt
        assert_eq!(
            req.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        );
        assert_eq!(req.headers()["x-amz-security-token"], token);
    }

    #[test]
    fn a_url_without_host_is_refused_without_quoting_anything() {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/relative")
            .body(Bytes::new())
            .unwrap();
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
        };
        let e = sign_request(&mut req, &creds, "us-east-1", "dynamodb", 0).unwrap_err();
        assert_eq!(e.reason(), "the request URL has no host");
        assert!(!e.to_string().contains("EXAMPLE"));
    }
}
