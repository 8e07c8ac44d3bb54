"""Who is asking: the audit record of a request (beyond Go, ADR 0009)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notary_server.appkeys import ACTOR_KEY
from notary_server.storage.base import Audit

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["ANONYMOUS", "request_audit"]

ANONYMOUS = "anonymous"


def request_audit(request: web.Request) -> Audit:
    """The actor (token subject, or ``anonymous``) and client address of ``request``.

    The address is the peer's (``request.remote``): behind a proxy that is the
    proxy's, unless the operator set up aiohttp's forwarded-header handling.
    """
    return Audit(actor=request.get(ACTOR_KEY, ANONYMOUS), client_addr=request.remote)
