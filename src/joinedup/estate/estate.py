"""The estate: one folder holding a body's datasets, catalogue, keys and settings.

Layout (see docs/estate.md)::

    joinedup.toml      settings
    catalogue.db       catalogue (SQLite by default; see [catalogue] url)
    keys/              estate secret (0600) and, later, signing keys
    data/<dataset>/    table/ and quarantine/ Delta Lake tables
    locks/             one lock file per dataset, held while it is written
    tmp/               DuckDB spill space and staged inputs; safe to empty
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.errors import BusyError, EstateError
from joinedup.estate.config import CONFIG_FILE, EstateConfig
from joinedup.estate.db import create_engine, migrate, now
from joinedup.estate.lookups import Lookups

SECRET_FILE = "estate.secret"
#: Dataset names are SQL identifiers (each dataset is a view of that name in `query`).
DATASET_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass
class Estate:
    root: Path
    config: EstateConfig
    _engine: sa.Engine | None = field(default=None, repr=False)
    _lookups: Lookups | None = field(default=None, repr=False)

    # -- creating and opening -------------------------------------------------

    @classmethod
    def create(cls, root: Path, *, name: str | None = None) -> Estate:
        """Make a new estate at ``root``: folders, settings, secret and catalogue."""
        root = root.expanduser().absolute()
        if (root / CONFIG_FILE).exists():
            raise EstateError(f"{root}: an estate already exists here")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise EstateError(f"{root}: exists and is not an empty folder; choose a new path")
        created_root = not root.exists()
        try:
            root.mkdir(parents=True, exist_ok=True)
            # Private to its owner: the data, the quarantine and the catalogue (with the
            # audit log) are readable only through joinedup, which checks roles.
            root.chmod(0o700)
            for sub in ("data", "locks", "tmp"):
                (root / sub).mkdir()
            keys = root / "keys"
            keys.mkdir(mode=0o700)
            _write_private(keys / SECRET_FILE, secrets.token_hex(32) + "\n")
            config = EstateConfig(name=name or root.name, created=now().isoformat())
            estate = cls(root, config)
            migrate(estate.engine)
            # The settings file goes last: its presence is what makes this an estate.
            config.save(root)
        except BaseException:
            if created_root:
                shutil.rmtree(root, ignore_errors=True)
            raise
        return estate

    @classmethod
    def open(cls, root: Path) -> Estate:
        root = root.expanduser().absolute()
        if not root.is_dir():
            raise EstateError(f"{root}: no estate here; run `joinedup init {root}` to make one")
        estate = cls(root, EstateConfig.load(root))
        # Cheap when already current; brings an estate made by an older joinedup up to date.
        migrate(estate.engine)
        return estate

    def close(self) -> None:
        if self._lookups is not None:
            self._lookups.close()
            self._lookups = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- paths ----------------------------------------------------------------

    def contains(self, path: Path) -> bool:
        """Whether ``path`` is the estate folder or lies under it (``~`` and symlinks resolved).

        Reports, releases, extracts, archives and link outputs must be written outside:
        files under the estate belong to no dataset, so erasure, retention and audit
        would not account for them while erasure's byte scan would still find them.
        """
        return is_inside(self.root, path)

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def dataset_dir(self, name: str) -> Path:
        check_dataset_name(name)
        return self.data_dir / name

    def table_path(self, name: str) -> Path:
        return self.dataset_dir(name) / "table"

    def quarantine_path(self, name: str) -> Path:
        return self.dataset_dir(name) / "quarantine"

    # -- secret ---------------------------------------------------------------

    @property
    def secret(self) -> bytes:
        """The estate's secret key (for keyed hashes of people in the audit log)."""
        path = self.keys_dir / SECRET_FILE
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise EstateError(f"{path}: the estate secret is missing") from None
        if path.stat().st_mode & 0o077:
            raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
        return bytes.fromhex(text)

    # -- catalogue ------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_engine(self.catalogue_url)
        return self._engine

    @property
    def lookups(self) -> Lookups:
        """One-row read-only catalogue queries for hot paths (see :mod:`joinedup.estate.lookups`)."""
        if self._lookups is None:
            self._lookups = Lookups(self.engine)
        return self._lookups

    @property
    def catalogue_url(self) -> str:
        url = os.environ.get("JOINEDUP_CATALOGUE_URL") or self.config.catalogue_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            url = prefix + str(self.root / url[len(prefix) :])
        return url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A catalogue transaction: committed when the block ends, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # -- locking --------------------------------------------------------------

    @contextmanager
    def lock(self, dataset: str) -> Iterator[None]:
        """Hold the dataset's write lock; a second writer is refused, not queued."""
        path = self.root / "locks" / f"{check_dataset_name(dataset)}.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BusyError(
                    f"dataset {dataset!r} is being written by another process; try again when it finishes"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path`` is ``root`` or lies under it, both resolved (for a root not yet opened as an estate)."""
    return path.expanduser().resolve().is_relative_to(root.expanduser().resolve())


def check_dataset_name(name: str) -> str:
    """``name`` when it can be a dataset's name: it becomes a view in queries, so it must be a plain SQL name."""
    if not DATASET_NAME.fullmatch(name):
        raise EstateError(
            f"dataset name {name!r}: expected lower-case letters, digits "
            "and underscores, starting with a letter (at most 63)"
        )
    if name in RESERVED_WORDS or name in _CATALOG_NAMES or name.startswith(_SYSTEM_PREFIXES):
        raise EstateError(
            f"dataset name {name!r}: a word SQL or DuckDB keeps for itself; choose another (e.g. {name}_data)"
        )
    return name


#: Schemas and catalogs DuckDB names itself, and prefixes of its own tables and views.
_CATALOG_NAMES = frozenset({"main", "information_schema", "pg_catalog", "temp", "memory", "system"})
_SYSTEM_PREFIXES = ("duckdb_", "pg_", "sqlite_")


#: DuckDB's reserved keywords (``duckdb_keywords()``, category ``reserved``); a test
#: checks this against the installed DuckDB, so an upgrade that changes them is noticed.
RESERVED_WORDS = frozenset(
    {
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "default",
        "deferrable",
        "desc",
        "describe",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lambda",
        "lateral",
        "leading",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "pivot",
        "pivot_longer",
        "pivot_wider",
        "placing",
        "primary",
        "qualify",
        "references",
        "returning",
        "select",
        "show",
        "some",
        "summarize",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "unpivot",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    }
)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
