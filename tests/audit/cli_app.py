"""The audit tests' names for the one CLI harness in tests/conftest.py (the whole `joinedup` app)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import CliResult
from tests.conftest import cli_runner as runner_for

__all__ = ["as_json", "runner_for"]


def as_json(result: CliResult) -> Any:
    return json.loads(result.stdout)
