include!("../scripts/embed_config.rs");
