"""``joinedup publish``, ``catalogue``, ``find`` and ``export-all``: open data out, other bodies' catalogues in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from joinedup.access import authorize, resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    choices,
    chosen,
    emit,
    input_file,
    open_estate,
    out,
    output_file,
    outside_estate,
    say,
    table,
)
from joinedup.publish import DEFAULT_THRESHOLD, SUPPRESSED, ReleaseResult, describe, publish, update
from joinedup.publish.catalogue import EXPORT_FORMATS, export_catalogue, find, import_catalogue, imported
from joinedup.publish.ckan import TOKEN_VARIABLE, CkanPusher
from joinedup.publish.export_all import export_all
from joinedup.publish.metadata import ACCESS_RIGHTS, CLASSIFICATIONS, FREQUENCIES

catalogue_app = typer.Typer(
    help="Describe datasets with the UK Exchange Model, export the catalogue, import other bodies' catalogues.",
    no_args_is_help=True,
)
ExportFormat = choices("ExportFormat", EXPORT_FORMATS)
Classification = choices("Classification", CLASSIFICATIONS)
AccessRights = choices("AccessRights", ACCESS_RIGHTS)
Frequency = choices("Frequency", FREQUENCIES)


def _setting(text: str) -> Any:
    return typer.Option(help=text, show_default=False)


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_)
    app.add_typer(catalogue_app, name="catalogue")
    app.command("find")(find_)
    app.command("export-all")(export_all_)


def publish_(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="The dataset to publish.", show_default=False)],
    out_dir: Annotated[
        Path, typer.Option("--out", help="A new (or empty) folder for the release.", show_default=False)
    ],
    columns: Annotated[
        str | None, typer.Option(help="Non-personal columns to release, comma-separated.", show_default=False)
    ] = None,
    aggregate: Annotated[
        str | None,
        typer.Option(help='"count by a, b", "sum COLUMN by a" or "mean COLUMN by a, b".', show_default=False),
    ] = None,
    threshold: Annotated[
        int, typer.Option(min=1, help="Counts below this are suppressed (shown as \\[c]).")
    ] = DEFAULT_THRESHOLD,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be released and suppressed.")] = False,
    ckan: Annotated[
        str | None,
        typer.Option(help=f"Also push to this CKAN portal (API token in ${TOKEN_VARIABLE}).", show_default=False),
    ] = None,
    ckan_org: Annotated[
        str | None, typer.Option("--ckan-org", help="The CKAN organisation to publish under.", show_default=False)
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Write an open data release: CSV, CSVW metadata, a Data Package and a DCAT record, under the OGL v3.0.

    Only non-personal columns, or aggregates with small numbers suppressed (below
    --threshold, plus whatever cells would let one be worked out from the totals).
    The release is scanned for personal values and UK identifiers before any file
    is written; it is recorded as a new release and in the audit log.

    Example:
    joinedup publish -d visits --columns la_code,year,visits --out release
    joinedup publish -d people --aggregate "count by la_code, year" --out r1
    joinedup publish -d people --aggregate "count by la_code" --dry-run --out r
    joinedup publish -d people --aggregate "mean age by year" --out r2
    """
    target = open_estate(estate)
    if not dry_run:
        outside_estate(target, out_dir, "--out")
    me = resolve_principal(target, as_, "data.publish", dataset=dataset).name
    pusher = CkanPusher(ckan, owner_org=ckan_org) if ckan and not dry_run else None
    result = publish(
        target, me, dataset, out=out_dir, columns=columns.split(",") if columns is not None else None,
        aggregate=aggregate, threshold=threshold, dry_run=dry_run, push=pusher,
    )  # fmt: skip
    emit(result.to_dict(), json_, lambda _: _render_release(result))


def _render_release(result: ReleaseResult) -> None:
    if result.dry_run:
        say("Dry run: {} version {} would release {:,} rows of {}", result.dataset, result.dataset_version,
            result.rows, ", ".join(result.columns))  # fmt: skip
        out.print(table(result.columns, result.preview))
    else:
        say("Published {} release {} (version {}): {:,} rows to {}", result.dataset, result.release,
            result.dataset_version, result.rows, result.out)  # fmt: skip
        for name in result.files:
            say("  {}", name)
        if result.ckan_package:
            say("Pushed to CKAN as package {}", result.ckan_package)
    if result.aggregate:
        say("Suppressed {} cells below {} and {} more so none can be recovered from totals (shown as {})",
            result.suppressed_primary, result.threshold, result.suppressed_secondary, SUPPRESSED)  # fmt: skip


@catalogue_app.command("describe")
def describe_(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="The dataset.", show_default=False)],
    title: Annotated[str | None, _setting("Set the title.")] = None,
    description: Annotated[str | None, _setting("Set the description.")] = None,
    summary: Annotated[str | None, _setting("Set the one-line summary.")] = None,
    keyword: Annotated[list[str] | None, _setting("Set the keywords (repeat).")] = None,
    theme: Annotated[list[str] | None, _setting("Set the themes (repeat).")] = None,
    publisher: Annotated[str | None, _setting("Set the publishing body.")] = None,
    creator: Annotated[str | None, _setting("Set the creating body.")] = None,
    contact_name: Annotated[str | None, _setting("Set the contact point (a team).")] = None,
    contact_email: Annotated[str | None, _setting("Set the contact email.")] = None,
    licence: Annotated[str | None, _setting("Set the licence URL (default OGL v3.0).")] = None,
    classification: Annotated[
        Classification | None,  # type: ignore[valid-type]
        _setting("Set the security classification."),
    ] = None,
    access_rights: Annotated[
        AccessRights | None,  # type: ignore[valid-type]
        _setting("Set the access rights."),
    ] = None,
    frequency: Annotated[
        Frequency | None,  # type: ignore[valid-type]
        _setting("Set the update frequency."),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a dataset's catalogue record (UK Exchange Model / DCAT fields); options change them.

    Reading needs a role on the dataset; changing needs admin or its steward, and is audited.

    Example:
    joinedup catalogue describe -d visits
    joinedup catalogue describe -d visits --keyword health --keyword gp
    joinedup catalogue describe -d visits --classification OFFICIAL-SENSITIVE
    """
    target = open_estate(estate)
    changes: dict[str, Any] = {
        "title": title, "description": description, "summary": summary, "publisher": publisher,
        "creator": creator, "contact_name": contact_name, "contact_email": contact_email, "licence": licence,
        "security_classification": chosen(classification), "access_rights": chosen(access_rights),
        "update_frequency": chosen(frequency), "keywords": keyword or None, "themes": theme or None,
    }  # fmt: skip
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        me = resolve_principal(target, as_, "catalogue.describe", dataset=dataset)
        authorize(target, me.name, "catalogue.describe", dataset=dataset)
        record = update(target, dataset, me.name, changes)
    else:
        me = resolve_principal(target, as_, "catalogue.read", dataset=dataset)
        authorize(target, me.name, "catalogue.read", dataset=dataset)
        record = describe(target, dataset)
    emit(record, json_, lambda r: out.print(table(["field", "value"], [[k, _shown(v)] for k, v in r.items()])))


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


@catalogue_app.command("export")
def export_(
    out_file: Annotated[Path, typer.Option("--out", help="File to write.", show_default=False, callback=output_file)],
    format_: Annotated[
        ExportFormat,  # type: ignore[valid-type]
        typer.Option("--format", help="dcat: Exchange Model JSON-LD; datapackage: Frictionless descriptor."),
    ] = ExportFormat("dcat"),
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Export the catalogue records you may see (security classification respected).

    Example:
    joinedup catalogue export --format dcat --out catalogue.jsonld
    joinedup catalogue export --format datapackage --out datapackage.json
    """
    target = open_estate(estate)
    outside_estate(target, out_file, "--out")
    me = resolve_principal(target, as_, "catalogue.read").name
    result = export_catalogue(target, me, chosen(format_) or "dcat", out_file)
    emit(result, json_, lambda r: say("Wrote {} records ({}) to {}", len(r["datasets"]), r["format"], r["out"]))


@catalogue_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="DCAT JSON-LD or a CKAN package_search JSON dump.", callback=input_file)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Import another body's catalogue, read-only, recording where and when it came from.

    Its datasets are then found by `joinedup find`; they never mix with the estate's own.

    Example:
    joinedup catalogue import council-catalogue.jsonld
    joinedup catalogue import package_search.json --json
    """
    target = open_estate(estate)
    me = resolve_principal(target, as_, "catalogue.import").name
    result = import_catalogue(target, me, file)
    emit(result, json_, lambda r: say("Imported {} datasets ({}) as import #{}", r["datasets"], r["format"],
                                      r["import"]))  # fmt: skip


@catalogue_app.command("imported")
def imported_(
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List imported catalogues: source, format, SHA-256, who and when, and their datasets.

    Example:
    joinedup catalogue imported
    joinedup catalogue imported --json
    """
    target = open_estate(estate)
    me = resolve_principal(target, as_).name
    found = imported(target, me)

    def render(_: Any) -> None:
        for item in found:
            say("#{} {} ({}, {} by {})", item["import"], item["source"], item["format"], item["imported_at"],
                item["imported_by"])  # fmt: skip
            rows = [[d["identifier"], d["title"], d["publisher"] or ""] for d in item["datasets"]]
            out.print(table(["identifier", "title", "publisher"], rows))
        if not found:
            say("No catalogues imported yet: joinedup catalogue import FILE")

    emit(found, json_, render)


def find_(
    query: Annotated[str, typer.Argument(help='Words to look for, e.g. "NHS number" or "school admissions".')],
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many.")] = 20,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Is this data already available in government? Rank the estate's and imported datasets.

    Matches titles, descriptions, keywords and column names; naming a UK type
    ("NHS number", "postcode", "UPRN") finds columns of that type however named.

    Example:
    joinedup find "NHS number"
    joinedup find "school admissions by local authority" --json
    """
    target = open_estate(estate)
    me = resolve_principal(target, as_).name
    hits = [h.to_dict() for h in find(target, me, query)[:limit]]

    def render(_: Any) -> None:
        rows = [[h["score"], h["source"], h["name"], h["title"], h["publisher"] or "", "; ".join(h["matched"])]
                for h in hits]  # fmt: skip
        out.print(table(["score", "source", "name", "title", "publisher", "matched"], rows))
        if not hits:
            say("Nothing found; import other bodies' catalogues with joinedup catalogue import FILE")

    emit(hits, json_, render)


def export_all_(
    out_dir: Annotated[Path, typer.Option("--out", help="A new (or empty) folder.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Export everything the estate holds in open formats, with SHA-256 checksums (admins only; audited).

    Datasets as Parquet and CSV with their schemas, versions and quarantine; every
    catalogue table (versions, releases, the audit log ...) as JSON; the catalogue
    as DCAT JSON-LD; manifest.json lists every file's checksum. Secrets stay behind.

    Example:
    joinedup export-all --out estate-export
    """
    target = open_estate(estate)
    outside_estate(target, out_dir, "--out")
    me = resolve_principal(target, as_, "estate.export_all").name
    result = export_all(target, me, out_dir)
    emit(result, json_, lambda r: say("Exported {} datasets, {} catalogue tables, {} files to {} (manifest {})",
                                      len(r["datasets"]), len(r["tables"]), r["files"], r["out"],
                                      r["manifest_sha256"]))  # fmt: skip
