//! Stage 1: who is asking. The master key is compared here; a virtual key
//! (`sk-dx-…`) is looked up by its hash in the ledger it names, with its
//! user and team, in one call, or taken from the instance's memory when the
//! endpoint's admission checks it with the ledger anyway: either way a key
//! deleted or blocked is refused on the next request, whatever instance
//! serves it.

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use serde_json::Value;

use crate::error::{ErrorKind, GatewayError};
use crate::keys::charge::{Identity, Refusal};
use crate::keys::known::KnownKeys;
use crate::keys::{hash_key, ledger_of};
use crate::ports::Clock;
use crate::secret::Secret;
use crate::state::accounts::{Accounts, Answer, Op};

/// The identity a request runs under; limits, budgets and logs key on it.
#[derive(Debug, Clone, Default)]
pub enum Principal {
    /// No master key is configured: the gateway is open.
    #[default]
    Open,
    MasterKey,
    Key(Arc<Identity>),
}

impl Principal {
    /// Whether the admin API is open to it.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::MasterKey => true,
            Principal::Key(id) => id.is_admin(),
            Principal::Open => false,
        }
    }
}

pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

fn invalid() -> GatewayError {
    GatewayError::new(ErrorKind::Authentication, "Incorrect API key provided.")
        .with_code("invalid_api_key")
}

pub fn ledger_unavailable(detail: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamUnavailable,
        "The key store could not be reached; try again.",
    )
    .with_code("ledger_unavailable")
    .with_operator_note(detail)
}

/// `known`: the instance's remembered keys, passed only for endpoints whose
/// every answer goes through admission (which checks a remembered key with
/// its ledger in the reservation call): a remembered key then costs no
/// lookup call here. Answers the principal, and whether it was remembered
/// (not read from its ledger for this request).
pub async fn authenticate(
    master_key: Option<&Secret>,
    accounts: Option<&Arc<dyn Accounts>>,
    known: Option<&KnownKeys>,
    clock: &impl Clock,
    headers: &HeaderMap,
) -> Result<(Principal, bool), GatewayError> {
    let Some(master) = master_key else {
        return Ok((Principal::Open, false));
    };
    let key = match presented_key(headers) {
        None | Some("") => {
            return Err(GatewayError::new(
                ErrorKind::Authentication,
                "Missing API key: pass it as `Authorization: Bearer <key>`.",
            )
            .with_code("missing_api_key"))
        }
        Some(key) if master.matches(key) => return Ok((Principal::MasterKey, false)),
        Some(key) => key,
    };
    let (Some(accounts), Some(ledger)) = (accounts, ledger_of(key)) else {
        return Err(invalid());
    };
    let token = hash_key(key);
    let now = clock.now_ms();
    // A remembered key that looks refused is looked up again instead.
    if let Some(id) = known.and_then(|k| k.get(&token)) {
        if id.key.ledger == ledger && id.check(now, &[]).is_ok() {
            return Ok((Principal::Key(id), true));
        }
    }
    let identity = Arc::new(look_up(&**accounts, ledger, token, now).await?);
    if let Some(known) = known {
        known.put(&identity);
    }
    Ok((Principal::Key(identity), false))
}

/// A key by its hash, read from its ledger and accepted.
pub async fn look_up(
    accounts: &dyn Accounts,
    ledger: &str,
    token: String,
    now_ms: u64,
) -> Result<Identity, GatewayError> {
    match accounts.call(ledger, Op::Identity { token }).await {
        Ok(Answer::Identity { values, stamp }) => accept(&values, stamp, now_ms),
        Ok(other) => Err(ledger_unavailable(&format!("unexpected answer {other:?}"))),
        Err(e) => Err(ledger_unavailable(&e)),
    }
}

/// A key's records as its ledger answered them: refused when it is unknown
/// (deleted), blocked or expired. Its models are checked once the model is
/// known (admit).
pub fn accept(
    values: &[Option<Value>],
    stamp: String,
    now_ms: u64,
) -> Result<Identity, GatewayError> {
    let identity = Identity::from_values(values, stamp).ok_or_else(invalid)?;
    match identity.check(now_ms, &[]) {
        Err(Refusal::Blocked) => Err(GatewayError::new(
            ErrorKind::Authentication,
            "This API key is blocked.",
        )
        .with_code("key_blocked")),
        Err(Refusal::Expired) => Err(GatewayError::new(
            ErrorKind::Authentication,
            "This API key has expired.",
        )
        .with_code("key_expired")),
        _ => Ok(identity),
    }
}
