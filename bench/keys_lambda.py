"""What a virtual key adds on Lambda (issue 11's benchmark): the Lambda
binary on its runtime loop (tests/lambda_rt, one instance), its state table
in DynamoDB Local (in memory), requests to the fleet's OpenAI face, sent one
at a time with the master key (no ledger call) and with a virtual key that
has a budget and rpm/tpm limits, in alternating blocks.

    python3 bench/keys_lambda.py [--n 300] [--rounds 3]
        (after cargo build --profile lambda -p dx-lambda; DX_LAMBDA_BIN
        names another binary)

Prints c=1 p50/p99 per key and their difference: the ledger's round trips
before the answer (one checked reservation for a remembered key; the
settlement is sent after the response, before the next invocation). The
fleet and the Function URL front are the same for both keys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import requests  # noqa: E402

from conftest import FLEET_KEY, MASTER_KEY, STATE_TABLE, dx_config, start_lambda  # noqa: E402
from harness import start_dynamodb_local, start_fleet, wait_http_ok  # noqa: E402

MODEL = "fleet/gpt-4o-mini"


def timed(session: requests.Session, url: str, key: str, n: int) -> list[float]:
    out = []
    body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(n):
        t = time.perf_counter()
        r = session.post(url, json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{r.status_code}: {r.text[:300]}")
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300, help="requests per key per round")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    os.environ.setdefault("DX_LAMBDA_BIN", str(ROOT / "target" / "lambda" / "dx-lambda"))
    work = Path(tempfile.mkdtemp(prefix="dx-keys-lambda."))
    fleet = start_fleet(work)
    db = start_dynamodb_local(work)
    gw = None
    try:
        db.create_state_table(STATE_TABLE)
        env = {"DX_MASTER_KEY": MASTER_KEY, "FLEET_OPENAI_KEY": FLEET_KEY, "DX_CONFIG": json.dumps(dx_config(fleet)),
               **db.env(STATE_TABLE)}
        gw = start_lambda("keys-lambda", work, env, 1)
        assert gw.proc is not None
        wait_http_ok(f"{gw.base_url}/health", gw.proc, 60)
        s = requests.Session()
        made = s.post(f"{gw.base_url}/key/generate", headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"max_budget": 100000, "budget_duration": "1d", "rpm_limit": 100000000,
                            "tpm_limit": 1000000000}, timeout=30)
        made.raise_for_status()
        vkey = made.json()["key"]
        url = f"{gw.base_url}/v1/chat/completions"
        timed(s, url, MASTER_KEY, 30)
        timed(s, url, vkey, 30)
        samples: dict[str, list[float]] = {"master": [], "virtual": []}
        for r in range(a.rounds):
            for who, key in (("master", MASTER_KEY), ("virtual", vkey)):
                xs = timed(s, url, key, a.n)
                samples[who] += xs
                print(f"round {r + 1}  {who:<8} p50 {statistics.median(xs):6.2f} ms  p99 {pct(xs, 0.99):6.2f} ms")
        m, v = samples["master"], samples["virtual"]
        print(f"all rounds: master p50 {statistics.median(m):.2f} / p99 {pct(m, 0.99):.2f} ms; "
              f"virtual p50 {statistics.median(v):.2f} / p99 {pct(v, 0.99):.2f} ms; "
              f"added p50 {statistics.median(v) - statistics.median(m):+.2f} ms, "
              f"p99 {pct(v, 0.99) - pct(m, 0.99):+.2f} ms")
    finally:
        for proc in (gw.proc if gw else None, db.proc, fleet.proc):
            if proc is not None:
                proc.stop()


if __name__ == "__main__":
    main()
