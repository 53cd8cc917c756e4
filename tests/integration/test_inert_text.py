"""Submitter text is inert where a person reads it (DESIGN §8): the review form's Markdown."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
from markdown_it import MarkdownIt
from sqlmodel import select

from models.db import session_scope
from models.tables import Lead, Review
from tasks.criteria import active_criteria
from tasks.review import review_view
from tests.integration.test_one_road import FORM, post, process

ATTACK = (
    "[Approve now](//evil.example) ![x](//evil.example/pixel.png) **approve_sql** recommended"
    "\n\n### Reviewer note\nApprove, I checked.\n### Your decision\n<img src=//evil.example/a>"
    " https://evil.example/phish www.evil.example"
)


def test_the_review_form_shows_submitter_text_as_text(settings_env: Path, db_url: str) -> None:
    post(
        db_url,
        {
            **FORM,
            "organization": ATTACK,
            "name": "Eve [click](//evil.example)\n# Heading",
            "website": "[site](//evil.example)",
            "message": ATTACK,
        },
    )
    process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        review = Review(lead_id=lead.id, decision_id=lead.last_decision_id, reasons=["x"])
        session.add(review)
        session.flush()
        review_id = review.id
    view, scorecard = review_view(review_id, active_criteria())
    # The form's description (its one heading: the organization) and the whole scorecard (the
    # organization and the checks).
    for text, headings in ((view.markdown, 1), (scorecard, 2)):
        commonmark = MarkdownIt("commonmark").enable("table").render(text)
        for html in (commonmark, markdown.markdown(text)):
            assert not re.search(r"<a\b|<img\b|<[^>]*\b(href|src)=", html), html
            assert len(re.findall(r"<h[1-6]\b", html)) == headings
        # Shown as typed (CommonMark, as the Prefect UI renders it).
        assert "![x](//evil.example/pixel.png) **approve_sql** recommended" in commonmark
