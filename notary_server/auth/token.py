"""JSON Web Tokens as docker/distribution's ``registry/auth/token`` parses and verifies them.

Parsing follows Go's ``encoding/json`` into the token's structs: object keys match
field names case-insensitively (the last match wins), unknown keys are ignored,
``null`` leaves a field empty, and a value of the wrong JSON type (``aud`` as a
list, ``exp`` as ``1.5`` or ``"1"``) makes the whole token malformed. Header
members Go does not read (``crit``, ``b64``) are ignored as Go ignores them.

Verification runs Go's checks in Go's order on joserfc (ADR 0032): its claims
registry compares ``iss``, ``aud``, ``exp`` and ``nbf`` (with Go's leeway; ``iat``
is not checked, as in Go), and its JWS algorithms check the signature with the key
found as Go finds it (``x5c``, ``jwk``, ``kid``), limited to the algorithms libtrust
verifies. Every failure is an :class:`InvalidTokenError` (the challenge says
``error="invalid_token"`` either way).
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from joserfc import jws, jwt
from joserfc.errors import JoseError

from notary_server.auth.certs import CertificateError, verify_chain
from notary_server.auth.libtrust import (
    PublicKey,
    UnsupportedKeyError,
    jose_b64decode,
    jose_key,
    key_id,
    public_key_from_jwk,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from cryptography import x509

__all__ = [
    "GO_ALGORITHMS",
    "LEEWAY_SECONDS",
    "InvalidTokenError",
    "MalformedTokenError",
    "Token",
    "TokenError",
    "VerifyOptions",
    "parse_token",
]

LEEWAY_SECONDS: Final = 60
"""Clock skew allowed on ``exp`` and ``nbf`` (Go ``token.Leeway``)."""

GO_ALGORITHMS: Final = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
"""What libtrust verifies: ECDSA with the key's own curve, RSA PKCS#1 v1.5; no none, HS*, PS*."""

_JWS: Final = jws.JWSRegistry(algorithms=GO_ALGORITHMS)

_INT64: Final = range(-(2**63), 2**63)


class TokenError(Exception):
    """A token that cannot be accepted; the message says why (for the log, never the token)."""


class MalformedTokenError(TokenError):
    """Go ``ErrMalformedToken``: not three base64url parts of the right JSON."""


class InvalidTokenError(TokenError):
    """Go ``ErrInvalidToken``: well-formed but untrusted, expired or wrongly signed."""


class _Object(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order."""


class _Float(str):
    """A JSON number with a fraction or exponent (Go cannot decode it into an int64)."""

    __slots__ = ()


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_Object, parse_float=_Float)
    except (ValueError, RecursionError) as e:
        raise MalformedTokenError("invalid JSON") from e


def _fields(value: Any, names: Sequence[str]) -> dict[str, Any]:
    """Go's struct decoding: case-insensitive key match, last wins, ``null`` = unset."""
    if value is None:
        return {}
    if not isinstance(value, _Object):
        raise MalformedTokenError("expected a JSON object")
    found: dict[str, Any] = {}
    for key, item in value:
        name = key.lower()
        if name in names and item is not None:
            found[name] = item
    return found


def _string(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str) or isinstance(value, _Float):
        raise MalformedTokenError(f"{name}: expected a string")
    return value


def _int64(fields: Mapping[str, Any], name: str) -> int:
    value = fields.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
        raise MalformedTokenError(f"{name}: expected an integer")
    return value


def _strings(fields: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = fields.get(name, [])
    if isinstance(value, _Object) or not isinstance(value, list):
        raise MalformedTokenError(f"{name}: expected a list of strings")
    if not all(isinstance(v, str) and not isinstance(v, _Float) for v in value):
        raise MalformedTokenError(f"{name}: expected a list of strings")
    return tuple(value)


def _plain(value: Any) -> Any:
    """Turn parsed JSON back into plain dicts and lists (for the JWK)."""
    if isinstance(value, _Object):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, _Float):
        return float(value)
    return value


@dataclass(frozen=True, slots=True)
class ResourceActions:
    """One entry of the ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]
    resource_class: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """A parsed, not yet verified, token."""

    signing_input: bytes
    signature: bytes
    alg: str
    kid: str = ""
    x5c: tuple[str, ...] = ()
    jwk: Any = None
    issuer: str = ""
    subject: str = ""
    audience: str = ""
    expiration: int = 0
    not_before: int = 0
    access: tuple[ResourceActions, ...] = field(default_factory=tuple)

    def grants(self, resource_type: str, name: str, action: str) -> bool:
        """Whether the ``access`` claim allows ``action`` (a granted ``*`` allows any action)."""
        actions = {
            a
            for entry in self.access
            if (entry.type, entry.name) == (resource_type, name)
            for a in entry.actions
        }
        return "*" in actions or action in actions


def _decode_part(part: str, what: str) -> bytes:
    try:
        return jose_b64decode(part)
    except (ValueError, binascii.Error) as e:
        raise MalformedTokenError(f"unable to decode {what}") from e


def parse_token(raw: str) -> Token:
    """Parse ``header.claims.signature`` (Go ``NewToken``).

    Raises:
        MalformedTokenError: not three parts, bad base64url or JSON of the wrong shape.
    """
    parts = raw.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - JWS compact serialisation
        raise MalformedTokenError("a token has three parts")
    header_json = _decode_part(parts[0], "header")
    claims_json = _decode_part(parts[1], "claims")
    signature = _decode_part(parts[2], "signature")
    header = _fields(_loads(header_json), ("typ", "alg", "kid", "x5c", "jwk"))
    claims = _fields(
        _loads(claims_json), ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access")
    )
    _string(header, "typ")  # checked for its type only, as Go's decoder does
    _string(claims, "jti")
    _int64(claims, "iat")
    access_value = claims.get("access", [])
    if isinstance(access_value, _Object) or not isinstance(access_value, list):
        raise MalformedTokenError("access: expected a list")
    access = []
    for entry in access_value:
        if entry is None:
            raise MalformedTokenError("access: null entry")
        fields = _fields(entry, ("type", "class", "name", "actions"))
        access.append(
            ResourceActions(
                type=_string(fields, "type"),
                name=_string(fields, "name"),
                actions=_strings(fields, "actions"),
                resource_class=_string(fields, "class"),
            )
        )
    return Token(
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
        alg=_string(header, "alg"),
        kid=_string(header, "kid"),
        x5c=_strings(header, "x5c"),
        jwk=_plain(header["jwk"]) if "jwk" in header else None,
        issuer=_string(claims, "iss"),
        subject=_string(claims, "sub"),
        audience=_string(claims, "aud"),
        expiration=_int64(claims, "exp"),
        not_before=_int64(claims, "nbf"),
        access=tuple(access),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyOptions:
    """What a token must match (Go ``VerifyOptions``)."""

    issuer: str
    service: str
    roots: tuple[x509.Certificate, ...]
    trusted_keys: Mapping[str, PublicKey]


def _signing_key(token: Token, options: VerifyOptions, now: dt.datetime) -> PublicKey:
    """Go ``VerifySigningKey``: ``x5c``, else ``jwk``, else ``kid``."""
    try:
        if token.x5c:
            return verify_chain(token.x5c, options.roots, now)
        if token.jwk is not None:
            key = public_key_from_jwk(token.jwk)
            chain = token.jwk.get("x5c") if isinstance(token.jwk, dict) else None
            if not isinstance(chain, list):
                if key_id(key) not in options.trusted_keys:
                    raise InvalidTokenError("untrusted JWK with no certificate chain")
                return key
            leaf_key = verify_chain(chain, options.roots, now)
            if key_id(leaf_key) != key_id(key):
                raise InvalidTokenError("leaf certificate key does not match the JWK")
            return key
    except (CertificateError, UnsupportedKeyError) as e:
        raise InvalidTokenError(str(e)) from e
    if token.kid:
        trusted = options.trusted_keys.get(token.kid)
        if trusted is None:
            raise InvalidTokenError("token signed by an untrusted key ID")
        return trusted
    raise InvalidTokenError("unable to get the token signing key")


def _check_claims(token: Token, options: VerifyOptions, now: dt.datetime) -> None:
    """Go's issuer, audience, ``exp`` and ``nbf`` checks, by joserfc's claims registry.

    joserfc counts whole seconds. With ``now`` rounded down it refuses what Go
    refuses, but for the one instant ``exp`` + 60 s itself (Go: a nanosecond later).
    An empty issuer or service is compared like any other (Go's ``contains``).
    """
    registry = jwt.JWTClaimsRegistry(
        now=math.floor(now.timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"value": options.issuer, "allow_blank": True},
        aud={"value": options.service, "allow_blank": True},
    )
    claims = {
        "iss": token.issuer,
        "aud": token.audience,
        "exp": token.expiration,
        "nbf": token.not_before,
    }
    try:
        registry.validate(claims)
    except JoseError as e:
        raise InvalidTokenError(f"token claims refused: {e}") from e


def _check_signature(token: Token, key: PublicKey) -> None:
    """The check of libtrust's ``Verify``: ``alg`` in :data:`GO_ALGORITHMS`, fitting the key."""
    try:
        algorithm = _JWS.get_alg(token.alg)
        signing_key = jose_key(key)
        algorithm.check_key(signing_key)
    except JoseError as e:
        raise InvalidTokenError(f"unable to verify the token signature: {e}") from e
    if not algorithm.verify(token.signing_input, token.signature, signing_key):
        raise InvalidTokenError("unable to verify the token signature")


def verify_token(token: Token, options: VerifyOptions, now: dt.datetime) -> None:
    """Run Go's ``Token.Verify`` checks, in Go's order.

    Raises:
        InvalidTokenError: untrusted issuer, other audience, expired, not yet
            valid, unsigned, untrusted key or a bad signature.
    """
    _check_claims(token, options, now)
    if not token.signature:
        raise InvalidTokenError("token has no signature")
    _check_signature(token, _signing_key(token, options, now))
