"""Go notary 0.7's server schema, verbatim (migrations/server/postgresql/*.up.sql).

Kept apart from our own migration files (verbatim but for one trailing space)
so that tests can build "a database Go set up" without trusting the code under
test.
"""

GO_0001_INITIAL = """\
CREATE TABLE "tuf_files" (
  "id" serial PRIMARY KEY,
  "created_at" timestamp NULL DEFAULT NULL,
  "updated_at" timestamp NULL DEFAULT NULL,
  "deleted_at" timestamp NULL DEFAULT NULL,
  "gun" varchar(255) NOT NULL,
  "role" varchar(255) NOT NULL,
  "version" integer NOT NULL,
  "data" bytea NOT NULL,
  "sha256" char(64) DEFAULT NULL,
  UNIQUE ("gun","role","version")
);

CREATE INDEX tuf_files_sha256_idx ON tuf_files(sha256);
"""

GO_0002_CHANGEFEED = """\
CREATE TABLE "change_category" (
    "category" VARCHAR(20) PRIMARY KEY
);

INSERT INTO "change_category" VALUES ('update'), ('deletion');

CREATE TABLE "changefeed" (
    "id" serial PRIMARY KEY,
    "created_at" timestamp DEFAULT CURRENT_TIMESTAMP,
    "gun" varchar(255) NOT NULL,
    "version" integer NOT NULL,
    "sha256" CHAR(64) DEFAULT NULL,
    "category" VARCHAR(20) NOT NULL DEFAULT 'update' REFERENCES "change_category"
);

CREATE INDEX "idx_changefeed_gun" ON "changefeed" ("gun");

INSERT INTO "changefeed" (
        "created_at",
        "gun",
        "version",
        "sha256"
    ) (SELECT
        "created_at",
        "gun",
        "version",
        "sha256"
    FROM
        "tuf_files"
    WHERE
        "role" = 'timestamp'
    ORDER BY
        "created_at" ASC
);
"""

# What golang-migrate v4 (database/postgres) creates and writes.
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
