//! Output-token limits of the Claude families: Anthropic requires `max_tokens`
//! on every request, OpenAI-style clients usually leave it out.

/// Sent when neither the client nor the table gives a value.
pub const FALLBACK_MAX_TOKENS: u32 = 4096;

/// The largest `max_tokens` a Claude model accepts, when the model is known.
/// Reads the family and version out of any host's spelling:
/// `claude-sonnet-4-5-20250929`, `claude-sonnet-4-5@20250929` (Vertex),
/// `anthropic.claude-3-5-sonnet-20241022-v2:0` (Bedrock), `claude-3-opus-latest`.
pub fn max_output_tokens(model: &str) -> Option<u32> {
    let (family, major, minor) = family_version(model)?;
    Some(match (family, major, minor) {
        (Family::Opus, 4, 0 | 1) => 32_000,
        (Family::Opus, 4, 5) => 64_000,
        (Family::Sonnet, 4, 0 | 5) => 64_000,
        (Family::Haiku, 4, 5) => 64_000,
        (Family::Sonnet, 3, 7) => 64_000,
        (Family::Sonnet | Family::Haiku, 3, 5) => 8_192,
        (_, 3, 0) => 4_096,
        _ => return None,
    })
}

/// `max_tokens` to send when the client gave none.
pub fn default_max_tokens(model: &str) -> u32 {
    max_output_tokens(model).unwrap_or(FALLBACK_MAX_TOKENS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Opus,
    Sonnet,
    Haiku,
}

/// Family, major and minor version. New names put the family first
/// (`claude-opus-4-1`), the 3.x names put it last (`claude-3-5-haiku`).
fn family_version(model: &str) -> Option<(Family, u32, u32)> {
    let start = model.find("claude-")? + "claude-".len();
    let parts: Vec<&str> = model[start..]
        .split(['-', '@', ':', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    let family = |p: &str| match p {
        "opus" => Some(Family::Opus),
        "sonnet" => Some(Family::Sonnet),
        "haiku" => Some(Family::Haiku),
        _ => None,
    };
    // A version component is a short number; dates (8 digits) are not.
    let version = |p: Option<&&str>| -> Option<u32> {
        let p = p?;
        (p.len() <= 2).then(|| p.parse().ok()).flatten()
    };
    if let Some(f) = parts.first().and_then(|p| family(p)) {
        let major = version(parts.get(1))?;
        let minor = version(parts.get(2)).unwrap_or(0);
        return Some((f, major, minor));
    }
    let major = version(parts.first())?;
    let (minor, family_at) = match version(parts.get(1)) {
        Some(minor) => (minor, 2),
        None => (0, 1),
    };
    let f = family(parts.get(family_at)?)?;
    Some((f, major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_families_in_every_spelling() {
        let cases = [
            ("claude-sonnet-4-5-20250929", Some(64_000)),
            ("claude-sonnet-4-5@20250929", Some(64_000)),
            ("claude-sonnet-4-20250514", Some(64_000)),
            ("claude-opus-4-20250514", Some(32_000)),
            ("claude-opus-4-1-20250805", Some(32_000)),
            ("claude-opus-4-5-20251101", Some(64_000)),
            ("claude-haiku-4-5-20251001", Some(64_000)),
            ("claude-3-7-sonnet-20250219", Some(64_000)),
            ("claude-3-5-sonnet-20241022", Some(8_192)),
            ("anthropic.claude-3-5-haiku-20241022-v1:0", Some(8_192)),
            ("claude-3-opus-latest", Some(4_096)),
            ("claude-3-haiku-20240307", Some(4_096)),
            // Unknown versions are not guessed at.
            ("claude-opus-4-8", None),
            ("claude-opus-5-5", None),
            ("gpt-4o", None),
            ("claude-instant-1.2", None),
        ];
        for (model, want) in cases {
            assert_eq!(max_output_tokens(model), want, "{model}");
        }
        assert_eq!(default_max_tokens("claude-opus-5-5"), 4096);
        assert_eq!(default_max_tokens("claude-opus-4-1"), 32_000);
    }
}
