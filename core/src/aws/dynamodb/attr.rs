//! DynamoDB's typed JSON for attribute values (`{"S": "..."}`, `{"N": "12"}`,
//! `{"B": "<base64>"}`), built and read without a model of every type:
//! items stay `serde_json` maps, as they travel on the wire.

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value};

/// An item (or a key): attribute name -> typed value.
pub type Item = Map<String, Value>;

pub fn s(value: &str) -> Value {
    single("S", Value::String(value.to_owned()))
}

/// Numbers travel as strings, so that no precision is lost either way.
pub fn n(value: impl std::fmt::Display) -> Value {
    single("N", Value::String(value.to_string()))
}

pub fn b(bytes: &[u8]) -> Value {
    single("B", Value::String(Base64::encode_string(bytes)))
}

fn single(kind: &str, value: Value) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(kind.to_owned(), value);
    Value::Object(m)
}

/// An item from `(name, value)` pairs.
pub fn item<const N: usize>(pairs: [(&str, Value); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.get("S")?.as_str()
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)?.get("N")?.as_str()?.parse().ok()
}

/// A binary attribute, decoded. `None` when absent, not binary or not base64.
pub fn get_b(item: &Item, name: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(item.get(name)?.get("B")?.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_wire_shape() {
        let it = item([("pk", s("a")), ("n", n(42u64)), ("data", b(b"\x00\xffhi"))]);
        assert_eq!(
            Value::Object(it.clone()),
            serde_json::json!({"data": {"B": "AP9oaQ=="}, "n": {"N": "42"}, "pk": {"S": "a"}})
        );
        assert_eq!(get_s(&it, "pk"), Some("a"));
        assert_eq!(get_n::<u64>(&it, "n"), Some(42));
        assert_eq!(get_b(&it, "data").as_deref(), Some(&b"\x00\xffhi"[..]));
        // the wrong type or a missing attribute is None, never a panic
        assert_eq!(get_s(&it, "n"), None);
        assert_eq!(get_n::<u64>(&it, "pk"), None);
        assert_eq!(get_b(&it, "pk"), None);
        assert_eq!(get_s(&it, "missing"), None);
        let bad = item([("data", serde_json::json!({"B": "not base64!"}))]);
        assert_eq!(get_b(&bad, "data"), None);
    }
}
