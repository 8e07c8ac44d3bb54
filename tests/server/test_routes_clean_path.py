"""``clean_path`` against Go's ``path.Clean`` (trailing slash kept, as gorilla/mux does)."""

from __future__ import annotations

import pytest

from notary_server.routes import clean_path


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("", "/"),
        ("/", "/"),
        ("/v2/example.com/a/_trust/tuf/root.json", "/v2/example.com/a/_trust/tuf/root.json"),
        ("/v2/example.com/a/_trust/tuf/", "/v2/example.com/a/_trust/tuf/"),
        ("/v2/a.b/c./d.json", "/v2/a.b/c./d.json"),
        ("/v2/.hidden/x", "/v2/.hidden/x"),
        ("/v2/..x/y", "/v2/..x/y"),
        ("v2/x", "/v2/x"),
        ("//v2/x", "/v2/x"),
        ("/v2//x", "/v2/x"),
        ("/v2/./x", "/v2/x"),
        ("/v2/x/.", "/v2/x"),
        ("/v2/x/./", "/v2/x/"),
        ("/v2/x/..", "/v2"),
        ("/v2/x/../", "/v2/"),
        ("/..", "/"),
        ("/../v2", "/v2"),
        ("/v2/a/../../..", "/"),
    ],
)
def test_clean_path(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned
