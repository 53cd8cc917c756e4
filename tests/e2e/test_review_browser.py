"""A reviewer approves a borderline lead in the Prefect UI with a real headless Chromium.

Its own Prefect server (the test harness serves no UI), the review deployment served in another
process, Debian's chromium driven by Playwright; every non-loopback request is aborted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import col, select

from adapters.submissions import store_submissions
from models.db import session_scope, upgrade
from models.settings import get_settings
from models.tables import Lead, Review
from qualification.submission import submission_from_mapping
from tests.paths import ROOT, SAMPLES
from tests.prefect_helpers import drain_prefect_workers

CHROMIUM = "/usr/bin/chromium"
OUTPUT = ROOT / "test-output" / "e2e"
LOGS = OUTPUT / "logs"
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed here when missing (never a browser download)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip("chromium is not installed and this user cannot apt-get install it")
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Prefect server with its UI, medleads settings, and `medleads serve` against them."""
    home = tmp_path_factory.mktemp("ui")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base_env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    data = home / "data"
    LOGS.mkdir(parents=True, exist_ok=True)
    logs = (LOGS / "server.log").open("wb"), (LOGS / "serve.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=base_env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    served: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError("the Prefect server did not start within 90 s")
        with pytest.MonkeyPatch.context() as mp, temporary_settings(updates={PREFECT_API_URL: api}):
            mp.setenv("MEDLEADS_DATA_DIR", str(data))
            mp.setenv("MEDLEADS_DATABASE_URL", f"sqlite:///{data}/medleads.db")
            get_settings.cache_clear()
            upgrade()
            # Only the review deployment (a scheduled intake sweep would race the test's run).
            served = subprocess.Popen(
                [sys.executable, "-m", "flows.serve", "review"],
                cwd=ROOT,
                env={
                    **base_env,
                    **{k: v for k, v in os.environ.items() if k.startswith("MEDLEADS_")},
                },
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            )
            with get_client(sync_client=True) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        client.read_deployment_by_name("review-lead/review")
                        break
                    except Exception:
                        time.sleep(0.5)
            yield api.removesuffix("/api"), data
            # Flush Prefect's log and event workers while this server is still up: left for
            # later, they retry a dead server and hang the session's harness teardown.
            drain_prefect_workers()
    finally:
        for process in (served, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        for log in logs:
            log.close()
        get_settings.cache_clear()


def _state(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    return state.name if state else "none"


def _wait(flow_run_id: str, name: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _state(flow_run_id) != name:
        time.sleep(0.5)
    state = _state(flow_run_id)
    assert state == name, f"run {flow_run_id} is {state}, not {name}; logs: {LOGS}"


def test_a_reviewer_approves_a_borderline_lead_in_the_prefect_ui(
    chromium: str, ui_stack: tuple[str, Path]
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from flows.inbound_form import inbound_form

    base, data = ui_stack
    row = json.loads((SAMPLES / "forms.jsonl").read_text().splitlines()[4])  # Lakeside Wellness
    store_submissions([(submission_from_mapping(row), row)])
    summary = inbound_form()
    (lead_id,) = summary.review_lead_ids
    with session_scope() as session:
        review = session.exec(select(Review).where(col(Review.lead_id) == lead_id)).one()
    assert review.flow_run_id
    _wait(review.flow_run_id, "Suspended")

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=BROWSER_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1")
                else route.abort()
            ),
        )
        page = context.new_page()
        page.goto(f"{base}/runs/flow-run/{review.flow_run_id}")
        page.get_by_role("button", name="Resume").click(timeout=30_000)
        page.get_by_text("Why a person decides:").wait_for()

        def field(label: str):  # type: ignore[no-untyped-def]
            name = page.locator(".schema-form-property__label", has_text=re.compile(f"^{label}$"))
            return page.locator(".schema-form-property", has=name)

        # The select opens from the keyboard once focused (a click alone only focuses it here).
        field("Decision").locator("button.p-select-button__control").click()
        page.keyboard.press("ArrowDown")
        page.get_by_role("option", name="approve_sql").click()
        field("Reviewer").locator("textarea").fill("carol")
        field("Note \\(Optional\\)").locator("textarea").fill("spoke to them at HIMSS")
        page.keyboard.press("Tab")  # leave the note field so the form takes its value
        page.screenshot(path=str(OUTPUT / "review-resume-form.png"), full_page=True)
        started = time.monotonic()
        dialog = page.get_by_text("Resume Flow Run")
        for attempt in range(3):
            # Under load a click can land while the form re-renders; a person would click again,
            # and a second resume of an already resumed run is refused by the server.
            page.get_by_role("button", name="Submit").click()
            try:
                dialog.wait_for(state="hidden", timeout=10_000)
                break
            except PlaywrightTimeout:
                page.screenshot(path=str(OUTPUT / f"after-submit-{attempt}.png"))
        _wait(review.flow_run_id, "Completed")
        browser.close()

    handoffs = data / "handoffs.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and lead_id not in handoffs.read_text():
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    lines = [json.loads(x) for x in handoffs.read_text().splitlines()]
    (handoff,) = [x for x in lines if x["lead_id"] == lead_id]
    assert handoff["status"] == "sql"
    with session_scope() as session:
        lead = session.get(Lead, lead_id)
        decided = session.get(Review, review.id)
    assert lead is not None and lead.status == "sql"
    assert decided is not None and (decided.decided_by, decided.via) == ("carol", "ui")
    print(f"resume (UI submit) to handoff: {elapsed:.1f} s")
    (OUTPUT / "resume-to-handoff-seconds.txt").write_text(f"{elapsed:.1f}\n")
