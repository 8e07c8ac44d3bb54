"""Who is using the console: signed session cookies, CSRF tokens and principals (ADR 0026).

A session is a cookie holding a small JSON document and its HMAC-SHA256
under the process's session key: no server-side state, so any worker sharing
``console.session_secret_file`` accepts it. It is ``HttpOnly``,
``SameSite=Strict``, ``Path`` the console's, and ``Secure`` when the server
serves TLS. Signing out clears it; a stolen cookie stays valid until it
expires (``console.session_ttl``), as any bearer token does.

Every form that changes something carries the session's CSRF token, compared
in constant time; the login form, which has no session yet, uses a
double-submit cookie. SameSite=Strict alone would stop cross-site posts in
current browsers; the tokens do not rely on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from notary_server.auth.access import holds_everything

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.auth.access import AccessRule
    from notary_server.auth.token import Token

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Principal",
    "Session",
    "SessionSigner",
    "password_sign_in_allowed",
    "principal_for_token",
    "principal_for_user",
]

SESSION_COOKIE: Final = "notary_console"
LOGIN_COOKIE: Final = "notary_console_login"
_CONTEXT: Final = b"notary-console-session-v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A signed-in user's cookie contents.

    Attributes:
        kind: ``password`` (an htpasswd user) or ``token`` (a bearer token).
        subject: the user name or the token's subject.
        token: the raw bearer token of a token session ("" otherwise).
        csrf: the session's CSRF token.
        expires: Unix seconds.
    """

    kind: str
    subject: str
    token: str
    csrf: str
    expires: int


class SessionSigner:
    """Signs and checks session cookies and CSRF values with one key."""

    def __init__(self, secret: bytes) -> None:
        """Derive the cookie key from ``secret`` (random, or ``console.session_secret_file``)."""
        self._key = hmac.new(secret, _CONTEXT, hashlib.sha256).digest()

    @classmethod
    def random(cls) -> SessionSigner:
        """A key for this process only."""
        return cls(secrets.token_bytes(32))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def seal(self, session: Session) -> str:
        """The cookie value for ``session``."""
        payload = json.dumps(
            {
                "k": session.kind,
                "s": session.subject,
                "t": session.token,
                "c": session.csrf,
                "e": session.expires,
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def open(self, value: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie value; None when absent, forged, malformed or expired."""
        if not value or value.count(".") != 1:
            return None
        encoded, mac = value.split(".")
        try:
            payload, signature = _unb64(encoded), _unb64(mac)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._mac(payload)):
            return None
        try:
            fields: dict[str, Any] = json.loads(payload)
            session = Session(
                kind=str(fields["k"]),
                subject=str(fields["s"]),
                token=str(fields["t"]),
                csrf=str(fields["c"]),
                expires=int(fields["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= (time.time() if now is None else now):
            return None
        return session

    def login_token(self, nonce: str) -> str:
        """The login form's CSRF value for the double-submit ``nonce`` cookie."""
        return _b64(self._mac(b"login:" + nonce.encode()))

    def check_login_token(self, nonce: str | None, submitted: str | None) -> bool:
        """Whether a login form's CSRF value matches its cookie."""
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.login_token(nonce), submitted)


def new_csrf() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """What one console user may see and do.

    Attributes:
        subject: who (the htpasswd user or the token's subject).
        kind: ``password`` or ``token``.
        all_guns: may see every repository.
        pull: the repositories it may see when not ``all_guns``.
        purge_all: may purge any repository.
        purge: the repositories it may purge when not ``purge_all``.
        csrf: the session's CSRF token ("" for a request carrying its own bearer token,
            which a browser never adds on its own).
    """

    subject: str
    kind: str
    all_guns: bool = False
    pull: frozenset[str] = field(default_factory=frozenset)
    purge_all: bool = False
    purge: frozenset[str] = field(default_factory=frozenset)
    csrf: str = ""

    @property
    def actor(self) -> str:
        """The name recorded in the changefeed and the audit log."""
        return f"console:{self.subject}"

    def can_see(self, gun: str) -> bool:
        """Whether the repository exists for this user."""
        return self.all_guns or gun in self.pull

    def can_purge(self, gun: str) -> bool:
        """Whether this user may purge the repository."""
        return self.can_see(gun) and (self.purge_all or gun in self.purge)


def password_sign_in_allowed(access: Sequence[AccessRule] | None, user: str) -> bool:
    """Whether an htpasswd user may use the console with a password.

    Without ``auth.options.access`` the issuer grants every user every scope, so
    the console may show them everything. With rules, only a user holding ``*``
    on every repository may; anyone narrower signs in with a token, whose
    scopes the console follows repository by repository (ADR 0027).
    """
    return access is None or holds_everything(access, user)


def principal_for_user(user: str, csrf: str) -> Principal:
    """An htpasswd user allowed a password sign-in: every repository, as the issuer grants.

    The API would let the same user ``notary delete --remote`` any repository;
    the console gives no more than that (:func:`password_sign_in_allowed`).
    """
    return Principal(subject=user, kind="password", all_guns=True, purge_all=True, csrf=csrf)


def principal_for_token(token: Token, csrf: str) -> Principal:
    """A verified token: ``repository:<gun>:pull`` to see a repository, ``*`` to purge it.

    ``registry:catalog:*`` (the server's global reads) shows every repository.
    """
    pull: set[str] = set()
    purge: set[str] = set()
    for entry in token.access:
        if entry.type != "repository":
            continue
        if "pull" in entry.actions or "*" in entry.actions:
            pull.add(entry.name)
        if "*" in entry.actions:
            purge.add(entry.name)
    return Principal(
        subject=token.subject or "anonymous",
        kind="token",
        all_guns=token.grants("registry", "catalog", "*"),
        pull=frozenset(pull),
        purge=frozenset(purge),
        csrf=csrf,
    )
