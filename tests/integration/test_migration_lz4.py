"""Migration 0007: the large JSON columns are compressed with lz4 on PostgreSQL, and a stored
record still reads back the same."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from models.db import normalize_url


def test_large_json_columns_use_lz4_and_a_compressed_record_reads_back(
    pg_database: str,
) -> None:
    engine = create_engine(normalize_url(pg_database))
    with engine.connect() as conn:
        methods = dict(
            conn.execute(
                text(
                    "SELECT attrelid::regclass::text || '.' || attname, attcompression "
                    "FROM pg_attribute WHERE (attrelid::regclass::text, attname) IN "
                    "(('decision_record', 'record'), ('handoff', 'payload'), "
                    "('raw_submission', 'payload'))"
                )
            ).all()
        )
        assert methods == {
            "decision_record.record": "l",
            "handoff.payload": "l",
            "raw_submission.payload": "l",
        }
        big = {"checks": [{"detail": f"check {n} " + "x" * 40} for n in range(200)]}
        conn.execute(
            text(
                "INSERT INTO raw_submission (id, channel, payload, received_at, stored_at, "
                "state, attempts) VALUES ('lz4-1', 'form', CAST(:p AS json), now(), now(), "
                "'rejected', 0)"
            ),
            {"p": json.dumps(big)},
        )
        stored = conn.execute(
            text(
                "SELECT pg_column_compression(payload), payload FROM raw_submission "
                "WHERE id = 'lz4-1'"
            )
        ).one()
        conn.rollback()
    engine.dispose()
    assert stored[0] == "lz4"
    assert stored[1] == big
