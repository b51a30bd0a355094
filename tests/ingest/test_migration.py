"""Revision 0003_ingest: versions recorded before ingest modes keep their counts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from joinedup.estate.db import current_revision, head_revision, migrate


def test_versions_from_before_ingest_modes_count_their_rows_as_inserted(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    migrate(engine, "0002")
    stamp = "2026-01-01 00:00:00.000000"
    with engine.begin() as db:
        db.execute(sa.text(f"INSERT INTO datasets VALUES (1, 'people', NULL, NULL, '{stamp}', 'tester')"))
        db.execute(
            sa.text(f"""INSERT INTO schema_versions VALUES (1, 1, 1, '{{"fields": []}}', 'd', '{stamp}', 'tester')""")
        )
        db.execute(
            sa.text(
                "INSERT INTO dataset_versions (id, dataset_id, number, schema_version_id, mode, table_version, "
                "source_name, source_sha256, source_bytes, source_format, pipeline, created_at, created_by, "
                "rows_read, rows_loaded, rows_quarantined, rule_counts) "
                "VALUES (1, 1, 1, 1, 'replace', 0, 'a.csv', 'x', 9, "
                f"'csv', 'p', '{stamp}', 'tester', 10, 7, 3, '{{}}')"
            )
        )
    migrate(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as db:
        counts = db.execute(
            sa.text("SELECT rows_inserted, rows_updated, rows_deleted, rows_total FROM dataset_versions")
        ).one()
    assert tuple(counts) == (7, 0, 0, 7)
