//! Upstream wire formats. Each codec is pure translation: it builds requests
//! and reads responses, streams and errors, and never sends anything.

pub mod mock;
pub mod openai_chat;
