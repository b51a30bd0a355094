"""Rectification: corrected values become a new version through ingest's validation; bad values change nothing."""

from __future__ import annotations

import json

from joinedup.estate import Catalogue
from joinedup.storage import delta
from tests.lifecycle.conftest import NHS, Planted


def _person(planted: Planted) -> dict[str, object]:
    current = Catalogue(planted.estate).get("people").version(None)
    rows = delta.snapshot(planted.estate.table_path("people"), current.table_version).to_table().to_pylist()
    return next(r for r in rows if r["nhs_number"] == NHS)


def test_rectify_makes_a_validated_new_version(planted: Planted) -> None:
    cli = planted.cli
    cli("request", "open", "rectification", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    done = cli("subject", "rectify", "R1", "-d", "people", "--set", "postcode=m11ae", "--json")
    assert done.exit_code == 0, done.stderr
    assert done.json()["rows_updated"] == 1 and _person(planted)["postcode"] == "M1 1AE"  # standardised
    bad = cli("subject", "rectify", "R1", "-d", "people", "--set", "postcode=NOTAPOSTCODE")
    assert bad.exit_code == 1 and "fails" in bad.stderr and "NOTAPOSTCODE" not in bad.stderr
    log = cli("audit", "log", "--action", "subject.rectify", "--json").json()
    assert log[0]["columns"] == ["postcode"] and "m11ae" not in json.dumps(log).lower()
    unknown = cli("subject", "rectify", "R1", "-d", "people", "--set", "shoe_size=9")
    assert unknown.exit_code == 1 and "not a column" in unknown.stderr
