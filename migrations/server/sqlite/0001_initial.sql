-- The metadata table in the shape Go notary 0.7's gorm AutoMigrate gives it on
-- sqlite3 (server/storage/sql_models.go TUFFile, CreateTUFTable): a database a
-- Go server used can be served as is, and Go can serve ours. Times are text in
-- go-sqlite3's layout, "2006-01-02 15:04:05.999999999-07:00".
CREATE TABLE "tuf_files" (
    "id" integer PRIMARY KEY AUTOINCREMENT,
    "created_at" datetime,
    "updated_at" datetime,
    "deleted_at" datetime,
    "gun" varchar(255) NOT NULL,
    "role" varchar(255) NOT NULL,
    "version" integer NOT NULL,
    "sha256" varchar(64),
    "data" longblob NOT NULL
);

CREATE INDEX idx_tuf_files_deleted_at ON "tuf_files" (deleted_at);

CREATE UNIQUE INDEX idx_gun ON "tuf_files" (gun, role, version);
