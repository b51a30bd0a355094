"""``joinedup schema``: propose and check dataset schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from joinedup.access import authorize, resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    DatasetOption,
    EstateOption,
    FormatOption,
    JsonOption,
    UnusedAsOption,
    UnusedEstateOption,
    chosen,
    emit,
    err,
    input_file,
    open_estate,
    out,
    output_file,
    say,
    table,
)
from joinedup.errors import SchemaError
from joinedup.estate import Catalogue
from joinedup.ingest.inference import Proposal, propose_file_schema
from joinedup.schema import Schema, dump_descriptor, dump_schema, load_schema, to_table_schema

app = typer.Typer(help="Propose a schema from a file, check one, or export one for other tools.", no_args_is_help=True)
_SCHEMA_FILE_SUFFIXES = (".yaml", ".yml", ".json")


@app.command("infer")
def infer(
    file: Annotated[
        Path, typer.Argument(help="CSV, Excel, Parquet or JSON Lines file.", show_default=False, callback=input_file)
    ],
    out_: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the schema here (.yaml or .json) instead of printing it.",
            callback=output_file,
        ),
    ] = None,
    format_: FormatOption = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV (default: detect).")] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter.")] = ",",
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name (default: the first).")] = None,
    header_row: Annotated[
        int | None,
        typer.Option(
            "--header-row",
            min=1,
            help="Row (1-based) of a CSV or sheet that names the columns (default: found below any title or notes).",
        ),
    ] = None,
    estate: UnusedEstateOption = DEFAULT_ESTATE,
    as_: UnusedAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Propose a schema for FILE: types (recognising UK identifiers), constraints, and columns that look personal.

    Review it before ingesting: it is a proposal from the data, not a fact about it.

    Example:
    joinedup schema infer residents.csv --out residents.yaml
    joinedup schema infer gp.xlsx --sheet Registrations --json
    """
    proposal = propose_file_schema(
        file, fmt=chosen(format_), encoding=encoding, delimiter=delimiter, sheet=sheet, header_row=header_row
    )
    schema = proposal.schema
    if out_ is not None:
        fmt = "json" if out_.suffix.lower() == ".json" else "yaml"
        out_.write_text(dump_schema(schema, fmt), encoding="utf-8")
        result = {"schema": str(out_), "fields": len(schema.fields), **proposal.report()}

        def render(r: dict[str, Any]) -> None:
            say("Wrote a schema with {} fields to {}", r["fields"], r["schema"])
            _render_report(proposal, out)
            say("Review it, then `joinedup ingest {} --dataset NAME --schema {}`", file, out_)

        emit(result, json_, render)
        return
    # The schema alone goes to standard output, so it can be redirected to a file and used as it is.
    emit(schema.to_dict(), json_, lambda _: out.print(dump_schema(schema), highlight=False, markup=False))
    _render_report(proposal, err)


def _render_report(proposal: Proposal, console: Console) -> None:
    """What an ingest with the proposed schema would do, rule by rule."""
    console.print(
        f"With this schema, ingest would load {proposal.rows_loaded:,} of {proposal.rows_read:,} rows "
        f"and quarantine {proposal.rows_quarantined:,}",
        highlight=False,
        markup=False,
    )
    rows = [[column, rule, count] for column, rules in proposal.rule_counts.items() for rule, count in rules.items()]
    if rows:
        console.print(table(["column", "rule", "rows"], rows, title="would be quarantined"))


@app.command("check")
def check(
    file: Annotated[
        Path, typer.Argument(help="A schema file (.yaml or .json).", show_default=False, callback=input_file)
    ],
    estate: UnusedEstateOption = DEFAULT_ESTATE,
    as_: UnusedAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Check a schema file is valid; print its fields.

    Example:
    joinedup schema check residents.yaml
    """
    schema = load_schema(file)
    emit(
        schema.to_dict(),
        json_,
        lambda d: say(
            "{}: valid, {} fields{}",
            file,
            len(d["fields"]),
            f", primary key {', '.join(d['primaryKey'])}" if d.get("primaryKey") else "",
        ),
    )


@app.command("export")
def export(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A schema file (.yaml, .yml, .json) to convert, instead of a dataset's schema.",
            show_default=False,
            callback=input_file,
        ),
    ] = None,
    dataset: DatasetOption = None,
    table_schema: Annotated[
        bool,
        typer.Option(
            "--table-schema",
            help="Plain Frictionless Table Schema: UK types as strings with a pattern, "
            "joinedup's additions as joinedup:… properties.",
        ),
    ] = False,
    out_: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write it here (.yaml or .json) instead of printing it.", callback=output_file
        ),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Print or write a dataset's schema (or convert a schema FILE), in joinedup's form or as plain Table Schema.

    With --table-schema the schema is one other tools accept.

    `schema check` and `ingest --schema` read either form back unchanged. Reading a
    dataset's schema needs the schema.read permission on it.

    Example:
    joinedup schema export --dataset residents --table-schema --out r.json
    joinedup schema export residents.yaml --table-schema
    """
    schema = _schema_to_export(file, dataset, estate, as_)
    descriptor = to_table_schema(schema) if table_schema else schema.to_dict()
    if out_ is not None:
        fmt = "json" if out_.suffix.lower() == ".json" else "yaml"
        out_.write_text(dump_descriptor(descriptor, fmt), encoding="utf-8")
        result = {
            "schema": str(out_),
            "fields": len(schema.fields),
            "digest": schema.digest(),
            "table_schema": table_schema,
        }
        emit(
            result,
            json_,
            lambda r: say("Wrote a schema with {} fields to {}", r["fields"], r["schema"]),
        )
        return
    emit(descriptor, json_, lambda d: out.print(dump_descriptor(d), highlight=False, markup=False, end=""))


def _schema_to_export(file: Path | None, dataset: str | None, estate: Path, as_: str | None) -> Schema:
    if (file is None) == (dataset is None):
        raise typer.BadParameter("schema export: give either a schema FILE or --dataset NAME, not both or neither")
    if file is not None:
        if file.suffix.lower() not in _SCHEMA_FILE_SUFFIXES:
            raise typer.BadParameter(
                f"{file}: expected a schema file ending in "
                f"{', '.join(_SCHEMA_FILE_SUFFIXES)}; name a dataset with --dataset"
            )
        # The caller's own file: no estate involved, nothing to authorise.
        return load_schema(file)
    assert dataset is not None
    target = open_estate(estate)
    authorize(
        target, resolve_principal(target, as_, "schema.read", dataset=dataset).name, "schema.read", dataset=dataset
    )
    info = Catalogue(target).get(dataset)
    if info.schema is None:
        raise SchemaError(f"dataset {dataset!r} has no schema yet: ingest a file with --schema first")
    return Schema.from_dict(info.schema, f"stored schema of {dataset!r}")
