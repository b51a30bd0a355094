"""``joinedup ingest``, ``quarantine`` and ``query``: loading data and reading it back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from joinedup.access import query_as, resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    emit,
    err,
    open_estate,
    out,
    table,
)
from joinedup.ingest import IngestResult
from joinedup.ingest import ingest as run_ingest
from joinedup.ingest.quarantine import export_quarantine_as, read_quarantine_as
from joinedup.schema import load_schema

PurposeOption = Annotated[
    str | None,
    typer.Option(help="Why you need this personal data (analysts must say; it goes in the audit log). Write a reason, not a name."),
]


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("quarantine")(quarantine)
    app.command("query")(query)


def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, Excel (.xlsx), Parquet or JSON Lines file.", show_default=False)],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to add a version to (created if new).")],
    schema: Annotated[Path | None, typer.Option(help="Schema (YAML or JSON); default: the dataset's current schema.")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="csv, excel, parquet or jsonl (default: from the extension).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV (default: detect UTF-8, UTF-8 with BOM, UTF-16 with BOM, Windows-1252).")] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter.")] = ",",
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name (default: the first).")] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Validate and standardise every row of FILE and store the valid rows as a new version.

    Invalid rows go to the dataset's quarantine with every reason (row, column, rule,
    original value); nothing is dropped silently. The new version appears only when
    the whole ingest has succeeded.
    """
    target = open_estate(estate)
    parsed = load_schema(schema) if schema else None
    principal = resolve_principal(target, as_).name
    with _progress(enabled=not json_) as report:
        result = run_ingest(
            target,
            file,
            dataset=dataset,
            principal=principal,
            schema=parsed,
            fmt=format_,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            progress=report,
        )
    emit(result.to_dict(), json_, lambda _: _render_ingest(result))


def _render_ingest(result: IngestResult) -> None:
    out.print(
        f"[bold]{result.dataset}[/bold] version {result.version}: read {result.rows_read:,} rows from "
        f"{result.source}, loaded [green]{result.rows_loaded:,}[/green], quarantined "
        f"[{'red' if result.rows_quarantined else 'green'}]{result.rows_quarantined:,}[/] "
        f"({result.seconds:.1f} s)"
    )
    if result.rule_counts:
        rows = [[column, rule, count] for column, rules in result.rule_counts.items() for rule, count in rules.items()]
        out.print(table(["column", "rule", "rows failing"], rows, title="quarantine reasons"))
        out.print(f"See them with: joinedup quarantine {result.dataset} --version {result.version}")
    if result.columns_ignored:
        out.print(f"Columns not in the schema, not loaded: {', '.join(result.columns_ignored)}")
    if result.recovered:
        out.print("Rolled back data left by an earlier ingest that did not finish.")


class _progress:
    """A Rich progress bar on stderr while an ingest runs (hidden with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err, transient=True)
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        self.bar.start()
        self.task = self.bar.add_task("reading", total=1.0)
        return self.update

    def update(self, stage: str, fraction: float | None) -> None:
        self.bar.update(self.task, description=stage, completed=fraction if fraction is not None else 0.0)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()


def quarantine(
    name: Annotated[str, typer.Argument(help="The dataset.")],
    version: Annotated[int | None, typer.Option(help="Which version's rejected rows (default: the current version).")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write them to this CSV file instead of printing.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (not applied to --csv).")] = 50,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the rows an ingest rejected, each with every reason and its original values.

    They hold personal data as it arrived: the read is checked against your role and recorded in the audit log.
    """
    target = open_estate(estate)
    me = resolve_principal(target, as_).name
    if csv is not None:
        found, written = export_quarantine_as(target, me, name, csv, version, purpose=purpose)
        emit({"dataset": name, "version": found.version, "rows": written, "csv": str(csv)}, json_,
             lambda r: out.print(f"Wrote {r['rows']:,} quarantined rows of {name} version {r['version']} to {csv}"))
        return
    found = read_quarantine_as(target, me, name, version, purpose=purpose)
    shown = found.rows[:limit]
    data = {"dataset": name, "version": found.version, "rows_total": len(found.rows), "rows": shown}

    def render(_: Any) -> None:
        if not found.rows:
            out.print(f"{name} version {found.version}: no rows in quarantine.")
            return
        # One line per reason keeps the table narrow enough for a terminal; the whole
        # original rows are in --csv and --json.
        lines = [
            [row["_source_row"] if i == 0 else "", e["column"], e["rule"], e["value"], e["message"]]
            for row in shown
            for i, e in enumerate(row["_errors"])
        ]
        title = f"{name} version {found.version}: {len(found.rows):,} rows in quarantine"
        out.print(table(["row", "column", "rule", "value", "message"], lines, title=title))
        more = f"... {len(found.rows) - limit:,} more rows; use --limit. " if len(found.rows) > limit else ""
        out.print(f"{more}Whole original rows: --csv FILE or --json.")
        if any(row.get("_line_withheld") for row in found.rows):
            out.print(f"The (row) lines are {found.lines_withheld}.", markup=False)

    emit(data, json_, render)


#: Rows `joinedup query` shows in a table unless --limit says otherwise.
TABLE_ROWS = 100


def query(
    sql: Annotated[str, typer.Argument(help='A read-only SQL query, e.g. "SELECT count(*) FROM people".')],
    limit: Annotated[
        int | None, typer.Option(help=f"Return at most this many rows (default: all with --json, {TABLE_ROWS} in a table).")
    ] = None,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Run read-only SQL over the datasets; each dataset is a view named after it.

    Only one SELECT is allowed: no writes, no ATTACH, no reading files outside the estate.
    You need a read role on every dataset it touches (analysts give --purpose); the
    query is recorded in the audit log before any row is shown.
    """
    target = open_estate(estate)
    if limit is None and not json_:
        limit = TABLE_ROWS  # a table of a million rows helps nobody, and takes minutes to draw
    result = query_as(target, resolve_principal(target, as_).name, sql, purpose=purpose, limit=limit)

    def render(_: Any) -> None:
        out.print(table(result.columns, result.rows))
        if result.truncated:
            out.print(f"(first {limit} rows; --limit N for more, --json for all)")

    emit(result.records(), json_, render)
