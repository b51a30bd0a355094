"""docs/cli.md, the command reference, generated from every command's ``--help``.

``make docs`` runs ``python -m joinedup.cli.reference docs/cli.md``; a test fails
when the file differs from what this module renders, so the page cannot go stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from joinedup.cli.common import EXAMPLE
from joinedup.cli.main import app
from joinedup.errors import ExitCode

#: The width the help is rendered at, whatever the terminal generating the page.
WIDTH = 100
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

INTRO = f"""# Command reference

Generated from `joinedup COMMAND --help` by `make docs`; do not edit by hand (a test
fails when this page and the commands disagree). The guides explain each area:
[estate](estate.md), [schemas](schemas.md), [ingest](ingest.md), [query](query.md),
[standards](standards.md), [audit and access](audit.md).

Every command takes `--estate` (or `$JOINEDUP_ESTATE`), `--as` (or `$JOINEDUP_USER`)
and `--json`; one that acts on a dataset names it with `--dataset NAME` (`-d NAME`).
With `--json` the result is JSON on stdout and an error is one JSON object on stderr:
`{{"error": KIND, "message": "..."}}`. `show` and `quarantine` still accept the
dataset as a positional argument, as they did before `--dataset`; that form is
deprecated. Text meant for a person (tables, messages, errors) shows control and
format characters in stored values, names and file names as escapes (`\\x1b`,
`\\u202e`), so no value can recolour, hide or reverse what a terminal shows; JSON
output holds every value exactly. Every file a command reads or writes is checked
before it does any work: a missing file, a folder given as a file, or a file to write
in a folder that does not exist is one line naming the option (exit 1), and nothing
is read, audited or written.

| Exit status | Meaning |
|---|---|
{
    chr(10).join(
        f"| {code.value} | {meaning} |"
        for code, meaning in (
            (ExitCode.OK, "success"),
            (ExitCode.ERROR, "an error you can fix, named in one line on stderr; the estate is unchanged"),
            (
                ExitCode.USAGE,
                "the command line was wrong (an unknown option, a missing argument, a value not among the choices)",
            ),
            (ExitCode.ACCESS_DENIED, "access denied: the principal is not registered, is disabled, or lacks the role"),
            (ExitCode.AUDIT_TAMPERING, "`audit verify` found the audit log edited, reordered or cut short"),
            (
                ExitCode.CHECK_FAILED,
                "a check failed: `standards check` found the value invalid, "
                "or `demo`'s quarantine differs from the errors it planted",
            ),
            (
                ExitCode.INTERRUPTED,
                "interrupted (Ctrl-C): nothing more is printed; a change is recorded whole or not at all "
                "(an ingest interrupted while measuring quality has its version; `show` says)",
            ),
        )
    )
}
"""


def commands(group: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``group`` (default: the whole ``joinedup`` tree) with its path, in help order."""
    group = group if group is not None else typer.main.get_command(app)
    context = typer.Context(group, info_name=" ".join(("joinedup", *path)))
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or getattr(command, "hidden", False):
            continue
        if hasattr(command, "list_commands"):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def examples(help_text: str) -> list[str]:
    """The command lines in the ``Example:`` paragraph of a command's help."""
    for paragraph in help_text.split("\n\n"):
        lines = paragraph.strip().splitlines()
        if lines and lines[0].strip() == EXAMPLE:
            return [line.strip() for line in lines[1:] if line.strip()]
    return []


def help_text(path: tuple[str, ...], width: int = WIDTH) -> str:
    """``joinedup PATH --help`` as plain text at ``width`` columns."""
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": str(width), "NO_COLOR": "1", "FORCE_COLOR": None}
    )
    if result.exit_code != 0:
        raise RuntimeError(f"joinedup {' '.join(path)} --help failed: {result.output}")
    return "\n".join(_ANSI.sub("", line).rstrip() for line in result.stdout.splitlines()).strip("\n")


def render() -> str:
    sections = [INTRO, f"## joinedup\n\n```text\n{help_text(())}\n```\n"]
    for path, _ in commands():
        sections.append(f"## joinedup {' '.join(path)}\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> None:
    [target] = argv if argv is not None else sys.argv[1:]
    Path(target).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
