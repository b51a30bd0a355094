"""What every command shares: the estate and principal options, JSON or human output, errors.

Conventions (keep them when adding a command):
- take ``estate: EstateOption`` (``--estate``, ``JOINEDUP_ESTATE``, default ``./estate``),
  ``as_: AsOption`` (``--as``, ``JOINEDUP_USER``) where the command acts on the estate,
  and ``json_: JsonOption`` where it prints results;
- print results with :func:`emit` (JSON on stdout with ``--json``, else a Rich rendering);
- raise :class:`joinedup.errors.JoinedupError` for anything the user can fix: ``main``
  prints its one line on stderr and exits non-zero.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from joinedup.estate import Estate

EstateOption = Annotated[
    Path,
    typer.Option(
        "--estate",
        "-e",
        envvar="JOINEDUP_ESTATE",
        help="The estate folder (default ./estate, or $JOINEDUP_ESTATE).",
        show_default=False,
    ),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="JOINEDUP_USER",
        help="Act as this registered principal (default: $JOINEDUP_USER, else your login name).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DEFAULT_ESTATE = Path("estate")

out = Console(soft_wrap=True)
err = Console(stderr=True)


def open_estate(path: Path) -> Estate:
    return Estate.open(path)


def to_jsonable(value: Any) -> Any:
    """``value`` as something JSON holds exactly: times as ISO 8601 text, NaN and infinities as null."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(0, value.days, value.seconds * 10**9 + value.microseconds * 1000)
    if isinstance(value, pa.MonthDayNano):
        return _duration(value.months, value.days, value.nanoseconds)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    return value


def _duration(months: int, days: int, nanoseconds: int) -> str:
    """An ISO 8601 duration: ``P1M2DT3.5S``."""
    seconds = Decimal(nanoseconds) / 10**9
    text = "P" + (f"{months}M" if months else "") + (f"{days}D" if days else "")
    if seconds or text == "P":
        text += f"T{seconds.normalize():f}S"
    return text


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON (machine) or through ``render`` (person)."""
    if as_json:
        # Anything to_jsonable does not know is written as its text rather than failing.
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, default=str, allow_nan=False) + "\n")
    else:
        render(data)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    result = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        result.add_column(str(column), overflow="fold")
    for row in rows:
        result.add_row(*("" if v is None else str(to_jsonable(v)) for v in row))
    return result


def login_name() -> str:
    import getpass

    return os.environ.get("JOINEDUP_USER") or getpass.getuser()
