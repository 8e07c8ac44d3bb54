"""The HTTPS listener: plain HTTP sent to it gets Go's ``400`` instead of a closed connection.

Go's ``net/http`` server reads a connection's first five bytes as a TLS record
header; when they are the start of a plain HTTP request (``GET /``, ``HEAD ``,
``POST ``, ``PUT /``, ``OPTIO``: Go's exact list) it writes
:data:`PLAIN_HTTP_ANSWER` and closes, so ``curl http://…:4443`` and the notary
CLI given an ``http://`` URL say what is wrong (issue #19). asyncio's TLS server
cannot answer anything before its handshake, so :class:`TLSSite` accepts the
connections itself, peeks at (never consumes) the first bytes with
``MSG_PEEK``, and either answers or hands the socket, its bytes unread, to
``loop.connect_accepted_socket`` with the TLS context and aiohttp's protocol.
Any other first bytes fail the handshake exactly as before. Public asyncio
APIs only, so it works on uvloop as on the standard loop (ADR 0025).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

if TYPE_CHECKING:
    import ssl

__all__ = ["HANDSHAKE_TIMEOUT", "PLAIN_HTTP_ANSWER", "TLSSite", "looks_like_http"]

logger = logging.getLogger(__name__)

PLAIN_HTTP_ANSWER: Final = (
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)
"""What Go's net/http writes to a plain HTTP request on its TLS port (``server.go``)."""

_HTTP_STARTS: Final = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
_HEADER_BYTES: Final = 5
HANDSHAKE_TIMEOUT: Final = 60.0
"""Seconds a connection may take to send its first bytes, and again to finish the TLS
handshake (asyncio's default handshake timeout)."""
_PARTIAL_RETRY: Final = 0.01
_ACCEPT_PAUSE: Final = 1.0  # out of descriptors: asyncio's own server pauses as long
_RESOURCE_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def looks_like_http(head: bytes) -> bool | None:
    """Whether the first bytes start a plain HTTP request, by Go's rule.

    Returns:
        True or False once decided; None while ``head`` is shorter than five
        bytes and still the start of one of Go's prefixes (wait for more).
    """
    if len(head) >= _HEADER_BYTES:
        return head[:_HEADER_BYTES] in _HTTP_STARTS
    if any(start.startswith(head) for start in _HTTP_STARTS):
        return None
    return False


async def _readable(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    ready = loop.create_future()
    loop.add_reader(conn.fileno(), lambda: None if ready.done() else ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())


async def _first_bytes(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    """Up to five bytes, peeked, once they decide (b"" when the client closed).

    Raises:
        OSError: the connection failed.
    """
    while True:
        await _readable(loop, conn)
        try:
            head = conn.recv(_HEADER_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            continue
        if not head or looks_like_http(head) is not None:
            return head
        await asyncio.sleep(_PARTIAL_RETRY)  # fewer than five bytes, still undecided


class TLSSite(web.TCPSite):
    """``web.TCPSite`` over TLS that answers plain HTTP as Go does (see the module docstring)."""

    __slots__ = ("_accepting", "_connecting", "_listeners")

    def __init__(self, runner: web.BaseRunner, host: str | None, port: int, **kwargs: Any) -> None:
        """Like ``web.TCPSite``; ``ssl_context`` is required."""
        super().__init__(runner, host, port, **kwargs)
        if self._ssl_context is None:
            raise ValueError("TLSSite needs an ssl_context")
        self._listeners: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._connecting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind as ``web.TCPSite`` would (asyncio resolves the host), then accept.

        Raises:
            OSError: the address cannot be bound (in use...).
        """
        self._runner._reg_site(self)  # noqa: SLF001 - what BaseSite.start does
        loop = asyncio.get_running_loop()
        bound = await loop.create_server(
            asyncio.Protocol,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            start_serving=False,
        )
        try:
            self._listeners = [socket.socket(fileno=os.dup(s.fileno())) for s in bound.sockets]
        finally:
            bound.close()
        for listener in self._listeners:
            listener.setblocking(False)  # noqa: FBT003 - the socket API
            listener.listen(self._backlog)
            self._accepting.append(loop.create_task(self._accept(listener)))
        self._bound_port = self._listeners[0].getsockname()[1] if self._listeners else self._port

    async def stop(self) -> None:
        """Stop accepting; connections not yet handed to TLS are dropped."""
        self._runner._check_site(self)  # noqa: SLF001 - what BaseSite.stop does
        tasks = [*self._accepting, *self._connecting]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for listener in self._listeners:
            listener.close()
        self._listeners, self._accepting = [], []
        self._runner._unreg_site(self)  # noqa: SLF001

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as e:
                if e.errno in _RESOURCE_ERRNOS:
                    logger.error("cannot accept connections: %s", e.strerror)  # noqa: TRY400
                    await asyncio.sleep(_ACCEPT_PAUSE)
                continue  # ECONNABORTED and the like: the next one
            task = loop.create_task(self._connect(conn))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket) -> None:
        """Answer plain HTTP, or start TLS and hand the connection to aiohttp."""
        loop = asyncio.get_running_loop()
        conn.setblocking(False)  # noqa: FBT003 - the socket API
        handed_over = False
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                head = await _first_bytes(loop, conn)
            if not head:
                return
            if looks_like_http(head):
                with contextlib.suppress(BlockingIOError):
                    conn.recv(65536)  # read what came, so that closing sends FIN, not RST
                await loop.sock_sendall(conn, PLAIN_HTTP_ANSWER)
                return
            server = self._runner.server
            assert server is not None
            ssl_context: ssl.SSLContext | None = self._ssl_context
            await loop.connect_accepted_socket(
                server, conn, ssl=ssl_context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
            )
            handed_over = True
        except (OSError, TimeoutError):
            pass  # a client that went away or failed the handshake, as with asyncio's server
        finally:
            if not handed_over:
                conn.close()
