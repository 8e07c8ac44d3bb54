"""SQLite the way Go notary runs it: go-sqlite3 ``db_url``s, one worker thread, Go's time text.

Go passes ``storage.db_url`` straight to ``github.com/mattn/go-sqlite3``, which
accepts a file path (``/var/lib/notary/server.db``), ``:memory:``, or an SQLite
URI (``file:server.db?mode=ro``), each optionally followed by ``?`` and driver
parameters such as ``_busy_timeout=10000`` (milliseconds; default 5000).
:func:`parse_sqlite_url` reads those forms and :func:`connect_sqlite` opens a
connection configured the same way; neither runs any schema change.

:class:`SqliteWorker` is the threading model both services' SQLite stores use
(ADR 0004): one dedicated worker thread owns the only connection, so the event
loop never blocks on the database and the connection is never shared between
threads. Errors are reported as the calling service's exceptions, built by the
factories it passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from collections.abc import Callable

    from notary_runtime import ErrorFactory

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "SqliteTarget",
    "SqliteWorker",
    "connect_sqlite",
    "format_go_time",
    "has_no_tables",
    "parse_sqlite_url",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000
"""go-sqlite3's default ``_busy_timeout``."""

_COUNT_TABLES: Final = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """Where and how to open a database.

    Attributes:
        database: what to pass to :func:`sqlite3.connect`.
        uri: ``database`` is an SQLite ``file:`` URI.
        busy_timeout_ms: how long a writer waits for another's lock.
    """

    database: str
    uri: bool
    busy_timeout_ms: int


def parse_sqlite_url(db_url: str, *, error: ErrorFactory) -> SqliteTarget:
    """Parse a Go-style sqlite3 ``db_url`` (go-sqlite3 ``SQLiteDriver.Open``).

    Args:
        db_url: a path, ``:memory:`` or a ``file:`` URI, optionally with ``?`` parameters.
        error: builds the exception to raise.

    Raises:
        Exception: built by ``error``: the URL is empty or a driver parameter is malformed.
    """
    if not db_url:
        raise error("the sqlite3 backend needs a db_url (a file path)")
    database = db_url
    busy_timeout = DEFAULT_BUSY_TIMEOUT_MS
    pos = db_url.find("?")
    if pos >= 1:
        params = parse_qs(db_url[pos + 1 :])
        value = (params.get("_busy_timeout") or params.get("_timeout") or [""])[0]
        if value:
            try:
                busy_timeout = int(value)
            except ValueError:
                raise error(f"invalid _busy_timeout in sqlite3 db_url: {value!r}") from None
        # As in go-sqlite3, parameters after a plain path are the driver's
        # only; a file: URI keeps them (SQLite ignores the ones it does not know).
        if not db_url.startswith("file:"):
            database = db_url[:pos]
    return SqliteTarget(
        database=database, uri=database.startswith("file:"), busy_timeout_ms=busy_timeout
    )


def connect_sqlite(target: SqliteTarget, *, error: ErrorFactory) -> sqlite3.Connection:
    """Open a connection in autocommit mode, WAL journal where possible.

    Transactions are begun explicitly (``BEGIN IMMEDIATE``) by the callers.
    The connection belongs to the calling thread.

    Raises:
        Exception: built by ``error``: the database cannot be opened.
    """
    try:
        conn = sqlite3.connect(
            target.database,
            timeout=target.busy_timeout_ms / 1000,
            isolation_level=None,
            uri=target.uri,
        )
    except sqlite3.Error as exc:
        raise error(f"cannot open SQLite database {target.database}: {exc}") from exc
    # WAL lets readers in other processes (a Go server, sqlite3 CLI) work
    # alongside our writer. It cannot be set on a read-only or in-memory
    # database, which then keeps its journal mode; that is not an error.
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA journal_mode=WAL")
    return conn


def has_no_tables(conn: sqlite3.Connection) -> bool:
    """Whether the database is new: it has no table at all (a schema can be given to it)."""
    return not conn.execute(_COUNT_TABLES).fetchone()[0]


def format_go_time(moment: datetime) -> str:
    """Format a time as go-sqlite3 stores ``time.Time``: ``2006-01-02 15:04:05.999999999-07:00``."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "") + "+00:00"


class SqliteWorker:
    """One SQLite connection, owned by one dedicated worker thread.

    Build it, then :meth:`open` it; every database call goes through
    :meth:`call` (or the ``fetch``/``execute`` helpers), which runs the function
    on the worker thread and turns :class:`sqlite3.Error` into the service's
    exception with ``translate``. Functions run by :meth:`call` reach the
    connection with :meth:`connection`.
    """

    def __init__(
        self,
        target: SqliteTarget,
        *,
        label: str,
        thread_name: str,
        error: ErrorFactory,
        translate: Callable[[sqlite3.Error], Exception],
    ) -> None:
        """Start the worker thread; nothing is connected until :meth:`open`.

        Args:
            target: the database.
            label: what the store is called in messages (``SQLite store``).
            thread_name: the worker thread's name prefix.
            error: builds the service's exception (closed store, failed open).
            translate: turns a :class:`sqlite3.Error` into the service's exception.
        """
        self.target = target
        self._label = label
        self._error = error
        self._translate = translate
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=thread_name
        )
        self._conn: sqlite3.Connection | None = None  # used on the worker thread only

    async def open(self, prepare: Callable[[sqlite3.Connection], None]) -> None:
        """Connect on the worker thread, then run ``prepare`` there; close again if either fails.

        Args:
            prepare: called with the new connection, on the worker thread (to
                give a new database its schema, set a text factory…).

        Raises:
            Exception: built by ``error`` or ``translate``, or raised by ``prepare``.
        """
        try:
            await self.call(self._connect, prepare)
        except BaseException:
            await self.close()
            raise

    async def call(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run ``func`` on the worker thread and return its result.

        Raises:
            Exception: built by ``error`` (the store is closed) or by
                ``translate`` (an SQLite error); what ``func`` raised otherwise.
        """
        if self._executor is None:
            raise self._error(f"the {self._label} is closed")
        call = functools.partial(self._translated, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def execute(self, query: str, params: tuple[object, ...]) -> int:
        """Run one statement (its own transaction); return the rows it changed."""
        return await self.call(self._execute, query, params)

    async def fetch_one(self, query: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        """Return the first row of a query, or ``None``."""
        return await self.call(self._fetch_one, query, params)

    async def fetch_all(
        self, query: str, params: dict[str, object] | tuple[object, ...]
    ) -> list[tuple[Any, ...]]:
        """Return every row of a query."""
        return await self.call(self._fetch_all, query, params)

    async def close(self) -> None:
        """Close the connection on its thread, then let the thread end; idempotent."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_conn)
        finally:
            executor.shutdown(wait=False)

    # The methods below run on the worker thread.

    def connection(self) -> sqlite3.Connection:
        """Return the open connection; only on the worker thread.

        Raises:
            Exception: built by ``error``: the store is not open.
        """
        if self._conn is None:
            raise self._error(f"the {self._label} is not open")
        return self._conn

    def _translated(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _connect(self, prepare: Callable[[sqlite3.Connection], None]) -> None:
        self._conn = connect_sqlite(self.target, error=self._error)
        prepare(self._conn)

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _execute(self, query: str, params: tuple[object, ...]) -> int:
        return self.connection().execute(query, params).rowcount

    def _fetch_one(self, query: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.connection().execute(query, params).fetchone()
        return row

    def _fetch_all(
        self, query: str, params: dict[str, object] | tuple[object, ...]
    ) -> list[tuple[Any, ...]]:
        return self.connection().execute(query, params).fetchall()
