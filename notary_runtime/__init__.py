"""Process plumbing shared by the Notary server and the Notary signer.

The two services must never import each other (the server reaches the signer
only over gRPC), yet both read a Go-style configuration file, parse Go's
command-line flags, log in logrus's two formats, keep an SQLite database on
one worker thread, and run golang-migrate-style schema migrations. This
package holds the one copy of that plumbing (ADR 0013):

* :mod:`notary_runtime.cli`: the ``-config``/``-logf``/``-version`` flags;
* :mod:`notary_runtime.config`: the viper-like configuration reader;
* :mod:`notary_runtime.logs`: Go's log levels, the JSON and logfmt formatters;
* :mod:`notary_runtime.sqlite`: go-sqlite3 ``db_url`` parsing and the
  single-thread SQLite worker;
* :mod:`notary_runtime.migrate`: the ``schema_migrations`` runner.
* :mod:`notary_runtime.processes`: starting, waiting for and stopping child
  processes, for ``make run``'s launcher, the tests and the benchmarks (ADR 0030).

Everything here is generic over what differs between the services (error
classes, environment prefix, program name, table names, migration package);
it imports neither service, nor ``notary_proto``, and importing it has no side
effects. ``notary_tuf`` stays pure and does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ErrorFactory"]

ErrorFactory = Callable[[str], Exception]
"""Builds the calling service's exception from a message (usually the class itself)."""
