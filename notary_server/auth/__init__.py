"""Token authentication, as Go notary-server does it with docker/distribution's token auth.

* :mod:`~notary_server.auth.controller`: what each request needs and the 401 challenge.
* :mod:`~notary_server.auth.token`: JWT parsing and verification (Go ``registry/auth/token``).
* :mod:`~notary_server.auth.certs`, :mod:`~notary_server.auth.libtrust`: trust in signing keys.
* :mod:`~notary_server.auth.issuer`, :mod:`~notary_server.auth.htpasswd`: the optional
  built-in token issuer (beyond Go, ADR 0008).

This package's ``__init__`` imports nothing, so :mod:`notary_server.config` can use
the certificate helpers without an import cycle.
"""
