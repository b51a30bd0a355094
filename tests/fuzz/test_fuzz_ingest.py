"""Ingest never crashes and never loses a row, whatever the schema and the file (issue 24).

Each example draws a schema (every type and format, constraints or none, odd
names) and a file in one of the four formats with matching, missing, extra,
empty and hostile values. Ingest must either load it, with rows read = loaded +
quarantined and every loaded value valid, or refuse it with one line and leave
the estate as it was. The "ci" profile keeps this quick; ``make fuzz`` runs the
"nightly" one.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from joinedup.errors import JoinedupError, SchemaError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import Schema, load_schema
from tests.conftest import write_csv
from tests.fuzz.conftest import FUZZ
from tests.fuzz.files import tables, write
from tests.fuzz.oracle import assert_nothing_lost, assert_refused_cleanly, state_of
from tests.fuzz.schemas import schema_documents

FORMATS = ("csv", "jsonl", "parquet", "excel")
_datasets = itertools.count()


def write_schema(doc: dict, folder: Path, as_json: bool) -> Path:
    """The schema document as a user's file, YAML or JSON."""
    if as_json:
        path = folder / "schema.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    else:
        path = folder / "schema.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def previous_version(estate: Estate, dataset: str, folder: Path) -> None:
    """A first version under another schema, for a failed ingest to leave alone."""
    schema = Schema.from_dict({"fields": [{"name": "id", "type": "integer"}]})
    ingest(estate, write_csv(folder / "v1.csv", "id\n1\n2\n"), dataset=dataset, principal="tester", schema=schema)


@FUZZ
@given(data=st.data())
def test_ingest_loads_or_refuses_in_one_line_and_loses_nothing(
    estate: Estate, tmp_path: Path, data: st.DataObject
) -> None:
    doc = data.draw(schema_documents(), label="schema")
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    table = data.draw(tables(doc), label="table")
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = Path(scratch)
        try:
            schema = load_schema(write_schema(doc, folder, data.draw(st.booleans(), label="json schema")))
        except SchemaError as exc:
            event("schema refused")
            assert "\n" not in str(exc)
            return
        written = write(data.draw, table, folder, fmt)
        dataset = f"fuzz_{next(_datasets)}"
        if data.draw(st.booleans(), label="has a previous version"):
            previous_version(estate, dataset, folder)
        before = state_of(estate, dataset)
        declared = fmt if data.draw(st.booleans(), label="--format given") else None
        try:
            result = ingest(
                estate,
                written.path,
                dataset=dataset,
                principal="tester",
                schema=schema,
                fmt=declared,
                **written.options,
            )
        except JoinedupError as exc:
            event(f"refused: {type(exc).__name__}")
            assert_refused_cleanly(exc, estate, dataset, before)
            return
        event(f"loaded {fmt}")
        event("some rows quarantined" if result.rows_quarantined else "no rows quarantined")
        assert_nothing_lost(estate, schema, written, result)
