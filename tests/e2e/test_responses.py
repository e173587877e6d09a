"""`POST /v1/responses` through the official OpenAI SDK on both shells: to
OpenAI (the client's body passed through, its event stream relayed) and to
providers that speak other formats (Anthropic, Gemini, Bedrock: the request
translated, the answer rendered as Responses items and events). Stored
responses resume with `previous_response_id`, whichever provider answers.
The fleet checks every upstream request's shape."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from conftest import MASTER_KEY
from sdk import check_error_body, raw_post, tag

CLAUDE_BEDROCK = "anthropic.claude-3-5-sonnet-20240620-v1:0"

# (model as the client names it, model the fleet sees, path the fleet saw)
TARGETS = {
    "openai": ("openai/gpt-4o-mini-{t}", "gpt-4o-mini-{t}", "/openai/v1/responses"),
    "anthropic": ("anthropic-fleet/claude-sonnet-4-5-{t}", "claude-sonnet-4-5-{t}", "/anthropic/v1/messages"),
    "gemini": ("gemini/gemini-2.5-flash-{t}", "gemini-2.5-flash-{t}", None),
    "bedrock": (f"fleet-bedrock/{CLAUDE_BEDROCK}", None, None),
}
TRANSLATED = ["anthropic", "gemini", "bedrock"]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def target(name: str, t: str) -> tuple[str, str | None, str | None]:
    model, seen, path = TARGETS[name]
    return model.format(t=t), seen.format(t=t) if seen else None, path


def upstream_of(fleet, seen: str | None, path: str | None) -> dict | None:
    if seen is None:
        return None
    got = fleet.requests(model=seen)
    assert got, f"the fleet saw no request for {seen}"
    if path:
        assert got[-1]["path"] == path, got[-1]["path"]
    return got[-1]["body"]


# ---------------------------------------------------------------- text


@pytest.mark.parametrize("name", list(TARGETS))
def test_text_answer(client, fleet, name):
    t = tag()
    model, seen, path = target(name, t)
    raw = client.responses.with_raw_response.create(
        model=model, instructions="You are terse.", input=f"Say hi {t}", max_output_tokens=200
    )
    r = raw.parse()
    assert r.object == "response" and r.status == "completed"
    assert r.id.startswith("resp_")
    assert r.output_text == f"Echo: Say hi {t}"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert raw.headers["x-dx-provider"] in {"openai", "anthropic", "gemini", "bedrock"}
    body = upstream_of(fleet, seen, path)
    if name == "openai":
        # Passthrough: the client's own fields, model swapped.
        assert body["input"] == f"Say hi {t}" and body["instructions"] == "You are terse."
        assert body["max_output_tokens"] == 200
    elif name == "anthropic":
        assert body["system"] in ("You are terse.", [{"type": "text", "text": "You are terse."}])
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": f"Say hi {t}"}]}]
        assert body["max_tokens"] == 200


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic-fleet/claude-sonnet-4-5"])
def test_answers_are_priced_from_the_catalog(client, model):
    raw = client.responses.with_raw_response.create(model=model, input="price me")
    r = raw.parse()
    assert r.usage.input_tokens > 0
    assert float(raw.headers["x-dx-cost-usd"]) > 0
    # The cost is in the body too, beside usage, as on chat answers.
    assert r.model_extra["cost"] == pytest.approx(float(raw.headers["x-dx-cost-usd"]))


@pytest.mark.parametrize("name", list(TARGETS))
def test_stream_with_the_sdk_helpers(client, fleet, name):
    t = tag()
    model, _, _ = target(name, t)
    deltas, kinds, seqs = [], [], []
    with client.responses.stream(model=model, input=f"one two three {t}") as stream:
        for event in stream:
            kinds.append(event.type)
            seqs.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == f"Echo: one two three {t}"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    for needed in ("response.output_item.added", "response.content_part.added",
                   "response.output_text.done", "response.output_item.done"):
        assert needed in kinds, kinds
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert final.output_text == f"Echo: one two three {t}"
    assert final.usage.output_tokens > 0


# ---------------------------------------------------------------- tools


@pytest.mark.parametrize("name", list(TARGETS))
def test_function_call_round_trip(client, fleet, name):
    t = tag()
    model, seen, path = target(name, t)
    first = client.responses.create(model=model, input=f"weather in Paris {t}", tools=[WEATHER])
    calls = [i for i in first.output if i.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather" and call.call_id
    assert "location" in json.loads(call.arguments)
    history = [{"role": "user", "content": f"weather in Paris {t}"}, *[i.model_dump(exclude_none=True) for i in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}]
    second = client.responses.create(model=model, input=history, tools=[WEATHER])
    assert second.output_text == "Tool said: sunny, 21C"
    body = upstream_of(fleet, seen, path)
    if name == "anthropic":
        last = body["messages"][-1]
        assert last["role"] == "user" and last["content"][0]["type"] == "tool_result"
        assert last["content"][0]["tool_use_id"] == call.call_id


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_streamed_function_call(client, name):
    t = tag()
    model, _, _ = target(name, t)
    arg_deltas = []
    with client.responses.stream(model=model, input=f"weather {t}", tools=[WEATHER], tool_choice="required") as stream:
        for event in stream:
            if event.type == "response.function_call_arguments.delta":
                arg_deltas.append(event.delta)
        final = stream.get_final_response()
    call = next(i for i in final.output if i.type == "function_call")
    assert "".join(arg_deltas) == call.arguments
    assert json.loads(call.arguments)["location"]


def test_hosted_tools_are_refused_or_dropped_aloud(gateway, client):
    t = tag()
    tools = [WEATHER, {"type": "web_search"}]
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=f"strict-anthropic/claude-sonnet-4-5-{t}", input="hi", tools=tools)
    assert e.value.code == "unsupported_tool" and e.value.body["param"] == "tools"
    assert "web_search" in e.value.message
    raw = client.responses.with_raw_response.create(
        model=f"anthropic-fleet/claude-sonnet-4-5-{t}", input="hi", tools=tools, tool_choice="none"
    )
    assert "dropped_tool:web_search" in raw.headers["x-dx-adjusted"]
    assert raw.parse().output_text == "Echo: hi"


# ---------------------------------------------------------------- formats


def test_json_schema_passthrough_and_gemini(client, fleet):
    t = tag()
    fmt = {"format": {"type": "json_schema", "name": "answer", "strict": True,
                      "schema": {"type": "object", "properties": {"answer": {"type": "string"}},
                                 "required": ["answer"], "additionalProperties": False}}}
    r = client.responses.create(model=f"openai/gpt-4o-mini-{t}", input=f"q {t}", text=fmt)
    assert json.loads(r.output_text) == {"answer": f"Echo: q {t}"}
    client.responses.create(model=f"gemini/gemini-2.5-flash-{t}", input=f"q {t}", text=fmt)
    body = fleet.requests(model=f"gemini-2.5-flash-{t}")[-1]["body"]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "answer" in json.dumps(config.get("responseSchema") or config.get("responseJsonSchema"))


def test_reasoning_round_trips_its_signature_through_anthropic(client, fleet):
    t = tag()
    model = f"anthropic-fleet/claude-sonnet-4-5-{t}"
    first = client.responses.create(model=model, input=f"think {t}", tools=[WEATHER],
                                    reasoning={"effort": "low"}, max_output_tokens=4000)
    reasoning = [i for i in first.output if i.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content, first.output
    assert reasoning[0].summary[0].text.startswith("Considering") or reasoning[0].summary[0].text
    body = fleet.requests(model=f"claude-sonnet-4-5-{t}")[-1]["body"]
    assert body["thinking"]["type"] == "enabled"
    call = next(i for i in first.output if i.type == "function_call")
    history = [{"role": "user", "content": f"think {t}"}, *[i.model_dump(exclude_none=True) for i in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": "ok"}]
    # The fleet verifies the thinking signature it gave out.
    second = client.responses.create(model=model, input=history, tools=[WEATHER],
                                     reasoning={"effort": "low"}, max_output_tokens=4000)
    assert "Tool said: ok" in second.output_text
    sent = fleet.requests(model=f"claude-sonnet-4-5-{t}")[-1]["body"]["messages"][1]["content"]
    assert sent[0]["type"] == "thinking" and sent[0]["signature"] == reasoning[0].encrypted_content


# ---------------------------------------------------------------- stored responses


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_previous_response_id_resumes_the_conversation(client, fleet, name):
    t = tag()
    model, seen, path = target(name, t)
    first = client.responses.create(model=model, input=f"first {t}")
    second = client.responses.create(model=model, input=f"second {t}", previous_response_id=first.id)
    assert second.output_text == f"Echo: second {t}"
    assert second.previous_response_id == first.id
    body = upstream_of(fleet, seen, path)
    if name == "openai":
        # The gateway sends the whole conversation, not the reference.
        assert "previous_response_id" not in body
        texts = json.dumps(body["input"])
        assert f"first {t}" in texts and f"Echo: first {t}" in texts and f"second {t}" in texts
    else:
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    got = client.responses.retrieve(second.id)
    assert got.id == second.id and got.output_text == second.output_text
    # The conversation that produced it, newest first, as the SDK pages it.
    items = client.responses.input_items.list(second.id)
    texts = [i.content[0].text for i in items.data]
    assert texts == [f"second {t}", f"Echo: first {t}", f"first {t}"], texts
    assert [i.role for i in items.data] == ["user", "assistant", "user"]
    assert len({i.id for i in items.data}) == 3 and not items.has_more
    oldest = client.responses.input_items.list(second.id, order="asc", limit=1)
    assert [i.content[0].text for i in oldest.data] == [f"first {t}"] and oldest.has_more
    rest = client.responses.input_items.list(second.id, order="asc", after=oldest.data[0].id)
    assert [i.content[0].text for i in rest.data] == [f"Echo: first {t}", f"second {t}"]
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.input_items.list(f"resp_nope{t}")
    assert e.value.body["code"] == "response_not_found"


def test_a_streamed_answer_is_stored_before_its_last_event(client):
    t = tag()
    model = f"anthropic-fleet/claude-sonnet-4-5-{t}"
    with client.responses.stream(model=model, input=f"stream {t}") as stream:
        final = stream.get_final_response()
    # Resumed at once: the record was written before response.completed left.
    nxt = client.responses.create(model=model, input="again", previous_response_id=final.id)
    assert nxt.output_text == "Echo: again"


def test_store_false_keeps_nothing_and_delete_forgets(client):
    t = tag()
    model = f"anthropic-fleet/claude-sonnet-4-5-{t}"
    r = client.responses.create(model=model, input="x", store=False)
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.retrieve(r.id)
    assert e.value.code == "response_not_found"
    kept = client.responses.create(model=model, input="y")
    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model=model, input="z", previous_response_id=kept.id)
    assert e.value.code == "previous_response_not_found"
    assert e.value.body["param"] == "previous_response_id"


def test_stored_responses_are_per_key(gateway, client):
    t = tag()
    r = client.responses.create(model=f"anthropic-fleet/claude-sonnet-4-5-{t}", input="mine")
    made = requests.post(f"{gateway.base_url}/key/generate", json={"key_alias": f"resp-{t}"},
                         headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert made.status_code == 200, made.text
    other = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=made.json()["key"], max_retries=0, timeout=30)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model=f"anthropic-fleet/claude-sonnet-4-5-{t}", input="x", previous_response_id=r.id)


# ---------------------------------------------------------------- failures


def test_bad_requests_get_openai_errors(gateway):
    r = raw_post(gateway, {"model": "anthropic-fleet/x"}, path="/v1/responses")
    check_error_body(r, 400, code="missing_required_parameter")
    r = raw_post(gateway, data=b"{not json", path="/v1/responses")
    check_error_body(r, 400)
    r = raw_post(gateway, {"model": "anthropic-fleet/x", "input": [{"type": "item_reference", "id": "i"}]},
                 path="/v1/responses")
    assert check_error_body(r, 400)["param"] == "input[0].type"
    r = raw_post(gateway, {"model": "anthropic-fleet/x", "input": "hi"}, key=None, path="/v1/responses")
    check_error_body(r, 401)
    r = requests.get(f"{gateway.base_url}/v1/responses/resp_nope", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                     timeout=30)
    check_error_body(r, 404, code="response_not_found")


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_a_stream_cut_mid_answer_ends_with_an_error_not_a_completion(client, name):
    model = {"openai": "openai/fault:cut_after=7|gpt-4o-mini",
             "anthropic": "anthropic-fleet/fault:cut_after=6|claude-sonnet-4-5"}[name]
    kinds = []
    with pytest.raises(openai.APIError):
        with client.responses.stream(model=model, input="one two three four five six seven eight") as stream:
            for event in stream:
                kinds.append(event.type)
    assert "response.completed" not in kinds
    assert "response.created" in kinds


def test_a_conversation_moves_between_providers(client, fleet):
    t = tag()
    first = client.responses.create(model=f"openai/gpt-4o-mini-{t}", input=f"first {t}")
    assert first.output_text == f"Echo: first {t}"
    # OpenAI's own output items (message with output_text parts) resume on Anthropic.
    second = client.responses.create(model=f"anthropic-fleet/claude-sonnet-4-5-{t}", input=f"second {t}",
                                     previous_response_id=first.id)
    assert second.output_text == f"Echo: second {t}"
    sent = fleet.requests(model=f"claude-sonnet-4-5-{t}")[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert json.dumps(sent[1]).count(f"Echo: first {t}") == 1


@pytest.mark.parametrize("model,path,version", [
    ("azure/gpt-4o-mini-{t}", "/azure/openai/v1/responses", None),
    ("azure-dated/gpt-4o-mini-{t}", "/azure/openai/responses", "2025-03-01-preview"),
])
def test_azure_openai_takes_the_body_as_sent(client, fleet, model, path, version):
    """Azure OpenAI serves the Responses API itself: the client's body goes
    to its v1 URL (or a dated preview version's) with the deployment as
    `model` and Azure's `api-key`, whole and streamed."""
    t = tag()
    r = client.responses.create(model=model.format(t=t), input=f"Say hi {t}", instructions="Be brief.",
                                max_output_tokens=100)
    assert r.output_text == f"Echo: Say hi {t}"
    got = fleet.requests(model=f"gpt-4o-mini-{t}")[-1]
    assert got["path"] == path
    assert got["body"]["input"] == f"Say hi {t}" and got["body"]["instructions"] == "Be brief."
    assert got["body"]["model"] == f"gpt-4o-mini-{t}"
    assert got["query"] == (f"api-version={version}" if version else "")
    assert got["headers"]["api-key"] == "sk-fleet-azure"
    with client.responses.stream(model=model.format(t=t), input=f"Stream {t}") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == f"Echo: Stream {t}" and final.usage.total_tokens > 0
