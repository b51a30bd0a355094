"""An estate with one principal of each role, as a council might set it up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from joinedup.access import add_principal, bootstrap_admin
from joinedup.estate import Estate


@pytest.fixture
def staffed(estate: Estate) -> Estate:
    bootstrap_admin(estate, "tester")
    add_principal(estate, "tester", "sam", "steward", datasets=["people"])
    add_principal(estate, "tester", "vic", "steward", datasets=["visits"])
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    add_principal(estate, "tester", "ann", "analyst", all_datasets=True)
    add_principal(estate, "tester", "dora", "dpo")
    add_principal(estate, "tester", "audrey", "auditor")
    add_principal(estate, "tester", "etl", "steward", datasets=["people", "visits"], kind="service")
    return estate


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    """An estate with no principals yet: these tests register their own."""
    made = Estate.create(tmp_path / "estate")
    yield made
    made.close()
