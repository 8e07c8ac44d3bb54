"""FileMeta's fast path (plain ``length`` + base64 ``hashes``) answers as the checked parse.

``FileMeta.from_dict`` takes a shortcut for the shape nearly every target has;
whatever the shortcut accepts must be exactly what the checked parse builds,
and whatever it declines goes to the checked parse, which reports the error.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from notary_tuf.errors import NotaryTufError
from notary_tuf.models.common import FileMeta

_DIGESTS = st.binary(min_size=0, max_size=70).map(lambda raw: base64.b64encode(raw).decode())
_NOT_BASE64 = st.sampled_from(["QUJD===", "Q", "QU JD", "!!!!", "QUJD\n", "QUI="])
_INTS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([2**63, -(2**63) - 1, 2**70]),
)
_HASH_VALUES = st.one_of(
    _DIGESTS, _NOT_BASE64, st.none(), st.integers(), st.lists(st.integers(0, 300))
)
_LENGTHS = st.one_of(
    _INTS, st.booleans(), st.none(), st.floats(allow_nan=False), st.text(max_size=3)
)
_HASHES = st.one_of(
    st.dictionaries(st.sampled_from(["sha256", "sha512", "md5", ""]), _HASH_VALUES, max_size=3),
    st.none(),
    st.lists(st.integers()),
    st.text(max_size=3),
)
_FILE_META = st.one_of(
    st.fixed_dictionaries({"length": _LENGTHS, "hashes": _HASHES}),
    st.fixed_dictionaries(
        {"length": _LENGTHS, "hashes": _HASHES},
        optional={"custom": st.none() | st.integers(), "extra": st.integers()},
    ),
    st.dictionaries(st.sampled_from(["length", "hashes", "custom"]), _HASH_VALUES, max_size=3),
)


def _checked(data: Any) -> FileMeta | str:
    try:
        return FileMeta._from_dict_checked(data, "t")
    except NotaryTufError as e:
        return type(e).__name__


@given(_FILE_META)
@example({"length": 2**63, "hashes": {}})
@example({"length": True, "hashes": {}})
@example({"length": 1, "hashes": {"sha256": None}})
@example({"length": 1, "hashes": {"sha256": "QUJD==="}})
@example({"length": 1, "hashes": {"sha256": [65, 66]}})
@example({"length": 1, "custom": 2})
@example({"length": 1, "hashes": {}, "custom": 2})
def test_the_fast_path_builds_what_the_checked_parse_builds(data: dict[str, Any]) -> None:
    checked = _checked(data)
    fast = FileMeta._from_plain_dict(data)
    if fast is not None:
        assert fast == checked
    try:
        parsed: FileMeta | str = FileMeta.from_dict(data, "t")
    except NotaryTufError as e:
        parsed = type(e).__name__
    assert parsed == checked


def test_the_fast_path_takes_the_common_shape() -> None:
    digest = base64.b64encode(b"\x01" * 32).decode()
    fast = FileMeta._from_plain_dict({"length": 10, "hashes": {"sha256": digest}})
    assert fast == FileMeta(length=10, hashes={"sha256": b"\x01" * 32})
