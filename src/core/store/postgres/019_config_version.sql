-- 19: the version row. Every transaction that changes apps, policy or
-- signing_keys raises meta 'config_version', so each instance's caches of
-- them (src/gateway/appcache.c) see a change whichever instance made it,
-- in the snapshot of the request that reads it (store_data_version).
-- SQLite's migration 19 keeps no such row: its PRAGMA data_version serves.

BEGIN;

CREATE FUNCTION otpgate_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO meta (key, value) VALUES ('config_version', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT);
  RETURN NULL;
END
$$;

CREATE TRIGGER apps_config_version AFTER INSERT OR UPDATE OR DELETE ON apps
  FOR EACH STATEMENT EXECUTE FUNCTION otpgate_config_changed();
CREATE TRIGGER policy_config_version AFTER INSERT OR UPDATE OR DELETE ON policy
  FOR EACH STATEMENT EXECUTE FUNCTION otpgate_config_changed();
CREATE TRIGGER signing_keys_config_version AFTER INSERT OR UPDATE OR DELETE ON signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION otpgate_config_changed();

UPDATE meta SET value = '19' WHERE key = 'schema_version';

COMMIT;
