"""``joinedup synth``: synthetic UK data with a ground truth, for trying and measuring linkage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from joinedup.cli.common import (
    DEFAULT_ESTATE,
    JsonOption,
    UnusedAsOption,
    UnusedEstateOption,
    emit,
    output_folder,
    say,
)

app = typer.Typer(help="Make synthetic UK datasets with a ground truth (no real person in them).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="synth")


@app.command("people")
def people(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the datasets, schemas and truth.csv into.")],
    n: Annotated[int, typer.Option("--n", min=1, max=10_000_000, help="People in the population.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    estate: UnusedEstateOption = DEFAULT_ESTATE,
    as_: UnusedAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Write two synthetic registers (council.csv, gp.csv) of one population, with schemas and truth.csv.

    Households share a surname and an address (twins, juniors named after a
    parent); records carry nicknames, typos, swapped day and month, moves,
    missing and mistyped NHS numbers and duplicates. truth.csv gives every
    record's true person, for `joinedup link evaluate --truth`.

    Example:
    joinedup synth people --n 10000 --out synth
    joinedup synth people --n 500 --seed 7 --out /tmp/people --json
    """
    from joinedup.synthetic.population import write_population

    output_folder("--out", out_dir, estate)
    counts = write_population(out_dir, n, seed=seed)
    data = {"out": str(out_dir), "people": n, "records": counts, "truth": str(out_dir / "truth.csv")}
    emit(data, json_, lambda d: say("Wrote {} to {} (truth in {}).", d["records"], d["out"], d["truth"]))
