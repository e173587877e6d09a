"""The Lambda shell's connection to the Runtime API.

A runtime client without ``TCP_NODELAY`` writes a streamed response's POST
head and its first body chunk separately; Nagle then holds the chunk until
the Runtime API ACKs the head, which a server with the kernel's default
delayed ACK does ~40 ms later (Linux's minimum delayed-ACK timer). That was
the published ``lambda_runtime_api_client``'s behaviour and is why it is
patched (``vendor/lambda_runtime_api_client/README-PATCH.md``). The emulator
keeps the default ACK behaviour and times, per streamed response, the POST
head to its first body chunk (``/_rt/stats`` ``streams``).

The gateway runs under its own one-instance emulator here: back-to-back
invocations on one Runtime API connection, where every invocation stalled
before the patch (with several instances taking turns, only some did).
The speed itself is measured by ``bench/e2e.sh``; this only checks that the
first chunk is not held for a delayed ACK, with a wide margin for a loaded
machine: the median of 20 invocations must be under half the timer."""

from __future__ import annotations

import statistics

import pytest
import requests

from conftest import selected_shells, start_lambda
from sdk import user

pytestmark = pytest.mark.skipif("lambda" not in selected_shells(), reason="the lambda shell is not selected")

DELAYED_ACK_MS = 40.0
INVOCATIONS = 20


@pytest.fixture(scope="module")
def one_instance(workdir, gateway_env):
    gw = start_lambda("lambda-one-instance", workdir, gateway_env, instances=1)
    yield gw
    assert gw.proc is not None
    gw.proc.stop()


def test_streamed_body_not_held_by_delayed_ack(one_instance, client_for):
    client = client_for(one_instance)
    ids = []
    for i in range(INVOCATIONS):
        raw = client.chat.completions.with_raw_response.create(
            model="mock-chat", messages=user(f"ping {i}"), stream=i % 2 == 0,
        )
        ids.append(raw.headers["x-amzn-requestid"])
        if i % 2 == 0:
            text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        else:
            text = raw.parse().choices[0].message.content
        assert text == "Hello from the mock provider"
    streams = requests.get(f"{one_instance.base_url}/_rt/stats", timeout=10).json()["streams"]
    gaps = {s["id"]: s["head_to_body_ms"] for s in streams}
    # Every answer, streamed or not, goes out as a streamed invocation response.
    assert set(ids) <= set(gaps), (ids, streams)
    ours = [gaps[i] for i in ids]
    assert statistics.median(ours) < DELAYED_ACK_MS / 2, (
        f"POST head -> first body chunk (ms): {ours}; ~{DELAYED_ACK_MS:.0f} ms each means the Runtime API "
        f"connection waits for delayed ACKs again (TCP_NODELAY lost?), see vendor/lambda_runtime_api_client"
    )
