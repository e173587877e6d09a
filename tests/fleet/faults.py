"""The fleet's model-string grammar: how a test picks upstream behaviour.

Every provider face reads the upstream ``model`` string it receives (the
gateway passes it through) and turns it into a :class:`Plan`::

    model     := fault | replay | plain
    replay    := "replay:" <fixture-stem>           recorded fixture
    fault     := "fault:" kv ("," kv)* [ "|" model ] (inner model defaults to a
                                                      normal answer)
    kv        := key "=" value
    plain     := anything else                       generated normal answer

Fault keys (all optional, combinable):

=================== =========================================================
``status=<code>``   answer with that HTTP status (>= 400) and the face's error
                    body; ``body=<fixture-stem>`` uses a recorded error
                    fixture as the body instead
``retry_after=<s>`` add ``Retry-After: <s>`` (``retry_after_ms=<ms>`` adds
                    ``retry-after-ms``)
``delay_headers_ms`` sleep this long before sending the status line/headers
``delay_chunks_ms`` sleep this long between SSE events (before every event
                    after the first)
``cut_after=<N>``   send N SSE events, then close the TCP connection without
                    terminating the chunked body (a real mid-stream
                    disconnect).  Non-stream: send the headers and half the
                    body, then close.
``reset_after=<N>`` like ``cut_after`` but with a TCP RST (SO_LINGER 0)
``garbage_after=<N>`` send N good events, then ``data: {not json`` and random
                    non-UTF-8 bytes, then end the body normally.  Non-stream:
                    a 200 whose body is truncated JSON followed by garbage.
``stall_after=<N>`` send N SSE events, then stop sending (connection held
                    open for ``stall_ms``, default 30000) — for idle timeouts
``exception_after=<N>`` (AWS event stream faces: Bedrock) send N events, then
                    an exception message (``exception=<type>``, default
                    ``throttlingException``) and end the body normally
``error_after=<N>`` send N SSE events, then the face's in-stream error event
                    (faces whose format has one, e.g. Anthropic's
                    ``event: error``), then end the body normally
``echo_key=<field>`` with ``status=``: the face's error JSON echoes the
                    credential the request carried (``Bearer <key>``) in
                    ``field``: ``message``, ``type``, ``param``, ``code`` or
                    ``all`` (OpenAI and Anthropic faces)
``key_at=<N>``      with ``status=``: a ``text/html`` error page, not JSON:
                    N ``x`` characters, the credential, then 2,000 ``y``
                    (a key across the 1,000-character mark: ``key_at=990``)
``answer=<kind>``   a stream request answered as if it were not one: ``json``
                    (the whole answer, ``application/json``) or ``html`` (a
                    200 ``text/html`` page) (OpenAI and Anthropic faces)
=================== =========================================================

Examples (as seen by the fleet)::

    gpt-4o-mini
    replay:chat-stream-refusal
    fault:status=429,retry_after=7
    fault:status=400,body=error-unsupported-parameter-400
    fault:delay_chunks_ms=300|gpt-4o-mini
    fault:cut_after=3|replay:chat-stream-text-usage

An unknown key or a bad value makes the fleet answer 400 with a message
starting ``fleet:``, so a typo in a test can never silently pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

INT_KEYS = {
    "status",
    "retry_after",
    "retry_after_ms",
    "delay_headers_ms",
    "delay_chunks_ms",
    "cut_after",
    "reset_after",
    "garbage_after",
    "stall_after",
    "stall_ms",
    "exception_after",
    "error_after",
    "key_at",
}
STR_KEYS = {"body", "exception", "echo_key", "answer"}
ECHO_FIELDS = {"message", "type", "param", "code", "all"}
ANSWER_KINDS = {"json", "html"}


class GrammarError(ValueError):
    """The model string uses the directive syntax wrongly."""


@dataclass
class Fault:
    status: int | None = None
    body: str | None = None
    retry_after: int | None = None
    retry_after_ms: int | None = None
    delay_headers_ms: int = 0
    delay_chunks_ms: int = 0
    cut_after: int | None = None
    reset_after: int | None = None
    garbage_after: int | None = None
    stall_after: int | None = None
    stall_ms: int = 30000
    exception_after: int | None = None
    exception: str = "throttlingException"
    error_after: int | None = None
    echo_key: str | None = None
    key_at: int | None = None
    answer: str | None = None

    def error_body(self, error: dict, key: str) -> tuple[bytes, str]:
        """The body (and content type) of this fault's error: ``error``, the
        face's own error JSON, unless ``echo_key``/``key_at`` ask otherwise."""
        if self.key_at is not None:
            page = "x" * self.key_at + key + "y" * 2000
            return page.encode(), "text/html"
        if self.echo_key is not None:
            inner = error.setdefault("error", {})
            fields = ["message", "type", "param", "code"] if self.echo_key == "all" else [self.echo_key]
            for f in fields:
                if f in ("param", "code") and "param" not in inner and error.get("type") == "error":
                    continue  # Anthropic's error object has no param/code
                inner[f] = f"Bearer {key}"
        return json.dumps(error).encode(), "application/json"

    def extra_headers(self) -> dict[str, str]:
        h: dict[str, str] = {}
        if self.retry_after is not None:
            h["Retry-After"] = str(self.retry_after)
        if self.retry_after_ms is not None:
            h["retry-after-ms"] = str(self.retry_after_ms)
        return h

    @property
    def breaks_stream(self) -> bool:
        return any(
            v is not None
            for v in (self.cut_after, self.reset_after, self.garbage_after, self.stall_after, self.error_after)
        )


@dataclass
class Plan:
    """What to do for one request."""

    kind: str  # "normal" | "replay"
    model: str  # the model name to report in generated answers
    fixture: str | None = None  # for kind == "replay"
    fault: Fault = field(default_factory=Fault)


def parse_fault(spec: str) -> Fault:
    fault = Fault()
    if not spec:
        raise GrammarError("fleet: empty fault spec (expected fault:key=value,...)")
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        value = value.strip()
        if not sep or not key:
            raise GrammarError(f"fleet: bad fault item {part!r} (expected key=value)")
        if key in INT_KEYS:
            try:
                n = int(value)
            except ValueError:
                raise GrammarError(f"fleet: fault key {key!r} needs an integer, got {value!r}")
            if n < 0:
                raise GrammarError(f"fleet: fault key {key!r} must be >= 0")
            setattr(fault, key, n)
        elif key in STR_KEYS:
            if not value:
                raise GrammarError(f"fleet: fault key {key!r} needs a value")
            setattr(fault, key, value)
        else:
            known = ", ".join(sorted(INT_KEYS | STR_KEYS))
            raise GrammarError(f"fleet: unknown fault key {key!r} (known: {known})")
    if fault.status is not None and not 400 <= fault.status <= 599:
        raise GrammarError("fleet: status must be 400..599")
    if fault.body is not None and fault.status is None:
        raise GrammarError("fleet: body= needs status=")
    if (fault.echo_key is not None or fault.key_at is not None) and fault.status is None:
        raise GrammarError("fleet: echo_key= and key_at= need status=")
    if fault.echo_key is not None and fault.echo_key not in ECHO_FIELDS:
        raise GrammarError(f"fleet: echo_key must be one of {', '.join(sorted(ECHO_FIELDS))}")
    if fault.answer is not None and fault.answer not in ANSWER_KINDS:
        raise GrammarError(f"fleet: answer must be one of {', '.join(sorted(ANSWER_KINDS))}")
    return fault


def parse_model(model: str) -> Plan:
    """Turn the upstream model string into a :class:`Plan` (raises GrammarError)."""
    if model.startswith("fault:"):
        spec, bar, inner = model[len("fault:") :].partition("|")
        fault = parse_fault(spec)
        if bar:
            if not inner:
                raise GrammarError("fleet: empty model after '|'")
            if inner.startswith("fault:"):
                raise GrammarError("fleet: faults do not nest")
            plan = parse_model(inner)
        else:
            plan = Plan(kind="normal", model=model)
        plan.fault = fault
        return plan
    if model.startswith("replay:"):
        stem = model[len("replay:") :]
        if not stem:
            raise GrammarError("fleet: replay: needs a fixture stem")
        return Plan(kind="replay", model=model, fixture=stem)
    return Plan(kind="normal", model=model)
