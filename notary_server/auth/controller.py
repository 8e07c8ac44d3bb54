"""What a request must be granted, and the 401 challenge when it is not (Go ``utils/http.go``).

Go wraps ``/v2/``, every GUN route and the catch-all in ``rootHandler.doAuth``:
a request with a GUN needs one ``repository:<gun>:<action>`` per action of its
route; a request without one (``/v2/``, the global changefeed, the catch-all)
needs ``registry:catalog:*`` whatever its route lists. A refusal is a 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...[,error=...]`` and an
``UNAUTHORIZED`` body whose detail lists the required access items.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from aiohttp import hdrs, web

from notary_server.appkeys import ACTOR_KEY
from notary_server.auth.certs import load_root_bundle
from notary_server.auth.issuer import TokenIssuer
from notary_server.auth.libtrust import PublicKey, key_id, supported_key
from notary_server.auth.token import Token, TokenError, VerifyOptions, parse_token, verify_token
from notary_server.errors import ApiError, ErrorCode
from notary_server.middlewares import error_response

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography import x509

    from notary_server.config import TokenAuthConfig

__all__ = [
    "AUTH_KEY",
    "ISSUER_KEY",
    "Access",
    "AuthChallenge",
    "TokenAccessController",
    "check_request",
    "go_quote",
    "install",
    "required_access",
]

logger = logging.getLogger(__name__)

ChallengeError = Literal["", "invalid_token", "insufficient_scope"]
_NAMED_ESCAPES: Final = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    '"': r"\"",
    "\\": r"\\",
}


def go_quote(text: str) -> str:
    """Quote ``text`` as Go's ``%q`` (``strconv.Quote``) does."""
    out = ['"']
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x80:  # noqa: PLR2004 - ASCII control characters
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:  # noqa: PLR2004 - the Basic Multilingual Plane
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Access:
    """One required access item (Go ``auth.Access``)."""

    type: str
    name: str
    action: str

    def detail(self) -> dict[str, str]:
        """The item as Go serialises it in the error detail (embedded ``Resource``)."""
        return {"Type": self.type, "Class": "", "Name": self.name, "Action": self.action}


def required_access(gun: str, actions: Sequence[str]) -> tuple[Access, ...]:
    """Go ``buildAccessRecords`` / ``buildCatalogRecord``."""
    if not gun:
        return (Access("registry", "catalog", "*"),)
    return tuple(Access("repository", gun, action) for action in actions)


def _scope_param(access: Sequence[Access]) -> str:
    """Go ``accessSet.scopeParam``: ``type:name:a1,a2`` per resource, space-separated."""
    resources: dict[tuple[str, str], list[str]] = {}
    for item in access:
        actions = resources.setdefault((item.type, item.name), [])
        if item.action not in actions:
            actions.append(item.action)
    return " ".join(f"{t}:{n}:{','.join(a)}" for (t, n), a in resources.items())


class AuthChallenge(Exception):  # noqa: N818 - Go's name for it
    """A refused request: renders Go's 401 challenge."""

    def __init__(
        self, *, realm: str, service: str, access: Sequence[Access], error: ChallengeError
    ) -> None:
        """Record what the challenge says."""
        super().__init__(error or "authorization token required")
        self.realm = realm
        self.service = service
        self.access = tuple(access)
        self.error = error

    def header(self) -> str:
        """The ``WWW-Authenticate`` value (Go ``authChallenge.challengeParams``)."""
        value = f"Bearer realm={go_quote(self.realm)},service={go_quote(self.service)}"
        scope = _scope_param(self.access)
        if scope:
            value += f",scope={go_quote(scope)}"
        if self.error:
            value += f",error={go_quote(self.error)}"
        return value

    def response(self) -> web.Response:
        """The 401: Go ``errcode.ErrorCodeUnauthorized.WithDetail(access)`` plus the header."""
        detail: list[dict[str, Any]] = [item.detail() for item in self.access]
        response = error_response(ApiError(ErrorCode.UNAUTHORIZED, detail))
        response.headers.add(hdrs.WWW_AUTHENTICATE, self.header())
        return response


class TokenAccessController:
    """Go's token ``accessController``: checks a request's bearer token against its needs."""

    def __init__(self, config: TokenAuthConfig, roots: Sequence[x509.Certificate]) -> None:
        """Trust tokens signed by (keys chaining to) ``roots``."""
        self.config = config
        self.roots = tuple(roots)
        keys: dict[str, PublicKey] = {}
        for root in self.roots:
            key = supported_key(root.public_key())
            keys[key_id(key)] = key
        self._options = VerifyOptions(
            issuer=config.issuer, service=config.service, roots=self.roots, trusted_keys=keys
        )

    @classmethod
    def from_config(cls, config: TokenAuthConfig) -> TokenAccessController:
        """Load ``rootcertbundle`` (already checked by :func:`notary_server.config.load_config`).

        Raises:
            CertificateError: the bundle is no longer readable or valid.
        """
        return cls(config, load_root_bundle(config.root_cert_bundle))

    def verify(self, raw: str) -> Token:
        """Parse and verify a raw token (signature, issuer, audience, times), as :meth:`authorize`.

        Raises:
            TokenError: it is malformed or not valid now.
        """
        token = parse_token(raw)
        verify_token(token, self._options, dt.datetime.now(dt.UTC))
        return token

    def _realm(self, host: str) -> str:
        return f"https://{host}/auth/token" if self.config.autoredirect else self.config.realm

    def authorize(self, authorization: str | None, access: Sequence[Access], host: str) -> str:
        """Return the token's subject if it grants every item of ``access``.

        Args:
            authorization: the request's ``Authorization`` header, if any.
            access: what the request needs.
            host: the request's ``Host`` (for ``autoredirect``).

        Raises:
            AuthChallenge: no bearer token, an invalid one, or insufficient scope.
        """

        def challenge(error: ChallengeError) -> AuthChallenge:
            return AuthChallenge(
                realm=self._realm(host), service=self.config.service, access=access, error=error
            )

        parts = (authorization or "").split(" ")
        if len(parts) != 2 or parts[0].lower() != "bearer":  # noqa: PLR2004 - scheme and token
            raise challenge("")
        try:
            token = parse_token(parts[1])
            verify_token(token, self._options, dt.datetime.now(dt.UTC))
        except TokenError as e:
            logger.info("token auth: %s", e)
            raise challenge("invalid_token") from e
        for item in access:
            if not token.grants(item.type, item.name, item.action):
                logger.info("token auth: %r lacks %s:%s:%s", token.subject, *_fields(item))
                raise challenge("insufficient_scope")
        return token.subject


def _fields(item: Access) -> tuple[str, str, str]:
    return item.type, item.name, item.action


AUTH_KEY: Final = web.AppKey("AUTH_KEY", TokenAccessController)
"""Where the application keeps its access controller (absent: no auth)."""

ISSUER_KEY: Final = web.AppKey("ISSUER_KEY", TokenIssuer)
"""The built-in issuer, when configured (the console signs users in with its users and limits)."""


def check_request(request: web.Request, gun: str, actions: Sequence[str]) -> web.Response | None:
    """Authorize ``request`` if the application has auth; return the 401 to send, if any.

    On success the token's subject is recorded under ``ACTOR_KEY``.
    """
    controller = request.app.get(AUTH_KEY)
    if controller is None:
        return None
    host = request.headers.get(hdrs.HOST) or request.host
    try:
        subject = controller.authorize(
            request.headers.get(hdrs.AUTHORIZATION), required_access(gun, actions), host
        )
    except AuthChallenge as challenge:
        return challenge.response()
    if subject:
        request[ACTOR_KEY] = subject
    return None


def install(app: web.Application, config: TokenAuthConfig | None) -> None:
    """Enable token auth on ``app`` (and the built-in issuer's route, if configured).

    Call before the catch-all route is added, so the issuer's path is matched first.

    Raises:
        CertificateError: ``rootcertbundle`` is unusable.
        IssuerError: the built-in issuer's key or certificate is unusable.
        HtpasswdError: its htpasswd file is unusable.
    """
    if config is None:
        return
    controller = TokenAccessController.from_config(config)
    app[AUTH_KEY] = controller
    if config.builtin_issuer:
        issuer = TokenIssuer.from_config(config, controller.roots)
        app[ISSUER_KEY] = issuer
        app.router.add_route(hdrs.METH_GET, config.issuer_path, issuer.handle)
