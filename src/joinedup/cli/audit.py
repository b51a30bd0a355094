"""``joinedup audit``: the log, who accessed a person's data, verification and checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer

from joinedup.access import authorize, resolve_principal
from joinedup.audit import (
    AuditEntry,
    Subject,
    export_checkpoint,
    log,
    release,
    verify,
    who_accessed,
)
from joinedup.audit import checkpoint as sign_now
from joinedup.audit.checkpoints import interval_problem
from joinedup.audit.verify import Problem
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    emit,
    input_file,
    open_estate,
    out,
    output_file,
    say,
    table,
)
from joinedup.errors import InputError, NotFoundError, TamperingError
from joinedup.estate import Estate

app = typer.Typer(help="Read and verify the tamper-evident audit log (dpo, auditor, admin).", no_args_is_help=True)


@app.command("log")
def log_(
    since: Annotated[
        str | None, typer.Option(help="Entries at or after this ISO 8601 date or time (UTC unless given).")
    ] = None,
    principal: Annotated[str | None, typer.Option(help="Only this principal's entries.")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only entries about this dataset.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. data.query; `data.` for every data action.")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="The newest N matching entries.")] = 100,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List audit entries, oldest first (the newest --limit of those matching).

    Example:
    joinedup audit log --since 2026-01-01 --principal alice
    joinedup audit log --dataset people --action data. --limit 20 --json
    """
    target = open_estate(estate)
    me = authorize(target, resolve_principal(target, as_, "audit.read").name, "audit.read")
    found = log(target, since=_since(since), principal=principal, dataset=dataset, action=action, limit=limit)
    filters = {"since": since, "principal": principal, "dataset": dataset, "action": action, "limit": limit}
    release(target, found, principal=me.name, action="audit.read", row_count=len(found), detail={"filters": filters})
    emit([e.to_dict() for e in found], json_, lambda _: out.print(_entries_table(found)))


@app.command("who-accessed")
def who_accessed_(
    nhs_number: Annotated[str | None, typer.Option("--nhs-number", help="The person's NHS number.")] = None,
    ni_number: Annotated[
        str | None, typer.Option("--ni-number", help="The person's National Insurance number.")
    ] = None,
    person_key: Annotated[
        str | None,
        typer.Option("--person-key", help="The estate's person key, as linkage assigned it (all their records)."),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Every access to this person's data, each with its basis: who, when, why, what.

    Each read is re-run over the dataset version it read with only the
    person's rows: `returned` (their rows left the estate), `aggregate` (their
    rows changed a count, sum or average, none of their values left), `named`
    (the entry names them), `undetermined` (the version or query text is gone).
    Reads whose filters left them out are not listed.

    Example:
    joinedup audit who-accessed --nhs-number "943 476 5919"
    joinedup audit who-accessed --ni-number AB123456C --json
    joinedup audit who-accessed --person-key P-000042
    """
    given = {k: v for k, v in (("nhs_number", nhs_number), ("ni_number", ni_number), ("person_key", person_key)) if v}
    if len(given) != 1:
        raise InputError("give exactly one of --nhs-number, --ni-number or --person-key")
    [(kind, value)] = given.items()
    target = open_estate(estate)
    me = authorize(target, resolve_principal(target, as_, "audit.who_accessed").name, "audit.who_accessed")
    records = _records_for_key(target, value) if kind == "person_key" else None
    answer = who_accessed(target, kind, value, records=records)
    # The lookup names the person, so it is itself on the record (as a keyed hash).
    release(
        target, answer, principal=me.name, action="audit.who_accessed", subjects=[Subject(kind, value)],
        row_count=len(answer.accesses), detail={"kind": kind, "counts": answer.counts()},
    )  # fmt: skip

    def render(_: Any) -> None:
        if not answer.accesses:
            say("No recorded access returned or used this person's data.")
            return
        say("{}", ", ".join(f"{n} {basis}" for basis, n in answer.counts().items()))
        for basis, n in answer.counts().items():
            chosen = [a for a in answer.accesses if a.basis == basis]
            say("\n[bold]{}[/bold] ({}): {}", basis.capitalize(), n, _BASIS_MEANING.get(basis, ""))
            reasons = [a.reason or "" for a in chosen] if basis == "undetermined" else None
            out.print(_entries_table([a.entry for a in chosen], reasons=reasons))

    emit(answer.to_dict(), json_, render)


_BASIS_MEANING = {
    "returned": "rows of this person left the estate",
    "aggregate": "their rows changed an aggregate result; none of their values left",
    "named": "the entry names the person",
    "undetermined": "could not be decided; listed, never dropped",
}


def _records_for_key(estate: Estate, key: str) -> list[tuple[str, Any]]:
    """The (dataset, primary key) records linkage gave this person key; one clear line when there are none."""
    # Imported here: linkage is built in parallel, and only this option needs it.
    import joinedup.linkage as linkage

    find = getattr(linkage, "records_for_key", None)
    if find is None:
        raise InputError("linkage has not been run on this estate: it has no person keys to look up")
    records = [(str(dataset), pk) for dataset, pk in find(estate, key)]
    if not records:
        # The key itself stays out of the message, as identifiers do.
        raise NotFoundError("no such person key: linkage has no records under it")
    return records


@app.command("verify")
def verify_(
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="An exported checkpoint file to check the log against.", callback=input_file),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Recompute every hash and link, check every signed checkpoint; exit 4 naming the first bad seq.

    Example:
    joinedup audit verify
    joinedup audit verify --checkpoint /mnt/records/estate-2026-01-31.json
    """
    target = open_estate(estate)
    me = authorize(target, resolve_principal(target, as_, "audit.verify").name, "audit.verify")
    report = verify(target, checkpoint)
    # Verify takes the interval from the log, so a bad setting is mentioned, not obeyed, and stops nothing.
    setting = interval_problem(target)
    if setting is not None:
        report.notes.append(f"{setting}; verify used the interval the log records")
    try:
        # Its own entry goes in only when the log can be appended to; the report comes first either way.
        release(
            target, report, principal=me.name, action="audit.verify", follow_settings=setting is None,
            detail={"ok": report.ok, "last_seq": report.last_seq, "first_bad_seq": report.first_bad_seq},
        )  # fmt: skip
    except (TamperingError, sa.exc.DBAPIError) as exc:
        if report.ok:
            raise
        unrecorded = str(exc) if isinstance(exc, TamperingError) else type(exc).__name__
        report.problems.append(Problem(None, f"this verification could not be recorded in the log: {unrecorded}"))

    def render(_: Any) -> None:
        for note in report.notes:
            say("[yellow]Note[/yellow]: {}", note)
        if report.ok:
            against = f", and checkpoint file at seq {report.checkpoint_file.seq}" if report.checkpoint_file else ""
            say(
                "[green]Audit log verified[/green]: {:,} entries up to seq {}, {} signed checkpoints{} ({:.2f} s)",
                report.entries, report.last_seq, report.checkpoints, against, report.seconds,
            )  # fmt: skip
            return
        say("[red]Audit log FAILED verification[/red]: first bad seq {}", report.first_bad_seq)
        for problem in report.to_dict()["problems"]:
            say("  - {}", problem["message"])

    emit(report.to_dict(), json_, render)
    if not report.ok:
        raise TamperingError(f"audit log failed verification: {report.problem}")


@app.command("checkpoint")
def checkpoint_(
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Also write it to this file: keep that somewhere you cannot rewrite.",
            callback=output_file,
        ),
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Sign a checkpoint at the newest entry (and export it with the public key).

    Example:
    joinedup audit checkpoint --export /mnt/records/estate-2026-01-31.json
    """
    target = open_estate(estate)
    me = authorize(target, resolve_principal(target, as_, "audit.checkpoint").name, "audit.checkpoint")
    made = export_checkpoint(target, export) if export else sign_now(target)
    release(
        target,
        made,
        principal=me.name,
        action="audit.checkpoint",
        detail={"seq": made.seq, "exported": export is not None},
    )
    data = {**made.to_dict(), "file": str(export) if export else None}
    emit(
        data,
        json_,
        lambda _: say("Checkpoint signed at seq {}{}", made.seq, f", written to {export}" if export else ""),
    )


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since {text!r}: expected an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T09:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entries_table(entries: list[AuditEntry], basis: list[str] | None = None, reasons: list[str] | None = None) -> Any:
    columns = ["seq", "at (UTC)", "principal", "action", "dataset", "rows", "purpose"]
    rows = [
        [
            e.seq, e.at[:19].replace("T", " "), e.principal, e.action,
            (
                f"{e.dataset} v{e.dataset_version}"
                if e.dataset and e.dataset_version
                else (e.dataset or ", ".join(n for n, _ in e.scopes()))
            ),
            e.row_count, e.purpose,
        ]
        for e in entries
    ]  # fmt: skip
    if basis is not None:
        columns.append("basis")
        for row, why in zip(rows, basis, strict=True):
            row.append(why)
    if reasons is not None:
        columns.append("why undetermined")
        for row, why in zip(rows, reasons, strict=True):
            row.append(why)
    return table(columns, rows)
