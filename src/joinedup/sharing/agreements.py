"""Data-sharing agreements: what the ICO data sharing code asks a body to record, checked strictly.

An agreement is written as YAML (docs/sharing.md has the full reference and an
example) and recorded with :func:`add_agreement`. Every refusal is one line
naming the file and the field. Row filters are a closed form (field, operator,
value) compiled to parameterised DuckDB SQL: nothing from the file is ever
pasted into SQL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
import yaml

from joinedup.access import authorize
from joinedup.audit import contains_identifier, record
from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.schema.model import SPECIAL_CATEGORIES
from joinedup.sharing import keys
from joinedup.sharing.errors import AgreementNotLive, NotFound
from joinedup.sharing.models import AgreementRow
from joinedup.sharing.names import snake
from joinedup.storage.duck import quote_identifier

#: Purpose categories an agreement declares and an objection names (docs/sharing.md explains each).
PURPOSES = ("service_delivery", "fraud_and_debt", "research", "statistics", "planning")
PARTY_ROLES = ("controller", "joint_controller", "processor")
#: UK GDPR Art. 6(1)(a)-(f).
ARTICLE_6 = ("consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests")
#: UK GDPR Art. 9(2)(a)-(j).
ARTICLE_9 = (
    "explicit_consent", "employment_social_security", "vital_interests", "not_for_profit_body", "made_public",
    "legal_claims", "substantial_public_interest", "health_or_social_care", "public_health",
    "archiving_research_statistics",
)  # fmt: skip
#: Row filter operators and the SQL each compiles to (``{c}`` the column, ``{p}`` the parameter).
OPERATORS: dict[str, str] = {
    "eq": "{c} = {p}",
    "ne": "{c} <> {p}",
    "lt": "{c} < {p}",
    "le": "{c} <= {p}",
    "gt": "{c} > {p}",
    "ge": "{c} >= {p}",
    "in": "{c} IN (SELECT unnest({p}))",
    "not_in": "{c} NOT IN (SELECT unnest({p}))",
    "starts_with": "starts_with(CAST({c} AS VARCHAR), {p})",
    "is_null": "{c} IS NULL",
    "not_null": "{c} IS NOT NULL",
}
_NO_VALUE = frozenset({"is_null", "not_null"})
_LIST_VALUE = frozenset({"in", "not_in"})
AGREEMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_CRIMINAL = "criminal_offence"
_PERSON_IDENTIFIER_TYPES = ("nhs_number", "ni_number")
_PUBLISHED = "the register of agreements is public (GET /v1/agreements): name no one in it"

_TOP = {
    "id": True, "title": True, "parties": True, "purpose": True, "purpose_category": True, "legal_gateway": True,
    "lawful_basis": True, "datasets": True, "recipient_retention": True, "security": True, "start": True,
    "end": True, "review": True, "dpia": True,
}  # fmt: skip
_PARTY = {"name": True, "role": True, "receives": False}
_GATEWAY = {"name": True, "objective": True}
_BASIS = {"article_6": False, "article_9": False, "article_10": False}
_DATASET = {"name": True, "fields": True, "pseudonymised": False, "rows": False}
_ROW = {"field": True, "op": True, "value": False}
_RETENTION = {"period": True, "deletion": True}


@dataclass(frozen=True)
class Party:
    name: str
    role: str
    #: Whether the party receives the data (a recipient, as erasure must tell).
    receives: bool


@dataclass(frozen=True)
class RowFilter:
    field: str
    op: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"field": self.field, "op": self.op}
        if self.op not in _NO_VALUE:
            found["value"] = self.value
        return found


@dataclass(frozen=True)
class DatasetTerms:
    name: str
    fields: tuple[str, ...]
    pseudonymised: tuple[str, ...] = ()
    rows: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fields": list(self.fields),
            "pseudonymised": list(self.pseudonymised),
            "rows": [r.to_dict() for r in self.rows],
        }

    def filter_sql(self, prefix: str = "rf") -> tuple[str, dict[str, Any]]:
        """The row filters as one parameterised SQL condition (``TRUE`` with none)."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        for index, row in enumerate(self.rows):
            name = f"{prefix}{index}"
            parts.append(OPERATORS[row.op].format(c=quote_identifier(row.field), p=f"${name}"))
            if row.op not in _NO_VALUE:
                params[name] = row.value
        return (" AND ".join(f"({p})" for p in parts) or "TRUE"), params


@dataclass(frozen=True)
class Agreement:
    id: str
    title: str
    parties: tuple[Party, ...]
    purpose: str
    purpose_category: str
    gateway_name: str
    gateway_objective: str
    article_6: str | None
    article_9: str | None
    article_10: str | None
    datasets: tuple[DatasetTerms, ...]
    retention_period: str
    retention_deletion: str
    security: tuple[str, ...]
    start: date
    end: date
    review: date
    dpia: str
    created_at: datetime | None = None
    created_by: str | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    source_sha256: str | None = field(default=None, repr=False)

    def terms(self, dataset: str) -> DatasetTerms | None:
        return next((d for d in self.datasets if d.name == dataset), None)

    def status(self, at: datetime | None = None) -> str:
        """``live``, ``revoked``, ``expired`` or ``not started`` at ``at`` (default now)."""
        day = (at or now()).astimezone(UTC).date()
        if self.revoked_at is not None and (at is None or self.revoked_at <= at):
            return "revoked"
        if day < self.start:
            return "not started"
        if day > self.end:
            return "expired"
        return "live"

    @property
    def audit_purpose(self) -> str:
        """What an audit entry of a read under this agreement names as its purpose."""
        return f"agreement {self.id}: {self.purpose}"

    def definition(self) -> dict[str, Any]:
        """The agreement as plain JSON (what the catalogue keeps)."""
        return {
            "id": self.id,
            "title": self.title,
            "parties": [{"name": p.name, "role": p.role, "receives": p.receives} for p in self.parties],
            "purpose": self.purpose,
            "purpose_category": self.purpose_category,
            "legal_gateway": {"name": self.gateway_name, "objective": self.gateway_objective},
            "lawful_basis": {"article_6": self.article_6, "article_9": self.article_9, "article_10": self.article_10},
            "datasets": [d.to_dict() for d in self.datasets],
            "recipient_retention": {"period": self.retention_period, "deletion": self.retention_deletion},
            "security": list(self.security),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "review": self.review.isoformat(),
            "dpia": self.dpia,
        }

    def to_public_dict(self, at: datetime | None = None) -> dict[str, Any]:
        """The register entry: everything agreed, its status; no key, secret or client."""
        found = self.definition()
        found["status"] = self.status(at)
        # A live agreement past its review date is still in force; the register says the review is due.
        found["review_due"] = found["status"] == "live" and (at or now()).astimezone(UTC).date() >= self.review
        found["revoked_at"] = _iso(self.revoked_at)
        found["revoked_reason"] = self.revoked_reason
        found["recorded_at"] = _iso(self.created_at)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_public_dict(), "recorded_by": self.created_by, "source_sha256": self.source_sha256}

    @classmethod
    def from_row(cls, row: AgreementRow) -> Agreement:
        # As recorded: checks added since must not make an agreement already recorded unreadable.
        parsed = _Reader(f"agreement {row.id}", None, fresh=False).agreement(row.definition)
        return _with(
            parsed,
            created_at=row.created_at,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
            revoked_reason=row.revoked_reason,
            source_sha256=row.source_sha256,
        )


def _with(agreement: Agreement, **changes: Any) -> Agreement:
    from dataclasses import replace

    return replace(agreement, **changes)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading and checking -----------------------------------------------------


def parse_agreement(estate: Estate | None, text: str, source: str = "agreement") -> Agreement:
    """The agreement in YAML ``text``, checked (against the estate's catalogue when given); one-line errors."""
    data = _load_yaml(text, source)
    return _Reader(source, Catalogue(estate) if estate is not None else None).agreement(data)


def _load_yaml(text: str, source: str) -> Any:
    """Safe YAML, refusing what a reviewer of the file would misread: a key given twice (YAML keeps the last),
    a date the calendar lacks; nesting too deep to be an agreement is one line too, not a crash."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, "", source, loader, set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}: not valid YAML{where}") from None
    except RecursionError:
        raise InputError(f"{source}: not valid as an agreement: nested too deeply") from None
    finally:
        loader.dispose()


_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _check_nodes(node: yaml.Node, where: str, source: str, loader: yaml.SafeLoader, seen: set[int]) -> None:
    # An alias is the same node again: walk it once (a "billion laughs" file must not take forever).
    if id(node) in seen:
        return
    seen.add(id(node))
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        names: set[str] = set()
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            path = f"{where}.{name}" if where else name
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if name in names:
                    raise InputError(f"{source}: {path}: given twice (line {key.start_mark.line + 1}); give it once")
                names.add(name)
            _check_nodes(value, path, source, loader, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_nodes(item, f"{where}[{index}]", source, loader, seen)
    elif isinstance(node, yaml.ScalarNode) and node.tag == _TIMESTAMP:
        try:
            loader.construct_yaml_timestamp(node)
        except ValueError:
            raise InputError(
                f"{source}: {where or '(top)'}: {node.value!r} is not a real date or time (line {line})"
            ) from None


class _Reader:
    def __init__(self, source: str, catalogue: Catalogue | None, *, fresh: bool = True) -> None:
        self.source = source
        self.catalogue = catalogue
        #: A file being recorded (every check), not a definition read back from the catalogue.
        self.fresh = fresh

    def fail(self, where: str, message: str) -> InputError:
        return InputError(f"{self.source}: {where}: {message}")

    def mapping(self, data: Any, where: str, keys: Mapping[str, bool]) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(where or "(top)", "expected a mapping of keys to values")
        for key in data:
            if key not in keys:
                raise self.fail(f"{where}.{key}" if where else str(key), f"unknown key (expected: {', '.join(keys)})")
        for key, required in keys.items():
            if required and data.get(key) in (None, ""):
                raise self.fail(f"{where}.{key}" if where else key, "is required")
        return data

    def text(self, data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str | None:
        value = data.get(key)
        path = f"{where}.{key}" if where else key
        if value is None:
            if required:
                raise self.fail(path, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "expected text")
        if self.fresh and contains_identifier(value):
            raise self.fail(path, f"holds an NHS or National Insurance number; {_PUBLISHED}")
        return value.strip()

    def choice(
        self, data: Mapping[str, Any], key: str, where: str, options: Sequence[str], required: bool
    ) -> str | None:
        value = self.text(data, key, where, required)
        if value is not None and value not in options:
            path = f"{where}.{key}" if where else key
            raise self.fail(path, f"{value!r} is not one of: {', '.join(options)}")
        return value

    def day(self, data: Mapping[str, Any], key: str) -> date:
        value = data.get(key)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(key, "expected an ISO 8601 date, e.g. 2026-04-01")

    def agreement(self, data: Any) -> Agreement:
        top = self.mapping(data, "", _TOP)
        ident = self.text(top, "id", "")
        assert ident is not None
        if not AGREEMENT_ID.fullmatch(ident):
            raise self.fail("id", "expected letters, digits, '.', '_' or '-' (at most 63), e.g. DSA-2026-001")
        parties = self.parties(top.get("parties"))
        gateway = self.mapping(top.get("legal_gateway"), "legal_gateway", _GATEWAY)
        basis = self.mapping(top.get("lawful_basis") or {}, "lawful_basis", _BASIS)
        retention = self.mapping(top.get("recipient_retention"), "recipient_retention", _RETENTION)
        security = top.get("security")
        if (
            not isinstance(security, list)
            or not security
            or not all(isinstance(s, str) and s.strip() for s in security)
        ):
            raise self.fail("security", "expected a list of the security requirements the recipient meets")
        start, end, review = self.day(top, "start"), self.day(top, "end"), self.day(top, "review")
        if end < start:
            raise self.fail("end", f"{end.isoformat()} is before start {start.isoformat()}")
        if review < start:
            raise self.fail("review", f"{review.isoformat()} is before start {start.isoformat()}")
        found = Agreement(
            id=ident,
            title=str(self.text(top, "title", "")),
            parties=parties,
            purpose=str(self.text(top, "purpose", "")),
            purpose_category=str(self.choice(top, "purpose_category", "", PURPOSES, True)),
            gateway_name=str(self.text(gateway, "name", "legal_gateway")),
            gateway_objective=str(self.text(gateway, "objective", "legal_gateway")),
            article_6=self.choice(basis, "article_6", "lawful_basis", ARTICLE_6, False),
            article_9=self.choice(basis, "article_9", "lawful_basis", ARTICLE_9, False),
            article_10=self.text(basis, "article_10", "lawful_basis", False),
            datasets=self.datasets(top.get("datasets")),
            retention_period=str(self.text(retention, "period", "recipient_retention")),
            retention_deletion=str(self.text(retention, "deletion", "recipient_retention")),
            security=tuple(s.strip() for s in security),
            start=start,
            end=end,
            review=review,
            dpia=str(self.text(top, "dpia", "")),
        )
        if self.catalogue is not None:
            self.check_against_catalogue(found)
        return found

    def parties(self, data: Any) -> tuple[Party, ...]:
        if not isinstance(data, list) or len(data) < 2:
            raise self.fail("parties", "expected a list of at least two parties (who shares, who receives)")
        found = []
        for index, item in enumerate(data):
            where = f"parties[{index}]"
            party = self.mapping(item, where, _PARTY)
            receives = party.get("receives", False)
            if not isinstance(receives, bool):
                raise self.fail(f"{where}.receives", "expected true or false")
            role = self.choice(party, "role", where, PARTY_ROLES, True)
            found.append(Party(str(self.text(party, "name", where)), str(role), receives))
        if not any(p.receives for p in found):
            raise self.fail("parties", "no party receives the data; mark the recipient with `receives: true`")
        return tuple(found)

    def datasets(self, data: Any) -> tuple[DatasetTerms, ...]:
        if not isinstance(data, list) or not data:
            raise self.fail("datasets", "expected a list of the datasets shared and the fields allowed from each")
        found: list[DatasetTerms] = []
        for index, item in enumerate(data):
            where = f"datasets[{index}]"
            terms = self.mapping(item, where, _DATASET)
            name = str(self.text(terms, "name", where))
            if any(d.name == name for d in found):
                raise self.fail(f"{where}.name", f"dataset {name!r} is listed twice")
            fields = self.names(terms.get("fields"), f"{where}.fields", required=True)
            pseudonymised = self.names(terms.get("pseudonymised", []), f"{where}.pseudonymised", required=False)
            for extra in pseudonymised:
                if extra not in fields:
                    raise self.fail(f"{where}.pseudonymised", f"{extra!r} is not among the dataset's shared fields")
            rows = self.rows(terms.get("rows", []), f"{where}.rows")
            found.append(DatasetTerms(name, fields, pseudonymised, rows))
        return tuple(found)

    def names(self, data: Any, where: str, required: bool) -> tuple[str, ...]:
        if not isinstance(data, list) or (required and not data):
            raise self.fail(where, "expected a list of field names")
        if not all(isinstance(n, str) and n for n in data):
            raise self.fail(where, "expected a list of field names")
        if len(set(data)) != len(data):
            raise self.fail(where, "names a field twice")
        return tuple(data)

    def rows(self, data: Any, where: str) -> tuple[RowFilter, ...]:
        if not isinstance(data, list):
            raise self.fail(where, "expected a list of filters: {field, op, value}")
        found = []
        for index, item in enumerate(data):
            here = f"{where}[{index}]"
            row = self.mapping(item, here, _ROW)
            op = str(self.choice(row, "op", here, tuple(OPERATORS), True))
            value = row.get("value")
            if op in _NO_VALUE:
                if value is not None:
                    raise self.fail(f"{here}.value", f"operator {op} takes no value")
            elif op in _LIST_VALUE:
                if not isinstance(value, list) or not value or not all(_scalar(v) for v in value):
                    raise self.fail(f"{here}.value", f"operator {op} needs a list of values")
                value = [_plain(v) for v in value]
            elif not _scalar(value):
                raise self.fail(f"{here}.value", f"operator {op} needs one value (text, number, date or true/false)")
            else:
                value = _plain(value)
            texts = value if isinstance(value, list) else [value]
            if self.fresh and any(isinstance(v, str) and contains_identifier(v) for v in texts):
                # The register is published: people are left out through the objections register (keyed hashes).
                raise self.fail(
                    f"{here}.value",
                    "holds an NHS or National Insurance number; the register of agreements is public: "
                    "record the person's objection instead (`joinedup objection add`)",
                )
            found.append(RowFilter(str(self.text(row, "field", here)), op, value))
        return tuple(found)

    def check_against_catalogue(self, agreement: Agreement) -> None:
        assert self.catalogue is not None
        personal: list[str] = []
        for index, terms in enumerate(agreement.datasets):
            where = f"datasets[{index}]"
            info = self.catalogue.find(terms.name)
            if info is None or info.schema is None:
                raise self.fail(f"{where}.name", f"no dataset called {terms.name!r} in this estate")
            schema = {str(f["name"]): f for f in info.schema.get("fields", [])}
            called: dict[str, str] = {}
            for name in terms.fields:
                if name not in schema:
                    raise self.fail(f"{where}.fields", f"dataset {terms.name!r} has no field {name!r}")
                # One name in the API for one field: else one column would hide the other (say, a pseudonym).
                if snake(name) in called:
                    raise self.fail(
                        f"{where}.fields",
                        f"{called[snake(name)]!r} and {name!r} would both be called {snake(name)!r} in the API; "
                        "share one of them",
                    )
                called[snake(name)] = name
                spec = schema[name]
                category = spec.get("category")
                # An NHS or NI number is personal data whether or not the schema says so.
                if spec.get("personal") or category or spec.get("type") in _PERSON_IDENTIFIER_TYPES:
                    personal.append(f"{terms.name}.{name}")
                if category == _CRIMINAL and agreement.article_10 is None:
                    raise self.fail(
                        "lawful_basis.article_10",
                        f"{terms.name}.{name} is criminal offence data; give the Art. 10 condition "
                        "(DPA 2018 Schedule 1) it is shared under",
                    )
                if category in SPECIAL_CATEGORIES and category != _CRIMINAL and agreement.article_9 is None:
                    raise self.fail(
                        "lawful_basis.article_9",
                        f"{terms.name}.{name} is special category data ({category}); give an Art. 9 condition "
                        f"({', '.join(ARTICLE_9)})",
                    )
            for rindex, row in enumerate(terms.rows):
                if row.field not in schema:
                    raise self.fail(
                        f"{where}.rows[{rindex}].field", f"dataset {terms.name!r} has no field {row.field!r}"
                    )
            self.check_filters(terms, info.schema, where)
        if personal and agreement.article_6 is None:
            raise self.fail(
                "lawful_basis.article_6",
                f"{personal[0]} is personal data; give the Art. 6 lawful basis it is shared on",
            )

    def check_filters(self, terms: DatasetTerms, schema: dict[str, Any], where: str) -> None:
        """Bind the compiled filters over an empty table of the dataset's columns: a bad value fails here, now."""
        from joinedup.storage.delta import SYSTEM_COLUMNS

        columns = {str(f["name"]): _duck_type(f) for f in schema.get("fields", [])}
        columns.update(dict.fromkeys(SYSTEM_COLUMNS, "BIGINT"))
        definition = ", ".join(f"{quote_identifier(n)} {t}" for n, t in columns.items())
        for index, row in enumerate(terms.rows):
            self.check_value_kind(row, columns.get(row.field, "VARCHAR"), f"{where}.rows[{index}].value")
            sql, params = DatasetTerms(terms.name, terms.fields, (), (row,)).filter_sql()
            with duckdb.connect() as con:
                con.execute(f"CREATE TABLE t ({definition})")
                try:
                    con.execute(f"SELECT count(*) FROM t WHERE {sql}", params).fetchall()
                    con.execute(f"INSERT INTO t ({quote_identifier(row.field)}) VALUES (NULL)")
                    con.execute(f"SELECT count(*) FROM t WHERE {sql}", params).fetchall()
                except duckdb.Error:
                    raise self.fail(
                        f"{where}.rows[{index}].value",
                        f"does not compare with field {row.field!r} ({columns.get(row.field, 'VARCHAR')})",
                    ) from None

    def check_value_kind(self, row: RowFilter, column_type: str, where: str) -> None:
        """YAML turns unquoted NO into false and 0123 into 83: on a text field that is never what was meant."""
        if row.op in _NO_VALUE:
            return
        values = row.value if isinstance(row.value, list) else [row.value]
        if column_type == "VARCHAR" and not all(isinstance(v, str) for v in values):
            raise self.fail(
                where,
                f"field {row.field!r} is text; quote the value (YAML reads NO as false and 0123 as a number)",
            )
        if column_type != "BOOLEAN" and any(isinstance(v, bool) for v in values):
            raise self.fail(where, f"field {row.field!r} is not true/false; quote the value if it is a word")


def _duck_type(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    return {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
            "datetime": "TIMESTAMPTZ", "year": "BIGINT"}.get(str(kind), "VARCHAR")  # fmt: skip


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | date) and value is not None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# -- the register -------------------------------------------------------------

#: Agreement management, and reading the register with its internals (who recorded it, the file's hash).
MANAGE = "agreement.manage"
READ = "agreement.read"


def add_agreement(estate: Estate, actor: str, path: Path) -> Agreement:
    """Record the agreement in ``path`` (YAML) and make its pseudonym key; audited as ``agreement.add``."""
    actor = authorize(estate, actor, MANAGE).name
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    agreement = parse_agreement(estate, text, str(path))
    digest = hashlib.sha256(raw).hexdigest()
    with estate.session() as session:
        if session.get(AgreementRow, agreement.id) is not None:
            raise InputError(f"{path}: id: agreement {agreement.id!r} is already recorded; give a new id")
        row = AgreementRow(
            id=agreement.id,
            definition=agreement.definition(),
            source_sha256=digest,
            created_at=now(),
            created_by=actor,
        )
        session.add(row)
        session.flush()
        keys.create_key(estate, agreement.id)
        record(
            session,
            estate,
            principal=actor,
            action="agreement.add",
            detail={
                "agreement": agreement.id,
                "purpose_category": agreement.purpose_category,
                "datasets": {d.name: list(d.fields) for d in agreement.datasets},
                "source_sha256": digest,
            },
        )
        return Agreement.from_row(row)


def list_agreements(estate: Estate, actor: str | None = None) -> list[Agreement]:
    if actor is not None:
        authorize(estate, actor, READ)
    with estate.session() as session:
        rows = session.scalars(sa.select(AgreementRow).order_by(AgreementRow.id)).all()
        return [Agreement.from_row(r) for r in rows]


def get_agreement(estate: Estate, agreement_id: str) -> Agreement:
    with estate.session() as session:
        row = session.get(AgreementRow, agreement_id)
        if row is None:
            raise NotFound(f"no agreement {agreement_id!r}; see `joinedup agreement list`")
        return Agreement.from_row(row)


def show_agreement(estate: Estate, actor: str, agreement_id: str) -> Agreement:
    authorize(estate, actor, READ)
    return get_agreement(estate, agreement_id)


def revoke_agreement(estate: Estate, actor: str, agreement_id: str, reason: str) -> Agreement:
    """Revoke: from now on every read under it is refused (its clients get 403)."""
    actor = authorize(estate, actor, MANAGE).name
    if not reason.strip():
        raise InputError("--reason: say why the agreement is revoked")
    if contains_identifier(reason):
        raise InputError(f"--reason: holds an NHS or National Insurance number; {_PUBLISHED}")
    with estate.session() as session:
        row = session.get(AgreementRow, agreement_id)
        if row is None:
            raise NotFound(f"no agreement {agreement_id!r}; see `joinedup agreement list`")
        if row.revoked_at is not None:
            raise InputError(f"agreement {agreement_id!r} was already revoked")
        row.revoked_at = now()
        row.revoked_by = actor
        row.revoked_reason = reason.strip()
        session.flush()
        record(session, estate, principal=actor, action="agreement.revoke",
               detail={"agreement": agreement_id, "reason": reason.strip()})  # fmt: skip
        return Agreement.from_row(row)


def live_agreement(estate: Estate, agreement_id: str, *, at: datetime | None = None) -> Agreement:
    """The agreement, when it is in force at ``at`` (default now); else :class:`AgreementNotLive`."""
    agreement = get_agreement(estate, agreement_id)
    status = agreement.status(at)
    if status != "live":
        when = {
            "revoked": "was revoked",
            "expired": f"expired on {agreement.end.isoformat()}",
            "not started": f"has not yet started (starts {agreement.start.isoformat()})",
        }[status]
        raise AgreementNotLive(f"agreement {agreement.id} {when}; no data is shared under it")
    return agreement


def public_register(estate: Estate) -> list[dict[str, Any]]:
    """Every agreement as the public register shows it (as HMRC publishes its own): nothing secret."""
    return [a.to_public_dict() for a in list_agreements(estate)]
