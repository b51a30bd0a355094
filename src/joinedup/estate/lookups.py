"""One-row catalogue lookups for a server's hot path, without a pool checkout per query.

A partner's read through the API asks the catalogue two small questions every
time (is the client still allowed; has anything a held view depends on changed).
Through SQLAlchemy each question cost a pool checkout and a rollback on return,
three times the query itself. On SQLite each thread here keeps one plain
connection of its own, in autocommit and ``query_only`` mode: every SELECT is its
own read transaction, so it sees everything committed before it (WAL), and the
connection can write nothing. Other catalogues (PostgreSQL) go through the
engine as before, since a held connection there would sit idle in a transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import sqlalchemy as sa

from joinedup.errors import BusyError
from joinedup.estate.db import LOCKED


class Lookups:
    """``lookups.one(sql, params)``: the first row of a read-only query written with ``?`` placeholders, or None."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        database = engine.url.database
        self._path = database if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") else None
        self._local = threading.local()
        self._held: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._path is None:
            return self._through_engine(sql, params)
        connection = self._connection()
        try:
            row = connection.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            if "database is locked" in str(exc):
                raise BusyError(LOCKED) from None
            raise
        return None if row is None else tuple(row)

    def close(self) -> None:
        """Close every thread's connection (the estate is being closed)."""
        with self._lock:
            held, self._held = self._held, []
        for connection in held:
            connection.close()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            assert self._path is not None
            # check_same_thread=False only so close() may run on another thread; each thread uses its own.
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            with self._lock:
                self._held.append(connection)
            self._local.connection = connection
        return connection

    def _through_engine(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql if connection.dialect.paramstyle == "qmark" else sql.replace("?", "%s"), params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        return None if row is None else tuple(row)
