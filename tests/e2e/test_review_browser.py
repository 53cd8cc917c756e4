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
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import col, select

from adapters.submissions import store_submissions
from models.db import session_scope, upgrade
from models.settings import get_settings
from models.tables import Lead, Organization, Review, SentEmail
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
        "PREFECT_LOGGING_LEVEL": "INFO",  # as `medleads demo`: run pages say what happened
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


def _borderline(n: int) -> dict[str, object]:
    row: dict[str, object] = json.loads((SAMPLES / "forms.jsonl").read_text().splitlines()[4])
    row.update(
        submission_id=f"browser-{n}",
        email=f"jordan{n}@lakeside{n}.example.com",
        organization_name=f"Lakeside Wellness {n}",
    )
    return row


def _refusals(review_id: str) -> int:
    with session_scope() as session:
        review = session.get(Review, review_id)
    assert review is not None
    return review.refusals


def _state_message(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    return (state.message if state else None) or ""


def test_a_reviewers_and_an_ops_persons_day_in_the_prefect_ui(
    chromium: str, ui_stack: tuple[str, Path]
) -> None:
    from playwright.sync_api import Page, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from flows.inbound_form import inbound_form
    from qualification.review_choices import choice_label

    base = ui_stack[0]
    rows = [_borderline(1), _borderline(2)]
    store_submissions([(submission_from_mapping(row), row) for row in rows])
    summary = inbound_form()
    assert len(summary.review_lead_ids) == 2
    with session_scope() as session:
        reviews = {
            r.lead_id: r
            for r in session.exec(
                select(Review).where(col(Review.lead_id).in_(summary.review_lead_ids))
            ).all()
        }
        mine = reviews[summary.review_lead_ids[0]]
        other = reviews[summary.review_lead_ids[1]]
        notice = session.exec(
            select(SentEmail).where(
                col(SentEmail.kind) == "reviewer_notification",
                col(SentEmail.lead_id) == mine.lead_id,
            )
        ).one()
        lead = session.get(Lead, mine.lead_id)
        assert lead is not None
        organization = session.get(Organization, lead.organization_id)
        assert organization is not None and organization.name
    assert mine.flow_run_id and other.flow_run_id
    _wait(mine.flow_run_id, "Suspended")
    _wait(other.flow_run_id, "Suspended")
    OUTPUT.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)

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

        def field(label: str):  # type: ignore[no-untyped-def]
            name = page.locator(".schema-form-property__label", has_text=re.compile(f"^{label}$"))
            return page.locator(".schema-form-property", has=name)

        def choose(label: str, option: str) -> None:
            # The select opens from the keyboard once focused (a click alone only focuses it).
            control = field(label).locator("button.p-select-button__control")
            control.click()
            page.keyboard.press("ArrowDown")
            page.get_by_role("option", name=option, exact=True).click()
            field(label).get_by_text(option, exact=True).wait_for()  # the form took it

        def submit() -> None:
            dialog = page.get_by_text("Resume Flow Run", exact=True)
            for attempt in range(3):
                # Under load a click can land while the form re-renders; a person would click
                # again, and a second resume of an already resumed run is refused.
                page.get_by_role("button", name="Submit").click()
                try:
                    dialog.wait_for(state="hidden", timeout=10_000)
                    return
                except PlaywrightTimeout:
                    shot(page, f"after-submit-{attempt}")
            raise AssertionError("the resume dialog did not close")

        # The reviewer's day: the email's link opens the run, the form shows the lead.
        page.goto(notice.template_context["review_url"])
        page.get_by_role("button", name="Resume").click(timeout=30_000)
        page.get_by_text("Why a person decides:").wait_for()
        for seen in (
            organization.name,
            "high intent but low fit.",
            "Contact:",
            str(rows[0]["email"]),
            "Message:",
            "The rules proposed:",
        ):
            assert page.get_by_text(seen, exact=False).count() > 0, seen
        assert page.get_by_text("medleads review show").count() == 0  # no CLI homework
        shot(page, "1-review-form")

        # A refused answer: need_more_info without saying what is missing.
        choose(
            "Decision", "need_more_info: marketing collects what is missing; say what in the note"
        )
        choose("Reviewer", "revops@example.com")
        submit()
        deadline = time.monotonic() + 90
        while _refusals(mine.id) == 0 or "refused" not in _state_message(mine.flow_run_id):
            assert time.monotonic() < deadline, "the refusal was not recorded"
            time.sleep(0.5)
        _wait(mine.flow_run_id, "Suspended")
        page.reload()
        page.get_by_text("answer refused: need_more_info needs a note", exact=False).first.wait_for(
            timeout=30_000
        )
        shot(page, "2-refused-answer-run-page")
        page.get_by_role("button", name="Resume").click(timeout=30_000)
        page.get_by_text("Your last answer was refused:").wait_for()
        shot(page, "3-refused-answer-form")

        # A good answer; the run page then says what happened.
        choose("Decision", choice_label("approve_sql"))
        choose("Reviewer", "revops@example.com")
        field("Note \\(Optional\\)").locator("textarea").fill("spoke to them at HIMSS")
        page.keyboard.press("Tab")  # leave the note field so the form takes its value
        started = time.monotonic()
        submit()
        _wait(mine.flow_run_id, "Completed")
        resumed_to_completed = time.monotonic() - started
        page.reload()
        page.get_by_text("lead is now sql", exact=False).first.wait_for(timeout=30_000)
        shot(page, "4-outcome-run-page")
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text(f"review-{mine.id[:8]}", exact=True).first.wait_for(timeout=30_000)
        shot(page, "5-run-artifacts")
        page.get_by_text(f"review-{mine.id[:8]}", exact=True).first.click()
        page.get_by_text(f"Review {mine.id[:8]}: decided", exact=False).first.wait_for()
        assert page.get_by_text("via ui", exact=False).count() > 0
        shot(page, "6-outcome-artifact")

        # Ops' day: the inbox lists exactly the waiting reviews.
        page.goto(notice.template_context["inbox_url"])
        page.get_by_text(f"review {other.id[:8]}", exact=False).first.wait_for(timeout=30_000)
        assert page.get_by_text(f"review {mine.id[:8]}", exact=False).count() == 0
        shot(page, "7-inbox")
        # The latest form summary is the run that did the work (2 submissions), not a later
        # sweep that found nothing.
        assert inbound_form().processed == 0
        with get_client(sync_client=True) as client:
            (latest,) = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=["form-run-summary"])
                )
            )
        page.goto(f"{base}/artifacts/artifact/{latest.latest_id}")
        page.get_by_text("submissions processed:", exact=False).first.wait_for(timeout=30_000)
        assert page.get_by_text(re.compile(r"submissions processed: 2 in 1 chunk")).count() > 0
        shot(page, "8-latest-form-summary")
        browser.close()

    with session_scope() as session:
        decided = session.get(Review, mine.id)
        approved = session.get(Lead, mine.lead_id)
    assert decided is not None and (decided.decided_by, decided.via) == ("revops@example.com", "ui")
    assert approved is not None and approved.status == "sql"
    print(f"UI submit to Completed: {resumed_to_completed:.1f} s")
    (OUTPUT / "resume-to-completed-seconds.txt").write_text(f"{resumed_to_completed:.1f}\n")
