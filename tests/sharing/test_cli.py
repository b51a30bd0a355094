"""The sharing commands: JSON out, one-line errors, roles, secrets shown once, extracts with a manifest."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from joinedup.audit import log
from joinedup.errors import ExitCode
from joinedup.sharing import recipients_for
from tests.conftest import cli_runner
from tests.sharing.conftest import OBJECTOR, Cli, Shared, agreement_doc


@pytest.fixture
def run(shared: Shared) -> Cli:
    return cli_runner(shared.estate.root)


def test_agreement_commands(shared: Shared, run: Cli) -> None:
    path = shared.write(agreement_doc(id="DSA-C"), "c.yaml")
    added = run("agreement", "add", path, "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json()["id"] == "DSA-C" and added.json()["status"] == "live"
    listed = run("agreement", "list", "--json", user="aud")
    assert [a["id"] for a in listed.json()] == ["DSA-1", "DSA-C"]
    shown = run("agreement", "show", "DSA-C")
    assert shown.exit_code == 0 and "Digital Economy Act 2017 Part 5" in shown.stdout
    revoked = run("agreement", "revoke", "DSA-C", "--reason", "ended early", "--json", user="dora")
    assert revoked.json()["status"] == "revoked"
    missing = run("agreement", "show", "DSA-X", "--json")
    assert missing.exit_code != 0 and json.loads(missing.stderr)["error"] == "not-found"


def test_a_bad_agreement_file_gets_one_line_and_a_non_zero_exit(shared: Shared, run: Cli) -> None:
    path = shared.write({**agreement_doc(id="DSA-B"), "colour": "blue"}, "b.yaml")
    result = run("agreement", "add", path)
    assert result.exit_code == ExitCode.ERROR
    assert len(result.stderr.strip().splitlines()) == 1 and "colour: unknown key" in result.stderr
    as_json = json.loads(run("agreement", "add", path, "--json").stderr)
    assert as_json["error"] == "input" and "colour" in as_json["message"]
    assert run("agreement", "add", shared.tmp / "nothing.yaml").exit_code != 0
    assert [a["id"] for a in run("agreement", "list", "--json").json()] == ["DSA-1"]


@pytest.mark.parametrize("who", ["ann", "stu", "aud", "dwp-api"])
def test_other_roles_and_clients_are_refused(shared: Shared, run: Cli, who: str) -> None:
    path = shared.write(agreement_doc(id="DSA-R"), "r.yaml")
    for args in (
        ["agreement", "add", path],
        ["client", "add", "x-api", "--agreement", "DSA-1"],
        ["objection", "add", "--nhs-number", OBJECTOR, "--purposes", "research"],
        ["extract", "DSA-1", "--out", shared.tmp / "out"],
    ):
        result = run(*args, user=who)
        assert result.exit_code == ExitCode.ACCESS_DENIED, (who, args, result.stderr)
    assert not (shared.tmp / "out").exists()
    if who == "dwp-api":
        # A partner client is a principal with no role: it runs no command at all.
        assert run("agreement", "list", user=who).exit_code == ExitCode.ACCESS_DENIED
        assert run("query", "SELECT 1 FROM people", user=who).exit_code == ExitCode.ACCESS_DENIED


def test_client_commands_show_the_secret_once(shared: Shared, run: Cli) -> None:
    added = run("client", "add", "hmrc-api", "--agreement", "DSA-1", "--json", user="dora")
    assert added.exit_code == 0, added.stderr
    secret = added.json()["secret"]
    human = run("client", "rotate", "hmrc-api")
    assert "Secret:" in human.stdout and "shown only now" in human.stdout
    listed = run("client", "list", "--json")
    assert {c["name"] for c in listed.json()} == {"dwp-api", "hmrc-api"}
    assert secret not in listed.stdout and "secret" not in listed.json()[0]
    assert run("client", "revoke", "hmrc-api", "--json").json()["revoked"] is True
    assert run("client", "add", "dwp-api", "--agreement", "DSA-1").exit_code != 0  # name taken
    assert run("client", "add", "x-api", "--agreement", "DSA-NOPE").exit_code != 0
    assert run("client", "add", "9434765919", "--agreement", "DSA-1").exit_code != 0
    assert [e.action for e in log(shared.estate, action="client.")] == [
        "client.add", "client.add", "client.rotate", "client.revoke",
    ]  # fmt: skip
    text = repr([e.to_dict() for e in log(shared.estate, limit=None)])
    assert secret not in text


def test_objection_commands(shared: Shared, run: Cli) -> None:
    added = run("objection", "add", "--nhs-number", "943 476 5919", "--purposes", "research,planning", "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json()["id"] == "O1" and added.json()["purposes"] == ["research", "planning"]
    again = run("objection", "add", "--nhs-number", OBJECTOR, "--purposes", "research")
    assert again.exit_code != 0 and "O1" in again.stderr and OBJECTOR not in again.stderr
    bad = run("objection", "add", "--nhs-number", "1234567890", "--purposes", "research")
    assert (
        bad.exit_code != 0 and "--nhs-number: not a valid nhs number" in bad.stderr and "1234567890" not in bad.stderr
    )
    assert "is not a purpose category" in run("objection", "add", "--nhs-number", OBJECTOR, "--purposes", "fun").stderr
    listed = run("objection", "list", "--json").json()
    assert listed[0]["identified_by"] == ["nhs_number"] and OBJECTOR not in json.dumps(listed)
    assert run("objection", "withdraw", "O1", "--json").json()["status"] == "withdrawn"
    assert run("objection", "list", "--json").json() == []
    assert len(run("objection", "list", "--all", "--json").json()) == 1
    assert run("objection", "withdraw", "O9").exit_code != 0


def test_extract_csv_matches_the_api_and_its_manifest(shared: Shared, run: Cli, tmp_path: Path) -> None:
    run("objection", "add", "--nhs-number", OBJECTOR, "--purposes", "service_delivery")
    out = tmp_path / "outbox" / "dsa-1"
    out.parent.mkdir()
    result = run("extract", "DSA-1", "--out", out, "--json", user="dora")
    assert result.exit_code == 0, result.stderr
    assert result.json()["rows"] == {"people": 3} and result.json()["excluded"] == {"people": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"people.csv", "people.csv-metadata.json"}
    for name, facts in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == facts["sha256"]
    with (out / "people.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["person_id"] for r in rows) == ["2", "3", "5"]
    assert set(rows[0]) == {"person_id", "nhs_number", "postcode", "date_of_birth", "sex", "id"}
    metadata = json.loads((out / "people.csv-metadata.json").read_text())
    assert metadata["url"] == "people.csv" and metadata["tableSchema"]["columns"][3]["datatype"] == "date"
    [entry] = log(shared.estate, action="sharing.export")
    assert entry.principal == "dora" and entry.detail["excluded"] == 1 and entry.row_count == 3
    assert (entry.purpose or "").startswith("agreement DSA-1") and len(entry.subjects) == 2
    assert [r.via for r in recipients_for(shared.estate, ["people"])] == [("extract",)]


def test_extract_parquet(shared: Shared, run: Cli, tmp_path: Path) -> None:
    result = run("extract", "DSA-1", "--out", tmp_path / "pq", "--format", "parquet", "--json")
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(tmp_path / "pq" / "people.parquet")
    assert table.num_rows == 4 and "name" not in table.column_names


def test_extract_refusals_change_nothing(shared: Shared, run: Cli, tmp_path: Path) -> None:
    inside = run("extract", "DSA-1", "--out", shared.estate.root / "outbox")
    assert inside.exit_code != 0 and "inside the estate" in inside.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert "not an empty folder" in run("extract", "DSA-1", "--out", full).stderr
    assert run("extract", "DSA-1", "--out", tmp_path / "a", "--format", "xlsx").exit_code == ExitCode.USAGE
    run("agreement", "revoke", "DSA-1", "--reason", "over")
    revoked = run("extract", "DSA-1", "--out", tmp_path / "b")
    assert revoked.exit_code == ExitCode.ACCESS_DENIED and "revoked" in revoked.stderr
    assert not log(shared.estate, action="sharing.export")
    assert not (shared.estate.root / "outbox").exists() and not (tmp_path / "b").exists()
