"""Quotas: token buckets in this process's memory, one per client, and one per address for requests without a token.

Each bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a
second. A request finding it empty is refused with 429 and ``Retry-After``
(whole seconds until the next request would be allowed).

The buckets live in one process: run ``joinedup serve`` as one process (its
default), or each process enforces the quota on its own (docs/api.md says so).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

#: The bucket every key shares while the table is full of buckets still refilling (a flood from many addresses).
OVERFLOW = "(overflow)"


class Quotas:
    def __init__(self, per_minute: int, burst: int, *, max_keys: int | None = None) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._pruned = -math.inf

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, *, now: float | None = None) -> int:
        """Take one request from ``key``'s bucket: 0 when allowed, else the seconds to wait (at least 1)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            key = self._room_for(key, moment)
            level, last = self._buckets.get(key, (self._burst, moment))
            level = min(self._burst, level + (moment - last) * self._rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, moment)
                return 0
            self._buckets[key] = (level, moment)
        return max(1, math.ceil((1.0 - level) / self._rate))

    def give_back(self, key: str) -> None:
        """Return a request taken from ``key``'s bucket (it turned out not to count against it)."""
        with self._lock:
            found = self._buckets.get(key)
            if found is not None:
                self._buckets[key] = (min(self._burst, found[0] + 1.0), found[1])

    def _room_for(self, key: str, moment: float) -> str:
        """``key``, or :data:`OVERFLOW` when the table is at ``max_keys`` and ``key`` has no bucket yet."""
        if self._max_keys is None or key in self._buckets or len(self._buckets) < self._max_keys:
            return key
        # A bucket refilled to the brim is the same as none: forget those (a scan, at most once a second).
        if moment - self._pruned >= 1.0:
            self._pruned = moment
            full = [
                k for k, (level, last) in self._buckets.items() if level + (moment - last) * self._rate >= self._burst
            ]
            for k in full:
                del self._buckets[k]
            if len(self._buckets) < self._max_keys:
                return key
        return OVERFLOW


def address_key(host: str | None) -> str:
    """The bucket of a remote address: the address itself, or for IPv6 its /64 (one site's share of addresses)."""
    if not host:
        return "(unknown)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def remote_address(scope: Mapping[str, Any]) -> str:
    """The bucket of an ASGI request's remote address (as uvicorn gives it: a trusted proxy's header, if any)."""
    client = scope.get("client")
    return address_key(client[0] if client else None)
