"""Erasure is real (invariant 2): planted values vanish from every byte, everyone else stays, four eyes, holds."""

from __future__ import annotations

import sqlite3

from joinedup.audit import verify
from joinedup.estate import Catalogue
from joinedup.storage import delta
from tests.lifecycle.conftest import NAME, NHS, Planted
from tests.lifecycle.oracle import occurrences

SPELLINGS = [NHS, "943 476 5919", NAME]


def _rows(planted: Planted, dataset: str) -> list[dict[str, object]]:
    current = Catalogue(planted.estate).get(dataset).version(None)
    table = delta.snapshot(planted.estate.table_path(dataset), current.table_version).to_table()
    return sorted(table.drop_columns(["_ingest", "_source_row"]).to_pylist(), key=str)


def _request(planted: Planted) -> None:
    cli = planted.cli
    opened = cli("request", "open", "erasure", "--nhs-number", NHS, "--name", NAME, "--received", "2026-11-30",
                 user="dora")  # fmt: skip
    assert opened.exit_code == 0, opened.stderr
    found = cli("subject", "find", "R1", "--json", user="dora")
    assert found.exit_code == 0, found.stderr
    assert {(m["dataset"], m["part"]) for m in found.json()} == {
        ("people", "table"),
        ("people", "quarantine"),
        ("visits", "table"),
    }


def test_erasure_leaves_no_byte_of_the_person_and_everyone_else_intact(planted: Planted) -> None:
    cli = planted.cli
    assert occurrences(planted.estate.root, SPELLINGS)  # the oracle sees what was planted
    before = {d: _rows(planted, d) for d in ("people", "visits")}
    _request(planted)
    proposed = cli("subject", "erase", "R1", "--json", user="dora")
    assert proposed.exit_code == 0 and proposed.json()["status"] == "proposed"
    done = cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    certificate = done.json()["certificate"]
    assert certificate["verification"]["clean"] and certificate["approved_by"] == "dan"
    planted.estate.close()
    assert occurrences(planted.estate.root, SPELLINGS) == []
    for dataset in ("people", "visits"):
        after = _rows(planted, dataset)
        assert after == [r for r in before[dataset] if NHS not in str(r)]
        assert len(after) == len(before[dataset]) - 1
    assert verify(planted.estate).ok
    # The current version reads back; the versions whose files held the person are marked purged.
    assert {tuple(v) for v in certificate["versions_purged"]} >= {("visits", 1), ("visits", 2)}
    shown = cli("subject", "certificate", "R1", "--json", user="dora").json()
    assert shown["certificate"] == "E1"
    listed = cli("request", "list", "--json", user="dora").json()
    assert listed[0]["status"] == "erased"
    # Who accessed the person stays answerable after erasure (their keyed hash, never the number).
    who = cli("audit", "who-accessed", "--nhs-number", NHS, "--json", user="dora")
    assert any(a["action"] == "subject.erase" for a in who.json()["accesses"])


def test_four_eyes_and_refusals_change_nothing(planted: Planted) -> None:
    cli = planted.cli
    _request(planted)
    unproposed = cli("subject", "erase", "R1", "--approve", user="dan")
    assert unproposed.exit_code == 1 and "no erasure proposed" in unproposed.stderr
    cli("subject", "erase", "R1", user="dora")
    same = cli("subject", "erase", "R1", "--approve", user="dora")
    assert same.exit_code == 3 and "four eyes" in same.stderr
    analyst = cli("subject", "erase", "R1", "--approve", user="ann")
    assert analyst.exit_code == 3
    unknown = cli("subject", "erase", "R7", user="dora")
    assert unknown.exit_code == 1 and "unknown request R7" in unknown.stderr
    assert NHS in str(_rows(planted, "people"))


def test_a_legal_hold_refuses_erasure(planted: Planted) -> None:
    cli = planted.cli
    _request(planted)
    held = cli("hold", "add", "--dataset", "visits", "--nhs-number", NHS, "--reason", "inquiry", "--json", user="dora")
    assert held.exit_code == 0, held.stderr
    refused = cli("subject", "erase", "R1", user="dora")
    assert refused.exit_code == 1 and "legal hold H1" in refused.stderr and NHS not in refused.stderr
    assert cli("hold", "list", "--json", user="dora").json()[0]["scope"] == "one person"
    assert cli("hold", "remove", "H1", user="dora").exit_code == 0
    assert cli("subject", "erase", "R1", user="dora").exit_code == 0


def test_a_person_not_found_is_refused(planted: Planted) -> None:
    cli = planted.cli
    cli("request", "open", "erasure", "--nhs-number", "401 023 2137", "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    refused = cli("subject", "erase", "R1", user="dora")
    assert refused.exit_code == 1 and "not found" in refused.stderr


def test_the_audit_log_holds_no_raw_values(planted: Planted) -> None:
    cli = planted.cli
    _request(planted)
    cli("subject", "erase", "R1", user="dora")
    cli("subject", "erase", "R1", "--approve", user="dan")
    planted.estate.close()
    with sqlite3.connect(planted.estate.root / "catalogue.db") as con:
        text = repr(con.execute("SELECT * FROM audit_entries").fetchall()).lower()
    assert all(s.lower() not in text for s in SPELLINGS)


def test_several_requests_share_one_run(planted: Planted) -> None:
    from tests.lifecycle.conftest import OTHERS

    cli = planted.cli
    _request(planted)
    _, other_nhs = OTHERS[0]
    cli("request", "open", "erasure", "--nhs-number", other_nhs, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R2", user="dora")
    assert cli("subject", "erase", "R1", "R2", user="dora").exit_code == 0
    done = cli("subject", "erase", "R2", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    removed = {r["dataset"]: r["table_rows"] for r in done.json()["certificate"]["removed"]}
    assert removed == {"people": 2, "visits": 2}
    planted.estate.close()
    assert occurrences(planted.estate.root, [*SPELLINGS, other_nhs]) == []
    assert len(_rows(planted, "visits")) == len(OTHERS) - 1


def test_show_stays_honest_after_an_erasure(planted: Planted) -> None:
    cli = planted.cli
    _request(planted)
    cli("subject", "erase", "R1", user="dora")
    cli("subject", "erase", "R1", "--approve", user="dan")
    shown = cli("show", "-d", "visits", "--json").json()
    purged = {v["number"]: v["purged"] for v in shown["versions"]}
    assert purged[1] and purged[2] and purged[3] is None
    assert "no longer reads back" in cli("show", "-d", "visits").stdout
    current = cli("query", "SELECT count(*) AS n FROM visits", "--json").json()
    assert current == [{"n": 6}]


def test_rows_loaded_after_find_fail_verification_then_a_new_find_finishes(planted: Planted) -> None:
    from joinedup.ingest import ingest
    from tests.conftest import write_csv

    cli = planted.cli
    _request(planted)
    cli("subject", "erase", "R1", user="dora")
    late = write_csv(planted.tmp / "late.csv", f"visit_id,nhs_number,patient,clinic\n500,{NHS},{NAME},Hull")
    ingest(planted.estate, late, dataset="visits", principal="tester", mode="append")
    failed = cli("subject", "erase", "R1", "--approve", user="dan")
    assert failed.exit_code == 1 and "still in" in failed.stderr and NHS not in failed.stderr
    assert cli("subject", "find", "R1", user="dora").exit_code == 0
    done = cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    planted.estate.close()
    assert occurrences(planted.estate.root, SPELLINGS) == []


def test_erasure_removes_the_person_from_linkage_outputs(planted: Planted) -> None:
    from joinedup.linkage import keys_for_records, record_ids, records_for_key
    from joinedup.linkage.run import link

    link(planted.estate, ["people", "visits"], principal="tester", purpose="test")
    [(dataset, person_id)] = record_ids(planted.estate, "people", [(1, 2)])
    assert (dataset, person_id) == ("people", "1")
    [key] = keys_for_records(planted.estate, [("people", "1")])
    theirs = records_for_key(planted.estate, key)
    assert ("people", "1") in theirs and any(d == "visits" for d, _ in theirs)
    someone_else = {k: records_for_key(planted.estate, k) for k in keys_for_records(planted.estate, [("people", "10")])}
    assert someone_else
    _request(planted)
    planted.cli("subject", "erase", "R1", user="dora")
    done = planted.cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    assert done.json()["certificate"]["linkage"]["records_removed"] >= len(theirs)
    assert records_for_key(planted.estate, key) == []
    assert {k: records_for_key(planted.estate, k) for k in someone_else} == someone_else
    planted.estate.close()
    assert occurrences(planted.estate.root, SPELLINGS) == []


def test_a_logged_query_naming_the_person_is_forgotten_and_the_log_still_verifies(planted: Planted) -> None:
    from joinedup.audit import sealed_texts

    looked_up = planted.cli(
        "query", f"SELECT * FROM people WHERE nhs_number = '{NHS}'", "--purpose", "casework", user="ann"
    )
    assert looked_up.exit_code == 0, looked_up.stderr
    assert any(NHS in text for _seq, text in sealed_texts(planted.estate))  # sealed, so erasure must destroy it
    _request(planted)
    planted.cli("subject", "erase", "R1", user="dora")
    done = planted.cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    assert done.json()["certificate"]["sealed_queries"]["texts_destroyed"] >= 1
    assert not any(NHS in text for _seq, text in sealed_texts(planted.estate))
    assert verify(planted.estate).ok


def test_refusals_name_no_values(planted: Planted) -> None:
    cli = planted.cli
    bad = cli("hold", "add", "-d", "people", "--nhs-number", "943 476 5918", "--reason", "x", "--json", user="dora")
    assert bad.exit_code == 1 and "5918" not in bad.stderr
    cli("request", "open", "erasure", "--nhs-number", NHS, "--received", "2026-11-30", user="dora")
    refused = cli("subject", "find", "R1", user="ann")
    assert refused.exit_code == 3 and NHS not in refused.stderr


def test_a_four_eyes_refusal_is_on_the_audit_trail(planted: Planted) -> None:
    cli = planted.cli
    _request(planted)
    cli("subject", "erase", "R1", user="dora")
    refused = cli("subject", "erase", "R1", "--approve", user="dora")
    assert refused.exit_code == 3 and "four eyes" in refused.stderr
    log = cli("audit", "log", "--action", "subject.erase_refused", "--json", user="dan").json()
    assert [(e["principal"], e["detail"]["erasure"], e["detail"]["reason"]) for e in log] == [
        ("dora", "E1", "four eyes: the proposer may not approve")
    ]
    assert NHS not in str(log) and verify(planted.estate).ok
    assert NHS in str(_rows(planted, "people"))


def test_overlapping_erasures_are_refused(planted: Planted) -> None:
    """A request (or a row) already in an unfinished erasure cannot start a second one."""
    from tests.lifecycle.conftest import OTHERS

    cli = planted.cli
    _request(planted)
    assert cli("subject", "erase", "R1", user="dora").exit_code == 0
    _, other_nhs = OTHERS[0]
    cli("request", "open", "erasure", "--nhs-number", other_nhs, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R2", user="dora")
    wider = cli("subject", "erase", "R1", "R2", user="dora")
    assert wider.exit_code == 1 and "R1" in wider.stderr and "E1" in wider.stderr
    # A second request for the same person: its rows are those E1 will erase.
    cli("request", "open", "erasure", "--nhs-number", NHS, "--received", "2026-12-01", user="dora")
    cli("subject", "find", "R3", user="dora")
    same_rows = cli("subject", "erase", "R3", user="dora")
    assert same_rows.exit_code == 1 and "E1" in same_rows.stderr
    assert cli("subject", "erase", "R2", user="dora").exit_code == 0  # no overlap: allowed
    runs = cli("audit", "log", "--action", "subject.erase_proposed", "--json", user="dan").json()
    assert [e["detail"]["erasure"] for e in runs] == ["E1", "E2"]


def test_a_second_run_of_an_erasure_already_running_is_refused(planted: Planted) -> None:
    import fcntl

    cli = planted.cli
    _request(planted)
    cli("subject", "erase", "R1", user="dora")
    lock = planted.estate.root / "locks" / "erasure.run.lock"
    with open(lock, "a+") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = cli("subject", "erase", "R1", "--approve", user="dan")
        fcntl.flock(other_process, fcntl.LOCK_UN)
    assert busy.exit_code != 0 and "running in another process" in busy.stderr
    assert NHS in str(_rows(planted, "people"))
    assert cli("subject", "erase", "R1", "--approve", user="dan").exit_code == 0


def test_a_person_hold_stops_an_erasure_that_found_them_without_that_number(planted: Planted) -> None:
    """The hold names the person by NHS number; the request by name and date of birth. Same rows: refused."""
    cli = planted.cli
    cli("request", "open", "erasure", "--name", NAME, "--dob", "1980-02-29", "--postcode", "LS1 4AP",
        "--received", "2026-11-30", user="dora")  # fmt: skip
    found = cli("subject", "find", "R1", "--json", user="dora").json()
    for m in found:
        if m["status"] == "candidate":
            cli("subject", "confirm", "R1", "--dataset", m["dataset"], "--row", m["row"], user="dora")
    assert any(m["dataset"] == "people" for m in found)
    held = cli("hold", "add", "--dataset", "people", "--nhs-number", NHS, "--reason", "inquiry", user="dora")
    assert held.exit_code == 0, held.stderr
    refused = cli("subject", "erase", "R1", user="dora")
    assert refused.exit_code == 1 and "legal hold H1" in refused.stderr and NHS not in refused.stderr
    assert NHS in str(_rows(planted, "people"))
    # Someone else's person hold does not stop it.
    assert cli("hold", "remove", "H1", user="dora").exit_code == 0
    from tests.lifecycle.conftest import OTHERS

    cli("hold", "add", "--dataset", "people", "--nhs-number", OTHERS[0][1], "--reason", "inquiry", user="dora")
    assert cli("subject", "erase", "R1", user="dora").exit_code == 0


def test_approval_covers_exactly_the_rows_proposed(planted: Planted) -> None:
    """Rows confirmed or rejected after the proposal are not approved unseen: the proposal is made again."""
    cli = planted.cli
    _request(planted)
    assert cli("subject", "erase", "R1", user="dora").exit_code == 0
    visit = next(m for m in cli("subject", "find", "R1", "--json", user="dora").json() if m["dataset"] == "visits")
    cli("subject", "reject", "R1", "--dataset", "visits", "--row", visit["row"], user="dora")
    changed = cli("subject", "erase", "R1", "--approve", user="dan")
    assert changed.exit_code == 1 and "changed since" in changed.stderr and "E1" in changed.stderr
    assert NHS in str(_rows(planted, "visits")) and NHS in str(_rows(planted, "people"))
    again = cli("subject", "erase", "R1", "--json", user="dora").json()
    assert again["erasure"] == "E1" and again["status"] == "proposed"
    cli("subject", "confirm", "R1", "--dataset", "visits", "--row", visit["row"], user="dora")
    assert cli("subject", "erase", "R1", "--approve", user="dan").exit_code == 1  # changed once more
    assert cli("subject", "erase", "R1", user="dora").exit_code == 0
    done = cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert done.exit_code == 0, done.stderr
    assert "proposal" not in done.json()["steps_done"] and NHS not in str(_rows(planted, "visits"))
    proposals = cli("audit", "log", "--action", "subject.erase_proposed", "--json", user="dan").json()
    assert [e["detail"]["erasure"] for e in proposals] == ["E1", "E1", "E1"]
