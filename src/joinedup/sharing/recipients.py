"""Who data went to (for erasure's Art. 19 notices), and which datasets are open.

A party received a dataset's data under an agreement when one of the
agreement's clients read it through the API (a ``sharing.read`` entry in the
audit log names the client's principal and the dataset) or an extract of it was
made (``sharing_extracts``, or a ``sharing.export`` entry: an extract that died
while writing its files let data out all the same).

A dataset is *open* when it has at least one open data release
(``joinedup publish``) and its catalogue record's access rights are ``OPEN``
(the default): the publish capability's own notion of open data. Only its
catalogue metadata is open; its records are still shared only under agreements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from joinedup.audit.models import AuditEntryRow
from joinedup.estate import Estate
from joinedup.sharing.agreements import list_agreements
from joinedup.sharing.models import ClientRow, ExtractRow
from joinedup.sharing.records import EXPORT_ACTION, READ_ACTION


@dataclass(frozen=True)
class Recipient:
    party: str
    role: str
    agreement_id: str
    datasets: tuple[str, ...]
    #: ``api``, ``extract`` or both.
    via: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "role": self.role,
            "agreement": self.agreement_id,
            "datasets": list(self.datasets),
            "via": list(self.via),
        }


def recipients_for(estate: Estate, datasets: Iterable[str]) -> list[Recipient]:
    """The receiving parties of every agreement under which any of ``datasets`` actually went out."""
    wanted = set(datasets)
    found: list[Recipient] = []
    for agreement in list_agreements(estate):
        shared = {d.name for d in agreement.datasets} & wanted
        if not shared:
            continue
        went: dict[str, set[str]] = {}
        with estate.session() as session:
            principals = session.scalars(
                sa.select(ClientRow.principal).where(ClientRow.agreement_id == agreement.id)
            ).all()
            if principals:
                read = session.scalars(
                    sa.select(AuditEntryRow.dataset)
                    .where(
                        AuditEntryRow.action == READ_ACTION,
                        AuditEntryRow.principal.in_(principals),
                        AuditEntryRow.dataset.in_(sorted(shared)),
                        AuditEntryRow.row_count > 0,
                    )
                    .distinct()
                ).all()
                for name in read:
                    went.setdefault(str(name), set()).add("api")
            for extracted in session.scalars(
                sa.select(ExtractRow.datasets).where(ExtractRow.agreement_id == agreement.id)
            ).all():
                for name in set(extracted) & shared:
                    went.setdefault(name, set()).add("extract")
            # An extract's entries are committed before its first file, its row only after its last: an extract
            # that died in between let data out all the same.
            exported = session.execute(
                sa.select(AuditEntryRow.dataset, AuditEntryRow.detail).where(
                    AuditEntryRow.action == EXPORT_ACTION,
                    AuditEntryRow.dataset.in_(sorted(shared)),
                    AuditEntryRow.row_count > 0,
                )
            ).all()
            for name, detail in exported:
                if _agreement_of(detail) == agreement.id:
                    went.setdefault(str(name), set()).add("extract")
        if not went:
            continue
        via = tuple(sorted(set().union(*went.values())))
        for party in agreement.parties:
            if party.receives:
                found.append(Recipient(party.name, party.role, agreement.id, tuple(sorted(went)), via))
    return found


def _agreement_of(detail: str) -> str | None:
    try:
        found = json.loads(detail)
    except ValueError:
        return None
    return str(found.get("agreement")) if isinstance(found, dict) else None


_releases = sa.table("publish_releases", sa.column("dataset", sa.String))
_metadata = sa.table("dataset_metadata", sa.column("dataset", sa.String), sa.column("fields", sa.JSON))


def open_datasets(estate: Estate) -> list[str]:
    """Datasets with an open data release whose catalogue record says access rights ``OPEN``."""
    with estate.session() as session:
        released = set(session.scalars(sa.select(_releases.c.dataset).distinct()).all())
        rights = {
            str(name): (fields or {}).get("access_rights", "OPEN")
            for name, fields in session.execute(sa.select(_metadata.c.dataset, _metadata.c.fields)).all()
        }
    return sorted(d for d in released if rights.get(d, "OPEN") == "OPEN")
