"""What the CLI prints: text exactly as written, errors as one line (JSON with --json), the right exit status."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joinedup.access import add_principal, disable_principal
from joinedup.audit import log
from joinedup.cli.common import out
from joinedup.estate import Estate
from tests.conftest import PEOPLE_SCHEMA, CliResult, write_csv

Cli = Callable[..., CliResult]
HOSTILE = [
    "[/]",
    "[white on white]hidden[/white on white]",
    "[red]alarm[/red]",
    "[bold]x",
    ":smile:",
    "[link=http://x]y[/link]",
]
PEOPLE = "person_id,name,nhs_number,postcode,date_of_birth,sex\n1,Sam Jackson,9434765919,E1 6AN,1980-01-01,F\n"


def _json_error(result: CliResult) -> dict[str, str]:
    [line] = result.stderr.strip().splitlines()
    return json.loads(line)


def test_stored_and_typed_text_is_printed_exactly_as_written(
    cli: Cli, estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "width", 200)  # wide enough that no table folds a value onto two lines
    schema = tmp_path / "hostile.yaml"
    schema.write_text(PEOPLE_SCHEMA.replace("title: People", f"title: '{HOSTILE[1]}'"), encoding="utf-8")
    bad_sex = PEOPLE + "2,Bill Smith,9434765919,E1 6AN,1980-01-01,[red]alarm[/red]\n"
    assert (
        cli("ingest", write_csv(tmp_path / "p.csv", bad_sex), "--dataset", "people", "--schema", schema).exit_code == 0
    )

    # One row each, so that even an 80-column table shows every value whole.
    rows = ", ".join(f"('{text}')" for text in HOSTILE)
    queried = cli("query", f"SELECT * FROM (VALUES {rows}) AS t(c)")
    assert queried.exit_code == 0, queried.stderr
    for text in HOSTILE:
        assert text in queried.stdout, text

    assert HOSTILE[1] in cli("show", "--dataset", "people").stdout
    assert HOSTILE[1] in cli("datasets").stdout
    assert "[red]alarm[/red]" in cli("quarantine", "--dataset", "people").stdout

    missing = cli("show", "--dataset", "[bold]nobody[/bold]")
    assert missing.exit_code == 1 and "unknown dataset '[bold]nobody[/bold]'" in missing.stderr


def test_markup_typed_into_the_log_does_not_break_the_audit_log_for_everyone(cli: Cli, estate: Estate) -> None:
    refused = cli("datasets", "--as", "[/]")
    assert refused.exit_code == 3 and "[/] is not a registered principal" in refused.stderr
    # A purpose is stored as typed: a closing tag with nothing open once crashed every later `audit log`.
    assert cli("query", "SELECT 1 AS one", "--purpose", "[/] review [red]x").exit_code == 0
    shown = cli("audit", "log", "--action", "data.query")
    assert shown.exit_code == 0, shown.stderr
    assert "[/]" in shown.stdout and "[red]x" in shown.stdout  # printed as typed (the table may fold the line)


def test_with_json_an_error_is_one_json_object_on_stderr(cli: Cli, estate: Estate, tmp_path: Path) -> None:
    missing = cli("show", "--dataset", "nobody", "--json")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert _json_error(missing) == {"error": "not-found", "message": "unknown dataset 'nobody' (datasets: none yet)"}

    denied = cli("audit", "log", "--as", "mallory", "--json")
    assert denied.exit_code == 3 and _json_error(denied)["error"] == "access-denied"

    usage = cli("ingest", write_csv(tmp_path / "p.csv", PEOPLE), "--dataset", "p", "--format", "xls", "--json")
    assert usage.exit_code == 2 and _json_error(usage)["error"] == "usage"
    assert "xls" in _json_error(usage)["message"]

    invalid = cli("standards", "check", "postcode", "SW1A 1AC", "--json")
    assert invalid.exit_code == 5 and json.loads(invalid.stdout)["valid"] is False
    assert _json_error(invalid)["error"] == "check-failed"
    assert "SW1A 1AC" not in invalid.stderr  # the value may be someone's identifier


def test_without_json_an_error_is_one_line(cli: Cli) -> None:
    missing = cli("show", "--dataset", "nobody")
    assert missing.stderr.strip().splitlines() == ["Error: unknown dataset 'nobody' (datasets: none yet)"]


def test_a_tampered_log_exits_4_with_a_tampering_error(cli: Cli, estate: Estate) -> None:
    cli("principal", "add", "alice", "--role", "analyst", "--dataset", "people")
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        con.execute("UPDATE audit_entries SET principal = 'mallory' WHERE seq = 2")
    result = cli("audit", "verify", "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["first_bad_seq"] == 2
    error = _json_error(result)
    assert error["error"] == "audit-tampering"
    assert error["message"].startswith("audit log failed verification: seq 2 does not match its hash")


def test_show_and_datasets_need_a_registered_enabled_principal(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    cli("ingest", write_csv(tmp_path / "p.csv", PEOPLE), "--dataset", "people", "--schema", people_schema)
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    assert cli("show", "--dataset", "people", "--as", "alice").exit_code == 0
    disable_principal(estate, "tester", "alice")
    for args in (("datasets",), ("show", "--dataset", "people")):
        for who in ("mallory", "alice"):
            refused = cli(*args, "--as", who)
            assert refused.exit_code == 3, (args, who)
            assert len(refused.stderr.strip().splitlines()) == 1
    # An unregistered name is logged only as a keyed hash, under "(unregistered)".
    assert [e.principal for e in log(estate, action="access.denied")] == ["(unregistered)", "alice"] * 2


def test_the_old_positional_dataset_still_works_and_cannot_contradict_the_option(
    cli: Cli, tmp_path: Path, people_schema: Path
) -> None:
    cli("ingest", write_csv(tmp_path / "p.csv", PEOPLE), "--dataset", "people", "--schema", people_schema)
    assert cli("show", "people", "--json").json()["name"] == "people"
    assert cli("quarantine", "people", "--json").json()["rows_total"] == 0
    both = cli("show", "people", "--dataset", "visits")
    assert both.exit_code == 2 and "two datasets given" in both.stderr
    neither = cli("quarantine")
    assert neither.exit_code == 2 and "--dataset" in neither.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "p.csv", "--dataset", "p", "--format", "xls"),
        ("schema", "infer", "p.csv", "--format", "xls"),
        ("principal", "add", "bob", "--role", "superuser"),
        ("principal", "add", "bob", "--role", "analyst", "--kind", "robot"),
        ("standards", "check", "shoe_size", "9"),
    ],
)
def test_a_value_outside_the_choices_is_a_usage_error(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "is not one of" in result.stderr


def test_text_that_is_not_utf8_is_refused_in_one_line_not_a_traceback(cli: Cli, estate: Estate) -> None:
    lone = "\udcff"  # what Python makes of the byte 0xff in argv or the environment
    flagged = cli("datasets", "--as", lone, "--json")
    assert flagged.exit_code == 2 and "not UTF-8" in _json_error(flagged)["message"]
    for args in (("datasets", "--as", lone), ("show", "--dataset", lone), ("query", f"SELECT '{lone}'")):
        result = cli(*args)
        assert result.exit_code == 2 and "not UTF-8" in result.stderr, args

    process = subprocess.run(
        [sys.executable, "-m", "joinedup.cli.main", "principal", "whoami"],
        capture_output=True,
        env={
            "JOINEDUP_ESTATE": str(estate.root),
            "JOINEDUP_USER": b"\xff".decode("utf-8", "surrogateescape"),
            "PATH": "",
        },
        timeout=120,
    )
    assert process.returncode == 2
    assert b"Traceback" not in process.stderr and b"not UTF-8" in process.stderr


def test_an_unexpected_failure_is_one_line_without_its_text(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("could not convert 'Sam Jackson'")

    monkeypatch.setattr("joinedup.estate.Catalogue.datasets", broken)
    monkeypatch.delenv("JOINEDUP_DEBUG", raising=False)
    result = cli("datasets")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "RuntimeError" in line and "Sam Jackson" not in line


def test_a_chosen_format_reaches_the_reader(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    text = write_csv(tmp_path / "people.txt.export", PEOPLE)  # an extension that says nothing
    guessed = cli("ingest", text, "--dataset", "people", "--schema", people_schema)
    assert guessed.exit_code == 1
    chosen = cli("ingest", text, "--dataset", "people", "--schema", people_schema, "--format", "csv", "--json")
    assert chosen.exit_code == 0, chosen.stderr
    assert chosen.json()["rows_loaded"] == 1


#: What a terminal acts on instead of showing: ESC (a colour that hides what follows), OSC (a window title, ended
#: by BEL), C1's single-byte CSI, and U+202E (shows the rest of the line reversed); then how each is shown.
HOSTILE_CONTROLS = "\x1b[8m\x1b]0;pwned\x07\x9b2J\u202e"
SHOWN_CONTROLS = "\\x1b[8m\\x1b]0;pwned\\x07\\x9b2J\\u202e"


def _shows_controls_visibly(text: str) -> None:
    for char in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert char not in text, repr(char)
    assert SHOWN_CONTROLS in text, text


def test_control_characters_reach_the_terminal_only_as_visible_escapes(
    cli: Cli, estate: Estate, tmp_path: Path, people_schema: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "width", 300)  # no table folds a value onto two lines
    hostile = HOSTILE_CONTROLS
    # A stored value: in a row that loads (query) and in one that is quarantined (its bad sex).
    rows = PEOPLE.replace("Sam Jackson", f"Sam{hostile}Jackson") + f"2,Bill Smith,,E1 6AN,1980-01-01,F{hostile}\n"
    assert cli("ingest", write_csv(tmp_path / "p.csv", rows), "-d", "people", "--schema", people_schema).exit_code == 0
    queried = cli("query", "SELECT name FROM people")
    assert queried.exit_code == 0, queried.stderr
    _shows_controls_visibly(queried.stdout)
    quarantined = cli("quarantine", "-d", "people")
    assert quarantined.exit_code == 0, quarantined.stderr
    _shows_controls_visibly(quarantined.stdout)
    # Typed text kept in the audit log, shown to whoever reads the log later.
    assert cli("query", "SELECT 1 AS one", "--purpose", f"review{hostile}").exit_code == 0
    logged = cli("audit", "log", "--action", "data.query")
    assert logged.exit_code == 0, logged.stderr
    _shows_controls_visibly(logged.stdout)
    # A file name quoted in an error.
    missing = cli("schema", "check", tmp_path / f"nothing{hostile}.yaml")
    assert missing.exit_code == 1
    _shows_controls_visibly(missing.stderr)
    # Typed text a usage error quotes back.
    extra = cli("datasets", f"extra{hostile}")
    assert extra.exit_code == 2
    _shows_controls_visibly(extra.stderr)
    # JSON stays exact: the value comes back as it was stored.
    assert cli("query", "SELECT name FROM people", "--json").json() == [{"name": f"Sam{hostile}Jackson"}]


@pytest.mark.parametrize(
    "args",
    [("query", "SELECT 1 AS one"), ("quarantine", "-d", "people"), ("audit", "log")],
    ids=["query", "quarantine", "audit log"],
)
def test_a_negative_limit_is_a_usage_error(cli: Cli, estate: Estate, args: tuple[str, ...]) -> None:
    entries = len(log(estate))
    refused = cli(*args, "--limit", "-1")
    assert refused.exit_code == 2 and "--limit" in refused.stderr and "greater than or equal to 0" in refused.stderr
    assert len(log(estate)) == entries  # refused before anything was read or audited
    assert cli("query", "SELECT 1 AS one", "--limit", "0", "--json").json() == []


def _joinedup(estate: Estate, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """``joinedup ARGS`` in a process of its own, with Ctrl-C (SIGINT) acted on as in a terminal."""
    script = Path(sys.executable).with_name("joinedup")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "joinedup.cli.main"]
    return subprocess.Popen(
        [*command, *args],
        env={**os.environ, "JOINEDUP_ESTATE": str(estate.root)},
        text=True,
        # A test runner started in the background may pass SIGINT on ignored: restore what a shell gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc to see the query at work")
def test_ctrl_c_during_a_query_ends_with_status_130_not_as_a_failure(estate: Estate) -> None:
    # DuckDB reports Ctrl-C during a query as RuntimeError("Query interrupted"): it must end as an
    # interrupt (130, as Ctrl-C anywhere else), not as "failed unexpectedly" asking for a bug report.
    running = _joinedup(
        estate, "query", "SELECT sum(i) FROM range(1000000000000) t(i)", "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    # Starting takes about a second of CPU; well past that, only the query can be using it.
    deadline = time.monotonic() + 120
    while _cpu_seconds(running.pid) < 4:
        assert running.poll() is None and time.monotonic() < deadline, running.stderr and running.stderr.read()
        time.sleep(0.1)
    running.send_signal(signal.SIGINT)
    try:
        # Promptly: left to itself, DuckDB could take until the query's time limit (300 s) to stop.
        out, err = running.communicate(timeout=20)
    finally:
        running.kill()
        running.wait()
    assert running.returncode == 130, err
    assert "unexpectedly" not in err and out == ""


def test_help_read_by_head_ends_quietly(estate: Estate, tmp_path: Path) -> None:
    # `head` leaves after 30 lines while the help is still being written: that is the reader's choice, not a bug.
    errors = tmp_path / "stderr.txt"
    for _ in range(3):
        with errors.open("w") as stderr:
            writer = _joinedup(estate, "query", "--help", stdout=subprocess.PIPE, stderr=stderr)
            assert writer.stdout is not None
            reader = subprocess.Popen(["head", "-n", "30"], stdin=writer.stdout, stdout=subprocess.PIPE, text=True)
            writer.stdout.close()  # head is then the only reader, as in a shell's pipeline
            shown, _ = reader.communicate(timeout=60)
            assert writer.wait(timeout=60) in (0, 1)
        assert "Usage: joinedup query" in shown
        assert errors.read_text() == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to stand for a full disk")
@pytest.mark.parametrize("args", [("datasets", "--json"), ("datasets",), ("--version",)])
def test_output_to_a_full_disk_is_one_line_saying_so_not_a_bug_report(estate: Estate, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        running = _joinedup(estate, *args, stdout=full, stderr=subprocess.PIPE)
        _, err = running.communicate(timeout=120)
    assert running.returncode == 1
    [line] = err.strip().splitlines()
    assert "No space left on device" in line and "unexpectedly" not in line
