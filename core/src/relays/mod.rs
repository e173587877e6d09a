//! The streams the client reads: a same-format upstream relayed (OpenAI's,
//! Anthropic's), or another format translated chunk by chunk. Above the
//! codecs and ingress renderers they drive; the framing below them is
//! format-neutral ([`crate::stream`]).

pub mod anthropic_relay;
pub mod first_content;
pub mod openai_relay;
pub mod output_guard;
pub mod responses_relay;
pub mod translate;
