"""Where linkage keeps its results: Delta tables of pairs and keys per entity, and catalogue tables.

``linkage/<entity>/pairs`` holds every scored pair kept (above
:data:`joinedup.linkage.engine.KEEP_FROM`) with its per-comparison match
weights; ``linkage/<entity>/keys`` holds every linked record's key. Runs,
models, key history and review decisions are catalogue rows (migration 0006).
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from joinedup.errors import BusyError, EstateError
from joinedup.estate import Estate
from joinedup.estate.db import UTCDateTime

_meta = sa.MetaData()

runs = sa.Table(
    "linkage_runs", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(16)),
    sa.Column("at", UTCDateTime()),
    sa.Column("principal", sa.String(255)),
    sa.Column("datasets", sa.JSON),
    sa.Column("threshold", sa.Float),
    sa.Column("incremental", sa.Boolean),
    sa.Column("summary", sa.JSON),
)  # fmt: skip
models = sa.Table(
    "linkage_models", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(16)),
    sa.Column("run_id", sa.Integer),
    sa.Column("roles", sa.JSON),
    sa.Column("model", sa.JSON),
)  # fmt: skip
history = sa.Table(
    "linkage_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(16)),
    sa.Column("run_id", sa.Integer),
    sa.Column("event", sa.String(16)),
    sa.Column("key", sa.String(64)),
    sa.Column("others", sa.JSON),
    sa.Column("reason", sa.Text),
)  # fmt: skip
reviews = sa.Table(
    "linkage_reviews", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(16)),
    sa.Column("dataset_l", sa.String(63)),
    sa.Column("id_l", sa.Text),
    sa.Column("dataset_r", sa.String(63)),
    sa.Column("id_r", sa.Text),
    sa.Column("decision", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("principal", sa.String(255)),
    sa.Column("at", UTCDateTime()),
)  # fmt: skip


def linkage_dir(estate: Estate, entity: str) -> Path:
    return estate.root / "linkage" / entity


def pairs_path(estate: Estate, entity: str) -> Path:
    return linkage_dir(estate, entity) / "pairs"


def keys_path(estate: Estate, entity: str) -> Path:
    return linkage_dir(estate, entity) / "keys"


@contextmanager
def lock(estate: Estate, entity: str, *, wait: bool = False) -> Iterator[None]:
    """Hold ``entity``'s linkage lock: one run (or erasure of linkage outputs) at a time.

    A run reads the last keys and pairs early and rewrites them at the end: two runs at once would
    each drop the other's work, and an erasure in between would be undone by the run's rewrite.
    A second run is refused; an erasure (``wait``) waits for the run to finish.
    """
    # Beside the datasets' locks (a name no dataset can have), so a refused run leaves nothing behind.
    with open(estate.root / "locks" / f"linkage-{entity}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"a {entity} linkage run is under way in this estate; try again when it finishes") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def written(path: Path) -> bool:
    """Whether linkage has written a Delta table at ``path`` (every run writes both of an entity's tables)."""
    return (path / "_delta_log").is_dir()


def read(path: Path) -> pa.Table | None:
    """The current Delta table at ``path``, or None when linkage has not written it yet.

    A table whose files were removed or damaged is one clear error, never an unexpected crash: every
    linkage command, and erasure, would otherwise stop there with a traceback.
    """
    try:
        return DeltaTable(str(path)).to_pyarrow_table()
    except TableNotFoundError:
        return None
    except (OSError, DeltaError, pa.ArrowException) as exc:
        raise EstateError(
            f"linkage results {path.parent.name}/{path.name} cannot be read ({type(exc).__name__}): "
            "files under it were removed or damaged; restore the estate folder from a backup"
        ) from None


def replace(path: Path, table: pa.Table) -> None:
    """Make ``table`` the whole content at ``path``, as a fresh Delta table with no older versions.

    Written beside the old one and swapped in, so a failure leaves the old one;
    nothing removed (an erased record, a superseded key) survives in an old
    version or file. No column statistics: ids and keys are personal data.
    """
    from deltalake import ColumnProperties, WriterProperties

    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    write_deltalake(
        str(fresh),
        table,
        mode="overwrite",
        configuration={"delta.dataSkippingNumIndexedCols": "0"},
        writer_properties=WriterProperties(
            compression="ZSTD", default_column_properties=ColumnProperties(statistics_enabled="NONE")
        ),
    )
    old = path.with_name(path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    fresh.rename(path)
    shutil.rmtree(old, ignore_errors=True)
