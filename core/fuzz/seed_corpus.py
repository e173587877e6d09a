#!/usr/bin/env python3
"""Writes each fuzz target's starting corpus from the recorded fixtures.

    python3 core/fuzz/seed_corpus.py [FIXTURES_DIR] [CORPUS_DIR]

FIXTURES_DIR defaults to the repository's fixtures/, CORPUS_DIR to
core/fuzz/corpus/. Each seed is a fixture wrapped in the selector bytes its
target reads (see the doc comment at the top of each fuzz_targets/*.rs), so
the fuzzer starts from real provider traffic for every codec. The corpus is
generated, not committed; hand seeds and regression inputs live in seeds/.
"""

import hashlib
import json
import pathlib
import re
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "fixtures"
CORPUS = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "corpus"
MAX_SEED = 64 * 1024

# The order of dx_fuzz::deployments().
CODECS = ["openai", "responses", "gemini", "bedrock", "anthropic", "vertex", "azure", "azure_ai", "cohere", "ollama"]
C = {name: i for i, name in enumerate(CODECS)}
# A model name per codec, as the fuzz config (src/lib.rs CONFIG) resolves it.
MODELS = {
    "openai": "openai/gpt-4o",
    "responses": "responses/o3",
    "gemini": "gemini/gemini-2.5-flash",
    "bedrock": "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic": "claude-auto",
    "vertex": "vertex-claude",
    "azure": "azure-dep/gpt-4o",
    "azure_ai": "azure_ai/DeepSeek-R1",
    "cohere": "cohere/command-r-plus",
    "ollama": "ollama/llama3.1",
}

written = {}


def seed(target, data):
    if len(data) > MAX_SEED:
        return
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    (d / name).write_bytes(data)
    written[target] = written.get(target, 0) + 1


def fixture(path):
    p = FIXTURES / path
    return p.read_bytes() if p.is_file() else None


def files(pattern):
    return sorted(p for p in FIXTURES.glob(pattern) if p.is_file())


def sse_from_chunks(lines, with_event, done):
    """A .chunks.jsonl recording back on the SSE wire (see fixtures/SOURCES.md)."""
    out = b""
    for line in lines.splitlines():
        if not line.strip():
            continue
        if with_event:
            kind = json.loads(line).get("type", "")
            out += b"event: " + kind.encode() + b"\n"
        out += b"data: " + line + b"\n\n"
    if done:
        out += b"data: [DONE]\n\n"
    return out


def bedrock_lines(events_jsonl):
    """`{"eventType": {...}}` lines as the `eventType payload` lines the harness frames."""
    out = b""
    for line in events_jsonl.splitlines():
        if line.strip():
            (kind, payload), = json.loads(line).items()
            out += kind.encode() + b" " + json.dumps(payload, separators=(",", ":")).encode() + b"\n"
    return out


def crc32(data):
    import zlib
    return zlib.crc32(data) & 0xFFFFFFFF


def eventstream_frame(headers, payload):
    """AWS eventstream frame with string headers, as Bedrock sends them."""
    h = b""
    for name, value in headers:
        v = value.encode()
        h += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    prelude += struct.pack(">I", crc32(prelude))
    message = prelude + h + payload
    return message + struct.pack(">I", crc32(message))


def bedrock_wire(events_jsonl):
    out = b""
    for line in events_jsonl.splitlines():
        if line.strip():
            (kind, payload), = json.loads(line).items()
            headers = [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")]
            out += eventstream_frame(headers, json.dumps(payload).encode())
    return out


def part(data):
    data = data[:0xFFFF]
    return struct.pack("<H", len(data)) + data


# ---- what each codec's upstream sends: (codec, kind, bytes) ----------------
# kind: "json" (a whole response), "stream", "error", "lines" (Bedrock events
# as `eventType payload` lines).
UPSTREAM = []


def up(codec, kind, data):
    if data:
        UPSTREAM.append((codec, kind, data))


for p in files("openai/chat-completion*.json"):
    up("openai", "json", p.read_bytes())
    up("azure", "json", p.read_bytes())
for p in files("openai/chat-stream*.sse"):
    up("openai", "stream", p.read_bytes())
for p in files("openai/chat-stream*.chunks.jsonl"):
    up("openai", "stream", sse_from_chunks(p.read_bytes(), False, True))
for p in files("openai/error*.json"):
    up("openai", "error", p.read_bytes())
    up("responses", "error", p.read_bytes())
up("responses", "json", fixture("openai/responses-text.json"))
for p in files("openai/responses-stream*.chunks.jsonl") + files("azure/responses-stream*.chunks.jsonl"):
    up("responses", "stream", sse_from_chunks(p.read_bytes(), True, False))
up("azure_ai", "json", fixture("azure/chat-completion-foundry-deepseek.json"))
for p in files("azure/chat-stream*.sse"):
    up("azure", "stream", p.read_bytes())
for p in files("azure/chat-stream*.chunks.jsonl"):
    up("azure", "stream", sse_from_chunks(p.read_bytes(), False, True))
for p in files("azure/error*.json"):
    up("azure", "error", p.read_bytes())
for p in files("gemini/generateContent*.json"):
    up("gemini", "json", p.read_bytes())
for p in files("gemini/streamGenerateContent*.sse"):
    up("gemini", "stream", p.read_bytes())
for p in files("gemini/streamGenerateContent*.chunks.jsonl"):
    up("gemini", "stream", sse_from_chunks(p.read_bytes(), False, False))
for p in files("gemini/error*.json"):
    up("gemini", "error", p.read_bytes())
for p in files("bedrock/converse-*.json"):
    up("bedrock", "json", p.read_bytes())
for p in files("bedrock/*.events.jsonl"):
    up("bedrock", "lines", bedrock_lines(p.read_bytes()))
    up("bedrock", "stream", bedrock_wire(p.read_bytes()))
up("bedrock", "error", b'{"message":"The security token included in the request is invalid."}')
up("bedrock", "error", b'{"message":"Too many requests, please wait before trying again."}')
for p in files("anthropic/messages-*.json"):
    up("anthropic", "json", p.read_bytes())
    up("vertex", "json", p.read_bytes())
for p in files("anthropic/*.sse"):
    up("anthropic", "stream", p.read_bytes())
for p in files("anthropic/*.chunks.jsonl"):
    up("anthropic", "stream", sse_from_chunks(p.read_bytes(), True, False))
for p in files("anthropic/error*.json"):
    up("anthropic", "error", p.read_bytes())
for p in files("cohere/chat-v2-*.json"):
    up("cohere", "json", p.read_bytes())
for p in files("cohere/*.chunks.jsonl"):
    up("cohere", "stream", sse_from_chunks(p.read_bytes(), True, False))
up("cohere", "error", b'{"message":"invalid api token"}')
for p in files("ollama/api-chat*.json"):
    up("ollama", "json", p.read_bytes())
for p in files("ollama/api-chat-stream*.ndjson"):
    up("ollama", "stream", p.read_bytes())
up("ollama", "error", b'{"error":"model \\"llama9\\" not found, try pulling it first"}')

# ---- decoders: codec, mode, split/status, body ------------------------------
MODE = {"json": 0, "stream": 1, "error": 2, "lines": 3}
for codec, kind, data in UPSTREAM:
    for third in ([0, 7] if kind in ("stream", "lines") else [0, 0x88]):
        seed("decoders", bytes([C[codec], MODE[kind], third]) + data)

# ---- relays: relay kind, split, upstream body --------------------------------
N = len(CODECS)
RELAY_KINDS = 2 + 2 * N


def relay_kind(k, high_bit):
    lo, hi = (128, 256) if high_bit else (0, 128)
    return next(b for b in range(lo, hi) if b % RELAY_KINDS == k)


for codec, kind, data in UPSTREAM:
    if kind not in ("stream", "lines"):
        continue
    i = C[codec]
    for k in (2 + 2 * i, 3 + 2 * i):
        seed("relays", bytes([relay_kind(k, kind == "lines"), 5]) + data)
    if codec in ("openai", "azure") and kind == "stream":
        seed("relays", bytes([relay_kind(0, False), 0]) + data)
        seed("relays", bytes([relay_kind(0, True), 3]) + data)
    if codec == "anthropic" and kind == "stream":
        seed("relays", bytes([relay_kind(1, False), 0]) + data)
        seed("relays", bytes([relay_kind(1, False), 0x43]) + data)

# ---- framers: framer, split, wire --------------------------------------------
for p in files("**/*.sse"):
    seed("framers", bytes([0, 0]) + p.read_bytes())
    seed("framers", bytes([0, 9]) + p.read_bytes())
for p in files("**/*.ndjson"):
    seed("framers", bytes([1, 4]) + p.read_bytes())
for p in files("eventstream/encoded/**/*"):
    seed("framers", bytes([2, 0]) + p.read_bytes())
    seed("framers", bytes([2, 3]) + p.read_bytes())
for p in files("bedrock/*.events.jsonl"):
    seed("framers", bytes([2, 5]) + bedrock_wire(p.read_bytes()))
    lines = b""
    for line in bedrock_lines(p.read_bytes()).splitlines():
        kind, _, payload = line.partition(b" ")
        lines += b":event-type=s" + kind + b";:content-type=sapplication/json;:message-type=sevent|" + payload + b"\n"
    seed("framers", bytes([3, 2]) + lines)
seed("framers", bytes([3, 0]) + b"b=t;i=4\x01\x02\x03\x04;l=8abcdefgh;t=T12345678;u=u0123456789abcdef;x=b\x00\xff|{}\n")

# ---- ingress: selector (bit 0: Anthropic; the rest: codec to encode for), body
OPENAI_BODIES = [
    {"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "fast", "stream": True, "stream_options": {"include_usage": True}, "n": 2, "temperature": 0.2,
     "messages": [
         {"role": "system", "content": "be brief"},
         {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
         {"role": "assistant", "content": None, "tool_calls": [
             {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "found"}],
     "tools": [{"type": "function", "function": {"name": "lookup", "description": "look up",
                "parameters": {"type": "object", "properties": {"q": {"type": "string", "enum": ["x", "y"]},
                               "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
                               "required": ["q"], "additionalProperties": False}}}],
     "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
    {"model": "fast", "messages": [{"role": "developer", "content": "json only"}, {"role": "user", "content": "list"}],
     "response_format": {"type": "json_schema", "json_schema": {"name": "l", "strict": True,
                         "schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/i"}}},
                                    "$defs": {"i": {"type": "string"}}}}},
     "reasoning_effort": "high", "max_tokens": 100, "stop": ["\n\n"], "seed": 7, "logprobs": True, "top_logprobs": 2,
     "user": "u-1", "metadata": {"k": "v"}, "parallel_tool_calls": False},
    {"model": "fast", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}]}],
     "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}},
]
ANTHROPIC_BODIES = [
    {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}]},
    {"model": "claude-3-5-haiku-latest", "max_tokens": 64000, "stream": True,
     "system": [{"type": "text", "text": "<CCM-SUBAGENT-MODEL>fast</CCM-SUBAGENT-MODEL> be brief",
                 "cache_control": {"type": "ephemeral"}}],
     "thinking": {"type": "enabled", "budget_tokens": 60000},
     "tools": [{"name": "get", "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
               {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
     "tool_choice": {"type": "any"},
     "messages": [
         {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                                      {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
                                      {"type": "text", "text": "look"}]},
         {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "c2ln"},
                                           {"type": "redacted_thinking", "data": "ZW5j"},
                                           {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": "b"}}]},
         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                       "content": [{"type": "text", "text": "ok"}], "is_error": False}]}]},
]
for p in files("claude-code/*.json"):
    ANTHROPIC_BODIES.append(json.loads(p.read_bytes())["body"])


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


for body in OPENAI_BODIES:
    for i in range(N):
        seed("ingress", bytes([2 * i]) + compact(body))
for body in ANTHROPIC_BODIES:
    for i in range(N):
        seed("ingress", bytes([2 * i + 1]) + compact(body))

# ---- config: dx.toml, the fuzz config, the e2e deployments as DX_CONFIG JSON -
for p in [HERE.parent.parent / "dx.toml"]:
    if p.is_file():
        seed("config", p.read_bytes())
m = re.search(rb'pub const CONFIG: &str = r#"(.*?)"#;', (HERE / "src" / "lib.rs").read_bytes(), re.S)
if m:
    seed("config", m.group(1))
for p in sorted((HERE.parent.parent / "tests" / "e2e" / "deployments").glob("*.json")):
    d = json.loads(p.read_text().replace("{fleet}", "http://upstream.fuzz"))
    cfg = dict(d.get("config", {}))
    if "model_list" in d:
        cfg["model_list"] = d["model_list"]
    seed("config", json.dumps(cfg, indent=1).encode())

# ---- names: selector (route, suggestions), name -------------------------------
NAMES = [
    "gpt-4o", "gpt-4o-2024-08-06", "openai/gpt-4o-mini", "claude-haiku-4-5", "claude-sonnet-4-5-20250929",
    "anthropic/claude-opus-4-1", "vertex_ai/claude-sonnet-4-5@20250929", "gemini/gemini-2.5-pro",
    "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
    "groq/llama-3.1-8b-instant", "deepseek-chat", "mistral-large-latest@mistral", "fast", "translated/house",
    "mock-chat", "gpt-4o\tgpt-4", "openai/gpt-4o,gpt-4o-mini\tgpt-4o", "claude-3-5-haiku-latest",
    "o3-pro", "text-embedding-3-small", "azure/gpt-4o", "azure-dep/my-deployment", "ollama/llama3.1",
]
for i, name in enumerate(NAMES):
    for sel in range(8):
        seed("names", bytes([sel | (8 if (i + sel) % 4 == 0 else 0)]) + name.encode())

# ---- gateway: route, flags, status, content type, split, body, upstream ------
ROUTE = {"chat": 0, "messages": 1, "count": 2, "models": 3, "models?": 4, "model": 5, "info?": 6,
         "estimate": 7, "counter": 8, "health": 10, "options": 11, "status": 12, "raw": 13}
CTYPE = {"json": 0, "stream": 1, "error": 0, "lines": 3}
for codec, kind, data in UPSTREAM:
    status = 4 if kind == "error" else 0
    split = 0x80 if kind == "lines" else 3
    stream = kind in ("stream", "lines")
    model = MODELS[codec]
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    if stream:
        chat["stream_options"] = {"include_usage": True}
    seed("gateway", bytes([ROUTE["chat"], 0, status, CTYPE[kind], split]) + part(compact(chat)) + data)
    msgs = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    seed("gateway", bytes([ROUTE["messages"], 0x19, status, CTYPE[kind], split]) + part(compact(msgs)) + data)
for body in OPENAI_BODIES[1:]:
    for model in ("translated/x", "gemini/gemini-2.5-flash", "mock-chat"):
        b = dict(body, model=model)
        seed("gateway", bytes([ROUTE["chat"], 0, 0, 0, 0]) + part(compact(b)) + (fixture("openai/chat-completion-text.json") or b""))
for body in ANTHROPIC_BODIES:
    seed("gateway", bytes([ROUTE["messages"], 0x19, 0, 1, 0]) + part(compact(body)) + (fixture("anthropic/messages-stream-basic.sse") or b""))
    seed("gateway", bytes([ROUTE["count"], 0x19, 0, 0, 0]) + part(compact(body)) + b'{"input_tokens":12}')
for route, body in [
    ("models", b""), ("models?", b"catalog=true&provider=groq"), ("model", b"anthropic%2Fclaude-haiku-4-5"),
    ("info?", b"model=gpt-4o"), ("estimate", b'{"model":"gpt-4o","input_tokens":1000,"output_tokens":10,"requests_per_day":5}'),
    ("counter", b'{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'), ("health", b""),
    ("options", b""), ("status", b""), ("raw", b"/v1/embeddings\n{}"),
]:
    seed("gateway", bytes([ROUTE[route], 0, 0, 0, 0]) + part(body))
seed("gateway", bytes([ROUTE["chat"], 0, 0xFF, 0, 0]) + part(compact(OPENAI_BODIES[0])))

for target, n in sorted(written.items()):
    print(f"{target}: {n} seeds", file=sys.stderr)
