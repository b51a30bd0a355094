"""``joinedup init``, ``datasets`` and ``show``: the estate and what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from joinedup.access import bootstrap_admin, resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    OLD_DATASET_ARGUMENT,
    AsOption,
    DatasetOption,
    EstateOption,
    JsonOption,
    acting_name,
    emit,
    one_dataset,
    open_estate,
    out,
    say,
    styled,
    table,
)
from joinedup.estate import Catalogue, Estate
from joinedup.lifecycle import purged_versions, rule_of


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("datasets")(datasets)
    app.command("show", context_settings=OLD_DATASET_ARGUMENT)(show)


def init(
    path: Annotated[
        Path | None,
        typer.Argument(help="Where to make the estate (default: --estate, else ./estate).", show_default=False),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    name: Annotated[str | None, typer.Option(help="A name for the estate (default: the folder name).")] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Create an estate: catalogue database, Delta Lake data folder, a new secret key and joinedup.toml.

    You (--as, $JOINEDUP_USER, else your login name) become its first admin.

    Example:
    joinedup init council
    joinedup init --estate /srv/council --name "Example Council" --as dana
    """
    made = Estate.create(path or estate, name=name)
    admin = bootstrap_admin(made, acting_name(as_))
    result = {
        "estate": str(made.root),
        "name": made.config.name,
        "catalogue": made.catalogue_url,
        "secret": str(made.keys_dir / "estate.secret"),
        "admin": admin.name,
    }
    made.close()
    emit(
        result,
        json_,
        lambda r: say("Created estate [bold]{}[/bold] at {}; {} is its admin", r["name"], r["estate"], r["admin"]),
    )


def datasets(estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False) -> None:
    """List the datasets in the estate with their current version and row counts.

    Any registered principal may list them: the catalogue holds no personal data.

    Example:
    joinedup datasets
    joinedup datasets --estate council --json
    """
    target = open_estate(estate)
    resolve_principal(target, as_)
    found = Catalogue(target).datasets()
    rows = [d.to_dict(with_schema=False) for d in found]
    for row in rows:
        row.pop("versions")
        current = next(d for d in found if d.name == row["name"]).current
        row["quarantined"] = current.rows_quarantined if current else 0
        row["updated_at"] = current.created_at if current else None

    def render(items: list[dict[str, Any]]) -> None:
        if not items:
            say("No datasets yet. Load one with `joinedup ingest FILE --dataset NAME --schema SCHEMA`.")
            return
        out.print(
            table(
                ["dataset", "title", "version", "rows", "quarantined", "updated"],
                [
                    [r["name"], r["title"] or "", r["current_version"], r["rows"], r["quarantined"], r["updated_at"]]
                    for r in items
                ],
            )
        )

    emit(rows, json_, render)


def show(
    ctx: typer.Context,
    dataset: DatasetOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a dataset: metadata, schema, and every version with its lineage (source file, SHA-256, who, when, counts).

    Any registered principal may see it: the catalogue holds no personal data.

    Example:
    joinedup show --dataset residents
    joinedup show -d residents --json
    """
    name = one_dataset(dataset, ctx)
    target = open_estate(estate)
    resolve_principal(target, as_)
    info = Catalogue(target).get(name)

    def render(data: dict[str, Any]) -> None:
        heading = styled("[bold]{}[/bold]  {}\n{}", data["name"], data["title"] or "", data["description"] or "")
        out.print(Panel.fit(heading.rstrip(), title="dataset"))
        fields = (data["schema"] or {}).get("fields", [])
        out.print(
            table(
                ["field", "type", "required", "personal", "category"],
                [
                    [
                        f["name"],
                        f["type"] + (f" ({f['format']})" if f.get("format") else ""),
                        "yes" if f.get("constraints", {}).get("required") else "",
                        "yes" if f.get("personal") else "",
                        f.get("category") or "",
                    ]
                    for f in fields
                ],
                title=f"schema version {data['schema_version']}",
            )
        )
        out.print(
            table(
                ["version", "when", "who", "source", "sha256", "read", "loaded", "quarantined", "purged"],
                [
                    [
                        v["number"],
                        v["created_at"],
                        v["created_by"],
                        v["source_name"],
                        v["source_sha256"][:16] + "…",
                        v["rows_read"],
                        v["rows_loaded"],
                        v["rows_quarantined"],
                        "purged" if v.get("purged") else "",
                    ]
                    for v in data["versions"]
                ],
                title="versions",
            )
        )

        if data.get("retention"):
            rule = data["retention"]
            say("Retention: keep {} from {}, then {}.", rule["period"], rule["from"], rule["action"])
        for v in data["versions"]:
            if v.get("purged"):
                say("Version {} no longer reads back: {}.", v["number"], v["purged"])

    emit(_with_lifecycle(target, info.to_dict()), json_, render)


def _with_lifecycle(estate: Estate, data: dict[str, Any]) -> dict[str, Any]:
    """``show``'s data with the retention rule and, per version, why it was purged (None when it reads back)."""
    purged = purged_versions(estate, data["name"])
    for version in data["versions"]:
        version["purged"] = purged.get(version["number"])
    data["retention"] = rule_of(estate, data["name"])
    return data
