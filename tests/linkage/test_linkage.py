"""Linkage end to end through the CLI: keys that persist, households kept apart, review respected, bad input."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from joinedup.estate import Estate
from joinedup.linkage import erase_records, keys_for_records, records_for_key, store
from tests.conftest import CliResult, write_csv

SCHEMA = """
title: {title}
fields:
  - {{name: id, type: string, constraints: {{required: true}}}}
  - {{name: given_name, type: string, format: person_name, personal: true, category: name}}
  - {{name: family_name, type: string, format: person_name, personal: true, category: name}}
  - {{name: date_of_birth, type: date, personal: true, category: date_of_birth}}
  - {{name: address_line, type: string, personal: true, category: address}}
  - {{name: postcode, type: postcode, personal: true, category: address}}
  - {{name: nhs_number, type: nhs_number, personal: true, category: identifier}}
primaryKey: [id]
"""
HEADER = "id,given_name,family_name,date_of_birth,address_line,postcode,nhs_number"
# A household (parents, twins, a junior named after his father) and people elsewhere.
COUNCIL = f"""{HEADER}
C1,Samantha,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,9434765919
C2,David,Jackson,1978-11-02,12 Mill Lane,LS1 4AP,
C3,Amy,Jackson,2010-06-01,12 Mill Lane,LS1 4AP,
C4,Lucy,Jackson,2010-06-01,12 Mill Lane,LS1 4AP,
C5,David,Jackson,2012-09-09,12 Mill Lane,LS1 4AP,
C6,Mohammed,Khan,1965-01-30,4 High Street,M1 1AE,
C7,Siobhan,Kelly,1990-12-25,9 Bridge Road,CF10 1EP,
C8,Peter,Evans,1955-07-07,1 Station Road,SA1 1AA,
"""
GP = f"""{HEADER}
G1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,9434765919
G2,Dai,Jackson,1978-11-02,12 Mill Ln,LS1 4AP,
G3,Amy,Jackson,2010-06-01,12 Mill Lane,LS1 4AP,
G4,Lucy,Jackson,2010-06-01,12 Mill Lane,LS1 4AP,
G5,David,Jackson,2012-09-09,12 Mill Lane,LS1 4AP,
G6,Muhammad,Khan,1965-01-30,4 High St,M1 1AE,
G7,Siobhan,Kelly,1990-12-25,22 New Road,CF24 3AA,
G9,Oliver,Smith,2001-02-03,5 Park Avenue,BS1 5TR,
"""
SAME = {("C1", "G1"), ("C2", "G2"), ("C3", "G3"), ("C4", "G4"), ("C5", "G5"), ("C6", "G6"), ("C7", "G7")}

Cli = Callable[..., CliResult]


def _load(cli: Cli, tmp_path: Path, name: str, text: str) -> None:
    schema = tmp_path / f"{name}.yaml"
    schema.write_text(SCHEMA.format(title=name), encoding="utf-8")
    result = cli("ingest", write_csv(tmp_path / f"{name}.csv", text), "-d", name, "--schema", schema)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def linked(cli: Cli, tmp_path: Path) -> Cli:
    _load(cli, tmp_path, "council", COUNCIL)
    _load(cli, tmp_path, "gp", GP)
    result = cli("link", "run", "-d", "council", "-d", "gp", "--json")
    assert result.exit_code == 0, result.stderr
    return cli


def _keys(estate: Estate) -> dict[tuple[str, str], str]:
    table = store.read(store.keys_path(estate, "person"))
    assert table is not None
    return {(r["dataset"], r["id"]): r["key"] for r in table.to_pylist()}


def test_people_are_linked_across_with_name_variants_and_households_kept_apart(linked: Cli, estate: Estate) -> None:
    keys = _keys(estate)
    for c, g in SAME:
        assert keys[("council", c)] == keys[("gp", g)], (c, g)
    # Twins (one birthday), father and junior (one name), mother and father: all different people.
    household = [keys[("council", c)] for c in ("C1", "C2", "C3", "C4", "C5")]
    assert len(set(household)) == 5
    assert keys[("council", "C8")] != keys[("gp", "G9")]
    assert all(k.startswith("P") and len(k) == 17 for k in keys.values())


def test_out_writes_pairs_and_clusters(linked: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert linked("link", "run", "-d", "council", "-d", "gp", "--out", out).exit_code == 0
    pairs = (out / "pairs.csv").read_text().splitlines()
    assert pairs[0] == "dataset_l,id_l,dataset_r,id_r,match_probability"
    clusters = (out / "clusters.csv").read_text().splitlines()
    assert clusters[0] == "dataset,id,person_key" and len(clusters) == 17


def test_keys_persist_across_runs_new_versions_and_added_datasets(linked: Cli, estate: Estate, tmp_path: Path) -> None:
    before = _keys(estate)
    assert linked("link", "run", "-d", "council", "-d", "gp", "--full").exit_code == 0
    assert _keys(estate) == before
    # A new version with one person changed and one added; then a third dataset.
    _load(
        linked,
        tmp_path,
        "gp",
        GP.replace("22 New Road", "23 New Road") + "G10,Hamish,Reid,1999-04-04,2 Loch Road,EH1 1YZ,\n",
    )
    result = linked("link", "run", "-d", "council", "-d", "gp", "--json")
    assert result.exit_code == 0 and result.json()["incremental"] is True, result.stderr
    after = _keys(estate)
    assert all(after[r] == k for r, k in before.items())
    assert ("gp", "G10") in after and after[("gp", "G10")] not in before.values()
    _load(linked, tmp_path, "dwp", f"{HEADER}\nD1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,9434765919\n")
    assert linked("link", "run", "-d", "council", "-d", "gp", "-d", "dwp").exit_code == 0
    third = _keys(estate)
    assert third[("dwp", "D1")] == before[("council", "C1")]
    assert all(third[r] == k for r, k in before.items())
    history = linked("link", "history", "--json").json()
    assert len(history["runs"]) == 4


def test_review_decisions_are_kept_and_respected(linked: Cli, estate: Estate) -> None:
    pairs = store.read(store.pairs_path(estate, "person"))
    assert pairs is not None
    row = next(r for r in pairs.to_pylist() if {r["id_l"], r["id_r"]} == {"C1", "G1"})
    decided = linked("review", "decide", row["pair_id"], "non-match", "--note", "different people", "--json")
    assert decided.exit_code == 0, decided.stderr
    assert linked("link", "run", "-d", "council", "-d", "gp", "--full").exit_code == 0
    keys = _keys(estate)
    assert keys[("council", "C1")] != keys[("gp", "G1")]
    events = linked("link", "history", "--json").json()["events"]
    assert any(e["event"] == "split" for e in events)
    explained = linked("link", "explain", row["pair_id"], "--json").json()
    assert explained["status"] == "non-match (reviewed)"
    assert explained["steps"][0]["step"] == "prior"


def test_review_list_model_and_evaluate(linked: Cli, estate: Estate, tmp_path: Path) -> None:
    listed = linked("review", "list", "--json")
    assert listed.exit_code == 0 and isinstance(listed.json(), list)
    words = linked("link", "model").stdout
    assert "given names are variants" in words
    truth = tmp_path / "truth[1].csv"  # read as named, not as a pattern matching truth1.csv
    (tmp_path / "truth1.csv").write_text("dataset,id,cluster\ncouncil,C8,1\ngp,G9,1\n")
    lines = ["dataset,id,cluster"]
    for n, (c, g) in enumerate(sorted(SAME)):
        lines += [f"council,{c},{n}", f"gp,{g},{n}"]
    lines += ["council,C8,98", "gp,G9,99"]
    truth.write_text("\n".join(lines) + "\n")
    scores = linked("link", "evaluate", "--truth", truth, "--json").json()
    assert scores["f1"] == 1.0


def test_public_functions_for_other_capabilities(linked: Cli, estate: Estate) -> None:
    [key] = keys_for_records(estate, [("council", "C6")])
    assert records_for_key(estate, key) == [("council", "C6"), ("gp", "G6")]
    assert erase_records(estate, [("gp", "G6")]) >= 2
    assert records_for_key(estate, key) == [("council", "C6")]
    pairs = store.read(store.pairs_path(estate, "person"))
    assert pairs is not None and "G6" not in pairs.column("id_r").to_pylist() + pairs.column("id_l").to_pylist()
    # No older Delta version keeps the erased record.
    for folder in ("pairs", "keys"):
        assert len(list((store.linkage_dir(estate, "person") / folder / "_delta_log").glob("*.json"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "council", "--threshold", "1.5"], "threshold 1.5"),
        (["-d", "council", "--threshold", "0"], "threshold 0"),
        (["-d", "council", "-d", "nosuch"], "no dataset 'nosuch'"),
        (["-d", "council", "-d", "places"], "no comparable person columns"),
        (["-d", "council", "--one-per-entity", "gp"], "not one of the datasets"),
    ],
)
def test_bad_input_gets_one_line_and_changes_nothing(
    linked: Cli, estate: Estate, tmp_path: Path, args: list[str], message: str
) -> None:
    schema = tmp_path / "places.yaml"
    schema.write_text("fields:\n  - {name: code, type: string}\n  - {name: size, type: integer}\n")
    linked("ingest", write_csv(tmp_path / "places.csv", "code,size\na,1\n"), "-d", "places", "--schema", schema)
    before = _keys(estate)
    result = linked("link", "run", *args)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _keys(estate) == before
    assert len(linked("link", "history", "--json").json()["runs"]) == 1


def test_a_truth_file_with_unknown_ids_is_refused_without_quoting_them(linked: Cli, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("dataset,id,cluster\ncouncil,C1,1\ngp,9434765919,1\n")
    result = linked("link", "evaluate", "--truth", truth)
    assert result.exit_code == 1 and "1 record id(s) are not among the linked records" in result.stderr
    assert "9434765919" not in result.stderr


def test_other_roles_are_refused_and_audited_and_the_log_holds_no_identifiers(linked: Cli, estate: Estate) -> None:
    assert linked("principal", "add", "ann", "--role", "auditor").exit_code == 0
    refused = linked("link", "run", "-d", "council", "-d", "gp", user="ann")
    assert refused.exit_code == 3
    refused = linked("review", "list", user="ann")
    assert refused.exit_code == 3
    assert linked("review", "list").exit_code == 0
    log = linked("audit", "log", "--action", "linkage.", "--json").json()
    assert {e["action"] for e in log} >= {"linkage.run", "linkage.read"}
    with sqlite3.connect(estate.root / "catalogue.db") as db:
        text = " ".join(str(row) for row in db.execute("SELECT * FROM audit_entries"))
    for raw in ("9434765919", "Samantha", "Jackson", "LS1 4AP", "C1", "G1"):
        assert raw not in text


def test_query_joins_a_dataset_to_its_person_keys(linked: Cli, estate: Estate) -> None:
    sql = (
        "SELECT c.id, k.person_key FROM council c JOIN person_keys k ON k.dataset = 'council' AND k.id = c.id "
        "ORDER BY c.id"
    )
    result = linked("query", sql, "--json")
    assert result.exit_code == 0, result.stderr
    rows = result.json()["rows"] if isinstance(result.json(), dict) else result.json()
    assert len(rows) == 8
    # Keys of datasets the query does not read stay out of sight.
    alone = linked("query", "SELECT count(*) AS n FROM person_keys", "--json").json()
    assert "0" in str(alone)


BUSINESS_SCHEMA = """
fields:
  - {name: ref, type: string}
  - {name: company_name, type: string}
  - {name: company_number, type: company_number}
  - {name: postcode, type: postcode}
primaryKey: [ref]
"""


def test_businesses_link_on_normalised_names_and_company_numbers(cli: Cli, estate: Estate, tmp_path: Path) -> None:
    schema = tmp_path / "b.yaml"
    schema.write_text(BUSINESS_SCHEMA)
    rows = {
        "suppliers": "ref,company_name,company_number,postcode\nS1,The Acme Widget Company Ltd,01234567,LS1 4AP\n"
        "S2,Bridge Cafe,,CF10 1EP\nS3,Northern Steel PLC,SC123456,G1 1AA\n",
        "licences": "ref,company_name,company_number,postcode\nL1,ACME WIDGET LIMITED,1234567,LS1 4AP\n"
        "L2,Bridge Café,,CF10 1EP\nL3,Southern Steel PLC,,BN1 1AA\n",
    }
    for name, text in rows.items():
        assert cli("ingest", write_csv(tmp_path / f"{name}.csv", text), "-d", name, "--schema", schema).exit_code == 0
    result = cli("link", "run", "-d", "suppliers", "-d", "licences", "--entity", "business", "--json")
    assert result.exit_code == 0, result.stderr
    table = store.read(store.keys_path(estate, "business"))
    assert table is not None
    keys = {(r["dataset"], r["id"]): r["key"] for r in table.to_pylist()}
    assert keys[("suppliers", "S1")] == keys[("licences", "L1")]
    assert keys[("suppliers", "S2")] == keys[("licences", "L2")]
    assert keys[("suppliers", "S3")] != keys[("licences", "L3")]
    assert all(k.startswith("B") for k in keys.values())


def _people(keys: dict[tuple[str, str], str]) -> set[frozenset[tuple[str, str]]]:
    """The clusters of a keys table, whatever the keys are called."""
    groups: dict[str, set[tuple[str, str]]] = {}
    for record, key in keys.items():
        groups.setdefault(key, set()).add(record)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("single", [[], ["--one-per-entity", "council", "--one-per-entity", "gp"]])
def test_an_incremental_run_gives_the_clusters_of_a_full_run(
    linked: Cli, estate: Estate, tmp_path: Path, single: list[str]
) -> None:
    import shutil

    assert linked("link", "run", "-d", "council", "-d", "gp", *single).exit_code == 0
    before = _keys(estate)
    assert before[("council", "C2")] == before[("gp", "G2")]
    # A new version of gp: G2 is now someone else, G3 is gone, G11 is C8 seen again; the rest unchanged.
    changed = (
        GP.replace("G2,Dai,Jackson,1978-11-02,12 Mill Ln", "G2,Dai,Jones,1969-05-20,7 Hill Rd")
        .replace("G3,Amy,Jackson,2010-06-01,12 Mill Lane,LS1 4AP,\n", "")
        .replace("G9,", "G11,Peter,Evans,1955-07-07,1 Station Road,SA1 1AA,\nG9,")
    )
    _load(linked, tmp_path, "gp", changed)
    copy = tmp_path / "copy"
    shutil.copytree(estate.root, copy)
    result = linked("link", "run", "-d", "council", "-d", "gp", "--json", *single)
    assert result.exit_code == 0 and result.json()["incremental"] is True, result.stderr
    full = linked("link", "run", "-d", "council", "-d", "gp", "--full", "--json", *single, estate_path=copy)
    assert full.exit_code == 0 and full.json()["incremental"] is False, full.stderr
    after, by_full = _keys(estate), _keys(Estate.open(copy))
    assert _people(after) == _people(by_full)
    # The earlier keys go where the full run puts them (new keys are random, so only these can agree).
    earlier = set(before.values())
    assert {r: k for r, k in after.items() if k in earlier} == {r: k for r, k in by_full.items() if k in earlier}
    assert after[("council", "C2")] != after[("gp", "G2")]
    assert after[("gp", "G11")] == after[("council", "C8")] == before[("council", "C8")]
    assert ("gp", "G3") not in after
    for c, g in (("C1", "G1"), ("C6", "G6"), ("C7", "G7")):
        assert after[("council", c)] == after[("gp", g)] == before[("council", c)]


def test_erasing_a_record_marks_the_others_under_its_key_for_clustering_again(linked: Cli, estate: Estate) -> None:
    def digests() -> dict[tuple[str, str], str | None]:
        table = store.read(store.keys_path(estate, "person"))
        assert table is not None
        return {(r["dataset"], r["id"]): r["digest"] for r in table.to_pylist()}

    before = digests()
    assert erase_records(estate, [("gp", "G6")]) >= 2
    after = digests()
    # C6 lost its link to G6: no digest, so the next run counts it as changed and clusters it again.
    assert after[("council", "C6")] is None and before[("council", "C6")] is not None
    assert all(after[r] == d for r, d in before.items() if r not in {("council", "C6"), ("gp", "G6")})
    result = linked("link", "run", "-d", "council", "-d", "gp", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["incremental"] is True and result.json()["changed"] >= 2
    assert digests()[("council", "C6")] is not None
