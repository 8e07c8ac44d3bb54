"""The servers under test: TLS material, throwaway databases, signers, processes, RSS and CPU.

Every server gets the same kind of configuration (Go's ``server-config.json`` keys):
TLS on ``127.0.0.1:<free port>``, a *remote* trust service (a signer of its own
over mutual TLS, ecdsa keys), PostgreSQL storage in a database of its own,
logging at ``error``. The signer is Go's ``notary-signer`` or ours
(``python -m notary_signer``, :class:`Signer`), chosen per server; it keeps its
keys in a PostgreSQL database of its own too (Go's ``private_keys`` schema, made by
``python -m notary_signer migrate`` for both signers), and in memory only beside
a server that itself runs on the memory backend. Ours may also get
``server.workers`` and, when *tuned*, a ``metadata_cache`` section that a default
install does not have. Our ``migrate`` command creates Go's schema, so it prepares
the Go server's database too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import trustme

from bench.procfs import TCP_LISTEN, cpu_seconds, process_tree, socket_ports
from notary_runtime.processes import (
    ChildProcess,
    http_probe,
    no_proxy_env,
    start_on_free_port,
    tail_of,
    tcp_probe,
)

GO_SERVER_BIN: Final = Path("/usr/bin/notary-server")
GO_SIGNER_BIN: Final = Path("/usr/bin/notary-signer")
HEALTH_PATH: Final = "/_notary_server/health"
CACHE_BYTES: Final = 512 * 1024 * 1024
"""Our cache budget per worker: every current chain of the 100,000-GUN scenario fits."""
WARM_SECONDS: Final = 120.0
"""How long each of our workers may warm its cache before it listens."""
CONNECT_TIMEOUT: Final = 5.0


class BenchError(RuntimeError):
    """A server, database or load generator did not do what the benchmark needs."""


def clean_env() -> dict[str, str]:
    """The environment without proxy variables (everything here is loopback)."""
    return no_proxy_env(os.environ)


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 it issued."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, directory: Path) -> Self:
        """Write ``ca.pem``, ``server.crt`` (chain) and ``server.key`` into ``directory``.

        The same certificate serves the signers (gRPC over mutual TLS), and
        ``client.crt``/``client.key`` are what the servers present to them.
        """
        ca = trustme.CA()
        issued = ca.issue_cert("127.0.0.1", "localhost", "notary-signer")
        files = cls(directory / "ca.pem", directory / "server.crt", directory / "server.key")
        ca.cert_pem.write_to_path(str(files.ca))
        files.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(files.key))
        client = ca.issue_cert("notary-server")
        files.client_cert.write_bytes(b"".join(blob.bytes() for blob in client.cert_chain_pems))
        client.private_key_pem.write_to_path(str(files.client_key))
        return files

    @property
    def client_cert(self) -> Path:
        """The servers' client certificate for the signers."""
        return self.cert.with_name("client.crt")

    @property
    def client_key(self) -> Path:
        """Its key."""
        return self.cert.with_name("client.key")

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only the throwaway CA."""
        return ssl.create_default_context(cafile=str(self.ca))


def exit_on_sigterm() -> None:
    """Make SIGTERM a ``SystemExit(128 + 15)``, so it unwinds through the cleanup callbacks."""

    def raise_exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)


# --------------------------------------------------------------------------- databases


def database_dsn(admin: str, name: str) -> str:
    """``admin`` pointing at database ``name``, as lib/pq and asyncpg both accept it."""
    parts = urlsplit(admin)
    query = parts.query or "sslmode=disable"
    return urlunsplit(parts._replace(scheme="postgres", path="/" + name, query=query))


async def _admin_execute(admin: str, statement: str) -> None:
    conn = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(admin: str, prefix: str) -> str:
    """Create an empty, uniquely named database; return its DSN."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    asyncio.run(_admin_execute(admin, f'CREATE DATABASE "{name}"'))
    return database_dsn(admin, name)


def drop_database(admin: str, dsn: str) -> None:
    """Drop the database ``dsn`` names, disconnecting whoever is still on it."""
    name = urlsplit(dsn).path.lstrip("/")
    asyncio.run(_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def check_postgres(admin: str) -> None:
    """Raise :class:`BenchError` unless the admin DSN answers."""
    try:
        asyncio.run(_admin_execute(admin, "SELECT 1"))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise BenchError(f"PostgreSQL at {admin} is unreachable: {exc!r}") from exc


# --------------------------------------------------------------------------- processes
# Started, waited for and stopped as notary_runtime.processes children (ADR 0030).


SIGNER_ALIAS: Final = "bench_keys"
"""The signers' ``storage.default_alias``: new keys are encrypted under its passphrase."""
SIGNER_ALIAS_ENV: Final = "NOTARY_SIGNER_BENCH_KEYS"
"""Where both signers read that passphrase (``NOTARY_SIGNER_<ALIAS upper-cased>``)."""


@dataclass
class Signer:
    """A signer a server signs through, over mutual TLS.

    ``go``: Debian's ``notary-signer``; otherwise ours, ``python -m notary_signer``,
    with the same configuration keys. ``db_url``: keep the keys in that PostgreSQL
    database (Go's ``private_keys`` table, :meth:`migrate`; encrypted under a
    passphrase made for this signer); empty: memory key storage, as Go's tests do.
    """

    workdir: Path
    tls: TLSFiles
    go: bool = True
    db_url: str = ""
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    port: int = 0
    process: ChildProcess | None = None

    @property
    def label(self) -> str:
        """``Go signer`` or ``our signer``."""
        return "Go signer" if self.go else "our signer"

    @property
    def storage_label(self) -> str:
        """Where it keeps its keys: ``PostgreSQL`` or ``memory``."""
        return "PostgreSQL" if self.db_url else "memory"

    def describe(self) -> dict[str, str]:
        """For the results' ``meta``: whose signer, and its key storage backend."""
        return {"signer": "go" if self.go else "ours", "key_storage": self.storage_backend}

    @property
    def storage_backend(self) -> str:
        """``postgres`` or ``memory`` (the ``storage.backend`` it runs with)."""
        return "postgres" if self.db_url else "memory"

    @property
    def config_path(self) -> Path:
        """Its ``signer-config.json``."""
        return self.workdir / "signer-config.json"

    @property
    def pid(self) -> int:
        """The signer's process ID."""
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the signer's processes have used so far."""
        return sum(cpu_seconds(pid) for pid in process_tree(self.pid))

    def _argv(self) -> list[str]:
        if self.go:
            return [str(GO_SIGNER_BIN), "-config", str(self.config_path)]
        return [sys.executable, "-m", "notary_signer", "--config", str(self.config_path)]

    def _env(self) -> dict[str, str]:
        env = clean_env()
        if self.db_url:
            env[SIGNER_ALIAS_ENV] = self.passphrase
        return env

    def write_config(self) -> None:
        """Write ``signer-config.json`` for the current port."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        storage: dict[str, str] = {"backend": self.storage_backend}
        if self.db_url:
            storage |= {"db_url": self.db_url, "default_alias": SIGNER_ALIAS}
        config = {
            "server": {
                "grpc_addr": f"127.0.0.1:{self.port}",
                "tls_cert_file": str(self.tls.cert),
                "tls_key_file": str(self.tls.key),
                "client_ca_file": str(self.tls.ca),
            },
            "logging": {"level": "error"},
            "storage": storage,
        }
        self.config_path.write_text(json.dumps(config))

    def migrate(self) -> None:
        """``python -m notary_signer migrate``: Go's key table in ``db_url`` (either signer's)."""
        if not self.db_url:
            raise BenchError(f"{self.label}: memory key storage has no schema to migrate")
        self.write_config()
        argv = [sys.executable, "-m", "notary_signer", "migrate", "--config", str(self.config_path)]
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=self._env()
        )
        if proc.returncode != 0:
            msg = f"signer migrate failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
            raise BenchError(msg)

    def start(self, timeout: float = 20.0) -> None:
        """Start it on a free port and wait until it accepts connections."""

        def launch(port: int) -> None:
            self.port = port
            self.write_config()
            self.process = ChildProcess(
                self.label,
                self._argv(),
                self.workdir / "signer.log",
                env=self._env(),
                cwd=self.workdir,
                truncate_log=True,
                error=BenchError,
            )
            self.process.start_ready(tcp_probe(port), timeout)

        start_on_free_port(launch)

    def stop(self) -> None:
        """Terminate it."""
        process, self.process = self.process, None
        if process is not None:
            process.stop()


def start_signer(
    stack: contextlib.ExitStack,
    workdir: Path,
    admin: str,
    tls: TLSFiles,
    label: str,
    *,
    go: bool,
    postgres: bool = True,
) -> Signer:
    """A signer, on a throwaway migrated database unless ``postgres`` is false; ``stack`` cleans up.

    The database is ``notary_bench_signer_<label>_*``, migrated by our
    ``python -m notary_signer migrate`` for Go's signer as for ours (the same schema).
    """
    dsn = ""
    if postgres:
        dsn = create_database(admin, f"notary_bench_signer_{label}")
        stack.callback(drop_database, admin, dsn)
    signer = Signer(workdir / f"signer-{label}", tls, go=go, db_url=dsn)
    if postgres:
        signer.migrate()
    signer.start()
    stack.callback(signer.stop)
    return signer


def server_config(
    *,
    port: int,
    tls: TLSFiles,
    db_url: str,
    workers: int = 1,
    backend: str = "postgres",
    signer_port: int | None = None,
    ours: bool = False,
    tuned: bool = False,
) -> dict[str, Any]:
    """The ``server-config.json`` the servers run with.

    ``server.workers`` and ``metadata_cache`` are ours only (beyond Go); Go
    ignores keys it does not know, but they are left out of Go's file all the same.
    ``tuned``: give ours the 512 MiB cache and 120 s warm-up of the 100,000-GUN
    scenario; without it ours runs on its defaults (128 MiB, 10 s).
    """
    server: dict[str, Any] = {
        "http_addr": f"127.0.0.1:{port}",
        "tls_cert_file": str(tls.cert),
        "tls_key_file": str(tls.key),
    }
    if workers != 1:
        server["workers"] = workers
    storage = (
        {"backend": backend, "db_url": db_url} if backend != "memory" else {"backend": backend}
    )
    trust: dict[str, Any] = {"type": "local"}
    if signer_port is not None:
        trust = {
            "type": "remote",
            "hostname": "127.0.0.1",
            "port": str(signer_port),
            "tls_ca_file": str(tls.ca),
            "tls_client_cert": str(tls.client_cert),
            "tls_client_key": str(tls.client_key),
            "key_algorithm": "ecdsa",
        }
    config: dict[str, Any] = {
        "server": server,
        "trust_service": trust,
        "logging": {"level": "error"},
        "storage": storage,
    }
    if ours and tuned:
        config["metadata_cache"] = {"max_bytes": CACHE_BYTES, "warm_seconds": WARM_SECONDS}
    return config


def migrate(config_path: Path) -> None:
    """``python -m notary_server migrate``: Go's schema in the configured database."""
    proc = subprocess.run(
        [sys.executable, "-m", "notary_server", "migrate", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_env(),
    )
    if proc.returncode != 0:
        raise BenchError(f"migrate failed ({proc.returncode}): {proc.stdout}{proc.stderr}")


@dataclass
class ServerProcess:
    """One server under test: its label, argv factory, files and running process."""

    label: str
    workdir: Path
    tls: TLSFiles
    db_url: str
    go: bool
    workers: int = 1
    backend: str = "postgres"
    signer_port: int | None = None
    tuned: bool = False
    startup_timeout: float = WARM_SECONDS + 30.0
    signer: Signer | None = None
    port: int = 0
    process: ChildProcess | None = None

    @property
    def url(self) -> str:
        """Base URL, ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        """Where its ``server-config.json`` is written."""
        return self.workdir / "server-config.json"

    @property
    def log_path(self) -> Path:
        """Its combined stdout/stderr."""
        return self.workdir / "server.log"

    @property
    def pid(self) -> int:
        """The server's process ID (the Python interpreter itself for ours)."""
        assert self.process is not None
        return self.process.pid

    def _argv(self) -> list[str]:
        if self.go:
            return [str(GO_SERVER_BIN), "-config", str(self.config_path)]
        return [sys.executable, "-m", "notary_server", "--config", str(self.config_path)]

    def write_config(self) -> None:
        """Write the configuration for the current port."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = server_config(
            port=self.port,
            tls=self.tls,
            db_url=self.db_url,
            workers=self.workers,
            backend=self.backend,
            signer_port=self.signer_port,
            ours=not self.go,
            tuned=self.tuned,
        )
        self.config_path.write_text(json.dumps(config, indent=2))

    def start(self) -> None:
        """Start the server on a free port and wait until it reports healthy."""

        def launch(port: int) -> None:
            self.port = port
            self.write_config()
            self.process = ChildProcess(
                f"{self.label} server",
                self._argv(),
                self.log_path,
                env=clean_env(),
                cwd=self.workdir,
                truncate_log=True,
                error=BenchError,
            )
            health = http_probe(
                self.url + HEALTH_PATH, context=self.tls.client_context(), timeout=2.0
            )
            self.process.start_ready(health, self.startup_timeout)
            try:
                self._wait_every_worker()
            except BaseException:
                self.stop()
                raise

        start_on_free_port(launch)

    def _wait_every_worker(self) -> None:
        """Wait until each of our workers listens: health is answered by the first one up.

        A worker warms its cache before it listens, so this is also the end of
        the warm-up.
        """
        if self.workers == 1:
            return
        deadline = time.monotonic() + self.startup_timeout
        while True:
            workers = self.pids()[1:]
            listening = [pid for pid in workers if socket_ports(pid, self.port, TCP_LISTEN)]
            if len(listening) >= self.workers:
                return
            if time.monotonic() >= deadline:
                msg = f"{self.label}: {len(listening)} of {self.workers} workers listen"
                raise BenchError(f"{msg} after {self.startup_timeout}s:\n{tail_of(self.log_path)}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (kill it if it lingers)."""
        process, self.process = self.process, None
        if process is not None:
            process.stop(timeout)

    def pids(self) -> list[int]:
        """The server process and its descendants (our worker processes)."""
        return process_tree(self.pid)

    def rss_kib(self) -> int:
        """Resident set size in KiB, summed over the process tree (``VmRSS``)."""
        total = 0
        for pid in self.pids():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))
        if not total:
            raise BenchError(f"no VmRSS for {self.label} server (pid {self.pid})")
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's processes have used so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())


def start_server(
    stack: contextlib.ExitStack,
    workdir: Path,
    admin: str,
    tls: TLSFiles,
    label: str,
    *,
    go: bool,
    go_signer: bool,
    workers: int = 1,
    backend: str = "postgres",
    tuned: bool = False,
) -> ServerProcess:
    """A migrated database, a signer and a server, all stopped/dropped by ``stack``.

    The signer keeps its keys in a migrated database of its own when the server
    is on PostgreSQL, and in memory when the server is on the memory backend.
    """
    dsn = ""
    if backend == "postgres":
        dsn = create_database(admin, f"notary_bench_{label}")
        stack.callback(drop_database, admin, dsn)
    # Signer keys in PostgreSQL as deployed (Go's SQL signer writes last_used on
    # every signature); in memory only beside a server on the memory backend.
    signer = start_signer(
        stack, workdir, admin, tls, label, go=go_signer, postgres=backend == "postgres"
    )
    server = ServerProcess(
        label=label,
        workdir=workdir / label,
        tls=tls,
        db_url=dsn,
        go=go,
        workers=workers,
        backend=backend,
        signer_port=signer.port,
        tuned=tuned,
        signer=signer,
    )
    server.write_config()
    if backend == "postgres":
        migrate(server.config_path)
    sys.stderr.write(
        f"[bench] starting {label} server ({signer.label}, {signer.storage_label} keys)\n"
    )
    sys.stderr.flush()
    server.start()
    stack.callback(server.stop)
    return server
