"""Load generation: ``wrk`` for GETs, a sequential keep-alive client for publishes.

Every measurement returns a :class:`Measurement`; ``server_cpu_s`` is the CPU time
the server process used during the measured window (not the warm-up), which shows
how many cores a server actually used.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bench.seed import Publisher
from bench.servers import BenchError, ServerProcess, clean_env

if TYPE_CHECKING:
    from collections.abc import Sequence

LUA_SCRIPT: Final = Path(__file__).with_name("latency.lua")
MARKER: Final = "BENCH_JSON "
WRK_HINT: Final = "install wrk with: apt-get install -y wrk"


@dataclass(frozen=True)
class Measurement:
    """What one server did in one scenario."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_s: float
    error_detail: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def combine(rounds: Sequence[Measurement]) -> Measurement:
    """One server's figures over several rounds of the same scenario.

    Throughput is pooled (all requests over all measured seconds); p50 and p99
    are the medians of the rounds' values; errors and CPU are summed. With the
    rounds alternating which server goes first, a machine that slows down or
    speeds up during the run weighs on both servers alike.
    """
    if not rounds:
        raise ValueError("no rounds to combine")
    if len(rounds) == 1:
        return rounds[0]
    requests = sum(m.requests for m in rounds)
    seconds = sum(m.seconds for m in rounds)
    detail: dict[str, int] = {}
    for m in rounds:
        for kind, count in (m.error_detail or {}).items():
            detail[kind] = detail.get(kind, 0) + count
    return Measurement(
        requests=requests,
        seconds=round(seconds, 3),
        rps=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=round(statistics.median(m.p50_ms for m in rounds), 3),
        p99_ms=round(statistics.median(m.p99_ms for m in rounds), 3),
        errors=sum(m.errors for m in rounds),
        server_cpu_s=round(sum(m.server_cpu_s for m in rounds), 2),
        error_detail=detail or None,
    )


def wrk_path() -> str:
    """Where ``wrk`` is; :class:`BenchError` with the apt-get hint if it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(f"wrk not found; {WRK_HINT}")
    return path


def _wrk(
    url: str,
    *,
    connections: int,
    threads: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    script: Path = LUA_SCRIPT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    argv = [
        wrk_path(),
        f"-t{max(1, min(threads, connections))}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    environment = clean_env() | (env or {})
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
            env=environment,
        )
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"wrk did not finish: {' '.join(argv)}") from err
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line.removeprefix(MARKER))
            return result
    raise BenchError(f"wrk gave no result ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def run_get(
    server: ServerProcess,
    path: str,
    *,
    connections: int,
    threads: int,
    warmup: int,
    duration: int,
    headers: dict[str, str] | None = None,
    script: Path = LUA_SCRIPT,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Warm up for ``warmup`` s, then measure ``duration`` s of GETs of ``path``.

    ``script``/``env``: another wrk Lua script (it must report like latency.lua)
    and the environment variables it reads.
    """
    url = server.url + path
    options: dict[str, Any] = {"headers": headers, "script": script, "env": env}
    if warmup > 0:
        _wrk(url, connections=connections, threads=threads, seconds=warmup, **options)
    cpu_before = server.cpu_seconds()
    raw = _wrk(url, connections=connections, threads=threads, seconds=duration, **options)
    return measurement(raw, server.cpu_seconds() - cpu_before)


def measurement(raw: dict[str, Any], server_cpu_s: float) -> Measurement:
    """A :class:`Measurement` from one wrk run's figures and the server's CPU seconds."""
    seconds = raw["duration_us"] / 1e6
    errors: dict[str, int] = raw["errors"]
    return Measurement(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        errors=sum(errors.values()),
        server_cpu_s=round(server_cpu_s, 2),
        error_detail=errors,
    )


def run_publishes(
    publisher: Publisher, *, warmup: int, count: int, max_seconds: float
) -> Measurement:
    """Post ``warmup`` untimed updates, then up to ``count`` timed ones (``max_seconds`` cap).

    The publisher must have been prepared with at least ``warmup + count`` updates.
    """
    updates = iter(publisher.updates)
    for _ in range(warmup):
        publisher.post(*next(updates))
    latencies: list[float] = []
    cpu_before = publisher.server.cpu_seconds()
    start = time.perf_counter()
    deadline = start + max_seconds
    for body, content_type in updates:
        if len(latencies) >= count or time.perf_counter() > deadline:
            break
        latencies.append(publisher.post(body, content_type))
    elapsed = time.perf_counter() - start
    cpu = publisher.server.cpu_seconds() - cpu_before
    publisher.close()
    if not latencies:
        raise BenchError(f"{publisher.server.label}: no publish completed")
    return Measurement(
        requests=len(latencies),
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 3),
        p99_ms=round(percentile(latencies, 99) * 1000, 3),
        errors=0,
        server_cpu_s=round(cpu, 2),
    )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (what wrk's histogram reports, too)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
