//! Key material. A key is `sk-dx-` + its ledger id + 256 random bits in
//! base64url; only its SHA-256 (hex) and a display name are ever stored.
//! The ledger id travels in the key so that a request reaches its ledger
//! without a lookup first.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "sk-dx-";
/// A kind letter (`k` key, `u` user, `t` team) and 12 hex digits.
const LEDGER_LEN: usize = 13;
const SECRET_LEN: usize = 43;

/// A ledger id for a new key, user or team (`kind`: `k`, `u`, `t`).
pub fn new_ledger_id(kind: char, random: [u8; 6]) -> String {
    let mut id = String::with_capacity(LEDGER_LEN);
    id.push(kind);
    id.push_str(&hex(&random));
    id
}

pub fn new_key(ledger: &str, random: [u8; 32]) -> String {
    format!(
        "{KEY_PREFIX}{ledger}{}",
        Base64UrlUnpadded::encode_string(&random)
    )
}

/// The ledger a presented key names, when it is shaped like one of ours.
pub fn ledger_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    if rest.len() != LEDGER_LEN + SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (ledger, secret) = rest.split_at(LEDGER_LEN);
    let kind_ok = matches!(ledger.as_bytes()[0], b'k' | b'u' | b't');
    let hex_ok = ledger[1..]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (kind_ok && hex_ok && secret_ok).then_some(ledger)
}

pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// What a key is shown as after creation: its prefix and last four characters.
pub fn display_name(key: &str) -> String {
    let tail = key.get(key.len().saturating_sub(4)..).unwrap_or("");
    format!("{KEY_PREFIX}...{tail}")
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_ledger_and_hashes_without_its_text() {
        let ledger = new_ledger_id('t', [0xab; 6]);
        assert_eq!(ledger, "tabababababab");
        let key = new_key(&ledger, [7; 32]);
        assert!(key.starts_with("sk-dx-tabababababab"));
        assert_eq!(ledger_of(&key), Some("tabababababab"));
        assert_eq!(ledger_of("sk-dx-master-test"), None);
        assert_eq!(ledger_of(&key[..key.len() - 1]), None);
        let h = hash_key(&key);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&key[6..]));
        assert_eq!(
            display_name(&key),
            format!("sk-dx-...{}", &key[key.len() - 4..])
        );
    }
}
