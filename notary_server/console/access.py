"""Who is asking: the principal of a console request, from its bearer token or session cookie.

Checked on every request, on the server; nothing about access is left to the page.
A bearer token in ``Authorization`` (scripts, curl) needs the console scope
and no CSRF token, since browsers never attach one by themselves; a session
cookie is re-checked on each request, and a token session re-verifies its
token, so it ends when the token does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from aiohttp import hdrs, web

from notary_server.appkeys import CONFIG_KEY
from notary_server.auth.controller import AUTH_KEY
from notary_server.auth.token import TokenError
from notary_server.console.session import (
    SESSION_COOKIE,
    Principal,
    SessionSigner,
    password_sign_in_allowed,
    principal_for_token,
    principal_for_user,
)
from notary_server.console.settings import CONSOLE_SCOPE, ConsoleConfig

if TYPE_CHECKING:
    from notary_server.auth.access import AccessRule
    from notary_server.auth.token import Token

__all__ = [
    "CONSOLE_CONFIG_KEY",
    "SIGNER_KEY",
    "ScopeError",
    "principal_of",
    "verified_console_token",
]

logger = logging.getLogger(__name__)

SIGNER_KEY: Final = web.AppKey("CONSOLE_SIGNER_KEY", SessionSigner)
CONSOLE_CONFIG_KEY: Final = web.AppKey("CONSOLE_CONFIG_KEY", ConsoleConfig)


class ScopeError(Exception):
    """A valid token without the console scope."""


def verified_console_token(request: web.Request, raw: str) -> Token:
    """Verify ``raw`` with the server's token settings and require the console scope.

    Raises:
        TokenError: the token is malformed or invalid.
        ScopeError: it does not grant the console scope.
    """
    token = request.config_dict[AUTH_KEY].verify(raw)
    if not token.grants(*CONSOLE_SCOPE):
        raise ScopeError(f"the token does not grant {':'.join(CONSOLE_SCOPE)}")
    return token


def _access_rules(request: web.Request) -> tuple[AccessRule, ...] | None:
    auth = request.config_dict[CONFIG_KEY].auth
    return auth.access if auth is not None else None


def principal_of(request: web.Request) -> Principal | None:
    """The request's principal; None when it is not signed in (or its credentials lapsed).

    Raises:
        ScopeError: a bearer token in ``Authorization`` lacks the console scope.
        TokenError: a bearer token in ``Authorization`` is invalid.
    """
    config = request.config_dict[CONSOLE_CONFIG_KEY]
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() == "bearer" and raw and "token" in config.login:
        return principal_for_token(verified_console_token(request, raw.strip()), csrf="")
    session = request.config_dict[SIGNER_KEY].open(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    if session.kind == "password" and "password" in config.login:
        # None when the access rules changed since the sign-in and no longer allow it
        allowed = password_sign_in_allowed(_access_rules(request), session.subject)
        return principal_for_user(session.subject, session.csrf) if allowed else None
    if session.kind == "token" and "token" in config.login:
        try:
            token = verified_console_token(request, session.token)
        except (TokenError, ScopeError) as e:
            logger.info("console: a session's token no longer serves: %s", e)
            return None
        return principal_for_token(token, session.csrf)
    return None
