//! Service-account JWTs and the token cache, with the fleet's throwaway test
//! key and in-memory ports (a fake clock and a token endpoint that counts mints).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{HeaderMap, StatusCode};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::Verifier;
use rsa::RsaPrivateKey;
use sha2::Sha256;

use super::*;
use crate::ports::{TransportError, UpstreamResponse};

const TEST_SA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fleet/vertex_test_service_account.json"
));
const EMAIL: &str = "dx-gateway@dx-fleet-test.iam.gserviceaccount.com";

fn b64(part: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(part).unwrap()
}

fn test_key() -> RsaPrivateKey {
    let v: serde_json::Value = serde_json::from_str(TEST_SA).unwrap();
    RsaPrivateKey::from_pkcs8_pem(v["private_key"].as_str().unwrap()).unwrap()
}

/// The ports' default signer, as every shell but the Worker uses it.
struct DefaultSigner;

impl Env for DefaultSigner {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn sign(pem: &str, message: &[u8]) -> Vec<u8> {
    let der = pkcs8_der(pem).unwrap();
    futures::executor::block_on(DefaultSigner.sign_rs256(&der, message)).unwrap()
}

fn assertion(sa: &ServiceAccount, now_s: u64) -> Result<String, GatewayError> {
    futures::executor::block_on(sa.assertion(&DefaultSigner, now_s))
}

#[test]
fn a_pkcs1_key_is_wrapped_into_the_pkcs8_der_webcrypto_imports() {
    let key = test_key();
    let pkcs1 = key.to_pkcs1_pem(Default::default()).unwrap();
    let pkcs8 = key.to_pkcs8_der().unwrap();
    assert_eq!(pkcs8_der(&pkcs1).unwrap(), pkcs8.as_bytes());
    assert!(RsaPrivateKey::from_pkcs8_der(&pkcs8_der(&pkcs1).unwrap()).is_ok());
    // Long forms of the DER length: one, two and three bytes after 0x8n.
    for (n, want) in [
        (5usize, vec![5u8]),
        (200, vec![0x81, 200]),
        (1_190, vec![0x82, 0x04, 0xa6]),
        (70_000, vec![0x83, 0x01, 0x11, 0x70]),
    ] {
        let mut out = Vec::new();
        der_len(n, &mut out);
        assert_eq!(out, want, "{n}");
    }
    assert!(
        pkcs8_der("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----").is_none()
    );
    assert!(pkcs8_der("no pem here").is_none());
}

#[test]
fn rs256_matches_an_independent_implementation() {
    // Signed by Python's `cryptography` (PKCS#1 v1.5 signatures are deterministic).
    let expected = "fDOveU7SsyiUBXp-WAH_aivOeXvaI6-evSA1EAWkpvK2GYkMX1hFfKlt79baqk1jGvBoq9RBKuBYKeIOqaf9dXU9fAfgyBktBmzutissAHcHdmNxC5T2ip61WuFMFjpLU-920UBMaekMLMegFsJKolfWXV466wexqPSDY4jJnKnQNDLMNlfPBnSz8qfioOJAphuVBZ2qVJQDG7LJL3R6Vow0RD-F2uiYkgt_wmFLA8DtC1X3EDKesVSQd93iPBivqmOQQenDkPa-MpldpmchO_mKokv3NpCUu7H-bjCINnnO8-LqEDISZObY8vTjy-gwMKFyix8UIkVykGOSonMRIA";
    let v: serde_json::Value = serde_json::from_str(TEST_SA).unwrap();
    let pem = v["private_key"].as_str().unwrap();
    let sig = sign(pem, b"dx-gateway RS256 known answer");
    assert_eq!(Base64UrlUnpadded::encode_string(&sig), expected);
    // The same key as PKCS#1 signs the same.
    let pkcs1 = test_key().to_pkcs1_pem(Default::default()).unwrap();
    assert_eq!(sign(&pkcs1, b"dx-gateway RS256 known answer"), sig);
}

#[test]
fn assertion_is_signed_and_carries_the_claims_google_checks() {
    let sa = ServiceAccount::parse(TEST_SA).unwrap();
    assert_eq!(sa.client_email, EMAIL);
    let jwt = assertion(&sa, 1_700_000_000).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "fleet-test-key-1"})
    );
    let claims: serde_json::Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    assert_eq!(
        claims,
        serde_json::json!({
            "iss": EMAIL,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 1_700_000_000u64,
            "exp": 1_700_003_600u64,
        })
    );
    let verifier = VerifyingKey::<Sha256>::new(test_key().to_public_key());
    let signature = Signature::try_from(&b64(parts[2])[..]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(verifier.verify(signed.as_bytes(), &signature).is_ok());
    // The signature covers the claims: another expiry does not verify.
    let forged = format!(
        "{}.{}",
        parts[0],
        Base64UrlUnpadded::encode_string(
            &serde_json::to_vec(&serde_json::json!({"iss": EMAIL, "exp": 1_800_000_000u64}))
                .unwrap()
        )
    );
    assert!(verifier.verify(forged.as_bytes(), &signature).is_err());
}

#[test]
fn key_file_problems_are_configuration_errors_without_the_key() {
    for (text, needle) in [
        ("not json", "not a service-account key file"),
        (r#"{"private_key":"x"}"#, "no `client_email`"),
        (r#"{"client_email":"a@b"}"#, "no `private_key`"),
    ] {
        let e = ServiceAccount::parse(text).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert!(e.message.contains(needle), "{}", e.message);
    }
    let sa = ServiceAccount::parse(
        r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nnotbase64!\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    let e = assertion(&sa, 1).unwrap_err();
    assert!(e.message.contains("not an RSA key"), "{}", e.message);
    assert!(!e.message.contains("notbase64"));
}

#[test]
fn project_id_comes_from_the_key_file() {
    assert_eq!(
        project_id(&Secret::new(TEST_SA)).as_deref(),
        Some("dx-fleet-test")
    );
    assert_eq!(project_id(&Secret::new("{}")), None);
}

/// A token endpoint that counts mints, behind a clock the test moves.
#[derive(Clone)]
struct FakeGoogle {
    now_ms: Arc<AtomicU64>,
    mints: Arc<AtomicUsize>,
    answer: Arc<Mutex<(u16, String)>>,
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl FakeGoogle {
    fn new(now_ms: u64, expires_in: u64) -> Self {
        FakeGoogle {
            now_ms: Arc::new(AtomicU64::new(now_ms)),
            mints: Arc::new(AtomicUsize::new(0)),
            answer: Arc::new(Mutex::new((
                200,
                format!(
                    r#"{{"access_token":"TOKEN","expires_in":{expires_in},"token_type":"Bearer"}}"#
                ),
            ))),
            seen: Arc::default(),
        }
    }

    fn set_time(&self, ms: u64) {
        self.now_ms.store(ms, Ordering::SeqCst);
    }

    fn mints(&self) -> usize {
        self.mints.load(Ordering::SeqCst)
    }
}

impl HttpClient for FakeGoogle {
    async fn send(&self, req: http::Request<Bytes>) -> Result<UpstreamResponse, TransportError> {
        let n = self.mints.fetch_add(1, Ordering::SeqCst) + 1;
        let ctype = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().unwrap().push((
            req.uri().to_string(),
            ctype,
            String::from_utf8(req.body().to_vec()).unwrap(),
        ));
        let (status, body) = self.answer.lock().unwrap().clone();
        Ok(UpstreamResponse::full(
            StatusCode::from_u16(status).unwrap(),
            HeaderMap::new(),
            Bytes::from(body.replace("TOKEN", &format!("ya29.token-{n}"))),
        ))
    }
}

impl Clock for FakeGoogle {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

impl Env for FakeGoogle {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

impl Sleep for FakeGoogle {
    async fn sleep(&self, _ms: u64) {
        futures::future::pending::<()>().await
    }
}

fn token(cache: &TokenCache, google: &FakeGoogle) -> Result<String, GatewayError> {
    futures::executor::block_on(cache.get(google, &Secret::new(TEST_SA), 1000))
        .map(|t| t.expose().to_owned())
}

#[test]
fn token_is_minted_once_and_reused_until_five_minutes_before_expiry() {
    let t0 = 1_700_000_000_000;
    let google = FakeGoogle::new(t0, 3600);
    let cache = TokenCache::new();
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-1");
    let (uri, ctype, form) = google.seen.lock().unwrap()[0].clone();
    assert_eq!(uri, "https://oauth2.googleapis.com/token");
    assert_eq!(ctype, "application/x-www-form-urlencoded");
    let assertion = form
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&b64(assertion.split('.').nth(1).unwrap())).unwrap();
    // iat comes from the Clock port, in seconds.
    assert_eq!(claims["iat"], 1_700_000_000u64);

    google.set_time(t0 + 10 * 60 * 1000);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-1");
    // 3600 s lifetime − 300 s margin: still cached one millisecond before 55 min.
    google.set_time(t0 + 55 * 60 * 1000 - 1);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-1");
    assert_eq!(google.mints(), 1);
    google.set_time(t0 + 55 * 60 * 1000);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-2");
    assert_eq!(google.mints(), 2);
    google.set_time(t0 + 56 * 60 * 1000);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-2");
    assert_eq!(google.mints(), 2);
}

#[test]
fn short_lived_tokens_refresh_at_half_their_lifetime() {
    let google = FakeGoogle::new(1_000_000, 120);
    let cache = TokenCache::new();
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-1");
    google.set_time(1_000_000 + 59_999);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-1");
    google.set_time(1_000_000 + 60_000);
    assert_eq!(token(&cache, &google).unwrap(), "ya29.token-2");
}

#[test]
fn refusals_are_401_and_outages_502_without_secrets() {
    let google = FakeGoogle::new(1_000_000, 3600);
    *google.answer.lock().unwrap() = (
        400,
        r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.into(),
    );
    let e = token(&TokenCache::new(), &google).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert_eq!(e.status, StatusCode::UNAUTHORIZED);
    assert!(
        e.message.contains("invalid_grant: Invalid JWT Signature.") && e.message.contains(EMAIL),
        "{}",
        e.message
    );
    assert!(!e.message.contains("PRIVATE KEY") && !e.message.contains("eyJ"));

    *google.answer.lock().unwrap() = (503, "upstream connect error".into());
    let cache = TokenCache::new();
    let e = token(&cache, &google).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamUnavailable);
    assert_eq!(e.status, StatusCode::BAD_GATEWAY);
    assert!(e.message.contains("HTTP 503"), "{}", e.message);
    // A failure caches nothing: the next call asks again.
    let before = google.mints();
    *google.answer.lock().unwrap() = (200, r#"{"access_token":"TOKEN"}"#.into());
    assert!(token(&cache, &google).is_ok());
    assert_eq!(google.mints(), before + 1);
}
