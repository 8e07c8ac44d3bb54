-- Change notification for the servers' in-process caches (beyond Go; issue #8).
-- Every statement that inserts, updates or deletes tuf_files rows notifies the
-- channel notary_tuf_files once per GUN it touched (payload: the GUN), whoever
-- runs it: this server, another worker or replica, a Go server, psql. A
-- statement touching more than 1000 GUNs, and TRUNCATE, notify '' (everything).
-- NOTIFY is transactional: listeners hear of a change only once it commits.
-- The triggers change no data; a Go server on this database is unaffected.
CREATE FUNCTION notary_tuf_files_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    guns text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('notary_tuf_files', '');
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT gun) INTO guns FROM notary_new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT gun) INTO guns FROM notary_old_rows;
    ELSE
        SELECT array_agg(DISTINCT gun) INTO guns
        FROM (SELECT gun FROM notary_new_rows UNION SELECT gun FROM notary_old_rows) AS changed;
    END IF;
    IF guns IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(guns) > 1000 THEN
        PERFORM pg_notify('notary_tuf_files', '');
    ELSE
        PERFORM pg_notify('notary_tuf_files', gun) FROM unnest(guns) AS gun;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER notary_tuf_files_notify_insert AFTER INSERT ON tuf_files
    REFERENCING NEW TABLE AS notary_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notary_tuf_files_notify();

CREATE TRIGGER notary_tuf_files_notify_update AFTER UPDATE ON tuf_files
    REFERENCING OLD TABLE AS notary_old_rows NEW TABLE AS notary_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notary_tuf_files_notify();

CREATE TRIGGER notary_tuf_files_notify_delete AFTER DELETE ON tuf_files
    REFERENCING OLD TABLE AS notary_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notary_tuf_files_notify();

CREATE TRIGGER notary_tuf_files_notify_truncate AFTER TRUNCATE ON tuf_files
    FOR EACH STATEMENT EXECUTE FUNCTION notary_tuf_files_notify();
