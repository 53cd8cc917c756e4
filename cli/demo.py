"""`medleads demo`: the local stack up, the sample leads of every channel in through the real
paths (forms and a webinar callback over HTTP, an outbound list through its deployment), then a
summary and where to look. Borderline leads stay suspended for review. Safe to run again."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from typing import Any

import httpx
from rich.table import Table
from sqlmodel import col, func, select

from models.db import session_scope, upgrade
from models.settings import PROJECT_ROOT, get_settings

from .console import err, out
from .leads import lead_lines
from .stack import Stack, start

SAMPLES = PROJECT_ROOT / "intake" / "samples"


def _signed_post(client: httpx.Client, url: str, body: dict[str, Any], secret: str) -> str:
    from adapters.signing import sign

    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    response = client.post(
        url,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Medleads-Timestamp": stamp,
            "X-Medleads-Signature": sign(secret, stamp, raw),
        },
    )
    response.raise_for_status()
    return str(response.json()["submission_id"])


def _post_samples(s: Stack) -> list[str]:
    from intake.security import intake_secret

    secret = intake_secret()
    ids: list[str] = []
    with httpx.Client(timeout=10) as client:
        for line in (SAMPLES / "forms.jsonl").read_text().splitlines():
            ids.append(_signed_post(client, f"{s.intake_url}/v1/forms", json.loads(line), secret))
        with (SAMPLES / "webinar.csv").open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                callback = {k.lower().replace(" ", "_"): v for k, v in row.items()}
                ids.append(_signed_post(client, f"{s.intake_url}/v1/events/zoom", callback, secret))
    return ids


def _run_outbound() -> str:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment(
        "outbound-list/outbound-list",
        parameters={"file": str(SAMPLES / "outbound.csv")},
        timeout=0,
    )
    assert isinstance(run, FlowRun)
    return str(run.id)


def _run_report(seconds: float = 120) -> bool:
    """The daily report run now, so the ops summary exists when the demo prints its link;
    True when it completed in time."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment("report/report", timeout=seconds)
    assert isinstance(run, FlowRun)
    return bool(run.state and run.state.is_completed())


def undecided() -> int:
    """Submissions stored but not decided yet."""
    from models.tables import RawSubmission

    with session_scope() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(RawSubmission)
                .where(col(RawSubmission.state).in_(["pending", "claimed"]))
            ).one()
        )


def _reviews_waiting() -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client

    from tasks.review import pending_reviews

    lines = pending_reviews()
    with get_client(sync_client=True) as client:
        for line in lines:
            state = None
            if line["flow_run_id"]:
                from uuid import UUID

                state = client.read_flow_run(UUID(line["flow_run_id"])).state
            line["run_state"] = state.name if state else "not started"
    return lines


def _wait_until_decided(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        waiting = _reviews_waiting()
        if undecided() == 0 and all(r["run_state"] == "Suspended" for r in waiting):
            return
        time.sleep(2)
    err.print(f"not everything was decided within {seconds:.0f} s; the summary shows what was")


def _activate_criteria() -> None:
    """Make the sheet live explicitly (MEDLEADS_CRITERIA, criteria/default.yaml by default), so
    `medleads criteria history` shows where the demo's decisions came from; a no-op when that
    version is live already."""
    import typer

    from qualification.criteria import CriteriaError
    from tasks.criteria import activate

    try:
        activation, recorded = activate(get_settings().criteria, by="demo", note="medleads demo")
    except CriteriaError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    state = "activated" if recorded else "already live"
    out.print(f"criteria {activation.version} {state} (see medleads criteria history)")


def demo() -> None:
    """Start the stack, send the samples in through every channel, print what happened."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    s = start()
    with temporary_settings(updates={PREFECT_API_URL: s.prefect_api}):
        upgrade()
        _activate_criteria()
        ids = _post_samples(s)
        out.print(f"posted {len(ids)} form and webinar submissions to the intake over HTTP")
        run_id = _run_outbound()
        out.print(f"started the outbound-list deployment on the sample list (run {run_id[:8]})")
        _wait_until_decided(300)
        if not _run_report():
            err.print("the report run did not complete in time: the ops summary may be missing")
        _summary(s, _reviews_waiting())


def _summary(s: Stack, reviews: list[dict[str, Any]]) -> None:
    from tasks.ops import OPS_KEY
    from tasks.review import PENDING_TAG

    leads = lead_lines()
    statuses = Counter(line["status"] for line in leads)
    owners = Counter(line["owner"] for line in leads if line["owner"])
    outbox = list((s.data / "outbox").glob("*.eml")) if (s.data / "outbox").exists() else []
    handoffs = s.data / "handoffs.jsonl"
    handed = len(handoffs.read_text().splitlines()) if handoffs.exists() else 0
    table = Table(title="medleads demo", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row(
        "leads", f"{len(leads)}: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common())
    )
    table.add_row("owners", ", ".join(f"{k} {v}" for k, v in owners.most_common()))
    table.add_row("emails written", f"{len(outbox)} .eml files in {s.data / 'outbox'}")
    table.add_row("CRM handoffs", f"{handed} lines in {handoffs}")
    table.add_row("reviews waiting", f"{len(reviews)}: {s.ui}/runs?tag={PENDING_TAG}")
    for review in reviews:
        table.add_row(
            f"  {review['review_id'][:8]} {review['organization']}",
            f"{review['run_state']}: {s.ui}/runs/flow-run/{review['flow_run_id']}",
        )
    table.add_row("ops summary", f"{s.ui}/artifacts/key/{OPS_KEY}")
    table.add_row("Prefect UI", s.ui)
    table.add_row("intake", f"{s.intake_url}/v1/forms (signed posts; see README)")
    out.print(table)
    out.print(
        f"decide a review: open the inbox ({s.ui}/runs?tag={PENDING_TAG}), a run, Resume; "
        "or from this shell:",
        markup=False,
    )
    out.print(f"  export PREFECT_API_URL={s.prefect_api}", markup=False)
    out.print(
        "  .venv/bin/medleads review list; .venv/bin/medleads review approve <review id> "
        "--reviewer <a reviewer of the sheet>",
        markup=False,
    )
    out.print("stop everything: make stop")
