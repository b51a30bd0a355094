"""``joinedup schema``: propose and check dataset schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    FormatOption,
    JsonOption,
    UnusedAsOption,
    UnusedEstateOption,
    chosen,
    emit,
    out,
)
from joinedup.ingest.inference import infer_file_schema
from joinedup.schema import dump_schema, load_schema

app = typer.Typer(help="Propose a schema from a file, or check one.", no_args_is_help=True)


@app.command("infer")
def infer(
    file: Annotated[Path, typer.Argument(help="CSV, Excel, Parquet or JSON Lines file.", show_default=False)],
    out_: Annotated[Path | None, typer.Option("--out", "-o", help="Write the schema here (.yaml or .json) instead of printing it.")] = None,
    format_: FormatOption = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV (default: detect).")] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter.")] = ",",
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name (default: the first).")] = None,
    header_row: Annotated[int | None, typer.Option("--header-row", min=1, help="Row (1-based) of a CSV or sheet that names the columns (default: found below any title or notes).")] = None,
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
    schema = infer_file_schema(
        file, fmt=chosen(format_), encoding=encoding, delimiter=delimiter, sheet=sheet, header_row=header_row
    )
    if out_ is not None:
        fmt = "json" if out_.suffix.lower() == ".json" else "yaml"
        out_.write_text(dump_schema(schema, fmt), encoding="utf-8")
        emit({"schema": str(out_), "fields": len(schema.fields)}, json_,
             lambda r: out.print(f"Wrote a schema with {r['fields']} fields to {r['schema']}; review it, then `joinedup ingest {file} --dataset NAME --schema {out_}`"))
        return
    emit(schema.to_dict(), json_, lambda _: out.print(dump_schema(schema), highlight=False, markup=False))


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A schema file (.yaml or .json).", show_default=False)],
    estate: UnusedEstateOption = DEFAULT_ESTATE,
    as_: UnusedAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Check a schema file is valid; print its fields.

    Example:
    joinedup schema check residents.yaml
    """
    schema = load_schema(file)
    emit(schema.to_dict(), json_, lambda d: out.print(f"{file}: valid, {len(d['fields'])} fields" + (f", primary key {', '.join(d['primaryKey'])}" if d.get("primaryKey") else "")))
