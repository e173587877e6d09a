//! Where a config error is, when the config was read as a value first (TOML
//! and YAML are parsed into a `serde_json::Value` and the value into the
//! typed config: one typed reader in the Worker instead of one per format,
//! tens of KB of its upload). The typed reader's error points into the
//! value's compact JSON; these map it back to a key path, and for TOML to
//! the line that assigns it.

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The path of the innermost key being read at byte `offset` of compact JSON
/// (as `Value::to_string` writes it: no whitespace).
pub fn json_path_at(json: &str, offset: usize) -> Vec<Step> {
    let bytes = json.as_bytes();
    let end = offset.min(bytes.len());
    // Per open container: its path step so far (`None` before the first key).
    let mut stack: Vec<Option<Step>> = Vec::new();
    let mut i = 0;
    let mut expect_key = false;
    while i < end {
        match bytes[i] {
            b'{' => {
                stack.push(None);
                expect_key = true;
            }
            b'[' => {
                stack.push(Some(Step::Index(0)));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Some(Step::Index(n))) => *n += 1,
                _ => expect_key = true,
            },
            b'"' => {
                let start = i + 1;
                i = string_end(bytes, start);
                if expect_key {
                    let key = json.get(start..i.min(json.len())).unwrap_or("");
                    if let Some(top) = stack.last_mut() {
                        *top = Some(Step::Key(unescape(key)));
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    stack.into_iter().flatten().collect()
}

/// Index of the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Key names in configs are plain; an escaped one is shown as written.
fn unescape(key: &str) -> String {
    key.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// `general.max_request_bytes`, `model_list[2].api_mode`.
pub fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

/// Whether every key of `path` is a plain name, fit to show (a config's
/// keys are; a YAML mapping keyed by something else is not echoed).
pub fn plain(path: &[Step]) -> bool {
    path.iter().all(|s| match s {
        Step::Key(k) => {
            !k.is_empty()
                && k.len() <= 64
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }
        Step::Index(_) => true,
    })
}

/// The 1-based line of `text` (TOML) that assigns `path` (or, failing
/// that, its nearest enclosing key: an inline table or array), and the
/// column of the value. Tables (`[a.b]`), arrays of tables (`[[a]]`,
/// counted for the index) and dotted keys are followed.
pub fn toml_line(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    (1..=path.len())
        .rev()
        .find_map(|n| toml_line_exact(text, &path[..n]))
}

fn toml_line_exact(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let mut header: Vec<Step> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("[[") {
            let name = rest.split("]]").next().unwrap_or("").trim().to_owned();
            let count = match seen.iter_mut().find(|(s, _)| *s == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    seen.push((name.clone(), 0));
                    0
                }
            };
            header = dotted(&name);
            if header == path {
                return Some((n + 1, 1));
            }
            header.push(Step::Index(count));
            if header == path {
                return Some((n + 1, 1));
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            header = dotted(rest.split(']').next().unwrap_or(""));
            if header == path {
                return Some((n + 1, 1));
            }
            continue;
        }
        let Some((key, _)) = t.split_once('=') else {
            continue;
        };
        if key.contains('"') && !key.trim().starts_with('"') {
            continue;
        }
        let mut full = header.clone();
        full.extend(dotted(key));
        if full == path {
            let value_at = line.find('=').map_or(0, |i| i + 1);
            let value_at = value_at + line[value_at..].len() - line[value_at..].trim_start().len();
            return Some((n + 1, line[..value_at].chars().count() + 1));
        }
    }
    None
}

fn dotted(key: &str) -> Vec<Step> {
    key.split('.')
        .map(|k| Step::Key(k.trim().trim_matches('"').to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.into())
    }

    #[test]
    fn json_paths_follow_objects_and_arrays() {
        let j = r#"{"general":{"port":1,"max_request_bytes":"x"},"model_list":[{"a":1},{"model_name":"m","api_mode":"q"}]}"#;
        let at = j.find(r#""x""#).unwrap() + 3;
        assert_eq!(
            json_path_at(j, at),
            vec![key("general"), key("max_request_bytes")]
        );
        let at = j.find(r#""q""#).unwrap() + 3;
        let p = json_path_at(j, at);
        assert_eq!(p, vec![key("model_list"), Step::Index(1), key("api_mode")]);
        assert_eq!(render(&p), "model_list[1].api_mode");
        // A comma inside a string is not a separator.
        let j = r#"{"a":{"b":"x,y","c":"z"}}"#;
        let at = j.find(r#""z""#).unwrap() + 3;
        assert_eq!(json_path_at(j, at), vec![key("a"), key("c")]);
    }

    #[test]
    fn toml_lines_follow_tables_arrays_and_dotted_keys() {
        let t = "[general]\nport = 1\nmax_request_bytes = \"x\"\n\n[[model_list]]\nmodel_name = \"a\"\n[[model_list]]\nmodel_name = \"b\"\napi_mode = \"q\"\n[catalog]\nx.y = 2\n";
        assert_eq!(
            toml_line(t, &[key("general"), key("max_request_bytes")]),
            Some((3, 21))
        );
        assert_eq!(
            toml_line(t, &[key("model_list"), Step::Index(1), key("api_mode")]),
            Some((9, 12))
        );
        assert_eq!(
            toml_line(t, &[key("catalog"), key("x"), key("y")]),
            Some((11, 7))
        );
        // Not assigned: the enclosing table's header.
        assert_eq!(
            toml_line(t, &[key("model_list"), Step::Index(0), key("api_mode")]),
            Some((5, 1))
        );
        assert_eq!(toml_line(t, &[key("catalog"), key("z")]), Some((10, 1)));
        // Inside an inline array: the key that holds it.
        let t = "[catalog]\nrequired_providers = [\"a\", 1]\n";
        let p = [key("catalog"), key("required_providers"), Step::Index(1)];
        assert_eq!(toml_line(t, &p), Some((2, 22)));
    }
}
