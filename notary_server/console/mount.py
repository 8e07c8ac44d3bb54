"""Mounting the operator console on the server's application.

:func:`install_console` mounts it as a sub-application when ``console.enabled`` is
set. Pages are Jinja2 templates with autoescaping; there is no script at all,
one stylesheet served from here, and a Content-Security-Policy that allows
nothing else. Every page and action checks its principal on the server
(:mod:`.access`), and a user sees only the repositories its token may pull.
"""

from __future__ import annotations

import importlib.resources
from typing import TYPE_CHECKING, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web

from notary_server.console.access import CONSOLE_CONFIG_KEY, SIGNER_KEY
from notary_server.console.session import SessionSigner
from notary_server.console.settings import CONSOLE_PATH
from notary_server.console.views import routes
from notary_server.storage import StorageError

if TYPE_CHECKING:
    from datetime import datetime

    from aiohttp.typedefs import Handler

    from notary_server.config import ServerConfig

__all__ = ["CONTENT_SECURITY_POLICY", "install_console"]

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


@web.middleware
async def _console_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every console answer; a store failure as a page, not JSON."""
    try:
        response = await handler(request)
    except web.HTTPException as e:
        e.headers.update(_HEADERS)
        raise
    except StorageError:
        response = aiohttp_jinja2.render_template(
            "error.html",
            request,
            {"base": CONSOLE_PATH, "title": "Storage unavailable", "message": "The store failed."},
            status=503,
        )
    response.headers.update(_HEADERS)
    return response


_STATIC: Final = {"console.css": "text/css", "favicon.svg": "image/svg+xml"}


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound
    files = importlib.resources.files("notary_server.console")
    data = files.joinpath("static", name).read_bytes()
    return web.Response(body=data, content_type=_STATIC[name])


def install_console(app: web.Application, config: ServerConfig) -> None:
    """Mount the console on ``app`` when configured; call before the catch-all route."""
    settings = config.console
    if not settings.enabled:
        return
    console = web.Application(middlewares=[_console_headers])
    secret = settings.session_secret_file
    console[SIGNER_KEY] = (
        SessionSigner(secret.read_bytes()) if secret is not None else SessionSigner.random()
    )
    console[CONSOLE_CONFIG_KEY] = settings
    environment = aiohttp_jinja2.setup(
        console,
        loader=jinja2.PackageLoader("notary_server.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = _when
    console.add_routes(routes())
    console.router.add_get("/static/{name}", _static)
    app.add_subapp(CONSOLE_PATH + "/", console)
