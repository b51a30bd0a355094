"""The subject access pack: confirmed records, plain-language dataset facts, who accessed (as audit answers it)."""

from __future__ import annotations

import json
import zipfile

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
