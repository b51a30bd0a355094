"""JSON Lines: a line that cannot be used is quarantined with its reason; every other line loads."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.inference import infer_file_schema
from joinedup.ingest.quarantine import read_quarantine
from joinedup.ingest.readers import open_source
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query

SCHEMA = parse_schema(
    "fields:\n- {name: id, type: integer}\n- {name: name, type: string}\n- {name: extra, type: any}\n"
)


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def load(estate: Estate, path: Path):
    return ingest(estate, path, dataset="people", principal="tester", schema=SCHEMA)


def stored(estate: Estate) -> list[dict]:
    sql = "SELECT _source_row, id, name, extra FROM people ORDER BY _source_row"
    return run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()


def reasons(estate: Estate) -> dict[int, str]:
    return {r["_source_row"]: r["_errors"][0]["message"] for r in read_quarantine(estate, "people").rows}


def test_each_unusable_line_is_quarantined_with_its_reason_and_the_rest_load(estate: Estate, tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.jsonl",
        [
            b'{"id": 1, "name": "Sam", "extra": null}',
            b'{"id": 2, "name": "Zo\xeb"}',  # Windows-1252 in a UTF-8 file
            b'{"id": 3, "name": "Ann"',  # cut short
            b'{"id": 4, "name": "A", "name": "B"}',
            b'{"id": 5, "name": "\\ud800"}',
            b'{"id": 6, "Name": "Bill", "name": "William"}',
            b'{"id": 7, "name": {"first": "Dai"}}',
            b'["not", "an", "object"]',
            b'{"id": 9, "name": "\\ud83d\\ude00 Joy"}',  # a proper surrogate pair
            b'{"id": 10, " ": "blank"}',
        ],
    )
    result = load(estate, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (10, 2, 8)
    assert [(r["_source_row"], r["name"]) for r in stored(estate)] == [(1, "Sam"), (9, "😀 Joy")]
    why = reasons(estate)
    assert why[2] == "invalid UTF-8"
    assert why[3].startswith("not valid JSON")
    assert why[4] == "key 'name' appears more than once in the object"
    assert "lone UTF-16 surrogate" in why[5]
    assert why[6] == "keys 'Name' and 'name' differ only in case: one column, two values"
    assert why[7] == "key 'name' holds a JSON object or array; field 'name' expects one value"
    assert why[8] == "expected a JSON object on each line"
    assert why[10] == "has a key with no name: every value needs a column name"
    assert result.rule_counts["(row)"] == {"encoding": 1, "json": 7}


def test_keys_that_differ_only_in_case_across_lines_are_one_column(estate: Estate, tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.jsonl",
        [b'{"ID": 1, "Name": "Sam", "Extra": 0}', b'{"id": 2, "name": "Bill"}', b'{"Id": 3, "NAME": "Ann"}'],
    )
    result = load(estate, path)
    assert result.rows_loaded == 3
    assert [r["name"] for r in stored(estate)] == ["Sam", "Bill", "Ann"]


def test_nested_values_load_as_json_text_into_a_field_of_type_any(estate: Estate, tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [b'{"id": 1, "name": "Sam", "extra": {"b": [1, 2], "a": null}}'])
    assert load(estate, path).rows_loaded == 1
    assert json.loads(stored(estate)[0]["extra"]) == {"a": None, "b": [1, 2]}


def test_schema_infer_proposes_any_for_a_key_holding_objects(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", [b'{"id": 1, "tags": ["a"]}', b'{"id": 2, "tags": ["b", "c"]}'])
    schema = infer_file_schema(path)
    assert schema.field("tags").type == "any"
    assert "headerRow" not in schema.to_dict()


GOOD = st.builds(lambda i: json.dumps({"id": i, "name": f"n{i}"}).encode(), st.integers(0, 10**6))
BAD = st.sampled_from(
    [
        b'{"id": 1',
        b"\xff\xfe",
        b'{"a": 1, "a": 2}',
        b'{"name": "\\udc00"}',
        b"42",
        b'{"X": 1, "x": 2}',
        b'{"name": "\xe9"}',
    ]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), GOOD, BAD), min_size=1, max_size=30))
def test_every_line_is_loaded_or_set_aside_and_good_lines_keep_their_numbers(tmp_path_factory, lines) -> None:
    # Reference: a line loads exactly when it was written good; blank lines are neither.
    content = [good if ok else bad for ok, good, bad in lines]
    path = write(tmp_path_factory.mktemp("jsonl") / "p.jsonl", [*content, b"", b'{"id": -1, "name": "last"}'])
    expected_good = [n for n, (ok, _, _) in enumerate(lines, start=1) if ok] + [len(lines) + 2]
    expected_bad = [n for n, (ok, _, _) in enumerate(lines, start=1) if not ok]
    with duckdb.connect() as con:
        source = open_source(con, path, scratch_dir=path.parent)
        loaded = [r[0] for r in con.execute(f"SELECT _source_row FROM {source.relation} ORDER BY 1").fetchall()]
    assert loaded == expected_good
    assert [r.source_row for r in source.rejects] == expected_bad
