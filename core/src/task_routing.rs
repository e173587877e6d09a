//! Task-based routing for Anthropic Messages clients, as claude-code-mux does
//! for Claude Code: the same client sends background chores, deep thinking,
//! huge contexts and web searches under a handful of Claude model names; the
//! `[task_routing]` table in dx.toml (also read as `[router]`, its first name) sends each kind of task to its own model.
//!
//! Rules, first match wins, each only when its target model is configured:
//! 1. `websearch`   — the request offers a web-search server tool;
//! 2. `subagent`    — the system prompt carries `<TAG>model</TAG>` (the tag is
//!    removed before the request goes upstream);
//! 3. `think`       — thinking is enabled with a budget (`adaptive` is the
//!    default of recent Claude Code versions, so it does not count);
//! 4. `background`  — the requested model matches `background_regex`
//!    (Claude Code runs its chores on Haiku);
//! 5. `long_context`— the estimated input is above `long_context_threshold`;
//! 6. `default`     — the requested model matches `auto_map_regex` and is not
//!    itself a configured model name.

use std::sync::OnceLock;

use regex_lite::Regex;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Where auto-mapped Claude model names go.
    pub default: Option<String>,
    pub background: Option<String>,
    pub think: Option<String>,
    pub long_context: Option<String>,
    /// Estimated input tokens above which `long_context` is chosen.
    pub long_context_threshold: u64,
    pub websearch: Option<String>,
    /// The tag name of `<TAG>model</TAG>` in a subagent's system prompt.
    pub subagent_tag: String,
    pub auto_map_regex: String,
    pub background_regex: String,
    #[serde(skip)]
    pub(crate) compiled: OnceLock<Option<Patterns>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    auto_map: Regex,
    background: Regex,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            default: None,
            background: None,
            think: None,
            long_context: None,
            long_context_threshold: 60_000,
            websearch: None,
            subagent_tag: "CCM-SUBAGENT-MODEL".into(),
            auto_map_regex: "^claude-".into(),
            background_regex: "(?i)claude.*haiku".into(),
            compiled: OnceLock::new(),
        }
    }
}

impl RouterConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, pattern) in [
            ("auto_map_regex", &self.auto_map_regex),
            ("background_regex", &self.background_regex),
        ] {
            Regex::new(pattern).map_err(|e| format!("router.{name} `{pattern}`: {e}"))?;
        }
        if self.subagent_tag.is_empty() {
            return Err("router.subagent_tag must not be empty".into());
        }
        Ok(())
    }

    /// Whether any rule could fire (no `[router]` table: nothing to do).
    pub fn is_active(&self) -> bool {
        self.default.is_some()
            || self.background.is_some()
            || self.think.is_some()
            || self.long_context.is_some()
            || self.websearch.is_some()
    }

    fn patterns(&self) -> Option<&Patterns> {
        self.compiled
            .get_or_init(|| {
                Some(Patterns {
                    auto_map: Regex::new(&self.auto_map_regex).ok()?,
                    background: Regex::new(&self.background_regex).ok()?,
                })
            })
            .as_ref()
    }
}

/// Which rule picked the model (`x-dx-route`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    WebSearch,
    Subagent,
    Think,
    Background,
    LongContext,
    Default,
    /// No rule applied: the requested name is used as sent.
    Requested,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::WebSearch => "websearch",
            Rule::Subagent => "subagent",
            Rule::Think => "think",
            Rule::Background => "background",
            Rule::LongContext => "long_context",
            Rule::Default => "default",
            Rule::Requested => "requested",
        }
    }
}

/// What the request says about its task.
pub struct Signals<'a> {
    pub requested: &'a str,
    pub web_search: bool,
    /// The model named by the subagent tag, if the system prompt has one.
    pub subagent: Option<&'a str>,
    pub thinking: bool,
}

/// The model to serve the request, and why. `is_configured` tells whether a
/// name is in `model_list`; `input_tokens` is only computed when a
/// long-context model is configured.
pub fn choose(
    cfg: &RouterConfig,
    s: &Signals<'_>,
    is_configured: impl Fn(&str) -> bool,
    input_tokens: impl FnOnce() -> u64,
) -> (String, Rule) {
    if let (true, Some(m)) = (s.web_search, &cfg.websearch) {
        return (m.clone(), Rule::WebSearch);
    }
    if let Some(m) = s.subagent.filter(|m| !m.is_empty()) {
        return (m.to_owned(), Rule::Subagent);
    }
    if let (true, Some(m)) = (s.thinking, &cfg.think) {
        return (m.clone(), Rule::Think);
    }
    let patterns = cfg.patterns();
    if let (Some(p), Some(m)) = (patterns, &cfg.background) {
        if p.background.is_match(s.requested) {
            return (m.clone(), Rule::Background);
        }
    }
    if let Some(m) = &cfg.long_context {
        if input_tokens() > cfg.long_context_threshold {
            return (m.clone(), Rule::LongContext);
        }
    }
    if let (Some(p), Some(m)) = (patterns, &cfg.default) {
        if p.auto_map.is_match(s.requested) && !is_configured(s.requested) {
            return (m.clone(), Rule::Default);
        }
    }
    (s.requested.to_owned(), Rule::Requested)
}

/// Finds `<tag>name</tag>` in `text`: the name, and the byte range of the
/// whole tag (to cut it out).
pub fn find_tag<'t>(text: &'t str, tag: &str) -> Option<(&'t str, std::ops::Range<usize>)> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)?;
    let name_start = start + open.len();
    let name_len = text[name_start..].find(&close)?;
    let end = name_start + name_len + close.len();
    Some((text[name_start..name_start + name_len].trim(), start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RouterConfig {
        RouterConfig {
            default: Some("m-default".into()),
            background: Some("m-background".into()),
            think: Some("m-think".into()),
            long_context: Some("m-long".into()),
            long_context_threshold: 1000,
            websearch: Some("m-search".into()),
            ..RouterConfig::default()
        }
    }

    fn signals(requested: &str) -> Signals<'_> {
        Signals {
            requested,
            web_search: false,
            subagent: None,
            thinking: false,
        }
    }

    fn pick(cfg: &RouterConfig, s: &Signals<'_>, tokens: u64) -> (String, Rule) {
        choose(cfg, s, |m| m == "claude-configured", || tokens)
    }

    #[test]
    fn first_match_wins_in_order() {
        let c = cfg();
        let all = Signals {
            requested: "claude-3-5-haiku",
            web_search: true,
            subagent: Some("m-sub"),
            thinking: true,
        };
        assert_eq!(pick(&c, &all, 5000), ("m-search".into(), Rule::WebSearch));
        let s = Signals {
            web_search: false,
            ..all
        };
        assert_eq!(pick(&c, &s, 5000), ("m-sub".into(), Rule::Subagent));
        let s = Signals {
            subagent: None,
            ..s
        };
        assert_eq!(pick(&c, &s, 5000), ("m-think".into(), Rule::Think));
        let s = Signals {
            thinking: false,
            ..s
        };
        assert_eq!(
            pick(&c, &s, 5000),
            ("m-background".into(), Rule::Background)
        );
        let s = signals("claude-sonnet-4-5");
        assert_eq!(pick(&c, &s, 5000), ("m-long".into(), Rule::LongContext));
        assert_eq!(pick(&c, &s, 1000), ("m-default".into(), Rule::Default));
        // A configured name, or one the pattern does not match, is served as asked.
        let s = signals("claude-configured");
        assert_eq!(
            pick(&c, &s, 10),
            ("claude-configured".into(), Rule::Requested)
        );
        let s = signals("gpt-4o");
        assert_eq!(pick(&c, &s, 10), ("gpt-4o".into(), Rule::Requested));
    }

    #[test]
    fn rules_without_a_model_do_not_fire() {
        let c = RouterConfig::default();
        assert!(!c.is_active());
        let s = Signals {
            requested: "claude-haiku-4-5",
            web_search: true,
            subagent: None,
            thinking: true,
        };
        let mut computed = false;
        let got = choose(
            &c,
            &s,
            |_| false,
            || {
                computed = true;
                1 << 40
            },
        );
        assert_eq!(got, ("claude-haiku-4-5".into(), Rule::Requested));
        assert!(
            !computed,
            "tokens are estimated only for a long-context model"
        );
    }

    #[test]
    fn background_pattern_is_case_insensitive_by_default() {
        let c = cfg();
        for m in ["claude-3-5-HAIKU-20241022", "claude-haiku-4-5"] {
            assert_eq!(pick(&c, &signals(m), 0).1, Rule::Background, "{m}");
        }
        assert_eq!(pick(&c, &signals("haiku-claude"), 0).1, Rule::Requested);
    }

    #[test]
    fn custom_patterns_and_bad_ones() {
        let c = RouterConfig {
            auto_map_regex: "^(claude|anthropic)/".into(),
            ..cfg()
        };
        assert!(c.validate().is_ok());
        assert_eq!(pick(&c, &signals("anthropic/x"), 0).1, Rule::Default);
        let bad = RouterConfig {
            background_regex: "(unclosed".into(),
            ..cfg()
        };
        let e = bad.validate().unwrap_err();
        assert!(e.contains("background_regex"), "{e}");
    }

    #[test]
    fn subagent_tags() {
        let text =
            "You are a helper. <CCM-SUBAGENT-MODEL> fast-model </CCM-SUBAGENT-MODEL>Be brief.";
        let (name, range) = find_tag(text, "CCM-SUBAGENT-MODEL").unwrap();
        assert_eq!(name, "fast-model");
        let mut stripped = text.to_owned();
        stripped.replace_range(range, "");
        assert_eq!(stripped, "You are a helper. Be brief.");
        assert!(find_tag("<CCM-SUBAGENT-MODEL>unclosed", "CCM-SUBAGENT-MODEL").is_none());
        assert!(find_tag("<OTHER>x</OTHER>", "CCM-SUBAGENT-MODEL").is_none());
    }
}
