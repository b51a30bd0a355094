"""``joinedup ingest``, ``quarantine`` and ``query``: loading data and reading it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from joinedup.estate.config import EstateConfig
    from joinedup.ingest import IngestResult
    from joinedup.schema import Schema

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    OLD_DATASET_ARGUMENT,
    AsOption,
    DatasetOption,
    EstateOption,
    FormatOption,
    JsonOption,
    PurposeOption,
    choices,
    chosen,
    emit,
    err,
    input_file,
    one_dataset,
    open_estate,
    out,
    output_file,
    say,
    styled,
    table,
)
from joinedup.estate import MODES
from joinedup.ingest import read_ahead
from joinedup.schema import load_schema

# The catalogue, access, audit and ingest code (about half a second of imports) load
# inside each command: ingest starts reading its file before they do (see read_ahead).

IngestMode = choices("IngestMode", MODES)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("quarantine", context_settings=OLD_DATASET_ARGUMENT)(quarantine)
    app.command("query")(query)


def ingest(
    file: Annotated[
        Path,
        typer.Argument(help="CSV, Excel (.xlsx), Parquet or JSON Lines file.", show_default=False, callback=input_file),
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Dataset to add a version to (created if new).", show_default=False)
    ],
    schema: Annotated[
        Path | None,
        typer.Option(help="Schema (YAML or JSON); default: the dataset's current schema.", callback=input_file),
    ] = None,
    mode: Annotated[
        IngestMode,  # type: ignore[valid-type]
        typer.Option(
            help="replace: the file is the whole dataset; append: add its rows; "
            "upsert: insert or update (or delete) by primary key."
        ),
    ] = IngestMode("replace"),
    format_: FormatOption = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="Text encoding of a CSV (default: detect UTF-8, UTF-8 with BOM, UTF-16 with BOM, Windows-1252)."
        ),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter.")] = ",",
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name (default: the first).")] = None,
    header_row: Annotated[
        int | None,
        typer.Option(
            "--header-row",
            min=1,
            help="Row (1-based) of a CSV or sheet that names the columns (default: the schema's headerRow, else 1).",
        ),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Validate and standardise every row of FILE and store the valid rows as a new version.

    Invalid rows go to the dataset's quarantine with every reason (row, column, rule,
    original value); nothing is dropped silently. The new version appears only when
    the whole ingest has succeeded.

    Example:
    joinedup ingest residents.csv --dataset residents --schema residents.yaml
    joinedup ingest gp.txt -d gp_registrations --format csv --delimiter "|"
    """
    settings = _settings(estate)
    if settings is None:
        open_estate(estate)  # says what is wrong with the estate, before anything else
    parsed = load_schema(schema) if schema else None
    if settings is not None:
        read_ahead.start(
            file,
            fmt=chosen(format_),
            encoding=encoding,
            delimiter=delimiter,
            header_row=header_row if header_row is not None or parsed is None else parsed.header_row,
            memory_limit=settings.memory_limit,
            threads=settings.threads,
        )
    try:
        result = _ingest(file, dataset, parsed, schema, chosen(mode) or "replace", chosen(format_), encoding,
                         delimiter, sheet, header_row, estate, as_, json_)  # fmt: skip
    finally:
        read_ahead.discard()
    emit(result.to_dict(), json_, lambda _: _render_ingest(result))


def _settings(estate: Path) -> EstateConfig | None:
    """The estate's settings, read without opening its catalogue; None when they cannot be read."""
    from joinedup.errors import JoinedupError
    from joinedup.estate.config import EstateConfig

    try:
        return EstateConfig.load(estate.expanduser().absolute())
    except JoinedupError:
        return None


def _ingest(
    file: Path,
    dataset: str,
    parsed: Schema | None,
    schema: Path | None,
    mode: str,
    fmt: str | None,
    encoding: str | None,
    delimiter: str,
    sheet: str | None,
    header_row: int | None,
    estate: Path,
    as_: str | None,
    json_: bool,
) -> IngestResult:
    from joinedup.access import resolve_principal
    from joinedup.ingest import ingest as run_ingest
    from joinedup.quality import schema_rules

    target = open_estate(estate)
    if parsed is not None and schema is not None:
        schema_rules(parsed, source=f"{schema}: quality")  # a bad rule is named with its file, before any work
    principal = resolve_principal(target, as_, "dataset.ingest", dataset=dataset).name
    with _progress(enabled=not json_) as report:
        return run_ingest(
            target,
            file,
            dataset=dataset,
            principal=principal,
            schema=parsed,
            mode=mode,
            fmt=fmt,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            header_row=header_row,
            progress=report,
        )


def _render_ingest(result: IngestResult) -> None:
    if result.mode == "replace":
        changes = styled("loaded [green]{:,}[/green]", result.rows_loaded)
    else:
        changes = styled(
            "inserted [green]{:,}[/green], updated {:,}, deleted {:,}",
            result.rows_inserted, result.rows_updated, result.rows_deleted,
        )  # fmt: skip
    quarantined = "[red]{:,}[/red]" if result.rows_quarantined else "[green]{:,}[/green]"
    out.print(
        styled("[bold]{}[/bold] version {} ({}): read {:,} rows from {}, ", result.dataset, result.version,
               result.mode, result.rows_read, result.source)
        + changes
        + styled(", quarantined " + quarantined + "; {:,} rows in the dataset ({:.1f} s)",
                 result.rows_quarantined, result.rows_total, result.seconds)
    )  # fmt: skip
    if result.rule_counts:
        rows = [[column, rule, count] for column, rules in result.rule_counts.items() for rule, count in rules.items()]
        out.print(table(["column", "rule", "rows failing"], rows, title="quarantine reasons"))
        say("See them with: joinedup quarantine --dataset {} --version {}", result.dataset, result.version)
    _render_quality(result)


def _render_quality(result: IngestResult) -> None:
    quality = result.quality or {}
    if "error" in quality:
        out.print(styled("[yellow]quality not measured:[/yellow] {}", quality["error"]))
        return
    if not quality:
        return
    scores = ", ".join(f"{k} {v:.0%}" for k, v in quality["scores"].items() if k != "overall" and v is not None)
    failing = quality["failing_rules"]
    out.print(
        styled("quality {:.0%} ({}); ", quality["scores"].get("overall") or 0, scores)
        + (
            styled("[red]{} rule(s) below target[/red]", len(failing))
            if failing
            else "[green]every rule on target[/green]"
        )
        + (styled(", drift in {}", ", ".join(quality["drift"])) if quality["drift"] else "")
    )
    if failing:
        say("See them with: joinedup quality show --dataset {} --version {}", result.dataset, result.version)
    if result.rows_above_header:
        say("Rows above the header, not loaded: {:,}", result.rows_above_header)
    if result.columns_ignored:
        say("Columns not in the schema, not loaded: {}", ", ".join(result.columns_ignored))
    if result.recovered:
        say("Rolled back data left by an earlier ingest that did not finish.")


class _progress:
    """A Rich progress bar on stderr while an ingest runs (hidden with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> Callable[[str, float | None], None] | None:
        if not self.enabled:
            return None
        # Imported only for a terminal: scripts and --json never show a bar, and rich.progress costs their start-up.
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("reading", total=1.0)
        return self.update

    def update(self, stage: str, fraction: float | None) -> None:
        assert self.bar is not None and self.task is not None, "update is handed out only once the bar has its task"
        self.bar.update(self.task, description=stage, completed=fraction if fraction is not None else 0.0)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def quarantine(
    ctx: typer.Context,
    dataset: DatasetOption = None,
    version: Annotated[
        int | None, typer.Option(help="Which version's rejected rows (default: the current version).")
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Write them to this CSV file instead of printing.", callback=output_file),
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many rows (not applied to --csv).")] = 50,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the rows an ingest rejected, each with every reason and its original values.

    They hold personal data as it arrived: the read is checked against your role and recorded in the audit log.

    Example:
    joinedup quarantine --dataset residents
    joinedup quarantine --dataset residents --version 2 --csv rejected.csv
    joinedup quarantine -d residents --as alice --purpose "quality review"
    """
    from joinedup.access import resolve_principal
    from joinedup.ingest.quarantine import export_quarantine_as, read_quarantine_as

    name = one_dataset(dataset, ctx)
    target = open_estate(estate)
    me = resolve_principal(
        target, as_, "quarantine.export" if csv is not None else "quarantine.read", dataset=name, purpose=purpose
    ).name
    if csv is not None:
        found, written = export_quarantine_as(target, me, name, csv, version, purpose=purpose)
        emit(
            {"dataset": name, "version": found.version, "rows": written, "csv": str(csv)},
            json_,
            lambda r: say("Wrote {:,} quarantined rows of {} version {} to {}", r["rows"], name, r["version"], csv),
        )
        return
    found = read_quarantine_as(target, me, name, version, purpose=purpose)
    shown = found.rows[:limit]
    data = {"dataset": name, "version": found.version, "rows_total": len(found.rows), "rows": shown}

    def render(_: Any) -> None:
        if not found.rows:
            say("{} version {}: no rows in quarantine.", name, found.version)
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
        say("{}Whole original rows: --csv FILE or --json.", more)
        if any(row.get("_line_withheld") for row in found.rows):
            say("The (row) lines are {}.", found.lines_withheld)

    emit(data, json_, render)


#: Rows `joinedup query` shows in a table unless --limit says otherwise.
TABLE_ROWS = 100


def query(
    sql: Annotated[str, typer.Argument(help='A read-only SQL query, e.g. "SELECT count(*) FROM people".')],
    limit: Annotated[
        int | None,
        typer.Option(min=0, help=f"Return at most this many rows (default: all with --json, {TABLE_ROWS} in a table)."),
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

    Example:
    joinedup query "SELECT postcode, count(*) FROM residents GROUP BY 1"
    joinedup query "SELECT count(*) FROM residents" --as alice --purpose audit
    joinedup query "SELECT * FROM residents LIMIT 5" --json
    """
    from joinedup.access import query_as, query_datasets, resolve_principal

    target = open_estate(estate)
    if limit is None and not json_:
        limit = TABLE_ROWS  # a table of a million rows helps nobody, and takes minutes to draw
    me = resolve_principal(target, as_, "data.query", dataset=lambda: query_datasets(target, sql), purpose=purpose)
    result = query_as(target, me.name, sql, purpose=purpose, limit=limit)

    def render(_: Any) -> None:
        out.print(table(result.columns, result.rows))
        if result.truncated:
            say("(first {} rows; --limit N for more, --json for all)", limit)

    emit(result.records(), json_, render)
