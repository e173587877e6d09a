//! The function's own AWS identity, as Lambda hands it over: access key,
//! secret and session token of the execution role in the environment, and
//! the region the function runs in.

use crate::ports::Env;
use crate::secret::Secret;

use super::sigv4::Credentials;

#[derive(Clone, Debug)]
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl AwsCredentials {
    /// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`).
    pub fn from_env(env: &impl Env) -> Option<Self> {
        let var = |name: &str| env.var(name).filter(|v| !v.is_empty());
        Some(AwsCredentials {
            access_key_id: Secret::new(var("AWS_ACCESS_KEY_ID")?),
            secret_access_key: Secret::new(var("AWS_SECRET_ACCESS_KEY")?),
            session_token: var("AWS_SESSION_TOKEN").map(Secret::new),
        })
    }

    pub fn for_signing(&self) -> Credentials<'_> {
        Credentials {
            access_key_id: self.access_key_id.expose(),
            secret_access_key: self.secret_access_key.expose(),
            session_token: self.session_token.as_ref().map(Secret::expose),
        }
    }

    /// `text` with every credential replaced: AWS error messages sometimes
    /// quote the key they refused.
    pub fn redact(&self, text: &str) -> String {
        let mut out = self.access_key_id.redact_in(text);
        out = self.secret_access_key.redact_in(&out);
        if let Some(token) = &self.session_token {
            out = token.redact_in(&out);
        }
        out
    }
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION` (Lambda sets both).
pub fn region_from_env(env: &impl Env) -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| env.var(name).filter(|v| !v.is_empty()))
}
