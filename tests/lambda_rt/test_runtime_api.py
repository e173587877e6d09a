"""Self-test of the Lambda Runtime API emulator, driven by ``fake_runtime.py``
(a stdlib runtime client that speaks the protocol, incl. streaming with the
prelude + 8 NUL bytes)."""

from __future__ import annotations

import base64
import http.client
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from harness import RUNTIME_API, Proc, wait_http_ok, wait_port_file

FAKE = Path(__file__).resolve().parent / "fake_runtime.py"


class Rt:
    def __init__(self, proc: Proc, port: int):
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def stats(self) -> dict:
        return requests.get(f"{self.base}/_rt/stats", timeout=5).json()

    def wait_all_ready(self, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.stats()
            if all(i["ready"] and i["alive"] for i in s["instances"]):
                return s
            time.sleep(0.05)
        raise AssertionError(f"instances not ready: {self.stats()}")


def start_rt(tmp: Path, instances: int = 2, timeout: float = 10, name: str = "rt") -> Rt:
    port_file = tmp / f"{name}.port"
    argv = [sys.executable, str(RUNTIME_API), "--binary", sys.executable, "--arg", str(FAKE),
            "--port", "0", "--port-file", str(port_file), "--instances", str(instances),
            "--timeout", str(timeout), "--env", "FAKE_X=from-env=with-equals"]
    proc = Proc(name, argv, tmp / f"{name}.log")
    port = wait_port_file(port_file, proc)
    rt = Rt(proc, port)
    wait_http_ok(f"{rt.base}/_rt/stats", proc, 15)
    rt.wait_all_ready()
    return rt


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = start_rt(tmp_path_factory.mktemp("rt"), instances=2)
    yield r
    r.proc.stop()


@pytest.fixture
def fresh_rt(tmp_path):
    r = start_rt(tmp_path, instances=1, timeout=2, name="fresh")
    yield r
    r.proc.stop()


def test_stats_report_init_duration(rt):
    s = rt.stats()
    assert len(s["instances"]) == 2
    for inst in s["instances"]:
        assert inst["ready"] and inst["alive"] and inst["pid"]
        assert 0 < inst["init_ms"] < 10_000
        assert inst["rss_kb"] > 0
    assert "init " in rt.proc.log_tail(200)


def test_streaming_is_relayed_chunk_by_chunk(rt):
    t0 = time.monotonic()
    r = requests.get(f"{rt.base}/stream?n=4&delay_ms=300", stream=True, timeout=10)
    assert r.status_code == 201
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["x-multi"] == "a, b"  # two header lines
    assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    stamps, lines = [], []
    for line in r.iter_lines(chunk_size=1):
        stamps.append(time.monotonic())
        lines.append(line)
    assert lines == [b"chunk-0", b"chunk-1", b"chunk-2", b"chunk-3"]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) > 0.2, gaps  # each chunk arrived when the runtime sent it
    assert stamps[0] - t0 < 0.25


def head_to_body_ms(rt, request_id: str) -> float:
    got = [s["head_to_body_ms"] for s in rt.stats()["streams"] if s["id"] == request_id]
    assert len(got) == 1, rt.stats()["streams"]
    return got[0]


def test_stats_time_the_response_head_to_its_first_chunk(rt):
    # What tests/e2e/test_lambda_runtime_api.py relies on to catch a Nagle stall:
    # a first chunk sent 150 ms after the head is timed as such, one sent with it as ~0.
    stalled = requests.get(f"{rt.base}/stream?n=1&head_gap_ms=150", timeout=10)
    prompt = requests.get(f"{rt.base}/stream?n=1", timeout=10)
    assert stalled.content == prompt.content == b"chunk-0\n"
    assert head_to_body_ms(rt, stalled.headers["x-amzn-requestid"]) >= 140
    assert head_to_body_ms(rt, prompt.headers["x-amzn-requestid"]) < 100
    buffered = requests.get(f"{rt.base}/buffered", timeout=10)
    assert not [s for s in rt.stats()["streams"] if s["id"] == buffered.headers["x-amzn-requestid"]]


def test_buffered_response(rt):
    r = requests.get(f"{rt.base}/buffered", timeout=10)
    assert r.status_code == 202
    assert r.content == b"buffered body \xff"
    assert r.headers["x-kind"] == "buffered" and r.headers["set-cookie"] == "c=3"
    r = requests.get(f"{rt.base}/raw-json", timeout=10)
    assert r.status_code == 200 and r.json() == {"hello": "world"}
    assert r.headers["content-type"] == "application/json"


def test_function_url_event_shape(rt):
    conn = http.client.HTTPConnection("127.0.0.1", rt.port, timeout=10)
    conn.putrequest("POST", "/echo-event/a%20b?x=1&x=2&y=hello%20world")
    conn.putheader("X-Multi", "one")
    conn.putheader("X-Multi", "two")
    conn.putheader("Cookie", "c1=v1; c2=v2")
    conn.putheader("Content-Type", "application/json")
    body = b'{"hi": "there"}'
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    assert resp.status == 200
    out = json.loads(resp.read())
    ev = out["event"]
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/echo-event/a%20b"
    assert ev["rawQueryString"] == "x=1&x=2&y=hello%20world"
    assert ev["queryStringParameters"] == {"x": "1,2", "y": "hello world"}
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    assert ev["headers"]["x-multi"] == "one,two" and "cookie" not in ev["headers"]
    assert all(k == k.lower() for k in ev["headers"])
    assert ev["body"] == body.decode() and ev["isBase64Encoded"] is False
    ctx = ev["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/echo-event/a b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""}
    assert ctx["routeKey"] == "$default" and ctx["stage"] == "$default"
    assert {"accountId", "apiId", "domainName", "domainPrefix", "requestId", "time", "timeEpoch"} <= set(ctx)
    assert resp.getheader("x-amzn-requestid") == ctx["requestId"]
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "dx-gateway" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] and env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/dx-gateway"
    assert env["FAKE_X"] == "from-env=with-equals"


INVOKE = "/2015-03-31/functions/function/invocations"


def test_invoke_api_relays_the_raw_event_and_payload(rt):
    event = {"invoke": "echo", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    r = requests.post(f"{rt.base}{INVOKE}", json=event, timeout=10)
    assert r.status_code == 200 and "X-Amz-Function-Error" not in r.headers
    assert r.json()["echo"] == event  # the event as posted, not a Function URL event
    assert r.headers["x-amzn-RequestId"]
    # a payload that looks like an HTTP response is still the payload
    r = requests.post(f"{rt.base}{INVOKE}", json={"invoke": "http-shaped"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"statusCode": 201, "body": "not for a URL"}
    # any function name, like the Invoke API's path
    r = requests.post(f"{rt.base}/2015-03-31/functions/dx-gateway/invocations", json={"invoke": "echo"}, timeout=10)
    assert r.json()["echo"] == {"invoke": "echo"}


def test_invoke_api_reports_function_errors(rt, fresh_rt):
    r = requests.post(f"{rt.base}{INVOKE}", json={"invoke": "error"}, timeout=10)
    assert r.status_code == 200 and r.headers["X-Amz-Function-Error"] == "Unhandled"
    assert r.json() == {"errorType": "FakeError", "errorMessage": "the invocation broke"}
    r = requests.post(f"{fresh_rt.base}{INVOKE}", json={"invoke": "crash"}, timeout=10)
    assert r.status_code == 200 and r.headers["X-Amz-Function-Error"] == "Unhandled"
    assert "exit status 5" in r.json()["errorMessage"]
    r = requests.post(f"{rt.base}{INVOKE}", json={}, headers={"X-Amz-Invocation-Type": "Event"}, timeout=10)
    assert r.status_code == 400


def test_binary_body_is_base64(rt):
    raw = bytes(range(256))
    ev = requests.post(f"{rt.base}/echo-event", data=raw, timeout=10).json()["event"]
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == raw
    ev = requests.get(f"{rt.base}/echo-event", timeout=10).json()["event"]
    assert "body" not in ev and "cookies" not in ev and "queryStringParameters" not in ev


def test_function_error_is_502(rt):
    r = requests.get(f"{rt.base}/error", timeout=10)
    assert r.status_code == 502


@pytest.mark.parametrize("path", ["/trailer-error", "/data-error"])
def test_midstream_error_drops_the_connection(rt, path):
    r = requests.get(f"{rt.base}{path}", stream=True, timeout=10)
    assert r.status_code == 201
    got = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for line in r.iter_lines(chunk_size=1):
            got.append(line)
    assert got == [b"chunk-0", b"chunk-1"]


def test_request_over_6mb_is_413_without_invoking(rt):
    before = rt.stats()["invocations_total"]
    r = requests.post(f"{rt.base}/echo-event", data=b"x" * (6 * 1024 * 1024 + 1), timeout=20)
    assert r.status_code == 413
    assert rt.stats()["invocations_total"] == before


def test_one_invocation_per_instance_and_queueing(rt):
    rt.wait_all_ready()
    t0 = time.monotonic()
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: requests.get(f"{rt.base}/slow?ms=400", timeout=20), range(6)))
    elapsed = time.monotonic() - t0
    assert all(r.status_code == 200 for r in results)
    pids = {r.json()["pid"] for r in results}
    assert len(pids) == 2  # both instances served
    assert {r.headers["x-rt-instance"] for r in results} == {"0", "1"}
    # 6 requests, 2 instances, 400 ms each -> 3 rounds
    assert 1.15 < elapsed < 2.5, elapsed


def test_crash_gives_502_and_restarts(fresh_rt):
    pid0 = fresh_rt.stats()["instances"][0]["pid"]
    assert requests.get(f"{fresh_rt.base}/crash", timeout=10).status_code == 502
    r = requests.get(f"{fresh_rt.base}/echo-event", timeout=10)  # queued until the new instance is up
    assert r.status_code == 200 and r.json()["pid"] != pid0
    s = fresh_rt.stats()["instances"][0]
    assert s["restarts"] == 1 and len(s["init_ms_history"]) == 2


def test_crash_midstream_drops_the_connection(fresh_rt):
    r = requests.get(f"{fresh_rt.base}/crash-midstream", stream=True, timeout=10)
    assert r.status_code == 201
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in r.iter_lines(chunk_size=1):
            pass
    assert requests.get(f"{fresh_rt.base}/echo-event", timeout=10).status_code == 200


def test_timeout_kills_the_instance(fresh_rt):
    t0 = time.monotonic()
    r = requests.get(f"{fresh_rt.base}/hang", timeout=10)
    assert r.status_code == 502
    assert 1.9 < time.monotonic() - t0 < 4
    assert requests.get(f"{fresh_rt.base}/echo-event", timeout=10).status_code == 200
    assert fresh_rt.stats()["instances"][0]["restarts"] == 1


def test_header_bytes_that_are_not_utf8_are_written_as_aws_writes_them():
    import importlib.util

    spec = importlib.util.spec_from_file_location("runtime_api_under_test", RUNTIME_API)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    undecodable = b"a\xffb".decode("utf-8", "surrogateescape")  # what aiohttp hands over
    text = mod.encode_event({"headers": {"x-probe": undecodable, "y": "\\udcff is text", "z": "\\" + undecodable}})
    assert text == b'{"headers":{"x-probe":"a\\xffb","y":"\\\\udcff is text","z":"\\\\a\\xffb"}}'
    with pytest.raises(ValueError):
        json.loads(text)  # not JSON: the runtime must cope
    assert json.loads(mod.encode_event({"a": "caf\u00e9"})) == {"a": "caf\u00e9"}
