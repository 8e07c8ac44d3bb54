-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d).
-- One role and one database per service, as Go's notarysql/postgresql-initdb.d sets up;
-- each role owns its database so that `migrate` can create the tables (PostgreSQL 15
-- no longer lets every role create tables in the public schema).
CREATE USER server;
CREATE DATABASE notaryserver OWNER server;
CREATE USER signer;
CREATE DATABASE notarysigner OWNER signer;
