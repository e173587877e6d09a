//! Stage 1: who is asking. The master key is compared here; a virtual key
//! (`sk-dx-…`) is looked up by its hash in the ledger it names, with its
//! user and team, in one call: a key deleted or blocked is refused on the
//! next request, whatever instance serves it.

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::error::{ErrorKind, GatewayError};
use crate::keys::charge::{Identity, Refusal};
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

pub async fn authenticate(
    master_key: Option<&Secret>,
    accounts: Option<&Arc<dyn Accounts>>,
    clock: &impl Clock,
    headers: &HeaderMap,
) -> Result<Principal, GatewayError> {
    let Some(master) = master_key else {
        return Ok(Principal::Open);
    };
    let key = match presented_key(headers) {
        None | Some("") => {
            return Err(GatewayError::new(
                ErrorKind::Authentication,
                "Missing API key: pass it as `Authorization: Bearer <key>`.",
            )
            .with_code("missing_api_key"))
        }
        Some(key) if master.matches(key) => return Ok(Principal::MasterKey),
        Some(key) => key,
    };
    let (Some(accounts), Some(ledger)) = (accounts, ledger_of(key)) else {
        return Err(invalid());
    };
    let op = Op::Identity {
        token: hash_key(key),
    };
    let values = match accounts.call(ledger, op).await {
        Ok(Answer::Values { values }) => values,
        Ok(other) => return Err(ledger_unavailable(&format!("unexpected answer {other:?}"))),
        Err(e) => return Err(ledger_unavailable(&e)),
    };
    let identity = Identity::from_values(&values).ok_or_else(invalid)?;
    // The model is checked once it is known (admit).
    match identity.check(clock.now_ms(), &[]) {
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
        _ => Ok(Principal::Key(Arc::new(identity))),
    }
}
