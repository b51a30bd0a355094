"""The ``joinedup`` command: one Typer app, one module per group of commands."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from joinedup import __version__
from joinedup.cli import audit, data, demo, estate, principal, schema, standards
from joinedup.cli.common import err
from joinedup.errors import JoinedupError


class _Commands(TyperGroup):
    """Turns a :class:`JoinedupError` into its one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JoinedupError as exc:
            err.print(f"[red]Error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
            ctx.exit(exc.exit_code)


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
demo.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"joinedup {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
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
    return 1


if __name__ == "__main__":
    main()
