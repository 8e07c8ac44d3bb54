-- The changefeed in the shape gorm AutoMigrate gives it on sqlite3
-- (server/storage/sql_models.go SQLChange, CreateChangefeedTable), back-filled
-- from the timestamps already stored like the PostgreSQL migration. Go has no
-- change_category table on sqlite3; neither do we.
CREATE TABLE "changefeed" (
    "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
    "created_at" datetime,
    "gun" varchar(255) NOT NULL,
    "version" integer NOT NULL,
    "sha256" varchar(64),
    "category" varchar(20) NOT NULL
);

INSERT INTO "changefeed" ("created_at", "gun", "version", "sha256", "category")
    SELECT "created_at", "gun", "version", "sha256", 'update'
    FROM "tuf_files"
    WHERE "role" = 'timestamp'
    ORDER BY "created_at" ASC;
