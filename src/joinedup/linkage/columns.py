"""Which column of each dataset plays which part in linkage, read from the schemas (UK types, then names).

A settings file can name the columns instead (see docs/linkage.md)::

    datasets:
      gp_patients:
        one_per_entity: true
        columns: {given_name: forename, family_name: surname}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from joinedup.errors import InputError

ENTITIES = ("person", "business")

#: Roles for each entity, strongest evidence first. ``address`` may take several columns (joined with spaces).
ROLES: dict[str, tuple[str, ...]] = {
    "person": ("nhs_number", "ni_number", "national_id", "uprn", "given_name", "family_name", "date_of_birth",
               "postcode", "address", "sex"),
    "business": ("company_number", "vat_number", "business_name", "postcode", "address", "uprn"),
}  # fmt: skip

#: A UK type says the role outright.
_BY_TYPE = {
    "nhs_number": "nhs_number",
    "ni_number": "ni_number",
    "uprn": "uprn",
    "postcode": "postcode",
    "company_number": "company_number",
    "vat_number": "vat_number",
}
#: Otherwise the column's name (lower case, underscores) decides.
_BY_NAME: tuple[tuple[str, str], ...] = (
    ("given_name", r"(given|first|fore)_?names?|forename"),
    ("family_name", r"(family|last|sur)_?names?|surname"),
    ("date_of_birth", r"(date_of_birth|dob|birth_date|birthdate)"),
    ("postcode", r"post_?code|postal_code|zip"),
    ("national_id", r"soc_sec_id|ssn|social_security.*|national_id"),
    ("ni_number", r"ni_?number|nino|national_insurance.*"),
    ("nhs_number", r"nhs_?(number|no)"),
    ("uprn", r"uprn"),
    ("sex", r"sex|gender"),
    ("business_name", r"(business|company|trading|organisation|organization)_?name|name"),
    ("company_number", r"company_(number|no)|crn"),
    ("vat_number", r"vat_?(number|no|registration)?"),
    ("address", r"(street_number|address.*|street.*|suburb|town|city|locality|house.*)"),
)  # fmt: skip


@dataclass(frozen=True)
class DatasetColumns:
    """One dataset's columns by role, its primary key and whether it holds at most one record per entity."""

    dataset: str
    columns: dict[str, list[str]]
    key: tuple[str, ...]
    one_per_entity: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def roles(self) -> set[str]:
        return set(self.columns)


#: What a settings file may hold, at the top and per dataset; anything else is refused, not ignored.
SETTINGS_KEYS = ("datasets", "name_variants")
DATASET_KEYS = ("columns", "one_per_entity")


def check_settings(settings: Mapping[str, Any], datasets: Sequence[str], entity: str) -> None:
    """Refuse, in one line naming it, anything in a settings file that would otherwise be silently ignored.

    A misspelt key (``colums``) or a dataset not being linked would otherwise leave the run to the
    schemas' guesses while the user believes the settings took effect.
    """
    where = "linkage settings"
    _known_keys(settings, SETTINGS_KEYS, where)
    if not isinstance(settings.get("name_variants", True), bool):
        raise InputError(f"{where}: name_variants must be true or false")
    per_dataset = settings.get("datasets", {})
    if not isinstance(per_dataset, Mapping):
        raise InputError(f"{where}: datasets must be a mapping of dataset names to their settings")
    for name, entry in per_dataset.items():
        if name not in datasets:
            raise InputError(f"{where}: dataset {str(name)!r} is not one of the datasets being linked")
        if not isinstance(entry, Mapping):
            raise InputError(f"{where}: {name}: expected a mapping with columns and/or one_per_entity")
        _known_keys(entry, DATASET_KEYS, f"{where}: {name}")
        if not isinstance(entry.get("one_per_entity", False), bool):
            raise InputError(f"{where}: {name}: one_per_entity must be true or false")
        columns = entry.get("columns", {})
        if not isinstance(columns, Mapping):
            raise InputError(f"{where}: {name}: columns must be a mapping of roles to column names")
        for role, column in columns.items():
            chosen = [column] if isinstance(column, str) else column
            if not isinstance(chosen, list) or not chosen or not all(isinstance(c, str) for c in chosen):
                raise InputError(f"{where}: {name}: {str(role)!r} must name a column or a list of columns")
            if str(role) not in ROLES[entity]:
                raise InputError(f"{where}: {name}: {str(role)!r} is not a {entity} role ({', '.join(ROLES[entity])})")


def _known_keys(mapping: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    unknown = [str(k) for k in mapping if k not in known]
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(known)})")


def map_columns(
    dataset: str, schema: Mapping[str, Any], entity: str, override: Mapping[str, Any] | None = None
) -> DatasetColumns:
    """The roles ``dataset``'s columns play for ``entity``; ``override`` (from a settings file) wins."""
    fields = [f for f in schema.get("fields", []) if isinstance(f, Mapping)]
    names = [str(f["name"]) for f in fields]
    wanted = ROLES[entity]
    found: dict[str, list[str]] = {}
    for f in fields:
        role = _role_of(f, entity)
        if role is None or role not in wanted:
            continue
        if role == "address":
            found.setdefault(role, []).append(str(f["name"]))
        else:
            found.setdefault(role, [str(f["name"])])
    override = override or {}
    for role, column in dict(override.get("columns", {})).items():
        if role not in wanted:
            raise InputError(f"linkage settings: {dataset}: {role!r} is not a {entity} role ({', '.join(wanted)})")
        chosen = [column] if isinstance(column, str) else list(column)
        for name in chosen:
            if name not in names:
                raise InputError(f"linkage settings: {dataset}: no column {name!r} for {role}")
        found[role] = chosen
    key = tuple(schema.get("primaryKey") or ())
    if isinstance(schema.get("primaryKey"), str):
        key = (str(schema["primaryKey"]),)
    return DatasetColumns(dataset, found, key, bool(override.get("one_per_entity", False)))


def _role_of(f: Mapping[str, Any], entity: str) -> str | None:
    by_type = _BY_TYPE.get(str(f.get("type")))
    if by_type:
        return by_type
    name = re.sub(r"[^a-z0-9]+", "_", str(f["name"]).lower()).strip("_")
    if f.get("format") == "person_name" and entity == "person":
        if re.fullmatch(_pattern("family_name"), name):
            return "family_name"
        if re.fullmatch(_pattern("given_name"), name):
            return "given_name"
    if f.get("type") == "date" and re.fullmatch(_pattern("date_of_birth"), name):
        return "date_of_birth"
    for role, pattern in _BY_NAME:
        if role == "business_name" and entity != "business":
            continue
        if re.fullmatch(pattern, name):
            return role
    return None


def _pattern(role: str) -> str:
    return dict(_BY_NAME)[role]


def comparable(mappings: Sequence[DatasetColumns], entity: str) -> list[str]:
    """Roles every dataset has, in the order of :data:`ROLES`; linkage needs at least a name or an identifier."""
    shared = set.intersection(*(m.roles() for m in mappings)) if mappings else set()
    return [r for r in ROLES[entity] if r in shared]
