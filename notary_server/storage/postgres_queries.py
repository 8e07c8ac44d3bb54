"""The SQL of the PostgreSQL metadata store (:mod:`notary_server.storage.postgres`).

Statements on Go notary 0.7's tables (``tuf_files``, ``changefeed``) and on
``audit_log`` (migration 0004), kept apart from the code that runs them. Rows a
Go server soft-deleted (``deleted_at`` set, gorm) stay invisible, as in Go.
"""

from __future__ import annotations

from typing import Final

MAX_VERSIONS: Final = """
SELECT role, max(version) FROM tuf_files
WHERE gun = $1 AND role = ANY($2::varchar[]) AND deleted_at IS NULL
GROUP BY role
"""
# An update in one statement (one round trip, committed on its own): the files
# of the batch go in only if no stored version of their role is at or above
# theirs, and the timestamp's changefeed record goes in with them. Concurrent
# writers of the same version still meet the unique index.
_UPDATE_TEMPLATE: Final = """
WITH batch AS (
    SELECT * FROM unnest($3::varchar[], $4::integer[], $5::bytea[], $6::varchar[])
        AS b(role, version, data, sha256)
), stale AS (
    SELECT 1 FROM batch, LATERAL (
        SELECT t.version FROM tuf_files AS t
        WHERE t.gun = $2 AND t.role = batch.role AND t.deleted_at IS NULL
        ORDER BY t.version DESC LIMIT 1
    ) AS stored
    WHERE stored.version >= batch.version
), files AS (
    INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, version, data, sha256)
    SELECT $1, $1, NULL, $2, role, version, data, sha256 FROM batch
    WHERE NOT EXISTS (SELECT 1 FROM stale)
    RETURNING role, version, sha256
), changes AS (
    INSERT INTO changefeed (created_at, gun, version, sha256, category{audit_columns})
    SELECT $1, $2, version, sha256, $7{audit_values} FROM files WHERE role = $8
)
SELECT count(*) FROM files
"""
UPDATE: Final = _UPDATE_TEMPLATE.format(audit_columns="", audit_values="")
UPDATE_AUDITED: Final = _UPDATE_TEMPLATE.format(
    audit_columns=", actor, client_addr", audit_values=", $9, $10"
)
INSERT_CHANGE: Final = """
INSERT INTO changefeed (created_at, gun, version, sha256, category) VALUES ($1, $2, $3, $4, $5)
"""
SELECT_CURRENT: Final = """
SELECT coalesce(updated_at, created_at), data FROM tuf_files
WHERE gun = $1 AND role = $2 AND deleted_at IS NULL
ORDER BY version DESC LIMIT 1
"""
SELECT_CHECKSUM: Final = """
SELECT created_at, data FROM tuf_files
WHERE gun = $1 AND role = $2 AND sha256 = $3 AND deleted_at IS NULL
ORDER BY id LIMIT 1
"""
SELECT_VERSION: Final = """
SELECT created_at, data FROM tuf_files
WHERE gun = $1 AND role = $2 AND version = $3 AND deleted_at IS NULL
"""
# Go deletes unscoped: soft-deleted rows go too.
DELETE_GUN: Final = "DELETE FROM tuf_files WHERE gun = $1"
CHANGES_FORWARD: Final = """
SELECT id, created_at, gun, version, sha256, category FROM changefeed
WHERE id > $1 AND ($3::varchar IS NULL OR gun = $3)
ORDER BY id ASC LIMIT $2
"""
CHANGES_BACKWARD: Final = """
SELECT id, created_at, gun, version, sha256, category FROM changefeed
WHERE ($1::integer IS NULL OR id < $1) AND ($3::varchar IS NULL OR gun = $3)
ORDER BY id DESC LIMIT $2
"""
HEALTH: Final = "SELECT to_regclass('tuf_files') IS NOT NULL"

# Operator tooling (beyond Go; the audit columns and table come with migration 0004).
HAS_AUDIT: Final = "SELECT to_regclass('audit_log') IS NOT NULL"
INSERT_CHANGE_AUDITED: Final = """
INSERT INTO changefeed (created_at, gun, version, sha256, category, actor, client_addr)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
CHANGE_AUDIT: Final = "SELECT id, actor, client_addr FROM changefeed WHERE id = ANY($1::integer[])"
# Bulk reads for the cache warmer: one index probe per GUN, one round trip per batch.
GUNS_RECENT_FIRST: Final = """
SELECT gun FROM tuf_files WHERE role = 'timestamp' AND deleted_at IS NULL
GROUP BY gun ORDER BY max(coalesce(updated_at, created_at)) DESC, gun
"""
SELECT_CURRENT_MANY: Final = """
SELECT w.gun, f.modified, f.data FROM unnest($1::text[]) AS w(gun)
CROSS JOIN LATERAL (
    SELECT coalesce(updated_at, created_at) AS modified, data FROM tuf_files
    WHERE gun = w.gun AND role = $2 AND deleted_at IS NULL
    ORDER BY version DESC LIMIT 1
) AS f
"""
# The update path's first read: every role it needs in one round trip.
SELECT_CURRENT_ROLES: Final = """
SELECT w.role, f.modified, f.data FROM unnest($2::text[]) AS w(role)
CROSS JOIN LATERAL (
    SELECT coalesce(updated_at, created_at) AS modified, data FROM tuf_files
    WHERE gun = $1 AND role = w.role AND deleted_at IS NULL
    ORDER BY version DESC LIMIT 1
) AS f
"""
SELECT_CHECKSUM_MANY: Final = """
SELECT w.gun, w.sha256, f.created_at, f.data
FROM unnest($1::text[], $2::text[]) AS w(gun, sha256)
CROSS JOIN LATERAL (
    SELECT created_at, data FROM tuf_files
    WHERE gun = w.gun AND role = $3 AND sha256 = w.sha256 AND deleted_at IS NULL
    ORDER BY id LIMIT 1
) AS f
"""
LIST_GUNS: Final = "SELECT DISTINCT gun FROM tuf_files WHERE deleted_at IS NULL ORDER BY gun"


def guns_page_query(*, after: bool, bounded: bool, descending: bool) -> str:
    """A page of GUNs; each variant its own statement, so each plan can use the index.

    (``$x IS NULL OR gun > $x`` in one statement would let a cached generic
    plan scan the whole index.) ``$1`` is the prefix, which ``starts_with``
    alone decides; ``$2`` the limit; then the keyset cursor; then, where the
    collation orders by code point, the prefix's range ``[low, high)``.
    """
    conditions = ["deleted_at IS NULL", "starts_with(gun, $1)"]
    number = 3
    if after:
        conditions.append(f"gun {'<' if descending else '>'} ${number}")
        number += 1
    if bounded:
        conditions.append(f"gun >= ${number} AND gun < ${number + 1}")
    order = "gun DESC" if descending else "gun"
    where = " AND ".join(conditions)
    return f"SELECT DISTINCT gun FROM tuf_files WHERE {where} ORDER BY {order} LIMIT $2"  # noqa: S608 - fixed fragments only


COLLATION: Final = "SELECT datcollate FROM pg_database WHERE datname = current_database()"
CODE_POINT_COLLATIONS: Final = ("C", "POSIX", "C.UTF-8", "C.utf8")
LIST_FILES: Final = """
SELECT role, version, sha256, octet_length(data), created_at FROM tuf_files
WHERE gun = $1 AND deleted_at IS NULL ORDER BY role, version
"""
DELETE_VERSION: Final = "DELETE FROM tuf_files WHERE gun = $1 AND role = $2 AND version = $3"
INSERT_AUDIT: Final = """
INSERT INTO audit_log (created_at, gun, action, detail, actor, client_addr)
VALUES ($1, $2, $3, $4, $5, $6)
"""
SELECT_AUDIT: Final = """
SELECT id, created_at, gun, action, detail, actor, client_addr FROM audit_log
WHERE gun = $1 ORDER BY id DESC LIMIT $2
"""
