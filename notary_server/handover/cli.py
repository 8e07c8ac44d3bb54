"""``python -m notary_server.handover``: options, the per-repository steps, the report.

Exit status: 0 every repository handed over (or already was), 1 one failed
(re-run: it is safe), 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from notary_server.handover.client import NotaryClient, ServerError, docker_ca_for
from notary_server.handover.keyfiles import (
    KeyFile,
    KeyFileError,
    WrongPassphraseError,
    default_trust_dirs,
    open_key_file,
    passphrase_from_env,
    scan_key_files,
)
from notary_server.handover.rotation import (
    HandoverError,
    already_handed_over,
    check_server_root_is_current,
    handed_over_root,
    match_root_keys,
)
from notary_tuf.errors import NotaryTufError
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.verify import verify_signatures

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TextIO

    from notary_tuf.crypto import PrivateKey
    from notary_tuf.models import Root, Snapshot, Timestamp

__all__ = ["main"]

PROG: Final = "python -m notary_server.handover"
PROMPTS: Final = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Hand repositories imported from another notary server over to this "
        "one: publish one root rotation, signed with your root key, that names this "
        "server's snapshot and timestamp keys. Safe to run again.",
    )
    parser.add_argument(
        "--server",
        "-s",
        default=os.environ.get("DOCKER_CONTENT_TRUST_SERVER"),
        metavar="URL",
        help="the new notary server (default: $DOCKER_CONTENT_TRUST_SERVER)",
    )
    parser.add_argument(
        "--tlscacert",
        "--ca",
        dest="ca",
        type=Path,
        metavar="FILE",
        help="CA of the server's TLS certificate "
        "(default: $DOCKER_CONFIG/tls/<host:port>/ca.crt if present, else the system's)",
    )
    parser.add_argument(
        "--trust-dir",
        "-d",
        dest="trust_dirs",
        action="append",
        type=Path,
        metavar="DIR",
        help="where the root key is; repeatable (default: ~/.notary and ~/.docker/trust)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="build and check the new root; publish nothing"
    )
    parser.add_argument("guns", nargs="+", metavar="GUN", help="e.g. docker.io/library/app")
    return parser


class _RootKeys:
    """The root keys of the trust directories, each decrypted once, on first need."""

    def __init__(self, files: Sequence[KeyFile], env: Mapping[str, str]) -> None:
        self.files = [f for f in files if f.role == ROOT]
        self.passphrase = passphrase_from_env(env)
        self.opened: dict[Path, PrivateKey] = {}
        self.unopened: dict[Path, str] = {}
        self._done = False

    def _ask(self, key_file: KeyFile) -> str | None:
        if not sys.stdin.isatty():
            return None
        return getpass.getpass(f"Enter passphrase for root key {key_file.path.stem[:7]}: ")

    def _open(self, key_file: KeyFile) -> None:
        passphrase = self.passphrase
        for _ in range(PROMPTS):
            if passphrase is None:
                passphrase = self._ask(key_file)
                if passphrase is None:
                    self.unopened[key_file.path] = (
                        "no passphrase: set NOTARY_ROOT_PASSPHRASE or "
                        "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE, or run it in a terminal"
                    )
                    return
            try:
                self.opened[key_file.path] = open_key_file(key_file, passphrase)
            except WrongPassphraseError:
                if passphrase == self.passphrase:
                    self.passphrase = None  # the environment's is not this key's
                passphrase = None
                continue
            except KeyFileError as e:
                self.unopened[key_file.path] = str(e)
                return
            self.passphrase = passphrase  # the next key most likely shares it
            return
        self.unopened[key_file.path] = "wrong passphrase"

    def all(self) -> list[PrivateKey]:
        if not self._done:
            for key_file in self.files:
                self._open(key_file)
            self._done = True
        return list(self.opened.values())


def _public_key(client: NotaryClient, gun: str, role: str) -> PublicKey:
    try:
        return PublicKey.from_dict(json.loads(client.get(gun, f"{role}.key")))
    except (ValueError, NotaryTufError) as e:
        raise HandoverError(f"{gun}: the server's {role} key does not parse: {e}") from e


def _check_published(client: NotaryClient, gun: str, root: bytes) -> str:
    """Fetch the new snapshot and timestamp and check this server signed them for ``root``."""
    try:
        served = client.get(gun, "root.json")
        if served != root:
            raise HandoverError(f"{gun}: the server serves another root than the one published")
        new_root: Metadata[Root] = Metadata.from_bytes(ROOT, served)
        snapshot_bytes = client.get(gun, "snapshot.json")
        snapshot: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, snapshot_bytes)
        timestamp: Metadata[Timestamp] = Metadata.from_bytes(
            TIMESTAMP, client.get(gun, "timestamp.json")
        )
        for metadata, role in ((snapshot, SNAPSHOT), (timestamp, TIMESTAMP)):
            verify_signatures(
                metadata.envelope,
                new_root.signed.role_keys(role),
                new_root.signed.roles[role].threshold,
                role=role,
            )
        snapshot.signed.meta[ROOT].check(root, ROOT)
        timestamp.signed.snapshot_meta.check(snapshot_bytes, SNAPSHOT)
    except (NotaryTufError, KeyError) as e:
        raise HandoverError(f"{gun}: published, but the server's answer does not check: {e}") from e
    return f"snapshot v{snapshot.version} and timestamp v{timestamp.version}"


def trusted_roots(trust_dirs: Sequence[Path], gun: str) -> list[bytes]:
    """The root files the notary CLI or docker cached for ``gun`` in ``trust_dirs``."""
    found = []
    for directory in trust_dirs:
        path = directory / "tuf" / gun / "metadata" / "root.json"
        if path.is_file():
            found.append(path.read_bytes())
    return found


def _hand_over(
    client: NotaryClient,
    gun: str,
    keys: _RootKeys,
    *,
    dry_run: bool,
    now: datetime,
    trust_dirs: Sequence[Path] = (),
) -> str:
    current = client.get(gun, "root.json")
    try:
        root: Metadata[Root] = Metadata.from_bytes(ROOT, current)
    except NotaryTufError as e:
        raise HandoverError(f"{gun}: the server's root does not parse: {e}") from e
    snapshot = _public_key(client, gun, SNAPSHOT)
    timestamp = _public_key(client, gun, TIMESTAMP)
    if already_handed_over(root.signed, snapshot, timestamp):
        return f"already handed over (root v{root.version} names this server's keys)"
    check_server_root_is_current(gun, current, trusted_roots(trust_dirs, gun))
    signers = match_root_keys(root.signed, keys.all())
    if len(signers) < root.signed.roles[ROOT].threshold:
        wanted = ", ".join(k[:12] for k in root.signed.roles[ROOT].keyids)
        unopened = "".join(f"\n    could not open {p}: {why}" for p, why in keys.unopened.items())
        raise HandoverError(
            f"{gun}: the root key(s) {wanted} are not in the trust directories "
            f"(need {root.signed.roles[ROOT].threshold}, found {len(signers)}){unopened}"
        )
    new_root = handed_over_root(
        gun, current, signers, snapshot=snapshot, timestamp=timestamp, now=now
    )
    step = (
        f"root v{root.version} -> v{new_root.version}: snapshot key {snapshot.key_id[:12]}, "
        f"timestamp key {timestamp.key_id[:12]}"
    )
    if dry_run:
        return f"would publish {step} (dry run)"
    client.publish(gun, {ROOT: new_root.to_bytes()})
    signed = _check_published(client, gun, new_root.to_bytes())
    return f"handed over: published {step}; the server signed {signed}"


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the hand-over for each GUN; one line per GUN and a summary."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    if not args.server:
        sys.stderr.write(f"{PROG}: give --server URL (or set DOCKER_CONTENT_TRUST_SERVER)\n")
        return 2
    env = os.environ
    home = Path(env.get("HOME", str(Path.home())))
    ca = args.ca or docker_ca_for(args.server, env, home)
    client = NotaryClient(args.server, ca_file=ca, basic_auth=env.get("NOTARY_AUTH"))
    trust_dirs = args.trust_dirs or default_trust_dirs(env)
    keys = _RootKeys(scan_key_files(trust_dirs), env)
    if not keys.files:
        listed = ", ".join(map(str, trust_dirs))
        sys.stderr.write(f"{PROG}: no root key in {listed} (give --trust-dir)\n")
        return 2
    failed = 0
    for gun in dict.fromkeys(args.guns):
        out.write(f"{gun}: ")
        out.flush()
        try:
            out.write(
                _hand_over(
                    client,
                    gun,
                    keys,
                    dry_run=args.dry_run,
                    now=datetime.now(UTC),
                    trust_dirs=trust_dirs,
                )
            )
        except (HandoverError, ServerError) as e:
            failed += 1
            out.write(f"FAILED: {e}")
        out.write("\n")
        out.flush()
    total = len(dict.fromkeys(args.guns))
    out.write(f"{total - failed} of {total} repositories handed over")
    out.write(" (dry run)\n" if args.dry_run else "\n")
    if failed:
        out.write("fix the causes above and run the same command again: it is safe to repeat\n")
    return 1 if failed else 0
