"""``joinedup quality``: measure datasets against GDQF rules, read results, history and issues, write reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from joinedup.access import resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    PurposeOption,
    emit,
    input_file,
    open_estate,
    out,
    output_file,
    outside_estate,
    say,
    table,
)
from joinedup.quality import (
    add_rules,
    estate_results,
    history,
    latest_result,
    list_issues,
    list_rules,
    measure,
    note_issue,
    remove_rule,
)
from joinedup.quality.report import dataset_report, estate_report

app = typer.Typer(help="Data quality: GDQF rules, scores per dimension, history, issues, cost and reports.",
                  no_args_is_help=True)  # fmt: skip
rules_app = typer.Typer(help="The quality rules a dataset is measured against.", no_args_is_help=True)
issues_app = typer.Typer(help="The quality issue log: rules below target, drift, and notes on them.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(rules_app, name="rules")
app.add_typer(issues_app, name="issues")

Dataset = Annotated[str, typer.Option("--dataset", "-d", help="The dataset.", show_default=False)]
VersionOpt = Annotated[int | None, typer.Option("--version", min=1, help="Dataset version (default: the newest).")]
HtmlOpt = Annotated[
    Path | None,
    typer.Option("--html", help="Also write a self-contained HTML report to this file.", callback=output_file),
]


@app.command("measure")
def measure_command(
    dataset: Dataset,
    version: VersionOpt = None,
    html: HtmlOpt = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Measure every rule on a version of the dataset and record the results, issues and drift.

    Every ingest measures its new version already; run this after adding rules or to
    re-measure an older version. The JSON holds a score per dimension, each rule's
    metric, target, result, failing-row count and a few failing rows' surrogate keys
    (never their values), drift flags and the estimated cost.

    Example:
    joinedup quality measure --dataset residents
    joinedup quality measure -d residents --version 2 --html residents.html
    """
    target = open_estate(estate)
    if html is not None:
        outside_estate(target, html, "--html")
    principal = resolve_principal(target, as_, "quality.measure", dataset=dataset).name
    result = measure(target, dataset, principal=principal, version=version).to_dict()
    if html is not None:
        _write_dataset_report(target, dataset, principal, None, html)
    emit(result, json_, _render_result)


@app.command("show")
def show_command(
    dataset: Dataset,
    version: VersionOpt = None,
    show_history: Annotated[bool, typer.Option("--history", help="Show each metric across versions.")] = False,
    html: HtmlOpt = None,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the recorded quality of a dataset version, or its history across versions.

    Results name failing rows by surrogate key, so reading them is an audited read
    (stewards and analysts of the dataset, dpo, admin).

    Example:
    joinedup quality show --dataset residents
    joinedup quality show -d residents --history
    joinedup quality show -d residents --html residents-quality.html
    """
    target = open_estate(estate)
    if html is not None:
        outside_estate(target, html, "--html")
    principal = resolve_principal(target, as_, "quality.read", dataset=dataset, purpose=purpose).name
    if html is not None:
        _write_dataset_report(target, dataset, principal, purpose, html)
    if show_history:
        data: Any = history(target, dataset, principal=principal, purpose=purpose)
        emit(data, json_, _render_history)
    else:
        result = latest_result(target, dataset, principal=principal, version=version, purpose=purpose)
        emit(result, json_, _render_result)


@app.command("report")
def report_command(
    html: Annotated[
        Path, typer.Option("--html", help="The HTML file to write.", callback=output_file, show_default=False)
    ],
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Write the estate's quality report: every dataset's scores, open issues and the estimated cost.

    Self-contained HTML (inline SVG charts, no scripts, nothing fetched): it opens offline.

    Example:
    joinedup quality report --html estate-quality.html
    """
    target = open_estate(estate)
    outside_estate(target, html, "--html")
    principal = resolve_principal(target, as_, "quality.read", purpose=purpose).name
    datasets = estate_results(target, principal=principal, purpose=purpose)
    issues = list_issues(target, principal=principal)
    html.write_text(estate_report(datasets, issues, target.config.name), encoding="utf-8")
    summary = {
        "html": str(html),
        "datasets": {d["dataset"]: d["latest"]["scores"] for d in datasets},
        "open_issues": sum(1 for i in issues if i["status"] == "open"),
        "cost": round(sum(d["latest"]["cost"]["total"] for d in datasets), 2),
    }
    emit(summary, json_, lambda s: say("Wrote {} ({} datasets, {} open issues)", s["html"], len(s["datasets"]),
                                       s["open_issues"]))  # fmt: skip


def _write_dataset_report(estate: Any, dataset: str, principal: str, purpose: str | None, path: Path) -> None:
    latest = latest_result(estate, dataset, principal=principal, purpose=purpose)
    past = history(estate, dataset, principal=principal, purpose=purpose)
    issues = list_issues(estate, principal=principal, dataset=dataset)
    path.write_text(dataset_report(latest, past, issues), encoding="utf-8")


@rules_app.command("add")
def rules_add(
    file: Annotated[Path, typer.Argument(help="Rules file (YAML or JSON).", show_default=False, callback=input_file)],
    dataset: Dataset,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Register the rules in FILE for the dataset (all of them, or none if any is wrong).

    A rule with the id of a registered or default rule replaces it. The next ingest (or
    `joinedup quality measure`) measures them.

    Example:
    joinedup quality rules add residents-rules.yaml --dataset residents
    """
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "quality.rules", dataset=dataset).name
    added = add_rules(target, dataset, file, principal=principal)
    ids = ", ".join(r.id for r in added)
    emit(
        [r.to_dict() for r in added], json_, lambda _: say("Registered {} rule(s) for {}: {}", len(added), dataset, ids)
    )


@rules_app.command("list")
def rules_list(
    dataset: Dataset,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the rules the dataset is measured against: the defaults from its schema and those registered.

    Example:
    joinedup quality rules list --dataset residents
    """
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "quality.read", dataset=dataset).name
    rules = list_rules(target, dataset, principal=principal)
    emit(rules, json_, lambda rows: out.print(table(
        ["id", "check", "dimension", "columns", "target", "importance", "owner", "source"],
        [[r["id"], r["check"], r["dimension"], ", ".join(r.get("columns", [])), r["target"], r["importance"],
          r.get("owner"), r["source"]] for r in rows],
        title=f"quality rules of {dataset}",
    )))  # fmt: skip


@rules_app.command("remove")
def rules_remove(
    rule: Annotated[str, typer.Argument(help="Id of a registered rule.", show_default=False)],
    dataset: Dataset,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove a registered rule (a default rule of the same id, if any, applies again).

    Example:
    joinedup quality rules remove postcode-in-nspl --dataset residents
    """
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "quality.rules", dataset=dataset).name
    remove_rule(target, dataset, rule, principal=principal)
    emit({"removed": rule, "dataset": dataset}, json_, lambda _: say("Removed rule {} from {}", rule, dataset))


@issues_app.command("list")
def issues_list(
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="One dataset (default: all, if you may read each).")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only issues still open.")] = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the quality issue log: which rule, first and last version seen, impact, owner, status, notes.

    An issue opens when a rule falls below its target (or a metric drifts) on a new
    version and closes by itself when a later version meets the target.

    Example:
    joinedup quality issues list --open
    joinedup quality issues list --dataset residents --json
    """
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "quality.read", dataset=dataset).name
    issues = list_issues(target, principal=principal, dataset=dataset, open_only=open_only)
    emit(issues, json_, lambda rows: out.print(table(
        ["id", "dataset", "rule", "status", "first", "last", "importance", "owner", "notes"],
        [[i["id"], i["dataset"], i["rule"], i["status"], i["first_version"], i["last_version"], i["importance"],
          i["owner"], len(i["notes"])] for i in rows],
        title="quality issues",
    )))  # fmt: skip


@issues_app.command("note")
def issues_note(
    issue: Annotated[int, typer.Argument(help="The issue's id.", min=1, show_default=False)],
    text: Annotated[str, typer.Argument(help="The note: what was found, or the action planned.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Add a note to a quality issue: its action plan, what was found, who is fixing it.

    Example:
    joinedup quality issues note 3 "Supplier fixing blank postcodes by May"
    """
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "quality.issues").name
    updated = note_issue(target, issue, text, principal=principal)
    emit(updated, json_, lambda i: say("Issue {} ({}): {} note(s)", i["id"], i["rule"], len(i["notes"])))


def _render_result(result: dict[str, Any]) -> None:
    scores = result["scores"]
    say("[bold]{}[/bold] version {}: {:,} rows; overall quality {}", result["dataset"], result["version"],
        result["rows"], "–" if scores.get("overall") is None else f"{scores['overall']:.1%}")  # fmt: skip
    out.print(table(["dimension", "score"], [[k, f"{v:.1%}"] for k, v in scores.items() if k != "overall"],
                    title="scores by dimension"))  # fmt: skip
    rows = [
        [r["id"], r["dimension"], "–" if r["metric"] is None else f"{r['metric']:.2%}", f"{r['target']:.0%}",
         "n/a" if r["passed"] is None else "pass" if r["passed"] else "FAIL", r["rows_failing"], r["importance"]]
        for r in result["rules"]
    ]  # fmt: skip
    out.print(table(["rule", "dimension", "metric", "target", "result", "failing rows", "importance"], rows,
                    title="rules"))  # fmt: skip
    for flag in result["drift"]:
        say("[yellow]drift[/yellow] {}: {:,.4g} (usually {:,.4g})", flag["id"], flag["value"], flag["expected"])
    cost = result["cost"]
    say("Estimated cost of poor quality: £{:,.0f} ({} staff days; assumptions in --json and the HTML report)",
        cost["total"], cost["staff_days"])  # fmt: skip


def _render_history(entries: list[dict[str, Any]]) -> None:
    if not entries:
        say("Not measured yet.")
        return
    rule_ids = list(entries[-1]["metrics"])
    rows = [
        [rule, *("–" if (m := e["metrics"].get(rule)) is None or m["metric"] is None else
                 f"{m['metric']:.1%}" + ("" if m["passed"] else " ✗") for e in entries)]
        for rule in rule_ids
    ]  # fmt: skip
    rows.append(["overall", *(f"{e['scores'].get('overall') or 0:.1%}" for e in entries)])
    out.print(table(["rule", *(f"v{e['version']}" for e in entries)], rows, title="quality by version"))
