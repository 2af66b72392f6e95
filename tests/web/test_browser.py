"""The web app in a real browser: Debian's Chromium driven by Playwright, against a real uvicorn
server of the app on 127.0.0.1 over a fresh SQLite directory seeded with a small demo.

Walks what a buyer and a shop do (sign in, upload a STEP file, watch the quote follow the spec,
find shops, send an RFQ, answer it, watch machines report, import history and retrain) and
checks that the browser never talks to anything but 127.0.0.1.

Set ``MITSUMORI_SCREENSHOTS=docs/screenshots`` to refresh the screenshots of docs/web.md.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from platform_api.demo import seed_demo
from platform_api.main import create_app
from platform_api.settings import Settings
from tests.conftest import REPO_ROOT
from tests.platform_api.factories import csv_bytes, history_dataset, history_zip
from tests.platform_api.live import serve

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VENDOR = REPO_ROOT / "platform_api" / "web" / "static" / "vendor" / ".built"
STEP_WITH_FINDINGS = Path("nist_ctc_ftc") / "ap242_pmi" / "nist_ctc_03_asme1_ap242-e2.stp"
TIMEOUT_MS = 30_000
# A job (history import, retrain) is waited on through its own state in the API, not a clock:
# this bound only stops a hung job from hanging the suite; a loaded machine finishes far inside.
JOB_DEADLINE_S = 900.0


@dataclass
class Demo:
    url: str
    keys: dict[str, tuple[str, str]]  # org name -> (org id, key)
    kinds: dict[str, str]  # org name -> shop | buyer | admin
    shots: Path
    requests: list[str] = field(default_factory=list)

    def key(self, name: str) -> str:
        return self.keys[name][1]

    def first(self, kind: str) -> str:
        return next(n for n, k in self.kinds.items() if k == kind)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The app on a fresh SQLite directory with 3 demo shops (trained models) and 2 buyers."""
    if not VENDOR.exists():
        pytest.fail("the web app's vendored assets are missing: run `make web` (make test does)")
    data_dir = tmp_path_factory.mktemp("webdemo")
    settings = Settings(
        data_dir=data_dir,
        analysis_workers=0,
        job_worker=True,
        job_poll_seconds=0.2,
        rate_limit_per_minute=1e5,
        rate_limit_burst=10_000,
    )
    out = seed_demo(n_shops=3, rows_per_shop=52, seed=0, settings=settings, echo=lambda _: None)
    keys = {name: (org_id, key) for _kind, name, org_id, key in out["keys"]}
    kinds = {name: kind for kind, name, _org, _key in out["keys"]}
    shots_env = os.environ.get("MITSUMORI_SCREENSHOTS")
    shots = Path(shots_env) if shots_env else tmp_path_factory.mktemp("shots")
    shots.mkdir(parents=True, exist_ok=True)
    with serve(create_app(settings)) as url:
        yield Demo(url=url, keys=keys, kinds=kinds, shots=shots)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_as(browser: Any, demo: Demo) -> Iterator[Callable[..., Any]]:
    """``open_as(org name, locale=...)``: a signed-in page in a fresh browser context.

    Every request any page makes is recorded; after the test they must all be to 127.0.0.1,
    and no page may have thrown a script error.
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def _open(name: str, *, locale: str = "en-US", path: str = "/app") -> Any:
        ctx = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale=locale, accept_downloads=False
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.on("request", lambda r: demo.requests.append(r.url))
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(demo.url + path)
        assert "/app/login" in page.url  # no session yet
        page.fill("#api_key", demo.key(name))
        page.click("button[type=submit]")
        page.wait_for_selector("#nav a")
        return page

    yield _open
    for ctx in contexts:
        ctx.close()
    assert not errors, errors
    hosts = {urlsplit(u).hostname for u in demo.requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts  # no CDN, no font service, no telemetry
    demo.requests.clear()


def shot(page: Any, demo: Demo, name: str, *, full_page: bool = False) -> None:
    """A small screenshot of the current screen (PNG, palette-reduced when Pillow is there)."""
    path = demo.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    try:
        from PIL import Image

        with Image.open(path) as img:
            img.convert("RGB").quantize(colors=128).save(path, optimize=True)
    except ImportError:  # a full-colour PNG is fine too
        pass


def unit_price(page: Any) -> float:
    return float(page.get_attribute("#unit-price", "data-value"))


def test_buyer_quotes_a_step_file_finds_shops_and_the_shop_answers_the_rfq(
    open_as: Callable[..., Any], demo: Demo, shared_parts: Path
) -> None:
    buyer = demo.first("buyer")
    page = open_as(buyer)
    assert page.url.endswith("/app/quote")  # a buyer lands on the quote page

    # Upload a real STEP file; the quote and the 3D view follow.
    page.set_input_files("#part-file", str(shared_parts / STEP_WITH_FINDINGS))
    page.wait_for_selector("#unit-price")
    assert page.get_attribute("#upload-status", "aria-live") == "polite"
    assert page.get_attribute("progress[aria-label]", "value") == "100"
    page.wait_for_selector("#viewer[data-state=ready]")
    assert int(page.get_attribute("#viewer", "data-triangles")) > 500
    findings = page.locator("#dfm-list > li")
    markers = int(page.get_attribute("#viewer", "data-markers"))
    assert findings.count() >= 1 and markers >= 1  # this part has located DFM findings
    located = page.locator("#dfm-list > li:not(:has(.help))").count()
    assert markers == located
    first_price = unit_price(page)
    assert first_price > 0
    assert "¥" in page.inner_text("#unit-price")
    assert page.locator("#lead-tiers tbody tr").count() == 3
    assert page.locator("[data-chart=price-breaks] circle").count() >= 6
    assert page.locator("[data-chart=breakdown] rect").count() >= 3
    assert page.get_attribute("#quote-summary", "aria-live") == "polite"
    shot(page, demo, "quote")

    # Change the material: stainless costs more to buy and to cut than aluminium.
    page.select_option("#material", "SUS304")
    page.wait_for_function(
        "p => Number(document.querySelector('#unit-price').dataset.value) !== p", arg=first_price
    )
    assert unit_price(page) > first_price * 1.1
    assert "SUS304" in page.inner_text("#total-price")
    assert "material=SUS304" in page.url  # the spec survives a reload

    # One piece: the setup and programming are no longer shared, so each piece costs more.
    ten = unit_price(page)
    page.fill("#quantity", "1")
    page.wait_for_function(
        "p => Number(document.querySelector('#unit-price').dataset.value) !== p", arg=ten
    )
    assert unit_price(page) > ten
    assert "for 1 pieces" in page.inner_text("#total-price")

    # Open the reasons.
    page.click("#reasons > summary")
    assert page.locator("#reasons").evaluate("d => d.open")
    reasons = page.locator("#reasons li")
    assert reasons.count() >= 2 and reasons.first.is_visible()
    assert any("Material" in t for t in reasons.all_inner_texts())

    # A DFM finding and its marker are linked.
    page.click("#dfm-list > li:first-child button")
    assert "active" in (page.get_attribute("#dfm-list > li:first-child", "class") or "")

    # Back to aluminium, one piece: a job small enough for several shops to have the time.
    page.select_option("#material", "A5052")
    page.wait_for_function("() => /A5052/.test(document.querySelector('#total-price').textContent)")

    # Find shops and send the RFQ to the first two.
    page.click("#find-shops")
    page.wait_for_selector("#shop-results tbody tr")
    rows = page.locator("#shop-results tbody tr")
    assert rows.count() >= 2
    for i in range(rows.count()):
        row = rows.nth(i)
        assert "¥" in row.inner_text() and " h" in row.inner_text() and "km" in row.inner_text()
        assert row.locator("ul.reasons li").count() >= 2
    names = rows.locator("label").all_inner_texts()
    boxes = page.locator("#shop-results input[type=checkbox]")
    for i in range(2, boxes.count()):
        boxes.nth(i).uncheck()
    assert page.inner_text("#send-rfq") == "Send RFQ to 2 shops"
    page.locator("#match-h").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(page, demo, "shops")
    page.click("#send-rfq")
    page.wait_for_selector("#rfq-status .badge")
    rfq_id = page.get_attribute("#rfq-status", "data-rfq")
    assert rfq_id

    # The first shop sees the RFQ in its inbox and quotes back ...
    shop_page = open_as(names[0])
    assert shop_page.url.endswith("/app/inbox")
    card = shop_page.locator(f"#rfq-{rfq_id}")
    card.wait_for()
    assert "nist_ctc_03" in card.inner_text() and "A5052" in card.inner_text()
    shot(shop_page, demo, "inbox")
    card.locator("button[data-action=accept]").click()
    card.get_by_label("Your unit price (JPY)").fill("123456")
    card.get_by_label("Lead time (business days)").fill("9")
    card.locator("button[type=submit]").click()
    shop_page.wait_for_selector(f"#rfq-{rfq_id}[data-status=accepted]")
    assert "¥123,456" in card.inner_text()

    # ... the second declines with a reason ...
    second = open_as(names[1]).locator(f"#rfq-{rfq_id}")
    second.locator("button[data-action=decline]").click()
    second.get_by_label("Reason").select_option("capacity")
    second.get_by_label("Note").fill("5-axis booked until next month")
    second.locator("button[type=submit]").click()
    second.page.wait_for_selector(f"#rfq-{rfq_id}[data-status=declined]")

    # ... and a shop it was not sent to never sees it.
    other = next(n for n, k in demo.kinds.items() if k == "shop" and n not in names[:2])
    other_page = open_as(other)
    other_page.wait_for_selector("#inbox-rfqs .empty, #inbox-rfqs article")
    assert other_page.locator(f"#rfq-{rfq_id}").count() == 0

    # The buyer sees both answers.
    page.click("nav a[data-view=rfqs]")
    answers = page.locator(f"#rfq-{rfq_id} tbody tr")
    answers.first.wait_for()
    by_shop = dict(zip(answers.locator("td:first-child").all_inner_texts(), range(2), strict=True))
    quoted = answers.nth(by_shop[names[0]])
    declined = answers.nth(by_shop[names[1]])
    assert "¥123,456" in quoted.inner_text() and quoted.locator("[data-status=accepted]").count()
    assert "No capacity" in declined.inner_text() and "booked until" in declined.inner_text()


def _events(state: str, t0: datetime, n: int) -> list[dict[str, Any]]:
    execution = {"productive": "ACTIVE", "standby": "READY"}[state]
    return [
        {
            "event_id": f"web-{state}-{i}",
            "timestamp": (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "availability": "AVAILABLE",
            "execution": execution,
            "controller_mode": "AUTOMATIC",
            "functional_mode": "PRODUCTION",
        }
        for i in range(n)
    ]


def test_machines_page_updates_when_events_arrive(open_as: Callable[..., Any], demo: Demo) -> None:
    shop = demo.first("shop")
    page = open_as(shop, path="/app/machines")
    page.wait_for_selector(".machine .state")
    headers = {"Authorization": f"Bearer {demo.key(shop)}"}
    machines = httpx.get(f"{demo.url}/v1/machines", headers=headers).json()["items"]
    target = machines[0]
    state = page.locator(f"#machine-{target['id']} .state")
    assert state.get_attribute("data-state") == target["state"]
    page.wait_for_selector(f"#machine-{target['id']} [data-chart=heatmap] rect")
    assert page.locator(f"#machine-{target['id']} [data-chart=heatmap] rect").count() == 168
    assert page.locator("#spare-calendar [role=listitem]").count() == 30

    now = datetime.now(UTC) - timedelta(seconds=30)
    for wanted in ("productive", "standby"):
        r = httpx.post(
            f"{demo.url}/v1/machines/{target['id']}/events",
            json={"events": _events(wanted, now, 3)},
            headers=headers,
        )
        assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
        now += timedelta(seconds=10)
        page.wait_for_selector(f"#machine-{target['id']} .state[data-state={wanted}]")
    assert target["name"] in page.inner_text("#machine-announcer")
    assert "s ago" in page.inner_text(f"#machine-{target['id']}")
    shot(page, demo, "machines")


def _job_ends(demo: Demo, shop: str, job_id: str) -> dict[str, Any]:
    """The job's final state, polled through the API until it has one."""
    deadline = time.monotonic() + JOB_DEADLINE_S
    headers = {"Authorization": f"Bearer {demo.key(shop)}"}
    while True:
        job = httpx.get(f"{demo.url}/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_shop_imports_history_with_row_errors_and_retrains(
    open_as: Callable[..., Any], demo: Demo, tmp_path: Path
) -> None:
    shop = demo.first("shop")
    page = open_as(shop, path="/app/model")
    page.wait_for_selector("#backtest .stat")
    assert "%" in page.inner_text("#backtest")
    rows, files = history_dataset(3, 3, seed=11)
    rows.append(["parts/missing.stl", "A5052", "1", "ISO2768-m", "none", "1000", "5"])
    rows.append([rows[1][0], "unobtainium", "1", "ISO2768-m", "none", "1000", "5"])
    (tmp_path / "history.csv").write_bytes(csv_bytes(rows))
    (tmp_path / "parts.zip").write_bytes(history_zip(files))
    page.set_input_files("#history-csv", str(tmp_path / "history.csv"))
    page.set_input_files("#history-zip", str(tmp_path / "parts.zip"))
    with page.expect_response(
        lambda r: r.url.endswith("/history") and r.request.method == "POST"
    ) as posted:
        page.click("#import-btn")
    assert _job_ends(demo, shop, posted.value.json()["id"])["status"] == "succeeded"
    page.wait_for_selector("#row-errors tbody tr")
    assert page.get_attribute("#import-progress", "value") == "100"
    assert "9 rows imported, 2 rejected" in page.inner_text("#import-status")
    lines = page.locator("#row-errors tbody tr td:first-child").all_inner_texts()
    assert lines == [str(len(rows) - 1), str(len(rows))]  # CSV line numbers, header = line 1

    with page.expect_response(lambda r: r.url.endswith("/model/train")) as posted:
        page.click("#retrain")
    job = _job_ends(demo, shop, posted.value.json()["id"])
    assert job["status"] == "succeeded", job
    page.wait_for_function(
        "() => /New model trained/.test(document.querySelector('#train-status').textContent)"
    )
    # The page lists the new model as the one in use: trained on 52 seeded + 9 imported rows.
    page.wait_for_function(
        "() => /on 61 quotes/.test(document.querySelector('#model-box').innerText)"
    )
    assert page.locator("#model-box details tbody tr").count() == 2  # the earlier model kept
    shot(page, demo, "model")
    page.click("nav a[data-view=performance]")
    page.wait_for_selector("#price-level svg")
    assert re.search(r"(above|below) the market|At the market", page.inner_text("#lvl-h + p"))
    shot(page, demo, "performance")


def test_japanese_and_keyboard_use(open_as: Callable[..., Any], demo: Demo, browser: Any) -> None:
    # The sign-in page follows the browser's language.
    ctx = browser.new_context(locale="ja-JP")
    login = ctx.new_page()
    login.on("request", lambda r: demo.requests.append(r.url))
    login.goto(demo.url + "/app")
    assert login.locator("html").get_attribute("lang") == "ja"
    assert login.inner_text("h2") == "サインイン"
    shot(login, demo, "login-ja")
    ctx.close()

    page = open_as(demo.first("buyer"), locale="ja-JP")
    page.wait_for_selector("#dropzone")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.inner_text("nav a[aria-current=page]") == "見積もる"
    # Every visible form control has a label a screen reader announces.
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main textarea')]
            .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length)
                    && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
            .map(el => el.outerHTML)"""
    )
    assert unlabeled == []
    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # Switch to English in place.
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("nav a[aria-current=page]") == "Quote a part"
    assert page.inner_text("#lang-switch") == "日本語"
