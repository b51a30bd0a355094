"""Date-times without a UTC offset: the schema declares their time zone, or they are quarantined saying so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from joinedup.errors import SchemaError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query
from tests.conftest import write_csv

VISITS = """
visit,seen
1,2024-07-01T12:00:00+01:00
2,2024-07-01 12:00:00
3,2024-01-15 09:00:00
4,2024-03-31 01:30:00
5,2024-10-27 01:30:00
6,2024-10-27T01:30:00Z
7,2024-07-01 25:00:00
"""


def _schema(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "visits.yaml"
    path.write_text(f"fields:\n- {{name: visit, type: integer}}\n- {{name: seen, type: datetime{extra}}}\n")
    return path


def _load(
    estate: Estate, tmp_path: Path, schema: Path, text: str = VISITS
) -> tuple[dict[int, datetime], dict[int, str]]:
    from joinedup.schema import load_schema

    ingest(
        estate,
        write_csv(tmp_path / "visits.csv", text),
        dataset="visits",
        principal="tester",
        schema=load_schema(schema),
    )
    sql = "SELECT visit, seen FROM visits"
    stored = {
        r["visit"]: r["seen"] for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()
    }
    reasons = {int(r["visit"]): r["_errors"][0]["message"] for r in read_quarantine(estate, "visits").rows}
    return stored, reasons


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_without_a_declared_zone_values_without_an_offset_are_quarantined(estate: Estate, tmp_path: Path) -> None:
    stored, reasons = _load(estate, tmp_path, _schema(tmp_path))
    assert stored == {1: _utc(2024, 7, 1, 11), 6: _utc(2024, 10, 27, 1, 30)}
    assert set(reasons) == {2, 3, 4, 5, 7}
    assert all("has no UTC offset" in reasons[v] and "timezone" in reasons[v] for v in (2, 3, 4, 5))
    assert reasons[7].startswith("expected an ISO 8601 date-time")


def test_a_declared_zone_reads_local_times_and_refuses_clock_change_hours(estate: Estate, tmp_path: Path) -> None:
    stored, reasons = _load(estate, tmp_path, _schema(tmp_path, ", timezone: Europe/London"))
    assert stored == {
        1: _utc(2024, 7, 1, 11),
        2: _utc(2024, 7, 1, 11),  # BST: an hour behind the local time
        3: _utc(2024, 1, 15, 9),  # GMT
        6: _utc(2024, 10, 27, 1, 30),  # an offset settles the repeated hour
    }
    assert set(reasons) == {4, 5, 7}
    for visit in (4, 5):
        assert "is not one moment in Europe/London" in reasons[visit] and "UTC offset" in reasons[visit]
    assert reasons[7].startswith("expected an ISO 8601 date-time")


def test_a_pattern_reads_local_times_in_the_declared_zone(estate: Estate, tmp_path: Path) -> None:
    schema = _schema(tmp_path, ", format: '%d/%m/%Y %H:%M', timezone: Europe/London")
    text = "visit,seen\n1,01/07/2024 12:00\n2,31/03/2024 01:30\n3,15/01/2024 09:00\n"
    stored, reasons = _load(estate, tmp_path, schema, text)
    assert stored == {1: _utc(2024, 7, 1, 11), 3: _utc(2024, 1, 15, 9)}
    assert set(reasons) == {2} and "is not one moment in Europe/London" in reasons[2]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{name: a, type: datetime, format: '%d/%m/%Y %H:%M'}", "carry no UTC offset: declare their time zone"),
        ("{name: a, type: datetime, timezone: BST}", "'BST' is not a time zone name"),
        ("{name: a, type: datetime, timezone: GMT}", "'GMT' is not a time zone name"),
        ("{name: a, type: datetime, timezone: Europe/Londres}", "'Europe/Londres' is not a time zone name"),
        ("{name: a, type: datetime, timezone: 1}", "expected an IANA time zone name"),
        ("{name: a, type: date, timezone: Europe/London}", "only applies to datetime fields"),
    ],
)
def test_a_wrong_time_zone_is_one_line_naming_the_field(field: str, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_schema(f"fields: [{field}]", source="s.yaml")
    assert str(caught.value).startswith("s.yaml: fields[0].timezone: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_time_zone_is_kept_in_the_schema() -> None:
    schema = parse_schema(
        "fields: [{name: a, type: datetime, timezone: Europe/London}, {name: b, type: datetime, format: '%H:%M %z'}]"
    )
    assert [f.timezone for f in schema.fields] == ["Europe/London", None]
    assert schema.to_dict()["fields"][0]["timezone"] == "Europe/London"
    assert (
        parse_schema("fields: [{name: a, type: datetime}]").digest() != schema.with_fields(schema.fields[:1]).digest()
    )
