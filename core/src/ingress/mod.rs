//! Ingress formats: what clients send, parsed into the unified representation,
//! and how answers are rendered back in each format's own shape.

pub mod anthropic_messages;
pub mod openai_chat;
pub mod openai_responses;
