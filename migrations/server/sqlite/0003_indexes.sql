-- Lookup indexes the PostgreSQL schema has and gorm never created on sqlite3:
-- by checksum (GET by checksum, the consistent store) and changefeed by GUN.
-- IF NOT EXISTS keeps this safe on a database Go created.
CREATE INDEX IF NOT EXISTS tuf_files_sha256_idx ON "tuf_files" (sha256);

CREATE INDEX IF NOT EXISTS idx_changefeed_gun ON "changefeed" (gun);
