//! The HTTP request every JSON-over-POST codec sends: content type and accept
//! headers, the deployment's key in the provider's auth header (marked
//! sensitive), and the deployment's extra headers.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};

use crate::error::{ErrorKind, GatewayError};
use crate::resolve::Deployment;

/// Where the deployment's key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key as the whole value of this header (`api-key`, `x-api-key`).
    Header(&'static str),
}

pub fn post_json(
    deployment: &Deployment,
    url: &str,
    accept: &'static str,
    auth: Auth,
    body: Vec<u8>,
) -> Result<http::Request<Bytes>, GatewayError> {
    let mut builder = http::Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, accept);
    if let Some(key) = &deployment.api_key {
        let text = match auth {
            Auth::Bearer => format!("Bearer {}", key.expose()),
            Auth::Header(_) => key.expose().to_owned(),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            GatewayError::new(
                ErrorKind::Configuration,
                format!(
                    "the API key for provider `{}` is not a valid header value",
                    deployment.provider.id
                ),
            )
        })?;
        value.set_sensitive(true);
        builder = match auth {
            Auth::Bearer => builder.header(AUTHORIZATION, value),
            Auth::Header(name) => builder.header(name, value),
        };
    }
    for (name, value) in &deployment.params.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Bytes::from(body)).map_err(|_| {
        GatewayError::new(
            ErrorKind::Configuration,
            format!("invalid api_base for provider `{}`", deployment.provider.id),
        )
        .with_code("config_error")
    })
}
