"""Roles and what each may do, as a table: action → the roles allowed, estate-wide or per dataset.

``authorize`` reads this table and nothing else, so the rules can be read (and
reviewed by a DPO) here in one place, and docs/audit.md lists the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN, STEWARD, ANALYST, DPO, AUDITOR = "admin", "steward", "analyst", "dpo", "auditor"
ROLES = (ADMIN, STEWARD, ANALYST, DPO, AUDITOR)
#: Roles that always cover the whole estate; stewards and analysts are granted datasets.
ESTATE_WIDE_ROLES = frozenset({ADMIN, DPO, AUDITOR})


@dataclass(frozen=True)
class Permission:
    action: str
    #: What the action does, for refusal lines: "<verb> <joiner> '<dataset>'".
    verb: str
    joiner: str
    #: Roles allowed whatever the dataset.
    anywhere: tuple[str, ...]
    #: Roles allowed only on datasets their grant covers.
    scoped: tuple[str, ...] = ()
    #: Roles that must state a purpose (purpose limitation, UK GDPR Art. 5(1)(b)).
    purpose_required: tuple[str, ...] = ()

    def doing(self, dataset: str | None) -> str:
        if dataset is None:
            return self.verb
        return f"{self.verb} {self.joiner} {dataset!r}".replace("  ", " ")

    def needs(self, dataset: str | None) -> str:
        options = list(self.anywhere)
        if self.scoped:
            scoped = " or ".join(self.scoped)
            options.append(f"{scoped} of {dataset!r}" if dataset else scoped)
        return " or ".join(options)


def _read(action: str, verb: str, joiner: str) -> Permission:
    """Reading personal data: admins anywhere, stewards and analysts where granted; analysts say why."""
    return Permission(action, verb, joiner, (ADMIN,), scoped=(STEWARD, ANALYST), purpose_required=(ANALYST,))


_AUDIT = (DPO, AUDITOR, ADMIN)

PERMISSIONS: dict[str, Permission] = {
    p.action: p
    for p in (
        Permission("principal.manage", "manage principals and roles", "", (ADMIN,)),
        Permission("dataset.ingest", "load data", "into", (ADMIN,), scoped=(STEWARD,)),
        Permission("dataset.schema", "change the schema", "of", (ADMIN,), scoped=(STEWARD,)),
        # A schema holds no personal data (inference proposes no enums from personal columns).
        Permission("schema.read", "read the schema", "of", (ADMIN, DPO, AUDITOR), scoped=(STEWARD, ANALYST)),
        _read("data.query", "query", ""),
        _read("data.export", "export data", "from"),
        _read("quarantine.read", "read the quarantine", "of"),
        _read("quarantine.export", "export the quarantine", "of"),
        Permission("data.erase", "erase data", "in", (DPO, ADMIN)),
        Permission("data.retention", "apply retention", "to", (DPO, ADMIN)),
        Permission("audit.read", "read the audit log", "", _AUDIT),
        Permission("audit.who_accessed", "ask who accessed a person's data", "", _AUDIT),
        Permission("audit.verify", "verify the audit log", "", _AUDIT),
        Permission("audit.checkpoint", "sign or export audit checkpoints", "", _AUDIT),
        # -- quality (issue 17) --
        Permission("quality.measure", "measure the quality", "of", (ADMIN,), scoped=(STEWARD,)),
        Permission("quality.rules", "change the quality rules", "of", (ADMIN,), scoped=(STEWARD,)),
        # Results name failing rows by their surrogate keys: a read that can lead to personal data.
        Permission("quality.read", "read the quality results", "of", (ADMIN, DPO), scoped=(STEWARD, ANALYST)),
        Permission("quality.issues", "update the quality issue log", "of", (ADMIN,), scoped=(STEWARD,)),
        # -- linkage (issue 18) --
        _read("linkage.run", "link records", "of"),
        _read("linkage.read", "read linkage results", "of"),
        Permission("linkage.review", "decide review pairs", "of", (ADMIN,), scoped=(STEWARD,)),
        # -- lifecycle and individual rights (issue 19) --
        Permission("request.manage", "manage individual rights requests", "", (DPO, ADMIN)),
        Permission("subject.find", "find a person's records", "", (DPO, ADMIN)),
        Permission("subject.export", "export a subject access pack", "", (DPO, ADMIN)),
        Permission("subject.rectify", "rectify a person's records", "", (DPO, ADMIN)),
        Permission("hold.manage", "manage legal holds", "on", (DPO, ADMIN)),
        # -- sharing and the API (issue 20) --
        Permission("agreement.manage", "record or revoke sharing agreements", "", (ADMIN, DPO)),
        # The public register is for everyone through the API; with who recorded it and the file's hash, for these.
        Permission("agreement.read", "read the sharing agreements", "", (ADMIN, DPO, AUDITOR)),
        Permission("client.manage", "manage partner clients", "", (ADMIN, DPO)),
        Permission("objection.manage", "manage the objections register", "", (ADMIN, DPO)),
        Permission("sharing.export", "extract data under a sharing agreement", "", (ADMIN, DPO)),
        # The API gives out only what agreements (dpo, admin) allow to clients (dpo, admin) and open data: serving it
        # is sharing.export over HTTP, for the same roles. Stewards and analysts share nothing with partners.
        Permission("api.serve", "serve the API over the estate", "", (ADMIN, DPO)),
        # -- publishing and discovery (issue 23) --
        Permission("data.publish", "publish open data", "from", (ADMIN,), scoped=(STEWARD,)),
        Permission("catalogue.describe", "change the catalogue record", "of", (ADMIN,), scoped=(STEWARD,)),
        # Catalogue records hold no personal data, but an OFFICIAL-SENSITIVE dataset's existence is not for everyone.
        Permission(
            "catalogue.read", "read the catalogue record", "of", (ADMIN, DPO, AUDITOR), scoped=(STEWARD, ANALYST)
        ),
        Permission("catalogue.import", "import another body's catalogue", "", (ADMIN, STEWARD)),
        Permission("estate.export_all", "export the whole estate", "", (ADMIN,)),
    )
}
