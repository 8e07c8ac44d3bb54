"""The API error codes and the one exception handlers raise on purpose.

Codes, messages and statuses are Go notary's (``server/errors/errors.go`` and the
``errcode`` package of docker/distribution): the Go client keys its behaviour on
the status and, for 400s, on the ``INVALID_UPDATE`` detail.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from notary_tuf.canonical import envelope_string

__all__ = ["NO_DETAIL", "ApiError", "ErrorCode", "go_json"]


class ErrorCode(enum.Enum):
    """An error code: its wire value, message and HTTP status."""

    NO_STORAGE = ("NO_STORAGE", "The server is misconfigured and has no storage.", 500)
    NO_FILENAME = ("NO_FILENAME", "No file/role name provided.", 400)
    INVALID_ROLE = ("INVALID_ROLE", "The role you are attempting to operate on is invalid.", 400)
    MALFORMED_JSON = (
        "MALFORMED_JSON",
        "JSON sent by the client could not be parsed by the server",
        400,
    )
    UPDATING = ("UPDATING", "An error has occurred while updating the TUF repository.", 500)
    VERSION = ("VERSION", "A newer version of metadata is already available.", 400)
    METADATA_NOT_FOUND = (
        "METADATA_NOT_FOUND",
        "You have requested metadata that does not exist.",
        404,
    )
    INVALID_UPDATE = ("INVALID_UPDATE", "Update sent by the client is invalid.", 400)
    MALFORMED_UPLOAD = ("MALFORMED_UPLOAD", "The body of your request is malformed.", 400)
    GENERIC_NOT_FOUND = (
        "GENERIC_NOT_FOUND",
        "You have requested a resource that does not exist.",
        404,
    )
    NO_CRYPTOSERVICE = (
        "NO_CRYPTOSERVICE",
        "The server does not have a signing service configured.",
        500,
    )
    NO_KEYALGORITHM = (
        "NO_KEYALGORITHM",
        "The server does not have a key algorithm configured.",
        500,
    )
    INVALID_GUN = (
        "INVALID_GUN",
        "The server does not support actions on images of this name.",
        400,
    )
    INVALID_PARAMETERS = ("INVALID_PARAMETERS", "The parameters provided are not valid.", 400)
    UNKNOWN = ("UNKNOWN", "unknown error", 500)
    UNAUTHORIZED = ("UNAUTHORIZED", "authentication required", 401)

    def __init__(self, value: str, message: str, status: int) -> None:
        """Unpack the member's value into named attributes."""
        self.code = value
        self.message = message
        self.status = status


class _NoDetail:
    """Marker: the error carries no ``detail`` field (Go ``WithDetail(nil)``)."""

    def __repr__(self) -> str:
        return "NO_DETAIL"


NO_DETAIL: Final = _NoDetail()
EMPTY_DETAIL: Final[dict[str, Any]] = {}
"""What Go writes for an error value without exported fields, e.g. ``ErrNotFound{}``."""


class ApiError(Exception):
    """An error response: a code and an optional JSON ``detail``.

    Handlers and services raise it; the error middleware alone writes it out.
    """

    def __init__(
        self, code: ErrorCode, detail: Any = NO_DETAIL, *, unread_body: bool = False
    ) -> None:
        """Create the error; ``detail`` must be JSON-serialisable or ``NO_DETAIL``.

        ``unread_body``: the request's body is refused unread; the answer is
        sent and the connection closed without reading it (as for a limit).
        """
        super().__init__(code.code)
        self.code = code
        self.detail = detail
        self.unread_body = unread_body

    def body(self) -> dict[str, Any]:
        """Return the response body, Go's ``{"errors": [...]}`` envelope."""
        error: dict[str, Any] = {"code": self.code.code, "message": self.code.message}
        # Go's `json:"detail,omitempty"` drops a nil detail: never write "detail":null.
        if self.detail is not NO_DETAIL and self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}


_GO_CONSTANTS: Final[dict[Any, bytes]] = {None: b"null", True: b"true", False: b"false"}


def go_json(value: Any) -> bytes:
    """Encode JSON as Go's ``encoding/json`` does, compact, keys in the order given.

    Strings are escaped like Go: ``<``, ``>``, ``&``, U+2028 and U+2029 and the
    control characters other than newline, carriage return and tab become
    ``u`` escapes, so bodies are byte-identical to Go's for any GUN or role
    name. Dicts keep their insertion order (Go writes struct fields in
    declaration order).

    Raises:
        TypeError: a value that is not None, bool, int, str, list, tuple or dict.
    """
    if value is None or isinstance(value, bool):
        return _GO_CONSTANTS[value]
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return envelope_string(value)
    if isinstance(value, list | tuple):
        return b"[" + b",".join(go_json(v) for v in value) + b"]"
    if isinstance(value, dict):
        items = (envelope_string(str(k)) + b":" + go_json(v) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
