"""The audit and principal command groups mounted as `joinedup` mounts them, for in-process CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from joinedup.cli import audit, principal
from joinedup.cli.main import _Commands
from tests.conftest import CliResult

app = typer.Typer(cls=_Commands, no_args_is_help=True)
app.add_typer(audit.app, name="audit")
app.add_typer(principal.app, name="principal")


@app.callback()
def _root() -> None:
    """joinedup (audit and principal groups only)."""


def runner_for(root: Path) -> Callable[..., CliResult]:
    runner = CliRunner()

    def run(*args: Any, user: str = "tester") -> CliResult:
        env = {"JOINEDUP_ESTATE": str(root), "JOINEDUP_USER": user, "COLUMNS": "200"}
        result = runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


def as_json(result: CliResult) -> Any:
    return json.loads(result.stdout)
