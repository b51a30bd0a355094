"""``joinedup serve`` as a real process: it listens on the port it was given, answers, and stops on SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import Shared, bearer, free_port, token_for

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
