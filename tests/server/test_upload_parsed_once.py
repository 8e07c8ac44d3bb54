"""Each uploaded part is parsed once, and a large one off the event loop (issue #18).

The multipart reader parses every part as it arrives (Go's ``MALFORMED_JSON``
check) and hands the parsed value on with the bytes; validation builds its
models from that value instead of parsing the bytes again. Stored files are
still parsed by validation: only the uploaded bytes must never be.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import notary_server.multipart as multipart_module
import notary_tuf.signed as signed_module
from notary_server.services.offloop import IN_THREAD_BYTES
from notary_tuf.rolenames import TARGETS
from testkit.server_helpers import new_builder, publish_new, upload

if TYPE_CHECKING:
    import pytest

    from testkit.server_helpers import AppClient


def _record(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    """Wrap ``module.name`` so that each call's first argument and thread are recorded."""
    calls: list[Any] = []
    original = getattr(module, name)

    def recording(data: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append((bytes(data), threading.current_thread()))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


async def test_uploaded_parts_are_parsed_once(
    client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = await publish_new(client)
    builder = published.builder
    builder.add_target("second", b"release 2\n")
    parts = builder.publish()
    by_reader = _record(monkeypatch, multipart_module, "parse_json")
    by_models = _record(monkeypatch, signed_module, "parse_json")

    response = await upload(client, builder.gun, parts)

    assert response.status == 200, await response.text()
    assert sorted(data for data, _ in by_reader) == sorted(parts.values())
    assert not {data for data, _ in by_models} & set(parts.values())


async def test_a_large_part_is_parsed_off_the_event_loop(
    client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = await new_builder(client)
    for i in range(IN_THREAD_BYTES // 150 + 1):  # each target adds ~190 bytes
        builder.add_target(f"target-{i:06}", f"content {i}\n".encode())
    parts = builder.publish()
    assert len(parts[TARGETS]) > IN_THREAD_BYTES
    by_reader = _record(monkeypatch, multipart_module, "parse_json")

    response = await upload(client, builder.gun, parts)

    assert response.status == 200, await response.text()
    threads = {role: thread for data, thread in by_reader for role in parts if parts[role] == data}
    assert threads[TARGETS] is not threading.main_thread()
    small = [role for role in parts if len(parts[role]) <= IN_THREAD_BYTES]
    assert small
    assert all(threads[role] is threading.main_thread() for role in small)
