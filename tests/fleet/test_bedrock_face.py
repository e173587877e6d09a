"""Self-test of the fleet's Bedrock face, with the real AWS SDK (boto3/botocore)
as the client: botocore signs with its own SigV4 and decodes the face's event
stream frames with its own parser (CRCs included), so both sides of the face
are checked against an implementation nobody here wrote."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from fleet import bedrock_face as bf
from fleet import fixtures

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
KEY_ID = "AKIAFLEETBEDROCK0001"
STS_KEY_ID = "ASIAFLEETBEDROCKSTS1"
SECRET, _ = bf.CREDENTIALS[KEY_ID]
STS_SECRET, TOKEN = bf.CREDENTIALS[STS_KEY_ID]


def client(fleet, key_id=KEY_ID, secret=SECRET, token=None):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-west-2",
        endpoint_url=f"{fleet.base_url}/bedrock",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=20),
    )


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def stream_events(resp):
    return [ev for ev in resp["stream"]]


# ---------------------------------------------------------------- the signer itself


def test_python_signer_reproduces_the_aws_suite():
    # aws-signing-test-suite v4/post-vanilla and v4/post-sts-header-before
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    headers = {"host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
    creq = bf.canonical_request("POST", "/", "", headers, ["host", "x-amz-date"], b"")
    assert creq == (
        "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert bf.signature(secret, "20150830T123600Z", "us-east-1", "service", creq) == (
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    )
    token = (
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwth"
        "Ax7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNV"
        "XAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
    )
    headers["x-amz-security-token"] = [token]
    creq = bf.canonical_request("POST", "/", "", headers, ["host", "x-amz-date", "x-amz-security-token"], b"")
    assert bf.signature(secret, "20150830T123600Z", "us-east-1", "service", creq) == (
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
    )
    # v4/double-encode-path: the path is encoded once more.
    assert bf.canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D") == "/test/%40connections/JBDvjfGEIAMCERw%253D"


def test_frames_decode_with_known_crcs():
    # fixtures/eventstream/encoded/positive/payload_one_str_header
    vec = (Path(fixtures.fixtures_dir()) / "eventstream/encoded/positive/payload_one_str_header").read_bytes()
    assert bf.encode_frame([("content-type", "application/json")], b"{'foo':'bar'}") == vec


# ---------------------------------------------------------------- the SDK against the face


def test_converse_with_sigv4(fleet):
    r = client(fleet).converse(modelId=MODEL, messages=user("hello fleet"), inferenceConfig={"maxTokens": 50})
    assert r["output"]["message"]["content"] == [{"text": "Echo: hello fleet"}]
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["inputTokens"] == 3 and r["usage"]["outputTokens"] == 3


def test_converse_with_session_credentials(fleet):
    r = client(fleet, STS_KEY_ID, STS_SECRET, TOKEN).converse(modelId=f"us.{MODEL}", messages=user("sts"))
    assert r["output"]["message"]["content"][0]["text"] == "Echo: sts"
    seen = [x for x in fleet.requests() if x["path"].endswith("/converse") and x["headers"].get("x-amz-security-token") == TOKEN]
    assert seen, "the session token header reached the face"


@pytest.mark.parametrize(
    "key_id,secret,token,code",
    [
        (KEY_ID, "wrong-secret", None, "InvalidSignatureException"),
        ("AKIAUNKNOWNKEY000000", SECRET, None, "UnrecognizedClientException"),
        (STS_KEY_ID, STS_SECRET, None, "UnrecognizedClientException"),
        (STS_KEY_ID, STS_SECRET, "not-the-token", "UnrecognizedClientException"),
        (KEY_ID, SECRET, TOKEN, "UnrecognizedClientException"),
    ],
)
def test_bad_credentials_are_refused_like_aws(fleet, key_id, secret, token, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(fleet, key_id, secret, token).converse(modelId=MODEL, messages=user("x"))
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_converse_stream_frames_decode_in_botocore(fleet):
    r = client(fleet).converse_stream(modelId=MODEL, messages=user("one two three"))
    events = stream_events(r)
    assert events[0] == {"messageStart": {"role": "assistant"}}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Echo: one two three"
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 4


def test_replayed_stream_is_the_recording(fleet):
    r = client(fleet).converse_stream(modelId="replay:converse-stream-tool-call", messages=user("x"))
    got = stream_events(r)
    recorded = [json.loads(line) for line in (Path(fixtures.fixtures_dir()) / "bedrock/converse-stream-tool-call.events.jsonl").read_text().splitlines() if line.strip()]
    assert got == recorded


def test_replayed_response_is_the_recording(fleet):
    r = client(fleet).converse(modelId="replay:converse-tool-call", messages=user("x"))
    assert r["output"]["message"]["content"][0]["toolUse"] == {"toolUseId": "tool-use-id", "name": "bash", "input": {"command": "ls -l"}}


def test_exception_frame_mid_stream(fleet):
    r = client(fleet).converse_stream(modelId="fault:exception_after=3", messages=user("a b c d e"))
    seen = []
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for ev in r["stream"]:
            seen.append(ev)
    assert len(seen) == 3
    assert e.value.response["Error"]["Code"] == "throttlingException"


@pytest.mark.parametrize("status,code", [(429, "ThrottlingException"), (403, "AccessDeniedException"), (400, "ValidationException"), (503, "ServiceUnavailableException"), (408, "ModelTimeoutException")])
def test_status_faults_are_aws_errors(fleet, status, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(fleet).converse(modelId=f"fault:status={status}", messages=user("x"))
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_tool_round_trip_and_validation(fleet):
    c = client(fleet)
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}}]}
    r = c.converse(modelId=MODEL, messages=user("weather?"), toolConfig=tools)
    assert r["stopReason"] == "tool_use"
    call = r["output"]["message"]["content"][0]["toolUse"]
    assert call["input"] == {"location": "Paris"}
    history = user("weather?") + [
        {"role": "assistant", "content": [{"toolUse": call}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"], "content": [{"text": "18C"}]}}]},
    ]
    r = c.converse(modelId=MODEL, messages=history, toolConfig=tools)
    assert r["output"]["message"]["content"] == [{"text": "Tool said: 18C"}]
    bad = [dict(m) for m in history]
    bad[2] = {"role": "user", "content": [{"toolResult": {"toolUseId": "other", "content": [{"text": "18C"}]}}]}
    for messages, config, needle in [
        (bad, tools, "does not match any toolUse"),
        (history, None, "toolConfig field must be defined"),
        (user("a") + user("b"), None, "must alternate"),
        ([{"role": "assistant", "content": [{"text": "hi"}]}], None, "must start with a user message"),
    ]:
        kw = {"toolConfig": config} if config else {}
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.converse(modelId=MODEL, messages=messages, **kw)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert needle in e.value.response["Error"]["Message"]


def test_reasoning_signature_must_come_back_unchanged(fleet):
    c = client(fleet)
    extra = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    r = c.converse(modelId=MODEL, messages=user("why"), inferenceConfig={"maxTokens": 2000}, additionalModelRequestFields=extra)
    blocks = r["output"]["message"]["content"]
    assert blocks[0]["reasoningContent"]["reasoningText"]["text"] == "Thinking about: why"
    turn = user("why") + [{"role": "assistant", "content": blocks}] + user("more")
    assert c.converse(modelId=MODEL, messages=turn, additionalModelRequestFields=extra)["output"]["message"]["content"][1]["text"] == "Echo: more"
    blocks[0]["reasoningContent"]["reasoningText"]["signature"] = "forged"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.converse(modelId=MODEL, messages=turn, additionalModelRequestFields=extra)
    assert "signature" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.converse(modelId=MODEL, messages=user("x"), inferenceConfig={"temperature": 0.5}, additionalModelRequestFields=extra)
    assert "temperature" in e.value.response["Error"]["Message"]


def test_too_long_input(fleet):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(fleet).converse(modelId=MODEL, messages=user("word " * 5000))
    assert e.value.response["Error"]["Message"] == "Input is too long for requested model."


# ---------------------------------------------------------------- raw HTTP


def _signed_headers(fleet, body: bytes, when: dt.datetime) -> dict[str, str]:
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    host = fleet.base_url.split("://")[1]
    path = f"/bedrock/model/{MODEL.replace(':', '%3A')}/converse"
    headers = {"host": [host], "x-amz-date": [amz_date], "content-type": ["application/json"]}
    signed = ["content-type", "host", "x-amz-date"]
    creq = bf.canonical_request("POST", path, "", headers, signed, body)
    sig = bf.signature(SECRET, amz_date, "us-east-1", "bedrock", creq)
    return {
        "Content-Type": "application/json",
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{amz_date[:8]}/us-east-1/bedrock/aws4_request, SignedHeaders={';'.join(signed)}, Signature={sig}",
    }


def test_clock_skew_is_limited_to_five_minutes(fleet):
    body = json.dumps({"messages": user("t")}).encode()
    url = f"{fleet.base_url}/bedrock/model/{MODEL.replace(':', '%3A')}/converse"
    now = dt.datetime.now(dt.timezone.utc)
    ok = requests.post(url, data=body, headers=_signed_headers(fleet, body, now), timeout=10)
    assert ok.status_code == 200, ok.text
    old = requests.post(url, data=body, headers=_signed_headers(fleet, body, now - dt.timedelta(minutes=6)), timeout=10)
    assert old.status_code == 403
    assert old.json()["__type"].endswith("#InvalidSignatureException")
    assert "Signature expired" in old.json()["message"]
    # The body is signed: a changed body no longer matches.
    tampered = requests.post(url, data=body.replace(b'"t"', b'"u"'), headers=_signed_headers(fleet, body, now), timeout=10)
    assert tampered.status_code == 403 and "does not match" in tampered.json()["message"]
    assert hashlib.sha256(body).hexdigest() != hashlib.sha256(body.replace(b'"t"', b'"u"')).hexdigest()


def test_bearer_api_key(fleet):
    url = f"{fleet.base_url}/bedrock/model/{MODEL.replace(':', '%3A')}/converse"
    body = json.dumps({"messages": user("key")})
    r = requests.post(url, data=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {bf.API_KEY}"}, timeout=10)
    assert r.status_code == 200 and r.json()["output"]["message"]["content"][0]["text"] == "Echo: key"
    r = requests.post(url, data=body, headers={"Content-Type": "application/json", "Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 403 and r.json()["__type"].endswith("#UnrecognizedClientException")
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 403 and "Missing Authentication Token" in r.json()["message"]
