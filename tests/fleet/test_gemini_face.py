"""Self-test of the fleet's Gemini face (no gateway): AI Studio and Vertex AI
paths, Google's error shapes, request validation, and the OAuth2 token
endpoint verifying RS256 assertions signed here with the test service account."""

from __future__ import annotations

import base64
import json
import time
import uuid

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from fleet import fixtures, gemini_face

KEY = "sk-fleet-gemini"
SA = json.loads(gemini_face.SERVICE_ACCOUNT_FILE.read_text())


def gen(fleet, model: str, body: dict, *, stream: bool = False, key: str | None = KEY, query: str = "", headers: dict | None = None):
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    url = f"{fleet.base_url}/gemini/v1beta/models/{model}:{method}{query}"
    h = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        h["x-goog-api-key"] = key
    return requests.post(url, data=json.dumps(body), headers=h, timeout=20)


def vertex(fleet, model: str, body: dict, token: str, *, stream: bool = False):
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    url = f"{fleet.base_url}/vertex/v1/projects/dx-fleet-test/locations/us-central1/publishers/google/models/{model}:{method}"
    return requests.post(
        url, data=json.dumps(body), headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, timeout=20
    )


def user(text: str) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(fleet, *, email: str | None = None, aud: str | None = None, iat: int | None = None, ttl: int = 3600, tamper: bool = False) -> str:
    now = int(time.time()) if iat is None else iat
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = b64url(
        json.dumps(
            {
                "iss": email or SA["client_email"],
                "scope": "https://www.googleapis.com/auth/cloud-platform",
                "aud": aud or f"{fleet.base_url}/oauth2/token",
                "iat": now,
                "exp": now + ttl,
            }
        ).encode()
    )
    key = serialization.load_pem_private_key(SA["private_key"].encode(), None)
    sig = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    if tamper:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    return f"{header}.{claims}.{b64url(sig)}"


def exchange(fleet, jwt: str, grant: str = gemini_face.JWT_BEARER):
    return requests.post(f"{fleet.base_url}/oauth2/token", data={"grant_type": grant, "assertion": jwt}, timeout=20)


def sse_events(resp) -> list[dict]:
    assert b"\r\n\r\n" in resp.content, "Gemini frames events with CRLF"
    return [json.loads(line[6:]) for line in resp.content.decode().split("\r\n") if line.startswith("data: ")]


# ---------------------------------------------------------------- AI Studio


def test_echo_with_usage_and_model_recorded(fleet):
    model = f"gemini-2.5-flash-{uuid.uuid4().hex[:8]}"
    r = gen(fleet, model, {**user("one two"), "systemInstruction": {"parts": [{"text": "be brief"}]}})
    assert r.status_code == 200, r.text
    body = r.json()
    cand = body["candidates"][0]
    assert cand["content"] == {"parts": [{"text": "Echo: one two"}], "role": "model"}
    assert cand["finishReason"] == "STOP"
    # 1 content + 2 words, system 1 + 2 words; answer 3 words.
    assert body["usageMetadata"]["promptTokenCount"] == 6
    assert body["usageMetadata"]["candidatesTokenCount"] == 3
    got = fleet.requests(model=model)
    assert len(got) == 1 and got[0]["path"].endswith(f"/models/{model}:generateContent")


def test_key_checks(fleet):
    r = gen(fleet, "gemini-2.5-flash", user("x"), key="wrong")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and err["details"][0]["reason"] == "API_KEY_INVALID"
    assert gen(fleet, "gemini-2.5-flash", user("x"), key=None).json()["error"]["status"] == "PERMISSION_DENIED"
    r = gen(fleet, "gemini-2.5-flash", user("x"), query=f"?key={KEY}")
    assert r.status_code == 400 and "never in ?key=" in r.json()["error"]["message"]


def test_stream_is_crlf_sse_with_cumulative_usage(fleet):
    r = gen(fleet, "gemini-2.5-flash", user("a b c"), stream=True)
    assert r.status_code == 200
    events = sse_events(r)
    text = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)
    assert text == "Echo: a b c"
    assert [e["candidates"][0].get("finishReason") for e in events] == [None, None, None, "STOP"]
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 4
    assert "candidatesTokenCount" not in events[0]["usageMetadata"]
    url = f"{fleet.base_url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    r = requests.post(url, data=json.dumps(user("x")), headers={"Content-Type": "application/json", "x-goog-api-key": KEY}, timeout=20)
    assert r.status_code == 400 and "alt=sse" in r.json()["error"]["message"]


TOOLS = [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]}]


def test_tool_round_trip_and_thought_signatures(fleet):
    r = gen(fleet, "gemini-3-pro-preview", {**user("weather?"), "tools": TOOLS})
    part = r.json()["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"] == {"name": "get_weather", "args": {"location": "Paris"}}
    sig = part["thoughtSignature"]
    history = [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": part["functionCall"], "thoughtSignature": sig}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}]},
    ]
    r = gen(fleet, "gemini-3-pro-preview", {"contents": history, "tools": TOOLS})
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == "Tool said: sunny"
    # Gemini 3 refuses a replayed call without its signature, or with a made-up one.
    history[1]["parts"][0].pop("thoughtSignature")
    r = gen(fleet, "gemini-3-pro-preview", {"contents": history, "tools": TOOLS})
    assert r.status_code == 400 and "missing a thought_signature" in r.json()["error"]["message"]
    history[1]["parts"][0]["thoughtSignature"] = "Zm9yZ2Vk"
    assert gen(fleet, "gemini-3-pro-preview", {"contents": history, "tools": TOOLS}).status_code == 400
    history[1]["parts"][0]["thoughtSignature"] = "skip_thought_signature_validator"
    assert gen(fleet, "gemini-3-pro-preview", {"contents": history, "tools": TOOLS}).status_code == 200
    # Older models do not check.
    history[1]["parts"][0].pop("thoughtSignature")
    assert gen(fleet, "gemini-2.5-flash", {"contents": history, "tools": TOOLS}).status_code == 200


def test_request_shape_is_validated(fleet):
    def err(body):
        r = gen(fleet, "gemini-2.5-flash", body)
        assert r.status_code == 400, r.text
        return r.json()["error"]["message"]

    assert "alternate" in err({"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "user", "parts": [{"text": "b"}]}]})
    assert "valid role" in err({"contents": [{"role": "assistant", "parts": [{"text": "a"}]}]})
    assert "contents is not specified" in err({"contents": []})
    assert "Unknown name \"messages\"" in err({"messages": [], **user("x")})
    bad_schema = [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}}]}]
    assert 'Unknown name "additionalProperties"' in err({**user("x"), "tools": bad_schema})
    listed_type = [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}}]}]
    assert "Type enum" in err({**user("x"), "tools": listed_type})
    empty_object = [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {}}}]}]
    assert "non-empty for OBJECT" in err({**user("x"), "tools": empty_object})
    orphan = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}
    assert "immediately after a function call" in err(orphan)
    assert 'Unknown name "max_tokens"' in err({**user("x"), "generationConfig": {"max_tokens": 3}})


def test_generation_config_is_honoured(fleet):
    r = gen(fleet, "gemini-2.5-flash", {**user("a b c d"), "generationConfig": {"maxOutputTokens": 2, "candidateCount": 2,
                                                                               "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 64}}})
    body = r.json()
    assert len(body["candidates"]) == 2
    parts = body["candidates"][1]["content"]["parts"]
    assert parts[0] == {"text": "Thinking about: Echo: a b c d", "thought": True}
    assert parts[1] == {"text": "Echo: a"} and body["candidates"][1]["finishReason"] == "MAX_TOKENS"
    assert body["usageMetadata"]["thoughtsTokenCount"] == 2 * 7


# ---------------------------------------------------------------- replay and faults


def test_replays_fixtures_byte_for_byte(fleet):
    r = gen(fleet, "replay:generateContent-text", user("x"))
    assert r.status_code == 200
    assert r.content == fixtures.json_fixture("gemini", "generateContent-text")[1]
    r = gen(fleet, "replay:streamGenerateContent-text", user("x"), stream=True)
    assert r.content == fixtures.fixtures_dir().joinpath("gemini/streamGenerateContent-text.sse").read_bytes()
    r = gen(fleet, "replay:error-api-key-invalid-400", user("x"))
    assert r.status_code == 400 and r.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_faults_speak_google_errors(fleet):
    r = gen(fleet, "fault:status=429,retry_after=7", user("x"))
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["status"] == "RESOURCE_EXHAUSTED"
    assert err["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    r = gen(fleet, "fault:status=503", user("x"))
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"
    r = gen(fleet, "fault:status=429,body=error-429-retry-info", user("x"))
    assert r.status_code == 429 and r.json()["error"]["details"][1]["retryDelay"] == "34.4s"
    r = gen(fleet, "fault:bogus=1", user("x"))
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("fleet:")


# ---------------------------------------------------------------- OAuth2 and Vertex


def test_token_endpoint_verifies_the_assertion_and_counts_mints(fleet):
    email = f"mint-{uuid.uuid4().hex[:8]}@dx-fleet-test.iam.gserviceaccount.com"
    r = exchange(fleet, assertion(fleet, email=email))
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599 and token["access_token"].startswith("ya29.")
    counts = requests.get(f"{fleet.base_url}/_fleet/oauth2/mints", timeout=5).json()["by_email"]
    assert counts[email] == 1
    r = vertex(fleet, "gemini-2.5-flash", user("hi"), token["access_token"])
    assert r.status_code == 200 and r.json()["candidates"][0]["content"]["parts"][0]["text"] == "Echo: hi"
    assert vertex(fleet, "gemini-2.5-flash", user("hi"), "ya29.made-up").status_code == 401
    assert vertex(fleet, "gemini-2.5-flash", user("hi"), gemini_face.STATIC_TOKEN).status_code == 200


def test_token_endpoint_refuses_bad_assertions(fleet):
    for jwt, why in [
        (assertion(fleet, tamper=True), "Invalid JWT Signature."),
        (assertion(fleet, aud="https://oauth2.googleapis.com/token"), "aud must be"),
        (assertion(fleet, iat=int(time.time()) - 7200), "short-lived"),
        (assertion(fleet, ttl=7200), "short-lived"),
        (assertion(fleet, email="someone@example.com"), "not a service account"),
        (assertion(fleet, email="refused-x@dx-fleet-test.iam.gserviceaccount.com"), "account not found"),
    ]:
        r = exchange(fleet, jwt)
        assert r.status_code == 400, why
        assert why in r.json()["error_description"], r.json()
    assert exchange(fleet, assertion(fleet), grant="client_credentials").json()["error"] == "unsupported_grant_type"
    assert exchange(fleet, assertion(fleet, email="outage-x@dx-fleet-test.iam.gserviceaccount.com")).status_code == 503
