"""Whatever ``schema infer`` proposes, ``schema check`` accepts and ``ingest`` loads (issue 24).

Files are drawn as for the ingest fuzz test: columns of mostly one type, with
damaged, missing and hostile values among them, in every format. Inference
may refuse a file it cannot read (one line); once it proposes a schema, that
schema written as YAML or JSON must load back unchanged and ingest the same
file without refusing it, losing nothing.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from joinedup.errors import JoinedupError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.inference import infer_file_schema
from joinedup.schema import dump_schema, load_schema
from tests.fuzz.conftest import FUZZ
from tests.fuzz.files import tables, write
from tests.fuzz.oracle import assert_nothing_lost
from tests.fuzz.schemas import schema_documents

FORMATS = ("csv", "jsonl", "parquet", "excel")
_datasets = itertools.count()


@FUZZ
@given(data=st.data())
def test_infer_then_check_then_ingest_round_trips(estate: Estate, tmp_path: Path, data: st.DataObject) -> None:
    doc = data.draw(schema_documents(), label="columns like")
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    table = data.draw(tables(doc, case_twins=False), label="table")
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = Path(scratch)
        written = write(data.draw, table, folder, fmt)
        try:
            proposed = infer_file_schema(written.path, **written.options)
        except JoinedupError as exc:
            event(f"infer refused: {type(exc).__name__}")
            assert "\n" not in str(exc)
            return
        as_json = data.draw(st.booleans(), label="json schema")
        schema_file = folder / ("proposed.json" if as_json else "proposed.yaml")
        schema_file.write_text(dump_schema(proposed, "json" if as_json else "yaml"), encoding="utf-8")
        checked = load_schema(schema_file)
        assert checked.digest() == proposed.digest(), "the schema read back is not the one infer wrote"
        result = ingest(
            estate,
            written.path,
            dataset=f"inferred_{next(_datasets)}",
            principal="tester",
            schema=checked,
            **written.options,
        )
        event("some rows quarantined" if result.rows_quarantined else "no rows quarantined")
        assert_nothing_lost(estate, checked, written, result)
