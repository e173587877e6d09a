//! Reads the source snapshots in `data/` and builds the catalog text with
//! the core's own merge (`dx_core::catalog::build`), so the build-time
//! catalog and a runtime refresh follow the same rules.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use dx_core::catalog::build::{build, Built, Sources};
use dx_core::catalog::sources::{parse_litellm, MdModel, MdProvider, Overlay, EMBEDDED_OVERLAY};

mod order;
pub use order::{compact_order, split_blocks};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn catalog_path(root: &Path) -> PathBuf {
    root.join("core/data/catalog.tsv")
}

type Table = toml::map::Map<String, toml::Value>;

fn read_table(path: &Path) -> Result<Table, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A provider model with models.dev's inheritance applied: the fields of
/// `models/<lab>/<id>.toml` named by `base_model`, overridden by the file's
/// own (a nested table given locally replaces the inherited one whole),
/// minus the dot-paths in `base_model_omit`.
fn resolve_base(mut local: Table, labs: &Path) -> Result<Table, String> {
    let Some(base) = local.remove("base_model") else {
        return Ok(local);
    };
    let base = base
        .as_str()
        .ok_or("base_model is not a string")?
        .to_owned();
    let omit = local.remove("base_model_omit");
    let mut merged = read_table(&labs.join(format!("{base}.toml")))?;
    for (k, v) in local {
        merged.insert(k, v);
    }
    if let Some(toml::Value::Array(paths)) = omit {
        for path in paths.iter().filter_map(toml::Value::as_str) {
            let parts: Vec<&str> = path.split('.').collect();
            remove_path(&mut merged, &parts);
        }
    }
    Ok(merged)
}

fn remove_path(table: &mut Table, parts: &[&str]) {
    match parts {
        [] => {}
        [last] => {
            table.remove(*last);
        }
        [first, rest @ ..] => {
            if let Some(toml::Value::Table(t)) = table.get_mut(*first) {
                remove_path(t, rest);
            }
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The models.dev TOML tree (`providers/<id>/provider.toml` and
/// `providers/<id>/models/**`), as `api.json` would give it.
pub fn load_models_dev(root: &Path) -> Result<Vec<MdProvider>, String> {
    let labs = root.join("models");
    let providers_dir = root.join("providers");
    let mut ids: Vec<String> = fs::read_dir(&providers_dir)
        .map_err(|e| format!("{}: {e}", providers_dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let dir = providers_dir.join(&id);
        let table = read_table(&dir.join("provider.toml"))?;
        let mut provider: MdProvider = toml::Value::Table(table)
            .try_into()
            .map_err(|e| format!("{id}/provider.toml: {e}"))?;
        provider.id = id.clone();
        let models_dir = dir.join("models");
        let mut files = Vec::new();
        if models_dir.is_dir() {
            walk(&models_dir, &mut files)?;
        }
        let mut models = BTreeMap::new();
        for file in files {
            let rel = file
                .strip_prefix(&models_dir)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            let model_id = rel.strip_suffix(".toml").unwrap_or(&rel).to_owned();
            let table = resolve_base(read_table(&file)?, &labs)
                .map_err(|e| format!("{id}/{model_id}: {e}"))?;
            let mut model: MdModel = toml::Value::Table(table)
                .try_into()
                .map_err(|e| format!("{id}/models/{rel}: {e}"))?;
            model.id = Some(model_id.clone());
            models.insert(model_id, model);
        }
        provider.models = models;
        out.push(provider);
    }
    Ok(out)
}

/// models.dev's `api.json` for the same data (what a refresh downloads).
pub fn to_api_json(providers: &[MdProvider]) -> Result<String, String> {
    let map: BTreeMap<&str, &MdProvider> = providers.iter().map(|p| (p.id.as_str(), p)).collect();
    serde_json::to_string(&map).map_err(|e| e.to_string())
}

fn provenance_line(path: &Path, prefix: &str) -> String {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// What the catalog header says it was built from.
pub fn description(root: &Path) -> String {
    let commit = provenance_line(
        &root.join("data/models.dev/README.txt"),
        "Commit            :",
    );
    let state = provenance_line(&root.join("data/litellm/PROVENANCE.txt"), "State      :");
    format!("models.dev {commit} + LiteLLM model_prices_and_context_window.json ({state})")
}

pub fn sources(root: &Path) -> Result<Sources, String> {
    let models_dev = load_models_dev(&root.join("data/models.dev"))?;
    let ll_path = root.join("data/litellm/model_prices_and_context_window.json");
    let ll = fs::read(&ll_path).map_err(|e| format!("{}: {e}", ll_path.display()))?;
    Ok(Sources {
        models_dev,
        litellm: parse_litellm(&ll)?,
        overlay: Overlay::parse(EMBEDDED_OVERLAY)?,
        description: description(root),
    })
}

pub fn generate(root: &Path) -> Result<Built, String> {
    build(&sources(root)?)
}
