"""The console's Repositories page at 100,000 repositories on PostgreSQL (issue #15).

Publishes one real repository through the API, copies its rows (and its
changefeed record) to ``--guns`` GUNs in SQL, then times, in process, GETs of
the Repositories page signed in with a token that sees every repository:

* ``first page``: ``/repositories``;
* ``keyset page``: ``/repositories?after=<a GUN in the middle>``, a different one each time;
* ``prefix search``: ``/repositories?q=<a prefix matching 10 GUNs>``;
* ``repository``: ``/repository?gun=...`` (one repository in full).

Each row prints p50 and p90 over ``--requests`` GETs (the first of each
discarded as a warm-up). Run from the repository root (it reuses
``testkit/repo_builder.py`` and ``testkit/pg.py``)::

    python -m bench.console                     # 100,000 GUNs, 30 GETs per row
    python -m bench.console --guns 10000 --requests 10
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from notary_server.app import create_app
from notary_server.console.settings import ConsoleConfig
from notary_server.storage import open_store
from notary_server.storage.migrate import migrate_postgres
from notary_server.trust.local import LocalCryptoService
from testkit.issuer import TestIssuer
from testkit.pg import admin_dsn, create_database, drop_database
from testkit.server_helpers import make_config, publish_new

SEED = "bench.example.com/seed"
PAGE_SIZE_NOTE = "50 rows per page"

_COPY_FILES = """
INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256)
SELECT f.created_at, f.updated_at, 'bench.example.com/team-' || lpad((i / 10)::text, 5, '0')
       || '/app-' || lpad((i % 10)::text, 1, '0'), f.role, f.version, f.data, f.sha256
FROM tuf_files f, generate_series(0, $1 - 1) AS i WHERE f.gun = $2
"""
_COPY_CHANGES = """
INSERT INTO changefeed (created_at, gun, version, sha256, category, actor, client_addr)
SELECT c.created_at, 'bench.example.com/team-' || lpad((i / 10)::text, 5, '0')
       || '/app-' || lpad((i % 10)::text, 1, '0'), c.version, c.sha256, c.category, c.actor,
       c.client_addr
FROM changefeed c, generate_series(0, $1 - 1) AS i WHERE c.gun = $2
"""


def gun_name(i: int) -> str:
    return f"bench.example.com/team-{i // 10:05d}/app-{i % 10}"


async def seed(dsn: str, guns: int) -> None:
    store = await open_store("postgres", dsn)
    try:
        async with TestClient(TestServer(create_app(make_config(), store=store))) as client:
            await publish_new(client, SEED)
    finally:
        await store.close()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_COPY_FILES, guns, SEED)
        await conn.execute(_COPY_CHANGES, guns, SEED)
        await conn.execute("DELETE FROM tuf_files WHERE gun = $1", SEED)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def timed(client: TestClient, paths: list[str], headers: dict[str, str]) -> list[float]:
    seconds = []
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        body = await response.text()
        seconds.append(time.perf_counter() - started)
        if response.status != 200 or "repositor" not in body:
            raise RuntimeError(f"{path}: {response.status} {body[:200]}")
    return seconds[1:]


async def measure(dsn: str, guns: int, requests: int) -> None:
    issuer = TestIssuer(service="notary-server")
    with tempfile.TemporaryDirectory() as directory:
        auth = issuer.config(Path(directory), realm="https://127.0.0.1/auth/token")
        config = dataclasses.replace(
            make_config(), auth=auth, console=ConsoleConfig(enabled=True, login=("token",))
        )
        access = [("registry", "console", ("view",)), ("registry", "catalog", ("*",))]
        headers = {"Authorization": f"Bearer {issuer.token(access, lifetime=3600)}"}
        store = await open_store("postgres", dsn)
        app = create_app(config, store=store, crypto=LocalCryptoService())
        base = "/_notary_server/console"
        rng = random.Random(15)  # noqa: S311 - which GUNs to ask for, not a secret
        rows = {
            "first page": [f"{base}/repositories"] * (requests + 1),
            "keyset page": [
                f"{base}/repositories?after={gun_name(rng.randrange(guns))}"
                for _ in range(requests + 1)
            ],
            "prefix search": [
                f"{base}/repositories?q=bench.example.com/team-{rng.randrange(guns // 10):05d}/"
                for _ in range(requests + 1)
            ],
            "repository": [
                f"{base}/repository?gun={gun_name(rng.randrange(guns))}"
                for _ in range(requests + 1)
            ],
        }
        try:
            async with TestClient(TestServer(app)) as client:
                print(f"{guns:,} GUNs on PostgreSQL, {PAGE_SIZE_NOTE}, {requests} GETs per row")
                for name, paths in rows.items():
                    seconds = await timed(client, paths, headers)
                    p50 = statistics.median(seconds) * 1000
                    p90 = statistics.quantiles(seconds, n=10)[-1] * 1000
                    print(f"  {name:14} p50 {p50:7.1f} ms   p90 {p90:7.1f} ms")
        finally:
            await store.close()


async def main(guns: int, requests: int) -> None:
    admin = admin_dsn()
    dsn = await create_database(admin, "notary_bench_console")
    try:
        await migrate_postgres(dsn)
        started = time.perf_counter()
        await seed(dsn, guns)
        print(f"seeded {guns:,} repositories in {time.perf_counter() - started:.1f} s")
        await measure(dsn, guns, requests)
    finally:
        await drop_database(admin, dsn)


def cli() -> None:
    """``python -m bench.console``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--guns", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.guns, args.requests))


if __name__ == "__main__":
    cli()
