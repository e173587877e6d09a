// The shells' build script (included by worker/build.rs and lambda/build.rs):
// picks the config the build embeds. A LiteLLM `config.yaml` next to
// `dx.toml` wins when present; it is read as `DX_CONFIG` would be.
//
// Cargo treats a watched file that does not exist as always changed (a
// rebuild of the shell every time), so `config.yaml` is watched only while
// it exists; after adding one, `touch dx.toml` (the README says so).

use std::path::{Path, PathBuf};

/// The file to embed, under the repository root `root`.
#[allow(dead_code)]
fn embedded_config_path(root: &Path) -> PathBuf {
    let yaml = root.join("config.yaml");
    if yaml.is_file() {
        yaml
    } else {
        root.join("dx.toml")
    }
}

#[allow(dead_code)]
fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let chosen = embedded_config_path(&root);
    println!("cargo:rerun-if-changed={}", root.join("dx.toml").display());
    println!("cargo:rerun-if-changed={}", chosen.display());
    let name = chosen
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("dx.toml")
        .to_owned();
    let full = chosen.canonicalize().unwrap_or(chosen);
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("embedded_config.rs");
    let code = format!(
        "/// The config this build embeds ({name}).\npub const EMBEDDED_CONFIG: &str = include_str!({full:?});\n/// Its file name, for messages.\npub const EMBEDDED_CONFIG_NAME: &str = {name:?};\n"
    );
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
