"""``joinedup principal``: who may act in the estate, and with which roles."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from joinedup.access import (
    KINDS,
    ROLES,
    Principal,
    add_principal,
    bootstrap_admin,
    disable_principal,
    enable_principal,
    grant_role,
    list_principals,
    resolve_principal,
    revoke_role,
)
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    acting_name,
    choices,
    emit,
    open_estate,
    out,
    say,
    table,
)

app = typer.Typer(help="Register people and services and grant them roles (admins only).", no_args_is_help=True)

Role = choices("Role", ROLES)
Kind = choices("Kind", KINDS)
RoleOption = Annotated[Role, typer.Option("--role", "-r", help="The role.", show_default=False)]  # type: ignore[valid-type]
DatasetsOption = Annotated[
    list[str] | None,
    typer.Option("--dataset", "-d", help="A dataset the role covers (steward, analyst); repeat for more."),
]
AllOption = Annotated[bool, typer.Option("--all-datasets", help="The role covers every dataset (steward, analyst).")]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name of the person, or the service's name.", show_default=False)],
    role: RoleOption,
    dataset: DatasetsOption = None,
    all_datasets: AllOption = False,
    kind: Annotated[Kind, typer.Option(help="A person or a service (an ETL job).")] = Kind("person"),  # type: ignore[valid-type]
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Register NAME with a role.

    Example:
    joinedup principal add alice --role analyst --dataset people
    joinedup principal add etl --role steward --dataset visits --kind service
    joinedup principal add dora --role dpo
    """
    target = open_estate(estate)
    actor = resolve_principal(target, as_, "principal.manage").name
    made = add_principal(
        target, actor, name, str(role), datasets=dataset or (), all_datasets=all_datasets, kind=str(kind)
    )
    _show(made, json_, f"Added {made.describe()}")


@app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="The principal.", show_default=False)],
    role: RoleOption,
    dataset: DatasetsOption = None,
    all_datasets: AllOption = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Give NAME another role (or the same role on more datasets).

    Example:
    joinedup principal grant alice --role analyst --dataset visits
    """
    target = open_estate(estate)
    actor = resolve_principal(target, as_, "principal.manage").name
    changed = grant_role(target, actor, name, str(role), datasets=dataset or (), all_datasets=all_datasets)
    _show(changed, json_, f"Now {changed.describe()}")


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The principal.", show_default=False)],
    role: RoleOption,
    dataset: DatasetsOption = None,
    all_datasets: Annotated[
        bool, typer.Option("--all-datasets", help="Only the estate-wide grant of the role.")
    ] = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Take a role from NAME: on the datasets given, or every grant of it when none are.

    Example:
    joinedup principal revoke alice --role analyst --dataset people
    """
    target = open_estate(estate)
    actor = resolve_principal(target, as_, "principal.manage").name
    changed = revoke_role(target, actor, name, str(role), datasets=dataset or (), all_datasets=all_datasets)
    _show(changed, json_, f"Now {changed.describe()}")


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The principal.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Stop NAME acting at all; its past entries in the audit log remain.

    Example:
    joinedup principal disable sam
    """
    target = open_estate(estate)
    changed = disable_principal(target, resolve_principal(target, as_, "principal.manage").name, name)
    _show(changed, json_, f"Disabled {changed.name}")


@app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="The principal.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Let a disabled principal act again.

    Example:
    joinedup principal enable sam
    """
    target = open_estate(estate)
    changed = enable_principal(target, resolve_principal(target, as_, "principal.manage").name, name)
    _show(changed, json_, f"Enabled {changed.describe()}")


@app.command("list")
def list_(estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False) -> None:
    """Every principal with its roles.

    Example:
    joinedup principal list --json
    """
    target = open_estate(estate)
    resolve_principal(target, as_)
    found = list_principals(target)

    def render(_: Any) -> None:
        out.print(
            table(
                ["name", "kind", "roles", "disabled", "added", "by"],
                [
                    [
                        p.name,
                        p.kind,
                        ", ".join(str(g) for g in p.grants),
                        "yes" if p.disabled else "",
                        p.created_at,
                        p.created_by,
                    ]
                    for p in found
                ],
            )
        )

    emit([p.to_dict() for p in found], json_, render)


@app.command("whoami")
def whoami(estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False) -> None:
    """Who commands act as here (--as, $JOINEDUP_USER, else your login name) and their roles.

    Example:
    joinedup principal whoami
    joinedup principal whoami --as alice
    """
    me = resolve_principal(open_estate(estate), as_)
    _show(me, json_, me.describe())


@app.command("bootstrap")
def bootstrap(estate: EstateOption = DEFAULT_ESTATE, as_: AsOption = None, json_: JsonOption = False) -> None:
    """Make yourself admin of an estate that has no principals yet (one made before roles existed).

    Example:
    joinedup principal bootstrap --estate council
    """
    made = bootstrap_admin(open_estate(estate), acting_name(as_))
    _show(made, json_, f"{made.describe()} is this estate's first admin")


def _show(principal: Principal, as_json: bool, line: str) -> None:
    emit(principal.to_dict(), as_json, lambda _: say("{}", line))
