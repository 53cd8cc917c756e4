"""Leads per second of the pure core on one core, on real organizations with synthetic contacts.

Run: `python -m benchmarks.core_speed --rows 20000` (part of `make bench`). Prints the baseline
(reading rows into submissions only) and the full evaluation, measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import platform
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from qualification.submission import Submission, submission_from_mapping

from .figures import Figure, print_figures

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "orgs"
ROLES = ("Practice Administrator", "Office Manager", "CEO", "Medical Director", "Receptionist", "")
INTERESTS = ("demo", "pricing", "content", "general", "consultation", "")
TIMEFRAMES = ("within 60 days", "", "3-6 months", "next year", "not sure")
SPECIALTIES = ("Cardiology", "Dermatology", "Orthopedics", "", "Pediatrics", "heart center")
MESSAGES = (
    "",
    "Our front desk spends hours on paper intake; we'd like to see a demo.",
    "Please send pricing for three locations.",
    "I need to reschedule my appointment with Dr. Lee.",
)


def organizations() -> list[dict[str, str]]:
    """CMS hospitals and NPPES organizations mapped to canonical fields."""
    orgs: list[dict[str, str]] = []
    hospitals = SHARED / "cms_hospitals_slim.csv"
    if hospitals.exists():
        with hospitals.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                orgs.append(
                    {
                        "organization_name": r["Facility Name"],
                        "city": r["City/Town"],
                        "state": r["State"],
                        "postal_code": r["ZIP Code"],
                        "phone": r["Telephone Number"],
                        "org_type": r["Hospital Type"],
                    }
                )
    nppes = SHARED / "nppes_orgs_slim.csv"
    if nppes.exists():
        with nppes.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                orgs.append(
                    {
                        "organization_name": r["org_name"],
                        "npi": r["npi"],
                        "city": r["city"],
                        "state": r["state"],
                        "postal_code": r["postal_code_raw"],
                        "phone": r["phone_raw"],
                        "contact_role": r["auth_official_title"],
                    }
                )
    if not orgs:
        raise SystemExit(f"reference data not found under {SHARED}")
    return orgs


def rows(count: int) -> Iterator[dict[str, str]]:
    """`count` rows: real organizations cycled, synthetic contacts and intent varied per row."""
    orgs = organizations()
    for i, org in zip(range(count), itertools.cycle(orgs), strict=False):
        slug = "".join(ch for ch in org["organization_name"].lower() if ch.isalnum())[:20] or "org"
        yield {
            **org,
            "channel": "form" if i % 3 else "outbound",
            "contact_name": f"Contact {i}",
            "contact_role": org.get("contact_role") or ROLES[i % len(ROLES)],
            "email": f"contact{i}@{slug}.example.com" if i % 11 else f"bad{i}@@{slug}",
            "website": f"https://www.{slug}.example.com",
            "specialty": SPECIALTIES[i % len(SPECIALTIES)],
            "interest_type": INTERESTS[i % len(INTERESTS)],
            "timeframe": TIMEFRAMES[i % len(TIMEFRAMES)],
            "message": MESSAGES[i % len(MESSAGES)],
            "consent_email": "yes" if i % 4 else "",
            "consent_phone": "yes" if i % 5 == 0 else "",
            "page_visits_high_intent": str(i % 6),
            "content_downloads": str(i % 3),
            "locations_count": str(1 + i % 12),
        }


TARGET = 5000  # leads/s, validation included (issue 2)


def measure_figures(count: int) -> list[Figure]:
    """Reading rows into submissions (the baseline) and evaluating them, in one process."""
    criteria = load_criteria(ROOT / "criteria" / "default.yaml")
    today = dt.date(2026, 11, 27)
    data = list(rows(count))

    start = time.perf_counter()
    subs: list[Submission] = [submission_from_mapping(r, row=i) for i, r in enumerate(data, 2)]
    parse = time.perf_counter() - start

    statuses: Counter[str] = Counter()
    start = time.perf_counter()
    for sub in subs:
        statuses[evaluate(sub, criteria, today=today).status] += 1
    evaluation = time.perf_counter() - start
    total = parse + evaluation
    bench = f"pure core {count:,}"
    return [
        Figure(bench, "baseline: read into submissions", f"{count / parse:,.0f} leads/s"),
        Figure(
            bench,
            "evaluate (validation included)",
            f"{count / evaluation:,.0f} leads/s ({evaluation / count * 1e6:.0f} µs/lead)",
        ),
        Figure(
            bench,
            "read + evaluate",
            f"{count / total:,.0f} leads/s = {total / parse:.1f}x baseline",
            f">= {TARGET:,} leads/s",
            count / total >= TARGET,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    count = parser.parse_args().rows
    print_figures(measure_figures(count), f"Pure core, one process ({platform.python_version()})")


if __name__ == "__main__":
    main()
