"""The demo builds an estate whose quarantine is exactly the errors it planted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from joinedup.access import list_principals
from joinedup.demo import DemoReport, check_demo_target, run_demo
from joinedup.errors import EstateError
from joinedup.estate import Catalogue, Estate
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_demo_quarantines_exactly_the_planted_errors(tmp_path: Path) -> None:
    report = run_demo(tmp_path / "demo", principal="tester", rows=600, seed=11)
    assert report.quarantine_matches_ground_truth, report.ingests
    assert [i["dataset"] for i in report.ingests] == ["residents", "gp_registrations", "businesses"]
    assert {i["encoding"] for i in report.ingests if i["dataset"] == "residents"} == {"cp1252"}
    assert all(i["rows_read"] == i["rows_loaded"] + i["rows_quarantined"] for i in report.ingests)
    assert report.inferred["nhs_number"] == "nhs_number" and report.inferred["postcode"] == "postcode"
    names = [d.name for d in Catalogue(Estate.open(tmp_path / "demo")).datasets()]
    assert names == ["businesses", "gp_registrations", "residents"]
    # The report goes beside the inputs: nothing in the estate folder belongs to no dataset.
    assert report.quality_report == str(Path(report.inputs) / "quality-report.html")
    assert Path(report.quality_report).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not Estate.open(tmp_path / "demo").contains(Path(report.quality_report))


def test_demo_replaces_only_an_earlier_estate(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "work.txt").write_text("mine")
    with pytest.raises(EstateError, match="already exists"):
        check_demo_target(precious, fresh=True)
    assert (precious / "work.txt").read_text() == "mine"


def test_fresh_never_replaces_an_estate_the_demo_did_not_make(estate: Estate) -> None:
    # `joinedup demo --fresh` with the working estate's path must not wipe it.
    (estate.root / "data" / "keep.txt").write_text("a real dataset")
    with pytest.raises(EstateError, match="did not make"):
        run_demo(estate.root, principal="tester", rows=50, fresh=True)
    assert (estate.root / "data" / "keep.txt").read_text() == "a real dataset"
    assert not (estate.root.parent / f"{estate.root.name}-inputs").exists()


def test_a_folder_of_someone_elses_files_where_the_inputs_would_go_is_left_alone(tmp_path: Path) -> None:
    inputs = tmp_path / "council-inputs"
    inputs.mkdir()
    (inputs / "precious.csv").write_text("x")
    with pytest.raises(EstateError, match="council-inputs: already exists"):
        run_demo(tmp_path / "council", principal="tester", rows=50)
    assert (inputs / "precious.csv").read_text() == "x"
    assert not (tmp_path / "council").exists()


def test_fresh_replaces_an_earlier_demo_estate_and_its_inputs(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "demo", principal="tester", rows=60, seed=3)
    (Path(first.inputs) / "left-over.csv").write_text("old")
    with pytest.raises(EstateError, match="pass --fresh"):
        check_demo_target(tmp_path / "demo", fresh=False)
    second = run_demo(tmp_path / "demo", principal="tester", rows=60, seed=4, fresh=True)
    assert second.quarantine_matches_ground_truth
    assert not (Path(second.inputs) / "left-over.csv").exists()


def test_the_command_exits_5_when_the_quarantine_differs_from_the_planted_errors(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mismatched(path: Path, **_: object) -> DemoReport:
        entry = {
            "dataset": "residents",
            "source": "residents.csv",
            "rows_read": 3,
            "rows_loaded": 3,
            "rows_quarantined": 0,
        }
        return DemoReport(
            str(path), str(path) + "-inputs", ingests=[{**entry, "quarantine_matches_ground_truth": False}]
        )

    monkeypatch.setattr("joinedup.demo.run_demo", mismatched)
    result = cli("demo", "--estate", tmp_path / "demo", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["quarantine_matches_ground_truth"] is False
    assert json.loads(result.stderr)["error"] == "check-failed"


def test_the_command_makes_the_principal_given_with_as_the_demo_admin(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", "--estate", tmp_path / "demo", "--rows", "40", "--as", "dana", "--json")
    assert result.exit_code == 0, result.stderr
    [admin] = list_principals(Estate.open(tmp_path / "demo"))
    assert (admin.name, [g.role for g in admin.grants]) == ("dana", ["admin"])


def test_without_faker_the_demo_names_the_extra_and_everything_else_works(tmp_path: Path) -> None:
    # As a production install without the `demo` extra: Faker cannot be imported.
    script = (
        "import sys; sys.modules['faker'] = None\n"
        "sys.argv = ['joinedup', *sys.argv[1:]]\n"
        "from joinedup.cli.main import main; main()\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"JOINEDUP_USER": "tester", "PATH": ""}
        return subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
        )

    demo = run("demo", "--estate", "demo")
    assert demo.returncode == 1
    assert demo.stderr.strip().splitlines() == [
        "Error: joinedup demo needs Faker, which is not installed: pip install 'joinedup[demo]'"
    ]
    assert not (tmp_path / "demo").exists()
    assert run("init", "council").returncode == 0
    assert run("standards", "check", "nhs_number", "9434765919").returncode == 0
