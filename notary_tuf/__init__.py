"""The TUF metadata format exactly as Go notary 0.7 writes and checks it.

This package is pure and synchronous: it parses, serialises, signs and verifies
metadata, and decides whether an upload is a valid update of a repository. It
does no I/O and imports neither aiohttp, asyncpg nor grpc; the server and the
signer build on it.
"""

__version__ = "0.1.0"
