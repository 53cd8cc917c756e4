"""Submitter text is inert where a person reads it (DESIGN §8): the review form's Markdown."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
from markdown_it import MarkdownIt
from sqlmodel import select

from models.db import session_scope
from models.tables import Lead, Review
from tasks.review import prepare_review
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
        },
    )
    process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        review = Review(lead_id=lead.id, decision_id=lead.last_decision_id, reasons=["x"])
        session.add(review)
        session.flush()
        review_id = review.id
    description = prepare_review.fn(review_id).markdown

    commonmark = MarkdownIt("commonmark").enable("table").render(description)
    for html in (commonmark, markdown.markdown(description)):
        assert not re.search(r"<a\b|<img\b|<[^>]*\b(href|src)=", html), html
        # Only the scorecard's own three headings: the organization, the record, the choices.
        assert len(re.findall(r"<h[1-6]\b", html)) == 3
    # Shown as typed (CommonMark, as the Prefect UI renders it).
    assert "![x](//evil.example/pixel.png) **approve_sql** recommended" in commonmark
