//! The `mock` provider: answers inside the gateway with no network, so the
//! gateway can be tried (and load-tested) without any provider key.
//!
//! Text comes from the deployment's `mock_response`, else the request's own
//! `mock_response` field, else a fixed sentence. With tools offered (and
//! `tool_choice` not `none`) and no tool result to answer yet, it calls a tool
//! with arguments that satisfy the schema's required properties.

use serde::Deserialize;

use super::DecodeContext;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::unified::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, Message, Part,
    Role, ToolCallDelta, ToolChoice, Usage,
};

pub const DEFAULT_TEXT: &str = "This is a mock response from DX Gateway.";

/// The answer to `req`, named and timed by `ctx` like a decoded upstream
/// answer (its ids take the client format's prefix: `msg_` on `/v1/messages`).
pub fn answer(req: &ChatRequest, fixed: Option<&str>, ctx: &DecodeContext<'_>) -> ChatResponse {
    let requested: Option<String> = req
        .extra
        .iter()
        .find(|(k, _)| k == "mock_response")
        .and_then(|(_, v)| serde_json::from_str(v.get()).ok());
    let text = fixed
        .map(str::to_owned)
        .or(requested)
        .unwrap_or_else(|| DEFAULT_TEXT.to_owned());
    let n = req.n.unwrap_or(1).clamp(1, 16);
    let tool_call = pick_tool(req);
    let choices = (0..n)
        .map(|index| match &tool_call {
            Some((name, args)) => Choice {
                index,
                content: vec![Part::ToolUse {
                    id: format!("call_mock_{index}"),
                    name: name.clone(),
                    arguments: args.clone(),
                    cache_control: None,
                }],
                refusal: None,
                finish_reason: Some(FinishReason::ToolCalls),
            },
            None => Choice {
                index,
                content: vec![Part::Text {
                    text: text.clone(),
                    cache_control: None,
                }],
                refusal: None,
                finish_reason: Some(FinishReason::Stop),
            },
        })
        .collect::<Vec<_>>();
    let output_chars: usize = choices
        .iter()
        .flat_map(|c| c.content.iter())
        .map(|p| match p {
            Part::Text { text, .. } => text.len(),
            Part::ToolUse {
                name, arguments, ..
            } => name.len() + arguments.len(),
            _ => 0,
        })
        .sum();
    ChatResponse {
        id: format!("{}mock-{}", ctx.id_prefix, ctx.now_ms),
        created: ctx.created(),
        model: ctx.model.to_owned(),
        choices,
        usage: Some(Usage {
            input_tokens: estimate_tokens(prompt_chars(&req.messages)),
            output_tokens: estimate_tokens(output_chars),
            ..Usage::default()
        }),
        system_fingerprint: None,
    }
}

/// The same answer as a stream: a role chunk, text in word-sized pieces (or
/// the tool call's name, then its arguments in two pieces), a finish chunk,
/// and the usage chunk when asked for.
pub fn answer_chunks(response: &ChatResponse, include_usage: bool) -> Vec<ChatChunk> {
    let chunk = |choices: Vec<ChunkChoice>, usage: Option<Usage>| ChatChunk {
        id: response.id.clone(),
        created: response.created,
        model: response.model.clone(),
        choices,
        usage,
    };
    let mut out = Vec::new();
    for choice in &response.choices {
        let one = |delta: Delta, finish: Option<FinishReason>| ChunkChoice {
            index: choice.index,
            delta,
            finish_reason: finish,
        };
        out.push(chunk(
            vec![one(
                Delta {
                    role: Some(Role::Assistant),
                    text: Some(String::new()),
                    ..Delta::default()
                },
                None,
            )],
            None,
        ));
        for part in &choice.content {
            match part {
                Part::Text { text, .. } => {
                    for piece in split_words(text) {
                        out.push(chunk(
                            vec![one(
                                Delta {
                                    text: Some(piece.to_owned()),
                                    ..Delta::default()
                                },
                                None,
                            )],
                            None,
                        ));
                    }
                }
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    out.push(chunk(
                        vec![one(
                            Delta {
                                tool_calls: vec![ToolCallDelta {
                                    index: 0,
                                    id: Some(id.clone()),
                                    name: Some(name.clone()),
                                    arguments: Some(String::new()),
                                }],
                                ..Delta::default()
                            },
                            None,
                        )],
                        None,
                    ));
                    let mid = arguments
                        .char_indices()
                        .nth(arguments.chars().count() / 2)
                        .map_or(arguments.len(), |(i, _)| i);
                    for piece in [&arguments[..mid], &arguments[mid..]] {
                        out.push(chunk(
                            vec![one(
                                Delta {
                                    tool_calls: vec![ToolCallDelta {
                                        index: 0,
                                        arguments: Some(piece.to_owned()),
                                        ..ToolCallDelta::default()
                                    }],
                                    ..Delta::default()
                                },
                                None,
                            )],
                            None,
                        ));
                    }
                }
                _ => {}
            }
        }
        out.push(chunk(
            vec![one(Delta::default(), choice.finish_reason.clone())],
            None,
        ));
    }
    if include_usage {
        out.push(chunk(Vec::new(), response.usage));
    }
    out
}

/// Splits after each space so the pieces concatenate back to the text.
fn split_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(' ')
}

fn pick_tool(req: &ChatRequest) -> Option<(String, String)> {
    if req.tools.is_empty() || req.tool_choice == Some(ToolChoice::None) {
        return None;
    }
    // A turn that answers tool calls gets text: calling again would loop
    // an agent (Claude Code) forever.
    if req.messages.last().is_some_and(Message::has_tool_results) {
        return None;
    }
    let tool = match &req.tool_choice {
        Some(ToolChoice::Named(name)) => req.tools.iter().find(|t| &t.name == name)?,
        _ => req.tools.first()?,
    };
    let args = tool
        .parameters
        .as_deref()
        .map(arguments_for_schema)
        .unwrap_or_else(|| "{}".to_owned());
    Some((tool.name.clone(), args))
}

#[derive(Deserialize)]
struct ObjectSchema {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    required: Vec<String>,
}

/// Placeholder values for the schema's required properties, by declared type.
fn arguments_for_schema(schema: &RawValue) -> String {
    let Ok(schema) = serde_json::from_str::<ObjectSchema>(schema.get()) else {
        return "{}".to_owned();
    };
    let mut args = Map::new();
    for name in &schema.required {
        let prop = schema.properties.get(name);
        let value = match prop.and_then(|p| p.get("enum")).and_then(|e| e.get(0)) {
            Some(first) => first.clone(),
            None => match prop.and_then(|p| p.get("type")).and_then(Value::as_str) {
                Some("integer") | Some("number") => Value::from(1),
                Some("boolean") => Value::Bool(true),
                Some("array") => Value::Array(Vec::new()),
                Some("object") => Value::Object(Map::new()),
                _ => Value::String("mock".into()),
            },
        };
        args.insert(name.clone(), value);
    }
    Value::Object(args).to_string()
}

fn prompt_chars(messages: &[Message]) -> usize {
    messages.iter().map(|m| m.text().len() + 4).sum()
}

/// About four characters per token: good enough for a provider that does not exist.
fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::Tool;

    fn ctx(model: &str, now_ms: u64) -> DecodeContext<'_> {
        DecodeContext {
            now_ms,
            model,
            id_prefix: "chatcmpl-",
        }
    }

    fn request(tools: bool) -> ChatRequest {
        ChatRequest {
            model: "mock-chat".into(),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: "weather in Paris?".into(),
                    cache_control: None,
                }],
                name: None,
            }],
            tools: if tools {
                vec![Tool { cache_control: None,
                    name: "get_weather".into(),
                    description: None,
                    parameters: RawValue::from_string(
                        r#"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"enum":["c","f"]}},"required":["city","days","unit"]}"#.into(),
                    )
                    .ok(),
                    strict: None,
                }]
            } else {
                Vec::new()
            },
            ..ChatRequest::default()
        }
    }

    #[test]
    fn text_answer_with_usage() {
        let r = answer(
            &request(false),
            Some("hello there"),
            &ctx("mock-chat", 5_000),
        );
        assert_eq!(r.choices[0].text().as_deref(), Some("hello there"));
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
        let u = r.usage.unwrap();
        assert_eq!(u.output_tokens, 3);
        assert!(u.input_tokens > 0);
    }

    #[test]
    fn tool_call_satisfies_required_properties() {
        let r = answer(&request(true), None, &ctx("m", 0));
        let (_, name, args) = r.choices[0].tool_uses().next().unwrap();
        assert_eq!(name, "get_weather");
        let v: Value = serde_json::from_str(args).unwrap();
        assert_eq!(v["city"], "mock");
        assert_eq!(v["days"], 1);
        assert_eq!(v["unit"], "c");
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    }

    /// The tool-result turns Claude Code really sends, through the
    /// Anthropic ingress: the mock must answer them in text, or the agent
    /// calls the tool again forever.
    #[test]
    fn claude_code_tool_result_turns_get_text() {
        use crate::ingress::anthropic_messages::MessagesEnvelope;
        for file in [
            &include_bytes!("../../../fixtures/claude-code/request-2.1.197-tool-result-turn.json")
                [..],
            &include_bytes!("../../../fixtures/claude-code/request-2.1.330-tool-result-turn.json")
                [..],
        ] {
            let recorded: Value = serde_json::from_slice(file).unwrap();
            let body = serde_json::to_vec(&recorded["body"]).unwrap();
            let req = MessagesEnvelope::parse(&body)
                .unwrap()
                .to_unified(&[])
                .unwrap();
            assert!(!req.tools.is_empty(), "tools are offered");
            let messages = DecodeContext {
                id_prefix: crate::ingress::anthropic_messages::ID_PREFIX,
                ..ctx("m", 0)
            };
            let r = answer(&req, None, &messages);
            assert!(r.id.starts_with("msg_"), "{}", r.id);
            assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
            assert_eq!(r.choices[0].text().as_deref(), Some(DEFAULT_TEXT));
            // The turn before, which asked for the tool, still gets a call.
            let mut asking = req.clone();
            asking.messages.pop();
            asking.messages.push(Message {
                role: Role::User,
                content: vec![Part::Text {
                    text: "again".into(),
                    cache_control: None,
                }],
                name: None,
            });
            let r = answer(&asking, None, &ctx("m", 0));
            assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        }
    }

    /// An OpenAI `role: tool` message is the same user turn with a result.
    #[test]
    fn openai_tool_messages_get_text() {
        use crate::ingress::openai_chat::ChatEnvelope;
        let body = br#"{"model":"m","messages":[
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"sunny"}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"#;
        let req = ChatEnvelope::parse(body).unwrap().to_unified().unwrap();
        assert_eq!(req.messages[2].role, Role::User);
        let r = answer(&req, None, &ctx("m", 0));
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    }

    #[test]
    fn chunks_reassemble_to_the_answer() {
        let r = answer(&request(false), Some("one two three"), &ctx("m", 0));
        let chunks = answer_chunks(&r, true);
        let text: String = chunks
            .iter()
            .flat_map(|c| c.choices.iter())
            .filter_map(|c| c.delta.text.clone())
            .collect();
        assert_eq!(text, "one two three");
        assert!(chunks.len() >= 5);
        assert_eq!(chunks.last().unwrap().usage, r.usage);
        let r = answer(&request(true), None, &ctx("m", 0));
        let args: String = answer_chunks(&r, false)
            .iter()
            .flat_map(|c| c.choices.iter())
            .flat_map(|c| c.delta.tool_calls.iter())
            .filter_map(|t| t.arguments.clone())
            .collect();
        assert_eq!(args, r.choices[0].tool_uses().next().unwrap().2);
    }
}
