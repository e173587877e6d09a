//! JSON Schema (as clients write it for OpenAI) → the OpenAPI 3.0 subset that
//! Gemini's `Schema` accepts. Gemini rejects unknown keys with a 400, so this
//! keeps a known-good set and rewrites what has an equivalent:
//!
//! * `$ref` into `$defs`/`definitions` is inlined (a reference cycle becomes a
//!   plain `object`); unresolvable references are dropped;
//! * `type: [T, "null"]` → `type: T, nullable: true`; several types → `anyOf`;
//! * `oneOf` → `anyOf`; a `null` variant → `nullable`; `allOf` is merged;
//! * `const` → a one-value `enum`; enum values become strings;
//! * `format` survives only where Gemini gives it a meaning;
//! * `required` names only properties that exist.
//!
//! Dropped: `$schema`, `$id`, `additionalProperties`, `strict`, `default`,
//! `title`, `examples`, `not`, `if`/`then`/`else`, pattern properties, and
//! anything else not listed in `NUMERIC_KEYS` or handled below.
//!
//! Object keys keep their order: Gemini lays structured output out in the
//! order the schema lists its properties.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A JSON value whose objects keep their keys in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn str(s: &str) -> Json {
        Json::String(s.to_owned())
    }
}

/// Constraint keys Gemini accepts with a number (or numeric string) value.
const NUMERIC_KEYS: &[&str] = &[
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// References inlined per schema at most; past this a reference becomes an
/// unconstrained `object` (a schema of diamonds could otherwise grow exponentially).
const MAX_REF_EXPANSIONS: usize = 256;
const MAX_DEPTH: usize = 64;

/// The cleaned schema. `None` when nothing of it is left.
pub fn clean(schema: &Json) -> Option<Json> {
    let mut cx = Cx {
        root: schema,
        stack: Vec::new(),
        expansions: 0,
    };
    match cx.node(schema, 0) {
        Json::Object(fields) if fields.is_empty() => None,
        other => Some(other),
    }
}

struct Cx<'a> {
    root: &'a Json,
    /// References being inlined on the current path (cycle detection).
    stack: Vec<&'a str>,
    expansions: usize,
}

impl<'a> Cx<'a> {
    fn node(&mut self, node: &'a Json, depth: usize) -> Json {
        let Json::Object(fields) = node else {
            // `true` / `{}`: anything goes.
            return Json::Object(Vec::new());
        };
        if depth > MAX_DEPTH {
            return Json::Object(vec![("type".into(), Json::str("object"))]);
        }
        if let Some(reference) = node.get("$ref").and_then(Json::as_str) {
            return self.reference(node, reference, depth);
        }
        let mut out: Vec<(String, Json)> = Vec::new();
        let mut nullable = false;

        // `allOf` parts are merged into this node (later keys do not override earlier ones).
        let mut merged: Vec<&'a (String, Json)> = fields.iter().collect();
        if let Some(Json::Array(parts)) = node.get("allOf") {
            for part in parts {
                let part = self.deref(part);
                if let Json::Object(pf) = part {
                    merged.extend(pf.iter());
                }
            }
        }

        let mut types: Vec<&str> = Vec::new();
        let mut properties: Option<Vec<(String, Json)>> = None;
        let mut required: Vec<&str> = Vec::new();
        let mut any_of: Vec<Json> = Vec::new();
        for (key, value) in merged {
            match key.as_str() {
                "type" => match value {
                    Json::String(t) => types.push(t),
                    Json::Array(ts) => types.extend(ts.iter().filter_map(Json::as_str)),
                    _ => {}
                },
                "nullable" => nullable |= matches!(value, Json::Bool(true)),
                "description" => {
                    if let (Json::String(_), false) = (value, has(&out, "description")) {
                        out.push((key.clone(), value.clone()));
                    }
                }
                "enum" => {
                    if let Json::Array(values) = value {
                        nullable |= values.contains(&Json::Null);
                        let values: Vec<Json> = values.iter().filter_map(enum_value).collect();
                        if !values.is_empty() && !has(&out, "enum") {
                            out.push(("enum".into(), Json::Array(values)));
                        }
                    }
                }
                "const" => {
                    if let (Some(v), false) = (enum_value(value), has(&out, "enum")) {
                        out.push(("enum".into(), Json::Array(vec![v])));
                    }
                }
                "properties" => {
                    if let Json::Object(props) = value {
                        let cleaned = properties.get_or_insert_with(Vec::new);
                        for (name, schema) in props {
                            if !cleaned.iter().any(|(n, _)| n == name) {
                                let s = self.node(schema, depth + 1);
                                cleaned.push((name.clone(), s));
                            }
                        }
                    }
                }
                "required" => {
                    if let Json::Array(names) = value {
                        required.extend(names.iter().filter_map(Json::as_str));
                    }
                }
                // Tuple forms (`items: [..]`) have no Gemini equivalent.
                "items" if matches!(value, Json::Object(_)) && !has(&out, "items") => {
                    let s = self.node(value, depth + 1);
                    out.push(("items".into(), s));
                }
                "anyOf" | "oneOf" => {
                    if let Json::Array(variants) = value {
                        for v in variants {
                            if is_null_schema(v) {
                                nullable = true;
                            } else {
                                any_of.push(self.node(v, depth + 1));
                            }
                        }
                    }
                }
                "pattern" => {
                    if let (Json::String(_), false) = (value, has(&out, "pattern")) {
                        out.push((key.clone(), value.clone()));
                    }
                }
                k if NUMERIC_KEYS.contains(&k)
                    && matches!(value, Json::Number(_) | Json::String(_))
                    && !has(&out, k) =>
                {
                    out.push((key.clone(), value.clone()));
                }
                _ => {}
            }
        }

        nullable |= types.contains(&"null");
        types.retain(|t| *t != "null");
        types.dedup();
        let format = node.get("format").and_then(Json::as_str);
        match types.as_slice() {
            [] => {
                if properties.is_some() {
                    out.insert(0, ("type".into(), Json::str("object")));
                } else if has(&out, "items") {
                    out.insert(0, ("type".into(), Json::str("array")));
                } else if has(&out, "enum") {
                    out.insert(0, ("type".into(), Json::str("string")));
                }
            }
            [t] => {
                out.insert(0, ("type".into(), Json::str(t)));
                if let Some(f) = format.filter(|f| format_supported(t, f)) {
                    out.insert(1, ("format".into(), Json::str(f)));
                }
            }
            many => {
                // `type: ["string", "integer"]`: one variant per type.
                for t in many {
                    any_of.push(Json::Object(vec![("type".into(), Json::str(t))]));
                }
            }
        }
        if let Some(props) = properties {
            required.retain(|r| props.iter().any(|(n, _)| n == r));
            required.dedup();
            if !props.is_empty() {
                out.push(("properties".into(), Json::Object(props)));
            }
            if !required.is_empty() {
                let names = required.iter().map(|r| Json::str(r)).collect();
                out.push(("required".into(), Json::Array(names)));
            }
        }
        if any_of.len() == 1 && !has(&out, "type") {
            // A single remaining variant (`anyOf: [X, null]`) is just X.
            if let Some(Json::Object(only)) = any_of.pop() {
                for (k, v) in only {
                    if !has(&out, &k) {
                        out.push((k, v));
                    }
                }
            }
        } else if !any_of.is_empty() {
            out.push(("anyOf".into(), Json::Array(any_of)));
        }
        if nullable && !out.is_empty() {
            out.push(("nullable".into(), Json::Bool(true)));
        }
        Json::Object(out)
    }

    fn reference(&mut self, node: &'a Json, reference: &'a str, depth: usize) -> Json {
        let target = resolve(self.root, reference);
        let mut out = match target {
            Some(_) if self.stack.contains(&reference) || self.expansions >= MAX_REF_EXPANSIONS => {
                Json::Object(vec![("type".into(), Json::str("object"))])
            }
            Some(target) => {
                self.expansions += 1;
                self.stack.push(reference);
                let out = self.node(target, depth + 1);
                self.stack.pop();
                out
            }
            None => Json::Object(Vec::new()),
        };
        // A description next to the `$ref` describes this use of the type.
        if let (Some(d), Json::Object(fields)) = (node.get("description"), &mut out) {
            fields.retain(|(k, _)| k != "description");
            fields.push(("description".into(), d.clone()));
        }
        out
    }

    /// `part` itself, or what its `$ref` points to.
    fn deref(&self, part: &'a Json) -> &'a Json {
        match part.get("$ref").and_then(Json::as_str) {
            Some(r) => resolve(self.root, r).unwrap_or(part),
            None => part,
        }
    }
}

fn has(out: &[(String, Json)], key: &str) -> bool {
    out.iter().any(|(k, _)| k == key)
}

fn is_null_schema(s: &Json) -> bool {
    matches!(s.get("type"), Some(Json::String(t)) if t == "null")
}

/// Gemini enums are strings; `null` is expressed by `nullable` instead.
fn enum_value(v: &Json) -> Option<Json> {
    match v {
        Json::String(_) => Some(v.clone()),
        Json::Number(n) => Some(Json::String(n.to_string())),
        Json::Bool(b) => Some(Json::String(b.to_string())),
        _ => None,
    }
}

fn format_supported(ty: &str, format: &str) -> bool {
    matches!(
        (ty, format),
        ("string", "date-time" | "enum")
            | ("number", "float" | "double")
            | ("integer", "int32" | "int64")
    )
}

/// `#/$defs/Name`, `#/definitions/Name` or any other local JSON pointer.
fn resolve<'a>(root: &'a Json, reference: &str) -> Option<&'a Json> {
    let pointer = reference.strip_prefix('#')?;
    let mut node = root;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = match node {
            Json::Object(_) => node.get(&token)?,
            Json::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // Duplicate keys: the last one wins, as in serde_json::Value.
                    fields.retain(|(old, _)| *old != k);
                    fields.push((k, v));
                }
                Ok(Json::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(schema: &str) -> String {
        let j: Json = serde_json::from_str(schema).unwrap();
        serde_json::to_string(&clean(&j).unwrap_or(Json::Null)).unwrap()
    }

    #[test]
    fn drops_what_gemini_rejects_and_keeps_order() {
        assert_eq!(
            cleaned(
                r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","title":"Args",
                "additionalProperties":false,"strict":true,
                "properties":{"zeta":{"type":"string","format":"uri","default":"x","title":"Z"},
                              "alpha":{"type":"integer","format":"int32","minimum":1,"examples":[3]},
                              "when":{"type":"string","format":"date-time","description":"ISO time"}},
                "required":["zeta","missing"]}"#
            ),
            r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer","format":"int32","minimum":1},"when":{"type":"string","format":"date-time","description":"ISO time"}},"required":["zeta"]}"#
        );
    }

    #[test]
    fn nullable_types_and_unions() {
        assert_eq!(
            cleaned(r#"{"type":["string","null"],"description":"d"}"#),
            r#"{"type":"string","description":"d","nullable":true}"#
        );
        assert_eq!(
            cleaned(r#"{"anyOf":[{"type":"integer"},{"type":"null"}]}"#),
            r#"{"type":"integer","nullable":true}"#
        );
        assert_eq!(
            cleaned(r#"{"oneOf":[{"type":"integer"},{"type":"string","maxLength":3}]}"#),
            r#"{"anyOf":[{"type":"integer"},{"type":"string","maxLength":3}]}"#
        );
        assert_eq!(
            cleaned(r#"{"type":["string","integer"]}"#),
            r#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#
        );
        assert_eq!(
            cleaned(r#"{"enum":[1,2,null]}"#),
            r#"{"type":"string","enum":["1","2"],"nullable":true}"#
        );
        assert_eq!(
            cleaned(r#"{"const":"only"}"#),
            r#"{"type":"string","enum":["only"]}"#
        );
    }

    #[test]
    fn refs_are_inlined_recursively_and_cycles_cut() {
        let schema = r##"{"type":"object","$defs":{
            "Unit":{"type":"string","enum":["c","f"]},
            "Node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}},
            "properties":{"unit":{"$ref":"#/$defs/Unit","description":"which scale"},
                          "tree":{"$ref":"#/$defs/Node"},
                          "gone":{"$ref":"#/$defs/Nope"},
                          "both":{"allOf":[{"$ref":"#/$defs/Unit"},{"description":"merged"}]}}}"##;
        assert_eq!(
            cleaned(schema),
            r#"{"type":"object","properties":{"unit":{"type":"string","enum":["c","f"],"description":"which scale"},"tree":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"type":"object"}}}},"gone":{},"both":{"type":"string","enum":["c","f"],"description":"merged"}}}"#
        );
    }

    #[test]
    fn nested_cleaning_reaches_items_and_any_of() {
        assert_eq!(
            cleaned(
                r#"{"type":"array","items":{"type":"object","additionalProperties":{"type":"string"},
                "properties":{"v":{"anyOf":[{"type":"string","format":"email"},{"type":"null"}]}}}}"#
            ),
            r#"{"type":"array","items":{"type":"object","properties":{"v":{"type":"string","nullable":true}}}}"#
        );
    }

    #[test]
    fn empty_schemas_vanish() {
        let j: Json = serde_json::from_str(r#"{"additionalProperties":false}"#).unwrap();
        assert!(clean(&j).is_none());
    }
}
