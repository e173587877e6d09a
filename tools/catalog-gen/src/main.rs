//! `cargo run -p dx-catalog-gen --release` rewrites `core/data/catalog.tsv`
//! from `data/`; `-- --check` fails when the checked-in file is stale;
//! `-- --api-json FILE` writes the models.dev tree as models.dev's api.json.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = catalog_gen::repo_root();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let built = match catalog_gen::generate(&root) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("catalog-gen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = catalog_gen::compact_order(&built.to_text());
    let s = &built.stats;
    eprintln!(
        "{} providers, {} models, {} bytes; LiteLLM entries: {} matched, {} added, {} skipped (mode), {} skipped (commitments, invoke/)",
        built.providers.len(),
        built.model_count(),
        text.len(),
        s.matched,
        s.added,
        s.skipped_mode,
        s.skipped_priced_apart,
    );
    if !s.skipped_provider.is_empty() {
        let list: Vec<String> = s
            .skipped_provider
            .iter()
            .map(|(p, n)| format!("{p} ({n})"))
            .collect();
        eprintln!(
            "LiteLLM providers without a catalog provider: {}",
            list.join(", ")
        );
    }
    let path = catalog_gen::catalog_path(&root);
    match args.first().map(String::as_str) {
        Some("--check") => {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != text {
                eprintln!(
                    "{} is stale: run `cargo run -p dx-catalog-gen --release`",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            eprintln!("{} is up to date", path.display());
        }
        Some("--api-json") => {
            let Some(out) = args.get(1) else {
                eprintln!("--api-json needs a file name");
                return ExitCode::FAILURE;
            };
            let sources = match catalog_gen::load_models_dev(&root.join("data/models.dev"))
                .and_then(|p| catalog_gen::to_api_json(&p))
            {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("catalog-gen: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = std::fs::write(out, sources) {
                eprintln!("{out}: {e}");
                return ExitCode::FAILURE;
            }
        }
        Some(other) => {
            eprintln!("unknown argument `{other}` (use --check or --api-json FILE)");
            return ExitCode::FAILURE;
        }
        None => {
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
