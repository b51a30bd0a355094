"""``joinedup standards``: the UK identifier and format rules."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from joinedup.cli.common import JsonOption, emit, out, table
from joinedup.errors import JoinedupError
from joinedup.standards import STANDARD_TYPES
from joinedup.standards import check as run_check

app = typer.Typer(help="Check values against UK data standards and list the types joinedup knows.", no_args_is_help=True)


class InvalidValue(JoinedupError):
    kind = "invalid-value"


@app.command("check")
def check(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="e.g. nhs_number, ni_number, postcode, uprn, company_number, vat_number, utr, gss_code, country_code.")],
    value: Annotated[str, typer.Argument(help="The value to check.")],
    json_: JsonOption = False,
) -> None:
    """Say whether VALUE is a valid TYPE and give its canonical form (exit status 1 when invalid)."""
    result = run_check(type_, value)
    data = {
        "type": result.type,
        "value": result.value,
        "valid": result.valid,
        "canonical": result.canonical,
        "expected": result.expected,
    }

    def render(r: dict[str, Any]) -> None:
        if r["valid"]:
            out.print(f"[green]valid[/green] {r['type']}: {r['canonical']}")
        else:
            out.print(f"[red]invalid[/red] {r['type']}: {r['value']!r}; expected {r['expected']}")

    emit(data, json_, render)
    if not result.valid:
        raise typer.Exit(1)


@app.command("list")
def list_types(json_: JsonOption = False) -> None:
    """List the standard types with what a valid value looks like and an example."""
    rows = [
        {"type": t.name, "title": t.title, "expected": t.expected, "example": t.example}
        for t in STANDARD_TYPES.values()
    ]
    emit(rows, json_, lambda items: out.print(table(["type", "title", "expected", "example"], [list(r.values()) for r in items])))
