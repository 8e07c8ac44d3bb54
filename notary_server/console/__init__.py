"""The operator console (beyond Go, ADR 0026): HTML pages under ``/_notary_server/console/``.

Off unless ``console.enabled`` (:mod:`.settings`, read by the server's
configuration, which is why this package imports nothing at its top);
:func:`notary_server.console.mount.install_console` mounts it. Pages are Jinja2
templates with autoescaping, with no script at all, one stylesheet served from
here and a Content-Security-Policy that allows nothing else. Every page and
action checks its principal on the server (:mod:`.access`), and a user sees
only the repositories its token may pull.
"""
