-- 20: uploaded logos in the database, so that every instance serves the
-- logo whichever instance took the upload (src/core/brand.c). Twin of
-- SQLite's migration 20.

BEGIN;

CREATE TABLE brand_logos (
  version TEXT COLLATE "C" PRIMARY KEY,
  data BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);

UPDATE meta SET value = '20' WHERE key = 'schema_version';

COMMIT;
