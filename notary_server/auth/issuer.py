"""The built-in token issuer (beyond Go, ADR 0008): a realm for small installations.

With ``auth.options.htpasswd``, ``issuer_key`` and ``issuer_cert`` the server also
answers ``GET <realm path>?service=...&scope=...`` the way docker/distribution's
token servers do: HTTP Basic credentials are checked against the htpasswd file
and the answer is ``{"token": ..., "access_token": ..., "expires_in": ...,
"issued_at": ...}``. Without ``auth.options.access`` an authenticated user is
granted every action it asks for and a request without credentials gets a
token granting nothing (the notary CLI fetches an anonymous token first for
read-only commands and only then retries with credentials); with it, each
scope gets what the rules allow that user, or an anonymous request
(:mod:`~notary_server.auth.access`, ADR 0027). Wrong credentials get a 401.

Failed logins are limited per client address and per user name
(:mod:`~notary_server.auth.login_limit`): over the limit, a request with
credentials gets a 429 with docker/distribution's ``TOOMANYREQUESTS`` envelope
and ``Retry-After``, before its password is checked. Anonymous requests are
never limited here (they check no password).

Tokens are signed with the issuer key by joserfc (ES256/ES384/ES512 by curve, RS256
for RSA, ADR 0032) and carry the issuer certificate chain in ``x5c``, which must
verify up to ``rootcertbundle``, so the server's own verifier (and Go's) accepts them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiohttp import BasicAuth, hdrs, web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jws, jwt

from notary_server.auth.access import granted_actions
from notary_server.auth.certs import IssuerError, SigningKey, load_signing_material, x5c_entry
from notary_server.auth.htpasswd import Htpasswd
from notary_server.auth.libtrust import jose_key, key_id, supported_key
from notary_server.auth.login_limit import (
    FailureBuckets,
    LoginLimiter,
    LoginRefusal,
    client_key,
)
from notary_server.errors import ApiError, ErrorCode, go_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from notary_server.config import TokenAuthConfig

__all__ = ["IssuerError", "Scope", "TokenIssuer", "parse_scopes"]

logger = logging.getLogger(__name__)

_ALGORITHMS: Final = ["RS256", "ES256", "ES384", "ES512"]
"""What the issuer signs with: RS256 for RSA (as docker's token servers), else the curve's."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One requested scope, ``type:name:action,action``."""

    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Parse ``scope`` parameters (each may hold several, space-separated).

    The name may contain ``:`` (``repository:host:5000/app:pull``): the type ends
    at the first colon and the actions start after the last.
    """
    scopes = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, sep, actions = rest.rpartition(":")
            if not kind or not sep or not name:
                continue
            scopes.append(Scope(kind, name, tuple(a for a in actions.split(",") if a)))
    return scopes


class TokenIssuer:
    """Checks credentials and mints tokens; :meth:`handle` is its aiohttp handler."""

    def __init__(
        self,
        *,
        config: TokenAuthConfig,
        key: SigningKey,
        chain: Sequence[x509.Certificate],
        users: Htpasswd,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Issue tokens for ``config.service``/``config.issuer`` signed with ``key``.

        ``clock`` (seconds, monotonic) drives the failed-login limits.
        """
        self.config = config
        self.key = key
        self._signing_key = jose_key(key)
        self._algorithm = jws.JWSRegistry.filter_algorithms(self._signing_key, _ALGORITHMS)[0].name
        self.users = users
        entries = config.login_limit_entries
        self.login_limiter = LoginLimiter(
            FailureBuckets(
                burst=config.login_client_burst,
                per_minute=config.login_client_per_minute,
                entries=entries,
                clock=clock,
            ),
            FailureBuckets(
                burst=config.login_user_burst,
                per_minute=config.login_user_per_minute,
                entries=entries,
                clock=clock,
            ),
        )
        self._x5c = [x5c_entry(c.public_bytes(serialization.Encoding.DER)) for c in chain]
        self._kid = key_id(supported_key(key.public_key()))

    @classmethod
    def from_config(
        cls,
        config: TokenAuthConfig,
        roots: Sequence[x509.Certificate],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenIssuer:
        """Load the key, certificate and htpasswd file named by ``config``.

        Raises:
            IssuerError: the built-in issuer is not configured or its files are unusable.
        """
        if config.htpasswd is None or config.issuer_key is None or config.issuer_cert is None:
            raise IssuerError("the built-in issuer needs htpasswd, issuer_key and issuer_cert")
        key, chain = load_signing_material(config.issuer_key, config.issuer_cert, roots)
        users = Htpasswd.load(config.htpasswd)
        users.dummy_hash()  # now, so that the first unknown user does not pay for it
        return cls(config=config, key=key, chain=chain, users=users, clock=clock)

    def grant(self, subject: str, asked: Sequence[Scope]) -> list[Scope]:
        """What to put in ``subject``'s token ("" = anonymous) for the scopes ``asked``."""
        rules = self.config.access
        if rules is None:
            return list(asked) if subject else []
        granted = (
            Scope(s.type, s.name, granted_actions(rules, subject, s.type, s.name, s.actions))
            for s in asked
        )
        return [scope for scope in granted if scope.actions]

    def mint(self, subject: str, scopes: Sequence[Scope], now: dt.datetime) -> str:
        """Return a signed token for ``subject`` granting ``scopes``."""
        issued = int(now.timestamp())
        header = {"typ": "JWT", "alg": self._algorithm, "kid": self._kid, "x5c": self._x5c}
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "sub": subject,
            "aud": self.config.service,
            "exp": issued + self.config.token_ttl,
            "nbf": issued,
            "iat": issued,
            "jti": secrets.token_urlsafe(18),
            "access": [
                {"type": s.type, "name": s.name, "actions": list(s.actions)} for s in scopes
            ],
        }
        return jwt.encode(header, claims, self._signing_key, algorithms=[self._algorithm])

    async def _authenticate(self, request: web.Request) -> str:
        """Return the user name ("" = anonymous).

        Raises:
            ApiError: credentials that are malformed or wrong (401).
            _LoginLimitedError: too many failed logins from this client or for this user.
        """
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            return ""
        client = client_key(request.remote)
        try:
            credentials = BasicAuth.decode(header)
        except ValueError as e:
            self._acquire(client, None)
            raise ApiError(ErrorCode.UNAUTHORIZED) from e
        user: str = credentials.login
        self._acquire(client, user)
        if not await asyncio.to_thread(self.users.check, user, credentials.password):
            logger.info("token request: bad credentials for user %r", user)
            raise ApiError(ErrorCode.UNAUTHORIZED)
        self.login_limiter.release(client, user)
        return user

    def _acquire(self, client: str, user: str | None) -> None:
        refusal = self.login_limiter.acquire(client, user)
        if refusal is not None:
            logger.info(
                "token request: too many failed logins (%s) from %r for user %r",
                refusal.limit,
                client,
                user,
            )
            raise _LoginLimitedError(refusal)

    def _unauthorized(self, error: ApiError) -> web.Response:
        response = web.Response(
            status=error.code.status,
            body=go_json(error.body()) + b"\n",
            content_type="application/json",
            charset="utf-8",
        )
        response.headers[hdrs.WWW_AUTHENTICATE] = f'Basic realm="{self.config.service}"'
        return response

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET <realm>?service=...&scope=...``: answer with a token or a 401/400/429."""
        try:
            subject = await self._authenticate(request)
        except ApiError as error:
            return self._unauthorized(error)
        except _LoginLimitedError as limited:
            return _too_many_failures(limited.refusal)
        service = request.query.get("service", self.config.service)
        if service != self.config.service:
            raise ApiError(ErrorCode.INVALID_PARAMETERS, f"unknown service {service!r}")
        scopes = self.grant(subject, parse_scopes(request.query.getall("scope", [])))
        now = dt.datetime.now(dt.UTC)
        token = self.mint(subject, scopes, now)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": self.config.token_ttl,
            "issued_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})


class _LoginLimitedError(Exception):
    """Raised inside :meth:`TokenIssuer._authenticate` for a login over the failure limit."""

    def __init__(self, refusal: LoginRefusal) -> None:
        super().__init__(refusal.limit)
        self.refusal = refusal


def _too_many_failures(refusal: LoginRefusal) -> web.Response:
    """The 429 for a refused login: the envelope and code of the server's rate limit (ADR 0012)."""
    body = {
        "errors": [
            {
                "code": "TOOMANYREQUESTS",
                "message": "too many requests",
                "detail": {"limit": refusal.limit},
            }
        ]
    }
    response = web.Response(
        status=429,
        body=go_json(body) + b"\n",
        content_type="application/json",
        charset="utf-8",
    )
    response.headers[hdrs.RETRY_AFTER] = str(refusal.retry_after)
    return response
