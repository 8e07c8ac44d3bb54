"""Go notary 0.7's server schema, as Go ships it (tests/data/go_migrations).

Read from Go's own files rather than from our migrations, so that tests can
build "a database Go set up" without trusting the code under test.
"""

from pathlib import Path

_GO_MIGRATIONS = Path(__file__).parents[2] / "data" / "go_migrations" / "server"

GO_0001_INITIAL = (_GO_MIGRATIONS / "0001_initial.up.sql").read_text(encoding="utf-8")
GO_0002_CHANGEFEED = (_GO_MIGRATIONS / "0002_changefeed.up.sql").read_text(encoding="utf-8")

GOLANG_MIGRATE_TABLE = (
    'CREATE TABLE IF NOT EXISTS "schema_migrations" '
    "(version bigint not null primary key, dirty boolean not null)"
)

# What gorm AutoMigrate (jinzhu/gorm, dialect_sqlite3.go) runs for Go's sqlite3
# backend: CreateTUFTable and CreateChangefeedTable (server/storage/sql_models.go).
GORM_SQLITE = [
    (
        'CREATE TABLE "tuf_files" ("id" integer primary key autoincrement,'
        '"created_at" datetime,"updated_at" datetime,"deleted_at" datetime,'
        '"gun" varchar(255) NOT NULL,"role" varchar(255) NOT NULL,'
        '"version" integer NOT NULL,"sha256" varchar(64),"data" longblob NOT NULL )'
    ),
    'CREATE INDEX idx_tuf_files_deleted_at ON "tuf_files"(deleted_at) ',
    'CREATE UNIQUE INDEX idx_gun ON "tuf_files"("gun", "role", "version") ',
    (
        'CREATE TABLE "changefeed" ("id" integer primary key autoincrement NOT NULL,'
        '"created_at" datetime,"gun" varchar(255) NOT NULL,"version" integer NOT NULL,'
        '"sha256" varchar(64),"category" varchar(20) NOT NULL )'
    ),
]
