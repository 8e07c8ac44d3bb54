-- Audit (beyond Go, ADR 0009): who published or deleted, and from where, on
-- the changefeed record itself; and a separate log for the actions that are
-- not changefeed records (key rotations, purges, retention runs, imports).
-- Nullable columns only, so a Go server can still use the file.
ALTER TABLE "changefeed" ADD COLUMN "actor" varchar(255);

ALTER TABLE "changefeed" ADD COLUMN "client_addr" varchar(255);

CREATE TABLE "audit_log" (
    "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
    "created_at" datetime NOT NULL,
    "gun" varchar(255) NOT NULL,
    "action" varchar(32) NOT NULL,
    "detail" text NOT NULL DEFAULT '',
    "actor" varchar(255) NOT NULL,
    "client_addr" varchar(255)
);

CREATE INDEX idx_audit_log_gun ON "audit_log" (gun);
