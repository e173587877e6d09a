//! Stage 1: who is asking. Async, because a virtual key is a lookup in a
//! store; today the only key is the master key.

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::error::{ErrorKind, GatewayError};
use crate::secret::Secret;

/// The identity a request runs under; limits, budgets and logs key on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Principal {
    /// No master key is configured: the gateway is open.
    #[default]
    Open,
    MasterKey,
}

pub async fn authenticate(
    master_key: Option<&Secret>,
    headers: &HeaderMap,
) -> Result<Principal, GatewayError> {
    let Some(master) = master_key else {
        return Ok(Principal::Open);
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim);
    match presented {
        None | Some("") => Err(GatewayError::new(
            ErrorKind::Authentication,
            "Missing API key: pass it as `Authorization: Bearer <key>`.",
        )
        .with_code("missing_api_key")),
        Some(key) if master.matches(key) => Ok(Principal::MasterKey),
        Some(_) => Err(
            GatewayError::new(ErrorKind::Authentication, "Incorrect API key provided.")
                .with_code("invalid_api_key"),
        ),
    }
}
