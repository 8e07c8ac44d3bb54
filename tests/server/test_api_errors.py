"""The error envelope (docs/protocol.md#error-envelope): codes, exact bytes, detail omitted vs
``{}``, no internals."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from notary_server.errors import NO_DETAIL, ApiError, ErrorCode, go_json
from notary_server.middlewares import error_response
from notary_server.storage import StorageError
from notary_server.storage.memory import MemoryMetaStore
from testkit.server_helpers import (
    GUN,
    JSON_CONTENT_TYPE,
    AppClient,
    ClientFactory,
    dump_store,
    error_body,
    multipart,
    publish_new,
    tuf_url,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.storage.base import Audit, MetaUpdate, StoredMeta

# Go server/errors/errors.go and docker/distribution errcode, verbatim.
GO_CODES = [
    ("NO_STORAGE", "The server is misconfigured and has no storage.", 500),
    ("NO_FILENAME", "No file/role name provided.", 400),
    ("INVALID_ROLE", "The role you are attempting to operate on is invalid.", 400),
    ("MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", 400),
    ("UPDATING", "An error has occurred while updating the TUF repository.", 500),
    ("VERSION", "A newer version of metadata is already available.", 400),
    ("METADATA_NOT_FOUND", "You have requested metadata that does not exist.", 404),
    ("INVALID_UPDATE", "Update sent by the client is invalid.", 400),
    ("MALFORMED_UPLOAD", "The body of your request is malformed.", 400),
    ("GENERIC_NOT_FOUND", "You have requested a resource that does not exist.", 404),
    ("NO_CRYPTOSERVICE", "The server does not have a signing service configured.", 500),
    ("NO_KEYALGORITHM", "The server does not have a key algorithm configured.", 500),
    ("INVALID_GUN", "The server does not support actions on images of this name.", 400),
    ("INVALID_PARAMETERS", "The parameters provided are not valid.", 400),
    ("UNKNOWN", "unknown error", 500),
    ("UNAUTHORIZED", "authentication required", 401),
]


def test_error_codes_match_go() -> None:
    ours = [(c.code, c.message, c.status) for c in ErrorCode]
    assert sorted(ours) == sorted(GO_CODES)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ApiError(ErrorCode.METADATA_NOT_FOUND),
            (
                b'{"errors":[{"code":"METADATA_NOT_FOUND",'
                b'"message":"You have requested metadata that does not exist."}]}\n'
            ),
        ),
        (
            ApiError(ErrorCode.METADATA_NOT_FOUND, {}),
            (
                b'{"errors":[{"code":"METADATA_NOT_FOUND",'
                b'"message":"You have requested metadata that does not exist.","detail":{}}]}\n'
            ),
        ),
        (
            ApiError(ErrorCode.VERSION, {}),
            (
                b'{"errors":[{"code":"VERSION",'
                b'"message":"A newer version of metadata is already available.","detail":{}}]}\n'
            ),
        ),
        (
            ApiError(ErrorCode.INVALID_ROLE, "targets/<a&b>"),
            (
                b'{"errors":[{"code":"INVALID_ROLE",'
                b'"message":"The role you are attempting to operate on is invalid.",'
                b'"detail":"targets/\\u003ca\\u0026b\\u003e"}]}\n'
            ),
        ),
        (
            ApiError(
                ErrorCode.INVALID_UPDATE,
                {"Name": "ErrBadHierarchy", "Error": {"Missing": "snapshot", "Msg": "m"}},
            ),
            (
                b'{"errors":[{"code":"INVALID_UPDATE",'
                b'"message":"Update sent by the client is invalid.",'
                b'"detail":{"Name":"ErrBadHierarchy","Error":{"Missing":"snapshot","Msg":"m"}}}]}\n'
            ),
        ),
        (
            ApiError(ErrorCode.UNKNOWN),
            b'{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}\n',
        ),
        (
            ApiError(ErrorCode.INVALID_PARAMETERS, None),  # Go: omitempty drops a nil detail
            (
                b'{"errors":[{"code":"INVALID_PARAMETERS",'
                b'"message":"The parameters provided are not valid."}]}\n'
            ),
        ),
    ],
    ids=[
        "no-detail",
        "empty-detail",
        "version",
        "string-detail-html-escaped",
        "structured-detail",
        "unknown",
        "none-is-omitted",
    ],
)
def test_envelope_bytes(error: ApiError, expected: bytes) -> None:
    response = error_response(error)
    assert response.status == error.code.status
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert response.body == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", b'"plain"'),
        ("<>&", b'"\\u003c\\u003e\\u0026"'),
        ("\u2028\u2029", b'"\\u2028\\u2029"'),
        ("\n\r\t\b\f\x01", b'"\\n\\r\\t\\u0008\\u000c\\u0001"'),
        ('"\\', b'"\\"\\\\"'),
        ("é", '"é"'.encode()),
        ({"b": 1, "a": [True, False, None]}, b'{"b":1,"a":[true,false,null]}'),
    ],
    ids=["plain", "html", "line-separators", "controls", "quote-backslash", "utf8", "order"],
)
def test_go_json(value: Any, expected: bytes) -> None:
    assert go_json(value) == expected


def test_go_json_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        go_json(1.5)


def test_no_detail_marker_is_not_serialised() -> None:
    assert "detail" not in ApiError(ErrorCode.UNKNOWN, NO_DETAIL).body()["errors"][0]


# --- through the application ----------------------------------------------------------

SECRET = "password=hunter2 at /srv/db"


class ExplodingStore(MemoryMetaStore):
    """A memory store whose reads (or writes) fail the way we choose."""

    def __init__(self, error: Exception, *, on_write: bool = False) -> None:
        super().__init__()
        self.error = error
        self.on_write = on_write
        self.armed = False

    async def get_current(self, gun: str, role: str) -> StoredMeta:
        if self.armed and not self.on_write:
            raise self.error
        return await super().get_current(gun, role)

    async def update_many(
        self, gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None
    ) -> None:
        if self.armed and self.on_write:
            raise self.error
        await super().update_many(gun, updates, audit=audit)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RuntimeError(SECRET), b'{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}\n'),
        (
            StorageError(SECRET),
            b'{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{}}]}\n',
        ),
    ],
    ids=["unexpected-exception", "storage-error"],
)
@pytest.mark.parametrize("tail", ["root.json", "timestamp.json", "snapshot.json"])
async def test_failure_inside_handler_is_500_unknown(
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    expected: bytes,
    tail: str,
) -> None:
    store = ExplodingStore(error)
    client = await make_client(store=store)
    await publish_new(client)
    store.armed = True
    with caplog.at_level(logging.ERROR, logger="notary_server"):
        response = await client.get(tuf_url(GUN, tail))
    assert response.status == 500
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    body = await response.read()
    assert body == expected
    assert SECRET.encode() not in body
    # the cause goes to the log instead
    assert any(r.exc_info is not None and SECRET in str(r.exc_info[1]) for r in caplog.records)


async def test_storage_write_failure_is_500_updating(make_client: ClientFactory) -> None:
    # Go: any store error from UpdateMany other than ErrOldVersion → 500 UPDATING, no detail.
    store = ExplodingStore(StorageError(SECRET), on_write=True)
    client = await make_client(store=store)
    published = await publish_new(client)
    before = await dump_store(store)
    store.armed = True
    parts = published.builder.publish()
    response = await client.post(tuf_url(GUN), data=multipart(parts))
    assert response.status == 500
    assert await response.read() == error_body(
        "UPDATING", "An error has occurred while updating the TUF repository.", has_detail=False
    )
    assert await dump_store(store) == before


async def test_client_error_is_logged_at_info(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="notary_server"):
        response = await client.get(tuf_url(GUN, "root.json"))
    assert response.status == 404
    records = [r for r in caplog.records if r.name == "notary_server.middlewares"]
    assert records
    assert all(r.levelno == logging.INFO for r in records)


async def test_error_body_is_one_error_under_1kib(client: AppClient) -> None:
    # The Go client reads only the first 1 KiB of an error body and expects exactly one error.
    response = await client.post(tuf_url(GUN), data=b"x")
    body = await response.read()
    assert len(body) < 1024
    assert len(json.loads(body)["errors"]) == 1
