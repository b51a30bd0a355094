"""Hostile use of linkage: other datasets' pairs, strict settings, output folders, truth files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from joinedup.estate import Estate
from joinedup.linkage import store
from tests.conftest import write_csv
from tests.linkage.test_linkage import COUNCIL, GP, HEADER, SCHEMA, Cli, _keys, _load


@pytest.fixture
def linked(cli: Cli, tmp_path: Path) -> Cli:
    _load(cli, tmp_path, "council", COUNCIL)
    _load(cli, tmp_path, "gp", GP)
    result = cli("link", "run", "-d", "council", "-d", "gp", "--json")
    assert result.exit_code == 0, result.stderr
    return cli


@pytest.fixture
def two_runs(cli: Cli, tmp_path: Path) -> Cli:
    """council and gp linked (many pairs left for review), then dwp deduplicated alone: the latest run."""
    _load(cli, tmp_path, "council", COUNCIL)
    _load(cli, tmp_path, "gp", GP)
    result = cli("link", "run", "-d", "council", "-d", "gp", "--threshold", "1", "--json")
    assert result.exit_code == 0, result.stderr
    _load(cli, tmp_path, "dwp", f"{HEADER}\nD1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,\n"
          "D2,Samantha,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,\n")  # fmt: skip
    result = cli("link", "run", "-d", "dwp", "--json")
    assert result.exit_code == 0, result.stderr
    assert cli("principal", "add", "ann", "--role", "analyst", "--dataset", "dwp").exit_code == 0
    return cli


def _pairs_of(estate: Estate, *datasets: str) -> list[dict[str, object]]:
    table = store.read(store.pairs_path(estate, "person"))
    assert table is not None
    return [p for p in table.to_pylist() if {p["dataset_l"], p["dataset_r"]} <= set(datasets)]


def test_reads_show_no_pair_of_datasets_outside_the_latest_run(two_runs: Cli, estate: Estate, tmp_path: Path) -> None:
    kept = _pairs_of(estate, "council", "gp")
    assert any(p["status"] == "review" for p in kept)  # still stored, from the earlier run
    listed = two_runs("review", "list", "--limit", "100", "--json", "--purpose", "fraud check", user="ann")
    assert listed.exit_code == 0, listed.stderr
    assert {d for item in listed.json() for d in (item["left"]["dataset"], item["right"]["dataset"])} <= {"dwp"}
    explained = two_runs("link", "explain", str(kept[0]["pair_id"]), "--purpose", "fraud check", user="ann")
    assert explained.exit_code != 0 and "Jackson" not in explained.stdout + explained.stderr
    truth = tmp_path / "truth.csv"
    truth.write_text("dataset,id,cluster\ncouncil,C1,1\ngp,G1,1\ncouncil,C2,2\ngp,G2,2\n")
    measured = two_runs("link", "evaluate", "--truth", truth, "--purpose", "fraud check", "--json", user="ann")
    assert measured.exit_code == 1 and "not among the linked records" in measured.stderr


def test_a_run_over_other_datasets_is_never_incremental(linked: Cli, tmp_path: Path) -> None:
    # One small dataset added to two: few records are new, but the datasets differ from the last run.
    _load(linked, tmp_path, "dwp", f"{HEADER}\nD1,Sam,Jackson,1980-03-14,12 Mill Lane,LS1 4AP,9434765919\n")
    result = linked("link", "run", "-d", "council", "-d", "gp", "-d", "dwp", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["incremental"] is False
    # And dropping one again is a full run too.
    result = linked("link", "run", "-d", "council", "-d", "gp", "--json")
    assert result.json()["incremental"] is False
    again = linked("link", "run", "-d", "gp", "-d", "council", "--json")
    assert again.json()["incremental"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets:\n  gp:\n    colums: {given_name: given_name}\n", "'colums'"),
        ("datasets:\n  gp:\n    one_per_entity: yes please\n", "one_per_entity"),
        ("datasets:\n  gp:\n    columns: [given_name]\n", "columns"),
        ("dataset:\n  gp: {}\n", "'dataset'"),
        ("name_variants: maybe\n", "name_variants"),
        ("datasets:\n  nosuch: {one_per_entity: true}\n", "'nosuch'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("datasets: {gp: {columns: {given_name: [1, 2]}}}\n", "given_name"),
    ],
)
def test_settings_files_are_strict(linked: Cli, estate: Estate, tmp_path: Path, text: str, message: str) -> None:
    settings = tmp_path / "link.yaml"
    settings.write_text(text)
    before = _keys(estate)
    result = linked("link", "run", "-d", "council", "-d", "gp", "--settings", settings)
    assert result.exit_code == 1, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _keys(estate) == before


def test_a_settings_file_not_in_utf8_gets_one_line(linked: Cli, tmp_path: Path) -> None:
    settings = tmp_path / "link.yaml"
    settings.write_bytes("datasets:\n  gp: {columns: {given_name: 'Si\u00e2n'}}\n".encode("utf-16"))
    result = linked("link", "run", "-d", "council", "-d", "gp", "--settings", settings)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


def test_out_is_checked_before_the_run(linked: Cli, estate: Estate, tmp_path: Path) -> None:
    runs = len(linked("link", "history", "--json").json()["runs"])
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad, message in (
        (estate.root / "linked", "inside the estate"),
        (estate.root, "inside the estate"),
        (afile / "sub", "not a folder"),
    ):
        result = linked("link", "run", "-d", "council", "-d", "gp", "--full", "--out", bad)
        assert result.exit_code == 1, bad
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (estate.root / "linked").exists()
    assert len(linked("link", "history", "--json").json()["runs"]) == runs


def test_synth_out_is_checked_before_writing(cli: Cli, estate: Estate, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad, message in ((estate.root / "synth", "inside the estate"), (afile / "sub", "not a folder")):
        result = cli("synth", "people", "--n", "5", "--out", bad)
        assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert not (estate.root / "synth").exists()
    assert cli("synth", "people", "--n", "5", "--out", tmp_path / "ok").exit_code == 0


@pytest.mark.parametrize(
    "text",
    ["", "dataset,id,cluster\n", "dataset_l,id_l,dataset_r,id_r,match\n", "dataset,id,cluster\ncouncil,C1,1\n"],
)
def test_a_truth_with_no_true_pairs_is_refused(linked: Cli, tmp_path: Path, text: str) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text(text)
    result = linked("link", "evaluate", "--truth", truth, "--json")
    assert result.exit_code == 1, result.stdout
    assert "no true" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_truth_not_in_utf8_gets_one_line(linked: Cli, tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "dataset,id,cluster\ncouncil,C1,Siân\ngp,G1,Siân\n", "utf-16")
    result = linked("link", "evaluate", "--truth", truth)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


def test_a_truth_with_repeated_rows_scores_as_without_them(linked: Cli, tmp_path: Path) -> None:
    once = tmp_path / "once.csv"
    once.write_text("dataset,id,cluster\ncouncil,C1,1\ngp,G1,1\ncouncil,C2,2\ngp,G2,2\n")
    twice = tmp_path / "twice.csv"
    twice.write_text("dataset,id,cluster\ncouncil,C1,1\ncouncil,C1,1\ngp,G1,1\ncouncil,C2,2\ngp,G2,2\ngp,G2,2\n")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("dataset_l,id_l,dataset_r,id_r\ncouncil,C1,gp,G1\ngp,G1,council,C1\ncouncil,C2,gp,G2\n")
    expected = linked("link", "evaluate", "--truth", once, "--json").json()
    assert expected["precision"] == 1.0 and expected["true_pairs"] == 2
    assert linked("link", "evaluate", "--truth", twice, "--json").json() == expected
    assert linked("link", "evaluate", "--truth", pairs, "--json").json() == expected


def test_a_truth_putting_one_record_in_two_clusters_is_refused(linked: Cli, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("dataset,id,cluster\ncouncil,C1,1\ngp,G1,1\ncouncil,C1,2\ngp,G2,2\n")
    result = linked("link", "evaluate", "--truth", truth)
    assert result.exit_code == 1 and "more than one cluster" in result.stderr
    assert "C1" not in result.stderr


def test_a_run_with_name_variants_switched_is_never_incremental(linked: Cli, tmp_path: Path) -> None:
    settings = tmp_path / "plain.yaml"
    settings.write_text("name_variants: false\n")
    # Nothing changed in the data, but the comparisons did: the kept pairs were scored with variants.
    plain = linked("link", "run", "-d", "council", "-d", "gp", "--settings", settings, "--json")
    assert plain.exit_code == 0, plain.stderr
    assert plain.json()["incremental"] is False
    assert linked("link", "run", "-d", "council", "-d", "gp", "--json").json()["incremental"] is False


def test_damaged_results_get_one_line_not_a_crash(linked: Cli, estate: Estate) -> None:
    for part in (store.pairs_path(estate, "person")).glob("*.parquet"):
        part.unlink()
    for args in (["review", "list"], ["link", "run", "-d", "council", "-d", "gp"]):
        result = linked(*args)
        assert result.exit_code != 0 and "unexpectedly" not in result.stderr, result.stderr
        # Progress lines go to stderr too; the error is one line.
        assert result.stderr.strip().splitlines()[-1].startswith("Error: linkage results person/pairs cannot be read")
    assert len(linked("link", "history", "--json").json()["runs"]) == 1


def test_keys_gone_after_a_run_stop_the_next_run_rather_than_renumber_everyone(linked: Cli, estate: Estate) -> None:
    before = _keys(estate)
    shutil.rmtree(store.keys_path(estate, "person"))
    result = linked("link", "run", "-d", "council", "-d", "gp")
    assert result.exit_code != 0 and "keys of the last run are missing" in result.stderr, result.stderr
    assert not store.keys_path(estate, "person").exists()
    # Asked for in so many words, every record gets a new key.
    assert linked("link", "run", "-d", "council", "-d", "gp", "--full").exit_code == 0
    assert not set(_keys(estate).values()) & set(before.values())


def test_out_files_are_guarded_private_and_fine_with_any_folder_name(cli: Cli, tmp_path: Path) -> None:
    _load(cli, tmp_path, "council", COUNCIL.replace("C1,", "=HYPERLINK(1),").replace("C6,", "@SUM(1),"))
    out = tmp_path / "it's linked"
    result = cli("link", "run", "-d", "council", "--out", out)
    assert result.exit_code == 0, result.stderr
    clusters = (out / "clusters.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in clusters and "'@SUM(1)" in clusters
    assert "\n=" not in clusters and ",=" not in clusters and ",@" not in clusters
    for name in ("pairs.csv", "clusters.csv"):
        assert (out / name).stat().st_mode & 0o077 == 0, name


def test_business_clusters_carry_a_business_key_column(cli: Cli, tmp_path: Path) -> None:
    schema = tmp_path / "b.yaml"
    schema.write_text(
        "fields:\n  - {name: ref, type: string}\n  - {name: company_name, type: string}\nprimaryKey: [ref]\n"
    )
    assert cli("ingest", write_csv(tmp_path / "s.csv", "ref,company_name\nS1,Acme Ltd\nS2,Acme Limited\n"), "-d", "s",
               "--schema", schema).exit_code == 0  # fmt: skip
    assert cli("link", "run", "-d", "s", "--entity", "business", "--out", tmp_path / "o").exit_code == 0
    assert (tmp_path / "o" / "clusters.csv").read_text().splitlines()[0] == "dataset,id,business_key"


def test_a_decided_pair_leaves_the_review_list_at_once(two_runs: Cli) -> None:
    assert two_runs("link", "run", "-d", "council", "-d", "gp", "--threshold", "1").exit_code == 0
    listed = two_runs("review", "list", "--limit", "100", "--json").json()
    assert listed
    first = listed[0]["pair"]
    assert two_runs("review", "decide", first, "match").exit_code == 0
    again = two_runs("review", "list", "--limit", "100", "--json").json()
    assert first not in {item["pair"] for item in again}
    assert len(again) == len(listed) - 1


def test_a_second_run_while_one_is_under_way_is_refused(linked: Cli, estate: Estate) -> None:
    runs = len(linked("link", "history", "--json").json()["runs"])
    with store.lock(estate, "person"):
        result = linked("link", "run", "-d", "council", "-d", "gp", "--full")
    assert result.exit_code != 0 and "linkage run is under way" in result.stderr, result.stderr
    assert len(linked("link", "history", "--json").json()["runs"]) == runs
    assert linked("link", "run", "-d", "council", "-d", "gp", "--full").exit_code == 0


def test_a_steward_of_one_dataset_neither_links_nor_decides_for_the_other(linked: Cli, estate: Estate) -> None:
    assert linked("principal", "add", "sue", "--role", "steward", "--dataset", "council").exit_code == 0
    runs = len(linked("link", "history", "--json").json()["runs"])
    refused = linked("link", "run", "-d", "council", "-d", "gp", user="sue")
    assert refused.exit_code == 3 and "'gp'" in refused.stderr
    pair = _pairs_of(estate, "council", "gp")[0]
    refused = linked("review", "decide", str(pair["pair_id"]), "non-match", user="sue")
    assert refused.exit_code == 3
    refused = linked("review", "list", user="sue")
    assert refused.exit_code == 3
    assert len(linked("link", "history", "--json").json()["runs"]) == runs
    explained = linked("link", "explain", str(pair["pair_id"]), "--json").json()
    assert "reviewed" not in explained["status"]


def test_who_accessed_a_person_lists_the_review_lists_that_showed_them(two_runs: Cli, estate: Estate) -> None:
    assert two_runs("link", "run", "-d", "council", "-d", "gp", "--threshold", "1").exit_code == 0
    shown = two_runs("review", "list", "--limit", "1", "--json").json()
    assert len(shown) == 1
    key = _keys(estate)[(shown[0]["left"]["dataset"], shown[0]["left"]["id"])]
    answer = two_runs("audit", "who-accessed", "--person-key", key, "--json")
    assert answer.exit_code == 0, answer.stderr
    assert "linkage.read" in answer.stdout
    # Someone the list did not show is not named by it.
    seen = {_keys(estate)[(item[side]["dataset"], item[side]["id"])] for item in shown for side in ("left", "right")}
    unseen = sorted(set(_keys(estate).values()) - seen)[0]
    assert "linkage.read" not in two_runs("audit", "who-accessed", "--person-key", unseen, "--json").stdout


def test_the_run_entry_says_when_pairs_and_keys_left_the_estate(linked: Cli, tmp_path: Path) -> None:
    assert linked("link", "run", "-d", "council", "-d", "gp", "--out", tmp_path / "o").exit_code == 0
    runs = linked("audit", "log", "--action", "linkage.run", "--json").json()
    assert [e["detail"]["written_out"] for e in runs] == [False, True]


def test_review_list_shows_the_columns_the_run_compared(cli: Cli, tmp_path: Path) -> None:
    # A legacy export whose name columns are the wrong way round, put right by the settings file.
    _load(cli, tmp_path, "dwp", f"{HEADER}\nD1,Jackson,Sam,1980-03-14,12 Mill Lane,LS1 4AP,\n"
          "D2,Jackson,Samantha,1980-03-15,99 Other Road,LS1 4AP,\n")  # fmt: skip
    settings = tmp_path / "link.yaml"
    settings.write_text("datasets:\n  dwp: {columns: {given_name: family_name, family_name: given_name}}\n")
    ran = cli("link", "run", "-d", "dwp", "--settings", settings, "--threshold", "1")
    assert ran.exit_code == 0, ran.stderr
    [item] = cli("review", "list", "--json").json()
    assert {item["left"]["given_name"], item["right"]["given_name"]} == {"sam", "samantha"}
    assert item["left"]["family_name"] == item["right"]["family_name"] == "jackson"


def test_keys_persist_over_a_reload_of_a_dataset_without_a_primary_key(
    cli: Cli, estate: Estate, tmp_path: Path
) -> None:
    schema = tmp_path / "nokey.yaml"
    schema.write_text(SCHEMA.format(title="letters").replace("primaryKey: [id]\n", ""))
    csv = write_csv(tmp_path / "letters.csv", COUNCIL)
    for _ in range(2):
        assert cli("ingest", csv, "-d", "letters", "--schema", schema).exit_code == 0
        ran = cli("link", "run", "-d", "letters", "--json")
        assert ran.exit_code == 0, ran.stderr
        keys = _keys(estate)
        if _ == 0:
            before = sorted(keys.values())
    # The surrogate ids are new after the reload; the people, and their keys, are not.
    assert sorted(keys.values()) == before
    assert ran.json()["keys_new"] == 0


def test_a_stranger_learns_nothing_about_linkage_runs(cli: Cli) -> None:
    for args in (["review", "list"], ["link", "history"], ["link", "model"]):
        result = cli(*args, user="mallory")
        assert result.exit_code == 3 and "no person linkage" not in result.stderr, result.stderr
