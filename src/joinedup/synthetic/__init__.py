"""Synthetic UK data that looks like a legacy system's export, with a ground truth of what is wrong.

Typical use::

    rows = generate_people(100_000, seed=7, ragged_rows=3, non_ascii=True)
    truth = write_csv(Path("people.csv"), rows, encoding="cp1252")
    write_schema(Path("people.yaml"), people_schema())
    truth.bad_rows  # the source rows ingest should quarantine, and truth.errors says why
"""

from joinedup.synthetic.businesses import businesses_schema, generate_businesses
from joinedup.synthetic.people import generate_people, people_schema
from joinedup.synthetic.records import GroundTruth, Record, SyntheticRows
from joinedup.synthetic.schemas import REFERENCE_DATE, write_schema
from joinedup.synthetic.writers import write_csv, write_jsonl, write_parquet, write_xlsx

__all__ = [
    "REFERENCE_DATE",
    "GroundTruth",
    "Record",
    "SyntheticRows",
    "businesses_schema",
    "generate_businesses",
    "generate_people",
    "people_schema",
    "write_csv",
    "write_jsonl",
    "write_parquet",
    "write_schema",
    "write_xlsx",
]
