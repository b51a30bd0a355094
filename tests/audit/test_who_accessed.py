"""Who accessed a person's data: single-record reads, queries naming them, and bulk reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.access import bootstrap_admin, query_as
from joinedup.audit import ReadScope, Subject, dataset_membership, record_now, who_accessed
from joinedup.errors import InputError
from joinedup.estate import Estate
from tests.audit import workload


def test_a_single_record_read_is_found_by_any_spelling_of_the_number(estate: Estate) -> None:
    read = record_now(
        estate, principal="api", action="data.read", purpose="case lookup", dataset="people",
        dataset_version=1, row_count=1, subjects=[Subject("nhs_number", "9434765919")],
    )  # fmt: skip
    record_now(
        estate,
        principal="api",
        action="data.read",
        dataset="people",
        dataset_version=1,
        row_count=1,
        subjects=[Subject("nhs_number", "4010232137")],
    )

    answer = who_accessed(estate, "nhs_number", "943-476-5919")

    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(read.seq, "named")]


def test_a_query_naming_the_person_is_found_and_one_returning_nothing_is_not(estate: Estate) -> None:
    hit = record_now(
        estate,
        principal="steward1",
        action="data.query",
        dataset="people",
        dataset_version=1,
        row_count=1,
        sql="SELECT * FROM people WHERE ni_number = 'ab123456c'",
    )
    record_now(
        estate,
        principal="steward1",
        action="data.query",
        dataset="people",
        dataset_version=1,
        row_count=0,
        sql="SELECT * FROM people WHERE ni_number = 'AB123456C'",
    )

    answer = who_accessed(estate, "ni_number", "AB 12 34 56 C", lambda scope, kind, value: False)
    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(hit.seq, "mentioned")]
    # Precisely: the dataset version cannot be consulted, but the query named the person.
    answer = who_accessed(estate, "ni_number", "AB 12 34 56 C")
    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(hit.seq, "named")]


def test_bulk_reads_are_decided_by_the_membership_function(estate: Estate) -> None:
    held = {("people", 2)}

    def membership(scope: ReadScope, kind: str, value: str) -> bool | None:
        assert (kind, value) == ("nhs_number", "9434765919")
        if scope.part == "quarantine":
            return None
        return (scope.dataset, scope.version) in held

    in_v2 = record_now(estate, principal="a", action="data.export", dataset="people", dataset_version=2, row_count=5000)
    record_now(estate, principal="a", action="data.query", dataset="people", dataset_version=1, row_count=5000)
    joined = record_now(
        estate, principal="a", action="data.query", row_count=10, detail={"versions": {"visits": 1, "people": 2}}
    )
    unsure = record_now(
        estate, principal="a", action="quarantine.read", dataset="people", dataset_version=2, row_count=3
    )
    record_now(estate, principal="a", action="dataset.ingest", dataset="people", dataset_version=2, row_count=5000)

    answer = who_accessed(estate, "nhs_number", "943 476 5919", membership)

    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(in_v2.seq, "dataset"), (joined.seq, "dataset")]
    assert [e.seq for e in answer.undetermined] == [unsure.seq]


def test_a_purpose_quoting_the_number_counts_as_mentioning_them(estate: Estate) -> None:
    read = record_now(
        estate,
        principal="a",
        action="data.query",
        dataset="people",
        dataset_version=1,
        row_count=20,
        purpose="complaint about 943 476 5919",
    )
    assert read.purpose == "complaint about [nhs number]" and read.subjects == ()
    answer = who_accessed(estate, "nhs_number", "9434765919", lambda scope, kind, value: False)
    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(read.seq, "mentioned")]


def test_bulk_reads_that_cannot_be_decided_are_undetermined_not_dropped(estate: Estate) -> None:
    bulk = record_now(estate, principal="a", action="data.query", dataset="people", dataset_version=1, row_count=100)
    answer = who_accessed(estate, "nhs_number", "9434765919")
    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(bulk.seq, "undetermined")]
    assert answer.counts() == {"undetermined": 1}


def test_after_erasure_bulk_reads_of_the_versions_that_held_the_person_still_count(estate: Estate) -> None:
    before = record_now(estate, principal="a", action="data.query", dataset="people", dataset_version=1, row_count=100)
    erased = record_now(
        estate, principal="dpo1", action="data.erase", subjects=[Subject("nhs_number", "9434765919")],
        detail={"held_in": [["people", 1]]},
    )  # fmt: skip

    answer = who_accessed(estate, "nhs_number", "9434765919", lambda scope, kind, value: False)

    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(before.seq, "dataset"), (erased.seq, "named")]


def test_the_default_membership_reads_the_dataset_version(estate: Estate, tmp_path: Path) -> None:
    bootstrap_admin(estate, "admin1")
    version = workload.load_people(estate, tmp_path)
    bulk = query_as(estate, "admin1", "SELECT name FROM residents")
    assert len(bulk.rows) == 3
    member = dataset_membership(estate)

    assert member(ReadScope("residents", version), "nhs_number", "9434765919") is True
    assert member(ReadScope("residents", version), "nhs_number", "4010232138") is False  # quarantined, not stored
    assert member(ReadScope("residents", version), "person_key", "P1") is False  # no such column
    assert member(ReadScope("residents", version + 1), "nhs_number", "9434765919") is None

    found = who_accessed(estate, "ni_number", "AB123456C", member)
    assert [a.basis for a in found.accesses] == ["dataset"]
    assert member(ReadScope("residents", version), "nhs_number", "4505577104") is False
    assert who_accessed(estate, "nhs_number", "4505577104", member).accesses == []


def test_an_invalid_identifier_is_refused_without_echoing_it(estate: Estate) -> None:
    with pytest.raises(InputError) as refused:
        who_accessed(estate, "nhs_number", "1234567890")
    assert "1234567890" not in str(refused.value)
    with pytest.raises(InputError, match="unknown identifier kind"):
        who_accessed(estate, "passport", "X")


def test_the_default_membership_searches_the_quarantine_as_ingest_would_read_it(estate: Estate, tmp_path: Path) -> None:
    bootstrap_admin(estate, "admin1")
    version = workload.load_people(estate, tmp_path)
    member = dataset_membership(estate)
    quarantine = ReadScope("residents", version, "quarantine")

    # The quarantined row's NHS number failed its check digit; a read of the quarantine still showed it.
    assert member(quarantine, "nhs_number", "4010232138") is True
    assert member(quarantine, "nhs_number", "9434765919") is False  # loaded, not quarantined
    assert member(quarantine, "person_key", "P1") is None
    assert member(ReadScope("residents", version + 1, "quarantine"), "nhs_number", "4010232138") is None


def test_a_ragged_quarantined_line_counts_whatever_separates_the_number(estate: Estate, tmp_path: Path) -> None:
    from joinedup.ingest import ingest
    from joinedup.schema import parse_schema

    bootstrap_admin(estate, "admin1")
    path = tmp_path / "wb.csv"
    path.write_bytes(
        'id,name,nhs\n1,Ann,9434765919\n2,Ed,401\u00a0023\u00a02137,extra\n3,Fi,"485\t777\t3457",x\n'.encode()
    )
    schema = parse_schema(
        "fields: [{name: id, type: integer}, {name: name, type: string}, {name: nhs, type: nhs_number}]"
    )
    version = ingest(estate, path, dataset="wb", principal="admin1", schema=schema).version
    member = dataset_membership(estate)
    assert member(ReadScope("wb", version, "quarantine"), "nhs_number", "4010232137") is True
    assert member(ReadScope("wb", version, "quarantine"), "nhs_number", "4857773457") is True
