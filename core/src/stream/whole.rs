//! A whole answer told as a stream: for upstreams that answer a stream
//! request with one body (see [`super::sniff`]). Each part of each choice
//! becomes one chunk, in order; the client cannot tell it from a fast stream.

use crate::unified::{ChatChunk, ChatResponse, ChunkChoice, Delta, Part, Role, ToolCallDelta};

/// The chunks of `response`: a role chunk per choice, its reasoning, text,
/// refusal and tool calls (numbered per choice), a finish chunk, then the
/// usage chunk when the client asked for one.
pub fn chunks_of(response: &ChatResponse, include_usage: bool) -> Vec<ChatChunk> {
    let chunk = |index: u32, delta: Delta, finish_reason| ChatChunk {
        id: response.id.clone(),
        created: response.created,
        model: response.model.clone(),
        choices: vec![ChunkChoice {
            index,
            delta,
            finish_reason,
        }],
        usage: None,
    };
    let mut out = Vec::new();
    for choice in &response.choices {
        let i = choice.index;
        out.push(chunk(
            i,
            Delta {
                role: Some(Role::Assistant),
                ..Delta::default()
            },
            None,
        ));
        let mut tool_index = 0;
        for part in &choice.content {
            let delta = match part {
                Part::Text { text, .. } => Delta {
                    text: Some(text.clone()),
                    ..Delta::default()
                },
                Part::Thinking { text, signature } => Delta {
                    reasoning: Some(text.clone()),
                    reasoning_signature: signature.clone(),
                    ..Delta::default()
                },
                Part::RedactedThinking { data } => Delta {
                    redacted_reasoning: Some(data.clone()),
                    ..Delta::default()
                },
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    tool_index += 1;
                    Delta {
                        tool_calls: vec![ToolCallDelta {
                            index: tool_index - 1,
                            id: Some(id.clone()),
                            name: Some(name.clone()),
                            arguments: Some(arguments.clone()),
                        }],
                        ..Delta::default()
                    }
                }
                _ => continue,
            };
            out.push(chunk(i, delta, None));
        }
        if let Some(refusal) = &choice.refusal {
            let delta = Delta {
                refusal: Some(refusal.clone()),
                ..Delta::default()
            };
            out.push(chunk(i, delta, None));
        }
        out.push(chunk(i, Delta::default(), choice.finish_reason.clone()));
    }
    if include_usage {
        out.push(ChatChunk {
            id: response.id.clone(),
            created: response.created,
            model: response.model.clone(),
            choices: Vec::new(),
            usage: response.usage,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::{Choice, FinishReason, Usage};

    #[test]
    fn every_part_in_order_with_tool_calls_numbered() {
        let response = ChatResponse {
            id: "r".into(),
            created: 1,
            model: "m".into(),
            choices: vec![Choice {
                index: 0,
                content: vec![
                    Part::Thinking {
                        text: "hmm".into(),
                        signature: None,
                    },
                    Part::Text {
                        text: "hello world".into(),
                        cache_control: None,
                    },
                    Part::ToolUse {
                        id: "a".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                        cache_control: None,
                    },
                    Part::ToolUse {
                        id: "b".into(),
                        name: "g".into(),
                        arguments: "{\"x\":1}".into(),
                        cache_control: None,
                    },
                ],
                refusal: None,
                finish_reason: Some(FinishReason::ToolCalls),
            }],
            usage: Some(Usage {
                input_tokens: 3,
                output_tokens: 4,
                ..Usage::default()
            }),
            system_fingerprint: None,
        };
        let chunks = chunks_of(&response, true);
        assert_eq!(chunks.len(), 7);
        let d = |n: usize| &chunks[n].choices[0].delta;
        assert_eq!(d(0).role, Some(Role::Assistant));
        assert_eq!(d(1).reasoning.as_deref(), Some("hmm"));
        assert_eq!(d(2).text.as_deref(), Some("hello world"));
        assert_eq!(d(3).tool_calls[0].index, 0);
        assert_eq!(d(4).tool_calls[0].index, 1);
        assert_eq!(d(4).tool_calls[0].arguments.as_deref(), Some("{\"x\":1}"));
        assert_eq!(
            chunks[5].choices[0].finish_reason,
            Some(FinishReason::ToolCalls)
        );
        assert!(chunks[6].choices.is_empty());
        assert_eq!(chunks[6].usage, response.usage);
        assert_eq!(chunks_of(&response, false).len(), 6);
    }
}
