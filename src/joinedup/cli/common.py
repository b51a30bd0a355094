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
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

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
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    return value


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON (machine) or through ``render`` (person)."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
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
