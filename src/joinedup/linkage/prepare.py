"""Each dataset's records as the model compares them: one standard shape, built in DuckDB SQL."""

from __future__ import annotations

from collections.abc import Sequence

from joinedup.linkage.columns import DatasetColumns
from joinedup.linkage.names import TABLE as NAME_GROUPS
from joinedup.storage.duck import quote_identifier as q
from joinedup.storage.duck import quote_literal

#: Columns of the prepared frame besides the roles.
ID_COLUMNS = ("source_dataset", "unique_id")
#: Names that are company-form noise, not part of a business's name.
_BUSINESS_NOISE = r"\b(the|ltd|limited|plc|llp|lp|co|company|uk|group|holdings|and)\b"


def record_id_sql(columns: DatasetColumns) -> str:
    """A record's id: its primary key as text (several columns joined with '|'), else its surrogate row key."""
    if columns.key:
        return " || '|' || ".join(f"coalesce(CAST({q(k)} AS VARCHAR), '')" for k in columns.key)
    return "CAST(_ingest AS VARCHAR) || '/' || CAST(_source_row AS VARCHAR)"


def _name(expr: str, first_word: bool = False) -> str:
    text = f"lower(strip_accents(trim(CAST({expr} AS VARCHAR))))"
    if first_word:
        text = f"split_part(regexp_replace({text}, '[-.]', ' ', 'g'), ' ', 1)"
    return f"nullif(regexp_replace({text}, '[^a-z]', '', 'g'), '')"


def _role_sql(role: str, cols: list[str]) -> str:
    first = q(cols[0])
    if role == "given_name":
        return _name(first, first_word=True)
    if role == "family_name":
        return _name(first)
    if role == "date_of_birth":
        return f"nullif(regexp_replace(CAST({first} AS VARCHAR), '[^0-9]', '', 'g'), '')"
    if role == "postcode":
        return f"nullif(upper(regexp_replace(CAST({first} AS VARCHAR), '[^A-Za-z0-9]', '', 'g')), '')"
    if role == "address":
        joined = "concat_ws(' ', " + ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in cols) + ")"
        return f"nullif(trim(regexp_replace(lower(strip_accents({joined})), '[^a-z0-9]+', ' ', 'g')), '')"
    if role == "business_name":
        base = f"regexp_replace(lower(strip_accents(CAST({first} AS VARCHAR))), '[^a-z0-9 ]', ' ', 'g')"
        return (
            f"nullif(regexp_replace(regexp_replace({base}, '{_BUSINESS_NOISE}', ' ', 'g'), '[^a-z0-9]', '', 'g'), '')"
        )
    if role == "sex":
        return f"nullif(upper(left(trim(CAST({first} AS VARCHAR)), 1)), '')"
    # Identifiers: compared as their significant characters.
    return f"nullif(upper(regexp_replace(CAST({first} AS VARCHAR), '[^A-Za-z0-9]', '', 'g')), '')"


def frame_sql(columns: DatasetColumns, roles: Sequence[str], source: str, *, variants: bool = True) -> str:
    """SELECT the prepared frame of one dataset from the view ``source``.

    Without ``variants`` each given name is its own only group (plain string comparison, for measuring the gain).
    """
    selected = [f"{quote_literal(columns.dataset)} AS source_dataset", f"{record_id_sql(columns)} AS unique_id"]
    selected += [f"{_role_sql(r, columns.columns[r])} AS {q(r)}" for r in roles]
    inner = f"SELECT {', '.join(selected)} FROM {q(source)}"
    if "given_name" not in roles:
        return inner
    # Variant groups of the given name (the name itself when it has none); given_key is one of them, for blocking.
    return f"""
        WITH f AS ({inner}),
        g AS (SELECT name, list(grp ORDER BY grp) AS groups FROM {NAME_GROUPS} WHERE {"TRUE" if variants else "FALSE"}
              GROUP BY name)
        SELECT f.*,
               coalesce(g.groups, CASE WHEN f.given_name IS NULL THEN NULL ELSE [f.given_name] END) AS given_groups,
               coalesce(g.groups[1], f.given_name) AS given_key
        FROM f LEFT JOIN g ON g.name = f.given_name
    """
