"""Request logs: a request id and the route's gun/role/version on the request's log lines.

The middleware's own line carries the fields as ``extra`` (what caplog records);
other lines logged while the request runs get them from ``RequestContextFilter``,
which ``setup_logging`` installs on the process's handler and these tests install
on caplog's. Both formatters write them. Bodies, tokens and query strings are
never logged.
"""

from __future__ import annotations

import json
import logging

import pytest

from notary_server.logs import JSONFormatter, LogfmtFormatter, RequestContextFilter
from notary_server.requestlog import request_fields
from testkit.server_helpers import GUN, AppClient, tuf_url, upload

REQUEST_LOGGER = "notary_server.requestlog"


def _request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == REQUEST_LOGGER]


def test_fields_come_from_gos_route_table() -> None:
    fields = request_fields("GET", f"/v2/{GUN}/_trust/tuf/3.targets/releases.json")
    assert fields.pop("request_id")
    assert fields == {"gun": GUN, "role": "targets/releases", "version": "3"}
    assert set(request_fields("GET", "/_notary_server/health")) == {"request_id"}
    first, second = request_fields("GET", "/v2/"), request_fields("GET", "/v2/")
    assert first["request_id"] != second["request_id"]


async def test_each_request_logs_one_line_with_its_context(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.get(tuf_url(GUN, "2.root.json"))
    assert response.status == 404
    response = await client.get(tuf_url(GUN, "timestamp.key") + "?secret=query")
    assert response.status == 200
    missing, key = (vars(r) for r in _request_records(caplog))
    assert {k: missing[k] for k in ("gun", "role", "version", "status", "method")} == {
        "gun": GUN,
        "role": "root",
        "version": "2",
        "status": 404,
        "method": "GET",
    }
    assert (key["gun"], key["role"], key["status"]) == (GUN, "timestamp", 200)
    assert "version" not in key
    assert missing["request_id"] != key["request_id"]
    assert "secret" not in key["msg"] % key["args"]
    assert key["duration_ms"] >= 0


async def test_lines_logged_during_a_request_carry_its_id(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestContextFilter())
    caplog.set_level(logging.INFO)
    secret = b"not-json-payload-7d1e"
    response = await upload(client, GUN, {"root": secret})
    assert response.status == 400
    (line,) = _request_records(caplog)
    request_id = vars(line)["request_id"]
    related = [r for r in caplog.records if vars(r).get("request_id") == request_id]
    assert {r.name for r in related} >= {"notary_server.middlewares", REQUEST_LOGGER}
    assert all(vars(r)["gun"] == GUN for r in related)
    for record in caplog.records:
        assert secret.decode() not in record.getMessage()


def test_formatters_write_the_context() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", ("/p",), None)
    record.__dict__.update(request_id="abc", gun="docker.io/a b", role="root", status=200)
    entry = json.loads(JSONFormatter().format(record))
    assert entry["msg"] == "GET /p"
    assert (entry["request_id"], entry["gun"], entry["role"], entry["status"]) == (
        "abc",
        "docker.io/a b",
        "root",
        200,
    )
    line = LogfmtFormatter().format(record)
    assert 'request_id=abc gun="docker.io/a b" role=root status=200' in line
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert "request_id" not in JSONFormatter().format(plain)
