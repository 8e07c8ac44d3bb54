"""The real ``notary`` client: :class:`NotaryCLI`, its list output and delegation keys."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testkit.gotools.common import (
    DEFAULT_PASSPHRASE,
    NOTARY_BIN,
    PASSPHRASE_ENV_VARS,
    GoToolError,
    no_proxy_env,
)

if TYPE_CHECKING:
    from testkit.gotools.server import NotaryServerProcess


class TargetListing(NamedTuple):
    """One row of ``notary list``."""

    name: str
    sha256: str
    length: int
    role: str


@dataclass(frozen=True)
class DelegationKey:
    """An ECDSA P-256 delegation key with a self-signed certificate."""

    cert_path: Path
    key_path: Path
    cert_pem: bytes
    key_pem: bytes


def make_delegation_key(
    directory: Path, name: str, common_name: str | None = None
) -> DelegationKey:
    """Create ``<name>.crt`` / ``<name>.key`` (PKCS#8, unencrypted) in ``directory``.

    ``notary delegation add`` accepts a ``CERTIFICATE`` or ``PUBLIC KEY`` PEM
    (``tuf/utils/x509.go`` ParsePEMPublicKey); a certificate becomes an
    ``ecdsa-x509`` key in the delegation.  The certificate must be currently valid
    and not SHA-1 signed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    return DelegationKey(cert_path, key_path, cert_pem, key_pem)


class NotaryCLI:
    """Runs ``/usr/bin/notary`` with its own trust dir; it never prompts.

    ``HOME`` points into ``home`` so ``~/.notary/config.json`` is never read, stdin is
    closed, proxies are removed from the environment and all passphrase variables
    are set to ``passphrase``.
    """

    def __init__(
        self,
        basedir: Path,
        *,
        server_url: str,
        ca_path: Path,
        passphrase: str = DEFAULT_PASSPHRASE,
        timeout: float = 60.0,
        binary: Path = NOTARY_BIN,
    ) -> None:
        """Use ``basedir/trust`` as trust dir and ``basedir/home`` as ``HOME``."""
        self.basedir = basedir
        self.trust_dir = basedir / "trust"
        self.home = basedir / "home"
        self.server_url = server_url
        self.ca_path = ca_path
        self.passphrase = passphrase
        self.timeout = timeout
        self.binary = binary
        self.trust_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        """Environment the CLI runs with."""
        env = no_proxy_env(os.environ)
        env["HOME"] = str(self.home)
        for var in PASSPHRASE_ENV_VARS:
            env[var] = self.passphrase
        return env

    def command(self, *args: str) -> list[str]:
        """Full argv for ``notary <args>``."""
        return [
            str(self.binary),
            "-d",
            str(self.trust_dir),
            "-s",
            self.server_url,
            "--tlscacert",
            str(self.ca_path),
            *args,
        ]

    def run(
        self,
        *args: str | Path,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
    ) -> subprocess.CompletedProcess[str]:
        """Run ``notary <args>``; raise :class:`GoToolError` on failure if ``check``.

        stdin is closed unless ``input`` is given (e.g. ``yes`` + newline for the root
        rotation prompt, which otherwise prints "Aborting action." and exits 0).
        """
        argv = self.command(*map(str, args))
        stdin: dict[str, Any] = (
            {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        )
        try:
            proc = subprocess.run(
                argv,
                **stdin,
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.basedir,
                timeout=timeout or self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            msg = f"timed out: notary {' '.join(map(str, args))}\n{err.stdout!r}\n{err.stderr!r}"
            raise GoToolError(msg) from err
        if check and proc.returncode != 0:
            msg = (
                f"notary {' '.join(map(str, args))} exited with {proc.returncode}\n"
                f"--- stdout:\n{proc.stdout}\n--- stderr:\n{proc.stderr}"
            )
            raise GoToolError(msg)
        return proc

    def generate_key(self, role: str = "root") -> str:
        """``notary key generate ecdsa --role ROLE`` into the keystore; return the key ID."""
        out = self.run("key", "generate", "ecdsa", "--role", role).stdout
        marker = "keyID: "
        if marker not in out:
            raise GoToolError(f"unexpected key generate output: {out!r}")
        return out.rsplit(marker, 1)[1].split()[0]

    def rotate_key(self, gun: str, role: str, *, server_managed: bool = False) -> None:
        """``notary key rotate GUN ROLE [-r]``, confirming the root rotation prompt."""
        extra = ["-r"] if server_managed else []
        proc = self.run("key", "rotate", gun, role, *extra, input="yes\n")
        if "Aborting action" in proc.stdout + proc.stderr:
            raise GoToolError(f"key rotation of {role} aborted:\n{proc.stdout}{proc.stderr}")

    def import_key(self, pem_path: Path, *, role: str, gun: str | None = None) -> None:
        """``notary key import PEM --role ROLE [--gun GUN]``."""
        extra = ["--gun", gun] if gun else []
        self.run("key", "import", pem_path, "--role", role, *extra)

    def list_targets(self, gun: str, *roles: str) -> list[TargetListing]:
        """``notary list GUN`` parsed into rows."""
        role_args = [a for r in roles for a in ("--roles", r)]
        return parse_target_list(self.run("list", gun, *role_args).stdout)

    def metadata_dir(self, gun: str) -> Path:
        """The client's TUF metadata cache for ``gun``."""
        return self.trust_dir / "tuf" / gun / "metadata"

    def cached_metadata(self, gun: str) -> dict[str, bytes]:
        """Cached metadata as ``{role: bytes}`` (``targets/releases`` for delegations)."""
        base = self.metadata_dir(gun)
        if not base.is_dir():
            return {}
        return {
            path.relative_to(base).as_posix().removesuffix(".json"): path.read_bytes()
            for path in sorted(base.rglob("*.json"))
        }


class AuthNotaryCLI(NotaryCLI):
    """:class:`NotaryCLI` signing in to a token realm as ``credentials`` (``user:password``).

    ``credentials=None`` runs it anonymously: ``NOTARY_AUTH`` is removed from
    the environment it would otherwise inherit.
    """

    def __init__(self, *args: Any, credentials: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credentials = credentials

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env.pop("NOTARY_AUTH", None)
        if self.credentials is not None:
            env["NOTARY_AUTH"] = base64.b64encode(self.credentials.encode()).decode()
        return env


def parse_target_list(stdout: str) -> list[TargetListing]:
    """Parse the table printed by ``notary list`` (``cmd/notary/prettyprint.go``)."""
    rows: list[TargetListing] = []
    for line in stdout.splitlines():
        cols = line.split()
        if len(cols) != 4 or cols[0] == "NAME" or set(cols[0]) == {"-"}:
            continue
        rows.append(TargetListing(cols[0], cols[1], int(cols[2]), cols[3]))
    return rows


CLIFactory = Callable[[str], NotaryCLI]


def cli_factory_for(server: NotaryServerProcess, basedir: Path) -> CLIFactory:
    """Return ``name -> NotaryCLI`` creating one client per name under ``basedir``."""
    cache: dict[str, NotaryCLI] = {}

    def factory(name: str) -> NotaryCLI:
        if name not in cache:
            cache[name] = NotaryCLI(basedir / name, server_url=server.url, ca_path=server.ca_path)
        return cache[name]

    return factory
