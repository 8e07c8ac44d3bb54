"""The owner's one-command hand-over of an imported repository to this server.

Run on the owner's machine, where the root key is (``~/.notary`` or
``~/.docker/trust``)::

    python -m notary_server.handover --server https://new-notary:4443 GUN...

It publishes one root rotation naming this server's snapshot and timestamp
keys, signed with the owner's root key, so this server signs the repository's
snapshot and timestamp from then on (ADR 0022). It uses only ``notary_tuf``,
``cryptography`` and the standard library.
"""
