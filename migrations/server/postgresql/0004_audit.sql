-- Audit (beyond Go, ADR 0009): who published or deleted, and from where, on
-- the changefeed record itself; and a separate log for the actions that are
-- not changefeed records (key rotations, purges, retention runs, imports).
-- Nullable columns only: Go's notary-server keeps working on this database
-- (gorm names the columns it writes and ignores the ones it does not know).
ALTER TABLE "changefeed" ADD COLUMN "actor" varchar(255) NULL DEFAULT NULL;

ALTER TABLE "changefeed" ADD COLUMN "client_addr" varchar(255) NULL DEFAULT NULL;

CREATE TABLE "audit_log" (
    "id" serial PRIMARY KEY,
    "created_at" timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "gun" varchar(255) NOT NULL,
    "action" varchar(32) NOT NULL,
    "detail" text NOT NULL DEFAULT '',
    "actor" varchar(255) NOT NULL,
    "client_addr" varchar(255) NULL DEFAULT NULL
);

CREATE INDEX "idx_audit_log_gun" ON "audit_log" ("gun");
