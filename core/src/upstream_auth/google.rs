//! Google OAuth2 for service accounts (Vertex AI): a JWT signed with the
//! account's RSA key (RS256) is exchanged at the account's `token_uri` for a
//! short-lived bearer token (RFC 7523 JWT bearer grant).
//!
//! Time comes from the [`Clock`] port and the exchange goes through the
//! [`HttpClient`] port, so this runs unchanged on wasm32. Tokens are cached
//! per process (Lambda) or isolate (Workers) until shortly before they expire.

use std::sync::{Mutex, PoisonError};

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::Method;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, GatewayError};
use crate::http::read_body;
use crate::ports::{with_timeout, Clock, Env, HttpClient, Sleep};
use crate::resolve::Deployment;
use crate::secret::Secret;

pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, form-encoded.
const GRANT_TYPE_FORM: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
/// Google's longest allowed assertion lifetime.
const ASSERTION_TTL_S: u64 = 3600;
/// A cached token is replaced this long before it expires (at most half its
/// lifetime), so no request leaves with a token that dies in flight.
const REFRESH_MARGIN_MS: u64 = 5 * 60 * 1000;
/// What Google grants when the answer does not say.
const DEFAULT_LIFETIME_S: u64 = 3600;
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Providers whose requests carry a Google OAuth2 access token: Vertex AI,
/// whatever model family it serves.
const GOOGLE_OAUTH_PROVIDERS: &[&str] = &["vertex_ai", "vertex_anthropic"];

pub fn needs_access_token(deployment: &Deployment) -> bool {
    GOOGLE_OAUTH_PROVIDERS.contains(&deployment.provider.id)
}

/// The fields of a service-account key file that minting uses.
pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    private_key_id: Option<String>,
    private_key: Secret,
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct ProjectOnly {
    #[serde(default)]
    project_id: Option<String>,
}

/// The `project_id` a service-account key file names (the default project
/// for Vertex AI URLs when the deployment names none).
pub fn project_id(credentials: &Secret) -> Option<String> {
    serde_json::from_str::<ProjectOnly>(credentials.expose())
        .ok()?
        .project_id
        .filter(|p| !p.is_empty())
}

impl ServiceAccount {
    pub fn parse(json: &str) -> Result<ServiceAccount, GatewayError> {
        // serde's messages hold no input text, but say nothing useful either.
        let file: KeyFile = serde_json::from_str(json)
            .map_err(|_| credentials_error("is not a service-account key file (JSON object)"))?;
        let client_email = file
            .client_email
            .filter(|s| !s.is_empty())
            .ok_or_else(|| credentials_error("has no `client_email`"))?;
        let private_key = file
            .private_key
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .ok_or_else(|| credentials_error("has no `private_key`"))?;
        Ok(ServiceAccount {
            client_email,
            token_uri: file
                .token_uri
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned()),
            private_key_id: file.private_key_id.filter(|s| !s.is_empty()),
            private_key,
        })
    }

    /// The signed JWT that asks `token_uri` for a cloud-platform token,
    /// valid from `now_s` for an hour, signed by the platform (`env`).
    pub async fn assertion(&self, env: &impl Env, now_s: u64) -> Result<String, GatewayError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            kid: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'static str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let header = Header {
            alg: "RS256",
            typ: "JWT",
            kid: self.private_key_id.as_deref(),
        };
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now_s,
            exp: now_s + ASSERTION_TTL_S,
        };
        let mut jwt = base64url_json(&header);
        jwt.push('.');
        jwt.push_str(&base64url_json(&claims));
        let key = pkcs8_der(self.private_key.expose()).ok_or_else(|| {
            credentials_error(
                "has a `private_key` that is not an RSA key in PEM (PKCS#8 or PKCS#1)",
            )
        })?;
        let signature = env
            .sign_rs256(&key, jwt.as_bytes())
            .await
            .map_err(|_| credentials_error("has a `private_key` that cannot sign"))?;
        jwt.push('.');
        jwt.push_str(&Base64UrlUnpadded::encode_string(&signature));
        Ok(jwt)
    }
}

fn base64url_json(value: &impl Serialize) -> String {
    // Plain structs of strings and integers always serialize.
    Base64UrlUnpadded::encode_string(&serde_json::to_vec(value).unwrap_or_default())
}

/// A PEM private key as PKCS#8 DER, which WebCrypto imports: PKCS#8
/// (`BEGIN PRIVATE KEY`, what Google issues) as it is, PKCS#1 (`BEGIN RSA
/// PRIVATE KEY`) wrapped in PKCS#8's `PrivateKeyInfo`. Whether the DER
/// holds a usable key is the signer's to find out.
pub(crate) fn pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let begin = pem.find("-----BEGIN ")?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let (body, _) = rest.split_once(&format!("-----END {label}-----"))?;
    let text: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64ct::Base64::decode_vec(&text).ok()?;
    match label {
        "PRIVATE KEY" => Some(der),
        "RSA PRIVATE KEY" => Some(wrap_pkcs1(&der)),
        _ => None,
    }
}

/// `PrivateKeyInfo { version 0, rsaEncryption with NULL parameters,
/// privateKey OCTET STRING }` around a PKCS#1 `RSAPrivateKey` (RFC 5208).
fn wrap_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    const HEAD: [u8; 18] = [
        0x02, 0x01, 0x00, // version 0
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
        0x00, // rsaEncryption, NULL
    ];
    let mut octets = vec![0x04];
    der_len(pkcs1.len(), &mut octets);
    octets.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(HEAD.len() + octets.len(), &mut out);
    out.extend_from_slice(&HEAD);
    out.extend_from_slice(&octets);
    out
}

/// A DER length: one byte below 128, else the count of big-endian bytes
/// that follow.
fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

struct CachedToken {
    /// The key file the token was minted for: one account, one key, one token endpoint.
    credentials: Secret,
    token: Secret,
    refresh_at_ms: u64,
}

/// Access tokens by service account, shared by every request the process
/// (or Workers isolate) serves. Concurrent first requests may each mint a
/// token; the last one stored wins, and all of them are valid.
pub struct TokenCache {
    entries: Mutex<Vec<CachedToken>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new()
    }
}

impl TokenCache {
    pub const fn new() -> Self {
        TokenCache {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// A bearer token for `credentials` (a service-account key file): the
    /// cached one while it is fresh, else a newly minted one.
    pub async fn get<P: HttpClient + Clock + Sleep + Env>(
        &self,
        ports: &P,
        credentials: &Secret,
        timeout_ms: u64,
    ) -> Result<Secret, GatewayError> {
        let now_ms = ports.now_ms();
        if let Some(token) = self.fresh(credentials, now_ms) {
            return Ok(token);
        }
        let account = ServiceAccount::parse(credentials.expose())?;
        let minted = mint(ports, &account, timeout_ms).await?;
        self.store(
            credentials,
            minted.token.clone(),
            now_ms,
            minted.lifetime_ms,
        );
        Ok(minted.token)
    }

    fn fresh(&self, credentials: &Secret, now_ms: u64) -> Option<Secret> {
        // Never held across an await; a poisoned lock still holds valid entries.
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|e| now_ms < e.refresh_at_ms && e.credentials == *credentials)
            .map(|e| e.token.clone())
    }

    fn store(&self, credentials: &Secret, token: Secret, now_ms: u64, lifetime_ms: u64) {
        let margin = REFRESH_MARGIN_MS.min(lifetime_ms / 2);
        let entry = CachedToken {
            credentials: credentials.clone(),
            token,
            refresh_at_ms: now_ms + lifetime_ms - margin,
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.credentials != *credentials);
        entries.push(entry);
    }
}

struct Minted {
    token: Secret,
    lifetime_ms: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

async fn mint<P: HttpClient + Clock + Sleep + Env>(
    ports: &P,
    account: &ServiceAccount,
    timeout_ms: u64,
) -> Result<Minted, GatewayError> {
    let assertion = Secret::new(account.assertion(ports, ports.now_ms() / 1000).await?);
    let form = format!(
        "grant_type={GRANT_TYPE_FORM}&assertion={}",
        assertion.expose()
    );
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(account.token_uri.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(Bytes::from(form))
        .map_err(|_| credentials_error("has a `token_uri` that is not a valid URL"))?;
    let response = match with_timeout(ports, timeout_ms, ports.send(request)).await {
        None => {
            return Err(token_unavailable(format!(
                "the token endpoint did not answer within {timeout_ms} ms"
            )))
        }
        Some(Err(e)) => return Err(token_unavailable(e.to_string())),
        Some(Ok(r)) => r,
    };
    let status = response.status;
    let body = read_body(ports, response.body, timeout_ms, MAX_TOKEN_RESPONSE)
        .await
        .map_err(|e| token_unavailable(e.message))?;
    if status.is_success() {
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| token_unavailable("the token endpoint answered without JSON".into()))?;
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                token_unavailable("the token endpoint answered without a token".into())
            })?;
        return Ok(Minted {
            token: Secret::new(token),
            lifetime_ms: answer.expires_in.unwrap_or(DEFAULT_LIFETIME_S) * 1000,
        });
    }
    let refusal: Option<TokenRefusal> = serde_json::from_slice(&body).ok();
    let reason = match refusal {
        Some(TokenRefusal {
            error: Some(error),
            error_description,
        }) => match error_description {
            Some(d) => format!("{error}: {d}"),
            None => error,
        },
        _ => format!("HTTP {}", status.as_u16()),
    };
    let reason = assertion.redact_in(&reason);
    if matches!(status.as_u16(), 400 | 401 | 403) {
        return Err(GatewayError::new(
            ErrorKind::Authentication,
            format!(
                "Google refused to issue an access token for the service account {}: {reason}.",
                account.client_email
            ),
        )
        .with_code("upstream_auth_failed"));
    }
    Err(token_unavailable(reason))
}

fn credentials_error(what: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::Configuration,
        format!("The Vertex AI credentials (vertex_credentials) {what}."),
    )
    .with_code("config_error")
}

fn token_unavailable(reason: String) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        format!("Could not obtain a Google access token: {reason}."),
    )
    .with_code("token_endpoint_unavailable")
}

#[cfg(test)]
mod tests;
