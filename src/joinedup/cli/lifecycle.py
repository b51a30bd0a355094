"""``joinedup request``, ``subject``, ``hold`` and ``retention``: individual rights and lifecycle (dpo, admin)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from joinedup.access import resolve_principal
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    DatasetOption,
    EstateOption,
    JsonOption,
    choices,
    chosen,
    emit,
    open_estate,
    out,
    output_file,
    say,
    table,
)
from joinedup.errors import InputError
from joinedup.lifecycle import erasure, export, find, holds, labels, rectify, requests, retention

request_app = typer.Typer(help="The register of access, erasure and rectification requests.", no_args_is_help=True)
subject_app = typer.Typer(help="Find, export, rectify and erase one person's data.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: data neither retention nor erasure may touch.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention rules per dataset, applied on demand.", no_args_is_help=True)
RetentionAction = choices("RetentionAction", retention.ACTIONS)

RequestKind = choices("RequestKind", requests.KINDS)
RequestStatus = choices("RequestStatus", ("open", "closed", "erased"))
RequestArgument = Annotated[str, typer.Argument(help="The request, e.g. R12.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
    app.add_typer(subject_app, name="subject")
    app.add_typer(hold_app, name="hold")
    app.add_typer(retention_app, name="retention")


def _me(estate: Any, as_: str | None, action: str) -> str:
    return resolve_principal(estate, as_, action).name


def _received(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--received {text!r}: expected an ISO 8601 date, e.g. 2026-01-31") from None


def _show_requests(found: list[requests.RequestInfo]) -> None:
    if not found:
        say("No requests.")
        return
    rows = [
        [r.label, r.kind, r.status, r.received, r.due, r.days_left() if r.status == "open" else "",
         "OVERDUE" if r.overdue() else "", r.extension_months or ""]
        for r in found
    ]  # fmt: skip
    out.print(table(["request", "kind", "status", "received", "due", "days left", "", "extended"], rows))


@request_app.command("open")
def request_open(
    kind: Annotated[RequestKind, typer.Argument(help="What the person asks for.", show_default=False)],  # type: ignore[valid-type]
    received: Annotated[str, typer.Option("--received", help="The day the request arrived (ISO 8601).")],
    nhs_number: Annotated[str | None, typer.Option("--nhs-number", help="The person's NHS number.")] = None,
    ni_number: Annotated[str | None, typer.Option("--ni-number", help="Their National Insurance number.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Their name (for the scored search).")] = None,
    dob: Annotated[str | None, typer.Option("--dob", help="Their date of birth (ISO 8601).")] = None,
    postcode: Annotated[str | None, typer.Option("--postcode", help="Their postcode.")] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Record a request and its statutory deadline: one calendar month from receipt.

    The identifiers are kept as keyed hashes, and sealed under a key of the
    request's own until it is answered.

    Example:
    joinedup request open erasure --nhs-number 9434765919 --received 2026-01-31
    joinedup request open access --ni-number AB123456C --received 2026-03-01
    """
    target = open_estate(estate)
    details = requests.identifiers(nhs_number, ni_number, name, dob, postcode)
    found = requests.open_request(
        target, _me(target, as_, requests.MANAGE), str(chosen(kind)), _received(received), details
    )
    emit(found.to_dict(), json_, lambda _: say("Opened {} ({}): due {}.", found.label, found.kind, found.due))


@request_app.command("list")
def request_list(
    status: Annotated[RequestStatus | None, typer.Option("--status", help="Only requests in this state.")] = None,  # type: ignore[valid-type]
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List requests with their deadlines: overdue first, then by due date.

    Example:
    joinedup request list
    joinedup request list --status open --json
    """
    target = open_estate(estate)
    found = requests.list_requests(target, _me(target, as_, requests.MANAGE), status=chosen(status))
    emit([r.to_dict() for r in found], json_, lambda _: _show_requests(found))


@request_app.command("extend")
def request_extend(
    request: RequestArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it needs longer (complex, or many requests).")],
    months: Annotated[int, typer.Option("--months", min=1, max=2, help="Further months (two at most in all).")] = 2,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Extend a request's deadline by up to two further months, recording why.

    Example:
    joinedup request extend R12 --months 2 --reason "complex: 14 systems"
    """
    target = open_estate(estate)
    found = requests.extend_request(
        target, _me(target, as_, requests.MANAGE), requests.parse_request_id(request), months, reason
    )
    emit(found.to_dict(), json_, lambda _: say("{} now due {}.", found.label, found.due))


@request_app.command("close")
def request_close(
    request: RequestArgument,
    outcome: Annotated[str, typer.Option("--outcome", help="How it was answered (or why refused).")],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Close a request with its outcome.

    Example:
    joinedup request close R12 --outcome "pack sent by secure email"
    """
    target = open_estate(estate)
    found = requests.close_request(
        target, _me(target, as_, requests.MANAGE), requests.parse_request_id(request), outcome
    )
    emit(found.to_dict(), json_, lambda _: say("Closed {}.", found.label))


def _show_matches(found: list[find.Match]) -> None:
    if not found:
        say("The person was not found in any dataset.")
        return
    rows = [[m.dataset, m.part, m.row, m.basis, f"{m.score:.2f}", m.status] for m in found]
    out.print(table(["dataset", "part", "row", "found by", "score", "status"], rows))
    pending = sum(m.status == "candidate" for m in found)
    if pending:
        say("{} possible match(es): check each, then `joinedup subject confirm` or `subject reject`.", pending)


@subject_app.command("find")
def subject_find(
    request: RequestArgument,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Find the request's person in every dataset, every version and quarantine.

    Rows with the person's NHS or National Insurance number are confirmed; rows
    whose name, date of birth and postcode are alike are listed with a score
    for you to confirm or reject. Rows are shown by their row key, not values.

    Example:
    joinedup subject find R12
    joinedup subject find R12 --json
    """
    target = open_estate(estate)
    found = find.find_subject(target, _me(target, as_, "subject.find"), requests.parse_request_id(request))
    emit([m.to_dict() for m in found], json_, lambda _: _show_matches(found))


RowOption = Annotated[str, typer.Option("--row", help="The row key as `subject find` lists it (INGEST:ROW).")]
QuarantineFlag = Annotated[bool, typer.Option("--quarantine", help="The row is in the dataset's quarantine.")]


def _decide(
    request: str, dataset: str | None, row: str, quarantine: bool, estate: Any, as_: str | None, json_: bool,
    confirm: bool,
) -> None:  # fmt: skip
    if dataset is None:
        raise typer.BadParameter("name the dataset, e.g. --dataset people", param_hint="'--dataset'")
    target = open_estate(estate)
    match = find.decide(
        target, _me(target, as_, "subject.find"), requests.parse_request_id(request), dataset,
        labels.parse_row(row), confirm=confirm, part="quarantine" if quarantine else "table",
    )  # fmt: skip
    emit(match.to_dict(), json_, lambda _: say("{} {} in {}: {}.", match.part, match.row, match.dataset, match.status))


@subject_app.command("confirm")
def subject_confirm(
    request: RequestArgument,
    row: RowOption,
    dataset: DatasetOption = None,
    quarantine: QuarantineFlag = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Confirm that a row `subject find` proposed is the request's person.

    Example:
    joinedup subject confirm R12 --dataset people --row 1:42
    """
    _decide(request, dataset, row, quarantine, estate, as_, json_, confirm=True)


@subject_app.command("reject")
def subject_reject(
    request: RequestArgument,
    row: RowOption,
    dataset: DatasetOption = None,
    quarantine: QuarantineFlag = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Reject a row `subject find` proposed: it is someone else.

    Example:
    joinedup subject reject R12 --dataset people --row 1:43
    """
    _decide(request, dataset, row, quarantine, estate, as_, json_, confirm=False)


@subject_app.command("export")
def subject_export(
    request: RequestArgument,
    out_: Annotated[
        Path, typer.Option("--out", help="The zip file to write.", callback=output_file, show_default=False)
    ],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Write the subject access pack: every confirmed record, each dataset's purpose and retention, who accessed it.

    JSON and CSV with a readable HTML summary, in one zip. "Who accessed"
    is the same answer as `joinedup audit who-accessed`.

    Example:
    joinedup subject export R12 --out r12-pack.zip
    """
    target = open_estate(estate)
    found = export.export_pack(target, _me(target, as_, export.ACTION), requests.parse_request_id(request), out_)
    emit(found, json_, lambda _: say("Wrote {} ({} records, {} recorded accesses).", out_, found["records"],
                                     found["accesses"]))  # fmt: skip


@subject_app.command("rectify")
def subject_rectify(
    request: RequestArgument,
    set_: Annotated[list[str], typer.Option("--set", help="A correction, COLUMN=VALUE (repeat for more).")],
    dataset: DatasetOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Correct the person's confirmed rows: a new version, validated by the schema like any ingest.

    Needs the right to load the dataset too (admin, or its steward). The audit
    entry names the columns changed, never the values.

    Example:
    joinedup subject rectify R12 -d people --set postcode="LS1 4AP"
    """
    if dataset is None:
        raise typer.BadParameter("name the dataset, e.g. --dataset people", param_hint="'--dataset'")
    target = open_estate(estate)
    changes = rectify.parse_changes(set_)
    me = _me(target, as_, rectify.ACTION)
    found = rectify.rectify(target, me, requests.parse_request_id(request), dataset, changes)
    emit(found, json_, lambda _: say("{}: {} row(s) corrected in new version {}.", dataset, found["rows_updated"],
                                     found["version"]))  # fmt: skip


@subject_app.command("erase")
def subject_erase(
    request: Annotated[list[str], typer.Argument(help="The erasure request(s); several share one run.")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve and run (a second dpo or admin).")] = False,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Erase the person from every dataset, version and quarantine, purge the files, verify every byte, certify.

    Four eyes: one dpo or admin proposes (without --approve), a different one
    approves (with --approve), which runs the erasure. A legal hold refuses it.
    An erasure that was interrupted is finished by running --approve again.

    Example:
    joinedup subject erase R12
    joinedup subject erase R12 --approve --as dan
    joinedup subject erase R12 R13 R14 --approve --json
    """
    target = open_estate(estate)
    ids = [requests.parse_request_id(r) for r in request]
    me = _me(target, as_, erasure.ACTION)
    result = erasure.approve(target, me, ids) if approve else erasure.propose(target, me, ids)
    emit(result, json_, lambda _: _show_erasure(result))


def _show_erasure(result: dict[str, Any]) -> None:
    if result["status"] == "proposed":
        say(
            "Erasure {} of {} proposed by {}: a different dpo or admin approves it with "
            "`joinedup subject erase {} --approve`.",
            result["erasure"], " ".join(result["requests"]), result["proposed_by"], " ".join(result["requests"]),
        )  # fmt: skip
        return
    certificate = result["certificate"] or {}
    for removed in certificate.get("removed", []):
        say(
            "{}: {} row(s) and {} quarantined row(s) removed (new version {}).",
            removed["dataset"], removed["table_rows"], removed["quarantine_rows"], removed["version"],
        )  # fmt: skip
    verification = certificate.get("verification", {})
    say(
        "Verified: {} files ({} bytes) read, none holds the person's values. Certificate {}.",
        verification.get("files_read"), verification.get("bytes_read"), result["erasure"],
    )  # fmt: skip
    recipients = certificate.get("notify", {}).get("recipients", [])
    say("Recipients to notify: {}.", ", ".join(map(str, recipients)) if recipients else "none recorded")


@subject_app.command("certificate")
def subject_certificate(
    request: RequestArgument,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the erasure certificate of a request: what was removed where, the verification, whom to tell.

    Example:
    joinedup subject certificate R12 --json
    """
    target = open_estate(estate)
    found = erasure.certificate(target, _me(target, as_, erasure.ACTION), requests.parse_request_id(request))
    emit(
        found, json_, lambda _: _show_erasure({"status": "done", "erasure": found["certificate"], "certificate": found})
    )


@hold_app.command("add")
def hold_add(
    reason: Annotated[str, typer.Option("--reason", help="Why the data must be kept.")],
    dataset: DatasetOption = None,
    nhs_number: Annotated[str | None, typer.Option("--nhs-number", help="Hold only this person's rows.")] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Put a dataset, or one person in it, under legal hold: no retention or erasure touches it.

    Example:
    joinedup hold add --dataset people --reason "Smith v Council litigation"
    joinedup hold add -d people --nhs-number 9434765919 --reason "inquiry"
    """
    if dataset is None:
        raise typer.BadParameter("name the dataset, e.g. --dataset people", param_hint="'--dataset'")
    target = open_estate(estate)
    found = holds.add_hold(target, _me(target, as_, "hold.manage"), dataset, reason, nhs_number)
    emit(found.to_dict(), json_, lambda _: say("Hold H{} on {}.", found.id, found.dataset))


@hold_app.command("list")
def hold_list(
    dataset: DatasetOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List legal holds in force.

    Example:
    joinedup hold list
    joinedup hold list --dataset people --json
    """
    target = open_estate(estate)
    found = holds.list_holds(target, _me(target, as_, "hold.manage"), dataset)
    rows = [[f"H{h.id}", h.dataset, "one person" if h.person else "whole dataset", h.reason, h.added_by] for h in found]
    emit(
        [h.to_dict() for h in found], json_,
        lambda _: out.print(table(["hold", "dataset", "scope", "reason", "by"], rows)) if rows else say("No holds."),
    )  # fmt: skip


@hold_app.command("remove")
def hold_remove(
    hold: Annotated[str, typer.Argument(help="The hold, e.g. H3.", show_default=False)],
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Lift a legal hold: retention and erasure may touch that data again.

    Example:
    joinedup hold remove H3
    """
    target = open_estate(estate)
    found = holds.remove_hold(target, _me(target, as_, "hold.manage"), holds.parse_hold_id(hold))
    emit(found.to_dict(), json_, lambda _: say("Lifted hold H{} on {}.", found.id, found.dataset))


@retention_app.command("set")
def retention_set(
    period: Annotated[str, typer.Option("--period", help="ISO 8601 period: P6Y, P18M, P90D.")],
    from_: Annotated[str, typer.Option("--from", help="A date column, or `ingest` (when the row was loaded).")],
    action: Annotated[RetentionAction, typer.Option("--action", help="What happens past the date.")],  # type: ignore[valid-type]
    dataset: DatasetOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Set a dataset's retention rule: how long rows are kept, from when, and what happens then.

    Example:
    joinedup retention set -d visits --period P6Y --from seen_on --action delete
    joinedup retention set -d people --period P2Y --from ingest --action archive
    """
    if dataset is None:
        raise typer.BadParameter("name the dataset, e.g. --dataset people", param_hint="'--dataset'")
    target = open_estate(estate)
    rule = retention.set_rule(target, _me(target, as_, retention.ACTION), dataset, period, from_, str(chosen(action)))
    emit(rule.to_dict(), json_, lambda _: say("{}: keep {} from {}, then {}.", rule.dataset, rule.period,
                                              rule.from_, rule.action))  # fmt: skip


@retention_app.command("list")
def retention_list(
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the retention rules of every dataset.

    Example:
    joinedup retention list --json
    """
    target = open_estate(estate)
    rules = retention.list_rules(target, _me(target, as_, retention.ACTION))
    rows = [[r.dataset, r.period, r.from_, r.action] for r in rules]
    columns = ["dataset", "period", "from", "action"]
    emit([r.to_dict() for r in rules], json_, lambda _: out.print(table(columns, rows)) if rows else say("No rules."))


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    folder: Annotated[
        Path | None, typer.Option("--archive", help="The archive estate rows to archive go to.", show_default=False)
    ] = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove (or archive) every row past its retention date; rows under a legal hold stay.

    Each dataset changed gets a new version; old files still holding such rows
    are deleted, and the versions that needed them are marked purged.

    Example:
    joinedup retention run --dry-run
    joinedup retention run --archive /srv/archive-estate --json
    """
    target = open_estate(estate)
    found = retention.run(target, _me(target, as_, retention.ACTION), dry_run=dry_run, archive=folder)
    rows = [[r["dataset"], r["cutoff"], r["rows"], r["status"]] for r in found]
    emit(found, json_, lambda _: out.print(table(["dataset", "before", "rows", "outcome"], rows)) if rows
         else say("No retention rules set."))  # fmt: skip
