-- The private_keys table as gorm creates it for Go's GormPrivateKey on sqlite3
-- (Go ships no sqlite migrations), plus PostgreSQL's UNIQUE (key_id, algorithm).
CREATE TABLE "private_keys" (
  "id" integer PRIMARY KEY AUTOINCREMENT,
  "created_at" datetime,
  "updated_at" datetime,
  "deleted_at" datetime,
  "key_id" varchar(255) NOT NULL UNIQUE,
  "encryption_alg" varchar(255) NOT NULL,
  "keywrap_alg" varchar(255) NOT NULL,
  "algorithm" varchar(50) NOT NULL,
  "passphrase_alias" varchar(50) NOT NULL,
  "gun" varchar(255) NOT NULL,
  "role" varchar(255) NOT NULL,
  "public" blob NOT NULL,
  "private" blob NOT NULL,
  "last_used" datetime NULL DEFAULT NULL,
  CONSTRAINT "key_id_2" UNIQUE ("key_id", "algorithm")
);
CREATE INDEX "idx_private_keys_deleted_at" ON "private_keys" ("deleted_at");
CREATE INDEX "key_id_idx" ON "private_keys" ("key_id");
