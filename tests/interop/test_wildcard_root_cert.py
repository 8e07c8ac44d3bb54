"""Root certificates whose names are PrintableStrings holding ``*`` or ``&``, on both servers.

Go's ``crypto/x509`` reads such names (a ``docker/*`` wildcard CN is often encoded
that way, and Go notary's tests use one) while pyca/cryptography refuses them. Each
case uploads the same new repository (root, targets, snapshot) to the Debian
``notary-server`` and to ours; both must answer alike, and an accepted repository
must list for the real ``notary`` client from either server.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from notary_tuf.crypto import PrivateKey
from notary_tuf.rolenames import ROOT, TARGETS
from testkit.gotools import (
    GoNotaryServer,
    NotaryServerProcess,
    TargetListing,
    cli_factory_for,
    require_go_tools,
)
from testkit.ourserver import OurNotaryServer
from testkit.repo_builder import RepoBuilder, SigningKey, fetch_server_key
from tests.tuf.test_certs import PRINTABLE, UTF8, der_key, named_cert

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

CONTENT = b"signed under a wildcard root certificate\n"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NotaryServerProcess]]:
    require_go_tools()
    with (
        GoNotaryServer(tmp_path_factory.mktemp("wildcard-go")) as go_server,
        OurNotaryServer(tmp_path_factory.mktemp("wildcard-ours")) as our_server,
    ):
        yield {"go": go_server, "ours": our_server}


@dataclass(frozen=True)
class Case:
    """A root certificate (CN, optional O, their string tags) and the GUN it signs for."""

    cn: str
    gun_prefix: str
    accepted: bool
    organization: str | None = None
    tags: tuple[int, int] = (PRINTABLE, PRINTABLE)


CASES = {
    "docker-star-printable": Case("docker/*", "docker/", accepted=True),
    "docker-star-printable-other-gun": Case("docker/*", "other/", accepted=False),
    "docker-star-utf8": Case("docker/*", "docker/", accepted=True, tags=(UTF8, UTF8)),
    "example-star-printable": Case("example.com/*", "example.com/a/", accepted=True),
    "ampersand-in-o": Case("docker/*", "docker/", accepted=True, organization="R&D"),
    "at-sign-in-o": Case("docker/*", "docker/", accepted=False, organization="R@D"),
    "at-sign-in-o-utf8": Case(
        "docker/*", "docker/", accepted=True, organization="R@D", tags=(PRINTABLE, UTF8)
    ),
    "underscore-in-o": Case("docker/*", "docker/", accepted=False, organization="R_D"),
}


def root_key(case: Case) -> SigningKey:
    private = PrivateKey.generate("ecdsa")
    now = datetime.now(UTC)
    der = named_cert(
        private,
        case.cn,
        organization=case.organization,
        tags=case.tags,
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=365),
    )
    return SigningKey(private, der_key(der))


def upload(server: NotaryServerProcess, gun: str, key: SigningKey) -> tuple[int, str, bytes]:
    """Publish a new repository under ``key``; (status, error code or "", the root sent)."""
    builder = RepoBuilder(
        gun, timestamp_key=fetch_server_key(server, gun, "timestamp"), root_keys=[key]
    )
    builder.add_target("app", CONTENT)
    parts = builder.publish()
    response = server.upload(gun, parts)
    code = ""
    if response.status != 200:
        code = json.loads(response.body)["errors"][0]["code"]
    return response.status, code, parts[ROOT]


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_wildcard_root_certificate(
    servers: dict[str, NotaryServerProcess], case: Case, tmp_path: Path
) -> None:
    gun = f"{case.gun_prefix}wildcard-{secrets.token_hex(4)}"
    key = root_key(case)
    results = {name: upload(server, gun, key) for name, server in servers.items()}
    statuses = {name: (status, code) for name, (status, code, _) in results.items()}
    if not case.accepted:
        assert statuses == {"go": (400, "INVALID_UPDATE"), "ours": (400, "INVALID_UPDATE")}
        return
    assert statuses == {"go": (200, ""), "ours": (200, "")}
    expected = {TargetListing("app", hashlib.sha256(CONTENT).hexdigest(), len(CONTENT), TARGETS)}
    for name, server in servers.items():
        status, _, body = server.get_metadata(gun, ROOT)
        assert (status, body) == (200, results[name][2]), name
        client = cli_factory_for(server, tmp_path / name)("reader")
        assert set(client.list_targets(gun)) == expected, name
