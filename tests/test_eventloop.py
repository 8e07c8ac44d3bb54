"""``server.event_loop`` (ADR 0016): which loop a server process runs on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import uvloop

from notary_runtime import eventloop
from notary_runtime.eventloop import new_event_loop, resolve_event_loop
from notary_server.config import ConfigError, load_config


def _config(tmp_path: Path, event_loop: object | None) -> Path:
    server: dict[str, object] = {"http_addr": "127.0.0.1:4443"}
    if event_loop is not None:
        server["event_loop"] = event_loop
    path = tmp_path / "server-config.json"
    document = {
        "server": server,
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
    }
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("kind", "loop_type"),
    [("auto", uvloop.Loop), ("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)],
)
def test_new_event_loop_makes_the_loop_asked_for(kind: str, loop_type: type) -> None:
    loop = new_event_loop(kind)  # type: ignore[arg-type]
    try:
        assert isinstance(loop, loop_type)
        assert loop.run_until_complete(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()
    if kind == "asyncio":
        assert not isinstance(loop, uvloop.Loop)


def test_without_uvloop_auto_falls_back_and_uvloop_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(eventloop, "uvloop_available", lambda: False)
    assert resolve_event_loop("auto") == "asyncio"
    with pytest.raises(RuntimeError, match="uvloop is not installed"):
        resolve_event_loop("uvloop")
    monkeypatch.setattr("notary_server.config.uvloop_available", lambda: False)
    with pytest.raises(ConfigError, match=r'server\.event_loop: "uvloop" is not installed'):
        load_config(_config(tmp_path, "uvloop"), {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "auto"),
        ("auto", "auto"),
        ("uvloop", "uvloop"),
        ("asyncio", "asyncio"),
        (" UVLoop ", "uvloop"),
    ],
)
def test_config_key(tmp_path: Path, value: str | None, expected: str) -> None:
    assert load_config(_config(tmp_path, value), {}).event_loop == expected


def test_config_override_from_the_environment(tmp_path: Path) -> None:
    environ = {"NOTARY_SERVER_SERVER_EVENT_LOOP": "asyncio"}
    assert load_config(_config(tmp_path, "uvloop"), environ).event_loop == "asyncio"


@pytest.mark.parametrize("value", ["tokio", "", 3, ["uvloop"], True])
def test_config_rejects_other_values(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match=r"server\.event_loop"):
        load_config(_config(tmp_path, value), {})
