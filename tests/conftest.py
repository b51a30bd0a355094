"""Shared fixtures: a fresh estate per test, files written on the fly, and the CLI."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from joinedup.access import bootstrap_admin
from joinedup.cli.main import app
from joinedup.estate import Estate

PEOPLE_SCHEMA = """
title: People
fields:
  - name: person_id
    type: integer
    constraints: {required: true}
  - name: name
    type: string
    format: person_name
    personal: true
    category: name
    constraints: {required: true}
  - name: nhs_number
    type: nhs_number
    personal: true
    category: identifier
  - name: postcode
    type: postcode
    personal: true
    category: address
  - name: date_of_birth
    type: date
    personal: true
    category: date_of_birth
    constraints: {maximum: "2026-01-01"}
  - name: sex
    type: string
    constraints: {enum: [M, F, X, U]}
primaryKey: [person_id]
"""


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOINEDUP_ESTATE", "JOINEDUP_CATALOGUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOINEDUP_USER", "tester")


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    made = Estate.create(tmp_path / "estate")
    bootstrap_admin(made, "tester")
    yield made
    made.close()


@pytest.fixture
def people_schema(tmp_path: Path) -> Path:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE_SCHEMA, encoding="utf-8")
    return path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write CSV text exactly as given (with CRLF line ends, as RFC 4180 has them)."""
    path.write_bytes((text.strip("\n").replace("\n", "\r\n") + "\r\n").encode(encoding))
    return path


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_runner(root: Path) -> Callable[..., CliResult]:
    """Run `joinedup` commands against the estate at ``root``, in-process: the one CLI test harness.

    ``user`` acts as that principal (``JOINEDUP_USER``); ``estate_path`` points one command elsewhere.
    """
    runner = CliRunner()

    def run(*args: Any, user: str = "tester", estate_path: Path | None = None) -> CliResult:
        argv = [str(a) for a in args]
        env = {"JOINEDUP_ESTATE": str(estate_path or root), "JOINEDUP_USER": user, "COLUMNS": "200"}
        result = runner.invoke(app, argv, env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def cli(estate: Estate) -> Callable[..., CliResult]:
    """Run a joinedup command against the test estate, in-process."""
    return cli_runner(estate.root)


def postgres_url() -> str | None:
    """The test PostgreSQL URL when the server answers, else None (tests then skip saying so)."""
    url = os.environ.get("JOINEDUP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=2):
            return url
    except Exception:
        return None


@contextmanager
def postgres_catalogue(prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL schema of the test's own, ``$JOINEDUP_CATALOGUE_URL`` pointing at it; dropped afterwards.

    Yields the scoped URL. Skips, saying why, when no test server answers.
    """
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL test server not reachable (postgres@127.0.0.1:5432/test, or $JOINEDUP_TEST_POSTGRES)")
    schema = f"jd_{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as con:
        con.exec_driver_sql(f"CREATE SCHEMA {schema}")
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("JOINEDUP_CATALOGUE_URL", scoped)
    try:
        yield scoped
    finally:
        with admin.begin() as con:
            con.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
