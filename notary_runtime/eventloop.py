"""Which asyncio event loop a service process runs on (``server.event_loop``).

uvloop (libuv, with its TLS transport written in Cython) answers about a third
more HTTPS requests per second than the standard loop for the same aiohttp
application on these machines (ADR 0016). It is a dependency on Linux; the
standard loop stays available for debugging and for platforms without it.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Final, Literal

EventLoopKind = Literal["auto", "uvloop", "asyncio"]
EVENT_LOOP_KINDS: Final[tuple[EventLoopKind, ...]] = ("auto", "uvloop", "asyncio")


def uvloop_available() -> bool:
    """Whether the uvloop package can be imported here."""
    return importlib.util.find_spec("uvloop") is not None


def resolve_event_loop(kind: EventLoopKind) -> Literal["uvloop", "asyncio"]:
    """The loop ``kind`` stands for: ``auto`` is uvloop where it is installed.

    Raises:
        RuntimeError: ``uvloop`` was asked for and is not installed.
    """
    if kind == "asyncio":
        return "asyncio"
    if uvloop_available():
        return "uvloop"
    if kind == "uvloop":
        raise RuntimeError('event loop "uvloop" asked for, but uvloop is not installed')
    return "asyncio"


def new_event_loop(kind: EventLoopKind) -> asyncio.AbstractEventLoop:
    """A new, not yet running, event loop of ``kind`` (see :func:`resolve_event_loop`)."""
    if resolve_event_loop(kind) == "uvloop":
        import uvloop  # noqa: PLC0415 - optional; only this branch needs it

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
