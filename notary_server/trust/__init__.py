"""The trust service: where the server's timestamp and snapshot keys live.

Go's ``trust_service.type`` picks it: ``local`` keeps keys in process memory
(lost on restart, for development), ``remote`` talks to a notary signer over
gRPC. Both implement :class:`~notary_server.trust.base.CryptoService`.
"""
