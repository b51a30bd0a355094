"""The subject access pack: confirmed records, plain-language dataset facts, who accessed (as audit answers it)."""

from __future__ import annotations

import json
import zipfile
from typing import Any

from tests.lifecycle.conftest import NAME, NHS, Planted


def test_the_pack_holds_records_and_who_accessed(planted: Planted) -> None:
    cli = planted.cli
    cli("query", "SELECT * FROM visits", "--purpose", "clinic audit", user="ann")
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    out = planted.tmp / "pack.zip"
    made = cli("subject", "export", "R1", "--out", out, "--json", user="dora")
    assert made.exit_code == 0, made.stderr
    with zipfile.ZipFile(out) as archive:
        assert set(archive.namelist()) == {"pack.json", "records.csv", "accessed_by.csv", "summary.html"}
        pack = json.loads(archive.read("pack.json"))
        assert {r["dataset"] for r in pack["records"]} == {"people", "visits"}
        assert any(r.get("name") == NAME for r in pack["records"])
        assert any(a["who"] == "ann" and a["why"] == "clinic audit" for a in pack["accessed_by"])
        assert "Who has accessed your data" in archive.read("summary.html").decode()
    assert (out.stat().st_mode & 0o077) == 0
    log = cli("audit", "log", "--action", "subject.export", "--json", user="dora").json()
    assert len(log) == 1 and NHS not in json.dumps(log)


def test_only_dpo_or_admin_may_export(planted: Planted) -> None:
    cli = planted.cli
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    refused = cli("subject", "export", "R1", "--out", planted.tmp / "x.zip", user="ann")
    assert refused.exit_code == 3 and not (planted.tmp / "x.zip").exists()


def _pack(planted: Planted, name: str = "pack.zip") -> dict[str, Any]:
    made = planted.cli("subject", "export", "R1", "--out", planted.tmp / name, "--json", user="dora")
    assert made.exit_code == 0, made.stderr
    with zipfile.ZipFile(planted.tmp / name) as archive:
        pack: dict[str, Any] = json.loads(archive.read("pack.json"))
    return pack


def test_who_accessed_in_the_pack_is_the_precise_answer(planted: Planted) -> None:
    """A read whose filter left the person out is not theirs to be told about; a lookup of them is `returned`."""
    cli = planted.cli
    assert (
        cli("query", "SELECT * FROM visits WHERE visit_id = 0", "--purpose", "other person", user="ann").exit_code == 0
    )
    assert cli("query", "SELECT * FROM visits", "--purpose", "clinic audit", user="ann").exit_code == 0
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    pack = _pack(planted)
    reads = [a for a in pack["accessed_by"] if a["who"] == "ann"]
    assert [(a["why"], a["basis"]) for a in reads] == [("clinic audit", "returned")]
    answer = cli("audit", "who-accessed", "--nhs-number", NHS, "--json", user="dora").json()
    precise = {(a["principal"], a["purpose"], a["basis"]) for a in answer["accesses"] if a["principal"] == "ann"}
    assert precise == {(a["who"], a["why"], a["basis"]) for a in reads}


def test_rows_of_older_versions_still_kept_are_in_the_pack(planted: Planted) -> None:
    """Visit 99 is only in version 1 of visits (version 2 replaced it), which still reads back."""
    cli = planted.cli
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    records = _pack(planted)["records"]
    visits = sorted(r["visit_id"] for r in records if r["dataset"] == "visits")
    assert visits == [98, 99]
    assert all(r.get("versions") for r in records if r["dataset"] == "visits")


def test_export_refused_while_candidates_await_a_decision(planted: Planted) -> None:
    cli = planted.cli
    cli("request", "open", "access", "--name", NAME, "--dob", "1980-02-29", "--postcode", "LS1 4AP",
        "--received", "2026-11-30", user="dora")  # fmt: skip
    found = cli("subject", "find", "R1", "--json", user="dora").json()
    pending = [m for m in found if m["status"] == "candidate"]
    assert pending
    out = planted.tmp / "early.zip"
    refused = cli("subject", "export", "R1", "--out", out, user="dora")
    assert refused.exit_code != 0 and "R1" in refused.stderr and "candidate" in refused.stderr
    assert not out.exists() and not list(planted.tmp.glob(".early.zip*"))
    assert cli("audit", "log", "--action", "subject.export", "--json", user="dora").json() == []
    for m in pending:
        cli("subject", "confirm", "R1", "--dataset", m["dataset"], "--row", m["row"], user="dora")
    assert cli("subject", "export", "R1", "--out", out, user="dora").exit_code == 0
