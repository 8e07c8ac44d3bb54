"""Issue #14 round 2 against real processes: Go's notary-server (memory) and ours (SQLite).

Each attack of ``tests/hardening/test_requests_round2.py`` is sent to both
servers. The test pins what Go answers, where Go does the wrong thing too, and
checks that our server, run as ``python -m notary_server`` on SQLite, refuses
it with Notary's code, stores nothing and still takes the owner's publish.
"""

from __future__ import annotations

import gzip
import http.client
import json
import secrets
import time
import urllib.error
from typing import TYPE_CHECKING

import pytest

from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import TARGETS, TIMESTAMP
from testkit.gotools import GoNotaryServer, require_go_tools
from testkit.gotools.server import multipart_body
from testkit.ourserver import OurNotaryServer
from testkit.repo_builder import RepoBuilder
from tests.hardening.test_requests_round2 import nested

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.gotools import NotaryServerProcess
    from testkit.gotools.server import Response

pytestmark = pytest.mark.gotools

WINDOW_DAYS = 5000  # every root expires within it: the expiry gauges have something to show


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoNotaryServer]:
    require_go_tools()
    with GoNotaryServer(tmp_path_factory.mktemp("go")) as server:
        yield server


@pytest.fixture(scope="module")
def our_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    extra = {"resign": {"interval": 0.2}, "expiry": {"window_days": WINDOW_DAYS}}
    server = OurNotaryServer(tmp_path_factory.mktemp("ours"), storage="sqlite3", extra_config=extra)
    with server:
        yield server


def new_gun(label: str) -> str:
    return f"example.com/round2/{label}-{secrets.token_hex(3)}"


def builder_for(server: NotaryServerProcess, gun: str) -> RepoBuilder:
    response = server.get(f"/v2/{gun}/_trust/tuf/{TIMESTAMP}.key")
    assert response.status == 200, response
    key = PublicKey.from_dict(json.loads(response.body))
    builder = RepoBuilder(gun, timestamp_key=key)
    builder.add_target("app", b"release 1\n")
    return builder


def code_of(response: Response) -> str:
    return str(json.loads(response.body)["errors"][0]["code"])


def post_raw(
    server: NotaryServerProcess, path: str, body: bytes, headers: dict[str, str]
) -> Response | None:
    """POST; None when the server dropped the connection without an answer."""
    try:
        return server.request("POST", path, body=body, headers=headers)
    except (urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError):
        return None


def assert_nothing_stored(server: NotaryServerProcess, gun: str) -> None:
    response = server.get_metadata(gun, "root")
    assert (response.status, code_of(response)) == (404, "METADATA_NOT_FOUND")


def assert_publishable(server: NotaryServerProcess, builder: RepoBuilder) -> None:
    parts = builder.publish()
    response = server.upload(builder.gun, parts)
    assert response.status == 200, response
    builder.accept(parts)
    assert server.get_metadata(builder.gun, TARGETS).body == parts[TARGETS]


# ------------------------------------------------------------------ 6


def test_publish_through_encoded_slash_in_gun(
    go_server: GoNotaryServer, our_server: OurNotaryServer
) -> None:
    for server in (go_server, our_server):
        gun = new_gun("encoded-slash")
        parent, leaf = gun.rsplit("/", 1)
        builder = builder_for(server, gun)
        body, content_type = multipart_body(builder.publish())
        response = post_raw(
            server, f"/v2/{parent}%2F{leaf}/_trust/tuf/", body, {"Content-Type": content_type}
        )
        assert response is not None
        if server is go_server:
            # Go does the wrong thing: it publishes into the decoded GUN.
            assert response.status == 200
            assert server.get_metadata(gun, TARGETS).status == 200
            continue
        assert (response.status, code_of(response)) == (400, "INVALID_GUN")
        assert_nothing_stored(server, gun)
        assert_publishable(server, builder)


def test_write_through_dotdot_gun_path(
    go_server: GoNotaryServer, our_server: OurNotaryServer
) -> None:
    for server in (go_server, our_server):
        gun = new_gun("dotdot")
        parent, leaf = gun.rsplit("/", 1)
        builder = builder_for(server, gun)
        body, content_type = multipart_body(builder.publish())
        path = f"/v2/{parent}/evil/../{leaf}/_trust/tuf/"
        response = post_raw(server, path, body, {"Content-Type": content_type})
        assert response is not None
        rotate = server.request("POST", f"{path}{TIMESTAMP}.key")
        if server is go_server:  # Go redirects writes too (a client would re-send elsewhere)
            assert response.status == rotate.status == 301
            continue
        assert (response.status, code_of(response)) == (400, "INVALID_GUN")
        assert (rotate.status, code_of(rotate)) == (400, "INVALID_GUN")
        assert_nothing_stored(server, gun)
        assert_publishable(server, builder)


# ------------------------------------------------------------------ 8


def test_gzip_compressed_upload(go_server: GoNotaryServer, our_server: OurNotaryServer) -> None:
    for server in (go_server, our_server):
        gun = new_gun("gzip")
        builder = builder_for(server, gun)
        body, content_type = multipart_body(builder.publish())
        headers = {"Content-Type": content_type, "Content-Encoding": "gzip"}
        response = post_raw(server, f"/v2/{gun}/_trust/tuf/", gzip.compress(body), headers)
        if server is go_server:
            # Go does not inflate either; it dereferences a nil multipart part
            # and drops the connection without an answer.
            assert response is None
            continue
        assert response is not None
        assert (response.status, code_of(response)) == (400, "MALFORMED_UPLOAD")
        assert_nothing_stored(server, gun)
        assert_publishable(server, builder)


# ------------------------------------------------------------------ 10


def test_metrics_list_no_repository_names(
    go_server: GoNotaryServer, our_server: OurNotaryServer
) -> None:
    # Go has no expiry gauges (nothing names a GUN); ours counts them by kind
    # and window, and names repositories only with metrics.gun_labels.
    gun = new_gun("metrics")
    assert_publishable(our_server, builder_for(our_server, gun))
    sample = f'notary_server_maintenance_expiring_items_within{{days="{WINDOW_DAYS}",kind="root"}}'
    text = ""
    for _ in range(100):  # the re-signing pass runs every 0.1-0.2 s
        text = our_server.get("/metrics").body.decode()
        if sample in text and f"{sample} 0.0" not in text:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"no expiry gauge in /metrics:\n{text[-2000:]}")
    assert gun not in text
    assert "expires_timestamp_seconds" not in text
    assert "example.com" not in go_server.get("/metrics").body.decode()


# ------------------------------------------------------------------ 11


def test_deep_nesting_with_unicode_escape(
    go_server: GoNotaryServer, our_server: OurNotaryServer
) -> None:
    for server in (go_server, our_server):
        gun = new_gun("deep")
        builder = builder_for(server, gun)
        assert_publishable(server, builder)
        for depth, code in ((600, "INVALID_UPDATE"), (20_000, "MALFORMED_JSON")):
            document = (
                '{"signed":{"_type":"Targets","version":2,'
                f'"expires":"2100-01-01T00:00:00Z","x":{nested(depth)}}},"signatures":[]}}'
            )
            body, content_type = multipart_body({TARGETS: document.encode()})
            response = post_raw(
                server, f"/v2/{gun}/_trust/tuf/", body, {"Content-Type": content_type}
            )
            assert response is not None
            assert (response.status, code_of(response)) == (400, code), (server.name, depth)
        builder.add_target("after", b"after\n")
        assert_publishable(server, builder)
    longest = max(len(line) for line in our_server.log.splitlines())
    assert longest < 16_384
