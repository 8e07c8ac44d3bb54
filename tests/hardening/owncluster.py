"""A throwaway PostgreSQL cluster of our own, to stop and restart in fault tests.

The shared server at 127.0.0.1:5432 must never be restarted; this cluster
lives in a temporary directory, listens on a free loopback port and is
stopped (``pg_ctl stop -m immediate``) at the end. ``initdb`` refuses to run
as root, so when the tests run as root the cluster belongs to the
``postgres`` system user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from notary_runtime.processes import free_port
from testkit.ci import missing_real_part

TIMEOUT = 60.0


def _binary(name: str) -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return found[-1] if found else None


class OwnCluster:
    """``initdb`` + ``pg_ctl`` in a temporary directory (trust auth, user ``postgres``)."""

    def __init__(self) -> None:
        """Prepare (do not start) a cluster in a new directory under /tmp.

        Not under pytest's ``tmp_path``: that is private to root, and the
        ``postgres`` user must reach the data directory.
        """
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            missing_real_part("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.directory = Path(tempfile.mkdtemp(prefix="notary-own-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        """The maintenance database's DSN."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str | Path) -> None:
        command = [str(a) for a in argv]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT)

    def __enter__(self) -> Self:
        """Create and start the cluster."""
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(self.initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the cluster and remove its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        """Start (or restart after :meth:`stop`) on the same port."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
        self._run(
            self.pg_ctl, "-D", self.data, "-o", options, "-l", self.directory / "log", "-w", "start"
        )

    def stop(self) -> None:
        """Stop at once (``-m immediate``: in-flight transactions are cut, as in a crash)."""
        self._run(self.pg_ctl, "-D", self.data, "-m", "immediate", "-w", "stop")
