"""The demo builds an estate whose quarantine is exactly the errors it planted."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.demo import check_demo_target, run_demo
from joinedup.errors import EstateError
from joinedup.estate import Catalogue, Estate


def test_demo_quarantines_exactly_the_planted_errors(tmp_path: Path) -> None:
    report = run_demo(tmp_path / "demo", principal="tester", rows=600, seed=11)
    assert report.quarantine_matches_ground_truth, report.ingests
    assert [i["dataset"] for i in report.ingests] == ["residents", "gp_registrations", "businesses"]
    assert {i["encoding"] for i in report.ingests if i["dataset"] == "residents"} == {"cp1252"}
    assert all(i["rows_read"] == i["rows_loaded"] + i["rows_quarantined"] for i in report.ingests)
    assert report.inferred["nhs_number"] == "nhs_number" and report.inferred["postcode"] == "postcode"
    names = [d.name for d in Catalogue(Estate.open(tmp_path / "demo")).datasets()]
    assert names == ["businesses", "gp_registrations", "residents"]


def test_demo_replaces_only_an_earlier_estate(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "work.txt").write_text("mine")
    with pytest.raises(EstateError, match="already exists"):
        check_demo_target(precious, fresh=True)
    assert (precious / "work.txt").read_text() == "mine"
