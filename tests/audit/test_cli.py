"""`joinedup audit` and `joinedup principal` as a DPO, an auditor and an admin use them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from joinedup.audit import log
from joinedup.estate import Estate
from tests.audit import workload
from tests.audit.cli_app import as_json, runner_for


def test_principals_are_managed_from_the_command_line(estate: Estate) -> None:
    jd = runner_for(estate.root)
    assert jd("principal", "bootstrap").exit_code == 0
    added = jd("principal", "add", "alice", "--role", "analyst", "--dataset", "people", "--json")
    assert added.exit_code == 0, added.stderr
    assert as_json(added)["grants"] == [{"role": "analyst", "dataset": "people"}]
    assert jd("principal", "add", "dora", "--role", "dpo").exit_code == 0

    refused = jd("principal", "grant", "alice", "--role", "admin", user="alice")
    assert refused.exit_code == 3
    assert "alice (analyst of people) may not manage principals and roles; needs admin" in refused.stderr

    listed = as_json(jd("principal", "list", "--json"))
    assert [(p["name"], [g["role"] for g in p["grants"]]) for p in listed] == [
        ("alice", ["analyst"]),
        ("dora", ["dpo"]),
        ("tester", ["admin"]),
    ]
    assert "dora (dpo)" in jd("principal", "whoami", user="dora").stdout


def test_an_unregistered_user_gets_one_line_saying_how_to_register(estate: Estate) -> None:
    jd = runner_for(estate.root)
    jd("principal", "bootstrap")
    refused = jd("audit", "log", user="mallory")
    assert refused.exit_code == 3
    assert refused.stderr.count("\n") == 1
    assert "joinedup principal add mallory --role ROLE" in refused.stderr


def test_log_who_accessed_verify_and_checkpoint(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)
    jd = runner_for(estate.root)

    entries = as_json(jd("audit", "log", "--principal", "steward1", "--action", "data.", "--json", user="dpo1"))
    assert [e["action"] for e in entries] == ["data.query"] * 3
    assert jd("audit", "log", "--since", "2000-01-01", user="admin1").exit_code == 0
    assert jd("audit", "log", "--since", "last tuesday", user="admin1").exit_code == 1

    found = jd("audit", "who-accessed", "--nhs-number", "943 476 5919", "--json", user="dpo1")
    assert found.exit_code == 0, found.stderr
    bases = {(a["principal"], a["action"], a["basis"]) for a in as_json(found)["accesses"]}
    assert ("steward1", "data.query", "returned") in bases
    assert ("api", "data.read", "dataset") not in bases, "a read that listed its subjects listed everyone it returned"
    shown = jd("audit", "who-accessed", "--nhs-number", "9434765919", user="dpo1")
    assert "steward1" in shown.stdout and "9434765919" not in shown.stdout

    assert jd("audit", "who-accessed", "--nhs-number", "9434765919", user="steward1").exit_code == 3

    exported = tmp_path / "kept-elsewhere.json"
    made = jd("audit", "checkpoint", "--export", exported, "--json", user="dpo1")
    assert made.exit_code == 0 and exported.exists()
    verified = jd("audit", "verify", "--checkpoint", exported, "--json", user="dpo1")
    assert verified.exit_code == 0, verified.stdout
    assert as_json(verified)["ok"] is True


def test_verify_exits_non_zero_naming_the_first_bad_seq(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        con.execute("UPDATE audit_entries SET row_count = 0 WHERE seq = 12")
    jd = runner_for(estate.root)

    human = jd("audit", "verify", user="dpo1")
    assert human.exit_code == 4
    assert "first bad seq 12" in human.stdout
    assert "seq 12 does not match its hash" in human.stderr

    report = as_json(jd("audit", "verify", "--json", user="dpo1"))
    assert (report["ok"], report["first_bad_seq"]) == (False, 12)


def test_checkpoint_refuses_to_sign_a_tampered_log_with_exit_4(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)  # ends with a checkpoint
    jd = runner_for(estate.root)
    assert jd("audit", "log", user="dpo1").exit_code == 0  # one entry past it
    newest = log(estate)[-1].seq
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        con.execute("UPDATE audit_entries SET row_count = 0 WHERE seq = ?", (newest,))

    refused = jd("audit", "checkpoint", user="dpo1")

    assert refused.exit_code == 4
    assert refused.stderr.count("\n") == 1
    assert f"not signing a checkpoint at seq {newest}: seq {newest} does not match its hash" in refused.stderr


def _tampered_cli(estate: Estate, *statements: str) -> None:
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        for statement in statements:
            con.execute(statement)


def test_verify_reports_whatever_state_the_head_and_checkpoint_tables_are_in(estate: Estate) -> None:
    jd = runner_for(estate.root)
    jd("principal", "bootstrap")
    for _ in range(3):
        jd("audit", "log")
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        old = con.execute("SELECT seq, hash, mac, checkpoint_every FROM audit_head").fetchone()
    jd("audit", "log")
    jd("audit", "log")
    _tampered_cli(estate, "UPDATE audit_head SET seq = {}, hash = '{}', mac = '{}', checkpoint_every = {}".format(*old))

    behind = jd("audit", "verify", "--json")
    assert behind.exit_code == 4, behind.stderr
    assert as_json(behind)["ok"] is False
    assert f"entries after seq {old[0]} lie beyond the log's head" in behind.stderr
    appended = jd("audit", "log")
    assert appended.exit_code == 4 and appended.stderr.count("\n") == 1
    assert "run `joinedup audit verify`" in appended.stderr

    _tampered_cli(estate, "DELETE FROM audit_head")
    missing = jd("audit", "verify")
    assert missing.exit_code == 4 and "the audit head row is missing" in missing.stderr
    assert "FAILED verification" in missing.stdout

    _tampered_cli(estate, "DROP TABLE audit_checkpoints")
    dropped = jd("audit", "verify", "--json")
    assert dropped.exit_code == 4
    assert any("audit_checkpoints table is missing" in p["message"] for p in as_json(dropped)["problems"])


def test_verify_runs_despite_a_bad_checkpoint_every_and_mentions_it(estate: Estate) -> None:
    jd = runner_for(estate.root)
    jd("principal", "bootstrap")
    for bad in ("1000000000000000000000", "0", '"abc"'):
        (estate.root / "joinedup.toml").write_text(
            (estate.root / "joinedup.toml").read_text().split("[audit]")[0] + f"[audit]\ncheckpoint_every = {bad}\n"
        )
        ordinary = jd("audit", "log")
        assert ordinary.exit_code == 1 and ordinary.stderr.count("\n") == 1
        assert "[audit] checkpoint_every must be a whole number from 1 to 10,000" in ordinary.stderr

        checked = jd("audit", "verify", "--json")
        assert checked.exit_code == 0, checked.stderr
        assert as_json(checked)["ok"] is True
        assert "checkpoint_every must be" in as_json(checked)["notes"][0]


def test_who_accessed_groups_by_basis_and_carries_it_in_json(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)
    jd = runner_for(estate.root)
    for sql in ("SELECT count(*) FROM residents", "SELECT name FROM residents WHERE postcode LIKE 'CF%'"):
        assert jd("query", sql, user="admin1").exit_code == 0
    found = as_json(jd("audit", "who-accessed", "--nhs-number", "9434765919", "--json", user="dpo1"))
    assert found["counts"] == {"returned": 1, "aggregate": 1}
    assert all(a["basis"] in found["counts"] for a in found["accesses"])
    shown = jd("audit", "who-accessed", "--nhs-number", "9434765919", user="dpo1").stdout
    assert "1 returned, 1 aggregate" in shown and "Aggregate (1)" in shown
    assert "9434765919" not in shown and "Siobhan" not in shown


def test_who_accessed_by_person_key_asks_linkage_for_the_records(
    estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import joinedup.linkage

    workload.run(estate, tmp_path)
    jd = runner_for(estate.root)
    monkeypatch.delattr(joinedup.linkage, "records_for_key", raising=False)
    missing = jd("audit", "who-accessed", "--person-key", "P-1", user="dpo1")
    assert missing.exit_code != 0 and "linkage has not been run on this estate" in missing.stderr
    assert missing.stderr.count("\n") == 1

    keys = {"P-1": [("residents", 1)]}
    monkeypatch.setattr(joinedup.linkage, "records_for_key", lambda _, key: keys.get(key, []), raising=False)
    found = as_json(jd("audit", "who-accessed", "--person-key", "P-1", "--json", user="dpo1"))
    # Siobhan's record: the lookup by her NHS number returned it; nothing else touched her row.
    assert found["counts"] == {"returned": 1}
    unknown = jd("audit", "who-accessed", "--person-key", "P-404", user="dpo1")
    assert unknown.exit_code != 0 and "no such person key" in unknown.stderr and "P-404" not in unknown.stderr


def test_who_accessed_bad_input_is_one_line_and_changes_nothing(estate: Estate, tmp_path: Path) -> None:
    from joinedup.audit import log

    workload.run(estate, tmp_path)
    jd = runner_for(estate.root)
    entries = len(log(estate, limit=None))
    bad = jd("audit", "who-accessed", "--nhs-number", "1234567890", "--json", user="dpo1")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "1234567890" not in bad.stderr
    assert json.loads(bad.stderr)["message"].startswith("not a valid nhs number")
    both = jd("audit", "who-accessed", "--nhs-number", "9434765919", "--ni-number", "AB123456C", user="dpo1")
    assert both.exit_code == 1 and "exactly one of" in both.stderr
    assert len(log(estate, limit=None)) == entries
    refused = jd("audit", "who-accessed", "--nhs-number", "9434765919", user="analyst1")
    assert refused.exit_code == 3 and "9434765919" not in refused.stderr
    assert [e.action for e in log(estate, limit=None)[entries:]] == ["access.denied"]
