"""The dashboard in a real browser (Playwright driving Debian's Chromium) against a
coordinator with two real workers on the offline image model: the overview, a prompt
run in the playground until its image, worker and verification state show (and the
state changes once its check settles and the epoch is published), a worker page, an
epoch and an inclusion proof checked in the page, and markup in a worker name and in a
prompt that stays inert.

Screenshots go to ``SWARMGEN_SCREENSHOTS`` when set (``docs/`` for the README's), else
to the test's temporary folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from swarmgen.coordinator.admin import open_store
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.localnet import LocalNetwork
from swarmgen.store.records import WorkerRecord

pytestmark = [pytest.mark.models, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IMAGE = "shapes-64@fp32"
TEXT = "echo-text@fp32"
EPOCH_S = 20
UPHELD_MS = 300_000
"""The check runs on the other worker, then its epoch closes and is published."""
EVIL = '<img src=x onerror=alert("name")><script>alert("name")</script>'
EVIL_PROMPT = '<img src=x onerror=alert("prompt")> a red circle'


@dataclass
class Swarm:
    url: str
    key: str
    workers: dict[str, str]
    """Worker id by name."""
    data: Path


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing (make test installs it)")
    pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)")


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Swarm]:
    chromium_or_skip()
    data = tmp_path_factory.mktemp("dashboard-net")
    with LocalNetwork(data) as net:
        key = net.create_key("visitor")
        net.start_coordinator(
            env={
                "SWARMGEN_EPOCH_LENGTH_S": str(EPOCH_S),
                "SWARMGEN_EPOCH_CHECK_S": "0.2",
                "SWARMGEN_PANEL_STAGES": "[1,3,5]",
            }
        )
        workers = {}
        for name in ("ann", "bob"):
            owner = net.create_key(f"owner-{name}")
            workers[name] = net.start_worker(
                name, [IMAGE, TEXT], "--threads", "1", "--pop-wait-s", "1",
                env={"SWARMGEN_API_KEY": owner, "SWARMGEN_CACHE": str(model_cache)},
            )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stats = httpx.get(f"{net.url}/api/v1/stats", timeout=5).json()
            if stats["workers_online"] == 2:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError(f"the workers did not come online; see {data / 'logs'}")
        warm_up(net.url, key, data)
        yield Swarm(net.url, key, workers, data)


def warm_up(url: str, key: str, data: Path) -> None:
    """One image job before the tests, so the first page waits for no model to load
    (its check warms the other worker too)."""
    auth = {"Authorization": f"Bearer {key}"}
    job = {"kind": "image", "model": IMAGE, "prompt": "warm up", "steps": 2}
    accepted = httpx.post(f"{url}/api/v1/jobs", json=job, headers=auth, timeout=10).json()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        view = httpx.get(
            f"{url}/api/v1/jobs/{accepted['id']}", params={"wait": 30}, headers=auth, timeout=40
        ).json()
        if view["state"] == "completed":
            return
        assert view["state"] in {"queued", "leased"}, view
    raise TimeoutError(f"the warm-up job did not finish; see {data / 'logs'}")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("SWARMGEN_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(swarm: Swarm) -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield page
    finally:
        context.close()
    assert dialogs == [], f"a script ran from page content: {dialogs}"


def use_key(page: Any, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    assert page.text_content("#key-state") == f"key …{key[-4:]}"


def test_overview_shows_the_network(swarm: Swarm, page: Any, shots: Path) -> None:
    page.goto(swarm.url + "/")
    assert page.text_content("h1") == "The network"
    assert page.text_content('[data-stat="workers_online"]') == "2"
    row = page.locator("table.models tr", has_text=IMAGE)
    assert row.locator("td").nth(3).text_content() == "2"  # both workers serve it
    assert page.eval_on_selector("#throughput", "img => img.naturalWidth") > 0
    page.screenshot(path=str(shots / "dashboard-overview.png"))


def test_playground_runs_a_prompt_and_follows_its_check(
    swarm: Swarm, page: Any, shots: Path
) -> None:
    page.goto(swarm.url + "/playground")
    use_key(page, swarm.key)
    page.select_option("#pg-model", IMAGE)
    page.fill("#pg-prompt", EVIL_PROMPT)
    page.fill("input[name=steps]", "4")
    page.click("#pg-run")
    page.wait_for_selector("#pg-image", timeout=180_000)
    assert page.eval_on_selector("#pg-image", "img => img.naturalWidth") == 64
    assert page.text_content("#pg-state") == "completed"
    assert page.text_content("#pg-worker") in swarm.workers.values()
    expect(page.locator("#pg-verification")).to_have_text("optimistic", timeout=30_000)
    assert len(page.text_content("#pg-receipt") or "") == 64
    assert float((page.text_content("#pg-price") or "0 credits").split()[0]) > 0
    # a new worker's every job is checked by the other; once the check settles and the
    # epoch is published, the page (which keeps asking) shows the outcome
    expect(page.locator("#pg-verification")).to_have_text("upheld", timeout=UPHELD_MS)
    page.screenshot(path=str(shots / "dashboard-playground.png"))
    job_id = page.text_content("#pg-job")
    page.goto(swarm.url + "/jobs")
    page.wait_for_selector("#jobs:not([hidden]) tbody tr")
    assert page.locator("#jobs tbody tr").count() >= 1
    assert page.text_content("#jobs tbody tr td a") == (job_id or "")[:12]
    # the worker's page, from the job's row
    page.click("#jobs tbody tr td:nth-child(5) a")
    page.wait_for_selector("#worker-name")
    assert page.text_content("#worker-name") in {"ann", "bob"}
    page.screenshot(path=str(shots / "dashboard-worker.png"))
    # the ledger: the published epoch, then the job's inclusion proof checked in the page
    page.goto(swarm.url + "/epochs")
    first = page.locator("table.epochs tbody tr td a").first
    first.click()
    assert page.text_content("#epoch-signature") == "valid"
    page.goto(swarm.url + "/epochs")
    page.fill("input[name=job]", job_id or "")
    page.click("form.inline button")
    page.wait_for_selector("#proof-verdict.ok")
    checks = page.locator(".browser-check")
    assert checks.count() >= 2  # the reservation and the release, at least
    for i in range(checks.count()):
        expect(checks.nth(i)).to_have_text("the path leads to the root")
    page.screenshot(path=str(shots / "dashboard-ledger.png"), full_page=False)


def test_playground_runs_a_text_prompt(swarm: Swarm, page: Any) -> None:
    page.goto(swarm.url + f"/playground?model={TEXT}")
    use_key(page, swarm.key)
    assert page.input_value("#pg-model") == TEXT
    assert page.is_hidden("input[name=steps]") and page.is_visible("input[name=max_tokens]")
    page.fill("#pg-prompt", EVIL_PROMPT)
    page.fill("input[name=max_tokens]", "8")
    page.click("#pg-run")
    page.wait_for_selector("#pg-text", timeout=60_000)
    assert (page.text_content("#pg-text") or "").strip()
    assert page.text_content("#pg-worker") in swarm.workers.values()
    expect(page.locator("#pg-verification")).to_have_text("optimistic", timeout=30_000)


def test_the_playground_says_what_is_wrong(swarm: Swarm, page: Any) -> None:
    page.goto(swarm.url + "/playground")
    page.click("#pg-run")
    expect(page.locator("#pg-error")).to_contain_text("enter an API key")
    page.fill("#api-key", "not-a-key")
    page.click("#key-form button[type=submit]")
    page.click("#pg-run")
    expect(page.locator("#pg-error")).to_contain_text("401")


def test_a_worker_name_with_markup_stays_text(swarm: Swarm, page: Any) -> None:
    store = open_store(CoordinatorSettings(data=swarm.data))
    try:
        with store.transaction() as tx:
            tx.workers.register(WorkerRecord("evil", None, EVIL, {"models": [IMAGE]}, 0, 0))
    finally:
        store.dispose()
    page.goto(swarm.url + "/workers")
    link = page.locator("a.worker-name", has_text="onerror")
    assert link.text_content() == EVIL
    link.click()
    assert page.text_content("#worker-name") == EVIL
    assert page.locator("main img, main script").count() == 0
