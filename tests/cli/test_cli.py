"""The joinedup command as a data engineer uses it."""

from __future__ import annotations

import csv
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import typer
import yaml

from joinedup import __version__
from joinedup.audit import log
from joinedup.cli.main import COMMANDS, app, build, modules_for
from joinedup.estate import Estate
from tests.conftest import CliResult, write_csv

Cli = Callable[..., CliResult]
MESSY = """
Person ID,Name,NHS Number,Postcode,Date of birth,Sex
1,  SAM JACKSON ,943 476 5919,sw1a1aa,1980-02-29,F
2,Bill Smith,4010232137,E1 6AN,1975-08-09,M
3,=HYPERLINK("http://x"),4010232138,E1 6AN,1975-08-09,M
"""


def test_init_then_ingest_show_query_quarantine(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    fresh = tmp_path / "council"
    made = cli("init", fresh, "--json", estate_path=fresh)
    assert made.exit_code == 0, made.stderr
    assert made.json()["estate"] == str(fresh)

    data = write_csv(tmp_path / "people.csv", MESSY)
    result = cli("ingest", data, "--dataset", "people", "--schema", people_schema, "--json", estate_path=fresh)
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert {k: summary[k] for k in ("dataset", "version", "rows_read", "rows_loaded", "rows_quarantined")} == {
        "dataset": "people",
        "version": 1,
        "rows_read": 3,
        "rows_loaded": 2,
        "rows_quarantined": 1,
    }
    assert summary["counts_by_rule"] == {"nhs_number": 1}

    listed = cli("datasets", "--json", estate_path=fresh).json()
    assert [(d["name"], d["current_version"], d["rows"], d["quarantined"]) for d in listed] == [("people", 1, 2, 1)]

    shown = cli("show", "--dataset", "people", "--json", estate_path=fresh).json()
    [version] = shown["versions"]
    assert version["source_name"] == "people.csv" and len(version["source_sha256"]) == 64
    assert version["created_by"] == "tester"
    assert [f["name"] for f in shown["schema"]["fields"]][:2] == ["person_id", "name"]

    rows = cli("query", "SELECT name, postcode FROM people ORDER BY person_id", "--json", estate_path=fresh).json()
    assert rows == [{"name": "Sam Jackson", "postcode": "SW1A 1AA"}, {"name": "Bill Smith", "postcode": "E1 6AN"}]

    rejected = cli("quarantine", "--dataset", "people", "--json", estate_path=fresh).json()
    assert rejected["rows_total"] == 1 and rejected["rows"][0]["_source_row"] == 4

    out = tmp_path / "rejected.csv"
    assert cli("quarantine", "-d", "people", "--csv", out, estate_path=fresh).exit_code == 0
    with open(out, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][:2] == ["row", "reasons"]
    assert lines[1][0] == "4" and "nhs_number" in lines[1][1]
    assert lines[1][3] == '\'=HYPERLINK("http://x")'  # no formula runs when it is opened


def test_human_output_names_what_happened(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    result = cli("ingest", write_csv(tmp_path / "people.csv", MESSY), "--dataset", "people", "--schema", people_schema)
    assert result.exit_code == 0
    assert "people version 1" in result.stdout and "quarantined 1" in result.stdout
    assert "joinedup quarantine --dataset people --version 1" in result.stdout


def test_errors_are_one_line_and_exit_non_zero(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    cases = [
        (("show", "--dataset", "nobody"), "unknown dataset 'nobody'"),
        (("ingest", tmp_path / "absent.csv", "--dataset", "people", "--schema", people_schema), "file not found"),
        (("query", "DROP TABLE people"), "only SELECT"),
        (("quarantine", "--dataset", "nobody"), "unknown dataset"),
        (
            (
                "ingest",
                write_csv(tmp_path / "p.csv", MESSY),
                "--dataset",
                "people",
                "--schema",
                people_schema,
                "--delimiter",
                ";;",
            ),
            "--delimiter must be one character",
        ),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_a_bad_schema_is_named_with_its_path(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields:\n  - name: nhs\n    type: nhs\n")
    result = cli("ingest", write_csv(tmp_path / "p.csv", "nhs\n1\n"), "--dataset", "p", "--schema", bad)
    assert result.exit_code != 0
    assert "fields[0].type: 'nhs' is not a supported type (did you mean 'nhs_number'?)" in result.stderr
    assert cli("datasets", "--json").json() == []


def test_standards_check(cli: Cli) -> None:
    good = cli("standards", "check", "nhs_number", "943 476 5919", "--json")
    assert good.exit_code == 0 and good.json()["canonical"] == "9434765919"
    bad = cli("standards", "check", "postcode", "SW1A 1AC", "--json")
    assert bad.exit_code == 5 and bad.json()["valid"] is False
    unknown = cli("standards", "check", "shoe_size", "9")
    assert unknown.exit_code != 0 and "nhs_number" in unknown.stderr


def test_schema_infer_proposes_uk_types_and_personal_columns(cli: Cli, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "people.csv", MESSY)
    target = tmp_path / "proposed.yaml"
    assert cli("schema", "infer", data, "--out", target).exit_code == 0
    proposed = yaml.safe_load(target.read_text())
    fields = {f["name"]: f for f in proposed["fields"]}
    assert fields["postcode"]["type"] == "postcode" and fields["postcode"]["personal"] is True
    assert fields["date_of_birth"]["type"] == "date" and fields["date_of_birth"]["category"] == "date_of_birth"
    assert fields["name"]["category"] == "name"
    assert fields["person_id"]["title"] == "Person ID"
    assert cli("schema", "check", target).exit_code == 0
    # The proposal loads the file it came from.
    assert cli("ingest", data, "--dataset", "people", "--schema", target, "--json").json()["rows_read"] == 3


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["ingest", "--help"],
        ["query", "--help"],
        ["schema", "infer", "--help"],
        ["standards", "check", "--help"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "joinedup.cli.main", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "Usage" in done.stdout, (args, done.stderr)


def test_python_m_joinedup_runs_the_command_as_the_script_does(tmp_path: Path) -> None:
    # What the `joinedup` console script runs, read from pyproject's [project.scripts].
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    module, function = pyproject["project"]["scripts"]["joinedup"].split(":")
    script = f"from {module} import {function}; {function}()"

    def run(*command: str) -> tuple[int, str, str]:
        done = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    assert run("-m", "joinedup", "--version") == (0, f"joinedup {__version__}\n", "")
    assert run("-c", script, "--version") == run("-m", "joinedup", "--version")
    # An error is the same one line and exit status either way.
    missing = ("datasets", "--estate", str(tmp_path / "nowhere"))
    refused = run("-m", "joinedup", *missing)
    assert refused[0] == 1 and len(refused[2].strip().splitlines()) == 1 and "no estate here" in refused[2]
    assert run("-c", script, *missing) == refused


def _top_level(typer_app: typer.Typer) -> set[str | None]:
    return {c.name for c in typer_app.registered_commands} | {g.name for g in typer_app.registered_groups}


def test_each_command_loads_only_the_module_defining_it() -> None:
    assert _top_level(app) == {name for names in COMMANDS.values() for name in names}
    for module, names in COMMANDS.items():
        assert _top_level(build([module])) == set(names), module
    assert modules_for(["ingest", "people.csv", "-d", "people"]) == ["data"]
    assert modules_for(["--version"]) == []
    # Help lists every command, and an unknown one gets Click's suggestions from all of them.
    assert modules_for(["--help"]) is None and modules_for(["--version", "--help"]) is None
    assert modules_for(["ingets"]) is None and modules_for([]) is None


_LOADED = """
import sys
from joinedup.cli.main import build, modules_for
args = sys.argv[1:]
try:
    build(modules_for(args))(args)
except SystemExit:
    pass
heavy = (
    "pandas", "sqlalchemy", "rich.progress", "joinedup.linkage", "joinedup.publish", "joinedup.api", "joinedup.sharing",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
)
print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def test_version_and_ingest_load_only_what_they_use(tmp_path: Path, people_schema: Path) -> None:
    # Starting up is most of what a small command costs: --version needs no catalogue, and an ingest of a
    # CSV needs neither pandas nor linkage, publishing, sharing or the API (nor, in a script, a progress bar,
    # nor the signing keys: its audit entry is chained, and checkpoints are signed only every so many entries).
    def loaded(*args: object) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _LOADED, *map(str, args)], capture_output=True, text=True, timeout=120
        )
        return done.stderr.strip().splitlines()[-1]

    assert loaded("--version") == "[]"
    estate = tmp_path / "estate"
    loaded("init", estate)
    data = write_csv(tmp_path / "people.csv", MESSY)
    assert loaded("ingest", data, "-d", "people", "--schema", people_schema, "--estate", estate) == "['sqlalchemy']"
    assert Estate.open(estate).table_path("people").exists()


def test_query_json_keeps_every_column_and_writes_only_valid_json(cli: Cli) -> None:
    result = cli(
        "query",
        "SELECT 1 AS a, 2 AS a, TIME '12:00' AS t, INTERVAL 90 MINUTE AS i, 'nan'::DOUBLE AS n, "
        "170141183460469231731687303715884105727::HUGEINT AS h, 1.25::DECIMAL(10, 2) AS d",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert "NaN" not in result.stdout
    assert result.json() == [
        {
            "a": 1,
            "a_2": 2,
            "t": "12:00:00",
            "i": "PT5400S",
            "n": None,
            "h": 170141183460469231731687303715884105727,
            "d": 1.25,
        }
    ]


def test_quarantine_lists_each_reason_on_its_own_line(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    cli("ingest", write_csv(tmp_path / "people.csv", MESSY), "--dataset", "people", "--schema", people_schema)
    result = cli("quarantine", "--dataset", "people")
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "column" in line)
    assert all(word in header for word in ("row", "column", "rule", "value", "message"))
    assert "--csv FILE or --json" in result.stdout


def test_a_folder_or_a_missing_folder_given_as_a_file_is_one_line_and_changes_nothing(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    data = write_csv(tmp_path / "people.csv", MESSY)
    assert cli("ingest", data, "--dataset", "people", "--schema", people_schema).exit_code == 0
    folder = tmp_path / "folder"
    folder.mkdir()
    missing = tmp_path / "missing" / "out"
    entries = len(log(estate))
    cases = [
        (("ingest", data, "-d", "people", "--schema", folder), f"--schema {folder}: is a folder; expected a file"),
        (("ingest", folder, "-d", "people"), f"{folder}: is a folder; expected a file"),
        (("schema", "check", folder), f"{folder}: is a folder"),
        (("schema", "infer", data, "--out", folder), f"--out {folder}: is a folder; expected the name of a file"),
        (("schema", "infer", data, "--out", f"{missing}.yaml"), f"folder {missing.parent} does not exist"),
        (("schema", "export", "-d", "people", "--out", f"{folder}/"), f"--out {folder}: is a folder"),
        (("schema", "export", "-d", "people", "--out", f"{missing}.json"), f"folder {missing.parent} does not exist"),
        (("quarantine", "-d", "people", "--csv", f"{missing}.csv"), f"folder {missing.parent} does not exist"),
        (("quarantine", "-d", "people", "--csv", folder), f"--csv {folder}: is a folder"),
        (("audit", "verify", "--checkpoint", folder), f"--checkpoint {folder}: is a folder"),
        (("audit", "checkpoint", "--export", f"{missing}.json"), f"folder {missing.parent} does not exist"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert message in line and "unexpectedly" not in line, (args, line)
    # Refused before anything was read, authorised or audited; nothing was written.
    assert len(log(estate)) == entries
    assert cli("show", "-d", "people", "--json").json()["current_version"] == 1
    assert not missing.parent.exists() and list(folder.iterdir()) == []
