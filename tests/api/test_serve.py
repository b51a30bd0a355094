"""``joinedup serve`` as a real process: it listens on the port it was given, answers, and stops on SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from joinedup.access import add_principal
from joinedup.api.serving import listen
from joinedup.api.tokens import TOKEN_KEY_FILE, token_key
from joinedup.audit import log, verify
from tests.api.conftest import ADMIN, Shared, bearer, free_port, token_for

ROOT = Path(__file__).resolve().parents[2]


def test_serve_runs_the_api_in_its_own_process(shared: Shared) -> None:
    port = free_port()
    env = {**os.environ, "JOINEDUP_USER": "dana", "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "joinedup.cli.main", "serve", "--port", str(port), "--estate", str(shared.root)]
    command.append("--json")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] and lines[-1].rstrip() != "}":
            lines.append(process.stdout.readline())
        started = json.loads("".join(lines))
        assert started["serving"] == f"http://127.0.0.1:{port}/v1"
        # The start is on the trail once it listens, before it serves: committed before that line was printed.
        [entry] = log(shared.estate, action="api.serve")
        assert entry.principal == "dana"
        assert entry.detail == {"host": "127.0.0.1", "port": port, "addresses": [f"127.0.0.1:{port}"]}
        assert verify(shared.estate).ok
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{url}/v1/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        with httpx.Client(base_url=url, timeout=30) as http:
            token = token_for(http, shared.client_id, shared.secret)
            assert http.get("/v1/datasets/people/records", headers=bearer(token)).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    # Stopped as Ctrl+C stops a program (130), after a graceful shutdown: no traceback.
    assert process.returncode in (0, 130)
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")


def _serve_as(shared: Shared, user: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOINEDUP_USER": user, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "joinedup.cli.main", "serve", "--port", str(port), "--estate", str(shared.root)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_serve_refuses_an_analyst_in_one_line_on_the_trail(shared: Shared) -> None:
    add_principal(shared.estate, ADMIN, "alice", "analyst", datasets=["people"])
    port = free_port()
    done = _serve_as(shared, "alice", port)
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: alice (analyst of people) may not serve the API over the estate; needs admin or dpo"
    ]
    [refusal] = log(shared.estate, action="access.denied")
    assert (refusal.principal, refusal.detail["attempted"]) == ("alice", "api.serve")
    assert log(shared.estate, action="api.serve") == []
    # Nothing was left listening.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)


def test_serve_on_an_address_in_use_is_one_line_and_records_no_start(shared: Shared) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        done = _serve_as(shared, ADMIN, port)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot listen on 127.0.0.1:{port}: "), line
    assert log(shared.estate, action="api.serve") == []


def test_serve_over_an_estate_the_api_cannot_run_on_records_no_start(shared: Shared) -> None:
    token_key(shared.estate)
    key = shared.root / "keys" / TOKEN_KEY_FILE
    os.chmod(key, 0o644)  # the API refuses a token key others can read
    try:
        done = _serve_as(shared, ADMIN, free_port())
    finally:
        os.chmod(key, 0o600)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "readable by others" in line, line
    # It never answered a request: the trail must not say it started serving.
    assert log(shared.estate, action="api.serve") == []


def test_a_dpo_may_serve_and_the_start_names_them(shared: Shared) -> None:
    dpo = add_principal(shared.estate, ADMIN, "dora", "dpo")
    port = free_port()
    sockets = listen(shared.estate, dpo, "localhost", port)
    try:
        bound = sorted(str(s.getsockname()[0]) for s in sockets)
        assert "127.0.0.1" in bound
        [entry] = log(shared.estate, action="api.serve")
        assert entry.principal == "dora"
        assert entry.detail["host"] == "localhost" and entry.detail["port"] == port
        assert len(entry.detail["addresses"]) == len(sockets)
    finally:
        for made in sockets:
            made.close()


def test_serve_refuses_an_unregistered_principal_in_one_line(shared: Shared) -> None:
    env = {**os.environ, "JOINEDUP_USER": "nobody", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "joinedup.cli.main", "serve", "--port", str(free_port()), "--estate", str(shared.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "nobody" in done.stderr


def test_serve_refuses_a_partner_clients_principal_in_one_line(shared: Shared) -> None:
    # A partner client runs no command (docs/sharing.md): it reads through the API, it does not run it.
    env = {**os.environ, "JOINEDUP_USER": "uni-a", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "joinedup.cli.main", "serve", "--port", str(free_port()), "--estate", str(shared.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 3, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "partner client" in done.stderr
