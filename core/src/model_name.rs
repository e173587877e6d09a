//! What the gateway accepts as a model name from a client. Names reach
//! response headers, log lines, error messages and upstream URL paths, so
//! they are bounded and may not walk a path.

use crate::error::GatewayError;

/// Longer than any real model id (the longest in the catalog is under 100
/// bytes; Bedrock ARNs are under 200) and short enough for any header.
pub const MAX_MODEL_NAME_BYTES: usize = 256;

/// A client's model name, checked before anything resolves, prices or
/// echoes it. The refusal does not quote the name: it may be huge.
pub fn check(name: &str) -> Result<(), GatewayError> {
    if name.len() > MAX_MODEL_NAME_BYTES {
        return Err(GatewayError::invalid_request(format!(
            "`model` is {} bytes long; model names are at most {MAX_MODEL_NAME_BYTES} bytes.",
            name.len()
        ))
        .with_code("model_name_too_long")
        .with_param("model"));
    }
    if name.chars().any(char::is_control) {
        return Err(
            GatewayError::invalid_request("`model` may not contain control characters.")
                .with_code("invalid_model_name")
                .with_param("model"),
        );
    }
    Ok(())
}

/// An upstream model id that goes into a URL path (Bedrock's
/// `/model/{id}/converse`, Azure's `/deployments/{id}/…`): a `.` or `..`
/// segment would be resolved away by the HTTP client and reach another
/// endpoint of the provider, whatever the percent-encoding of `/`.
pub fn check_path_safe(upstream_model: &str) -> Result<(), GatewayError> {
    let walks = upstream_model
        .split(['/', '\\'])
        .any(|segment| segment == "." || segment == "..");
    if walks {
        return Err(GatewayError::invalid_request(
            "`model` may not contain `.` or `..` path segments.",
        )
        .with_code("invalid_model_name")
        .with_param("model"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_refused_without_being_echoed() {
        assert!(check(&"a".repeat(MAX_MODEL_NAME_BYTES)).is_ok());
        let e = check(&"a".repeat(MAX_MODEL_NAME_BYTES + 1)).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("model_name_too_long"));
        assert!(!e.message.contains("aaaa"));
        // Bytes, not characters: 129 two-byte characters are 258 bytes.
        assert!(check(&"é".repeat(129)).is_err());
        assert!(check("gpt-4o\r\nx-injected: 1").is_err());
    }

    #[test]
    fn dot_segments_are_refused() {
        for bad in ["..", ".", "converse/..", "a/../b", "x/.", "..\\converse"] {
            assert!(check_path_safe(bad).is_err(), "{bad}");
        }
        for good in [
            "anthropic.claude-3-haiku",
            "us.anthropic.claude...",
            "a..b",
            "@cf/meta/llama",
        ] {
            assert!(check_path_safe(good).is_ok(), "{good}");
        }
    }
}
