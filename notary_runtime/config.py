"""Reading Go notary's JSON configuration files the way viper reads them.

Go's services read ``server-config.json`` / ``signer-config.json`` through
viper (``utils/configuration.go``): keys are matched case-insensitively, every
key can be overridden by ``NOTARY_<SERVICE>_<KEY>`` with dots as underscores,
upper-cased (``NOTARY_SERVER_STORAGE_DB_URL``), and relative file paths
resolve against the configuration file's directory
(``GetPathRelativeToConfig``). :class:`ConfigReader` is that lookup; what the
keys mean and which values are valid stays with each service.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from notary_runtime import ErrorFactory

__all__ = ["ConfigReader", "env_name", "unknown_key_warnings", "unknown_keys"]


def env_name(prefix: str, key: str) -> str:
    """Return the variable viper reads for ``key``: ``a.b`` → ``<prefix>A_B``."""
    return prefix + key.replace(".", "_").upper()


class ConfigReader:
    """Looks keys up in a parsed file, with environment overrides (viper's rule).

    Attributes:
        document: the parsed JSON object.
        environ: the environment the overrides come from.
        base: the directory relative paths resolve against.
        env_prefix: the overrides' prefix (``NOTARY_SERVER_``).
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        environ: Mapping[str, str],
        base: Path,
        *,
        env_prefix: str,
        error: ErrorFactory,
    ) -> None:
        """Keep what the lookups need.

        Args:
            document: the parsed JSON object.
            environ: the environment the overrides come from.
            base: the configuration file's directory.
            env_prefix: the overrides' prefix (``NOTARY_SERVER_``).
            error: builds the service's configuration error from a message.
        """
        self.document = document
        self.environ = environ
        self.base = base
        self.env_prefix = env_prefix
        self._error = error

    def get(self, key: str) -> Any:
        """Return the override or the file's value of a dotted key; ``None`` when absent."""
        name = env_name(self.env_prefix, key)
        if name in self.environ:
            return self.environ[name]
        node: Any = self.document
        for part in key.split("."):
            if not isinstance(node, dict):
                return None
            # viper matches keys case-insensitively
            node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
        return node

    def string(self, key: str, default: str = "") -> str:
        """Return a scalar as text; ``default`` when absent.

        Raises:
            Exception: built by ``error``: the value is an object, a list or a boolean.
        """
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool | dict | list):
            raise self._error(f"{key}: expected a string")
        return str(value)

    def integer(self, key: str, default: int) -> int:
        """Return an integer (or its text from an override); ``default`` when absent or empty.

        Raises:
            Exception: built by ``error``: the value is not an integer.
        """
        value = self.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise self._error(f"{key}: expected an integer")
        try:
            return int(value)
        except (TypeError, ValueError) as e:
            raise self._error(f"{key}: expected an integer, got {value!r}") from e

    def path(self, key: str) -> Path | None:
        """Return a file path, relative ones against :attr:`base`; ``None`` when absent or empty.

        Raises:
            Exception: built by ``error``: the value is not a string.
        """
        value = self.string(key)
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.base / path

    def string_list(self, key: str) -> tuple[str, ...]:
        """Return a list of strings; an override is split on whitespace, as viper splits it.

        Raises:
            Exception: built by ``error``: the value is not a list of strings.
        """
        value = self.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(value.split())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._error(f"{key}: expected a list of strings")
        return tuple(value)


def unknown_keys(
    document: Mapping[str, Any], known: Collection[str], open_sections: Collection[str] = ()
) -> list[str]:
    """Return the dotted keys of ``document`` that are not ``known`` (viper: any case).

    A key is known when it is in ``known``, or lies in one of ``open_sections``
    (whose contents are not checked); a section (an object) is walked when some
    known key lies in it. Keys are returned as written, in document order.
    """
    found: list[str] = []

    def walk(node: Mapping[str, Any], written: str, lowered: str) -> None:
        for name, value in node.items():
            path, key = f"{written}{name}", f"{lowered}{str(name).lower()}"
            if key in known or any(key == s or key.startswith(s + ".") for s in open_sections):
                continue
            if isinstance(value, dict) and any(k.startswith(key + ".") for k in known):
                walk(value, path + ".", key + ".")
            else:
                found.append(path)

    walk(document, "", "")
    return found


def unknown_key_warnings(
    document: Mapping[str, Any], known: Collection[str], open_sections: Collection[str] = ()
) -> list[str]:
    """One message per unknown key (:func:`unknown_keys`), naming the nearest known key."""
    sections = {k.rsplit(".", i)[0] for k in known for i in range(1, k.count(".") + 1)}
    candidates = sorted(set(known) | sections)
    messages = []
    for key in unknown_keys(document, known, open_sections):
        nearest = difflib.get_close_matches(key.lower(), candidates, n=1, cutoff=0.6)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        messages.append(f"{key}: unknown key, ignored{hint}")
    return messages
