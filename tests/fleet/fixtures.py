"""Recorded provider fixtures (read-only, from ``<repo>/../shared/data/fixtures``).

The directory can be overridden with the ``DX_FIXTURES_DIR`` environment
variable (the repo's own copy in ``<repo>/fixtures`` is used when the shared
directory is absent).  File formats are described in that directory's ``SOURCES.md``:

* ``<stem>.json``          one complete HTTP response body (or error body)
* ``<stem>.sse``           a raw ``text/event-stream`` body, replayed byte for byte
* ``<stem>.chunks.jsonl``  one SSE ``data:`` payload per line (framing stripped
                           by the recorder); replayed as ``data: <line>\\n\\n``
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
REPO_ROOT = _HERE.parent.parent

# error-insufficient-quota-429 -> 429 (a status embedded in the stem's last part)
_STATUS_IN_STEM = re.compile(r"-(\d{3})$")
_STEM_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def fixtures_dir() -> Path:
    """``$DX_FIXTURES_DIR``, else ``<repo>/../shared/data/fixtures``, else ``<repo>/fixtures``."""
    override = os.environ.get("DX_FIXTURES_DIR")
    if override:
        return Path(override)
    shared = REPO_ROOT.parent / "shared" / "data" / "fixtures"
    if shared.is_dir() or not (REPO_ROOT / "fixtures").is_dir():
        return shared
    return REPO_ROOT / "fixtures"


class FixtureError(Exception):
    """The requested fixture does not exist or cannot serve this request."""


@dataclass(frozen=True)
class StreamFixture:
    """SSE body bytes ready to send, split into events (each ends with a blank line)."""

    path: Path
    events: list[bytes]


def _check_stem(stem: str) -> None:
    if not _STEM_OK.match(stem) or ".." in stem:
        raise FixtureError(f"bad fixture name {stem!r}")


def split_sse_events(raw: bytes) -> list[bytes]:
    """Split a raw SSE body into events, keeping every byte (separators included).

    Joining the result gives back ``raw`` exactly.  Handles LF and CRLF framing.
    """
    events: list[bytes] = []
    pos = 0
    sep = re.compile(rb"\r\n\r\n|\n\n|\r\r")
    for m in sep.finditer(raw):
        events.append(raw[pos : m.end()])
        pos = m.end()
    if pos < len(raw):
        events.append(raw[pos:])
    return events


def stream_fixture(face: str, stem: str) -> StreamFixture:
    """The streaming fixture for ``stem``: ``.sse`` if present, else ``.chunks.jsonl``.

    ``stem`` may carry the extension (``x.chunks.jsonl`` / ``x.sse``) to choose
    explicitly when both exist.
    """
    _check_stem(stem)
    base = fixtures_dir() / face
    candidates: list[Path]
    if stem.endswith(".sse") or stem.endswith(".chunks.jsonl"):
        candidates = [base / stem]
    else:
        candidates = [base / f"{stem}.sse", base / f"{stem}.chunks.jsonl"]
    for path in candidates:
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.name.endswith(".sse"):
            return StreamFixture(path, split_sse_events(raw))
        events = [b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip()]
        if face == "openai":
            events.append(b"data: [DONE]\n\n")
        return StreamFixture(path, events)
    raise FixtureError(f"no streaming fixture {stem!r} in {base} (looked for .sse, .chunks.jsonl)")


def json_fixture(face: str, stem: str) -> tuple[Path, bytes]:
    """The non-stream ``.json`` fixture body for ``stem`` (bytes exactly as recorded)."""
    _check_stem(stem)
    name = stem if stem.endswith(".json") else f"{stem}.json"
    path = fixtures_dir() / face / name
    if not path.is_file():
        raise FixtureError(f"no JSON fixture {name!r} in {path.parent}")
    return path, path.read_bytes()


def status_for_stem(stem: str, default: int = 200) -> int:
    """HTTP status a fixture is replayed with: ``error-*-NNN`` -> NNN, else ``default``."""
    base = stem[: -len(".json")] if stem.endswith(".json") else stem
    if base.startswith("error-"):
        m = _STATUS_IN_STEM.search(base)
        if m:
            return int(m.group(1))
        return 400
    return default
