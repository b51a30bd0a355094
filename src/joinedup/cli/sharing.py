"""``joinedup agreement``, ``client``, ``objection`` and ``extract``: sharing under agreements (admin, dpo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from joinedup.access import resolve_principal
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
    say,
    table,
)
from joinedup.sharing import agreements, clients, extract, objections
from joinedup.sharing.agreements import Agreement

agreement_app = typer.Typer(help="Data-sharing agreements: record, list, show and revoke.", no_args_is_help=True)
client_app = typer.Typer(help="Partner clients of the API, one per agreement.", no_args_is_help=True)
objection_app = typer.Typer(
    help="The objections register: people whose data is not shared for some purposes.", no_args_is_help=True
)
ExtractFormat = choices("ExtractFormat", extract.FORMATS)
AgreementArgument = Annotated[str, typer.Argument(help="The agreement, e.g. DSA-2026-001.", show_default=False)]
ClientArgument = Annotated[str, typer.Argument(help="The client, by id or name.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(agreement_app, name="agreement")
    app.add_typer(client_app, name="client")
    app.add_typer(objection_app, name="objection")
    app.command("extract")(extract_command)


def _me(estate: Any, as_: str | None, action: str) -> str:
    return resolve_principal(estate, as_, action).name


def _show_agreement(found: Agreement) -> None:
    say("[bold]{}[/bold] {} ({})", found.id, found.title, found.status())
    say("Purpose: {} [{}]", found.purpose, found.purpose_category)
    say("Legal gateway: {} (objective: {})", found.gateway_name, found.gateway_objective)
    basis = ", ".join(
        f"{name} {value}"
        for name, value in (("Art. 6", found.article_6), ("Art. 9", found.article_9), ("Art. 10", found.article_10))
        if value
    )
    say("Lawful basis: {}", basis or "none (no personal data)")
    for party in found.parties:
        say("Party: {} ({}{})", party.name, party.role.replace("_", " "), ", receives" if party.receives else "")
    rows = [
        [d.name, ", ".join(d.fields), ", ".join(d.pseudonymised) or "-", len(d.rows)] for d in found.datasets
    ]  # fmt: skip
    out.print(table(["dataset", "fields", "pseudonymised", "row filters"], rows))
    say("In force {} to {}, review {}; DPIA {}", found.start, found.end, found.review, found.dpia)


@agreement_app.command("add")
def agreement_add(
    file: Annotated[
        Path, typer.Argument(help="The agreement, in YAML (docs/sharing.md).", show_default=False, callback=input_file)
    ],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Record a data-sharing agreement from a YAML file, checked against the catalogue (admin, dpo).

    Refused, with the field named, when it has unknown keys, names unknown datasets or fields, shares personal
    fields with no Art. 6 basis or special category fields with no Art. 9 condition, or ends before it starts.

    Example:
    joinedup agreement add dsa-2026-001.yaml
    joinedup agreement add dsa-2026-001.yaml --json
    """
    target = open_estate(estate)
    found = agreements.add_agreement(target, _me(target, as_, agreements.MANAGE), file)
    emit(found.to_dict(), json_, lambda _: say("Recorded agreement {} ({}).", found.id, found.status()))


@agreement_app.command("list")
def agreement_list(estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False) -> None:
    """List the agreements with their status (live, not started, expired, revoked).

    Example:
    joinedup agreement list
    joinedup agreement list --json
    """
    target = open_estate(estate)
    found = agreements.list_agreements(target, _me(target, as_, agreements.READ))
    rows = [[a.id, a.title, a.purpose_category, ", ".join(d.name for d in a.datasets), a.status()] for a in found]
    emit(
        [a.to_dict() for a in found], json_,
        lambda _: out.print(table(["agreement", "title", "purpose", "datasets", "status"], rows))
        if rows else say("No agreements."),
    )  # fmt: skip


@agreement_app.command("show")
def agreement_show(
    agreement: AgreementArgument, estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False
) -> None:
    """Show one agreement in full.

    Example:
    joinedup agreement show DSA-2026-001
    """
    target = open_estate(estate)
    found = agreements.show_agreement(target, _me(target, as_, agreements.READ), agreement)
    emit(found.to_dict(), json_, lambda _: _show_agreement(found))


@agreement_app.command("revoke")
def agreement_revoke(
    agreement: AgreementArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it is revoked (kept in the register and the log).")],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Revoke an agreement: from now on its clients are refused and no extract is made under it.

    Example:
    joinedup agreement revoke DSA-2026-001 --reason "gateway repealed"
    """
    target = open_estate(estate)
    found = agreements.revoke_agreement(target, _me(target, as_, agreements.MANAGE), agreement, reason)
    emit(found.to_dict(), json_, lambda _: say("Revoked agreement {}.", found.id))


def _show_issued(issued: clients.Issued, verb: str) -> None:
    say("{} client [bold]{}[/bold] for agreement {}.", verb, issued.client.name, issued.client.agreement_id)
    say("Client id: {}", issued.client.id)
    say("Secret:    {}", issued.secret)
    say("The secret is shown only now: give it to the partner over a secure channel.")


@client_app.command("add")
def client_add(
    name: Annotated[str, typer.Argument(help="The client's name (a service name, e.g. dwp-api).", show_default=False)],
    agreement: Annotated[str, typer.Option("--agreement", help="The agreement it reads under.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Register a partner client under an agreement; prints its id and secret once (admin, dpo).

    Example:
    joinedup client add dwp-api --agreement DSA-2026-001
    """
    target = open_estate(estate)
    issued = clients.add_client(target, _me(target, as_, clients.MANAGE), name, agreement)
    emit(issued.to_dict(), json_, lambda _: _show_issued(issued, "Added"))


@client_app.command("list")
def client_list(
    agreement: Annotated[str | None, typer.Option("--agreement", help="Only this agreement's clients.")] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List partner clients (never their secrets).

    Example:
    joinedup client list
    joinedup client list --agreement DSA-2026-001 --json
    """
    target = open_estate(estate)
    found = clients.list_clients(target, _me(target, as_, clients.MANAGE), agreement)
    rows = [[c.name, c.id, c.agreement_id, "revoked" if c.revoked else "active"] for c in found]
    emit(
        [c.to_dict() for c in found], json_,
        lambda _: out.print(table(["client", "id", "agreement", "status"], rows)) if rows else say("No clients."),
    )  # fmt: skip


@client_app.command("revoke")
def client_revoke(
    client: ClientArgument, estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False
) -> None:
    """Revoke a client: its secret stops working at once.

    Example:
    joinedup client revoke dwp-api
    """
    target = open_estate(estate)
    found = clients.revoke_client(target, _me(target, as_, clients.MANAGE), client)
    emit(found.to_dict(), json_, lambda _: say("Revoked client {}.", found.name))


@client_app.command("rotate")
def client_rotate(
    client: ClientArgument, estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False
) -> None:
    """Give a client a new secret (printed once); the old one stops working at once.

    Example:
    joinedup client rotate dwp-api
    """
    target = open_estate(estate)
    issued = clients.rotate_client(target, _me(target, as_, clients.MANAGE), client)
    emit(issued.to_dict(), json_, lambda _: _show_issued(issued, "Rotated"))


@objection_app.command("add")
def objection_add(
    nhs_number: Annotated[str, typer.Option("--nhs-number", help="The person's NHS number.", show_default=False)],
    purposes: Annotated[
        str,
        typer.Option(
            "--purposes",
            help=f"Comma-separated purpose categories objected to: {', '.join(agreements.PURPOSES)}.",
            show_default=False,
        ),
    ],
    ni_number: Annotated[str | None, typer.Option("--ni-number", help="Their National Insurance number.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Where the objection came from (no names).")] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Record a person's objection (UK GDPR Art. 21): no agreement for those purposes shares their records.

    The person is kept only as keyed hashes of the identifiers given.

    Example:
    joinedup objection add --nhs-number 9434765919 --purposes research,planning
    joinedup objection add --nhs-number 9434765919 --purposes research --json
    """
    target = open_estate(estate)
    actor = _me(target, as_, objections.MANAGE)
    found = objections.add_objection(
        target, actor, nhs_number=nhs_number, ni_number=ni_number,
        purposes=objections.parse_purposes(purposes), source=source,
    )  # fmt: skip
    emit(found.to_dict(), json_, lambda _: say("Recorded objection {} ({}).", found.label, ", ".join(found.purposes)))


@objection_app.command("list")
def objection_list(
    all_: Annotated[bool, typer.Option("--all", help="Include withdrawn objections.")] = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List objections in force (never who: people are kept only as keyed hashes).

    Example:
    joinedup objection list
    joinedup objection list --all --json
    """
    target = open_estate(estate)
    found = objections.list_objections(target, _me(target, as_, objections.MANAGE), include_withdrawn=all_)
    rows = [
        [o.label, ", ".join(o.purposes), ", ".join(o.identified_by), o.source, o.to_dict()["status"]] for o in found
    ]
    emit(
        [o.to_dict() for o in found], json_,
        lambda _: out.print(table(["objection", "purposes", "identified by", "source", "status"], rows))
        if rows else say("No objections."),
    )  # fmt: skip


@objection_app.command("withdraw")
def objection_withdraw(
    objection: Annotated[str, typer.Argument(help="The objection, e.g. O3.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Withdraw an objection: the person's records are shared again under agreements for those purposes.

    Example:
    joinedup objection withdraw O3
    """
    target = open_estate(estate)
    found = objections.withdraw_objection(
        target, _me(target, as_, objections.MANAGE), objections.parse_objection_id(objection)
    )
    emit(found.to_dict(), json_, lambda _: say("Withdrew objection {}.", found.label))


def extract_command(
    agreement: AgreementArgument,
    out_dir: Annotated[
        Path, typer.Option("--out", help="A new folder outside the estate for the files.", show_default=False)
    ],
    format_: Annotated[
        ExtractFormat,  # type: ignore[valid-type]
        typer.Option("--format", help="csv (with CSVW metadata) or parquet."),
    ] = ExtractFormat("csv"),
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Write what an agreement shares as files for a partner, with a manifest of SHA-256 hashes (admin, dpo).

    The same permitted, pseudonymised, objection-filtered records the API serves. Audited (one entry per dataset,
    with the number excluded by objections) before any file is written.

    Example:
    joinedup extract DSA-2026-001 --out /secure/outbox/dsa-2026-001
    joinedup extract DSA-2026-001 --out outbox/dsa --format parquet --json
    """
    target = open_estate(estate)
    found = extract.extract(target, _me(target, as_, "sharing.export"), agreement, out_dir, chosen(format_) or "csv")
    emit(
        found.to_dict(), json_,
        lambda _: say("Extracted {} rows ({} excluded by objections) to {}.",
                      sum(found.rows.values()), sum(found.excluded.values()), found.out_dir),
    )  # fmt: skip
