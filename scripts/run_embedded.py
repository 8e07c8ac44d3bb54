"""Run the signer and the server on the embedded default: ``make run``.

Everything lives under one data directory (default ``./notary-data``)::

    certs/                 development CA and certificates (scripts/gen_dev_certs.py), made once
    signer-passphrase      the passphrase for new signer keys (mode 0600), made once
    signer-config.json     Go's keys: gRPC on 127.0.0.1:7899, mutual TLS, SQLite signer.db
    server-config.json     Go's keys: HTTPS on 127.0.0.1:4443, SQLite server.db,
                           trust_service remote -> the signer, with the client certificate
    signer.log, server.log the services' logs (JSON lines)

The two configuration files are rewritten on every start (they are derived from the
options); the certificates, the passphrase and the databases are kept. Both
``migrate`` commands run first (idempotent), then the signer starts, then the server,
each waited for through its health check. The launcher then prints what a user
exports for ``notary`` and ``docker trust`` and waits; Ctrl-C (or SIGTERM) stops the
server, then the signer.

The services run as child processes (``python -m notary_signer``, ``python -m
notary_server``) in their own sessions, so a Ctrl-C reaches only the launcher, which
stops them in order. The launcher imports neither package; it starts, waits for and
stops them with ``notary_runtime.processes`` (ADR 0030).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gen_dev_certs import CA_FILE, generate, output_files
from healthcheck import ProbeError, probe_server, probe_signer

from notary_runtime.processes import ChildProcess

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType

HOST: Final = "127.0.0.1"
SIGNER_ALIAS: Final = "devstack"
PASSPHRASE_ENV: Final = "NOTARY_SIGNER_" + SIGNER_ALIAS.upper()
MIGRATE_TIMEOUT: Final = 120.0
AUTH_USER: Final = "notary"
TOKEN_SERVICE: Final = "notary-py"  # noqa: S105 - a name, not a secret
TOKEN_ISSUER: Final = "notary-py development token issuer"  # noqa: S105 - a name
STOP_TIMEOUT: Final = 10.0


class LaunchError(Exception):
    """A step of the start-up failed; the message says which and shows the log."""


@dataclass(frozen=True)
class Layout:
    """Where the launcher keeps its files; ``auth``: token auth with the built-in issuer."""

    data_dir: Path
    server_port: int
    signer_port: int
    auth: bool = False

    @property
    def htpasswd(self) -> Path:
        """The built-in issuer's users (``python -m notary_server admin htpasswd``)."""
        return self.data_dir / "htpasswd"

    @property
    def user_password_file(self) -> Path:
        """The first user's generated password (mode 0600)."""
        return self.data_dir / f"{AUTH_USER}-password"

    @property
    def certs(self) -> Path:
        """The certificate directory."""
        return self.data_dir / "certs"

    @property
    def ca_file(self) -> Path:
        """The CA clients trust."""
        return self.certs / CA_FILE

    @property
    def server_config(self) -> Path:
        """The server's configuration file."""
        return self.data_dir / "server-config.json"

    @property
    def signer_config(self) -> Path:
        """The signer's configuration file."""
        return self.data_dir / "signer-config.json"

    @property
    def passphrase_file(self) -> Path:
        """The signer's passphrase for new keys."""
        return self.data_dir / "signer-passphrase"

    @property
    def server_url(self) -> str:
        """The URL clients use."""
        return f"https://{HOST}:{self.server_port}"


def ports_in_use(layout: Layout) -> list[str]:
    """The launcher's ports something already listens on, as ``PORT (service)``.

    Checked before anything starts: otherwise the health checks of a second
    ``make run`` are answered by the first instance's services.
    """
    taken = []
    for port, name in ((layout.server_port, "server"), (layout.signer_port, "signer")):
        try:
            with socket.create_server((HOST, port)):
                pass
        except OSError:
            taken.append(f"{port} ({name})")
    return taken


def ensure_certs(layout: Layout) -> bool:
    """Generate the certificates unless all of them exist; return whether it did."""
    if all((layout.certs / name).is_file() for name in output_files()):
        return False
    generate(layout.certs)
    return True


def ensure_passphrase(path: Path) -> str:
    """Return the stored passphrase, creating it (mode 0600) on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    passphrase = path.read_text(encoding="utf-8").strip()
    if not passphrase:
        raise LaunchError(f"{path} is empty; delete it only together with signer.db")
    return passphrase


def write_configs(layout: Layout) -> None:
    """Write both configuration files (Go's keys, paths relative to the data directory)."""
    signer: dict[str, Any] = {
        "server": {
            "grpc_addr": f"{HOST}:{layout.signer_port}",
            "tls_cert_file": "certs/notary-signer.crt",
            "tls_key_file": "certs/notary-signer.key",
            "client_ca_file": f"certs/{CA_FILE}",
        },
        "logging": {"level": "info"},
        "storage": {"backend": "sqlite3", "db_url": "signer.db", "default_alias": SIGNER_ALIAS},
    }
    server: dict[str, Any] = {
        "server": {
            "http_addr": f"{HOST}:{layout.server_port}",
            "tls_cert_file": "certs/notary-server.crt",
            "tls_key_file": "certs/notary-server.key",
        },
        "trust_service": {
            "type": "remote",
            "hostname": HOST,
            "port": str(layout.signer_port),
            "key_algorithm": "ecdsa",
            "tls_ca_file": f"certs/{CA_FILE}",
            "tls_client_cert": "certs/notary-client.crt",
            "tls_client_key": "certs/notary-client.key",
        },
        "logging": {"level": "info"},
        "storage": {"backend": "sqlite3", "db_url": "server.db"},
    }
    if layout.auth:
        server["auth"] = auth_section(layout)
        server["console"] = {"enabled": True}  # the operator console (ADR 0026)
    layout.signer_config.write_text(json.dumps(signer, indent=2) + "\n", encoding="utf-8")
    layout.server_config.write_text(json.dumps(server, indent=2) + "\n", encoding="utf-8")


def ensure_token_issuer(layout: Layout) -> None:
    """Make the token signing key and its self-signed certificate once (``--auth``).

    The certificate is also the ``rootcertbundle`` tokens are checked against (a
    self-signed leaf that is its own root is trusted, ADR 0008).
    """
    key_path, cert_path = layout.certs / "token-issuer.key", layout.certs / "token-issuer.crt"
    if key_path.is_file() and cert_path.is_file():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOKEN_ISSUER)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=825))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_first_user(layout: Layout, env: Mapping[str, str]) -> None:
    """Create the htpasswd file with one user and a generated password, once (``--auth``).

    Raises:
        LaunchError: ``admin htpasswd`` failed.
    """
    if layout.htpasswd.exists():
        return
    password = secrets.token_urlsafe(18)
    argv = [sys.executable, "-m", "notary_server", "admin", "htpasswd", str(layout.htpasswd)]
    proc = subprocess.run(
        [*argv, AUTH_USER, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=MIGRATE_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise LaunchError(f"admin htpasswd failed:\n{proc.stdout}{proc.stderr}")
    fd = os.open(layout.user_password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")


def auth_section(layout: Layout) -> dict[str, Any]:
    """The server's ``auth``: Go's token auth, with the built-in issuer (ADR 0008)."""
    return {
        "type": "token",
        "options": {
            "realm": f"{layout.server_url}/auth/token",
            "service": TOKEN_SERVICE,
            "issuer": TOKEN_ISSUER,
            "rootcertbundle": "certs/token-issuer.crt",
            "htpasswd": layout.htpasswd.name,
            "issuer_key": "certs/token-issuer.key",
            "issuer_cert": "certs/token-issuer.crt",
        },
    }


def child_environment(base: Mapping[str, str], passphrase: str) -> dict[str, str]:
    """The services' environment: no inherited NOTARY_* overrides, loopback never proxied."""
    env = {k: v for k, v in base.items() if not k.startswith(("NOTARY_SERVER_", "NOTARY_SIGNER_"))}
    for name in ("no_proxy", "NO_PROXY"):
        extra = env.get(name, "")
        env[name] = ",".join(filter(None, [extra, HOST, "localhost"]))
    env[PASSPHRASE_ENV] = passphrase
    return env


def migrate(module: str, config: Path, env: Mapping[str, str]) -> str:
    """Run ``python -m MODULE migrate --config CONFIG``; return what it printed.

    Raises:
        LaunchError: it failed or timed out.
    """
    argv = [sys.executable, "-m", module, "migrate", "--config", str(config)]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=MIGRATE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise LaunchError(f"{module} migrate timed out after {MIGRATE_TIMEOUT:.0f}s") from e
    if proc.returncode != 0:
        raise LaunchError(f"{module} migrate failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.strip()


def banner(layout: Layout) -> str:
    """What the launcher prints once both services are healthy."""
    url, ca = layout.server_url, layout.ca_file.resolve()
    docker_ca = f"~/.docker/tls/{HOST}:{layout.server_port}/ca.crt"
    return f"""
notary-py is running. Ctrl-C stops the server and the signer.

  server   {url}   (log: {layout.data_dir / "server.log"})
  signer   {HOST}:{layout.signer_port}, mutual TLS (log: {layout.data_dir / "signer.log"})
  CA       {ca}

The notary CLI:

  notary -s {url} --tlscacert {ca} list <gun>

docker trust (docker reads the server's CA from {docker_ca}):

  mkdir -p ~/.docker/tls/{HOST}:{layout.server_port}
  cp {ca} {docker_ca}
  export DOCKER_CONTENT_TRUST=1
  export DOCKER_CONTENT_TRUST_SERVER={url}
""" + (auth_banner(layout) if layout.auth else "")


def auth_banner(layout: Layout) -> str:
    """The token-auth part of the banner (``--auth``)."""
    password_file = layout.user_password_file
    return f"""
Token auth is on (built-in issuer, realm {layout.server_url}/auth/token). Anonymous
clients may not read or write; user {AUTH_USER}'s password is in {password_file}.
The notary CLI reads credentials from NOTARY_AUTH (base64 of user:password):

  export NOTARY_AUTH=$(printf '{AUTH_USER}:%s' "$(cat {password_file})" | base64)

The operator console: {layout.server_url}/_notary_server/console/
(sign in as {AUTH_USER} with the password in {password_file}).

More users (then restart: the server reads the file when it starts):

  .venv/bin/python -m notary_server admin htpasswd {layout.htpasswd} USER
"""


def service(name: str, module: str, config: Path, env: Mapping[str, str]) -> ChildProcess:
    """``python -m MODULE --config CONFIG``, logging to ``NAME.log`` beside ``CONFIG``.

    In its own session: a Ctrl-C reaches only the launcher, which stops it.
    """
    return ChildProcess(
        f"the {name}",
        [sys.executable, "-m", module, "--config", str(config)],
        config.parent / f"{name}.log",
        env=env,
        new_session=True,
        error=LaunchError,
    )


def _watch(*services: ChildProcess) -> None:
    """Return never; raise when a service exits (a signal raises :class:`_Stop`).

    Raises:
        LaunchError: a service exited.
    """
    while True:
        for child in services:
            child.check_running()
        time.sleep(0.5)


def _progress(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise _Stop


def run(layout: Layout, *, startup_timeout: float) -> int:
    """Prepare, start, print, wait; stop both services on a signal or when one exits.

    Returns:
        0 after a requested stop, 1 when a service failed.
    """
    if taken := ports_in_use(layout):
        ports, verb, them = ("ports", "are", "them") if len(taken) > 1 else ("port", "is", "it")
        sys.stderr.write(
            f"run_embedded: {ports} {' and '.join(taken)} on {HOST} {verb} in use: another "
            f"instance (or another program) holds {them}; stop it, or choose other ports: "
            "make run SERVER_PORT=... SIGNER_PORT=...\n"
        )
        return 1
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    if ensure_certs(layout):
        _progress(f"generated development certificates in {layout.certs}")
    env = child_environment(os.environ, ensure_passphrase(layout.passphrase_file))
    if layout.auth:
        ensure_token_issuer(layout)
        try:
            ensure_first_user(layout, env)
        except LaunchError as e:
            sys.stderr.write(f"run_embedded: {e}\n")
            return 1
    write_configs(layout)
    signer = service("signer", "notary_signer", layout.signer_config, env)
    server = service("server", "notary_server", layout.server_config, env)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    status = 0
    try:
        for name, module, config in (
            ("signer", "notary_signer", layout.signer_config),
            ("server", "notary_server", layout.server_config),
        ):
            _progress(f"{name} database: {migrate(module, config, env)}")
        _progress(f"starting the signer on {HOST}:{layout.signer_port} ...")
        signer.start()
        signer.wait_ready(
            lambda: probe_signer(layout.signer_config),
            startup_timeout,
            interval=0.2,
            retry_on=(ProbeError,),
        )
        _progress(f"starting the server on {layout.server_url} ...")
        server.start()
        server.wait_ready(
            lambda: probe_server(layout.server_config, ca=layout.ca_file),
            startup_timeout,
            interval=0.2,
            retry_on=(ProbeError,),
        )
        sys.stdout.write(banner(layout))
        sys.stdout.flush()
        _watch(signer, server)
    except _Stop:
        sys.stdout.write("\nstopping\n")
    except LaunchError as e:
        sys.stderr.write(f"run_embedded: {e}\n")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop(STOP_TIMEOUT)
        signer.stop(STOP_TIMEOUT)
    sys.stdout.write("stopped\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run."""
    parser = argparse.ArgumentParser(description="Run notary_signer and notary_server locally.")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("notary-data"), help="default: ./notary-data"
    )
    parser.add_argument("--server-port", type=int, default=4443, help="default: 4443")
    parser.add_argument("--signer-port", type=int, default=7899, help="default: 7899")
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds per service (default: 60)"
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="token auth with the built-in issuer and a first user (make run-auth)",
    )
    args = parser.parse_args(argv)
    layout = Layout(args.data_dir.resolve(), args.server_port, args.signer_port, args.auth)
    return run(layout, startup_timeout=args.startup_timeout)


if __name__ == "__main__":
    sys.exit(main())
