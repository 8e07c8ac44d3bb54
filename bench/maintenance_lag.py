"""Event loop lag of the maintenance pass over giant repositories (issue #14 item 9, ADR 0023).

Stores ``--repos`` repositories of ``--targets`` targets each (300,000 targets
is a 26 MiB targets file) through the real publish path, then measures with a
10 ms heartbeat (:class:`notary_server.services.offloop.LoopLagProbe`) how late
the event loop ran during

* ``full scan (before)``: the expiry scan that parses every current file on the
  loop at every pass (:func:`notary_server.services.inventory.scan_expiring`,
  what the server's pass ran before ADR 0023);
* ``pass 1``: the new pass, re-sign check and expiry scan, with nothing
  remembered yet (every file parsed once; large ones in a thread);
* ``pass 2``: the same pass again, as every later pass runs.

Run from the repository root (it reuses ``testkit/repo_builder.py``)::

    python -m bench.maintenance_lag                    # 2 repositories x 100,000 targets
    python -m bench.maintenance_lag --repos 2 --targets 300000 --storage sqlite

Seeding 300,000 targets takes about a minute per repository on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from notary_server.services import inventory
from notary_server.services.expiries import FileExpiries, scan_expiring
from notary_server.services.offloop import LoopLagProbe
from notary_server.services.resign import DEFAULT_REMAINING_FRACTION, resign_all
from notary_server.services.updates import apply_update
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.migrate import migrate_sqlite
from notary_server.storage.sqlite import open_sqlite
from notary_server.trust.local import LocalCryptoService
from notary_tuf.rolenames import TARGETS, TIMESTAMP
from testkit.repo_builder import RepoBuilder

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from notary_server.storage.base import MetaStore

WINDOW = timedelta(days=30)


async def seed(store: MetaStore, crypto: LocalCryptoService, repos: int, targets: int) -> int:
    """Publish ``repos`` repositories of ``targets`` targets; return the targets file's size."""
    size = 0
    for index in range(repos):
        gun = f"bench.example.com/giant/{index}"
        timestamp_key = await crypto.create_key(TIMESTAMP, gun, "ecdsa")
        builder = RepoBuilder(gun, timestamp_key=timestamp_key)
        for number in range(targets):
            builder.add_target(f"artifact-{number:07d}", b"%d" % number)
        parts = await asyncio.to_thread(builder.publish)
        await apply_update(
            store=store, crypto=crypto, gun=gun, uploads=parts, now=datetime.now(UTC)
        )
        size = len(parts[TARGETS])
    return size


async def measured(label: str, work: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    async with LoopLagProbe() as lag:
        await work()
    elapsed = time.perf_counter() - started
    print(f"{label:<20} {elapsed:8.2f} s   largest loop delay {lag.max_lag * 1000:8.1f} ms")


async def run(repos: int, targets: int, storage: str) -> None:
    crypto = LocalCryptoService()
    with tempfile.TemporaryDirectory() as workdir:
        if storage == "sqlite":
            path = Path(workdir) / "server.db"
            migrate_sqlite(str(path))
            store: MetaStore = await open_sqlite(str(path))
        else:
            store = MemoryMetaStore()
        try:
            size = await seed(store, crypto, repos, targets)
            print(
                f"{repos} repositories x {targets} targets ({size / 2**20:.1f} MiB each), {storage}"
            )
            now = datetime.now(UTC)
            await measured(
                "full scan (before)",
                lambda: inventory.scan_expiring(store, now=now, within=WINDOW),
            )
            expiries = FileExpiries()

            async def new_pass() -> None:
                await resign_all(
                    store, crypto, now=now, fraction=DEFAULT_REMAINING_FRACTION, expiries=expiries
                )
                await scan_expiring(store, expiries, now=now, within=WINDOW)

            await measured("pass 1 (new)", new_pass)
            await measured("pass 2 (new)", new_pass)
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the options and print the three rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--storage", choices=("memory", "sqlite"), default="memory")
    args = parser.parse_args(argv)
    asyncio.run(run(args.repos, args.targets, args.storage))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
