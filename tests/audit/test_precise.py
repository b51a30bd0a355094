"""Precise who-accessed: each bulk read is re-run over the version it read, with the person's rows only."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.access import add_principal, bootstrap_admin, query_as
from joinedup.audit import forget_sealed, record_now, sealed_texts, verify, who_accessed
from joinedup.audit.precise import NOT_RERUN
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema
from tests.audit import workload
from tests.audit.conftest import raw_catalogue

SIOBHAN = "9434765919"  # SW1A 1AA, person 1
DAI = "4010232137"  # CF10 1EP, person 2
MOHAMMED = "9876543210"  # M1 1AE, person 3

VISITS = """
fields:
  - {name: visit_id, type: integer}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: clinic, type: string}
primaryKey: [visit_id]
"""


@pytest.fixture
def residents(estate: Estate, tmp_path: Path) -> int:
    bootstrap_admin(estate, "admin1")
    return workload.load_people(estate, tmp_path)


def ask(estate: Estate, sql: str) -> int:
    query_as(estate, "admin1", sql)
    return max(e.seq for e in __import__("joinedup.audit", fromlist=["log"]).log(estate, action="data.query"))


def bases(estate: Estate, nhs: str) -> dict[int, str]:
    return {a.entry.seq: a.basis for a in who_accessed(estate, "nhs_number", nhs).accesses}


def test_reads_whose_filter_excluded_the_person_are_not_listed(estate: Estate, residents: int) -> None:
    welsh = ask(estate, "SELECT name FROM residents WHERE postcode LIKE 'CF%'")
    assert welsh not in bases(estate, SIOBHAN)
    assert bases(estate, DAI)[welsh] == "returned"


def test_counts_averages_and_group_bys_are_aggregate(estate: Estate, residents: int) -> None:
    count = ask(estate, "SELECT count(*) FROM residents")
    average = ask(estate, "SELECT avg(person_id) FROM residents WHERE postcode LIKE 'SW%'")
    grouped = ask(estate, "SELECT postcode, count(*) AS n FROM residents GROUP BY postcode")
    found = bases(estate, SIOBHAN)
    assert (found[count], found[average], found[grouped]) == ("aggregate", "aggregate", "aggregate")
    assert average not in bases(estate, DAI)  # their row was filtered out of the average


def test_a_lookup_by_nhs_number_is_returned_for_that_person_only(estate: Estate, residents: int) -> None:
    lookup = ask(estate, f"SELECT name, postcode FROM residents WHERE nhs_number = '{SIOBHAN}'")
    first = ask(estate, f"SELECT * FROM residents WHERE nhs_number = '{DAI}' LIMIT 1")
    assert bases(estate, SIOBHAN) == {lookup: "returned"}
    assert bases(estate, DAI) == {first: "returned"}
    assert bases(estate, MOHAMMED) == {}


def test_many_lookups_of_one_shape_are_decided_together(estate: Estate, residents: int) -> None:
    seqs = {nhs: ask(estate, f"SELECT name FROM residents WHERE nhs_number = '{nhs}'") for nhs in (SIOBHAN, DAI)}
    ranged = ask(estate, "SELECT name FROM residents WHERE person_id >= 2")
    assert bases(estate, SIOBHAN) == {seqs[SIOBHAN]: "returned"}
    assert bases(estate, DAI) == {seqs[DAI]: "returned", ranged: "returned"}


def test_a_join_returning_the_person_from_one_dataset_is_returned(
    estate: Estate, residents: int, tmp_path: Path
) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(f"visit_id,nhs_number,clinic\n1,{SIOBHAN},A\n2,{DAI},B\n", encoding="utf-8")
    ingest(estate, path, dataset="visits", principal="admin1", schema=parse_schema(VISITS))
    joined = ask(
        estate,
        "SELECT r.name FROM residents r JOIN visits v ON v.nhs_number = r.nhs_number WHERE v.clinic = 'A'",
    )
    assert bases(estate, SIOBHAN) == {joined: "returned"}
    assert joined not in bases(estate, DAI)


def test_quarantine_reads_follow_the_same_rules(estate: Estate, residents: int) -> None:
    from joinedup.ingest.quarantine import read_quarantine_as

    read_quarantine_as(estate, "admin1", "residents")
    [entry] = __import__("joinedup.audit", fromlist=["log"]).log(estate, action="quarantine.read")
    rejected = who_accessed(estate, "ni_number", workload.QUARANTINED[3]).accesses
    assert [(a.entry.seq, a.basis) for a in rejected] == [(entry.seq, "returned")]  # the rejected row was shown
    assert entry.seq not in bases(estate, SIOBHAN)


def test_a_caller_knowing_the_records_can_ask(estate: Estate, residents: int) -> None:
    lookup = ask(estate, "SELECT name FROM residents WHERE person_id = 3")
    count = ask(estate, "SELECT count(*) FROM residents")
    answer = who_accessed(estate, records=[("residents", 3)])
    assert {a.entry.seq: a.basis for a in answer.accesses} == {lookup: "returned", count: "aggregate"}


def test_verify_detects_a_changed_or_deleted_sealed_text(estate: Estate, residents: int) -> None:
    first = ask(estate, f"SELECT name FROM residents WHERE nhs_number = '{SIOBHAN}'")
    second = ask(estate, "SELECT count(*) FROM residents")
    assert verify(estate).ok
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_sealed SET sealed = (SELECT sealed FROM audit_sealed WHERE seq = ?) WHERE seq = ?",
                    (second, first))  # fmt: skip
    assert verify(estate).first_bad_seq == first
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_sealed WHERE seq = ?", (first,))
    report = verify(estate)
    assert report.first_bad_seq == first and "no audit.sealed_forget" in (report.problem or "")


def test_forgetting_takes_the_person_out_of_sealed_texts_and_the_chain_still_verifies(
    estate: Estate, residents: int
) -> None:
    lookup = ask(estate, f"SELECT name FROM residents WHERE nhs_number = '{SIOBHAN}'")
    other = ask(estate, f"SELECT name FROM residents WHERE nhs_number = '{DAI}'")
    with estate.session() as session:
        gone = forget_sealed(session, estate, principal="admin1", values=["943 476 5919", "Siobhan Quigley"])
    assert gone == 1
    texts = dict(sealed_texts(estate))
    assert SIOBHAN not in texts[lookup] and "NULL" in texts[lookup]  # sealed again without her number
    assert DAI in texts[other]
    report = verify(estate)
    assert report.ok, report.problem
    # Its literals' keyed hashes remain in the chain, so the read is still listed as naming them.
    assert bases(estate, SIOBHAN) == {lookup: "named"}
    assert bases(estate, DAI) == {other: "returned"}


def test_reads_of_a_version_that_cannot_be_consulted_are_undetermined(estate: Estate) -> None:
    made = record_now(estate, principal="a", action="data.query", dataset="gone", dataset_version=1, row_count=4,
                      sql="SELECT * FROM gone")  # fmt: skip
    answer = who_accessed(estate, "nhs_number", SIOBHAN)
    assert [(a.entry.seq, a.basis) for a in answer.accesses] == [(made.seq, "undetermined")]
    assert answer.accesses[0].reason and "can no longer be consulted" in answer.accesses[0].reason


def test_an_analyst_is_refused_and_their_query_is_still_judged(estate: Estate, residents: int) -> None:
    add_principal(estate, "admin1", "analyst1", "analyst", datasets=["residents"])
    query_as(estate, "analyst1", "SELECT count(*) FROM residents", purpose="caseload")
    assert list(bases(estate, SIOBHAN).values()) == ["aggregate"]


def test_a_text_naming_the_person_outside_a_literal_is_destroyed_whole(estate: Estate, residents: int) -> None:
    aliased = ask(estate, 'SELECT name AS "Siobhan Quigley" FROM residents')
    with estate.session() as session:
        assert forget_sealed(session, estate, principal="admin1", values=["Siobhan Quigley"]) == 1
    assert aliased not in dict(sealed_texts(estate))
    assert verify(estate).ok
    assert bases(estate, DAI) == {aliased: "undetermined"}


def test_the_answer_is_decided_on_the_version_read_and_survives_forgetting_someone_else(
    estate: Estate, residents: int, tmp_path: Path
) -> None:
    both = ask(estate, f"SELECT name FROM residents WHERE nhs_number IN ('{SIOBHAN}', '{DAI}')")
    count = ask(estate, "SELECT count(*) FROM residents")
    before = bases(estate, SIOBHAN)
    # A new version without Siobhan, and Dai forgotten from the sealed texts (as his erasure would).
    path = tmp_path / "later.csv"
    path.write_text("person_id,name,nhs_number,ni_number,postcode\n3,Mohammed Okonkwo,9876543210,TW294817B,M1 1AE\n")
    ingest(estate, path, dataset="residents", principal="admin1", schema=parse_schema(workload.SCHEMA))
    with estate.session() as session:
        forget_sealed(session, estate, principal="admin1", values=[DAI, "Dai Pritchard"])
    assert before == {both: "returned", count: "aggregate"}
    assert bases(estate, SIOBHAN) == before
    assert verify(estate).ok


def test_a_read_whose_query_cannot_be_rerun_is_undetermined_with_its_reason(estate: Estate, residents: int) -> None:
    made = record_now(
        estate, principal="a", action="data.query", dataset="residents", dataset_version=residents, row_count=2,
        sql="SELECT name FROM no_such_table",
    )  # fmt: skip
    [access] = who_accessed(estate, "nhs_number", SIOBHAN).accesses
    assert (access.entry.seq, access.basis, access.reason) == (
        made.seq,
        "undetermined",
        "its query could not be re-run",
    )


def test_a_rerun_past_the_estate_time_limit_is_undetermined(estate: Estate, residents: int) -> None:
    made = record_now(
        estate, principal="a", action="data.query", dataset="residents", dataset_version=residents, row_count=1,
        sql="SELECT count(*) FROM residents, range(100000000000) AS r(i) WHERE i % 7 = 3",
    )  # fmt: skip
    estate.config.extra["query"] = {"time_limit_seconds": 1}
    [access] = who_accessed(estate, "nhs_number", SIOBHAN).accesses
    assert (access.entry.seq, access.basis, access.reason) == (made.seq, "undetermined", NOT_RERUN)


def test_short_values_are_not_forgotten_everywhere(estate: Estate, residents: int) -> None:
    ask(estate, "SELECT count(*) FROM residents WHERE person_id = 1")
    with estate.session() as session:
        assert forget_sealed(session, estate, principal="admin1", values=["1", " "]) == 0
