"""accounts: organizations matched by registered domain or name and state; people by email

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:00:00

Existing data moves: each organization's domain becomes its registered domain and gets its name
key; organizations that now share a key become one account (leads and contacts follow the
oldest); a phone key no longer identifies a lead that has an email (hospitals share
switchboards, DESIGN §4).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qualification.identity import account_keys, match_account, registered_domain

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
        batch_op.add_column(sa.Column("locations_count", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_organization_name_key"), ["name_key"], unique=False)

    conn = op.get_bind()
    orgs = conn.execute(
        sa.text(
            "SELECT id, name, domain, state, created_at FROM organization ORDER BY created_at, id"
        )
    ).all()
    keep: dict[str, str] = {}  # account key -> the organization that keeps it
    domains: dict[str, str | None] = {}  # kept organization -> its registered domain
    merged: dict[str, str] = {}  # organization -> the one it joins
    for org_id, name, domain, state, _created in orgs:
        # The same keys and the same matching rule as new leads (qualification/identity.py).
        keys = account_keys(domain, name, state)
        target = match_account(keys, keep, domains.get)
        if target is not None:
            merged[org_id] = target
            continue
        registered = registered_domain(domain)
        name_key = next((k[5:] for k in keys if k.startswith("name:")), None)
        domains[org_id] = registered
        for key in keys:
            keep.setdefault(key, org_id)
        conn.execute(
            sa.text("UPDATE organization SET domain = :d, name_key = :n WHERE id = :i"),
            {"d": registered, "n": name_key, "i": org_id},
        )
    for org_id, target in merged.items():
        params = {"t": target, "o": org_id}
        conn.execute(
            sa.text("UPDATE lead SET organization_id = :t WHERE organization_id = :o"), params
        )
        conn.execute(
            sa.text("UPDATE contact SET organization_id = :t WHERE organization_id = :o"), params
        )
        conn.execute(sa.text("DELETE FROM organization WHERE id = :o"), {"o": org_id})
    conn.execute(
        sa.text(
            "DELETE FROM lead_key WHERE key LIKE 'phone:%' AND lead_id IN ("
            " SELECT lead.id FROM lead JOIN contact ON contact.id = lead.contact_id"
            " WHERE contact.email IS NOT NULL)"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_name_key"))
        batch_op.drop_column("locations_count")
        batch_op.drop_column("name_key")
