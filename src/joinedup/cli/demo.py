"""``joinedup demo``: build a demo estate from synthetic UK data and show what happened."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    acting_name,
    emit,
    err,
    escape,
    out,
    say,
    table,
)
from joinedup.errors import CheckFailed, MissingExtra


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def demo(
    estate: EstateOption = DEFAULT_ESTATE,
    fresh: Annotated[
        bool, typer.Option(help="Replace an earlier demo estate at --estate (never an estate the demo did not make).")
    ] = False,
    rows: Annotated[int, typer.Option(help="Residents to generate (the other exports are scaled to it).")] = 5_000,
    seed: Annotated[int, typer.Option(help="Seed for the synthetic data.")] = 2026,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Generate messy synthetic UK exports (CSV in Windows-1252, Excel, JSON Lines), ingest them, and report.

    Needs no servers and no network: the data is made by joinedup itself, with Faker
    (the `demo` extra). You (--as, $JOINEDUP_USER, else your login name) become the
    demo estate's admin. Exits with status 5 if the quarantine differs from the errors
    the demo planted.

    Example:
    joinedup demo --estate demo-estate --fresh
    joinedup demo --estate /tmp/try --rows 500 --seed 7 --json
    """
    try:
        # Faker and the generators load only when the demo runs, not on every command.
        from joinedup.demo import check_demo_target, run_demo
    except ModuleNotFoundError as missing:
        if missing.name != "faker":
            raise
        raise MissingExtra("joinedup demo needs Faker, which is not installed: pip install 'joinedup[demo]'") from None

    check_demo_target(estate, fresh)
    tell = (lambda _: None) if json_ else lambda line: err.print(escape(line), highlight=False)
    report = run_demo(estate, principal=acting_name(as_), rows=rows, seed=seed, fresh=fresh, say=tell)

    def render(data: dict[str, Any]) -> None:
        out.print(
            table(
                ["dataset", "source", "read", "loaded", "quarantined", "matches planted errors"],
                [
                    [
                        i["dataset"],
                        i["source"],
                        i["rows_read"],
                        i["rows_loaded"],
                        i["rows_quarantined"],
                        "yes" if i["quarantine_matches_ground_truth"] else "NO",
                    ]
                    for i in data["ingests"]
                ],
                title="demo ingests",
            )
        )
        dimensions = ("completeness", "uniqueness", "consistency", "timeliness", "validity", "accuracy")
        out.print(
            table(
                ["dataset", *dimensions, "overall", "rules below target"],
                [
                    [name, *(_pct(q["scores"].get(d)) for d in (*dimensions, "overall")), ", ".join(q["failing_rules"])]
                    for name, q in data["quality"].items()
                ],
                title="quality by dimension",
            )
        )
        say("Quality report: {}", data["quality_report"])
        if data.get("linkage"):
            found = data["linkage"]
            say(
                "Linked residents and GP registrations: {} people, {} in both.",
                found["people"],
                found["people_in_both"],
            )
        say("\nThe estate is at {}. Try:", data["estate"])
        say("  .venv/bin/joinedup show --dataset residents --estate {}", data["estate"])
        say("  .venv/bin/joinedup quarantine --dataset residents --estate {}", data["estate"])
        say('  .venv/bin/joinedup query "SELECT sex, count(*) FROM residents GROUP BY 1" --estate {}', data["estate"])
        say("  .venv/bin/joinedup quality show --dataset residents --history --estate {}", data["estate"])
        say("  .venv/bin/joinedup review list --estate {}", data["estate"])

    emit(report.to_dict(), json_, render)
    if not report.quarantine_matches_ground_truth:
        raise CheckFailed(
            "the demo's quarantine differs from the errors it planted (see quarantine_matches_ground_truth per ingest)"
        )
