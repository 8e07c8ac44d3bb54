"""A notary server with a remote signer, each half ours or Go's, both on PostgreSQL.

Issue #4's pairings (:data:`PAIRINGS`): our server + our signer, the Go
``notary-server`` + our signer, our server + the Go ``notary-signer``. The
Debian ``notary-signer`` has no sqlite3 driver, so every pairing runs on
PostgreSQL: the server and the signer each get a throwaway database (dropped
afterwards). A Go half gets Go 0.7's own schema (``tests/data/go_migrations``,
applied as golang-migrate does); a half of ours gets ours (our ``migrate``).

The server talks to the signer as Go's ``trust_service.type: remote`` does:
mutual TLS with a trustme CA (:func:`tests.signer.conftest.write_tls_files`),
``key_algorithm: ecdsa``. The signer keeps its keys encrypted under the
passphrase alias :data:`SIGNER_ALIAS` (:data:`SIGNER_ENV`).

:func:`server_with_signer` starts the signer first (our server's health needs
it), then the server, and stops both in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import asyncpg

from notary_signer.keystore.migrate import migrate_postgres as migrate_signer_postgres
from testkit.gotools import GoNotaryServer, NotaryServerProcess, require_go_tools
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, create_database, drop_database, require_postgres
from tests.signer.conftest import TLSFiles, write_tls_files
from tests.signer.gosigner import SignerProcess, require_go_signer

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "GO_MIGRATIONS",
    "PAIRINGS",
    "SIGNER_ALIAS",
    "SIGNER_ENV",
    "Pairing",
    "Stack",
    "go_migrate",
    "server_with_signer",
    "signer_on_postgres",
    "with_sslmode",
]

Pairing = Literal["our-server+our-signer", "go-server+our-signer", "our-server+go-signer"]
PAIRINGS: Final[tuple[Pairing, ...]] = get_args(Pairing)

SIGNER_ALIAS: Final = "timestamp_1"
SIGNER_ENV: Final = {"NOTARY_SIGNER_TIMESTAMP_1": "pairing-signer-passphrase-5d1e"}
GO_MIGRATIONS: Final = Path(__file__).resolve().parents[1] / "data" / "go_migrations"


def with_sslmode(dsn: str) -> str:
    """``dsn`` with ``sslmode=disable`` (Go's lib/pq wants TLS unless told; ours has none)."""
    return dsn + ("&" if "?" in dsn else "?") + "sslmode=disable"


async def go_migrate(dsn: str, kind: Literal["server", "signer"]) -> None:
    """Apply Go 0.7's migrations for ``kind`` as golang-migrate v4 does (one version row, clean)."""
    files = sorted((GO_MIGRATIONS / kind).glob("*.up.sql"))
    conn = await asyncpg.connect(dsn)
    try:
        for path in files:
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version bigint not null primary key, dirty boolean not null)"
        )
        await conn.execute(
            "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)",
            int(files[-1].name.split("_", 1)[0]),
        )
    finally:
        await conn.close()


@dataclass(frozen=True)
class Stack:
    """A running server, the signer it uses, and their databases' DSNs."""

    pairing: Pairing
    server: NotaryServerProcess
    signer: SignerProcess
    server_db: str
    signer_db: str


@contextlib.contextmanager
def _throwaway(prefix: str) -> Iterator[str]:
    admin = admin_dsn()
    require_postgres(admin)
    dsn = asyncio.run(create_database(admin, prefix))
    try:
        yield dsn
    finally:
        asyncio.run(drop_database(admin, dsn))


@contextlib.contextmanager
def signer_on_postgres(workdir: Path, tls: TLSFiles, *, go: bool) -> Iterator[SignerProcess]:
    """A running signer (Go's or ours) on a fresh, migrated PostgreSQL database.

    The database's DSN is the signer's ``storage["db_url"]``.
    """
    if go:
        require_go_signer()
    with _throwaway("notary_pair_signer") as dsn:
        if go:
            asyncio.run(go_migrate(dsn, "signer"))
        else:
            asyncio.run(migrate_signer_postgres(dsn))
        storage = {
            "backend": "postgres",
            "db_url": with_sslmode(dsn),
            "default_alias": SIGNER_ALIAS,
        }
        with SignerProcess(workdir, tls, storage, dict(SIGNER_ENV), go=go) as signer:
            yield signer


def remote_trust_service(tls: TLSFiles, port: int) -> dict[str, Any]:
    """Go's ``trust_service`` section for the signer on ``127.0.0.1:port`` (mutual TLS)."""
    return {
        "type": "remote",
        "hostname": "127.0.0.1",
        "port": str(port),
        "tls_ca_file": str(tls.ca_file),
        "tls_client_cert": str(tls.client_cert_file),
        "tls_client_key": str(tls.client_key_file),
        "key_algorithm": "ecdsa",
    }


@contextlib.contextmanager
def server_with_signer(workdir: Path, pairing: Pairing) -> Iterator[Stack]:
    """Start ``pairing``'s signer, then its server pointed at it; stop both afterwards.

    Skips (fails with ``CI=true``) when PostgreSQL or a needed Go binary is missing.
    """
    require_go_tools()
    go_server, go_signer = pairing.startswith("go-server"), pairing.endswith("go-signer")
    tls_dir = workdir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls = write_tls_files(tls_dir)
    with signer_on_postgres(workdir / "signer", tls, go=go_signer) as signer:
        trust_service = remote_trust_service(tls, signer.port)
        server: NotaryServerProcess
        if go_server:
            with _throwaway("notary_pair_server") as server_db:
                asyncio.run(go_migrate(server_db, "server"))
                storage = {"backend": "postgres", "db_url": with_sslmode(server_db)}
                go = GoNotaryServer(
                    workdir / "server", storage=storage, trust_service=trust_service
                )
                with go as server:
                    yield Stack(pairing, server, signer, server_db, signer.storage["db_url"])
        else:
            ours = OurNotaryServer(
                workdir / "server", storage="postgres", trust_service=trust_service
            )
            with ours as server:
                assert ours.db_url is not None
                yield Stack(pairing, server, signer, ours.db_url, signer.storage["db_url"])
