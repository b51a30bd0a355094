"""Scratch folders under the estate's ``tmp/``: one per running ingest or query, named with its process id.

A process that is killed (SIGKILL, SIGTERM, a power cut) cannot remove its own
folder, and a query's may hold DuckDB's spill files: the next ingest or query
removes the folders whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: What the folders of ingests and queries start with: ``ingest-<pid>-...``, ``query-<pid>-...``.
KINDS = ("ingest", "query")


def new_folder(tmp_dir: Path, kind: str) -> Path:
    """A new, empty scratch folder of this process for ``kind`` of work, after clearing any left by dead ones."""
    assert kind in KINDS
    remove_stale(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=tmp_dir))


def remove_stale(tmp_dir: Path) -> None:
    """Delete scratch folders left by ingests and queries whose process is gone."""
    if not tmp_dir.exists():
        return
    for kind in KINDS:
        for entry in tmp_dir.glob(f"{kind}-*"):
            try:
                pid = int(entry.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if not _alive(pid):
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
