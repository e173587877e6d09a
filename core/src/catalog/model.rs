//! One model as the catalog knows it: limits, capabilities, prices, dates.
//! Also its line in the compact catalog text (see [`super::text`]).

use std::fmt::Write as _;

/// What a model is called through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Chat,
    /// Legacy text completions only.
    Completion,
    /// Only reachable through OpenAI's Responses API.
    Responses,
    Embedding,
    Realtime,
    /// Rerank models (`POST /v1/rerank`), priced per query where LiteLLM says.
    Rerank,
}

impl Mode {
    fn letter(self) -> Option<char> {
        match self {
            Mode::Chat => None,
            Mode::Completion => Some('C'),
            Mode::Responses => Some('R'),
            Mode::Embedding => Some('E'),
            Mode::Realtime => Some('T'),
            Mode::Rerank => Some('K'),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
            Mode::Responses => "responses",
            Mode::Embedding => "embedding",
            Mode::Realtime => "realtime",
            Mode::Rerank => "rerank",
        }
    }

    /// LiteLLM's `mode` values the catalog keeps; others (image, audio,
    /// video, search, ...) are priced per unit the gateway does not serve.
    pub fn from_litellm(mode: &str) -> Option<Mode> {
        match mode {
            "chat" => Some(Mode::Chat),
            "completion" => Some(Mode::Completion),
            "responses" => Some(Mode::Responses),
            "embedding" => Some(Mode::Embedding),
            "realtime" => Some(Mode::Realtime),
            "rerank" => Some(Mode::Rerank),
            _ => None,
        }
    }
}

/// Capability bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps(u16);

impl Caps {
    pub const TOOLS: Caps = Caps(1);
    pub const REASONING: Caps = Caps(1 << 1);
    /// Structured output (JSON schema / JSON mode).
    pub const JSON: Caps = Caps(1 << 2);
    /// Accepts file attachments.
    pub const ATTACHMENT: Caps = Caps(1 << 3);
    pub const OPEN_WEIGHTS: Caps = Caps(1 << 4);
    /// Honours `temperature`.
    pub const TEMPERATURE: Caps = Caps(1 << 5);
    /// The model is its maker's own offering (used to infer a provider from a bare id).
    pub const FIRST_PARTY: Caps = Caps(1 << 6);
    pub const DEPRECATED: Caps = Caps(1 << 7);
    pub const BETA: Caps = Caps(1 << 8);
    pub const ALPHA: Caps = Caps(1 << 9);
    /// Some field came from models.dev.
    pub const FROM_MODELS_DEV: Caps = Caps(1 << 10);
    /// Some field came from LiteLLM's map.
    pub const FROM_LITELLM: Caps = Caps(1 << 11);

    const LETTERS: [(Caps, char); 12] = [
        (Caps::TOOLS, 't'),
        (Caps::REASONING, 'r'),
        (Caps::JSON, 'j'),
        (Caps::ATTACHMENT, 'a'),
        (Caps::OPEN_WEIGHTS, 'w'),
        (Caps::TEMPERATURE, 'p'),
        (Caps::FIRST_PARTY, 'F'),
        (Caps::DEPRECATED, 'd'),
        (Caps::BETA, 'b'),
        (Caps::ALPHA, 'x'),
        (Caps::FROM_MODELS_DEV, 'M'),
        (Caps::FROM_LITELLM, 'L'),
    ];

    pub fn has(self, c: Caps) -> bool {
        self.0 & c.0 == c.0
    }

    pub fn set(&mut self, c: Caps, on: bool) {
        if on {
            self.0 |= c.0;
        } else {
            self.0 &= !c.0;
        }
    }
}

/// Input/output modalities as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modalities(u8);

impl Modalities {
    pub const TEXT: Modalities = Modalities(1);
    pub const IMAGE: Modalities = Modalities(2);
    pub const AUDIO: Modalities = Modalities(4);
    pub const VIDEO: Modalities = Modalities(8);
    pub const PDF: Modalities = Modalities(16);
    const LETTERS: [(Modalities, char, &'static str); 5] = [
        (Modalities::TEXT, 't', "text"),
        (Modalities::IMAGE, 'i', "image"),
        (Modalities::AUDIO, 'a', "audio"),
        (Modalities::VIDEO, 'v', "video"),
        (Modalities::PDF, 'p', "pdf"),
    ];

    pub fn has(self, m: Modalities) -> bool {
        self.0 & m.0 == m.0
    }

    pub fn add(&mut self, m: Modalities) {
        self.0 |= m.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn from_name(name: &str) -> Option<Modalities> {
        Modalities::LETTERS
            .iter()
            .find(|(_, _, n)| *n == name)
            .map(|(m, _, _)| *m)
    }

    pub fn names(self) -> Vec<&'static str> {
        Modalities::LETTERS
            .iter()
            .filter(|(m, _, _)| self.has(*m))
            .map(|(_, _, n)| *n)
            .collect()
    }

    fn encode(self) -> String {
        Modalities::LETTERS
            .iter()
            .filter(|(m, _, _)| self.has(*m))
            .map(|(_, c, _)| *c)
            .collect()
    }

    fn decode(s: &str) -> Modalities {
        let mut out = Modalities::default();
        for ch in s.chars() {
            if let Some((m, _, _)) = Modalities::LETTERS.iter().find(|(_, c, _)| *c == ch) {
                out.add(*m);
            }
        }
        out
    }
}

/// Prices above a prompt size: every price given here replaces the base one
/// once the request's input tokens exceed `above`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tier {
    pub above: u64,
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    /// 1-hour cache writes (LiteLLM's `..._above_1hr_above_200k_tokens`).
    pub cache_write_1h: Option<f64>,
    /// Reasoning tokens (Dashscope's `tiered_pricing` prices them per tier).
    pub reasoning: Option<f64>,
}

/// The short keys of a tier's prices in the catalog text.
pub(crate) const TIER_KEYS: [&str; 6] = ["i", "o", "cr", "cw", "cw1h", "r"];

impl Tier {
    pub(crate) fn slots(&self) -> [Option<f64>; 6] {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_write,
            self.cache_write_1h,
            self.reasoning,
        ]
    }

    pub(crate) fn slot_mut(&mut self, key: &str) -> Option<&mut Option<f64>> {
        Some(match key {
            "i" => &mut self.input,
            "o" => &mut self.output,
            "cr" => &mut self.cache_read,
            "cw" => &mut self.cache_write,
            "cw1h" => &mut self.cache_write_1h,
            "r" => &mut self.reasoning,
            _ => return None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.slots().iter().all(Option::is_none)
    }
}

/// Token prices in USD per million tokens; `image` and `request` prices in
/// USD per unit. `None` means the sources say nothing, `Some(0.0)` that it
/// is free.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prices {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    /// Cache writes with the default (5-minute) lifetime.
    pub cache_write: Option<f64>,
    /// Cache writes with a 1-hour lifetime.
    pub cache_write_1h: Option<f64>,
    /// Reasoning tokens, when priced apart from output.
    pub reasoning: Option<f64>,
    pub input_audio: Option<f64>,
    pub output_audio: Option<f64>,
    pub cache_read_audio: Option<f64>,
    pub per_input_image: Option<f64>,
    pub per_output_image: Option<f64>,
    pub per_request: Option<f64>,
    /// Ascending by `above`.
    pub tiers: Vec<Tier>,
    /// Multipliers on every token price by where the provider says it ran
    /// the request (Anthropic's `usage.inference_geo`: `us` costs 1.1×),
    /// lowercase geo → factor. LiteLLM's `provider_specific_entry`.
    pub geo: Vec<(String, f64)>,
}

/// The short keys of the price field in the catalog text.
pub(crate) const PRICE_KEYS: [&str; 12] = [
    "i", "o", "cr", "cw", "cw1h", "r", "ia", "oa", "cra", "ii", "oi", "rq",
];

impl Prices {
    pub(crate) fn slots(&self) -> [Option<f64>; 12] {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_write,
            self.cache_write_1h,
            self.reasoning,
            self.input_audio,
            self.output_audio,
            self.cache_read_audio,
            self.per_input_image,
            self.per_output_image,
            self.per_request,
        ]
    }

    pub(crate) fn slot_mut(&mut self, key: &str) -> Option<&mut Option<f64>> {
        Some(match key {
            "i" => &mut self.input,
            "o" => &mut self.output,
            "cr" => &mut self.cache_read,
            "cw" => &mut self.cache_write,
            "cw1h" => &mut self.cache_write_1h,
            "r" => &mut self.reasoning,
            "ia" => &mut self.input_audio,
            "oa" => &mut self.output_audio,
            "cra" => &mut self.cache_read_audio,
            "ii" => &mut self.per_input_image,
            "oi" => &mut self.per_output_image,
            "rq" => &mut self.per_request,
            _ => return None,
        })
    }

    /// Whether any price is known at all.
    pub fn is_known(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }

    /// Explicitly priced at zero (not merely unknown): a free model.
    pub fn is_free(&self) -> bool {
        self.is_known()
            && self.slots().iter().all(|p| p.unwrap_or(0.0) == 0.0)
            && self
                .tiers
                .iter()
                .all(|t| t.slots().iter().all(|p| p.unwrap_or(0.0) == 0.0))
    }

    /// The multiplier for requests the provider ran in `geo` (1 when none is
    /// given for it).
    pub fn geo_factor(&self, geo: &str) -> f64 {
        self.geo
            .iter()
            .find(|(g, _)| g == geo)
            .map_or(1.0, |(_, f)| *f)
    }

    /// `i=0.15,o=0.6,i@200000=0.3,g.us=1.1`: unknown prices are left out.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (key, value) in PRICE_KEYS.iter().zip(self.slots()) {
            if let Some(v) = value {
                push_sep(&mut out);
                let _ = write!(out, "{key}={}", fmt_num(v));
            }
        }
        for t in &self.tiers {
            for (key, value) in TIER_KEYS.iter().zip(t.slots()) {
                if let Some(v) = value {
                    push_sep(&mut out);
                    let _ = write!(out, "{key}@{}={}", t.above, fmt_num(v));
                }
            }
        }
        for (geo, factor) in &self.geo {
            push_sep(&mut out);
            let _ = write!(out, "g.{geo}={}", fmt_num(*factor));
        }
        out
    }

    pub fn decode(s: &str) -> Result<Prices, String> {
        let mut p = Prices::default();
        for item in s.split(',').filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("price `{item}` has no `=`"))?;
            let value: f64 = value
                .parse()
                .map_err(|_| format!("price `{item}` is not a number"))?;
            if !value.is_finite() || value < 0.0 {
                return Err(format!("price `{item}` is negative or not finite"));
            }
            if let Some(geo) = key.strip_prefix("g.") {
                if geo.is_empty() {
                    return Err(format!("price `{item}` names no geo"));
                }
                p.geo.push((geo.to_owned(), value));
                continue;
            }
            match key.split_once('@') {
                Some((key, above)) => {
                    let above: u64 = above
                        .parse()
                        .map_err(|_| format!("price tier `{item}` has a bad threshold"))?;
                    *p.tier_mut(above)
                        .slot_mut(key)
                        .ok_or_else(|| format!("unknown tier price `{key}`"))? = Some(value);
                }
                None => {
                    *p.slot_mut(key)
                        .ok_or_else(|| format!("unknown price `{key}`"))? = Some(value);
                }
            }
        }
        Ok(p)
    }

    /// The tier starting above `above`, created when missing (kept sorted).
    pub fn tier_mut(&mut self, above: u64) -> &mut Tier {
        let idx = match self.tiers.binary_search_by_key(&above, |t| t.above) {
            Ok(i) => i,
            Err(i) => {
                self.tiers.insert(
                    i,
                    Tier {
                        above,
                        ..Tier::default()
                    },
                );
                i
            }
        };
        &mut self.tiers[idx]
    }
}

fn push_sep(out: &mut String) {
    if !out.is_empty() {
        out.push(',');
    }
}

/// Shortest text that reads back as the same `f64`.
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// One of the catalog's two upstream sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ModelsDev,
    LiteLlm,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ModelsDev => "models.dev",
            Source::LiteLlm => "litellm",
        }
    }

    fn letter(self) -> char {
        match self {
            Source::ModelsDev => 'M',
            Source::LiteLlm => 'L',
        }
    }
}

/// What the source the merge did not take says about the prices the two
/// disagree on (only those), so `/model/info` can show both.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherPrices {
    pub source: Source,
    pub prices: Prices,
}

impl OtherPrices {
    /// `L:i=0.28,o=0.42`.
    fn encode(&self) -> String {
        format!("{}:{}", self.source.letter(), self.prices.encode())
    }

    fn decode(s: &str) -> Result<Option<OtherPrices>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        let (source, prices) = match s.split_once(':') {
            Some(("M", p)) => (Source::ModelsDev, p),
            Some(("L", p)) => (Source::LiteLlm, p),
            _ => return Err(format!("other-source prices `{s}` name no source")),
        };
        let prices = Prices::decode(prices)?;
        Ok(Some(OtherPrices { source, prices }))
    }
}

/// Everything the catalog says about one model of one provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    pub id: String,
    pub mode: Mode,
    pub caps: Caps,
    /// Context window (input + output) in tokens.
    pub context: Option<u64>,
    /// Largest prompt, when the provider states one apart from the window.
    pub max_input: Option<u64>,
    pub max_output: Option<u64>,
    pub input_modalities: Modalities,
    pub output_modalities: Modalities,
    pub prices: Prices,
    /// Knowledge cutoff, `YYYY-MM[-DD]`.
    pub knowledge: String,
    pub release_date: String,
    /// The date after which the provider stops serving it (LiteLLM).
    pub deprecation_date: String,
    pub family: String,
    pub name: String,
    /// The losing source's prices where the sources disagree.
    pub other_prices: Option<OtherPrices>,
}

impl ModelInfo {
    /// The most prompt tokens a request may carry.
    pub fn input_window(&self) -> Option<u64> {
        self.max_input.or(self.context)
    }

    pub fn has(&self, c: Caps) -> bool {
        self.caps.has(c)
    }

    pub fn supports_vision(&self) -> bool {
        self.input_modalities.has(Modalities::IMAGE)
    }

    /// Flagged deprecated, or given a shutdown date (past or announced).
    pub fn deprecated(&self) -> bool {
        self.caps.has(Caps::DEPRECATED) || !self.deprecation_date.is_empty()
    }

    /// Past its shutdown date (`today` = `YYYY-MM-DD`).
    pub fn retired(&self, today: &str) -> bool {
        !self.deprecation_date.is_empty() && self.deprecation_date.as_str() <= today
    }

    /// The model's line in the catalog text (without the newline).
    pub fn encode(&self) -> String {
        let mut flags = String::new();
        if let Some(m) = self.mode.letter() {
            flags.push(m);
        }
        for (c, letter) in Caps::LETTERS {
            if self.caps.has(c) {
                flags.push(letter);
            }
        }
        let num = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let name = if self.name == self.id { "" } else { &self.name };
        let other = self.other_prices.as_ref().map(OtherPrices::encode);
        let mut line = [
            "M",
            &self.id,
            &flags,
            &num(self.context),
            &num(self.max_input),
            &num(self.max_output),
            &self.input_modalities.encode(),
            &self.output_modalities.encode(),
            &self.prices.encode(),
            &self.knowledge,
            &self.release_date,
            &self.deprecation_date,
            &self.family,
            name,
        ]
        .join("\t");
        // Optional last field: most models have none, and leaving it out
        // keeps the line as it was.
        if let Some(other) = other {
            line.push('\t');
            line.push_str(&other);
        }
        line
    }

    /// Reads a line written by [`ModelInfo::encode`].
    pub fn decode(line: &str) -> Result<ModelInfo, String> {
        let mut f = line.split('\t');
        if f.next() != Some("M") {
            return Err("not a model line".into());
        }
        let mut next = || f.next().unwrap_or("");
        let id = next().to_owned();
        if id.is_empty() {
            return Err("model line without an id".into());
        }
        let flags = next();
        let num = |s: &str| -> Result<Option<u64>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            s.parse()
                .map(Some)
                .map_err(|_| format!("model `{id}`: `{s}` is not a token count"))
        };
        let context = num(next())?;
        let max_input = num(next())?;
        let max_output = num(next())?;
        let input_modalities = Modalities::decode(next());
        let output_modalities = Modalities::decode(next());
        let prices = Prices::decode(next()).map_err(|e| format!("model `{id}`: {e}"))?;
        let knowledge = next().to_owned();
        let release_date = next().to_owned();
        let deprecation_date = next().to_owned();
        let family = next().to_owned();
        let name = next().to_owned();
        let other_prices = OtherPrices::decode(next()).map_err(|e| format!("model `{id}`: {e}"))?;
        let mut mode = Mode::Chat;
        let mut caps = Caps::default();
        for ch in flags.chars() {
            match ch {
                'C' => mode = Mode::Completion,
                'R' => mode = Mode::Responses,
                'E' => mode = Mode::Embedding,
                'T' => mode = Mode::Realtime,
                'K' => mode = Mode::Rerank,
                _ => {
                    if let Some((c, _)) = Caps::LETTERS.iter().find(|(_, l)| *l == ch) {
                        caps.set(*c, true);
                    }
                }
            }
        }
        let name = if name.is_empty() { id.clone() } else { name };
        Ok(ModelInfo {
            id,
            mode,
            caps,
            context,
            max_input,
            max_output,
            input_modalities,
            output_modalities,
            prices,
            knowledge,
            release_date,
            deprecation_date,
            family,
            name,
            other_prices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_line_round_trips() {
        let mut caps = Caps::default();
        caps.set(Caps::TOOLS, true);
        caps.set(Caps::FIRST_PARTY, true);
        let mut prices = Prices {
            input: Some(1.25),
            output: Some(10.0),
            cache_read: Some(0.125),
            ..Prices::default()
        };
        prices.tier_mut(200_000).input = Some(2.5);
        let m = ModelInfo {
            id: "gemini-2.5-pro".into(),
            mode: Mode::Chat,
            caps,
            context: Some(1_048_576),
            max_input: None,
            max_output: Some(65_536),
            input_modalities: Modalities::decode("tip"),
            output_modalities: Modalities::TEXT,
            prices,
            knowledge: "2025-01".into(),
            release_date: "2025-03-20".into(),
            deprecation_date: String::new(),
            family: "gemini-pro".into(),
            name: "Gemini 2.5 Pro".into(),
            other_prices: None,
        };
        let line = m.encode();
        assert_eq!(
            line,
            "M\tgemini-2.5-pro\ttF\t1048576\t\t65536\ttip\tt\ti=1.25,o=10,cr=0.125,i@200000=2.5\t2025-01\t2025-03-20\t\tgemini-pro\tGemini 2.5 Pro"
        );
        assert_eq!(ModelInfo::decode(&line).unwrap(), m);
    }

    #[test]
    fn tier_geo_and_other_source_prices_round_trip() {
        let text = "i=3,o=15,cw1h=6,i@200000=6,cw1h@200000=12,r@200000=30,g.us=1.1";
        let p = Prices::decode(text).unwrap();
        assert_eq!(p.tiers[0].cache_write_1h, Some(12.0));
        assert_eq!(p.tiers[0].reasoning, Some(30.0));
        assert_eq!(p.geo_factor("us"), 1.1);
        assert_eq!(p.geo_factor("eu"), 1.0);
        assert_eq!(p.encode(), text);
        assert!(Prices::decode("g.=1.1").is_err());
        assert!(!Prices::decode("i=0,o=0,r@1000=1").unwrap().is_free());

        let mut m = ModelInfo::decode("M\tdeepseek-chat\t\t\t\t\t\t\ti=0.14,o=0.28").unwrap();
        assert_eq!(m.other_prices, None);
        m.other_prices = Some(OtherPrices {
            source: Source::LiteLlm,
            prices: Prices::decode("i=0.28,o=0.42").unwrap(),
        });
        let line = m.encode();
        assert_eq!(
            line,
            "M\tdeepseek-chat\t\t\t\t\t\t\ti=0.14,o=0.28\t\t\t\t\t\tL:i=0.28,o=0.42"
        );
        assert_eq!(ModelInfo::decode(&line).unwrap(), m);
        assert!(
            ModelInfo::decode(&format!("{}\tX:i=1", &line[..line.rfind('\t').unwrap()])).is_err()
        );
    }

    #[test]
    fn free_means_explicit_zero() {
        let zero = Prices::decode("i=0,o=0").unwrap();
        assert!(zero.is_free());
        assert!(!Prices::default().is_free());
        assert!(!Prices::decode("i=0,o=0,cr=0.1").unwrap().is_free());
        assert!(Prices::decode("i=-1").is_err());
        assert!(Prices::decode("zz=1").is_err());
    }
}
