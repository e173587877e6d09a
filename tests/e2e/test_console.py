"""End to end: the admin console at /ui (issue 17) in a real browser.

Debian's chromium, driven by Playwright (PyPI ``playwright``: its wheel
carries the driver; no browser download), against both shells. The page is
signed in with the master key, makes a key, the official ``openai`` SDK uses
it against the fleet, and its spend and request show on the Spend page;
blocked and deleted from the page, the SDK is refused.

Every test fails on a console error, an uncaught page error, a failed
request or an HTTP error the test did not expect. Screenshots of each page
go to ``<pytest tmp>/console-<shell>/`` (the path is printed).
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import uuid
from pathlib import Path

import openai
import pytest
import requests

from conftest import MASTER_KEY

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("DX_CHROMIUM", "/usr/bin/chromium")
PRICED = "keys-priced"  # tests/e2e/deployments/keys.json
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
# What chromium must not do on this closed network (see DESIGN.md).
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (scripts/setup.sh)", pytrace=False)
    args = CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("console-shots")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown without -s too
        print(f"\nconsole screenshots: {d}", flush=True)
    return d


class Watch:
    """Console errors, page errors, failed requests and HTTP errors of one page.
    ``allow(status, path)`` names a refusal the test causes on purpose."""

    def __init__(self, page: Page):
        self.problems: list[str] = []
        self.allowed: list[tuple[int, str]] = []
        self.seen: list[tuple[int, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.method} {r.url} {r.failure}"))
        page.on("response", self._response)

    def allow(self, status: int, path: str) -> None:
        self.allowed.append((status, path))

    def _expected(self, status: int, url: str) -> bool:
        return any(status == s and p in url for s, p in self.allowed)

    def _console(self, msg) -> None:
        if msg.type not in ("error", "warning"):
            return
        url = (msg.location or {}).get("url", "")
        # Chromium logs every HTTP error status of a fetch as a console error.
        m = re.search(r"status of (\d{3})", msg.text)
        if m and self._expected(int(m.group(1)), url):
            return
        self.problems.append(f"console {msg.type}: {msg.text} ({url})")

    def _response(self, r) -> None:
        self.seen.append((r.status, r.url))
        if r.status >= 400 and not self._expected(r.status, r.url):
            self.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}")


@pytest.fixture
def console(browser, gateway, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=gateway.base_url,
                                  accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page)
    yield page, watch
    context.close()
    assert watch.problems == [], "\n".join(watch.problems)


def shot(page: Page, shots: Path, gateway, name: str) -> None:
    d = shots / gateway.name
    d.mkdir(exist_ok=True)
    page.screenshot(path=str(d / f"{name}.png"), full_page=True)


def sign_in(page: Page, key: str = MASTER_KEY) -> None:
    page.goto("/ui")
    expect(page.locator("#signin")).to_be_visible()
    # Keyboard only: type the key, Enter submits.
    page.locator("#signin-key").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")


def sdk(gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0, timeout=30)


def key_row(page: Page, alias: str):
    return page.locator(f'tr[data-alias="{alias}"]')


# ------------------------------------------------------------------ assets


def test_the_page_is_served_with_strict_headers_and_no_key(gateway):
    base = gateway.base_url
    for path, ctype in [("/ui", "text/html"), ("/ui/", "text/html"), ("/ui/app.js", "text/javascript"),
                        ("/ui/app.css", "text/css")]:
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith(ctype), (path, r.headers["content-type"])
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-cache"
        etag = r.headers["etag"]
        again = requests.get(base + path, headers={"If-None-Match": etag}, timeout=10)
        assert again.status_code == 304 and again.content == b"", (path, again.status_code)
        assert MASTER_KEY not in r.text
    head = requests.head(base + "/ui", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert requests.post(base + "/ui", timeout=10).status_code in (404, 405)
    assert requests.get(base + "/ui/nope.js", timeout=10).status_code == 404


def test_the_watch_catches_console_errors_http_errors_and_blocked_requests(gateway, console):
    """The net every other test relies on, against the real page: a console
    error, an unexpected 404, and a fetch the CSP refuses are all seen."""
    page, watch = console
    page.goto("/ui")
    expect(page.locator("#signin")).to_be_visible()
    page.evaluate("console.error('probe')")
    page.evaluate("fetch('/ui/missing.js').catch(() => {})")
    page.evaluate("fetch('http://192.0.2.1/x').catch(() => {})")  # another origin: connect-src 'self'
    page.wait_for_timeout(500)
    text = "\n".join(watch.problems)
    assert "probe" in text, text
    assert "HTTP 404" in text and "/ui/missing.js" in text, text
    assert "Content Security Policy" in text and "192.0.2.1" in text, text
    watch.problems.clear()


# Every call the page makes, as the page makes it.
PAGE_CALLS = [
    ("GET", "/key/list?return_full_object=true&include_spend=true", None),
    ("GET", "/team/list", None), ("GET", "/user/list", None),
    ("GET", "/team/info?team_id=x", None), ("GET", "/user/info?user_id=x", None),
    ("GET", "/spend/logs?start_date=2026-01-01", None), ("GET", "/key/daily/activity?api_key=x", None),
    ("GET", "/team/daily/activity?team_id=x", None), ("GET", "/model/info", None),
    ("GET", "/v1/models?catalog=true", None), ("GET", "/model_group/info", None),
    ("POST", "/key/generate", {}), ("POST", "/key/update", {"key": "x"}), ("POST", "/key/block", {"key": "x"}),
    ("POST", "/key/unblock", {"key": "x"}), ("POST", "/key/regenerate", {"key": "x"}),
    ("POST", "/key/delete", {"keys": ["x"]}), ("POST", "/team/new", {}), ("POST", "/team/update", {"team_id": "x"}),
    ("POST", "/team/delete", {"team_ids": ["x"]}), ("POST", "/user/new", {}), ("POST", "/user/update", {"user_id": "x"}),
    ("POST", "/user/delete", {"user_ids": ["x"]}), ("POST", "/cost/estimate", {"model": PRICED}),
    ("POST", "/v1/chat/completions", {"model": PRICED, "messages": [{"role": "user", "content": "hi"}]}),
]


def test_the_pages_api_calls_are_refused_without_a_key(gateway, console, shots):
    before = requests.get(f"{gateway.base_url}/key/list", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                          timeout=10).json()["total_count"]
    for method, path, body in PAGE_CALLS:
        for headers in ({}, {"Authorization": "Bearer sk-dx-not-a-key"}):
            r = requests.request(method, gateway.base_url + path, json=body, headers=headers, timeout=10)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
    after = requests.get(f"{gateway.base_url}/key/list", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                         timeout=10).json()["total_count"]
    assert after == before
    # In the browser: a wrong key is refused beside the form and nothing loads.
    page, watch = console
    watch.allow(401, "/key/list")
    sign_in(page, "sk-dx-wrong-key")
    expect(page.locator("#signin .error")).to_contain_text("refused")
    expect(page.locator("#nav")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    assert (401, f"{gateway.base_url}/key/list") in watch.seen
    shot(page, shots, gateway, "0-sign-in-refused")


# ----------------------------------------------------------------- journey


@pytest.mark.timeout(240)
def test_a_key_made_on_the_page_is_used_seen_blocked_and_deleted(gateway, console, shots):
    page, watch = console
    sign_in(page)
    expect(page.locator("#page h1")).to_contain_text("Keys")
    # The key is in this tab's session storage only: not in the URL, a cookie or local storage.
    assert page.evaluate("sessionStorage.getItem('dx-console-key')") == MASTER_KEY
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    assert MASTER_KEY not in page.url
    shot(page, shots, gateway, "1-keys")

    # Create: the key is shown once, with a copy button.
    alias = f"console-{uuid.uuid4().hex[:8]}"
    form = page.locator("#key-create")
    form.locator('input[name="key_alias"]').fill(alias)
    form.locator('input[name="max_budget"]').fill("1")
    form.locator('input[name="budget_duration"]').fill("1d")
    form.locator('input[name="rpm_limit"]').fill("100")
    form.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_be_visible()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("sk-dx-") and len(key) == 6 + 13 + 43, key
    page.locator("#copy-key").click()
    expect(page.locator("#new-key-box [role=status]")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    shot(page, shots, gateway, "2-key-created")
    page.locator("#new-key-box").get_by_role("button", name="Done").click()
    assert key not in page.content()

    # Listed, with its budget and limit.
    row = key_row(page, alias)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("$0.00 of $1.00")
    expect(row).to_contain_text("100 rpm")
    token = row.get_attribute("data-token")
    assert token and token not in key

    # Used from the official SDK against the fleet.
    raw = sdk(gateway, key).chat.completions.with_raw_response.create(
        model=PRICED, max_tokens=8, messages=[{"role": "user", "content": "hello from the console test"}])
    raw.parse()
    cost = float(raw.headers["x-dx-cost-usd"])
    assert cost > 0

    # Its spend and its request on the Spend page (settled after the answer: poll).
    page.locator('#nav a[href="#spend"]').click()
    expect(page.locator("#page h1")).to_have_text("Spend")
    filters = page.locator("#spend-filters")
    filters.locator('select[name="api_key"]').select_option(label=alias)
    deadline = time.monotonic() + 20
    while True:
        filters.get_by_role("button", name="Show").click()
        expect(filters.get_by_role("button", name="Show")).to_be_enabled()
        rows = page.locator("#requests tbody tr")
        if rows.count() == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(PRICED)
    expect(rows.first).to_contain_text("200")
    spend_text = page.locator("#totals dd").first.inner_text()
    assert abs(float(spend_text.lstrip("$")) - cost) < 1e-6, (spend_text, cost)
    # The chart: one bar today, by model and by key.
    expect(page.locator("#chart svg rect")).to_have_count(1)
    expect(page.locator("#chart .legend")).to_contain_text(PRICED)
    filters.locator('select[name="by"]').select_option("key")
    filters.get_by_role("button", name="Show").click()
    expect(page.locator("#chart .legend")).to_contain_text(alias)
    shot(page, shots, gateway, "3-spend")
    # CSV export: the same request, its exact spend.
    with page.expect_download() as dl:
        page.locator("#csv").click()
    rows_csv = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert len(rows_csv) == 1 and rows_csv[0]["api_key"] == token and rows_csv[0]["model"] == PRICED
    assert abs(float(rows_csv[0]["spend"]) - cost) < 1e-9
    assert key not in Path(dl.value.path()).read_text()

    # Back on Keys: its spend against its budget; edit its limits (a bad
    # value first: the API's error shows beside the form).
    page.locator('#nav a[href="#keys"]').click()
    row = key_row(page, alias)
    expect(row).to_have_count(1)
    assert abs(float(row.locator("meter").get_attribute("value")) - cost) < 1e-9
    row.get_by_role("button", name="Edit").click()
    edit = page.locator("tr.editing form")
    watch.allow(400, "/key/update")
    edit.locator('input[name="budget_duration"]').fill("fortnight")
    edit.get_by_role("button", name="Save").click()
    expect(edit.locator(".error")).to_contain_text("budget_duration")
    edit.locator('input[name="budget_duration"]').fill("1d")
    edit.locator('input[name="rpm_limit"]').fill("50")
    edit.get_by_role("button", name="Save").click()
    expect(key_row(page, alias)).to_contain_text("50 rpm")

    # Regenerate: a new key, shown once; the old one is refused, the new one works.
    key_row(page, alias).get_by_role("button", name="Regenerate").click()
    key_row(page, alias).get_by_role("button", name="Regenerate").click()  # the confirmation's
    expect(page.locator("#new-key-box")).to_contain_text("regenerated")
    old, key = key, page.locator("#new-key").inner_text().strip()
    assert key != old and key.startswith("sk-dx-")
    page.locator("#new-key-box").get_by_role("button", name="Done").click()
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, old).chat.completions.create(model=PRICED, max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert sdk(gateway, key).chat.completions.create(
        model=PRICED, max_tokens=4, messages=[{"role": "user", "content": "hi"}]).choices

    # Block: the SDK is refused; unblock, then delete.
    key_row(page, alias).get_by_role("button", name="Block").click()
    expect(key_row(page, alias)).to_contain_text("Blocked")
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(gateway, key).chat.completions.create(model=PRICED, max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401
    shot(page, shots, gateway, "4-key-blocked")
    key_row(page, alias).get_by_role("button", name="Unblock").click()
    expect(key_row(page, alias)).to_contain_text("Active")
    key_row(page, alias).get_by_role("button", name="Delete").click()
    # The confirmation takes the focus on its safe choice.
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    key_row(page, alias).get_by_role("button", name="Yes, delete").click()
    expect(key_row(page, alias)).to_have_count(0)
    expect(page.locator("#created")).to_contain_text("deleted")
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, key).chat.completions.create(model=PRICED, max_tokens=4, messages=[{"role": "user", "content": "hi"}])


# ------------------------------------------------------------ other pages


@pytest.mark.timeout(120)
def test_teams_users_models_and_playground(gateway, console, shots):
    page, watch = console
    sign_in(page)
    expect(page.locator("#page h1")).to_contain_text("Keys")
    team = f"ct-{uuid.uuid4().hex[:8]}"
    user = f"cu-{uuid.uuid4().hex[:8]}"

    page.locator('#nav a[href="#teams"]').click()
    expect(page.locator("#page h1")).to_have_text("Teams and users")
    f = page.locator("#team-create")
    f.locator('input[name="team_id"]').fill(team)
    f.locator('input[name="max_budget"]').fill("5")
    f.get_by_role("button", name="Create team").click()
    expect(page.locator(f'tr[data-team="{team}"]')).to_contain_text("$0.00 of $5.00")
    watch.allow(409, "/team/new")
    f = page.locator("#team-create")
    f.locator('input[name="team_id"]').fill(team)
    f.get_by_role("button", name="Create team").click()
    expect(page.locator("#team-create .error")).to_contain_text("already exists")
    u = page.locator("#user-create")
    u.locator('input[name="user_id"]').fill(user)
    u.locator('select[name="team_id"]').select_option(team)
    u.get_by_role("button", name="Create user").click()
    expect(page.locator(f'tr[data-user="{user}"]')).to_contain_text(team)
    expect(page.locator(f'tr[data-team="{team}"]')).to_contain_text(user)
    shot(page, shots, gateway, "5-teams-users")
    # A key of the team spends; the Spend chart by team shows it.
    made = requests.post(f"{gateway.base_url}/key/generate", json={"team_id": team},
                         headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert made.status_code == 200, made.text
    sdk(gateway, made.json()["key"]).chat.completions.create(
        model=PRICED, max_tokens=4, messages=[{"role": "user", "content": "team spend"}])
    page.locator('#nav a[href="#spend"]').click()
    filters = page.locator("#spend-filters")
    filters.locator('select[name="by"]').select_option("team")
    deadline = time.monotonic() + 20
    while True:
        filters.get_by_role("button", name="Show").click()
        expect(filters.get_by_role("button", name="Show")).to_be_enabled()
        if team in page.locator("#chart").inner_text() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(page.locator("#chart .legend")).to_contain_text(team)
    page.locator('#nav a[href="#teams"]').click()
    expect(page.locator(f'tr[data-team="{team}"]')).to_contain_text(user)
    page.locator(f'tr[data-user="{user}"]').get_by_role("button", name="Delete").click()
    page.locator(f'tr[data-user="{user}"]').get_by_role("button", name="Yes, delete").click()
    expect(page.locator(f'tr[data-user="{user}"]')).to_have_count(0)
    page.locator(f'tr[data-team="{team}"]').get_by_role("button", name="Delete").click()
    page.locator(f'tr[data-team="{team}"]').get_by_role("button", name="Yes, delete").click()
    expect(page.locator(f'tr[data-team="{team}"]')).to_have_count(0)

    # Models: configured list, catalog search, cost estimate.
    page.locator('#nav a[href="#models"]').click()
    expect(page.locator("#page h1")).to_contain_text("Models")
    expect(page.locator("main table").first).to_contain_text(PRICED)
    # The router's groups (deployments/router.json) with their deployments and health.
    expect(page.locator("#groups")).to_contain_text("rt-group")
    expect(page.locator("#groups")).to_contain_text("group-good")
    expect(page.locator("#groups")).to_contain_text("simple-shuffle")
    s = page.locator("#catalog-search")
    s.locator('input[name="provider"]').fill("openai")
    s.locator('input[name="q"]').fill("gpt-4o-mini")
    s.get_by_role("button", name="Search").click()
    expect(page.locator("#catalog-results tbody tr").first).to_contain_text("gpt-4o-mini")
    e = page.locator("#cost-estimate")
    e.locator('input[name="model"]').fill(PRICED)
    e.locator('input[name="input_tokens"]').fill("1000")
    e.locator('input[name="output_tokens"]').fill("500")
    e.locator('input[name="requests_per_day"]').fill("10")
    e.get_by_role("button", name="Estimate").click()
    # 1000 × $1e-6 + 500 × $2e-6 (keys.json prices)
    expect(page.locator("#estimate")).to_contain_text("$0.002")
    expect(page.locator("#estimate")).to_contain_text("$0.02")
    shot(page, shots, gateway, "6-models")
    watch.allow(404, "/cost/estimate")
    watch.allow(400, "/cost/estimate")
    e.locator('input[name="model"]').fill("no-such-provider/no-such-model")
    e.get_by_role("button", name="Estimate").click()
    expect(e.locator(".error")).not_to_be_empty()

    # Playground: a streamed answer with tokens, cost, latency and the provider.
    page.locator('#nav a[href="#playground"]').click()
    expect(page.locator("#page h1")).to_have_text("Playground")
    p = page.locator("#playground-form")
    p.locator('select[name="model"]').select_option(PRICED)
    p.get_by_role("button", name="Send").click()
    expect(page.locator('#pg-stats dd[data-stat="Cost"]')).to_have_text(re.compile(r"^\$0\.0\d+"))
    assert page.locator("#pg-out").inner_text().strip() != ""
    expect(page.locator('#pg-stats dd[data-stat="Tokens in / out"]')).to_have_text(re.compile(r"^\d+ / \d+$"))
    expect(page.locator('#pg-stats dd[data-stat="Provider"]')).not_to_have_text("—")
    expect(page.locator('#pg-stats dd[data-stat="Total"]')).to_have_text(re.compile(r"^\d+ ms$"))
    shot(page, shots, gateway, "7-playground")


def test_narrow_screens_do_not_scroll_sideways(gateway, console, shots):
    page, _ = console
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page)
    for name, ready in [("keys", "#key-create"), ("teams", "#user-create"), ("spend", "#chart figure"),
                        ("models", "#cost-estimate"), ("playground", "#playground-form")]:
        page.goto(f"/ui#{name}")
        expect(page.locator(ready)).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (name, width)
        shot(page, shots, gateway, f"narrow-{name}")
