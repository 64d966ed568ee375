-- 18: a row in sending holds a lease (unix ms) until which the instance
-- that claimed it sends it; another instance takes the row over once it
-- has run out (src/core/outbox.c). NULL outside sending. Twin of SQLite's
-- migration 18.

BEGIN;

ALTER TABLE outbox ADD COLUMN lease_until BIGINT;

UPDATE meta SET value = '18' WHERE key = 'schema_version';

COMMIT;
