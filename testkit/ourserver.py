"""Our notary server as a real process: :class:`OurNotaryServer`.

It runs ``python -m notary_server --config FILE`` on ``127.0.0.1:<free port>``
with trustme TLS material, like :class:`testkit.gotools.GoNotaryServer` runs the
Debian binary, and offers the same surface (:class:`testkit.gotools.NotaryServerProcess`:
``url``, ``ca_path``, ``request``, ``get``, ``get_metadata``, ``upload``), so the
interop tests drive either server, or both, the same way.

Storage: ``memory``; ``sqlite3`` (a database file in the work directory); or
``postgres``, where each server gets its own throwaway database from
:mod:`testkit.pg` (dropped on stop) unless ``db_url`` names one. A PostgreSQL that
cannot be reached skips the test, or fails it when ``CI=true``. The schema is
created with ``python -m notary_server migrate`` before the server starts.

This module does not start anything at import time and defines no fixtures;
test modules build their own (usually module-scoped) fixtures on it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Literal

from testkit.gotools import GoToolError, NotaryServerProcess
from testkit.pg import admin_dsn, create_database, drop_database, require_postgres

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["MIGRATE_TIMEOUT", "OurNotaryServer", "StorageKind"]

StorageKind = Literal["memory", "sqlite3", "postgres"]

MIGRATE_TIMEOUT = 60.0
"""Seconds ``python -m notary_server migrate`` may take."""


class OurNotaryServer(NotaryServerProcess):
    """Run ``python -m notary_server`` over TLS (``tls=False``: plain HTTP).

    The configuration uses Go's keys (``server.http_addr``, ``server.tls_*``,
    ``trust_service`` (``local`` by default), ``storage.backend``/``db_url``), so it is the
    file an operator would hand either server.
    """

    name = "python -m notary_server"

    def __init__(
        self,
        workdir: Path,
        *,
        storage: StorageKind = "memory",
        db_url: str | None = None,
        tls: bool = True,
        log_level: str = "info",
        startup_timeout: float = 30.0,
        trust_service: Mapping[str, Any] | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare (but do not start) a server whose files live under ``workdir``.

        ``trust_service`` replaces the ``{"type": "local"}`` section (e.g. Go's
        ``remote`` keys for a signer), and ``extra_config`` is merged into the top
        level of the configuration (e.g. ``{"auth": {...}}``), as
        :class:`testkit.gotools.GoNotaryServer` does.

        Raises:
            ValueError: ``storage`` is not one of the three backends.
        """
        if storage not in ("memory", "sqlite3", "postgres"):
            raise ValueError(f"unknown storage backend {storage!r}")
        super().__init__(workdir, startup_timeout=startup_timeout)
        self.storage = storage
        self.db_url = db_url
        self.tls = tls
        self.log_level = log_level
        self.trust_service: dict[str, Any] = dict(trust_service or {"type": "local"})
        self.extra_config: dict[str, Any] = dict(extra_config or {})
        self.log_path = workdir / "notary-server-py.log"
        self._owned_database: str | None = None
        self._admin_dsn: str | None = None

    @property
    def url(self) -> str:
        """Base URL, ``https://127.0.0.1:PORT`` (``http://`` without TLS)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _storage_section(self) -> dict[str, str]:
        if self.storage == "memory":
            return {"backend": "memory"}
        if self.db_url is None:
            if self.storage == "sqlite3":
                self.db_url = str(self.workdir / "notary-server.db")
            else:
                self._admin_dsn = admin_dsn()
                require_postgres(self._admin_dsn)
                self.db_url = asyncio.run(create_database(self._admin_dsn, "notary_srv"))
                self._owned_database = self.db_url
        return {"backend": self.storage, "db_url": self.db_url}

    def _write_config(self, cert_path: Path, key_path: Path) -> None:
        server: dict[str, str] = {"http_addr": f"127.0.0.1:{self.port}"}
        if self.tls:
            server |= {"tls_cert_file": str(cert_path), "tls_key_file": str(key_path)}
        config: dict[str, Any] = {
            "server": server,
            "trust_service": self.trust_service,
            "logging": {"level": self.log_level},
            "storage": self._storage_section(),
        }
        config.update(self.extra_config)
        self.config_path.write_text(json.dumps(config, indent=2))

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "notary_server", "--config", str(self.config_path)]

    def _prepare(self) -> None:
        """Create the schema (``migrate``) for the SQL backends."""
        if self.storage == "memory":
            return
        argv = [sys.executable, "-m", "notary_server", "migrate", "--config", str(self.config_path)]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                cwd=self.workdir,
                env=self._environment(),
                timeout=MIGRATE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise GoToolError(f"migrate timed out after {MIGRATE_TIMEOUT}s") from err
        if proc.returncode != 0:
            msg = f"migrate exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            raise GoToolError(msg)

    def start(self) -> None:
        """Start the server; drop the throwaway database again if that fails."""
        try:
            super().start()
        except BaseException:
            self._drop_database()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate (then kill) the server and drop its throwaway database."""
        try:
            super().stop(timeout)
        finally:
            self._drop_database()

    def _drop_database(self) -> None:
        owned, self._owned_database = self._owned_database, None
        if owned is not None and self._admin_dsn is not None:
            asyncio.run(drop_database(self._admin_dsn, owned))
