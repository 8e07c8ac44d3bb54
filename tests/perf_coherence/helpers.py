"""Shared pieces of the coherence tests: servers on one PostgreSQL database, publishing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

import asyncpg

from bench.procfs import TCP_LISTEN, process_tree, socket_ports
from testkit.ourserver import OurNotaryServer
from testkit.repo_builder import RepoBuilder, fetch_server_key

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.gotools.server import NotaryServerProcess

__all__ = ["Publisher", "WorkerServer", "psql"]


def psql(dsn: str, statement: str, *args: object) -> str:
    """Run one statement on its own connection, as an operator's ``psql`` would."""

    async def go() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.execute(statement, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


class WorkerServer(OurNotaryServer):
    """Our server with extra ``server`` and ``trust_service`` keys (workers, a remote signer)."""

    def __init__(
        self,
        workdir: Path,
        *,
        db_url: str,
        workers: int = 1,
        trust_service: dict[str, Any] | None = None,
        event_loop: str = "auto",
    ) -> None:
        super().__init__(workdir, storage="postgres", db_url=db_url, trust_service=trust_service)
        self.workers = workers
        self.event_loop = event_loop

    def start(self) -> None:
        """Start, then wait (bounded) until every worker listens, not only the first.

        The health check that ends the usual start-up is answered by whichever
        worker bound the port first; a test that spreads connections over the
        workers needs them all accepting.
        """
        super().start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            pids = self.worker_pids()
            listening = [pid for pid in pids if socket_ports(pid, self.port, TCP_LISTEN)]
            if len(listening) == self.workers:
                return
            if time.monotonic() >= deadline:
                self.stop()
                msg = f"{len(listening)} of {self.workers} workers listen after start-up"
                raise AssertionError(msg)
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The process ids of the supervisor's workers (the process itself with one)."""
        assert self.popen is not None
        tree = process_tree(self.popen.pid)
        return tree if self.workers == 1 else tree[1:]

    def _write_config(self, cert_path: Path, key_path: Path) -> None:
        super()._write_config(cert_path, key_path)
        config = json.loads(self.config_path.read_text())
        config["server"]["workers"] = self.workers
        config["server"]["event_loop"] = self.event_loop
        self.config_path.write_text(json.dumps(config, indent=2))


class Publisher:
    """Publishes targets updates to one server (server-managed snapshot and timestamp)."""

    def __init__(self, server: NotaryServerProcess, gun: str) -> None:
        self.server = server
        self.gun = gun
        self.builder = RepoBuilder(
            gun=gun,
            timestamp_key=fetch_server_key(server, gun, "timestamp"),
            snapshot_key=fetch_server_key(server, gun, "snapshot"),
        )
        self.count = 0

    def publish(self) -> bytes:
        """Add one target and publish; return the targets file now current."""
        self.builder.add_target(f"t{self.count}", f"content {self.count}".encode())
        self.count += 1
        parts = self.builder.publish()
        status, _, body = self.server.upload(self.gun, parts)
        assert status == 200, body
        self.builder.accept(parts)
        return parts["targets"]


def timestamp_names(timestamp: bytes, snapshot: bytes) -> bool:
    """Whether ``timestamp`` names exactly ``snapshot`` (sha256)."""
    meta = json.loads(timestamp)["signed"]["meta"]["snapshot"]
    return (
        bool(meta["hashes"]["sha256"])
        and meta["length"] == len(snapshot)
        and (hashlib.sha256(snapshot).hexdigest() == _b64_to_hex(meta["hashes"]["sha256"]))
    )


def _b64_to_hex(value: str) -> str:
    import base64  # noqa: PLC0415

    return base64.b64decode(value).hex()
