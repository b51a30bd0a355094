"""Finding a person: exact identifiers, then the records linkage gave the same person key, then a scored search."""

from __future__ import annotations

from joinedup.ingest import ingest
from joinedup.linkage.run import link
from joinedup.schema import parse_schema
from tests.conftest import PEOPLE_SCHEMA, write_csv
from tests.lifecycle.conftest import NAME, NHS, OTHERS, Planted


def test_a_record_without_the_identifier_is_proposed_through_its_person_key(planted: Planted) -> None:
    # A letters file that lost the person's NHS number: only linkage can say it is them.
    rows = [f"501,{NAME},,LS1 4AP,1980-02-29,M"]
    rows += [f"{510 + i},{name},{nhs},SW1A 1AA,1970-01-0{i + 1},F" for i, (name, nhs) in enumerate(OTHERS[:4])]
    letters = write_csv(
        planted.tmp / "letters.csv", "\n".join(["person_id,name,nhs_number,postcode,date_of_birth,sex", *rows])
    )
    ingest(planted.estate, letters, dataset="letters", principal="tester", schema=parse_schema(PEOPLE_SCHEMA))
    link(planted.estate, ["people", "letters"], principal="tester", purpose="test")
    opened = planted.cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    assert opened.exit_code == 0, opened.stderr
    found = planted.cli("subject", "find", "R1", "--json", user="dora")
    assert found.exit_code == 0, found.stderr
    letters_matches = [m for m in found.json() if m["dataset"] == "letters"]
    # Proposed, never confirmed by itself: linkage is probabilistic.
    assert [(m["basis"], m["status"]) for m in letters_matches] == [("person key", "candidate")]
    assert NHS not in found.stdout and NAME not in found.stdout


def test_without_a_linkage_run_find_uses_identifiers_only(planted: Planted) -> None:
    planted.cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    found = planted.cli("subject", "find", "R1", "--json", user="dora")
    assert found.exit_code == 0, found.stderr
    assert {m["basis"] for m in found.json()} == {"identifier"}
