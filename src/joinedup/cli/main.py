"""The ``joinedup`` command: one Typer app, one module per group of commands."""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from joinedup import __version__
from joinedup.cli import (
    audit,
    data,
    demo,
    estate,
    lifecycle,
    link,
    principal,
    publish,
    quality,
    schema,
    serve,
    sharing,
    standards,
    synth,
)
from joinedup.cli.common import EXAMPLE, escape, report_error, require_utf8, visible
from joinedup.errors import ExitCode, JoinedupError


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
    except Exception as exc:
        if os.environ.get("JOINEDUP_DEBUG"):
            raise
        report_error(
            "internal",
            f"joinedup failed unexpectedly ({type(exc).__name__}); please report it "
            "(JOINEDUP_DEBUG=1 shows the traceback)",
            as_json,
        )
        ctx.exit(ExitCode.ERROR)


_WANTS_JSON = "joinedup.json"


def _wants_json(args: list[str]) -> bool:
    """Whether ``--json`` is among the options (before a ``--`` that ends them)."""
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


app = typer.Typer(
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

estate.register(app)
data.register(app)
app.add_typer(schema.app, name="schema")
app.add_typer(standards.app, name="standards")
app.add_typer(principal.app, name="principal")
app.add_typer(audit.app, name="audit")
# -- quality (issue 17) --
app.add_typer(quality.app, name="quality")
# -- linkage (issue 18) --
link.register(app)
synth.register(app)
# -- lifecycle and individual rights (issue 19) --
lifecycle.register(app)
# -- sharing and the API (issue 20) --
sharing.register(app)
serve.register(app)
# -- publishing and discovery (issue 23) --
publish.register(app)
demo.register(app)


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


def _tidy_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None)
        if doc:
            command.help = _unwrapped(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _tidy_help(group.typer_instance)


_tidy_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"joinedup {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """joinedup: see `joinedup COMMAND --help` for each command."""


def main() -> None:
    """The console script: run the command, then leave without Python's own shutdown.

    By the time a command returns, everything it changed is committed and every
    file it wrote is closed; tearing down the interpreter (freeing every module
    and object one by one) would only add a tenth of a second to every command.
    """
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
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return ExitCode.ERROR


if __name__ == "__main__":
    main()
