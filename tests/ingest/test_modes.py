"""Ingest modes: replace, append and upsert, each accounting for every row it reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.audit import log
from joinedup.errors import InputError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import Schema, parse_schema
from joinedup.storage import delta
from joinedup.storage.query import run_query
from tests.conftest import CliResult, write_csv
from tests.ingest.stats import assert_no_statistics_of

ACCOUNTS = """
fields:
  - {name: id, type: integer}
  - {name: name, type: string, personal: true}
  - {name: balance, type: number, constraints: {minimum: 0}}
primaryKey: [id]
"""

CHANGES = """
fields:
  - {name: id, type: integer}
  - {name: name, type: string, personal: true}
  - {name: balance, type: number, constraints: {minimum: 0}}
  - {name: gone, type: boolean}
primaryKey: [id]
deletionFlag: gone
"""

FIRST = "id,name,balance\n1,Ann,10\n2,Bob,20\n3,Cat,30\n"


def load(estate: Estate, path: Path, mode: str, schema: str | None = None, dataset: str = "accounts"):
    return ingest(
        estate, path, dataset=dataset, principal="tester", mode=mode, schema=parse_schema(schema) if schema else None
    )


def table(estate: Estate, dataset: str = "accounts", version: int | None = None) -> list[dict]:
    info = Catalogue(estate).get(dataset)
    number = info.version(version).number
    sql = f"SELECT * FROM {dataset} ORDER BY 3"  # the first field, after _ingest and _source_row
    return run_query(estate, sql, datasets={dataset: number}).records()


def nothing_lost(result) -> bool:
    return (
        result.rows_read == result.rows_inserted + result.rows_updated + result.rows_deleted + result.rows_quarantined
    )


def test_append_adds_rows_and_quarantines_keys_the_dataset_already_holds(estate: Estate, tmp_path: Path) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    second = load(
        estate, write_csv(tmp_path / "b.csv", "id,name,balance\n4,Dan,40\n2,Bob again,25\n5,Eve,50\n"), "append"
    )
    assert (second.mode, second.rows_read, second.rows_inserted, second.rows_quarantined, second.rows_total) == (
        "append",
        3,
        2,
        1,
        5,
    )
    assert nothing_lost(second)
    stored = table(estate)
    assert [(r["id"], r["name"], r["_ingest"], r["_source_row"]) for r in stored] == [
        (1, "Ann", 1, 2),
        (2, "Bob", 1, 3),
        (3, "Cat", 1, 4),
        (4, "Dan", 2, 2),
        (5, "Eve", 2, 4),
    ]
    [duplicate] = read_quarantine(estate, "accounts").rows
    assert duplicate["_source_row"] == 3
    [reason] = duplicate["_errors"]
    assert (reason["column"], reason["rule"], reason["value"]) == ("id", "primaryKey", "2")
    assert reason["message"] == "duplicates the primary key of row 3 loaded by version 1"
    assert len(table(estate, version=1)) == 3  # the version before is untouched


def test_upsert_inserts_and_updates_by_primary_key_and_the_changed_rows_carry_the_new_ingest(
    estate: Estate, tmp_path: Path
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    second = load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n2,Bob,21\n4,Dan,40\n"), "upsert")
    assert (second.rows_read, second.rows_inserted, second.rows_updated, second.rows_deleted, second.rows_total) == (
        2,
        1,
        1,
        0,
        4,
    )
    assert second.rows_loaded == 2 and nothing_lost(second)
    stored = table(estate)
    assert [(r["id"], r["balance"], r["_ingest"], r["_source_row"]) for r in stored] == [
        (1, 10.0, 1, 2),
        (2, 21.0, 2, 2),
        (3, 30.0, 1, 4),
        (4, 40.0, 2, 3),
    ]
    assert [r["balance"] for r in table(estate, version=1)] == [10.0, 20.0, 30.0]


def test_upsert_deletes_flagged_keys_and_quarantines_deletions_of_keys_it_does_not_hold(
    estate: Estate, tmp_path: Path
) -> None:
    load(
        estate,
        write_csv(tmp_path / "a.csv", "id,name,balance,gone\n1,Ann,10,\n2,Bob,20,no\n3,Cat,30,\n"),
        "replace",
        CHANGES,
    )
    # A deletion needs only its key and flag: the other values are not checked (-5 is below the minimum).
    changes = "id,name,balance,gone\n2,,-5,yes\n9,,,yes\n3,Cat,31,no\n"
    second = load(estate, write_csv(tmp_path / "b.csv", changes), "upsert")
    assert (
        second.rows_read,
        second.rows_inserted,
        second.rows_updated,
        second.rows_deleted,
        second.rows_quarantined,
    ) == (3, 0, 1, 1, 1)
    assert second.rows_total == 2 and nothing_lost(second)
    assert [(r["id"], r["balance"]) for r in table(estate)] == [(1, 10.0), (3, 31.0)]
    [absent] = read_quarantine(estate, "accounts").rows
    assert absent["_source_row"] == 3
    assert [(e["column"], e["rule"], e["value"], e["message"]) for e in absent["_errors"]] == [
        ("id", "deletionFlag", "9", "deletes a primary key the dataset does not hold")
    ]


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_a_deletion_outside_an_upsert_is_quarantined_not_stored(estate: Estate, tmp_path: Path, mode: str) -> None:
    result = load(
        estate, write_csv(tmp_path / "a.csv", "id,name,balance,gone\n1,Ann,10,\n2,Bob,20,yes\n"), mode, CHANGES
    )
    assert (result.rows_inserted, result.rows_quarantined) == (1, 1)
    [flagged] = read_quarantine(estate, "accounts").rows
    [reason] = flagged["_errors"]
    assert (reason["column"], reason["rule"], reason["value"]) == ("gone", "deletionFlag", "yes")
    assert "--mode upsert" in reason["message"]


def test_repeated_keys_within_an_upsert_file_keep_the_first_and_quarantine_the_rest(
    estate: Estate, tmp_path: Path
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    second = load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n1,Ann,11\n1,Ann,12\n"), "upsert")
    assert (second.rows_updated, second.rows_quarantined) == (1, 1)
    assert table(estate)[0]["balance"] == 11.0
    assert read_quarantine(estate, "accounts").rows[0]["_errors"][0]["message"] == "duplicates the primary key of row 2"


@pytest.mark.parametrize("mode", ["replace", "append", "upsert"])
def test_a_missing_key_is_quarantined_in_every_mode(estate: Estate, tmp_path: Path, mode: str) -> None:
    # Table Schema requires primary key values: a replace must not load a row no key can name either.
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    result = load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n,Nobody,1\n,,\n7,Gil,70\n"), mode)
    assert (result.rows_inserted, result.rows_quarantined) == (1, 2)
    keyless = read_quarantine(estate, "accounts").rows
    assert [[(e["column"], e["rule"]) for e in row["_errors"]] for row in keyless] == [[("id", "required")]] * 2
    assert all(row["id"] is not None for row in table(estate))


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_append_and_upsert_into_a_new_dataset_load_its_first_version(estate: Estate, tmp_path: Path, mode: str) -> None:
    result = load(estate, write_csv(tmp_path / "a.csv", FIRST), mode, ACCOUNTS)
    assert (result.version, result.mode, result.rows_inserted, result.rows_total) == (1, mode, 3, 3)


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_append_and_upsert_need_a_primary_key(estate: Estate, tmp_path: Path, mode: str) -> None:
    keyless = ACCOUNTS.replace("primaryKey: [id]", "")
    with pytest.raises(
        SchemaError, match=rf"^--mode {mode} into 'accounts' needs a primaryKey in the schema"
    ) as raised:
        load(estate, write_csv(tmp_path / "a.csv", FIRST), mode, keyless)
    assert "\n" not in str(raised.value)
    assert Catalogue(estate).find("accounts") is None


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        (
            ACCOUNTS.replace("type: number, constraints: {minimum: 0}", "type: string"),
            "changes 'balance' from number to string",
        ),
        (
            ACCOUNTS.replace("primaryKey: [id]", "primaryKey: [id, name]"),
            "changes the primary key from ['id'] to ['id', 'name']",
        ),
        (ACCOUNTS.replace("primaryKey", "  - {name: extra, type: string}\nprimaryKey"), "adds 'extra'"),
    ],
)
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_append_and_upsert_refuse_a_schema_that_changes_columns_types_or_key(
    estate: Estate, tmp_path: Path, mode: str, changed: str, problem: str
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    table_version = delta.latest_version(estate.table_path("accounts"))
    with pytest.raises(SchemaError, match="only --mode replace changes") as raised:
        load(estate, write_csv(tmp_path / "b.csv", "id,name,balance,extra\n9,Ivy,1,x\n"), mode, changed)
    assert problem in str(raised.value) and "\n" not in str(raised.value)
    assert [v.number for v in Catalogue(estate).get("accounts").versions] == [1]
    assert delta.latest_version(estate.table_path("accounts")) == table_version


def test_an_unknown_mode_is_refused(estate: Estate, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ingest mode 'merge': expected one of replace, append, upsert"):
        load(estate, write_csv(tmp_path / "a.csv", FIRST), "merge", ACCOUNTS)


def test_the_lineage_is_the_same_in_the_summary_the_catalogue_and_the_audit_entry(
    estate: Estate, tmp_path: Path
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    result = load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n2,Bob,21\n4,Dan,40\n5,Eve,-1\n"), "upsert")
    version = Catalogue(estate).get("accounts").current
    counts = ("mode", "rows_read", "rows_inserted", "rows_updated", "rows_deleted", "rows_quarantined", "rows_total")
    assert (
        {k: getattr(version, k) for k in counts}
        == {k: getattr(result, k) for k in counts}
        == {
            "mode": "upsert",
            "rows_read": 3,
            "rows_inserted": 1,
            "rows_updated": 1,
            "rows_deleted": 0,
            "rows_quarantined": 1,
            "rows_total": 4,
        }
    )
    entry = log(estate, action="dataset.ingest")[-1]
    assert {k: entry.detail[k] for k in counts} == {k: getattr(result, k) for k in counts}
    assert entry.detail["source_sha256"] == version.source_sha256 == result.source_sha256
    assert Catalogue(estate).get("accounts").to_dict()["rows"] == 4


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_personal_columns_carry_no_statistics_after_append_and_upsert(
    estate: Estate, tmp_path: Path, mode: str
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n2,Bob,21\n4,Dan,40\n"), mode)
    assert_no_statistics_of(estate.table_path("accounts"), {"name"}, from_version=1)


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_column_newly_marked_personal_needs_a_replace(estate: Estate, tmp_path: Path, mode: str) -> None:
    # The files an append or upsert carries over keep the statistics they were written with.
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    now_personal = ACCOUNTS.replace("{name: balance, type: number,", "{name: balance, type: number, personal: true,")
    with pytest.raises(SchemaError, match="marks 'balance' personal; only --mode replace"):
        load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n3,Cat,33\n"), mode, now_personal)
    load(estate, write_csv(tmp_path / "c.csv", FIRST), "replace", now_personal)
    assert_no_statistics_of(estate.table_path("accounts"), {"name", "balance"}, from_version=1)


def test_kept_statistics_still_exist_for_columns_that_are_not_personal(estate: Estate, tmp_path: Path) -> None:
    # The assertion above cannot pass vacuously: the key column keeps its statistics through a merge.
    from tests.ingest.stats import columns_with_statistics

    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n2,Bob,21\n"), "upsert")
    assert "id" in columns_with_statistics(estate.table_path("accounts"), from_version=1)


def test_schema_changes_that_append_and_upsert_allow_become_a_new_schema_version(
    estate: Estate, tmp_path: Path
) -> None:
    load(estate, write_csv(tmp_path / "a.csv", FIRST), "replace", ACCOUNTS)
    stricter = ACCOUNTS.replace("constraints: {minimum: 0}", "constraints: {minimum: 15}")
    result = load(estate, write_csv(tmp_path / "b.csv", "id,name,balance\n7,Gil,5\n8,Hal,50\n"), "append", stricter)
    assert (result.schema_version, result.rows_inserted, result.rows_quarantined) == (2, 1, 1)
    assert Schema.from_dict(Catalogue(estate).get("accounts").schema).field("balance").constraints.minimum == 15


def test_the_command_takes_a_mode_and_its_summary_accounts_for_every_row(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    schema = tmp_path / "accounts.yaml"
    schema.write_text(ACCOUNTS)
    assert (
        cli("ingest", write_csv(tmp_path / "a.csv", FIRST), "--dataset", "accounts", "--schema", schema).exit_code == 0
    )
    changes = write_csv(tmp_path / "b.csv", "id,name,balance\n2,Bob,21\n4,Dan,40\n5,Eve,-1\n")
    summary = cli("ingest", changes, "--dataset", "accounts", "--mode", "upsert", "--json").json()
    assert {
        k: summary[k]
        for k in (
            "mode",
            "rows_read",
            "rows_inserted",
            "rows_updated",
            "rows_deleted",
            "rows_quarantined",
            "rows_total",
        )
    } == {
        "mode": "upsert",
        "rows_read": 3,
        "rows_inserted": 1,
        "rows_updated": 1,
        "rows_deleted": 0,
        "rows_quarantined": 1,
        "rows_total": 4,
    }
    shown = cli("ingest", changes, "--dataset", "accounts", "--mode", "append")
    assert (
        "version 3 (append): read 3 rows" in shown.stdout
        and "inserted 0, updated 0, deleted 0, quarantined 3; 4 rows" in shown.stdout
    )
    refused = cli("ingest", changes, "--dataset", "accounts", "--mode", "merge", "--json")
    assert refused.exit_code == 2  # a usage error: the mode is one of three choices
    assert refused.stderr.strip().count("\n") == 0 and "'merge' is not one of" in refused.stderr


_change = st.tuples(st.integers(1, 6), st.integers(0, 99), st.booleans())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(_change, max_size=6), min_size=1, max_size=3))
def test_upserts_agree_with_a_reference_and_lose_nothing(
    tmp_path_factory: pytest.TempPathFactory, files: list[list[tuple[int, int, bool]]]
) -> None:
    from joinedup.access import bootstrap_admin

    folder = tmp_path_factory.mktemp("upserts")
    estate = Estate.create(folder / "estate")
    bootstrap_admin(estate, "tester")
    state: dict[int, tuple[int, int]] = {}  # key -> (balance, version that wrote it)
    try:
        for number, rows in enumerate(files, start=1):
            expected = {"inserted": 0, "updated": 0, "deleted": 0, "quarantined": 0}
            seen: set[int] = set()
            for key, balance, gone in rows:
                if key in seen or (gone and key not in state):
                    expected["quarantined"] += 1
                elif gone:
                    expected["deleted"] += 1
                    del state[key]
                else:
                    expected["updated" if key in state else "inserted"] += 1
                    state[key] = (balance, number)
                seen.add(key)
            text = "id,name,balance,gone\n" + "".join(f"{k},N{k},{b},{'yes' if g else 'no'}\n" for k, b, g in rows)
            result = load(estate, write_csv(folder / f"{number}.csv", text), "upsert", CHANGES if number == 1 else None)
            assert nothing_lost(result)
            got = {k: getattr(result, f"rows_{k}") for k in expected}
            assert got == expected
            assert result.rows_total == len(state)
            stored = {r["id"]: (r["balance"], r["_ingest"]) for r in table(estate)}
            assert stored == {k: (float(b), v) for k, (b, v) in state.items()}
    finally:
        estate.close()


def test_keys_and_flags_named_like_sql_keywords_or_with_quotes_work_in_every_mode(
    estate: Estate, tmp_path: Path
) -> None:
    # The merge predicate and the stored-key join quote each name, as the validation query does.
    schema = (
        "fields: [{name: 'Order \"No\"', type: integer}, {name: select, type: string}, "
        "{name: From Date, type: boolean}]\n"
        "primaryKey: ['Order \"No\"', select]\ndeletionFlag: From Date\n"
    )
    header = '"Order ""No""",select,From Date\n'
    load(estate, write_csv(tmp_path / "a.csv", header + "1,a,no\n2,b,no\n"), "replace", schema, dataset="odd")
    changes = write_csv(tmp_path / "b.csv", header + "1,a,yes\n2,b,no\n3,c,\n")
    upserted = load(estate, changes, "upsert", dataset="odd")
    assert (upserted.rows_inserted, upserted.rows_updated, upserted.rows_deleted, upserted.rows_total) == (1, 1, 1, 2)
    appended = load(estate, changes, "append", dataset="odd")
    assert (appended.rows_inserted, appended.rows_quarantined) == (0, 3)
