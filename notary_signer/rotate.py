"""Re-encrypt every stored key under another passphrase alias.

Port of Go ``SQLKeyDBStore.RotateKeyPassphrase``, applied to all live keys
(Go has no command for it). Each key is decrypted with its row's alias,
checked to parse and to match its key ID, encrypted under the new alias's
passphrase, and written back in its own transaction with a compare-and-set
on the old alias. A run that stops part-way loses nothing: every row is
either still under its old alias or already under the new one, and running
again finishes the job; a run with nothing left to do changes nothing.

Neither passphrases nor key material are logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_signer import jwe
from notary_signer.crypto import SignerKey
from notary_signer.errors import KeyDecryptionError, KeyNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from notary_signer.config import Passphrases
    from notary_signer.keystore.base import KeyRecord, KeyStore

__all__ = ["RotationResult", "rotate_passphrase"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RotationResult:
    """How a rotation went.

    Attributes:
        rotated: Keys re-encrypted by this run.
        skipped: Keys that changed or vanished while the run looked at them.
    """

    rotated: int
    skipped: int


def _reencrypt(record: KeyRecord, old: str, new: str) -> bytes:
    plaintext = jwe.decrypt(record.private, old)
    key = SignerKey.from_private_bytes(record.algorithm, plaintext)
    if key.key_id != record.key_id:
        raise KeyDecryptionError(f"stored key {record.key_id} does not match its key ID")
    return jwe.encrypt(plaintext, new).encode("ascii")


async def rotate_passphrase(
    store: KeyStore,
    passphrases: Passphrases,
    to_alias: str,
    *,
    after_row: Callable[[str], None] | None = None,
) -> RotationResult:
    """Re-encrypt every live key not yet under ``to_alias``.

    Args:
        store: An SQL key store.
        passphrases: Must hold the passphrases of ``to_alias`` and of every alias in use.
        to_alias: The alias to encrypt under.
        after_row: Called with each key ID once its row is committed (a test hook).

    Returns:
        The counts of rotated and skipped keys.

    Raises:
        PassphraseError: ``to_alias``, or a row's alias, has no passphrase.
        KeyDecryptionError: a row cannot be decrypted; earlier rows stay rotated.
        KeyStoreError: the database failed; earlier rows stay rotated.
    """
    new_passphrase = passphrases.get(to_alias)  # fail before touching anything
    rotated = skipped = 0
    for key_id in await store.list_for_rotation(to_alias):
        try:
            record = await store.get(key_id)
        except KeyNotFoundError:
            skipped += 1
            continue
        if record.passphrase_alias == to_alias:
            continue
        old_passphrase = passphrases.get(record.passphrase_alias)
        private = await asyncio.to_thread(_reencrypt, record, old_passphrase, new_passphrase)
        if await store.replace_encryption(
            key_id, private=private, alias=to_alias, expected_alias=record.passphrase_alias
        ):
            rotated += 1
            logger.info("key %s: %s -> %s", key_id, record.passphrase_alias, to_alias)
        else:
            skipped += 1
        if after_row is not None:
            after_row(key_id)
    return RotationResult(rotated=rotated, skipped=skipped)
