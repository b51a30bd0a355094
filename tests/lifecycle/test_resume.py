"""kill -9 mid-erasure, then a re-run: the job finishes and invariant 2 holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from joinedup.lifecycle import STEPS
from tests.lifecycle.conftest import NAME, NHS, Planted
from tests.lifecycle.oracle import occurrences

ROOT = Path(__file__).resolve().parents[2]

_KILLER = """
import os, signal, sys
from pathlib import Path
from joinedup.estate import Estate
from joinedup.lifecycle import erasure
from joinedup.storage import delta

where = sys.argv[2]
if where == "mid-rewrite":
    # Killed between the Delta delete and its catalogue commit.
    real = delta.delete_rows
    def dying(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    delta.delete_rows = dying
else:
    erasure.after_step = lambda name: os.kill(os.getpid(), signal.SIGKILL) if name == where else None
erasure.approve(Estate.open(Path(sys.argv[1])), "dan", [1])
"""


@pytest.mark.parametrize("where", ["mid-rewrite", *(name for name, _ in STEPS[:-2])])
def test_a_killed_erasure_is_finished_by_running_it_again(planted: Planted, where: str) -> None:
    cli = planted.cli
    cli("request", "open", "erasure", "--nhs-number", NHS, "--name", NAME, "--received", "2026-11-30", user="dora")
    cli("subject", "find", "R1", user="dora")
    cli("subject", "erase", "R1", user="dora")
    planted.estate.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLER), str(planted.estate.root), where],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    finished = cli("subject", "erase", "R1", "--approve", "--json", user="dan")
    assert finished.exit_code == 0, finished.stderr
    assert finished.json()["certificate"]["verification"]["clean"]
    planted.estate.close()
    assert occurrences(planted.estate.root, [NHS, "943 476 5919", NAME]) == []
    rows = cli("query", "SELECT count(*) AS n FROM people", "--json").json()
    assert rows == [{"n": 5}]
