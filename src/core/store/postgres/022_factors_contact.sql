-- 22: a user's active factors with an address (e-mail, SMS) by type, in
-- the order they were added, with the address: the notices' recipients
-- (src/core/events.c), a new address's look for its twin
-- (src/core/factors.c). The queries say destination IS NOT NULL, so the
-- index serves them; it holds contact factors only. Twin of SQLite's
-- migration 22 (whose planner needs status among the columns to read the
-- index alone).

BEGIN;

CREATE INDEX factors_contact ON factors(user_id, type, created_at, id, destination, status)
  WHERE status = 'active' AND destination IS NOT NULL;

UPDATE meta SET value = '22' WHERE key = 'schema_version';

COMMIT;
