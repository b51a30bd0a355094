"""Per-client quotas: a token bucket for each client, in this process's memory.

Each client's bucket holds up to ``burst`` requests and refills at
``per_minute / 60`` a second. A request finding it empty is refused with 429 and
``Retry-After`` (whole seconds until the next request would be allowed).

The buckets live in one process: run ``joinedup serve`` as one process (its
default), or each process enforces the quota on its own (docs/api.md says so).
"""

from __future__ import annotations

import math
import threading
import time


class Quotas:
    def __init__(self, per_minute: int, burst: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client_id: str, *, now: float | None = None) -> int:
        """Take one request from ``client_id``'s bucket: 0 when allowed, else the seconds to wait (at least 1)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            level, last = self._buckets.get(client_id, (self._burst, moment))
            level = min(self._burst, level + (moment - last) * self._rate)
            if level >= 1.0:
                self._buckets[client_id] = (level - 1.0, moment)
                return 0
            self._buckets[client_id] = (level, moment)
        return max(1, math.ceil((1.0 - level) / self._rate))
