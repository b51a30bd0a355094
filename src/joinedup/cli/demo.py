"""``joinedup demo``: build a demo estate from synthetic UK data and show what happened."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    EstateOption,
    JsonOption,
    emit,
    err,
    login_name,
    out,
    table,
)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    estate: EstateOption = DEFAULT_ESTATE,
    fresh: Annotated[bool, typer.Option(help="Replace an earlier demo estate at --estate (never an estate the demo did not make).")] = False,
    rows: Annotated[int, typer.Option(help="Residents to generate (the other exports are scaled to it).")] = 5_000,
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data.")] = 2026,
    json_: JsonOption = False,
) -> None:
    """Generate messy synthetic UK exports (CSV in Windows-1252, Excel, JSON Lines), ingest them, and report.

    Needs no servers and no network: the data is made by joinedup itself.
    """
    # Faker and the generators load only when the demo runs, not on every command.
    from joinedup.demo import check_demo_target, run_demo

    check_demo_target(estate, fresh)
    report = run_demo(estate, principal=login_name(), rows=rows, seed=seed, fresh=fresh, say=(lambda _: None) if json_ else lambda line: err.print(line, highlight=False, markup=False))

    def render(data: dict[str, Any]) -> None:
        out.print(
            table(
                ["dataset", "source", "read", "loaded", "quarantined", "matches planted errors"],
                [[i["dataset"], i["source"], i["rows_read"], i["rows_loaded"], i["rows_quarantined"], "yes" if i["quarantine_matches_ground_truth"] else "NO"] for i in data["ingests"]],
                title="demo ingests",
            )
        )
        out.print(f"\nThe estate is at {data['estate']}. Try:")
        out.print(f"  .venv/bin/joinedup show residents --estate {data['estate']}")
        out.print(f"  .venv/bin/joinedup quarantine residents --estate {data['estate']}")
        out.print(f'  .venv/bin/joinedup query "SELECT sex, count(*) FROM residents GROUP BY 1" --estate {data["estate"]}')

    emit(report.to_dict(), json_, render)
    if not report.quarantine_matches_ground_truth:
        raise typer.Exit(2)
