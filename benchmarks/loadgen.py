"""A small HTTP/1.1 load generator on raw asyncio sockets (keep-alive), for benchmarks/api.py.

Two modes, both recording each request's latency:

- closed loop (:func:`throughput`): ``concurrency`` connections, each sending its
  next request as soon as the last answer arrives, for ``seconds``;
- open loop (:func:`fixed_rate`): requests scheduled at ``rate`` a second
  whatever the server does, latency measured from the scheduled time (so a
  stalled server shows as latency rather than as fewer requests).

Raw sockets rather than an HTTP client library: on a 2-core machine the load
generator shares the CPU with the server, and it should cost as little as it can.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            if not ordered:
                return float("nan")
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

        return {
            "requests": len(ordered),
            "errors": self.errors,
            "statuses": self.statuses,
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(len(ordered) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(ordered[-1] * 1000, 2) if ordered else float("nan"),
        }


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            # The server closed a kept-alive connection while it sat idle (uvicorn's keep-alive timeout):
            # as HTTP clients do with a stale pooled connection, send the GET again on a new one.
            self.close()
            return await self._get(path)

    async def _get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lowered = name.strip().lower()
            if lowered == "content-length":
                length = int(value.strip())
            elif lowered == "connection" and value.strip().lower() == "close":
                closing = True
        body = await self.reader.readexactly(length) if length else b""
        if closing:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _note(result: Result, status: int) -> None:
    result.statuses[status] = result.statuses.get(status, 0) + 1
    if status != 200:
        result.errors += 1


async def throughput(
    host: str, port: int, paths: Callable[[int], str], headers: dict[str, str], concurrency: int, seconds: float
) -> Result:
    result = Result()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        connection = Connection(host, port, headers)
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status, _ = await connection.get(paths(next(counter)))
                result.latencies.append(time.perf_counter() - began)
                _note(result, status)
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return result


async def fixed_rate(
    host: str, port: int, paths: Callable[[int], str], headers: dict[str, str], rate: float, seconds: float
) -> Result:
    result = Result()
    idle: list[Connection] = []
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = idle.pop() if idle else Connection(host, port, headers)
        status, _ = await connection.get(paths(i))
        result.latencies.append(time.perf_counter() - scheduled)
        _note(result, status)
        idle.append(connection)

    await asyncio.gather(*(one(i) for i in range(total)))
    result.seconds = time.perf_counter() - start
    for connection in idle:
        connection.close()
    return result
