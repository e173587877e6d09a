//! `dx-lambda --check-config [FILE]`: loads a configuration the way the
//! gateway would — FILE, else `DX_CONFIG`, else the embedded config
//! (`dx.toml`, or a `config.yaml` next to it) — and says whether it is
//! valid (exit 0) or why not (exit 1). For CI and
//! before a deploy: `sam validate` and `wrangler deploy` cannot see a config
//! kept in a secret.

use dx_core::ports::Env;
use dx_core::Config;

pub const FLAG: &str = "--check-config";

/// The process exit code.
pub fn run(file: Option<&str>, env: &impl Env, embedded: &str) -> i32 {
    let (source, text) = match file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => (path.to_owned(), text),
            Err(e) => {
                eprintln!("{path}: cannot read: {e}");
                return 1;
            }
        },
        None => match env.var("DX_CONFIG").filter(|v| !v.trim().is_empty()) {
            Some(text) => ("DX_CONFIG".to_owned(), text),
            None => (
                format!("the embedded {}", crate::EMBEDDED_CONFIG_NAME),
                embedded.to_owned(),
            ),
        },
    };
    match Config::parse(&text) {
        Ok(config) => {
            println!(
                "OK: {source}: {} model_list entries",
                config.model_list.len()
            );
            for note in &config.import_notes {
                println!("note: {note}");
            }
            0
        }
        Err(e) => {
            eprintln!("{source}: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Option<&'static str>);
    impl Env for Vars {
        fn var(&self, _: &str) -> Option<String> {
            self.0.map(str::to_owned)
        }
    }

    #[test]
    fn file_then_env_then_embedded() {
        let dir = std::env::temp_dir().join(format!("dx-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[[model_list]]\nmodel_name = \"a\"\nprovider = \"mock\"\n",
        )
        .unwrap();
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[nope]\nkey = \"sk-x\"\n").unwrap();
        assert_eq!(run(good.to_str(), &Vars(Some("[nope]")), ""), 0);
        assert_eq!(run(bad.to_str(), &Vars(None), ""), 1);
        assert_eq!(run(Some("/nonexistent/dx.toml"), &Vars(None), ""), 1);
        assert_eq!(run(None, &Vars(Some("[nope]")), ""), 1);
        assert_eq!(run(None, &Vars(None), "[general]\n"), 0);
        assert_eq!(run(None, &Vars(None), "[general"), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The shells' build script, to test its choice (its `main` is unused).
    mod embed {
        include!("../../scripts/embed_config.rs");

        #[test]
        fn a_config_yaml_next_to_dx_toml_is_embedded_instead() {
            let dir = std::env::temp_dir().join(format!("dx-embed-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            assert_eq!(embedded_config_path(&dir), dir.join("dx.toml"));
            std::fs::write(dir.join("config.yaml"), "model_list: []\n").unwrap();
            assert_eq!(embedded_config_path(&dir), dir.join("config.yaml"));
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
