"""`medleads demo`: the sample leads of every channel through the real flows, then where to look."""

from __future__ import annotations

from collections import Counter

from models.db import upgrade
from models.settings import PROJECT_ROOT, get_settings

from .channels import print_summary
from .console import out
from .leads import lead_lines

SAMPLES = PROJECT_ROOT / "intake" / "samples"


def demo() -> None:
    """Run the sample form posts, webinar list and outbound list through their flows."""
    from flows.inbound_form import inbound_form
    from flows.outbound_list import outbound_list
    from flows.webinar import webinar
    from intake.files import SubmissionFile
    from tasks.criteria import active_criteria
    from tasks.store import store_submissions

    settings = get_settings()
    criteria = active_criteria()
    upgrade()
    out.print(f"criteria {settings.criteria} (version {criteria.version})", markup=False)
    forms = SubmissionFile(SAMPLES / "forms.jsonl", channel="form")
    good = [(r.submission, r.raw) for r in forms.rows() if r.submission is not None]
    new, _ = store_submissions(good, source="forms.jsonl")
    out.print(f"stored {new} new sample form post(s) of {len(good)} (as the intake would)")
    print_summary(inbound_form())
    print_summary(webinar(file=str(SAMPLES / "webinar.csv")))
    print_summary(outbound_list(file=str(SAMPLES / "outbound.csv")))

    leads = lead_lines()
    statuses = Counter(line["status"] for line in leads)
    owners = Counter(line["owner"] for line in leads if line["owner"])
    data = settings.data_dir.resolve()
    out.print()
    out.print(f"{len(leads)} leads: " + ", ".join(f"{s} {n}" for s, n in statuses.most_common()))
    out.print("owners: " + ", ".join(f"{o} {n}" for o, n in owners.most_common()), markup=False)
    out.print(f"emails (.eml):       {data / 'outbox'}", markup=False)
    out.print(f"CRM handoffs:        {data / 'handoffs.jsonl'}", markup=False)
    out.print(f"rejected rows:       {data / 'reports'}", markup=False)
    out.print("every lead:          .venv/bin/medleads leads list", markup=False)
    out.print("one decision, why:   .venv/bin/medleads leads show <lead id>", markup=False)
    out.print("run it again: nothing is stored, sent or handed off twice.", markup=False)
