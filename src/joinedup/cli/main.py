"""The ``joinedup`` command: one Typer app, one module per group of commands.

A command imports only the module that defines it (see :data:`COMMANDS`):
``joinedup ingest`` never loads linkage, publishing or the API, and
``joinedup --version`` loads none of them. ``app`` (for tests and the command
reference) is the whole command, built when first used.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from joinedup import __version__
from joinedup.cli.common import EXAMPLE, escape, report_error, require_utf8, visible
from joinedup.errors import ExitCode, JoinedupError

#: Each module of joinedup.cli, in the order ``--help`` lists them, and its top-level commands.
#: A module either has ``register(app)`` or is one group (its ``app``) named after the module.
COMMANDS: dict[str, tuple[str, ...]] = {
    "estate": ("init", "datasets", "show"),
    "data": ("ingest", "quarantine", "query"),
    "schema": ("schema",),
    "standards": ("standards",),
    "principal": ("principal",),
    "audit": ("audit",),
    "quality": ("quality",),  # issue 17
    "link": ("link", "review"),  # linkage, issue 18
    "synth": ("synth",),
    "lifecycle": ("request", "subject", "hold", "retention"),  # lifecycle and individual rights, issue 19
    "sharing": ("extract", "agreement", "client", "objection"),  # sharing and the API, issue 20
    "serve": ("serve",),
    "publish": ("publish", "find", "export-all", "catalogue"),  # publishing and discovery, issue 23
    "demo": ("demo",),
}
_GROUPS = frozenset({"schema", "standards", "principal", "audit", "quality"})


class _Commands(TyperGroup):
    """Turns every error into one line on stderr (JSON with ``--json``) and its exit status.

    A :class:`JoinedupError` says what the user can fix; Click's own usage errors
    keep their status (2); anything else is a bug, shown as one line naming it
    (``JOINEDUP_DEBUG=1`` shows the traceback), since a traceback's text can quote data.
    """

    # typer.Context is the Context Typer hands its commands; its base class is Click's own.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        ctx.meta[_WANTS_JSON] = _wants_json(args)
        with _reported(ctx):
            for position, arg in enumerate(args, start=1):
                require_utf8(arg, f"argument {position}")
            return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        with _reported(ctx):
            return super().invoke(ctx)


@contextmanager
def _reported(ctx: typer.Context) -> Iterator[None]:
    as_json = bool(ctx.meta.get(_WANTS_JSON))
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except typer.TyperException as exc:  # Click's usage errors, as Typer raises them
        if not as_json:
            # Click quotes what was typed (an extra argument, an unknown option) as it was typed: shown, not obeyed.
            if isinstance(getattr(exc, "message", None), str):
                exc.message = visible(exc.message)
            raise
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        report_error("usage", message, as_json)
        ctx.exit(getattr(exc, "exit_code", ExitCode.USAGE))
    except JoinedupError as exc:
        report_error(exc.kind, str(exc), as_json)
        ctx.exit(exc.exit_code)
    except BrokenPipeError:
        raise  # the reader went away (`joinedup query --help | head`): Typer ends quietly, status 1
    except OSError as exc:
        if exc.errno not in _SYSTEM_ERRNOS:
            _unexpected(ctx, exc, as_json)
        # A full disk or a failing device is the machine's to fix, not a bug to report: say so.
        where = f" ({visible(str(exc.filename))})" if exc.filename else ""
        with contextlib.suppress(OSError):  # stderr may be on the same full disk
            report_error("system", f"the system could not complete a read or write: {exc.strerror}{where}", as_json)
        ctx.exit(ExitCode.ERROR)
    except Exception as exc:
        if _interrupted(exc):
            # Ctrl-C while DuckDB ran a query: ended as Typer ends any other Ctrl-C, not reported as a bug.
            ctx.exit(ExitCode.INTERRUPTED)
        _unexpected(ctx, exc, as_json)


#: A full disk or quota, a read-only file system, a failing device.
_SYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def _unexpected(ctx: typer.Context, exc: Exception, as_json: bool) -> NoReturn:
    """A bug: one line naming the exception's class, never its text (which can quote data)."""
    if os.environ.get("JOINEDUP_DEBUG"):
        raise exc
    report_error(
        "internal",
        f"joinedup failed unexpectedly ({type(exc).__name__}); please report it (JOINEDUP_DEBUG=1 shows the traceback)",
        as_json,
    )
    ctx.exit(ExitCode.ERROR)


_WANTS_JSON = "joinedup.json"


def _interrupted(exc: Exception) -> bool:
    """Whether DuckDB stopped a query because it was interrupted (see :func:`joinedup.storage.duck.interrupted`)."""
    if "duckdb" not in sys.modules:
        return False  # no query ran: and importing DuckDB only to tell would slow every error down
    from joinedup.storage.duck import interrupted

    return interrupted(exc)


def _wants_json(args: list[str]) -> bool:
    """Whether ``--json`` is among the options (before a ``--`` that ends them)."""
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


def build(modules: Iterable[str] | None = None) -> typer.Typer:
    """The ``joinedup`` command with the commands of ``modules`` (default: all of :data:`COMMANDS`)."""
    root = typer.Typer(
        cls=_Commands,
        name="joinedup",
        help=(
            "Make better use of a UK public body's data: catalogue it, check it against UK data "
            "standards, load it as clean versioned open-format tables with every rejected row "
            "explained, and query it read-only."
        ),
        no_args_is_help=True,
        add_completion=False,
        # Locals can hold personal data: never print them in a traceback.
        pretty_exceptions_show_locals=False,
        rich_markup_mode="rich",
    )
    root.callback()(root_options)
    wanted = set(COMMANDS if modules is None else modules)
    for name in COMMANDS:
        if name not in wanted:
            continue
        module = importlib.import_module(f"joinedup.cli.{name}")
        if name in _GROUPS:
            root.add_typer(module.app, name=name)
        else:
            module.register(root)
    _tidy_help(root)
    return root


def modules_for(args: list[str]) -> list[str] | None:
    """The modules to load to run ``args``: the one defining its command, none for ``--version``, else all.

    The root's only options (``--version``, ``--help``) take no value, so the first
    argument not starting with ``-`` names the command. Help and an unknown or
    missing command load all, so the list of commands and Click's suggestions are whole.
    """
    command = next((a for a in args if not a.startswith("-")), None)
    if command is None:
        return [] if "--version" in args and "--help" not in args else None
    found = [module for module, names in COMMANDS.items() if command in names]
    return found or None


def _unwrapped(doc: str) -> str:
    """Help text with each prose paragraph on one line, so Rich wraps it once, to the terminal.

    Docstrings are wrapped by hand at the source's width; kept as they are, Rich would
    wrap those lines again and leave ragged ones. An ``Example:`` paragraph keeps one
    command a line, shown exactly as written.
    """
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        "\n".join(escape(line) for line in p.splitlines()) if p.startswith(EXAMPLE) else " ".join(p.split())
        for p in paragraphs
    )


#: Commands whose help is already unwrapped: the groups are module-level apps, shared by every build.
_TIDIED: set[int] = set()


def _tidy_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None)
        if doc and id(command) not in _TIDIED:
            command.help = _unwrapped(doc)
            _TIDIED.add(id(command))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _tidy_help(group.typer_instance)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"joinedup {__version__}")
        raise typer.Exit()


def root_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """joinedup: see `joinedup COMMAND --help` for each command."""


_whole: typer.Typer | None = None


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole command, built on first use (tests, the command reference)."""
    global _whole
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _whole is None:
        _whole = build()
    return _whole


def main() -> None:
    """The console script: run the command, then leave without Python's own shutdown.

    By the time a command returns, everything it changed is committed and every
    file it wrote is closed; tearing down the interpreter (freeing every module
    and object one by one) would only add a tenth of a second to every command.
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with Ctrl-C ignored
        signal.signal(signal.SIGINT, _on_ctrl_c)
    app = build(modules_for(sys.argv[1:]))
    if sys.gettrace() is not None or sys.getprofile() is not None:
        app()  # a profiler or coverage is watching: it writes its report at a normal exit
        return
    try:
        app()
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`joinedup query ... | head`): nothing more to say
        code = code or 1
    except OSError as exc:  # the last of the output did not fit (a full disk): say so, as _reported does
        code = code or 1
        with contextlib.suppress(OSError):
            os.write(2, f"Error: the system could not complete a read or write: {exc.strerror}\n".encode())
    os._exit(code)


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Ctrl-C: stop any DuckDB query first (promptly, see :func:`joinedup.storage.duck.interrupt_queries`), then
    interrupt Python as usual; the command ends with status 130."""
    duck = sys.modules.get("joinedup.storage.duck")
    if duck is not None:
        duck.interrupt_queries()
    raise KeyboardInterrupt


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return ExitCode.ERROR


if __name__ == "__main__":
    main()
