"""The null/empty/omitted table checked against the Debian notary-server, and ours beside it.

For every row and form of :data:`tests.tuf.go_nil_forms.FIELDS`, the same
repository is made on both servers (same root, targets and delegation keys;
each server's own snapshot and timestamp keys), then the same upload with the
field in that form is sent to both:

* both verdicts must be the table's (200, or a 400 with the same error code;
  where Go's handler panics and closes the connection, ours answers 400);
* where Go accepted a root or targets file, its server-made snapshot records
  the SHA-256 of Go's own re-serialisation of the parsed file: that must be the
  SHA-256 of our ``go_bytes`` -- so the table's "written back" column and our
  writer are Go's, byte for byte;
* ours records the hash of the bytes it stores and serves, so the repository
  stays fetchable. Where Go's re-serialisation differs from the upload (e.g.
  ``"delegations":{}``, written back as ``{"keys":null,"roles":null}``), Go's
  snapshot names a file it cannot serve: checked too, as the evidence for
  ADR 0017.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
from typing import TYPE_CHECKING, Any

import pytest

from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata
from testkit.gotools import GoNotaryServer, NotaryServerProcess, require_go_tools
from testkit.ourserver import OurNotaryServer
from testkit.repo_builder import SigningKey, fetch_server_key
from tests.tuf.go_nil_forms import GO_PANICS, REFUSED, Field, Form, Repository, case_id, field_cases

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NotaryServerProcess, NotaryServerProcess]]:
    require_go_tools()
    with (
        GoNotaryServer(tmp_path_factory.mktemp("go-nil-go")) as go,
        OurNotaryServer(tmp_path_factory.mktemp("go-nil-ours"), storage="sqlite3") as ours,
    ):
        yield go, ours


def _snapshot_sha256(server: NotaryServerProcess, gun: str, role: str) -> bytes:
    status, _, body = server.get_metadata(gun, SNAPSHOT)
    assert status == 200, body
    digest: str = json.loads(body)["signed"]["meta"][role]["hashes"]["sha256"]
    return base64.b64decode(digest)


def _error_code(body: bytes) -> str:
    errors: list[dict[str, Any]] = json.loads(body)["errors"]
    return str(errors[0]["code"])


@pytest.mark.parametrize("case", field_cases(), ids=case_id)
def test_go_and_ours_agree_with_the_table(
    servers: tuple[NotaryServerProcess, NotaryServerProcess], case: tuple[Field, Form]
) -> None:
    field, form = case
    gun = f"example.com/go-nil/{secrets.token_hex(4)}"
    root_keys = [SigningKey.root(gun)]
    targets_keys = [SigningKey.generate()]
    delegation_key = SigningKey.generate()
    outcomes: dict[str, tuple[int, bytes, dict[str, bytes]]] = {}
    for server in servers:
        repo = Repository.new(
            gun,
            timestamp_key=fetch_server_key(server, gun, TIMESTAMP),
            snapshot_key=None
            if field.role == SNAPSHOT
            else fetch_server_key(server, gun, SNAPSHOT),
            root_keys=root_keys,
            targets_keys=targets_keys,
            delegation_key=delegation_key,
        )
        first = repo.first_publish()
        status, _, body = server.upload(gun, first)
        assert status == 200, f"{server.name}: first publish refused: {body!r}"
        repo.builder.accept(first)
        upload = repo.upload_with(field, form)
        try:
            status, _, body = server.upload(gun, upload)
        except http.client.RemoteDisconnected:
            status, body = 0, b"connection closed without an answer"
        outcomes[server.name] = (status, body, upload)

    expected = field.written[form]
    (go_status, go_body, go_upload), (our_status, our_body, our_upload) = outcomes.values()
    if expected == GO_PANICS:
        assert go_status == 0, f"the table says Go's handler panics; Go answered {go_status}"
        assert our_status == 400, f"we answered {our_status}: {our_body!r}"
        return
    if expected == REFUSED:
        assert go_status == 400, f"the table says Go refuses it; Go answered {go_status}"
        assert our_status == 400, f"Go refuses it; we answered {our_status}: {our_body!r}"
        assert _error_code(our_body) == _error_code(go_body)
        return
    assert go_status == 200, f"the table says Go accepts it; Go answered {go_body!r}"
    assert our_status == 200, f"Go accepts it; we answered {our_status}: {our_body!r}"
    if field.role == SNAPSHOT:
        return  # Go never re-serialises a client-made snapshot
    go_relaid = Metadata.from_bytes(field.role, go_upload[field.role]).go_bytes()
    go, ours = servers
    go_recorded = _snapshot_sha256(go, gun, field.role)
    assert go_recorded == hashlib.sha256(go_relaid).digest(), (
        "Go's re-serialisation differs from our go_bytes"
    )
    _, _, go_served = go.get_metadata(gun, field.role)
    go_breaks_itself = go_relaid != go_upload[field.role]
    assert (hashlib.sha256(go_served).digest() != go_recorded) == go_breaks_itself
    assert (
        _snapshot_sha256(ours, gun, field.role) == hashlib.sha256(our_upload[field.role]).digest()
    )
    status, _, served = ours.get_metadata(gun, field.role)
    assert (status, served) == (200, our_upload[field.role])
