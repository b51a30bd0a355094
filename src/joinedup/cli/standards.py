"""``joinedup standards``: the UK identifier and format rules."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    JsonOption,
    UnusedAsOption,
    UnusedEstateOption,
    choices,
    chosen,
    emit,
    out,
    say,
    table,
)
from joinedup.errors import CheckFailed
from joinedup.standards import STANDARD_TYPES
from joinedup.standards import check as run_check

StandardType = choices("StandardType", STANDARD_TYPES)

app = typer.Typer(
    help="Check values against UK data standards and list the types joinedup knows.", no_args_is_help=True
)


@app.command("check")
def check(
    type_: Annotated[StandardType, typer.Argument(metavar="TYPE", help="The standard type.", show_default=False)],  # type: ignore[valid-type]
    value: Annotated[str, typer.Argument(help="The value to check.", show_default=False)],
    estate: UnusedEstateOption = DEFAULT_ESTATE,
    as_: UnusedAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Say whether VALUE is a valid TYPE and give its canonical form (exit status 5 when invalid).

    Example:
    joinedup standards check nhs_number "943 476 5919"
    joinedup standards check postcode sw1a1aa --json
    """
    result = run_check(str(chosen(type_)), value)
    data = {
        "type": result.type,
        "value": result.value,
        "valid": result.valid,
        "canonical": result.canonical,
        "expected": result.expected,
    }

    def render(r: dict[str, Any]) -> None:
        if r["valid"]:
            say("[green]valid[/green] {}: {}", r["type"], r["canonical"])
        else:
            say("[red]invalid[/red] {}: {!r}; expected {}", r["type"], r["value"], r["expected"])

    emit(data, json_, render)
    if not result.valid:
        # The value itself stays out of the message: it may be someone's identifier.
        raise CheckFailed(f"not a valid {result.type}; expected {result.expected}")


@app.command("list")
def list_types(
    estate: UnusedEstateOption = DEFAULT_ESTATE, as_: UnusedAsOption = None, json_: JsonOption = False
) -> None:
    """List the standard types with what a valid value looks like and an example.

    Example:
    joinedup standards list
    """
    rows = [
        {"type": t.name, "title": t.title, "expected": t.expected, "example": t.example}
        for t in STANDARD_TYPES.values()
    ]
    emit(
        rows,
        json_,
        lambda items: out.print(table(["type", "title", "expected", "example"], [list(r.values()) for r in items])),
    )
