"""Quality end to end: default and custom rules, one scan, issues, drift, cost, access and audit, reports."""

from __future__ import annotations

import importlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from joinedup.access import add_principal
from joinedup.audit import log
from joinedup.errors import AccessDenied, EstateError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.quality import add_rules, latest_result, list_issues, measure, parse_rules
from joinedup.quality.models import ResultRow, RuleRow
from joinedup.quality.sql import scan_sql
from joinedup.schema import load_schema
from joinedup.storage import delta
from tests.conftest import write_csv

HEADER = "person_id,name,nhs_number,postcode,date_of_birth,sex"
GOOD = [
    "1,Sam Jackson,9434765919,SW1A 1AA,1980-01-02,F",
    "2,Bill Smith,9434765870,SW1A 2AA,1990-03-04,M",
    "3,Dai Jones,9434765862,CF10 1AA,1975-05-06,M",
    "4,Siobhan Kelly,9434765854,BT1 1AA,1985-07-08,F",
]
RULES = """
update_frequency: monthly
rules:
  - id: dob-plausible
    check: range
    column: date_of_birth
    minimum: "1900-01-01"
    maximum: "2000-01-01"
    purpose: ages drive eligibility
    importance: high
    owner: records team
  - id: sex-coded
    check: values
    column: sex
    values: [M, F]
  - id: postcode-known
    check: reference
    column: postcode
    reference: postcodes.postcode
  - id: same-dob-elsewhere
    check: cross_dataset
    columns: [nhs_number, date_of_birth]
    reference: gp
  - id: long-name
    check: expression
    dimension: validity
    expression: length(name) > 8
    importance: low
"""


def _load(
    estate: Estate, tmp_path: Path, schema: Path, rows: list[str], dataset: str = "people", mode: str = "replace"
) -> Any:
    path = write_csv(tmp_path / f"{dataset}.csv", "\n".join([HEADER, *rows]))
    return ingest(estate, path, dataset=dataset, principal="tester", schema=load_schema(schema), mode=mode)


def _rules(tmp_path: Path, text: str = RULES) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_ingest_measures_its_version_and_shows_the_scores(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    result = _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    quality = result.quality
    assert quality is not None and "error" not in quality
    assert quality["version"] == 1
    assert set(quality["scores"]) >= {"completeness", "uniqueness", "validity", "overall"}
    assert "completeness.nhs_number" in quality["failing_rules"]  # 4 of 5 present, target 95%
    stored = latest_result(estate, "people", principal="tester")
    by_id = {r["id"]: r for r in stored["rules"]}
    nhs = by_id["completeness.nhs_number"]
    assert (nhs["rows_checked"], nhs["rows_failing"], nhs["metric"]) == (5, 1, 0.8)
    assert nhs["sample_keys"] == [[1, 6]]  # the surrogate key (_ingest, _source_row) of the row, never its values
    assert by_id["uniqueness.person_id"]["passed"] is True
    assert stored["profile"]["quarantine"] == {"rows": 0, "reasons": {}}


def test_custom_rules_of_every_dimension_in_one_scan(estate: Estate, people_schema: Path, tmp_path: Path) -> None:
    _load(estate, tmp_path, people_schema, GOOD, dataset="gp")
    postcode_schema = tmp_path / "postcodes.yaml"
    postcode_schema.write_text("fields:\n  - {name: postcode, type: postcode}\n", encoding="utf-8")
    ingest(estate, write_csv(tmp_path / "pc.csv", "postcode\nSW1A 1AA\nSW1A 2AA\nCF10 1AA"), dataset="postcodes",
           principal="tester", schema=load_schema(postcode_schema))  # fmt: skip
    rows = [*GOOD[:3], "4,Siobhan Kelly,9434765854,BT1 1AA,1999-07-08,X", "5,Bo,,,2005-01-01,F"]
    rows[1] = "2,Bill Smith,9434765870,SW1A 2AA,1990-03-05,M"  # a different date of birth from gp's
    _load(estate, tmp_path, people_schema, rows)
    add_rules(estate, "people", _rules(tmp_path), principal="tester")
    result = measure(estate, "people", principal="tester")
    by_id = {r["id"]: r for r in result.rules}
    assert by_id["dob-plausible"]["rows_failing"] == 1 and by_id["dob-plausible"]["sample_keys"] == [[1, 6]]
    assert by_id["sex-coded"]["rows_failing"] == 1
    assert by_id["postcode-known"]["rows_failing"] == 1  # BT1 1AA is not in the reference list
    # Bill's and Siobhan's dates of birth differ from gp's for the same NHS number.
    assert by_id["same-dob-elsewhere"]["sample_keys"] == [[1, 3], [1, 5]]
    assert by_id["long-name"]["rows_failing"] == 1
    assert by_id["timeliness.freshness"]["passed"] is True
    assert set(result.scores) == {*("completeness", "uniqueness", "consistency", "timeliness", "validity"),
                                  "accuracy", "overall"}  # fmt: skip
    assert result.cost["total"] > 0 and "basis" in result.cost["assumptions"]


def test_uniqueness_counts_repeats_among_the_rows_a_rule_applies_to(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    rows = [
        "1,Ann Lee,,SW1A 1AA,1980-01-02,F",
        "2,Ann Lee,,SW1A 1AA,1980-01-02,M",  # same name and date of birth as 1; same postcode
        "3,Ann Lee,,SW1A 1AA,1981-01-02,X",  # same postcode, but an X row is outside the postcode rule
        "4,Bo Day,,,1980-01-02,F",  # no postcode: not checked by the postcode rule
        "5,Bo Day,,CF10 1AA,1980-01-02,F",  # same name and date of birth as 4
        "6,Cy Ng,,CF10 1AA,,M",  # no date of birth: not checked by the combination
        "7,Cy Ng,,CF10 1AA,,M",
    ]
    _load(estate, tmp_path, people_schema, rows)
    text = (
        "rules:\n"
        "  - {id: postcode-once, check: uniqueness, columns: [postcode], where: \"sex <> 'X'\"}\n"
        "  - {id: name-dob-once, check: uniqueness, columns: [name, date_of_birth]}\n"
    )
    add_rules(estate, "people", _rules(tmp_path, text), principal="tester")
    by_id = {r["id"]: r for r in measure(estate, "people", principal="tester").rules}
    # The reference: rows the rule applies to with every column present, less the distinct values among them.
    cells = [r.split(",") for r in rows]
    postcodes = [c[3] for c in cells if c[5] != "X" and c[3]]
    pairs = [(c[1], c[4]) for c in cells if c[1] and c[4]]
    expected = {
        "postcode-once": (len(postcodes), len(postcodes) - len(set(postcodes))),
        "name-dob-once": (len(pairs), len(pairs) - len(set(pairs))),
        "uniqueness.person_id": (7, 0),
    }
    assert expected == {"postcode-once": (5, 3), "name-dob-once": (5, 2), "uniqueness.person_id": (7, 0)}
    for rule_id, (checked, failing) in expected.items():
        assert (by_id[rule_id]["rows_checked"], by_id[rule_id]["rows_failing"]) == (checked, failing), rule_id


def test_the_row_rules_share_one_aggregate_scan(people_schema: Path) -> None:
    schema = load_schema(people_schema)
    ruleset = parse_rules({"rules": [{"id": "a", "check": "completeness", "column": "sex"},
                                     {"id": "b", "check": "pattern", "column": "name", "pattern": "[A-Z].*"}]},
                          schema, source="r.yaml")  # fmt: skip
    from datetime import UTC, datetime

    from joinedup.quality.sql import compile_rule

    compiled = [compile_rule(r, schema, datetime.now(UTC), {}) for r in ruleset.rules if r.check != "freshness"]
    sql, names = scan_sql([c for c in compiled if c], [], schema)
    assert sql.count("FROM t") == 1 and "r1_f" in names and "p0_present" in names


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "x", "check": "completeness", "column": "nope"}, "rule 'x': unknown column 'nope'"),
        ({"id": "x", "check": "completeness", "column": "sex", "dimension": "beauty"}, "dimension 'beauty'"),
        ({"id": "x", "check": "completeness", "column": "sex", "target": 1.5}, "target 1.5: expected a number from 0"),
        ({"id": "x", "check": "expression", "expression": "1; DROP TABLE t"}, "rule 'x': expression:"),
        ({"id": "x", "check": "expression", "expression": "person_id + 1"}, "not a boolean expression"),
        ({"id": "x", "check": "expression", "expression": "person_id IN (SELECT 1)"}, "subquery"),
        ({"id": "x", "check": "expression", "expression": "nonsense_col > 1"}, "rule 'x': expression:"),
        # Balanced only inside the parentheses the scan adds: beside "AND postcode IS NOT NULL" it would
        # count rows without a postcode as checked and failing.
        (
            {"id": "x", "check": "uniqueness", "columns": ["postcode"], "where": "sex = 'F') OR (sex = 'M'"},
            "rule 'x': where: is not a whole expression on its own",
        ),
        ({"id": "x", "check": "pattern", "column": "name", "pattern": "("}, "not a valid regular expression"),
        ({"id": "x", "check": "reference", "column": "postcode", "reference": "nodot"}, "DATASET.COLUMN"),
    ],
)
def test_a_bad_rule_is_one_line_naming_rule_and_file_and_changes_nothing(
    estate: Estate, people_schema: Path, tmp_path: Path, rule: dict[str, Any], message: str
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"rules": [{"id": "fine", "check": "completeness", "column": "sex"}, rule]}))
    with pytest.raises(SchemaError) as caught:
        add_rules(estate, "people", path, principal="tester")
    text = str(caught.value)
    assert "\n" not in text and text.startswith("bad.json: ") and message in text
    with estate.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(RuleRow)) == 0


def test_an_issue_opens_below_target_and_closes_when_a_later_version_meets_it(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    [issue] = [i for i in list_issues(estate, principal="tester") if i["rule"] == "completeness.nhs_number"]
    assert (issue["status"], issue["first_version"]) == ("open", 1)
    _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    [again] = [i for i in list_issues(estate, principal="tester") if i["rule"] == "completeness.nhs_number"]
    assert (again["id"], again["last_version"]) == (issue["id"], 2)
    _load(estate, tmp_path, people_schema, GOOD)
    [closed] = [i for i in list_issues(estate, principal="tester") if i["rule"] == "completeness.nhs_number"]
    assert (closed["status"], closed["closed_version"]) == ("closed", 3)


def test_a_file_that_arrives_half_empty_is_flagged_as_drift(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    many = [f"{i},Person Number{i},,SW1A 1AA,1980-01-02,F" for i in range(1, 41)]
    _load(estate, tmp_path, people_schema, many)
    result = _load(estate, tmp_path, people_schema, many[:15])
    assert "drift.row_count" in result.quality["drift"]
    assert any(
        i["rule"] == "drift.row_count" and i["status"] == "open" for i in list_issues(estate, principal="tester")
    )


def test_ctrl_c_while_quality_is_measured_stops_the_command(monkeypatch: pytest.MonkeyPatch, estate: Estate) -> None:
    # Quality failing never fails an ingest; Ctrl-C is not a failure, and must not be swallowed with one.
    def stopped(*_: object) -> None:
        raise RuntimeError("Query interrupted")  # what DuckDB raises when Ctrl-C arrives during a query

    measure_py = importlib.import_module("joinedup.quality.measure")  # the module, not the function of its name
    monkeypatch.setattr(measure_py, "_measure", stopped)
    with pytest.raises(RuntimeError, match="Query interrupted"):
        measure_py.measure_after_ingest(estate, "people", 1, "tester")

    def failed(*_: object) -> None:
        raise RuntimeError("something else")

    monkeypatch.setattr(measure_py, "_measure", failed)
    assert "error" in measure_py.measure_after_ingest(estate, "people", 1, "tester")


def test_quality_never_fails_an_ingest(estate: Estate, people_schema: Path, tmp_path: Path) -> None:
    estate.config.extra["quality"] = {"cost_day_rate": "lots"}  # a broken setting: measuring fails
    result = _load(estate, tmp_path, people_schema, GOOD)
    assert result.version == 1 and "cost_day_rate" in result.quality["error"]
    assert Catalogue(estate).get("people").current is not None


def test_cost_follows_the_settings(estate: Estate, people_schema: Path, tmp_path: Path) -> None:
    estate.config.extra["quality"] = {"cost_day_rate": 740, "cost_hours_per_day": 7.4, "cost_minutes_medium": 60}
    result = _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    stored = latest_result(estate, "people", principal="tester")
    assert stored["cost"]["by_rule"]["completeness.nhs_number"] == 100.0  # one hour at £100 an hour
    assert stored["cost"]["assumptions"]["day_rate"] == 740
    assert result.quality["cost"] == stored["cost"]["total"]


def test_reading_results_is_audited_and_refused_without_a_grant(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    add_principal(estate, "tester", "ana", "analyst", datasets=["other"])
    add_principal(estate, "tester", "dee", "dpo")
    with pytest.raises(AccessDenied):
        latest_result(estate, "people", principal="ana")
    with pytest.raises(AccessDenied):
        measure(estate, "people", principal="dee")
    assert latest_result(estate, "people", principal="dee")["version"] == 1
    actions = [(e.action, e.principal) for e in log(estate)]
    assert ("access.denied", "ana") in actions and ("quality.read", "dee") in actions
    assert ("quality.measure", "tester") in actions


def test_no_personal_value_reaches_the_audit_log_or_the_results(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    measure(estate, "people", principal="tester")
    latest_result(estate, "people", principal="tester")
    with estate.engine.connect() as con:
        audit = " ".join(str(row) for row in con.execute(sa.text("SELECT * FROM audit_entries")))
        results = " ".join(str(row) for row in con.execute(sa.select(ResultRow.__table__)))
    for value in ("9434765919", "Sam Jackson", "SW1A 1AA", "1980-01-02", "Siobhan"):
        assert value not in audit and value not in results


def test_the_cli_measures_shows_history_and_writes_reports_that_fetch_nothing(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, [*GOOD, "5,Ann Lee,,,1991-01-02,F"])
    _load(estate, tmp_path, people_schema, GOOD)
    assert (
        cli(
            "quality", "rules", "add", _rules(tmp_path, RULES.split("  - id: postcode-known")[0]), "-d", "people"
        ).exit_code
        == 0
    )
    done = cli("quality", "measure", "-d", "people", "--json", "--html", tmp_path / "people.html")
    assert done.exit_code == 0, done.stderr
    assert done.json()["scores"]["overall"] is not None
    history = cli("quality", "show", "-d", "people", "--history", "--json").json()
    assert [h["version"] for h in history] == [1, 2]
    assert cli("quality", "report", "--html", tmp_path / "estate.html").exit_code == 0
    issues = cli("quality", "issues", "list", "--json").json()
    noted = cli("quality", "issues", "note", issues[0]["id"], "supplier asked to fix", "--json").json()
    assert noted["notes"][0]["text"] == "supplier asked to fix"
    for page in ("people.html", "estate.html"):
        text = (tmp_path / page).read_text(encoding="utf-8")
        assert "<svg" in text and "<script" not in text.lower() and "<link" not in text.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", text, re.IGNORECASE)
        assert not re.search(r"url\((?!#)", text) and "@import" not in text


def test_cli_errors_are_one_line(estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {id: x, check: completeness, column: nope}\n")
    done = cli("quality", "rules", "add", bad, "-d", "people", "--json")
    assert done.exit_code == 1 and json.loads(done.stderr)["error"] == "schema"
    assert cli("quality", "show", "-d", "missing").exit_code == 1
    assert cli("quality", "rules", "remove", "nope", "-d", "people").exit_code == 1


def test_a_registered_rule_whose_column_was_dropped_is_reported_not_fatal(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    rules = _rules(tmp_path, "rules:\n  - {id: sex-coded, check: values, column: sex, values: [M, F]}\n")
    add_rules(estate, "people", rules, principal="tester")
    narrower = tmp_path / "narrow.yaml"
    narrower.write_text(people_schema.read_text().split("  - name: sex")[0], encoding="utf-8")
    csv = write_csv(tmp_path / "narrow.csv", "person_id,name,nhs_number,postcode,date_of_birth\n1,Sam Jackson,,,")
    result = ingest(estate, csv, dataset="people", principal="tester", schema=load_schema(narrower))
    assert "error" not in result.quality
    by_id = {r["id"]: r for r in latest_result(estate, "people", principal="tester")["rules"]}
    assert by_id["sex-coded"]["passed"] is None and "unknown column 'sex'" in by_id["sex-coded"]["error"]


def test_the_cli_refuses_another_role_with_status_3_and_records_it(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    _load(estate, tmp_path, people_schema, GOOD, dataset="gp")
    add_principal(estate, "tester", "ana", "analyst", datasets=["people"])
    refused = cli("quality", "measure", "-d", "people", "--json", user="ana")
    assert refused.exit_code == 3 and json.loads(refused.stderr)["error"] == "access-denied"
    assert cli("quality", "report", "--html", tmp_path / "r.html", user="ana").exit_code == 3  # gp is not hers
    assert not (tmp_path / "r.html").exists()
    assert cli("quality", "issues", "list", user="ana").exit_code == 3
    assert cli("quality", "show", "-d", "people", "--json", user="ana").exit_code == 0  # a grant lets analysts read
    assert [e.principal for e in log(estate, action="access.denied")][-3:] == ["ana", "ana", "ana"]


def test_rules_can_live_under_quality_in_the_schema(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    section = "quality:\n  - {id: sex-coded, check: values, column: sex, values: [M], importance: low}\n"
    with_rules = tmp_path / "with-rules.yaml"
    with_rules.write_text(people_schema.read_text() + section, encoding="utf-8")
    result = _load(estate, tmp_path, with_rules, GOOD)
    assert "sex-coded" in result.quality["failing_rules"]
    bad = tmp_path / "bad-rules.yaml"
    bad.write_text(people_schema.read_text() + section.replace("column: sex", "column: gender"), encoding="utf-8")
    csv = write_csv(tmp_path / "more.csv", "\n".join([HEADER, *GOOD]))
    done = cli("ingest", csv, "-d", "people", "--schema", bad)
    assert done.exit_code == 1 and "bad-rules.yaml: quality: rule 'sex-coded': unknown column 'gender'" in done.stderr
    assert Catalogue(estate).get("people").current.number == 1  # nothing changed


def test_a_rule_comparing_with_a_dataset_the_measurer_may_not_read_is_not_measured(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD, dataset="gp")
    _load(estate, tmp_path, people_schema, GOOD)
    rules = "rules:\n  - {id: dob-gp, check: cross_dataset, columns: [nhs_number, date_of_birth], reference: gp}\n"
    add_rules(estate, "people", _rules(tmp_path, rules), principal="tester")
    add_principal(estate, "tester", "stu", "steward", datasets=["people"])
    result = measure(estate, "people", principal="stu")
    [rule] = [r for r in result.rules if r["id"] == "dob-gp"]
    assert rule["passed"] is None and "may not read 'gp'" in rule["error"]
    assert any(e.principal == "stu" and e.dataset == "gp" for e in log(estate, action="access.denied"))


def test_reports_and_releases_are_refused_inside_the_estate_folder(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    for args in (
        ("quality", "report", "--html", estate.root / "r.html"),
        ("quality", "measure", "-d", "people", "--html", estate.root / "r.html"),
        ("quality", "show", "-d", "people", "--html", estate.root / "tmp" / ".." / "r.html"),
        ("catalogue", "export", "--out", estate.root / "c.jsonld"),
        ("export-all", "--out", estate.root / "exported"),
        ("publish", "-d", "people", "--columns", "sex", "--out", estate.root / "release"),
    ):
        done = cli(*args, "--json")
        assert done.exit_code == 1, args
        assert "inside the estate folder" in json.loads(done.stderr)["message"], args
    assert not (estate.root / "r.html").exists() and not (estate.root / "exported").exists()
    assert not (estate.root / "release").exists() and not (estate.root / "c.jsonld").exists()
    assert cli("quality", "report", "--html", tmp_path / "fine.html").exit_code == 0


def test_unquoted_yaml_dates_in_a_rules_file_mean_the_dates_written(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    rules = _rules(
        tmp_path,
        "rules:\n"
        "  - {id: dob, check: range, column: date_of_birth, minimum: 1900-01-01, maximum: 1985-01-01}\n"
        "  - {id: coded, check: values, column: sex, values: [2026-01-01, F]}\n"
        "  - {id: named, check: completeness, column: name, purpose: 2026-01-01, owner: 2026-01-01}\n",
    )
    added = cli("quality", "rules", "add", rules, "-d", "people", "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json()[0]["minimum"] == "1900-01-01" and added.json()[2]["owner"] == "2026-01-01"
    by_id = {r["id"]: r for r in cli("quality", "measure", "-d", "people", "--json").json()["rules"]}
    assert by_id["dob"]["rows_failing"] == 2  # born 1990 and 1985-07-08
    assert by_id["coded"]["rows_failing"] == 2  # the M rows


def test_one_rule_failing_on_the_data_is_reported_and_the_others_are_measured(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    rules = _rules(
        tmp_path,
        "rules:\n"
        "  - {id: numeric-name, check: expression, expression: 'CAST(name AS INTEGER) > 0'}\n"
        "  - {id: coded, check: values, column: sex, values: [F]}\n",
    )
    add_rules(estate, "people", rules, principal="tester")
    result = measure(estate, "people", principal="tester")
    by_id = {r["id"]: r for r in result.rules}
    assert by_id["numeric-name"]["passed"] is None
    assert "Conversion Error" in by_id["numeric-name"]["error"] and "Sam" not in by_id["numeric-name"]["error"]
    assert by_id["coded"]["rows_failing"] == 2 and by_id["completeness.nhs_number"]["passed"] is True
    assert result.profile["rows"] == 4


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{id: r, check: range, column: person_id, minimum: abc}", "minimum 'abc' is not a bigint"),
        ("{id: r, check: range, column: date_of_birth, maximum: 31/12/2000}", "is not a date"),
        ("{id: r, check: lag, column: name, max_lag_days: 3}", "needs a date or datetime column"),
        ("{id: r, check: values, column: sex, values: [[M], F]}", "expected a list of codes"),
        ("{id: r, check: expression, expression: 'count(*) > 1'}", "may not use an aggregate function"),
        ("{id: r, check: completeness, column: sex, where: 'max(person_id) > 2'}", "may not use an aggregate"),
        ("{id: r, check: expression, expression: 'random() < 0.99'}", "uses random(), whose result changes"),
        ("{id: r, check: completeness, column: sex, where: 'sleep_ms(100) IS NULL'}", "uses sleep_ms()"),
        ("{id: r, check: expression, expression: 'upper(sex) = UPPER(sex) AND Uuid() IS NOT NULL'}", "uses uuid()"),
        ("{id: r, check: values, column: sex, values: [~]}", "expected a list of codes"),
        ("{id: r, check: reference, column: postcode, reference: nosuch.postcode}", "'nosuch' is not in the estate"),
        ("{id: r, check: reference, column: postcode, reference: people.nope}", "has no column 'nope'"),
        ("{id: r, check: cross_dataset, columns: [nhs_number, date_of_birth], reference: gp}", "'gp' is not in"),
    ],
)
def test_a_rule_that_cannot_be_measured_is_refused_when_added(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path, rule: str, message: str
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    done = cli("quality", "rules", "add", _rules(tmp_path, f"rules:\n  - {rule}\n"), "-d", "people", "--json")
    assert done.exit_code == 1
    text = json.loads(done.stderr)["message"]
    assert "\n" not in text and text.startswith("rules.yaml: rule 'r': ") and message in text, text
    with estate.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(RuleRow)) == 0


def test_the_issue_log_of_an_unknown_dataset_is_an_error_not_an_empty_list(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    done = cli("quality", "issues", "list", "-d", "peple", "--json")
    assert done.exit_code == 1 and "unknown dataset 'peple'" in json.loads(done.stderr)["message"]
    assert cli("quality", "issues", "list", "-d", "people", "--json").exit_code == 0


@pytest.mark.parametrize("rate", [float("nan"), float("inf")])
def test_a_cost_setting_that_is_not_a_finite_number_is_refused(
    estate: Estate, people_schema: Path, tmp_path: Path, rate: float
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    estate.config.extra["quality"] = {"cost_day_rate": rate}  # TOML writes these as nan and inf
    with pytest.raises(EstateError, match="cost_day_rate must be a number of at least 0"):
        measure(estate, "people", principal="tester")


def test_unquoted_dates_in_the_schemas_quality_section_are_kept_as_written(
    estate: Estate, cli: Callable[..., Any], people_schema: Path, tmp_path: Path
) -> None:
    section = "quality:\n  - {id: dob, check: range, column: date_of_birth, minimum: 1900-01-01, maximum: 1985-01-01}\n"
    with_rules = tmp_path / "with-rules.yaml"
    with_rules.write_text(people_schema.read_text() + section, encoding="utf-8")
    csv = write_csv(tmp_path / "people.csv", "\n".join([HEADER, *GOOD]))
    done = cli("ingest", csv, "-d", "people", "--schema", with_rules, "--json")
    assert done.exit_code == 0, done.stderr
    by_id = {r["id"]: r for r in cli("quality", "show", "-d", "people", "--json").json()["rules"]}
    assert by_id["dob"]["rows_failing"] == 2


EVERY_CHECK = """
quality:
  - {id: dob-plausible, check: range, column: date_of_birth, minimum: "1900-01-01", maximum: "1989-12-31"}
  - {id: sex-coded, check: values, column: sex, values: [M, F]}
  - {id: name-capitalised, check: pattern, column: name, pattern: "[A-Z].*"}
  - {id: nhs-valid, check: uk_type, column: nhs_number, type: nhs_number}
  - {id: long-name-for-women, check: expression, expression: length(name) > 8, where: "sex = 'F'"}
  - {id: born-recently, check: lag, column: date_of_birth, max_lag_days: 20000}
  - {id: both-codes, check: completeness, columns: [nhs_number, postcode]}
  - {id: one-person-per-postcode, check: uniqueness, columns: [postcode], where: "sex <> 'X'"}
  - {id: postcode-known, check: reference, column: postcode, reference: postcodes.postcode}
  - {id: same-dob-at-gp, check: cross_dataset, columns: [nhs_number, date_of_birth], reference: gp}
"""


def _threads_running_the_main_scan(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread that runs each main scan of a version (the one aggregate over all its rows)."""
    measure_module = importlib.import_module("joinedup.quality.measure")
    real = measure_module._one_row
    seen: list[str] = []

    def one_row(con: Any, sql: str, dataset: str) -> Any:
        if sql.startswith("SELECT count(*) AS n_rows"):
            seen.append(threading.current_thread().name)
        return real(con, sql, dataset)

    monkeypatch.setattr(measure_module, "_one_row", one_row)
    return seen


def test_a_scan_started_before_the_commit_is_used_only_for_the_same_rules(
    estate: Estate, people_schema: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lag rule compares with the load date: a scan started the day before the commit is not that version's."""
    measure_module = importlib.import_module("joinedup.quality.measure")
    with_lag = tmp_path / "lag.yaml"
    with_lag.write_text(
        people_schema.read_text()
        + "quality:\n  - {id: born-recently, check: lag, column: date_of_birth, max_lag_days: 20000}\n",
        encoding="utf-8",
    )
    real_now = measure_module.now
    monkeypatch.setattr(measure_module, "now", lambda: real_now() - timedelta(days=1))  # as if started yesterday
    main_scans = _threads_running_the_main_scan(monkeypatch)
    result = _load(estate, tmp_path, with_lag, GOOD)
    assert main_scans == ["joinedup-quality-prescan", "MainThread"]  # its SQL differed: scanned again
    monkeypatch.setattr(measure_module, "now", real_now)
    at_ingest = latest_result(estate, "people", principal="tester", version=result.version)
    again = measure(estate, "people", principal="tester", version=result.version).to_dict()
    assert "born-recently" in [r["id"] for r in again["rules"]]
    assert _comparable(at_ingest) == _comparable(again)


def test_a_failed_ingest_stops_the_scan_it_started(
    estate: Estate, people_schema: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = importlib.import_module("joinedup.ingest.pipeline")
    started: list[Any] = []
    real = pipeline.Prescan

    def prescan(*args: Any) -> Any:
        started.append(real(*args))
        return started[-1]

    def failing_commit(*args: Any, **kwargs: Any) -> Any:
        raise EstateError("the catalogue went away")

    monkeypatch.setattr(pipeline, "Prescan", prescan)
    monkeypatch.setattr(pipeline, "_commit", failing_commit)
    # A scan that would run for hours unless stopped, and starts late: an interrupt before a query begins is lost.
    measure_module = importlib.import_module("joinedup.quality.measure")
    endless = ("SELECT sum(hash(range)) AS n_rows FROM range(1000000000000)", ["n_rows"])
    monkeypatch.setattr(measure_module, "scan_sql", lambda *a, **k: endless)
    real_one_row = measure_module._one_row

    def late(con: Any, sql: str, dataset: str) -> Any:
        time.sleep(0.5)
        return real_one_row(con, sql, dataset)

    monkeypatch.setattr(measure_module, "_one_row", late)
    failed: list[BaseException] = []

    def load() -> None:
        try:
            _load(estate, tmp_path, people_schema, GOOD)
        except EstateError as exc:
            failed.append(exc)

    worker = threading.Thread(target=load)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the failed ingest is still waiting for its scan"
    assert [str(e) for e in failed] == ["the catalogue went away"]
    assert started
    assert not any(t.name == "joinedup-quality-prescan" for t in threading.enumerate())
    assert Catalogue(estate).find("people") is None


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What a measurement found, leaving out when it ran, how long it took and the issues it opened or closed."""
    return {k: v for k, v in result.items() if k not in ("measured_at", "seconds", "issues_opened", "issues_closed")}


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_the_measure_at_ingest_finds_what_measuring_the_version_again_finds(
    estate: Estate, people_schema: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # A replace is measured over the rows the ingest still holds, an append by reading the version back:
    # either way, rule by rule, the results must be those of `joinedup quality measure` on that version.
    _load(estate, tmp_path, people_schema, GOOD, dataset="gp")
    postcode_schema = tmp_path / "postcodes.yaml"
    postcode_schema.write_text("fields:\n  - {name: postcode, type: postcode}\n", encoding="utf-8")
    ingest(estate, write_csv(tmp_path / "pc.csv", "postcode\nSW1A 1AA\nSW1A 2AA\nCF10 1AA"), dataset="postcodes",
           principal="tester", schema=load_schema(postcode_schema))  # fmt: skip
    with_rules = tmp_path / "every-check.yaml"
    with_rules.write_text(people_schema.read_text() + EVERY_CHECK, encoding="utf-8")
    first = [*GOOD, "5,ann lee,,SW1A 1AA,1991-01-02,X", "6,Bo,9434765870,,2005-01-01,F", "2,Dup Row,,,,M",
             "7,Zed Zed,9434765919,bad,1970-01-01,M"]  # fmt: skip
    _load(estate, tmp_path, with_rules, first)
    read_back: list[Path] = []
    real_snapshot = delta.snapshot

    def snapshot(path: Path, version: int) -> Any:
        read_back.append(path)
        return real_snapshot(path, version)

    monkeypatch.setattr(delta, "snapshot", snapshot)
    main_scans = _threads_running_the_main_scan(monkeypatch)
    second = ["8,Eve Adams,9434765862,CF10 1AA,1960-02-03,F", "9,al,,,1999-09-09,U", "1,Sam Again,,,,F"]
    result = _load(estate, tmp_path, with_rules, second if mode == "append" else [*first, *second], mode=mode)
    people = estate.table_path("people")
    assert (people in read_back) is (mode == "append")  # a replace measured the rows it held
    # A replace scanned the rows it held once, beside its last steps; an append scans the version after its commit.
    assert main_scans == (["joinedup-quality-prescan"] if mode == "replace" else ["MainThread"])
    at_ingest = latest_result(estate, "people", principal="tester", version=result.version)
    again = measure(estate, "people", principal="tester", version=result.version).to_dict()
    assert [r["id"] for r in at_ingest["rules"]] == [r["id"] for r in again["rules"]]
    assert {r["id"] for r in again["rules"]} >= set(re.findall(r"id: ([a-z-]+)", EVERY_CHECK))
    assert not [r for r in again["rules"] if r.get("error")]
    assert len([r for r in again["rules"] if r["sample_keys"]]) >= 5  # failing rows to name, not only counts
    for found, expected in zip(at_ingest["rules"], again["rules"], strict=True):
        assert found == expected
    assert _comparable(at_ingest) == _comparable(again)


def test_a_scan_starts_only_when_told_so_whoever_stops_it_already_holds_it(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    """A Ctrl-C between making the scan and the ingest keeping hold of it must not leave a thread running."""
    measure_module = importlib.import_module("joinedup.quality.measure")
    _load(estate, tmp_path, people_schema, GOOD)
    rows = delta.snapshot(estate.table_path("people"), 0).to_table()
    made = measure_module.Prescan(estate, "people", load_schema(people_schema), rows)
    assert not any(t.name == "joinedup-quality-prescan" for t in threading.enumerate())
    made.stop()  # stopping one never started is quick and harmless
    assert made.values() is None
    started = measure_module.Prescan(estate, "people", load_schema(people_schema), rows)
    started.start()
    scanned = started.values()
    assert scanned is not None and scanned[1]["n_rows"] == rows.num_rows


def test_checking_expressions_one_after_another_keeps_nothing_between_them() -> None:
    """One connection checks every expression in a thread: each is bound to its own schema's columns only."""
    from joinedup.quality.rules import expression_problem
    from joinedup.schema import Schema

    with_x = Schema.from_dict({"fields": [{"name": "x", "type": "integer"}]})
    without_x = Schema.from_dict({"fields": [{"name": "y", "type": "string"}]})
    assert expression_problem("x > 1", with_x) is None
    problem = expression_problem("x > 1", without_x)
    assert problem is not None and "(columns: y)" in problem
    assert expression_problem("x > 1", with_x) is None


def test_a_registered_rule_on_a_column_the_new_version_dropped_is_reported_not_measured(
    estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    _load(estate, tmp_path, people_schema, GOOD)
    text = (
        "rules:\n"
        "  - {id: sex-coded, check: values, column: sex, values: [M, F]}\n"
        "  - {id: postcode-for-women, check: expression, expression: postcode IS NOT NULL, where: \"sex = 'F'\"}\n"
        "  - {id: long-name, check: expression, dimension: validity, expression: length(name) > 9}\n"
    )
    add_rules(estate, "people", _rules(tmp_path, text), principal="tester")
    without_sex = tmp_path / "without-sex.yaml"
    kept = people_schema.read_text(encoding="utf-8").split("  - name: sex\n")[0] + "primaryKey: [person_id]\n"
    without_sex.write_text(kept, encoding="utf-8")
    result = _load(estate, tmp_path, without_sex, GOOD)
    found = {r["id"]: r for r in latest_result(estate, "people", principal="tester", version=result.version)["rules"]}
    for dropped in ("sex-coded", "postcode-for-women"):
        assert found[dropped]["error"].startswith("not measured on this version: ")
        assert found[dropped]["metric"] is None
    assert "error" not in found["long-name"] and found["long-name"]["rows_failing"] == 1  # Dai Jones
    assert result.quality is not None and "error" not in result.quality
