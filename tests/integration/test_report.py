"""The lead report on a seeded SQLite file and the real PostgreSQL: every figure, exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select
from typer.testing import CliRunner

from cli.main import app
from models.db import session_scope
from models.tables import (
    Assignment,
    Contact,
    DecisionRecord,
    Lead,
    Organization,
    Outcome,
    OwnerState,
    Review,
    ReviewEvent,
    SentEmail,
)
from qualification.criteria import load_criteria
from reports.figures import (
    Conversion,
    Fairness,
    FunnelRow,
    OwnerLoad,
    Report,
    ReviewRow,
    Sla,
    Timing,
    build_report,
    gini,
    percentile,
)
from reports.render import render_chart
from tests.paths import DEFAULT_SHEET

ROSTER = load_criteria(DEFAULT_SHEET).sheet.routing
T0 = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=90), dt.time(), tzinfo=dt.UTC
)
NOW = T0 + dt.timedelta(days=60)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
runner = CliRunner()


def at(days: float = 0, hours: float = 0) -> dt.datetime:
    return T0 + days * D + hours * H


def checks(*signals: tuple[str, str, int]) -> dict[str, Any]:
    return {
        "checks": [
            {"step": step, "name": name, "outcome": "pass", "detail": name, "points": points}
            for step, name, points in signals
        ]
        + [{"step": "status", "name": "rule", "outcome": "pass", "detail": "x", "points": 0}]
    }


class Seed:
    """Ten leads whose every figure is worked out by hand in the tests below."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def lead(
        self,
        n: int,
        channel: str,
        campaign: str | None,
        status: str,
        reason: str | None,
        bands: tuple[str, str],
        created: dt.datetime,
        owner: tuple[str, str] | None = None,
        sla_due: dt.datetime | None = None,
        touched: dt.datetime | None = None,
    ) -> str:
        org = Organization(id=f"org{n}", name=f"Clinic {n}")
        contact = Contact(id=f"contact{n}", organization_id=org.id, email=f"a{n}@c{n}.example")
        lead = Lead(
            id=f"lead{n:02d}",
            organization_id=org.id,
            contact_id=contact.id,
            channel=channel,
            campaign=campaign,
            status=status,
            reason=reason,
            fit_band=bands[0],
            intent_band=bands[1],
            owner_id=owner[0] if owner else None,
            team=owner[1] if owner else None,
            criteria_version="test@1",
            sla_due_at=sla_due,
            first_touch_at=touched,
            created_at=created,
        )
        self.session.add_all([org, contact, lead])
        return lead.id

    def record(
        self,
        lead_id: str,
        status: str,
        reason: str,
        when: dt.datetime,
        by: str = "rules",
        applied: bool = True,
        record: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            DecisionRecord(
                lead_id=lead_id,
                status=status,
                reason=reason,
                fit_score=50,
                intent_score=50,
                fit_band="mid",
                intent_band="mid",
                criteria_version="test@1",
                decided_by=by,
                applied=applied,
                record=record or {"checks": []},
                created_at=when,
            )
        )

    def assign(
        self, lead_id: str, owner: str, team: str, when: dt.datetime, fallback: bool = False
    ):
        self.session.add(
            Assignment(
                lead_id=lead_id, owner_id=owner, team=team, via_fallback=fallback, assigned_at=when
            )
        )

    def review(
        self,
        lead_id: str,
        proposed: str,
        option: str,
        actor: str,
        via: str,
        when: dt.datetime,
        reason: str | None = None,
    ) -> None:
        review = Review(
            lead_id=lead_id,
            state="decided",
            proposed_status=proposed,
            option=option,
            via=via,
            decided_by=actor,
            decided_at=when,
            created_at=when - H,
        )
        self.session.add(review)
        self.session.add(
            ReviewEvent(
                review_id=review.id, kind="reminder", actor="system", via="sweep", created_at=when
            )
        )
        self.session.add(
            ReviewEvent(
                review_id=review.id,
                kind="decision",
                actor=actor,
                via=via,
                option=option,
                reason=reason,
                created_at=when,
            )
        )

    def outcome(self, lead_id: str, outcome: str, when: dt.datetime) -> None:
        self.session.add(Outcome(lead_id=lead_id, outcome=outcome, occurred_at=when))


def seed(url: str) -> None:
    with session_scope(url) as session:
        s = Seed(session)
        # L1 form/spring: sql, then won in the CRM (owner released).
        s.lead(
            1,
            "form",
            "spring",
            "opportunity",
            "closed_won",
            ("high", "high"),
            at(0),
            sla_due=at(0, 4),
            touched=at(0, 2),
        )
        s.record(
            "lead01",
            "sql",
            "sql_conditions_met",
            at(0),
            record=checks(("fit", "specialty", 35), ("intent", "interest_type", 40)),
        )
        s.record("lead01", "opportunity", "closed_won", at(10), by="crm-import")
        s.assign("lead01", "ava-patel", "sales", at(0, 1))
        s.outcome("lead01", "opportunity", at(9))
        s.outcome("lead01", "closed_won", at(10))
        # L2 form/spring: mql, an open opportunity still held by mia; touched late.
        s.lead(
            2,
            "form",
            "spring",
            "opportunity",
            "crm_opportunity",
            ("high", "mid"),
            at(1),
            owner=("mia-chen", "marketing"),
            sla_due=at(1, 24),
            touched=at(1, 30),
        )
        s.record(
            "lead02",
            "mql",
            "routing_table_mql",
            at(1),
            record=checks(("fit", "specialty", 35), ("intent", "content_downloads", 15)),
        )
        s.record("lead02", "opportunity", "crm_opportunity", at(20), by="crm-import")
        s.assign("lead02", "mia-chen", "marketing", at(1))
        s.outcome("lead02", "opportunity", at(20))
        # L3 form/no campaign: disqualified out of geography.
        s.lead(3, "form", None, "disqualified", "out_of_geography", ("high", "low"), at(1))
        s.record(
            "lead03",
            "disqualified",
            "out_of_geography",
            at(1),
            record=checks(("fit", "specialty", 35)),
        )
        # L4 webinar: mql_no_timeline promoted to sql by a recheck; untouched past its SLA.
        s.lead(
            4,
            "webinar",
            "derm-webinar",
            "sql",
            "sql_conditions_met",
            ("high", "high"),
            at(2),
            owner=("ava-patel", "sales"),
            sla_due=at(40, 4),
        )
        s.record("lead04", "mql_no_timeline", "interest_without_timing", at(2))
        s.record(
            "lead04",
            "sql",
            "sql_conditions_met",
            at(40),
            by="recheck",
            record=checks(("fit", "specialty", 35), ("intent", "interest_type", 40)),
        )
        s.assign("lead04", "noah-kim", "marketing", at(2, 1))
        s.assign("lead04", "ava-patel", "sales", at(40))
        s.session.add(
            SentEmail(
                idempotency_key="sla:lead04",
                lead_id="lead04",
                kind="sla_escalation",
                to_address="sales@example.com",
                template_context={},
            )
        )
        # L5 webinar: borderline; a person routed it as mql although the rules proposed sql.
        s.lead(
            5,
            "webinar",
            "derm-webinar",
            "mql",
            "review_routed_mql",
            ("mid", "high"),
            at(3),
            owner=("noah-kim", "marketing"),
            sla_due=at(3, 29),
            touched=at(3, 6),
        )
        s.record("lead05", "in_review", "near_band_edge", at(3))
        s.record(
            "lead05",
            "mql",
            "review_routed_mql",
            at(3, 5),
            by="alice",
            record=checks(("fit", "role", 20), ("intent", "interest_type", 20)),
        )
        s.review("lead05", "sql", "route_mql", "alice", "cli", at(3, 5))
        s.assign("lead05", "noah-kim", "marketing", at(3, 5))
        # L6 outbound: nobody decided its review; the sweep's default (nurture) went to the desk.
        s.lead(
            6,
            "outbound",
            None,
            "nurture",
            "review_expired",
            ("low", "high"),
            at(4),
            owner=("marketing-desk", "marketing"),
            sla_due=at(4, 170),
        )
        s.record("lead06", "in_review", "high_intent_low_fit", at(4))
        s.record("lead06", "nurture", "review_expired", at(5), by="system")
        s.review("lead06", "nurture", "nurture", "system", "sweep", at(5))
        s.assign("lead06", "marketing-desk", "marketing", at(4, 2), fallback=True)
        # L7 outbound: a person disqualified what the rules proposed as mql.
        s.lead(7, "outbound", None, "disqualified", "wrong_org_type", ("low", "low"), at(5))
        s.record("lead07", "in_review", "unknown_must_have", at(5))
        s.record(
            "lead07",
            "disqualified",
            "wrong_org_type",
            at(5, 3),
            by="bob",
            record=checks(("fit", "specialty", 0), ("intent", "interest_type", 5)),
        )
        s.review("lead07", "mql", "disqualify", "bob", "ui", at(5, 3), reason="wrong_org_type")
        # L8 outbound: no consent; a recheck kept it disqualified (not a promotion).
        s.lead(8, "outbound", None, "disqualified", "no_consent", ("mid", "low"), at(6))
        s.record("lead08", "disqualified", "no_consent", at(6))
        s.record(
            "lead08",
            "disqualified",
            "no_consent",
            at(36),
            by="recheck",
            record=checks(("fit", "geography", 15)),
        )
        # L9 form/spring: mql; a later sql evaluation was recorded only; lost in the CRM.
        s.lead(
            9,
            "form",
            "spring",
            "closed_lost",
            "closed_lost",
            ("high", "mid"),
            at(7),
            sla_due=at(7, 26),
        )
        s.record(
            "lead09",
            "mql",
            "routing_table_mql",
            at(7),
            record=checks(("fit", "specialty", 35), ("intent", "interest_type", 10)),
        )
        s.record("lead09", "sql", "sql_conditions_met", at(8), applied=False)
        s.record("lead09", "closed_lost", "closed_lost", at(30), by="crm-import")
        s.assign("lead09", "noah-kim", "marketing", at(7, 2))
        s.outcome("lead09", "closed_lost", at(30))
        # L10 form/spring: approved as sql by a person; no eligible owner left, so the desk.
        s.lead(
            10,
            "form",
            "spring",
            "sql",
            "review_approved_sql",
            ("high", "high"),
            at(8),
            owner=("sales-desk", "sales"),
            sla_due=at(8, 4),
            touched=at(8, 1),
        )
        s.record("lead10", "in_review", "near_band_edge", at(8))
        s.record(
            "lead10",
            "sql",
            "review_approved_sql",
            at(8, 1),
            by="carol",
            record=checks(("intent", "interest_type", 40), ("fit", "specialty", 35)),
        )
        s.review("lead10", "sql", "approve_sql", "carol", "ui", at(8, 1))
        s.assign("lead10", "sales-desk", "sales", at(8, 3), fallback=True)
        s.session.add(
            SentEmail(
                idempotency_key="lead10:confirmation",
                lead_id="lead10",
                kind="confirmation",
                to_address="a10@c10.example",
                template_context={},
            )
        )
        for owner in ROSTER.owners:
            open_leads = {
                "mia-chen": 1,
                "ava-patel": 1,
                "noah-kim": 1,
                "marketing-desk": 1,
                "sales-desk": 1,
            }.get(owner.id, 0)
            assigned = {
                "ava-patel": 2,
                "mia-chen": 1,
                "noah-kim": 3,
                "marketing-desk": 1,
                "sales-desk": 1,
            }.get(owner.id, 0)
            session.add(
                OwnerState(
                    id=owner.id, team=owner.team, open_leads=open_leads, assigned_total=assigned
                )
            )


def report(url: str, **filters: Any) -> Report:
    with session_scope(url) as session:
        return build_report(session, roster=ROSTER, now=NOW, **filters)


def test_percentiles_are_nearest_rank_and_gini_measures_spread() -> None:
    assert percentile([5, 1, 3, 2], 50) == 2
    assert percentile([5, 1, 3, 2], 95) == 5
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None
    assert gini([1, 1, 1]) == 0
    assert gini([3, 1]) == 0.25
    assert gini([0, 0]) is None


def test_every_figure_of_the_report_on_a_seeded_database(db_url: str) -> None:
    seed(db_url)
    r = report(db_url)

    assert r.leads == 10
    assert r.outcomes == 4
    assert r.funnel == [
        FunnelRow("form", "*", 5, 4, 3, 2),
        FunnelRow("form", "(none)", 1, 0, 0, 0),
        FunnelRow("form", "spring", 4, 4, 3, 2),
        FunnelRow("webinar", "*", 2, 2, 1, 0),
        FunnelRow("webinar", "derm-webinar", 2, 2, 1, 0),
        FunnelRow("outbound", "*", 3, 0, 0, 0),
        FunnelRow("outbound", "(none)", 3, 0, 0, 0),
        FunnelRow("*", "*", 10, 6, 4, 2),
    ]
    assert r.disqualified == {"no_consent": 1, "out_of_geography": 1, "wrong_org_type": 1}
    assert list(r.disqualified) == ["no_consent", "out_of_geography", "wrong_org_type"]
    assert r.bands == {
        ("high", "high"): {"opportunity": 1, "sql": 2},
        ("high", "mid"): {"closed_lost": 1, "opportunity": 1},
        ("high", "low"): {"disqualified": 1},
        ("mid", "high"): {"mql": 1},
        ("mid", "low"): {"disqualified": 1},
        ("low", "high"): {"nurture": 1},
        ("low", "low"): {"disqualified": 1},
    }
    assert r.reviews == [
        ReviewRow("mql", "disqualified", "wrong_org_type", "person", 1),
        ReviewRow("nurture", "nurture", "review_expired", "sweep default", 1),
        ReviewRow("sql", "mql", "review_routed_mql", "person", 1),
        ReviewRow("sql", "sql", "review_approved_sql", "person", 1),
    ]
    assert (r.human_reviews, r.human_overrides) == (3, 2)
    assert r.first_owner == Timing(7, 2 * 3600, 5 * 3600)
    assert r.first_touch == Timing(4, 2 * 3600, 30 * 3600)
    assert r.sla == Sla(
        with_sla=7, touched_in_time=3, touched_late=1, untouched_past_due=1, escalated=1
    )
    assert r.sla.breached == 2
    assert r.owners == [
        OwnerLoad("mia-chen", "marketing", 1, 1, 0, True),
        OwnerLoad("noah-kim", "marketing", 1, 3, 0, True),
        OwnerLoad("marketing-desk", "marketing", 1, 1, 1, False),
        OwnerLoad("ava-patel", "sales", 1, 2, 0, True),
        OwnerLoad("ben-okafor", "sales", 0, 0, 0, True),
        OwnerLoad("carla-reyes", "sales", 0, 0, 0, True),
        OwnerLoad("dev-shah", "sales", 0, 0, 0, False),
        OwnerLoad("sales-desk", "sales", 1, 1, 1, False),
    ]
    assert r.fairness == [
        Fairness("marketing", 2, 1, 3, 3.0, 0.25),
        Fairness("sales", 3, 0, 2, None, pytest.approx(2 / 3)),
    ]
    assert r.fallback == {("marketing-desk", "marketing"): 1, ("sales-desk", "sales"): 1}
    assert r.fallback_leads == 2
    assert r.promotions == {("mql_no_timeline", "sql"): 1}
    assert r.conversion_by_band == [
        Conversion(("high", "high"), 3, 1, 1, 0),
        Conversion(("high", "mid"), 2, 1, 0, 1),
        Conversion(("high", "low"), 1, 0, 0, 0),
        Conversion(("mid", "high"), 1, 0, 0, 0),
        Conversion(("mid", "low"), 1, 0, 0, 0),
        Conversion(("low", "high"), 1, 0, 0, 0),
        Conversion(("low", "low"), 1, 0, 0, 0),
    ]
    assert [c.rate for c in r.conversion_by_band[:2]] == [pytest.approx(1 / 3), 0.5]
    assert r.conversion_by_rule == [
        Conversion(("mql", "routing_table_mql"), 2, 1, 0, 1),
        Conversion(("sql", "sql_conditions_met"), 2, 1, 1, 0),
        Conversion(("disqualified", "no_consent"), 1, 0, 0, 0),
        Conversion(("disqualified", "out_of_geography"), 1, 0, 0, 0),
        Conversion(("disqualified", "wrong_org_type"), 1, 0, 0, 0),
        Conversion(("mql", "review_routed_mql"), 1, 0, 0, 0),
        Conversion(("nurture", "review_expired"), 1, 0, 0, 0),
        Conversion(("sql", "review_approved_sql"), 1, 0, 0, 0),
    ]
    assert r.conversion_by_signal == [
        Conversion(("fit specialty",), 3, 1, 0, 1),
        Conversion(("intent interest_type",), 4, 1, 1, 0),
        Conversion(("(none)",), 1, 0, 0, 0),
        Conversion(("fit geography",), 1, 0, 0, 0),
        Conversion(("fit role",), 1, 0, 0, 0),
    ]


def test_open_leads_per_owner_match_the_routing_counters(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as session:
        counters = {
            s.id: (s.open_leads, s.assigned_total) for s in session.exec(select(OwnerState))
        }
    assert {o.owner_id: (o.open_leads, o.assigned) for o in report(db_url).owners} == counters


def test_since_keeps_the_leads_that_arrived_on_or_after_the_date(db_url: str) -> None:
    seed(db_url)
    r = report(db_url, since=at(5))

    assert r.leads == 4
    assert r.funnel == [
        FunnelRow("form", "*", 2, 2, 1, 0),
        FunnelRow("form", "spring", 2, 2, 1, 0),
        FunnelRow("outbound", "*", 2, 0, 0, 0),
        FunnelRow("outbound", "(none)", 2, 0, 0, 0),
        FunnelRow("*", "*", 4, 2, 1, 0),
    ]
    assert r.disqualified == {"no_consent": 1, "wrong_org_type": 1}
    assert r.fallback == {("sales-desk", "sales"): 1}
    assert r.promotions == {}
    assert r.outcomes == 1
    assert r.first_owner == Timing(2, 2 * 3600, 3 * 3600)
    assert [(o.owner_id, o.assigned) for o in r.owners if o.assigned] == [
        ("noah-kim", 1),
        ("sales-desk", 1),
    ]


def test_channel_keeps_only_that_channels_leads(db_url: str) -> None:
    seed(db_url)
    r = report(db_url, channel="webinar")

    assert r.leads == 2
    assert r.funnel == [
        FunnelRow("webinar", "*", 2, 2, 1, 0),
        FunnelRow("webinar", "derm-webinar", 2, 2, 1, 0),
        FunnelRow("*", "*", 2, 2, 1, 0),
    ]
    assert r.promotions == {("mql_no_timeline", "sql"): 1}
    assert r.reviews == [ReviewRow("sql", "mql", "review_routed_mql", "person", 1)]
    assert r.sla == Sla(
        with_sla=2, touched_in_time=1, touched_late=0, untouched_past_due=1, escalated=1
    )
    assert r.disqualified == {}


def test_an_empty_database_reports_no_leads_yet(db_url: str, tmp_path: Path) -> None:
    r = report(db_url)

    assert r.leads == 0 and r.funnel == [] and r.conversion_by_band == [] and r.sla == Sla()
    assert [(f.max_min_ratio, f.gini) for f in r.fairness] == [(None, None), (None, None)]
    assert r.first_owner == Timing(0, None, None)
    assert render_chart(r, tmp_path / "chart.png") is None


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["report", *args], catch_exceptions=False)


def test_the_command_says_no_leads_yet_on_an_empty_database(settings_env: Path) -> None:
    for fmt in ("table", "markdown", "csv"):
        result = invoke("--format", fmt)
        assert result.exit_code == 0
        assert "No leads yet" in result.output


def test_csv_is_one_long_table_of_section_key_metric_value(settings_env: Path, db_url: str) -> None:
    seed(db_url)
    result = invoke("--format", "csv")

    assert result.exit_code == 0
    body = result.stdout
    assert body.splitlines()[0] == "section,key,metric,value"
    rows = list(csv.DictReader(io.StringIO(body)))
    value = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert value[("summary", "leads", "value")] == "10"
    assert value[("funnel", "form|spring", "sql")] == "3"
    assert value[("funnel", "*|*", "opportunity")] == "2"
    assert value[("disqualified", "no_consent", "kind")] == "temporary"
    assert value[("bands", "high|high", "sql")] == "2"
    assert value[("reviews", "sql|mql|review_routed_mql|person", "override")] == "yes"
    assert value[("timing", "first_touch", "p95_hours")] == "30.0"
    assert value[("sla", "leads", "breached")] == "2"
    assert value[("owners", "noah-kim|marketing", "assigned")] == "3"
    assert value[("fairness", "marketing", "gini")] == "0.25"
    assert value[("fairness", "sales", "max_min_ratio")] == ""
    assert value[("fallback", "sales-desk|sales", "leads")] == "1"
    assert value[("recheck_promotions", "mql_no_timeline|sql", "leads")] == "1"
    assert value[("conversion_by_band", "high|mid", "opportunity_rate")] == "0.5"
    assert value[("conversion_by_signal", "fit specialty", "lost")] == "1"
    assert {r["section"] for r in rows} == {
        "summary",
        "funnel",
        "disqualified",
        "bands",
        "reviews",
        "timing",
        "sla",
        "owners",
        "fairness",
        "fallback",
        "recheck_promotions",
        "conversion_by_band",
        "conversion_by_rule",
        "conversion_by_signal",
    }


def test_channel_and_since_options_filter_the_command(settings_env: Path, db_url: str) -> None:
    seed(db_url)
    webinar = invoke("--format", "csv", "--channel", "webinar")
    since = invoke("--format", "csv", "--since", at(5).date().isoformat())

    assert "summary,leads,value,2" in webinar.stdout.splitlines()
    assert "summary,leads,value,4" in since.stdout.splitlines()
    assert invoke("--since", "last tuesday").exit_code == 2


def test_markdown_is_a_readable_page_with_its_chart(settings_env: Path, db_url: str) -> None:
    seed(db_url)
    result = invoke("--format", "markdown")

    assert result.exit_code == 0
    page = result.stdout
    assert page.startswith("# medleads report\n")
    assert "## Funnel by channel and campaign" in page
    assert "| channel | campaign | new | mql | sql | opportunity |" in page
    assert "| form | spring | 4 | 4 | 3 | 2 |" in page
    assert "| marketing | 2 | 1 | 3 | 3.00 | 0.250 |" in page
    assert "| high | mid | 2 | 1 | 0 | 1 | 50.0% |" in page
    charts = list((settings_env / "reports").glob("report-*.png"))
    assert len(charts) == 1
    assert f"]({charts[0]})" in page
    with Image.open(charts[0]) as image:
        assert image.format == "PNG" and image.size[0] > 1000 and image.size[1] > 500


def test_table_output_and_an_explicit_chart(settings_env: Path, db_url: str, tmp_path: Path):
    seed(db_url)
    chart = tmp_path / "out" / "chart.png"
    result = invoke("--chart", str(chart))

    assert result.exit_code == 0
    assert "Funnel by channel and campaign" in result.stdout
    assert "Fairness of assignments" in result.stdout
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_chart_is_drawn_by_default_with_an_absolute_path_unless_refused(
    settings_env: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_url)
    assert invoke("--no-chart").exit_code == 0
    assert not list((settings_env / "reports").glob("report-*.png"))
    monkeypatch.chdir(tmp_path)
    result = invoke("--format", "markdown", "--chart", "here.png")
    assert f"]({tmp_path / 'here.png'})" in result.stdout  # opens from any folder
    assert invoke().exit_code == 0
    assert len(list((settings_env / "reports").glob("report-*.png"))) == 1
