"""What every command shares: its options, JSON or human output, and how errors are printed.

The contract every command keeps (tests/cli/test_contract.py walks the command
tree and checks it, so a new command or option is held to it automatically):
- it takes ``estate: EstateOption`` (``--estate``, ``JOINEDUP_ESTATE``, default
  ``./estate``), ``as_: AsOption`` (``--as``, ``JOINEDUP_USER``) and ``json_: JsonOption``;
- the dataset it acts on is ``--dataset NAME`` (``-d``), :data:`DatasetOption`;
- a closed set of values is a choice (:func:`choices`), never free text;
- its help ends with an ``Example:`` paragraph of ``joinedup ...`` lines, and
  ``make docs`` regenerates docs/cli.md from it;
- it prints results with :func:`emit`, human text with :func:`say` and :func:`table`,
  which show stored or typed text exactly as written (never as Rich markup), with
  control and format characters as visible escapes (:func:`visible`);
- it raises :class:`joinedup.errors.JoinedupError` for anything the user can fix:
  the root command prints its one line (JSON with ``--json``) on stderr and exits
  with the error's :class:`joinedup.errors.ExitCode`.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape as _escape_markup
from rich.table import Table

from joinedup.errors import InputError
from joinedup.ingest.source import FORMATS

if TYPE_CHECKING:
    from joinedup.estate import Estate


def printable(text: str) -> str:
    """``text`` with anything UTF-8 cannot hold (bytes from argv that were not UTF-8) as ``\\x..`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: Everything but printable ASCII and newline; of that, :func:`_shown` escapes what a terminal acts on or hides.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]")
#: Unicode categories a terminal acts on or hides instead of showing: controls (C0, DEL, C1: ESC starts a
#: colour, a cursor move or an OSC title or link; BEL rings), format characters (U+202E reverses the text
#: after it, U+200B is invisible) and line and paragraph separators.
_UNSHOWABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in _UNSHOWABLE:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` for a person's terminal: every control and format character as an escape (``\\x1b``, ``\\u202e``).

    Stored values, typed options and file names can hold them, and a terminal would otherwise act on
    them: recolour or hide what follows, rewrite the window title, or show text reversed, so one
    value could make the rest of a table or an audit log read differently. JSON output does not use
    this: it must stay exact, and JSON escapes C0 controls itself.
    """
    return _NOT_PLAIN.sub(_shown, printable(text))


def escape(value: object) -> str:
    """``value`` as text Rich prints exactly as written: ``[red]`` stays ``[red]``, never a style, and
    control characters are shown as escapes (:func:`visible`), never acted on."""
    return _escape_markup(visible(value if isinstance(value, str) else str(value)))


def require_utf8(text: str, what: str) -> str:
    """``text``, unless it holds bytes that were not UTF-8 (a lone surrogate), which nothing downstream can store."""
    if printable(text) != text:
        raise typer.BadParameter(f"{what} ('{printable(text)}') is not valid text: it holds bytes that are not UTF-8")
    return text


def _check_as(value: str | None) -> str | None:
    return None if value is None else require_utf8(value, "the name")


def _check_purpose(value: str | None) -> str | None:
    # Spaces or invisible characters alone (U+200B) would pass "analysts must give a purpose" yet say nothing in
    # the audit log; letters and digits are what a reason is written in, in any script.
    if value is None:
        return None
    require_utf8(value, "the purpose")
    if not any(unicodedata.category(char)[0] in "LN" for char in value):
        raise typer.BadParameter("say why you need the data in words: it holds no letter or digit")
    return value


def _named(param: typer.CallbackParam, path: Path) -> str:
    # An option is named with its file (`--out x.json`); an argument is the file alone.
    return f"{param.opts[0]} {path}" if param.param_type_name == "option" else str(path)


def input_file(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """The callback of every option or argument naming a file to read: one line now if it is missing or a folder.

    Checked while the command line is parsed, so a folder given as a file is refused before any estate is opened,
    rather than failing as an IsADirectoryError deep inside a reader.
    """
    if value is not None:
        if not value.exists():
            raise InputError(f"{_named(param, value)}: file not found")
        if value.is_dir():
            raise InputError(f"{_named(param, value)}: is a folder; expected a file")
    return value


def output_file(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """The callback of every option naming a file to write: one line now if it cannot be written there.

    Checked while the command line is parsed, before anything is read, authorised or audited: an
    audited read whose output then cannot be written would leave a record of a release that never happened.
    """
    if value is None:
        return None
    where = _named(param, value)
    if value.is_dir():
        raise InputError(f"{where}: is a folder; expected the name of a file to write")
    folder = value.parent
    if not folder.exists():
        raise InputError(f"{where}: folder {folder} does not exist; create it first or write elsewhere")
    if not folder.is_dir():
        raise InputError(f"{where}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{where}: folder {folder} is not writable")
    return value


def output_folder(option: str, folder: Path, estate: Path) -> Path:
    """A folder a command will write files into, checked before any work: one line if it cannot be.

    Refused when it is a file, when it cannot be made or written, and when it lies inside the estate:
    files written there are no part of any dataset, so erasure, retention and audit would not see them.
    """
    from joinedup.estate import is_inside  # the catalogue's models: only for commands that write a folder

    where = f"{option} {folder}"
    target = folder.expanduser().resolve()
    if is_inside(estate, folder):
        raise InputError(f"{where}: is inside the estate; write outside the estate folder")
    if target.exists() and not target.is_dir():
        raise InputError(f"{where}: exists and is not a folder")
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{where}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{where}: folder {existing} is not writable")
    return folder


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
        callback=_check_as,
    ),
]
PurposeOption = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Why you need this personal data (analysts must say; it goes in the audit log). "
        "Write a reason, not a name.",
        callback=_check_purpose,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (errors too, on stderr).")]
DatasetOption = Annotated[
    str | None,
    typer.Option("--dataset", "-d", help="The dataset.", show_default=False),
]


def choices(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A closed set of values as a type Typer offers as choices (and refuses anything else)."""
    return StrEnum(name, [(value, value) for value in values])  # type: ignore[return-value]


FileFormat = choices("FileFormat", sorted(set(FORMATS.values())))
FormatOption = Annotated[
    FileFormat | None,  # type: ignore[valid-type]
    typer.Option("--format", help="The file's format (default: from its extension).", show_default=False),
]
#: Context settings of a command that still accepts its dataset the old way, as a
#: positional argument (`joinedup show NAME`): deprecated, so left out of help and usage.
OLD_DATASET_ARGUMENT: dict[str, Any] = {"allow_extra_args": True}
#: Help for --estate and --as on commands that never open an estate.
UNUSED = "Accepted like on every command; this one does not use the estate."
UnusedEstateOption = Annotated[
    Path, typer.Option("--estate", "-e", envvar="JOINEDUP_ESTATE", help=UNUSED, show_default=False)
]
UnusedAsOption = Annotated[
    str | None, typer.Option("--as", envvar="JOINEDUP_USER", help=UNUSED, show_default=False, callback=_check_as)
]
DEFAULT_ESTATE = Path("estate")
#: The paragraph of a command's help that holds its examples, one ``joinedup ...`` line each.
EXAMPLE = "Example:"

# Emoji codes (":x:") in stored text would be replaced too, so they are off with markup escaped.
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, emoji=False)


def one_dataset(option: str | None, ctx: typer.Context) -> str:
    """The dataset named by ``--dataset``, or by the deprecated positional form (see :data:`OLD_DATASET_ARGUMENT`)."""
    if len(ctx.args) > 1:
        raise typer.BadParameter(f"unexpected arguments {' '.join(ctx.args[1:])!r}; name the dataset with --dataset")
    old = ctx.args[0] if ctx.args else None
    if option is not None and old is not None and option != old:
        raise typer.BadParameter(f"two datasets given ({old!r} and {option!r}); give one", param_hint="'--dataset'")
    name = option if option is not None else old
    if name is None:
        raise typer.BadParameter("name the dataset, e.g. --dataset residents", param_hint="'--dataset'")
    return name


def chosen(value: StrEnum | None) -> str | None:
    """The plain text of a choice (``None`` when not given)."""
    return None if value is None else value.value


def acting_name(as_: str | None) -> str:
    """The name a command that creates principals acts as: ``--as``, ``$JOINEDUP_USER``, else the login name."""
    return as_ or login_name()


def open_estate(path: Path) -> Estate:
    # Imported here: `joinedup --version` and `--help` need no catalogue (SQLAlchemy and its models).
    from joinedup.estate import Estate

    return Estate.open(path)


def outside_estate(estate: Estate, path: Path, option: str) -> Path:
    """Refuse to write a report, release or export inside the estate folder: one line, nothing written.

    Files there would escape erasure's inventory and its byte scan would find them, a
    release could overwrite the estate's own files, and an export would copy itself.
    """
    if estate.contains(path):
        raise InputError(f"{option} {path}: is inside the estate folder {estate.root}; write it elsewhere")
    return path


def to_jsonable(value: Any) -> Any:
    """``value`` as something JSON holds exactly: times as ISO 8601 text, NaN and infinities as null."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(0, value.days, value.seconds * 10**9 + value.microseconds * 1000)
    # A value from Arrow has loaded pyarrow; without it none can be Arrow's interval (and none need load it).
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(value, pa.MonthDayNano):
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
    """Print ``data`` as JSON (machine) or through ``render`` (person, using :func:`say` and :func:`table`)."""
    if as_json:
        # Anything to_jsonable does not know is written as its text rather than failing.
        text = json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, default=str, allow_nan=False)
        sys.stdout.write(printable(text) + "\n")
    else:
        render(data)


class _Escaping(string.Formatter):
    """Formats a template whose own markup is trusted, escaping every value put into it."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return escape(super().format_field(value, format_spec))


def styled(template: str, /, *args: Any, **values: Any) -> str:
    """``template.format(...)`` with every value escaped: the template's ``[bold]`` is a style, a value's is text."""
    return _Escaping().format(template, *args, **values)


def say(template: str, /, *args: Any, **values: Any) -> None:
    """Print a line built by :func:`styled` on stdout."""
    out.print(styled(template, *args, **values))


def report_error(kind: str, message: str, as_json: bool) -> None:
    """The one line an error gets on stderr: ``Error: ...``, or ``{"error": kind, "message": ...}`` with ``--json``."""
    if as_json:
        sys.stderr.write(printable(json.dumps({"error": kind, "message": message}, ensure_ascii=False)) + "\n")
    else:
        err.print(styled("[red]Error:[/red] {}", message), highlight=False, soft_wrap=True)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    """A Rich table of ``rows``; titles, headers and cells are shown exactly as written."""
    result = Table(title=None if title is None else escape(title), show_lines=False, header_style="bold")
    for column in columns:
        result.add_column(escape(column), overflow="fold")
    for row in rows:
        result.add_row(*("" if v is None else escape(to_jsonable(v)) for v in row))
    return result


def login_name() -> str:
    import getpass

    return os.environ.get("JOINEDUP_USER") or getpass.getuser()
