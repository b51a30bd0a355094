"""Starting the API: who may (``api.serve``), and the audit entry that says it began listening, and where.

The sockets are bound here, before uvicorn runs: the entry is committed once the
address is really listening (a port in use records nothing) and before a single
request is answered (connections wait in the socket's queue until uvicorn accepts
them).
"""

from __future__ import annotations

import socket

from joinedup.access import Principal, authorize
from joinedup.audit import record_now
from joinedup.errors import AccessDenied, InputError
from joinedup.estate import Estate
from joinedup.sharing.clients import KIND as CLIENT_KIND

SERVE = "api.serve"
_BACKLOG = 2048


def allowed(estate: Estate, who: Principal) -> str:
    """``who``'s name when it may serve the API; else :class:`AccessDenied` (itself on the trail)."""
    try:
        return authorize(estate, who.name, SERVE).name
    except AccessDenied:
        if who.kind == CLIENT_KIND:
            # A partner client runs no command (docs/sharing.md): it reads through the API, it does not run it.
            raise AccessDenied(
                f"{who.name} is a partner client; it reads through the API and cannot serve it"
            ) from None
        raise


def listen(estate: Estate, who: Principal, host: str, port: int) -> list[socket.socket]:
    """Sockets listening on ``host``:``port`` for ``who``, once allowed to serve and recorded as ``api.serve``.

    A refusal is :class:`AccessDenied` (itself on the trail, as every refusal is); an address that cannot be listened
    on is :class:`InputError`, with nothing recorded. The caller hands the sockets to uvicorn, which closes them.
    Make the app first (see ``joinedup serve``): an estate it cannot run on must fail before the start is recorded.
    """
    actor = allowed(estate, who)
    sockets = _bind(host, port)
    try:
        addresses = [_shown(made.getsockname()) for made in sockets]
        record_now(estate, principal=actor, action=SERVE, detail={"host": host, "port": port, "addresses": addresses})
    except BaseException:
        _close(sockets)
        raise
    return sockets


def _bind(host: str, port: int) -> list[socket.socket]:
    """One listening socket per address ``host`` names (as asyncio's ``create_server`` binds them)."""
    where = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise InputError(f"cannot listen on {where}: {exc.strerror or 'the address is not known'}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, address in dict.fromkeys((f, k, p, a) for f, k, p, _, a in found):
            made = socket.socket(family, kind, proto)
            sockets.append(made)
            made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # As asyncio does: an IPv6 socket takes IPv6 only, so it does not clash with the IPv4 one.
                made.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            made.bind(address)
            made.listen(_BACKLOG)
    except OSError as exc:
        _close(sockets)
        raise InputError(f"cannot listen on {where}: {exc.strerror or 'the address is not available'}") from None
    return sockets


def _shown(address: tuple[object, ...] | str) -> str:
    if isinstance(address, str):
        return address
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _close(sockets: list[socket.socket]) -> None:
    for made in sockets:
        made.close()
