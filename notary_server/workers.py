"""Serving the application: in this process, or in several worker processes on one port.

Beyond Go (issue #8). Go's server is one process using every core; a Python
process uses one. With ``server.workers`` N > 1 the process started by
``python -m notary_server`` becomes a small supervisor: it checks that the
port is free, forks N workers that each run the whole application (their own
event loop, database pool, cache and change listener) on the same port with
``SO_REUSEPORT`` -- the kernel spreads connections across them -- and then:

* forwards ``SIGTERM``/``SIGINT`` (graceful stop) and ``SIGHUP`` (TLS reload)
  to every worker, and exits once all have stopped;
* replaces a worker that dies after it has been serving a while, and stops
  everything if one dies during start-up (a configuration or database
  problem that would only make it die again).

Workers' logs go to the inherited standard error, as one process's would.
Caches stay coherent across workers and replicas through the database's
change notifications (:mod:`notary_server.storage.notify`), not through the
supervisor.

``SIGHUP`` reloads the server certificate chain and key (and the client CA)
from the configured paths into each worker's live :class:`ssl.SSLContext`:
connections already open keep their session, new handshakes present the new
certificate. Files that do not load are logged and the old ones stay in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
import time
from typing import TYPE_CHECKING, Final, NoReturn

from notary_runtime.tls import listener_context

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from aiohttp.web import Application

    from notary_server.config import ServerConfig, TLSConfig

__all__ = ["TLSReloader", "make_ssl_context", "serve", "supervise"]

logger = logging.getLogger(__name__)

STARTUP_WINDOW: Final = 5.0
"""A worker that exits sooner than this after it was started is not restarted."""

STOP_TIMEOUT: Final = 30.0
"""Seconds the supervisor waits for workers to stop before killing them."""


def make_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """A server context for ``tls`` (TLS 1.2+, client certificates if a CA is set).

    Raises:
        OSError, ssl.SSLError: a file is missing or invalid.
    """
    return listener_context(tls.cert_file, tls.key_file, tls.client_ca_file)


class TLSReloader:
    """Reloads the certificate files into a live context (on ``SIGHUP``)."""

    def __init__(self, context: ssl.SSLContext, tls: TLSConfig) -> None:
        """Reload ``tls``'s files into ``context``."""
        self._context = context
        self._tls = tls

    def reload(self) -> bool:
        """Load the files again; on failure keep the current ones and return False."""
        try:
            make_ssl_context(self._tls)  # all files valid and matching, or nothing changes
            self._context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
            if self._tls.client_ca_file is not None:
                self._context.load_verify_locations(self._tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            logger.error("TLS reload failed, keeping the current certificate: %s", exc)  # noqa: TRY400 - no traceback wanted
            return False
        logger.info("reloaded the TLS certificate from %s", self._tls.cert_file)
        return True


async def _freeze_startup_objects(_app: object) -> None:
    """Hide what start-up built from the garbage collector (``gc.freeze``).

    Modules, the application and the warmed cache live as long as the process;
    a full collection that walks them all (about 35 ms with 100,000 chains
    cached) pauses every request in flight. Only the process entry point does
    this: a test process builds and drops many applications.
    """
    gc.collect()
    gc.freeze()


def serve(config: ServerConfig, *, reuse_port: bool = False) -> None:
    """Run the application in this process until ``SIGTERM``/``SIGINT``.

    Raises:
        OSError, ssl.SSLError: the TLS files cannot be loaded.
    """
    # Imported here: the supervisor and --help stay free of aiohttp's start-up cost.
    from aiohttp import web  # noqa: PLC0415

    from notary_runtime.eventloop import new_event_loop  # noqa: PLC0415
    from notary_server.app import create_app  # noqa: PLC0415

    ssl_context = make_ssl_context(config.tls) if config.tls is not None else None
    app = create_app(config)
    reloader = TLSReloader(ssl_context, config.tls) if ssl_context and config.tls else None

    def on_sighup() -> None:
        if reloader is None:
            logger.info("SIGHUP: no TLS certificate to reload")
        else:
            reloader.reload()

    async def handle_sighup(_app: web.Application) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_sighup)

    app.on_startup.append(handle_sighup)
    app.on_startup.append(_freeze_startup_objects)  # last: after the cache warm-up
    loop = new_event_loop(config.event_loop)
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve_app(app, config, ssl_context, reuse_port=reuse_port))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):  # SIGTERM / SIGINT, as web.run_app stops
        pass
    finally:
        _finish(loop, main)


async def _serve_app(
    app: Application,
    config: ServerConfig,
    ssl_context: ssl.SSLContext | None,
    *,
    reuse_port: bool,
) -> None:
    """Start the application, listen, log ``serving on`` once bound; clean up when cancelled.

    What ``web.run_app`` does, with :class:`notary_server.tls_site.TLSSite` for
    HTTPS (Go's answer to plain HTTP on the TLS port) and no aiohttp access log
    (:mod:`notary_server.requestlog` logs each request once).
    """
    from aiohttp import web  # noqa: PLC0415

    from notary_server.tls_site import TLSSite  # noqa: PLC0415

    runner = web.AppRunner(app, handle_signals=True, access_log=None)
    await runner.setup()
    site_class = TLSSite if ssl_context is not None else web.TCPSite
    site = site_class(
        runner,
        config.host or None,
        config.port,
        ssl_context=ssl_context,
        reuse_port=reuse_port or None,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    logger.info("serving on %s", site.name)
    try:
        await asyncio.Event().wait()  # until cancelled (SIGTERM/SIGINT)
    finally:
        logger.info("stopping: closing connections and the store")
        await runner.cleanup()
        logger.info("stopped")


def _finish(loop: asyncio.AbstractEventLoop, main: asyncio.Task[None]) -> None:
    """Cancel what is left (the main task first: its cleanup), then close the loop."""
    for tasks in ({main}, asyncio.all_tasks(loop)):
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


def check_port_free(host: str, port: int) -> None:
    """Fail early, with the usual message, if something already listens on the port.

    Workers bind with ``SO_REUSEPORT``, which would let them share the port
    with a stale instance of the same user; this probe does not set it.

    Raises:
        OSError: the address is in use (or cannot be bound at all).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family):
        pass


def supervise(run_worker: Callable[[], None], workers: int) -> int:
    """Fork ``workers`` processes running ``run_worker`` and look after them.

    Returns:
        0 after a requested stop, 1 if a worker failed during start-up.
    """
    return _Supervisor(run_worker).run(workers)


class _Supervisor:
    def __init__(self, run_worker: Callable[[], None]) -> None:
        self._run_worker = run_worker
        self._children: dict[int, float] = {}  # pid -> when it was started
        self._stopping = False
        self._status = 0

    def run(self, workers: int) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        for _ in range(workers):
            self._spawn()
        deadline: float | None = None
        while self._children:
            if self._stopping and deadline is None:
                deadline = time.monotonic() + STOP_TIMEOUT
            pid, code = _wait(deadline)
            if pid == 0:  # the stop timeout passed
                self._signal_all(signal.SIGKILL)
                deadline = time.monotonic() + STOP_TIMEOUT
                continue
            self._reaped(pid, code)
        return self._status

    def _reaped(self, pid: int, code: int) -> None:
        started = self._children.pop(pid, None)
        if started is None or self._stopping:
            return
        if time.monotonic() - started < STARTUP_WINDOW:
            logger.error("worker %d exited with %d during start-up; stopping", pid, code)
            self._status = 1
            self._stop(signal.SIGTERM)
        else:
            logger.error("worker %d exited with %d; starting a new one", pid, code)
            self._spawn()

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            _worker_main(self._run_worker)
        self._children[pid] = time.monotonic()
        logger.info("started worker %d", pid)

    def _stop(self, signum: int) -> None:
        self._stopping = True
        self._signal_all(signum)

    def _signal_all(self, signum: int) -> None:
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._signal_all(signal.SIGHUP)
        else:
            self._stop(signum)


def _worker_main(run_worker: Callable[[], None]) -> NoReturn:
    """The forked child: serve, then leave without running the parent's cleanups."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the event loop handles it
        run_worker()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logger.exception("worker %d failed", os.getpid())
    finally:
        logging.shutdown()
        os._exit(code)


def _wait(deadline: float | None) -> tuple[int, int]:
    """Reap one child: ``(pid, exit code)``, or ``(0, 0)`` once ``deadline`` passed."""
    while True:
        if deadline is None:
            pid, status = os.waitpid(-1, 0)
        else:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if time.monotonic() >= deadline:
                    return 0, 0
                time.sleep(0.05)
                continue
        return pid, os.waitstatus_to_exitcode(status)
