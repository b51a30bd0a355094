"""A tiny stand-in for CKAN's Action API (a real CKAN needs Solr): the calls a push makes, held in memory."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Portal:
    token: str = "secret-token"
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    #: An action that answers with a validation error (to test rollback).
    fail_on: str | None = None


def _handler(portal: Portal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            action = self.path.rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            portal.calls.append(action)
            if self.headers.get("Authorization") != portal.token:
                return self._answer(403, {"__type": "Authorization Error", "message": "Access denied"})
            if action == portal.fail_on:
                return self._answer(409, {"__type": "Validation Error", "name": ["bad"]})
            if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                found = re.search(rb'name="package_id"\r\n\r\n([^\r]*)', body)
                data: dict[str, Any] = {"package_id": found.group(1).decode() if found else ""}
                data["name"] = (re.search(rb'name="name"\r\n\r\n([^\r]*)', body) or [b"", b""])[1].decode()
            else:
                data = json.loads(body or b"{}")
            self._act(action, data)

        def _act(self, action: str, data: dict[str, Any]) -> None:
            by_id = {p["id"]: p for p in portal.packages.values()}
            if action == "package_show":
                found = portal.packages.get(data["id"]) or by_id.get(data["id"])
                if found is None:
                    return self._answer(404, {"__type": "Not Found Error", "message": "Not found"})
                return self._answer(200, found)
            if action == "package_create":
                made = {**data, "id": str(uuid.uuid4()), "resources": []}
                portal.packages[data["name"]] = made
                return self._answer(200, made)
            if action == "package_update":
                current = by_id[data["id"]]
                updated = {**data, "resources": data.get("resources", current["resources"])}
                portal.packages[current["name"]] = updated
                return self._answer(200, updated)
            if action == "package_delete":
                name = by_id[data["id"]]["name"]
                del portal.packages[name]
                return self._answer(200, None)
            if action == "resource_create":
                package = by_id[data["package_id"]]
                resource = {"id": str(uuid.uuid4()), "name": data["name"]}
                package["resources"].append(resource)
                return self._answer(200, resource)
            return self._answer(400, {"__type": "Unknown action", "message": action})

        def _answer(self, status: int, result: Any) -> None:
            payload = {"success": status == 200, ("result" if status == 200 else "error"): result}
            text = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    return Handler


@contextmanager
def ckan_portal() -> Iterator[tuple[str, Portal]]:
    portal = Portal()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(portal))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", portal
    finally:
        server.shutdown()
        server.server_close()
