"""Making and opening an estate."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from joinedup.errors import BusyError, EstateError
from joinedup.estate import Catalogue, Estate, Lineage
from joinedup.estate.db import current_revision


def test_init_makes_the_layout_with_a_private_secret(tmp_path: Path) -> None:
    estate = Estate.create(tmp_path / "council")
    root = tmp_path / "council"
    assert (root / "joinedup.toml").is_file()
    assert (root / "catalogue.db").is_file()
    assert (root / "data").is_dir() and (root / "tmp").is_dir()
    secret = root / "keys" / "estate.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "keys").stat().st_mode) == 0o700
    # Other local accounts cannot read the data or the catalogue around joinedup's roles.
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert len(estate.secret) == 32
    assert estate.config.name == "council"


def test_each_estate_gets_its_own_secret(tmp_path: Path) -> None:
    assert Estate.create(tmp_path / "a").secret != Estate.create(tmp_path / "b").secret


def test_catalogue_schema_is_at_the_latest_migration(estate: Estate) -> None:
    revision = current_revision(estate.engine)
    assert revision is not None
    tables = set(sa.inspect(estate.engine).get_table_names())
    assert {"datasets", "schema_versions", "dataset_versions", "alembic_version"} <= tables


def test_init_refuses_an_existing_estate_and_a_non_empty_folder(tmp_path: Path) -> None:
    Estate.create(tmp_path / "e")
    with pytest.raises(EstateError, match="already exists"):
        Estate.create(tmp_path / "e")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(EstateError, match="not an empty folder"):
        Estate.create(other)
    assert (other / "notes.txt").read_text() == "keep me"


def test_open_names_a_missing_estate(tmp_path: Path) -> None:
    with pytest.raises(EstateError, match="joinedup init"):
        Estate.open(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(EstateError, match="not a joinedup estate"):
        Estate.open(tmp_path / "plain")


def test_a_secret_readable_by_others_is_refused(estate: Estate) -> None:
    (estate.keys_dir / "estate.secret").chmod(0o644)
    with pytest.raises(EstateError, match="chmod 600"):
        _ = estate.secret


def test_a_second_writer_on_a_dataset_is_refused(estate: Estate) -> None:
    with estate.lock("people"):
        other = Estate.open(estate.root)
        with pytest.raises(BusyError, match="people"), other.lock("people"):
            pass
        with other.lock("places"):
            pass


def test_dataset_names_must_be_sql_identifiers(estate: Estate) -> None:
    for bad in ("People", "1st", "a-b", "", "x" * 64):
        with pytest.raises(EstateError, match="dataset name"):
            estate.table_path(bad)
    # A dataset is a view in every query: SQL's reserved words and DuckDB's own names would clash.
    for reserved in ("select", "order", "table", "main", "information_schema", "duckdb_settings", "pg_class"):
        with pytest.raises(EstateError, match="keeps for itself"):
            estate.table_path(reserved)
    assert estate.table_path("orders").name == "table"


def test_record_version_numbers_versions_and_schemas(estate: Estate) -> None:
    lineage = Lineage(
        mode="replace",
        table_version=0,
        quarantine_version=None,
        source_name="a.csv",
        source_sha256="0" * 64,
        source_bytes=10,
        source_format="csv",
        source_encoding="utf-8",
        pipeline="test",
        rows_read=3,
        rows_inserted=2,
        rows_updated=0,
        rows_deleted=0,
        rows_quarantined=1,
        rows_total=2,
        rows_above_header=0,
        rule_counts={"x": {"required": 1}},
    )
    common = dict(principal="tester", lineage=lineage)
    with estate.session() as session:
        first = Catalogue.record_version(session, dataset="people", schema={"fields": [1]}, schema_digest="a", **common)
    with estate.session() as session:
        second = Catalogue.record_version(
            session, dataset="people", schema={"fields": [1]}, schema_digest="a", **common
        )
    with estate.session() as session:
        third = Catalogue.record_version(session, dataset="people", schema={"fields": [2]}, schema_digest="b", **common)
    assert (first.number, second.number, third.number) == (1, 2, 3)
    assert (first.schema_number, second.schema_number, third.schema_number) == (1, 1, 2)
    info = Catalogue(estate).get("people")
    assert info.schema == {"fields": [2]}
    assert info.current is not None and info.current.rule_counts == {"x": {"required": 1}}
    assert info.current.created_at.tzinfo is not None


def test_a_failed_transaction_records_nothing(estate: Estate) -> None:
    with pytest.raises(RuntimeError), estate.session() as session:
        Catalogue.record_version(
            session,
            dataset="people",
            schema={},
            schema_digest="a",
            principal="tester",
            lineage=Lineage(
                mode="replace",
                table_version=0,
                quarantine_version=None,
                source_name="a",
                source_sha256="0",
                source_bytes=0,
                source_format="csv",
                source_encoding=None,
                pipeline="t",
                rows_read=0,
                rows_inserted=0,
                rows_updated=0,
                rows_deleted=0,
                rows_quarantined=0,
                rows_total=0,
                rows_above_header=0,
                rule_counts={},
            ),
        )
        raise RuntimeError("boom")
    assert Catalogue(estate).find("people") is None


def test_the_shipped_head_revision_is_alembics_head(estate: Estate) -> None:
    from alembic.script import ScriptDirectory

    from joinedup.estate.db import MIGRATIONS, alembic_config, head_revision

    with estate.engine.connect() as connection:
        script = ScriptDirectory.from_config(alembic_config(connection))
    assert script.get_current_head() == head_revision() == current_revision(estate.engine)
    assert str(MIGRATIONS).endswith("migrations")


def test_an_estate_a_newer_joinedup_upgraded_is_refused_in_one_line_and_left_alone(estate: Estate) -> None:
    with estate.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    estate.close()
    with pytest.raises(EstateError) as refused:
        Estate.open(estate.root)
    message = str(refused.value)
    assert "'0099_from_the_future'" in message and "newer joinedup" in message and "\n" not in message
    engine = sa.create_engine(f"sqlite:///{estate.root / 'catalogue.db'}")
    assert current_revision(engine) == "0099_from_the_future"  # nothing was migrated or rewritten
    engine.dispose()


def test_settings_written_back_keep_other_sections(estate: Estate) -> None:
    from joinedup.estate.config import EstateConfig

    path = estate.root / "joinedup.toml"
    path.write_text(path.read_text() + '\n[audit]\ncheckpoint_every = 50\nnote = "keep"\n')
    config = EstateConfig.load(estate.root)
    config.save(estate.root)
    again = EstateConfig.load(estate.root)
    assert again.extra == {"audit": {"checkpoint_every": 50, "note": "keep"}}
    assert again.memory_limit == config.memory_limit


def test_the_reserved_words_are_duckdbs_own() -> None:
    import duckdb

    from joinedup.estate.estate import RESERVED_WORDS

    con = duckdb.connect()
    rows = con.execute("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'").fetchall()
    assert {word for (word,) in rows} == RESERVED_WORDS


def test_lookups_see_every_commit_at_once_and_cannot_write(estate: Estate) -> None:
    # The API asks these on every request (is the client revoked, has the dataset changed): a held connection
    # that kept an old snapshot would keep serving a revoked client.
    with estate.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (name TEXT)"))
    question = "SELECT count(*) FROM notes WHERE name = ?"
    assert estate.lookups.one(question, ("zoe",)) == (0,)
    with estate.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO notes (name) VALUES ('zoe')"))
    assert estate.lookups.one(question, ("zoe",)) == (1,)
    assert estate.lookups.one("SELECT name FROM notes WHERE name = ?", ("nobody",)) is None
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|query_only|attempt to write"):
        estate.lookups.one("DELETE FROM notes WHERE name = ?", ("zoe",))
    assert estate.lookups.one(question, ("zoe",)) == (1,)


def test_lookups_from_several_threads_each_use_their_own_connection_and_close_with_the_estate(estate: Estate) -> None:
    seen: list[tuple[object, ...] | None] = []
    workers = [threading.Thread(target=lambda: seen.append(estate.lookups.one("SELECT 1", ()))) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == [(1,)] * 4
    held = list(estate.lookups._held)
    assert len(held) == 4
    estate.close()
    for connection in held:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")
