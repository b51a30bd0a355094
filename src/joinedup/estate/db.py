"""The catalogue database: SQLAlchemy engine, declarative base, migrations.

SQLite (inside the estate) is the embedded default; PostgreSQL is the same
schema under another URL. Alembic owns the schema: every change is a revision
in ``migrations/versions``, applied by :func:`migrate`.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from joinedup.errors import BusyError, EstateError

if TYPE_CHECKING:  # alembic is imported only when a migration runs: importing it slows every command
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalogue; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


def now() -> datetime:
    return datetime.now(UTC)


#: The one line a user sees when another process kept the catalogue's write lock past the busy timeout.
LOCKED = "the catalogue is locked by another process; try again"


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "handle_error", _locked_is_busy)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on a lock another process holds (after the busy timeout)."""
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return isinstance(original, sqlite3.OperationalError) and "database is locked" in str(original)


def _locked_is_busy(context: sa.engine.ExceptionContext) -> None:
    # Waiting out another writer is something a user can put right by trying again, not a bug to report.
    if is_locked(context.original_exception):
        raise BusyError(LOCKED) from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer. synchronous=FULL: a commit that
    # returned is on disk, because the catalogue commit is what makes an
    # ingest version exist.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Freed pages are overwritten, so deleted catalogue rows do not linger in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def alembic_config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped: files are numbered in order, and each names its revision id."""
    return _revisions()[-1]


@functools.cache
def _revisions() -> tuple[str, ...]:
    """Every revision shipped, oldest first (read once a process: every estate opened asks for the newest)."""
    files = sorted((MIGRATIONS / "versions").glob("[0-9]*_*.py"), key=lambda path: path.name.split("_", 1)[0])
    found = [re.search(r'^revision = "([^"]+)"', f.read_text(encoding="utf-8"), re.MULTILINE) for f in files]
    assert all(found), "a migration names no revision"
    return tuple(m.group(1) for m in found if m)


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the catalogue schema up to ``revision`` (idempotent).

    An estate already at the newest revision is recognised without loading
    Alembic, which keeps every command's start-up quick. An estate a newer
    joinedup has upgraded is refused in one line: this one cannot know its tables.
    """
    current = current_revision(engine)
    if revision == "head" and current == head_revision():
        return
    if current is not None and current not in _revisions():
        from joinedup import __version__

        raise EstateError(
            f"the estate's catalogue is at revision {current!r}, which joinedup {__version__} does not know: a newer "
            "joinedup has upgraded it; open it with that version or newer"
        )
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine: sa.Engine) -> str | None:
    """The catalogue's revision, or None for a new or empty database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
