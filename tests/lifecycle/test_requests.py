"""The requests register through the CLI: open, list (overdue first), extend, close, and bad input."""

from __future__ import annotations

from datetime import date

import pytest

from tests.lifecycle.conftest import NHS, Planted


def test_open_list_extend_close(planted: Planted) -> None:
    cli = planted.cli
    opened = cli("request", "open", "erasure", "--nhs-number", "943 476 5919", "--received", "2026-01-31", "--json",
                 user="dora")  # fmt: skip
    assert opened.exit_code == 0, opened.stderr
    assert opened.json()["due"] == "2026-02-28"
    recent = date.today().replace(day=1).isoformat()
    cli("request", "open", "access", "--name", "Sam Jackson", "--dob", "1980-02-29", "--received", recent, user="dora")
    listed = cli("request", "list", "--json", user="dora").json()
    assert [r["request"] for r in listed] == ["R1", "R2"]  # overdue first
    assert listed[0]["overdue"] and not listed[1]["overdue"]
    extended = cli("request", "extend", "R1", "--months", "2", "--reason", "complex", "--json", user="dora").json()
    assert extended["due"] == "2026-04-30"
    again = cli("request", "extend", "R1", "--months", "1", "--reason", "more", user="dora")
    assert again.exit_code == 1 and "at most 2 months" in again.stderr
    closed = cli("request", "close", "R2", "--outcome", "pack sent", "--json", user="dora").json()
    assert closed["status"] == "closed"
    shown = cli("request", "list", user="dora")
    assert "OVERDUE" in shown.stdout


def test_bad_input_is_one_line_and_changes_nothing(planted: Planted) -> None:
    cli = planted.cli
    bad = cli("request", "open", "erasure", "--nhs-number", "943 476 5918", "--received", "2026-01-01", user="dora")
    assert bad.exit_code == 1 and "not a valid nhs number" in bad.stderr and "5918" not in bad.stderr
    future = cli("request", "open", "erasure", "--nhs-number", NHS, "--received", "2999-01-01", user="dora")
    assert future.exit_code == 1 and "future" in future.stderr
    unknown = cli("request", "extend", "R9", "--reason", "x", user="dora")
    assert unknown.exit_code == 1 and "unknown request R9" in unknown.stderr
    nobody = cli("request", "open", "access", "--received", "2026-01-01", user="dora")
    assert nobody.exit_code == 1 and "identify the person" in nobody.stderr
    assert cli("request", "list", "--json", user="dora").json() == []


def test_an_analyst_may_not_manage_requests(planted: Planted) -> None:
    refused = planted.cli("request", "list", user="ann")
    assert refused.exit_code == 3
    log = planted.cli("audit", "log", "--action", "access.denied", "--json", user="dora").json()
    assert log and log[-1]["principal"] == "ann"


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (("hold", "remove"), "H99999999999999999999999"),
        (("hold", "remove"), "H\u00b2"),
        (("hold", "remove"), "H\u0661\u0662"),
        (("hold", "remove"), "X1"),
        (("subject", "find"), "R99999999999999999999"),
        (("subject", "find"), "R\u0661"),
        (("subject", "find"), "R-1"),
        (("subject", "find"), "H1"),
    ],
)
def test_request_and_hold_numbers_are_ascii_digits_that_fit(
    planted: Planted, command: tuple[str, str], text: str
) -> None:
    """Huge, non-ASCII or signed numbers get one line naming the text, never a crash or another record."""
    planted.cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    planted.cli("hold", "add", "--dataset", "people", "--reason", "inquiry", user="dora")
    refused = planted.cli(*command, text, user="dora")
    assert refused.exit_code == 1, refused.stderr
    assert "expected a" in refused.stderr and "unexpectedly" not in refused.stderr
    assert len(planted.cli("hold", "list", "--json", user="dora").json()) == 1


@pytest.mark.parametrize("row", ["99999999999999999999:1", "1:\u00b2", "\u0661:1"])
def test_row_keys_are_ascii_digits_that_fit(planted: Planted, row: str) -> None:
    planted.cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    refused = planted.cli("subject", "confirm", "R1", "--dataset", "people", "--row", row, user="dora")
    assert refused.exit_code == 1 and "--row" in refused.stderr and "unexpectedly" not in refused.stderr


def test_leading_zeros_and_lower_case_still_name_the_request(planted: Planted) -> None:
    planted.cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    for text in ("R1", "r1", "1", "R0001", " R1 "):
        assert planted.cli("subject", "find", text, user="dora").exit_code == 0, text


def test_hold_list_of_an_unknown_dataset_is_an_error(planted: Planted) -> None:
    listed = planted.cli("hold", "list", "--dataset", "nosuch", "--json", user="dora")
    assert listed.exit_code != 0 and "nosuch" in listed.stderr and listed.stdout == ""
    assert planted.cli("hold", "list", "--dataset", "people", "--json", user="dora").json() == []


def test_a_tampered_request_key_or_seal_is_one_clear_line(planted: Planted) -> None:
    import sqlite3

    cli = planted.cli
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    cli("request", "open", "access", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    key = planted.estate.keys_dir / "requests" / "R1.key"
    original = key.read_bytes()
    for edited in (bytes(b ^ 1 for b in original), original[:5]):
        key.write_bytes(edited)
        refused = cli("subject", "find", "R1", user="dora")
        assert refused.exit_code == 1 and "R1" in refused.stderr and "sealed" in refused.stderr, refused.stderr
        assert "unexpectedly" not in refused.stderr and NHS not in refused.stderr
    key.write_bytes(original)
    # R2's sealed identifiers copied over R1's: bound to R2's name, so they do not open as R1.
    planted.estate.close()
    with sqlite3.connect(planted.estate.root / "catalogue.db") as con:
        con.execute("UPDATE lifecycle_requests SET sealed = (SELECT sealed FROM lifecycle_requests WHERE id = 2) "
                    "WHERE id = 1")  # fmt: skip
    swapped = cli("subject", "find", "R1", user="dora")
    assert swapped.exit_code == 1 and "sealed" in swapped.stderr and "unexpectedly" not in swapped.stderr
