"""Null, empty and omitted collections: our verdict and re-serialisation follow Go's.

The table and what each form becomes are in :mod:`tests.tuf.go_nil_forms`; the
live check of that table against the Debian notary-server is
``tests/interop/test_go_nil_forms_live.py``. Here each upload goes through
:func:`notary_tuf.validation.validate_update` against the repository it
follows, and an accepted file's Go re-serialisation (``go_bytes``) must hold
what the table says Go writes back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from notary_tuf.errors import ValidationError
from notary_tuf.rolenames import SNAPSHOT, TARGETS
from notary_tuf.signed import Metadata
from notary_tuf.validation import validate_update
from testkit.repo_builder import SigningKey, sign_signed
from tests.tuf.go_nil_forms import (
    FIELDS,
    GO_PANICS,
    REFUSED,
    Field,
    Form,
    Repository,
    case_id,
    field_cases,
    resolve_path,
    written_value,
)

GUN = "example.com/go-nil"
NOW = datetime.now(UTC)


def _repository(case: Field) -> tuple[Repository, dict[str, bytes]]:
    server_snapshot = None if case.role == SNAPSHOT else SigningKey.generate().public
    repo = Repository.new(
        GUN, timestamp_key=SigningKey.generate().public, snapshot_key=server_snapshot, now=NOW
    )
    first = repo.first_publish()
    repo.builder.accept(first)
    return repo, first


def test_the_table_covers_every_collection_field_of_go_types() -> None:
    declared = {f.go.split(" ", 1)[0] for f in FIELDS}
    # Every json-tagged collection field of tuf/data (types, root, targets, snapshot,
    # keys, roles), by file:line; the timestamp's meta is the one left out (see FIELDS).
    assert declared >= {
        "tuf/data/types.go:141",
        "tuf/data/types.go:142",
        "tuf/data/types.go:164",
        "tuf/data/types.go:170",
        "tuf/data/types.go:174",
        "tuf/data/types.go:183",
        "tuf/data/types.go:184",
        "tuf/data/types.go:338",
        "tuf/data/types.go:339",
        "tuf/data/root.go:19",
        "tuf/data/root.go:20",
        "tuf/data/targets.go:22",
        "tuf/data/targets.go:23",
        "tuf/data/snapshot.go:22",
        "tuf/data/keys.go:38",
        "tuf/data/keys.go:39",
        "tuf/data/keys.go:204",
        "tuf/data/roles.go:247",
        "tuf/data/roles.go:256",
    }


@pytest.mark.parametrize("case", field_cases(), ids=case_id)
def test_verdict_and_go_re_serialisation(case: tuple[Field, Form]) -> None:
    field, form = case
    repo, first = _repository(field)
    uploads = repo.upload_with(field, form)
    expected = field.written[form]

    if expected in (REFUSED, GO_PANICS):
        with pytest.raises(ValidationError):
            validate_update(gun=GUN, current=repo.builder.current, uploads=uploads, now=NOW)
        return
    validate_update(gun=GUN, current=repo.builder.current, uploads=uploads, now=NOW)
    relaid = Metadata.from_bytes(field.role, uploads[field.role]).go_bytes()
    assert written_value(relaid, written_path(field, first[field.role])) == expected


def written_path(field: Field, base_file: bytes) -> tuple[str | int, ...]:
    """The field's path in a whole file, its key ID placeholder resolved in ``base_file``."""
    doc: dict[str, Any] = json.loads(base_file)
    base = doc["signed"] if field.where == "signed" else doc
    return (("signed",) if field.where == "signed" else ()) + resolve_path(base, field.path)


def test_the_go_client_removing_its_last_delegation_is_accepted() -> None:
    """The upload of issue #13: ``"delegations":{"keys":{},"roles":null}``, byte for byte."""
    repo, _ = _repository(FIELDS[0])
    repo.builder.delegations.clear()
    signed = json.loads(repo.builder.targets_file())["signed"]
    signed["delegations"] = {"keys": {}, "roles": None}
    upload = sign_signed(signed, repo.builder.targets_keys)
    assert b'"delegations":{"keys":{},"roles":null}' in upload

    validate_update(gun=GUN, current=repo.builder.current, uploads={TARGETS: upload}, now=NOW)
    assert Metadata.from_bytes(TARGETS, upload).go_bytes() == upload
