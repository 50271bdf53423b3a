-- dihya-logging generation log, schema version 2.
-- PostgresLogHandler creates this table when it is missing; a DBA may run this file by hand
-- instead (psql -v ON_ERROR_STOP=1 -f schema.sql) and grant the application INSERT and SELECT
-- (plus DELETE and UPDATE for the account that purges). Running it again changes nothing.
-- The table is partitioned by month (UTC): writers create the month's partition
-- (<table>_pYYYYMM) on first need, a retention purge drops the months wholly before its cutoff.
CREATE TABLE IF NOT EXISTS "dihya_generation_log" (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    record_id uuid        NOT NULL,
    ts        timestamptz NOT NULL,
    event     text,
    user_id   text,
    status    text,
    record    jsonb       NOT NULL,
    CONSTRAINT "dihya_generation_log_pkey2" PRIMARY KEY (record_id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS "dihya_generation_log_ts_idx" ON "dihya_generation_log" (ts);
CREATE INDEX IF NOT EXISTS "dihya_generation_log_user_ts_idx" ON "dihya_generation_log" (user_id, ts);
CREATE INDEX IF NOT EXISTS "dihya_generation_log_event_ts_idx" ON "dihya_generation_log" (event, ts)
    WHERE event <> 'generation';
CREATE INDEX IF NOT EXISTS "dihya_generation_log_status_ts_idx" ON "dihya_generation_log" (status, ts)
    WHERE status <> 'success';
COMMENT ON TABLE "dihya_generation_log" IS 'dihya-logging generation log (schema 2)';
-- The key of the user-id pseudonyms (anonymizing purges, audit events, the erasure check of
-- every insert), made on first need unless $DIHYA_ANON_KEY is set: every account reads it.
CREATE TABLE IF NOT EXISTS "dihya_generation_log_anonkey" (
    id  integer PRIMARY KEY CHECK (id = 1),
    key bytea   NOT NULL
);
-- Erased users (pseudonyms, never the ids): every insert drops their rows stamped at or before
-- erased_at, so a retried or replayed batch cannot bring an erased user back. Writers need
-- SELECT here and on the key table above (to compute pseudonyms); purgers need INSERT, UPDATE.
CREATE TABLE IF NOT EXISTS "dihya_generation_log_erased" (
    pseudonym text        PRIMARY KEY,
    erased_at timestamptz NOT NULL
);
-- What purges took out of writer chains (chain, seq, commit, link: nothing of the record), so
-- that `dihya-logs verify` can tell an authorised erasure from a deleted row.
CREATE TABLE IF NOT EXISTS "dihya_generation_log_tombstones" (
    record_id uuid  PRIMARY KEY,
    record    jsonb NOT NULL
);
-- The newest entry of each writer chain, advanced by every insert: verify compares the end of
-- each chain with it, so rows cut from the end of a chain show.
CREATE TABLE IF NOT EXISTS "dihya_generation_log_heads" (
    chain text    PRIMARY KEY,
    seq   numeric NOT NULL,
    link  text    NOT NULL
);
