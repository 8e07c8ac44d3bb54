"""The changefeed: which repositories changed, newest timestamps and deletions.

Query parameters as Go parses them: ``records`` is required in practice (a
32-bit integer; 0 means the default page of 100; negative reads backwards) and
``change_id`` is optional (a 32-bit integer, default 0; negative reads backwards
from the newest record). Records use Go's field names as keys and ``ID`` is a
string.
Records written with an actor (migration 0004) carry one extra key, ``Actor``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from notary_server.appkeys import CONFIG_KEY, METASTORE_KEY
from notary_server.errors import EMPTY_DETAIL, ApiError, ErrorCode, go_json
from notary_tuf.gotime import format_go_time

if TYPE_CHECKING:
    from collections.abc import Mapping

    from notary_server.storage.base import Change

__all__ = ["DEFAULT_PAGE_SIZE", "changefeed"]

DEFAULT_PAGE_SIZE: Final = 100
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _parse_int32(text: str) -> int:
    """Parse like Go's ``strconv.ParseInt(text, 10, 32)``; raise ValueError with Go's text."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(text)}: invalid syntax")
    value = int(text)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(text)}: value out of range")
    return value


def _record(change: Change) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ID": str(change.id),
        "CreatedAt": format_go_time(change.created_at),
        "GUN": change.gun,
        "Version": change.version,
        "SHA256": change.sha256,
        "Category": change.category,
    }
    if change.actor is not None:
        # Beyond Go (ADR 0009): who published or deleted. Go's clients decode
        # into a struct and ignore unknown keys; the client address is not shown.
        record["Actor"] = change.actor
    return record


async def changefeed(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``GET /v2/{gun}/_trust/changefeed`` and ``GET /v2/_trust/changefeed``."""
    try:
        records = _parse_int32(request.query.get("records", ""))
    except ValueError as e:
        raise ApiError(ErrorCode.INVALID_PARAMETERS, f"invalid records parameter: {e}") from e
    try:
        change_id = _parse_int32(request.query.get("change_id", "") or "0")
    except ValueError as e:
        raise ApiError(ErrorCode.INVALID_PARAMETERS, EMPTY_DETAIL) from e
    # Beyond Go (ADR 0012): a page holds at most limits.max_changefeed_records;
    # clients page on from the last ID they saw, so a smaller page is harmless.
    cap = request.app[CONFIG_KEY].limits.max_changefeed_records
    page = max(-cap, min(cap, records or DEFAULT_PAGE_SIZE))
    changes = await request.app[METASTORE_KEY].get_changes(change_id, page, params.get("gun"))
    # Go's SQL stores always answer a list, [] when empty (its memory store can say null).
    body = {"count": len(changes), "records": [_record(c) for c in changes]}
    return web.Response(
        body=go_json(body),
        content_type="text/plain",
        charset="utf-8",
    )
