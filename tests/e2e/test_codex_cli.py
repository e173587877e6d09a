"""The Codex CLI (npm `@openai/codex`, which speaks only the Responses API)
running `codex exec` through the gateway to Anthropic's face of the fleet:
its first turn asks for a tool (the fleet's model calls Codex's shell tool),
Codex runs it and sends the output back, and the second turn answers from
that output. Everything Codex sends goes through the translated path."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import MASTER_KEY
from sdk import tag

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / "node_modules" / ".bin" / "codex"


def codex_exec(gateway, model: str, prompt: str, home: Path, workdir: Path) -> subprocess.CompletedProcess:
    assert CODEX.exists(), f"the Codex CLI is not installed at {CODEX} (scripts/setup.sh installs it)"
    provider = f'{{name="dx",base_url="{gateway.base_url}/v1",env_key="DX_KEY",wire_api="responses"}}'
    env = {**os.environ, "CODEX_HOME": str(home), "DX_KEY": MASTER_KEY, "NO_COLOR": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run(
        [str(CODEX), "exec", "--skip-git-repo-check", "--json",
         "-c", f"model_providers.dx={provider}", "-c", "model_provider=dx",
         "-c", "model_providers.dx.request_max_retries=0", "-c", "model_providers.dx.stream_max_retries=0",
         "-m", model, prompt],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=180,
    )


def test_codex_exec_runs_a_tool_turn_through_anthropic(gateway, fleet, tmp_path):
    t = tag()
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    run = codex_exec(gateway, f"anthropic-fleet/claude-codex-{t}", f"run the weather tool {t}", home, work)
    assert run.returncode == 0, f"codex failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    items = [e.get("item", {}) for e in events if e.get("type") == "item.completed"]
    commands = [i for i in items if i.get("type") == "command_execution"]
    messages = [i.get("text", "") for i in items if i.get("type") == "agent_message"]
    assert commands, f"Codex ran no tool: {events}"
    assert any(m.startswith("Tool said:") for m in messages), messages

    sent = fleet.requests(model=f"claude-codex-{t}")
    assert len(sent) >= 2, [r["path"] for r in sent]
    first, last = sent[0]["body"], sent[-1]["body"]
    assert all(r["path"] == "/anthropic/v1/messages" for r in sent)
    assert any(tool["name"] == "exec_command" for tool in first["tools"])
    # The hosted web_search tool Codex declares was left out, not sent.
    assert not any(tool.get("type", "").startswith("web_search") for tool in first["tools"])
    results = [b for m in last["messages"] if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    calls = [b for m in last["messages"] if m["role"] == "assistant" and isinstance(m["content"], list)
             for b in m["content"] if b.get("type") == "tool_use"]
    assert results and calls and results[-1]["tool_use_id"] == calls[-1]["id"]
