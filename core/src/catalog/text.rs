//! The compact catalog text and its in-memory index.
//!
//! One record per line, tab-separated, grouped by provider (blocks in any
//! order):
//!
//! ```text
//! #dx-catalog  1  <what it was built from>
//! F  first-party providers, in the order a bare model id is looked up (comma-separated)
//! P  id  kind  gateway  base_url  key_env,..  base_env,..  aliases,..  flags  name  doc
//! M  model line (see ModelInfo::encode), sorted by id within its provider
//! A  alias  model id                          sorted by alias within its provider
//! ```
//!
//! Loading only finds the line starts and reads provider lines: a model line
//! is parsed when it is looked up, so first use stays well under a
//! millisecond for ~8,000 models. Lookups are binary searches.

use std::ops::Range;

use super::model::ModelInfo;

pub const MAGIC: &str = "#dx-catalog\t1";

/// How the gateway reaches a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI Chat Completions at `base_url`: served from the catalog alone.
    OpenAiCompatible,
    /// Served by a native codec registered in `PROVIDERS` under `gateway`.
    Native,
    /// Listed for its metadata only.
    Unsupported,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAiCompatible => "openai",
            ProviderKind::Native => "native",
            ProviderKind::Unsupported => "none",
        }
    }

    fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "openai" => Some(ProviderKind::OpenAiCompatible),
            "native" => Some(ProviderKind::Native),
            "none" => Some(ProviderKind::Unsupported),
            _ => None,
        }
    }
}

/// A provider record as written by the builder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderRecord {
    pub id: String,
    pub kind: Option<ProviderKind>,
    /// The id the gateway's `PROVIDERS` table knows it by (native kinds).
    pub gateway: String,
    /// May hold `${VAR}` placeholders.
    pub base_url: String,
    pub key_env: Vec<String>,
    pub base_env: Vec<String>,
    pub aliases: Vec<String>,
    /// Runs on the user's machine: no key needed.
    pub local: bool,
    /// Routes to other providers' models.
    pub aggregator: bool,
    pub name: String,
    pub doc: String,
}

impl ProviderRecord {
    pub fn encode(&self) -> String {
        let mut flags = String::new();
        if self.local {
            flags.push('l');
        }
        if self.aggregator {
            flags.push('g');
        }
        [
            "P",
            &self.id,
            self.kind.unwrap_or(ProviderKind::Unsupported).as_str(),
            &self.gateway,
            &self.base_url,
            &self.key_env.join(","),
            &self.base_env.join(","),
            &self.aliases.join(","),
            &flags,
            &self.name,
            &self.doc,
        ]
        .join("\t")
    }
}

/// A provider as loaded: borrowed from the catalog text.
#[derive(Debug)]
pub struct Provider<'a> {
    pub id: &'a str,
    pub kind: ProviderKind,
    pub gateway: &'a str,
    pub base_url: Option<&'a str>,
    pub key_env: Vec<&'a str>,
    pub base_env: Vec<&'a str>,
    pub aliases: Vec<&'a str>,
    pub local: bool,
    pub aggregator: bool,
    pub name: &'a str,
    pub doc: &'a str,
    pub(super) models: Range<usize>,
    pub(super) alias_rows: Range<usize>,
}

impl<'a> Provider<'a> {
    /// The name a client writes before the `/`: the native codec's id for
    /// native providers (`gemini`), the catalog id otherwise.
    pub fn gateway_or_id(&self) -> &'a str {
        if self.gateway.is_empty() {
            self.id
        } else {
            self.gateway
        }
    }
}

/// A model line not yet parsed.
#[derive(Debug, Clone, Copy)]
pub(super) struct ModelRow<'a> {
    pub line: &'a str,
}

/// The second field of a record line (`M\t<id>\t...`, `A\t<alias>\t...`).
fn key(line: &str) -> &str {
    let rest = line.get(2..).unwrap_or("");
    rest.split_once('\t').map_or(rest, |(k, _)| k)
}

impl<'a> ModelRow<'a> {
    pub fn id(&self) -> &'a str {
        key(self.line)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct AliasRow<'a> {
    line: &'a str,
}

impl<'a> AliasRow<'a> {
    pub fn alias(&self) -> &'a str {
        key(self.line)
    }

    pub fn target(&self) -> &'a str {
        self.line.rsplit_once('\t').map_or("", |(_, t)| t)
    }
}

/// The loaded catalog: providers in text order, model and alias rows.
#[derive(Debug)]
pub struct Index<'a> {
    pub text: &'a str,
    pub source: &'a str,
    pub first_party: Vec<&'a str>,
    pub providers: Vec<Provider<'a>>,
    pub(super) models: Vec<ModelRow<'a>>,
    pub(super) aliases: Vec<AliasRow<'a>>,
    pub bytes: usize,
}

fn list(s: &str) -> Vec<&str> {
    s.split(',').filter(|s| !s.is_empty()).collect()
}

impl<'a> Index<'a> {
    /// Indexes catalog text: finds the lines and reads the provider lines,
    /// nothing more (first use must stay cheap). [`Index::validate`]
    /// checks the order and parses every line.
    pub fn load(text: &'a str) -> Result<Index<'a>, String> {
        let mut lines = text.split('\n');
        let header = lines.next().unwrap_or("");
        let source = header
            .strip_prefix(MAGIC)
            .ok_or("not a dx catalog (bad header)")?
            .trim_start_matches('\t');
        let mut index = Index {
            text,
            source,
            first_party: Vec::new(),
            providers: Vec::with_capacity(200),
            models: Vec::with_capacity(text.len() / 90),
            aliases: Vec::with_capacity(2048),
            bytes: text.len(),
        };
        for line in lines {
            let bytes = line.as_bytes();
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() < 3 || bytes[1] != b'\t' {
                return Err(format!("malformed catalog line `{}`", clip(line)));
            }
            match bytes[0] {
                b'M' => {
                    let p = index
                        .providers
                        .last_mut()
                        .ok_or("model line before any provider")?;
                    index.models.push(ModelRow { line });
                    p.models.end = index.models.len();
                }
                b'A' => {
                    let p = index
                        .providers
                        .last_mut()
                        .ok_or("alias line before any provider")?;
                    index.aliases.push(AliasRow { line });
                    p.alias_rows.end = index.aliases.len();
                }
                b'F' => index.first_party = list(&line[2..]),
                b'P' => {
                    let f: Vec<&'a str> = line[2..].split('\t').collect();
                    if f.len() < 10 {
                        return Err(format!("provider line `{}` is too short", clip(line)));
                    }
                    let kind = ProviderKind::parse(f[1])
                        .ok_or_else(|| format!("provider `{}` has unknown kind", f[0]))?;
                    index.providers.push(Provider {
                        id: f[0],
                        kind,
                        gateway: f[2],
                        base_url: (!f[3].is_empty()).then_some(f[3]),
                        key_env: list(f[4]),
                        base_env: list(f[5]),
                        aliases: list(f[6]),
                        local: f[7].contains('l'),
                        aggregator: f[7].contains('g'),
                        name: f[8],
                        doc: f[9],
                        models: index.models.len()..index.models.len(),
                        alias_rows: index.aliases.len()..index.aliases.len(),
                    });
                }
                _ => return Err(format!("unknown catalog record `{}`", clip(line))),
            }
        }
        // The text may list providers in any order (the embedded one is
        // ordered for gzip); lookups and listings see them by id.
        index.providers.sort_unstable_by(|a, b| a.id.cmp(b.id));
        Ok(index)
    }

    /// Everything lookups rely on: sorted, unique ids and aliases, unique
    /// providers, aliases that point at models, model lines that parse.
    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.providers.iter().enumerate() {
            if self.providers[..i].iter().any(|q| q.id == p.id) {
                return Err(format!("provider `{}` appears twice", p.id));
            }
            let rows = &self.models[p.models.clone()];
            if let Some(w) = rows.windows(2).find(|w| w[0].id() >= w[1].id()) {
                return Err(format!(
                    "model `{}` of `{}` is out of order",
                    w[1].id(),
                    p.id
                ));
            }
            let aliases = &self.aliases[p.alias_rows.clone()];
            if let Some(w) = aliases.windows(2).find(|w| w[0].alias() >= w[1].alias()) {
                return Err(format!(
                    "alias `{}` of `{}` is out of order",
                    w[1].alias(),
                    p.id
                ));
            }
            for a in aliases {
                if self.row(p, a.target()).is_none() {
                    return Err(format!(
                        "alias `{}` of `{}` points at unknown model `{}`",
                        a.alias(),
                        p.id,
                        a.target()
                    ));
                }
            }
            if p.kind == ProviderKind::OpenAiCompatible && p.base_url.is_none() {
                return Err(format!("provider `{}` has no base URL", p.id));
            }
        }
        for row in &self.models {
            ModelInfo::decode(row.line)?;
        }
        Ok(())
    }

    pub(super) fn row(&self, p: &Provider, id: &str) -> Option<ModelRow<'a>> {
        let rows = &self.models[p.models.clone()];
        rows.binary_search_by(|r| r.id().cmp(id))
            .ok()
            .map(|i| rows[i])
    }

    pub(super) fn alias(&self, p: &Provider, alias: &str) -> Option<&'a str> {
        let rows = &self.aliases[p.alias_rows.clone()];
        rows.binary_search_by(|r| r.alias().cmp(alias))
            .ok()
            .map(|i| rows[i].target())
    }

    pub fn model_count(&self) -> usize {
        self.models.len()
    }
}

fn clip(line: &str) -> &str {
    let mut end = line.len().min(80);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}
