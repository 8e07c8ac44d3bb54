"""Golden comparison: our ``validate_update`` against the Go server's verdicts.

Every case builds a repository state on a fresh GUN of a real
``/usr/bin/notary-server`` (setup uploads must succeed), then makes one final
upload.  The Go server's answer is recorded as ``(status, error code, detail
Name)`` and must equal the table's ``go`` column -- that documents Go's
behaviour.  Then :func:`notary_tuf.validation.validate_update` runs on the same
parts with ``current`` = what the Go server serves for the GUN, and its outcome,
mapped to the same triple, must equal the ``ours`` column (the ``go`` column
unless the row says why not).

``validate_update`` is only the pure part of Go's ``validateUpdate``.  Three
server-side checks around it are emulated here, each named in the rows that
depend on it (:func:`server_side_checks`):

* generating the snapshot needs the server to hold a snapshot key root lists
  (else ``ErrBadHierarchy``), and generating the timestamp one of root's
  timestamp keys (else ``ErrBadRoot``);
* storage refuses a version not above the stored one (``400 VERSION``).

After every rejected upload the Go server's ``timestamp.json`` must be
byte-identical to before: a refused update changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from notary_tuf.errors import InvalidRoleNameError, ValidationError
from notary_tuf.rolenames import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    is_delegation,
    is_valid_role,
    parent_role,
)
from notary_tuf.validation import ValidatedUpdate, validate_update
from testkit.gotools import GoNotaryServer, Response, require_go_tools
from testkit.repo_builder import signed_of, version_of
from tests.interop.golden_cases import CASES, OK, Case, Prepared, Verdict, invalid

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.gotools


# --------------------------------------------------------------------------- verdicts


def go_verdict(response: Response) -> Verdict:
    if response.status == 200:
        return OK
    error = json.loads(response.body)["errors"][0]
    detail = error.get("detail")
    name = detail.get("Name") if isinstance(detail, dict) else None
    return Verdict(response.status, error["code"], name)


def served_current(
    server: GoNotaryServer, gun: str, uploads: Mapping[str, bytes]
) -> dict[str, bytes]:
    """What the Go server serves for the roles ``validate_update`` may need."""
    roles = {ROOT, TARGETS}
    for role in uploads:
        while is_valid_role(role) and is_delegation(role):
            roles.add(role)
            role = parent_role(role)  # noqa: PLW2901 - walking up to targets
    current: dict[str, bytes] = {}
    for role in sorted(roles):
        status, _, body = server.get_metadata(gun, role)
        if status == 200:
            current[role] = body
        else:
            assert status == 404, (role, status, body)
    return current


def server_side_checks(
    validated: ValidatedUpdate, current: Mapping[str, bytes], held_key_ids: set[str]
) -> Verdict:
    """Go's steps after validation that ``validate_update`` leaves to the server."""
    roles = validated.root.signed.roles
    if validated.snapshot is None and not held_key_ids & set(roles[SNAPSHOT].keyids):
        return invalid("ErrBadHierarchy")
    if not held_key_ids & set(roles[TIMESTAMP].keyids):
        return invalid("ErrBadRoot")
    for update in validated.updates:
        stored = current.get(update.role)
        if stored is not None and update.version <= version_of(stored):
            return Verdict(400, "VERSION")
    return OK


def our_verdict(prepared: Prepared, current: Mapping[str, bytes]) -> Verdict:
    try:
        validated = validate_update(
            gun=prepared.gun, current=current, uploads=prepared.parts, now=datetime.now(UTC)
        )
    except ValidationError as e:
        return invalid(e.to_detail()["Name"])
    except InvalidRoleNameError:
        return Verdict(400, "INVALID_ROLE")
    return server_side_checks(validated, current, prepared.held_key_ids)


def timestamp_of(server: GoNotaryServer, gun: str) -> tuple[int, bytes]:
    status, _, body = server.get_metadata(gun, TIMESTAMP)
    return status, body


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoNotaryServer]:
    require_go_tools()
    with GoNotaryServer(tmp_path_factory.mktemp("golden-server")) as server:
        yield server


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 12
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        assert (case.ours is None) == (not case.why_different), case.id


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_golden(go_server: GoNotaryServer, case: Case) -> None:
    prepared = case.prepare(go_server)
    current = served_current(go_server, prepared.gun, prepared.parts)
    before = timestamp_of(go_server, prepared.gun)

    response = go_server.upload(prepared.gun, prepared.parts)
    go = go_verdict(response)
    after = timestamp_of(go_server, prepared.gun)
    ours = our_verdict(prepared, current)

    if case.code_only:
        go, ours = Verdict(go.status, go.code), Verdict(ours.status, ours.code)
    assert go == case.go, f"Go: {response.body!r}"
    assert ours == case.expected_ours
    if go.status != 200:
        assert after == before, "a refused upload changed the Go repository"
    else:
        assert after != before
        assert after[0] == 200
        stamped: dict[str, Any] = signed_of(after[1])
        assert stamped["_type"] == "Timestamp"
