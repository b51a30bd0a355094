"""Through the CLI: every command acts as a registered principal, and reads and changes are audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from joinedup.access import add_principal, disable_principal
from joinedup.audit import log, verify
from joinedup.estate import Catalogue, Estate
from tests.conftest import CliResult, write_csv

Cli = Callable[..., CliResult]
PEOPLE = (
    "person_id,name,nhs_number,postcode,date_of_birth,sex\n"
    "1,Sam Jackson,9434765919,E1 6AN,1980-01-01,F\n"
    "2,Bad,4010232138,E1 6AN,1980-01-01,F\n"
)


def load(cli: Cli, tmp_path: Path, schema: Path, *as_: str) -> CliResult:
    return cli("ingest", write_csv(tmp_path / "p.csv", PEOPLE), "--dataset", "people", "--schema", schema, *as_)


def test_init_makes_the_creator_admin(cli: Cli, tmp_path: Path) -> None:
    fresh = tmp_path / "new"
    made = cli("init", fresh, "--as", "carol", "--json", estate_path=fresh)
    assert made.json()["admin"] == "carol"
    assert [(e.action, e.principal) for e in log(Estate.open(fresh))][:1] == [("principal.add", "carol")]


def test_ingest_query_and_quarantine_are_audited_before_anything_is_shown(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    assert load(cli, tmp_path, people_schema).exit_code == 0
    assert cli("query", "SELECT name FROM people WHERE nhs_number = '9434765919'", "--json").exit_code == 0
    assert cli("quarantine", "--dataset", "people", "--json").exit_code == 0
    entries = [e for e in log(estate) if e.action in ("dataset.ingest", "data.query", "quarantine.read")]
    assert [(e.action, e.dataset, e.dataset_version, e.principal) for e in entries] == [
        ("dataset.ingest", "people", 1, "tester"),
        ("data.query", "people", 1, "tester"),
        ("quarantine.read", "people", 1, "tester"),
    ]
    assert entries[0].row_count == 1 and entries[2].row_count == 1
    assert "9434765919" not in str(entries[1].to_dict())  # the literal is hashed, not stored
    assert verify(estate).ok


def test_roles_refuse_with_one_line_and_the_refusal_is_audited(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    load(cli, tmp_path, people_schema)
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    add_principal(estate, "tester", "vic", "steward", datasets=["visits"])

    no_purpose = cli("query", "SELECT count(*) FROM people", "--as", "alice")
    assert no_purpose.exit_code != 0 and "must state a purpose" in no_purpose.stderr
    with_purpose = cli(
        "query", "SELECT count(*) AS n FROM people", "--as", "alice", "--purpose", "caseload planning", "--json"
    )
    assert with_purpose.json() == [{"n": 1}]

    other_steward = load(cli, tmp_path, people_schema, "--as", "vic")
    assert other_steward.exit_code != 0 and "vic" in other_steward.stderr and "people" in other_steward.stderr
    stranger = cli("quarantine", "--dataset", "people", "--as", "mallory")
    assert stranger.exit_code != 0 and "not a registered principal" in stranger.stderr
    for refused in (no_purpose, other_steward, stranger):
        assert len(refused.stderr.strip().splitlines()) == 1

    denied = [e.principal for e in log(estate, action="access.denied")]
    assert denied == ["alice", "vic", "(unregistered)"], "a name that is not registered is not kept"
    assert [v.number for v in Catalogue(estate).get("people").versions] == [1]


def test_a_purpose_with_no_letter_or_digit_is_refused_before_anything_is_read(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    load(cli, tmp_path, people_schema)
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    entries = len(log(estate))
    # Spaces, a zero-width space, a right-to-left mark, punctuation: each satisfied "give a purpose" once.
    for blank in ("", "   ", "\u200b", "\u200f\u200b ", "...", "\t"):
        for args in (("query", "SELECT count(*) FROM people"), ("quarantine", "-d", "people")):
            refused = cli(*args, "--as", "alice", "--purpose", blank)
            assert refused.exit_code == 2, (blank, args, refused.stderr)
            assert "no letter or digit" in refused.stderr
    assert len(log(estate)) == entries  # refused at the command line: nothing was read, nothing audited
    # A reason in any script is a reason.
    for reason in ("audit", "adolygiad ansawdd", "審査", "Q3"):
        assert cli("query", "SELECT count(*) FROM people", "--as", "alice", "--purpose", reason).exit_code == 0


def test_refusing_a_disabled_or_unregistered_principal_records_the_attempted_action(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    load(cli, tmp_path, people_schema)
    add_principal(estate, "tester", "dis", "analyst", datasets=["people"])
    disable_principal(estate, "tester", "dis")

    assert cli("query", "select * from people", "--as", "dis", "--purpose", "review").exit_code == 3
    assert cli("quarantine", "--dataset", "people", "--as", "mallory").exit_code == 3
    assert cli("audit", "verify", "--as", "mallory").exit_code == 3

    refusals = [e for e in log(estate) if e.action == "access.denied"]
    assert [(e.principal, e.detail["attempted"], e.dataset, e.purpose) for e in refusals] == [
        ("dis", "data.query", "people", "review"),
        ("(unregistered)", "quarantine.read", "people", None),
        ("(unregistered)", "audit.verify", None, None),
    ]
