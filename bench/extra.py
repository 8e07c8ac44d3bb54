"""Issue #8's larger scenarios: many repositories, parallel publishes, large targets files.

* :func:`seed_scale` copies the seeded repository's current timestamp and
  snapshot under ``count`` more GUNs, straight into the database (both servers
  read Go's schema), so that a GET can pick one at random among 100,000;
  :func:`random_gun_script` is the wrk script that does the picking.
* :func:`run_parallel_publishes` runs one sequential publisher per repository,
  all at once, and reports the aggregate rate and the per-request latencies.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import TYPE_CHECKING, Final

import asyncpg

from bench.loadgen import LUA_SCRIPT, Measurement, percentile
from bench.servers import BenchError

if TYPE_CHECKING:
    from pathlib import Path

    from bench.seed import Publisher
    from bench.servers import ServerProcess

SCALE_PREFIX: Final = "bench.example.com/scale/"

_COPY_CURRENT: Final = """
INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256)
SELECT f.created_at, f.updated_at, $2 || g, f.role, f.version, f.data, f.sha256
FROM tuf_files f, generate_series(1, $3::integer) AS g
WHERE f.gun = $1 AND f.role IN ('timestamp', 'snapshot')
  AND f.version = (SELECT max(version) FROM tuf_files m WHERE m.gun = $1 AND m.role = f.role)
"""


def seed_scale(server: ServerProcess, gun: str, count: int) -> None:
    """Copy ``gun``'s current timestamp and snapshot to ``SCALE_PREFIX`` 1..``count``."""

    async def copy() -> None:
        conn = await asyncpg.connect(server.db_url)
        try:
            await conn.execute(_COPY_CURRENT, gun, SCALE_PREFIX, count)
            # Settle the bulk insert now (statistics, hint bits, dirty pages), so
            # that neither server is measured while the database catches up.
            await conn.execute("VACUUM (ANALYZE) tuf_files")
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    if server.backend != "postgres":
        raise BenchError(f"{server.label}: scale seeding needs PostgreSQL")
    asyncio.run(copy())


def random_gun_script(workdir: Path) -> Path:
    """A wrk script GETting ``$BENCH_PREFIX<random 1..$BENCH_GUNS>/_trust/tuf/timestamp.json``."""
    script = workdir / "random_gun.lua"
    script.write_text(
        'local prefix = "/v2/" .. os.getenv("BENCH_PREFIX")\n'
        'local guns = tonumber(os.getenv("BENCH_GUNS"))\n'
        "math.randomseed(os.time())\n"
        'local suffix = "/_trust/tuf/timestamp.json"\n'
        "request = function()\n"
        '  return wrk.format("GET", prefix .. math.random(1, guns) .. suffix)\n'
        "end\n" + LUA_SCRIPT.read_text()
    )
    return script


def run_parallel_publishes(
    publishers: list[Publisher], *, warmup: int, count: int, max_seconds: float
) -> Measurement:
    """Each publisher posts ``warmup`` untimed then up to ``count`` timed updates, all at once."""
    for publisher in publishers:
        for body, content_type in publisher.updates[:warmup]:
            publisher.post(body, content_type)
    server = publishers[0].server
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(len(publishers) + 1)
    deadline = time.perf_counter() + max_seconds + 30

    def worker(publisher: Publisher) -> None:
        start_gate.wait()
        try:
            mine = _post_until(publisher, publisher.updates[warmup : warmup + count], deadline)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(p,)) for p in publishers]
    for thread in threads:
        thread.start()
    cpu_before = server.cpu_seconds()
    start_gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max_seconds + 60)
    elapsed = time.perf_counter() - start
    cpu = server.cpu_seconds() - cpu_before
    for publisher in publishers:
        publisher.close()
    if failures:
        raise BenchError(f"{server.label}: a parallel publish failed: {failures[0]!r}")
    if not latencies:
        raise BenchError(f"{server.label}: no publish completed")
    return Measurement(
        requests=len(latencies),
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 3),
        p99_ms=round(percentile(latencies, 99) * 1000, 3),
        errors=0,
        server_cpu_s=round(cpu, 2),
    )


def _post_until(
    publisher: Publisher, updates: list[tuple[bytes, str]], deadline: float
) -> list[float]:
    latencies = []
    for body, content_type in updates:
        if time.perf_counter() > deadline:
            break
        latencies.append(publisher.post(body, content_type))
    return latencies
