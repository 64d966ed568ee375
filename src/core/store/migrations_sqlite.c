/* The schema history of otpgate's SQLite database, one SQL string per
 * version. Never edit or reorder a migration once it has shipped: databases
 * in the field are already at that version. Add new ones at the end. */
#include "core/store/migrations.h"

#include "core/common.h"

/* Index i takes a database from version i to version i + 1. Each runs in its
 * own transaction with foreign_keys=ON (store.c), so a migration that has to
 * rebuild a referenced table must follow SQLite's 12-step ALTER procedure. */
static const char *const migrations[] = {
    /* 1: key/value facts about this installation (created_at, probes). */
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ");\n",

    /* 2: policy settings; scope '' is the global policy, otherwise an
     * application's client_id. */
    "CREATE TABLE policy (\n"
    "  scope TEXT NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (scope, key)\n"
    ");\n",

    /* 3: applications, their users' factors, challenges, recovery codes,
     * the send log behind the rate limits, and the audit trail. Codes and
     * recovery codes are stored only as keyed hashes; TOTP and client
     * secrets only sealed (AES-256-GCM under the master key). */
    "CREATE TABLE apps (\n"
    "  id TEXT PRIMARY KEY,\n"                 /* client_id */
    "  name TEXT NOT NULL,\n"
    "  secret_sealed BLOB NOT NULL,\n"
    "  redirect_uris TEXT NOT NULL,\n"         /* JSON array */
    "  created_at INTEGER NOT NULL,\n"
    "  secret_rotated_at INTEGER\n"
    ");\n"
    "CREATE TABLE users (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,\n"
    "  sub TEXT NOT NULL,\n"
    "  preferred_factor TEXT,\n"
    "  last_used_factor TEXT,\n"
    "  failures INTEGER NOT NULL DEFAULT 0,\n"  /* consecutive failed checks */
    "  retry_at INTEGER NOT NULL DEFAULT 0,\n"  /* unix ms before which checks wait */
    "  last_wait INTEGER NOT NULL DEFAULT 0,\n" /* seconds of the last wait */
    "  locked_at INTEGER,\n"
    "  enrol_offered INTEGER NOT NULL DEFAULT 0,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  UNIQUE (app_id, sub)\n"
    ");\n"
    "CREATE TABLE factors (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  type TEXT NOT NULL CHECK (type IN ('sms', 'email', 'totp')),\n"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),\n"
    "  destination TEXT,\n"                    /* E.164 or e-mail; NULL for totp */
    "  secret_sealed BLOB,\n"                  /* totp only */
    "  last_step INTEGER NOT NULL DEFAULT -1,\n" /* last accepted TOTP step */
    "  created_at INTEGER NOT NULL,\n"
    "  verified_at INTEGER,\n"
    "  last_used_at INTEGER\n"
    ");\n"
    "CREATE INDEX factors_user ON factors(user_id);\n"
    "CREATE TABLE challenges (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  factor_id TEXT NOT NULL REFERENCES factors(id) ON DELETE CASCADE,\n"
    "  purpose TEXT NOT NULL CHECK (purpose IN ('login', 'enrol', 'stepup')),\n"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'done', 'dead')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts INTEGER NOT NULL,\n"
    "  resends INTEGER NOT NULL DEFAULT 0,\n"
    "  resend_at INTEGER NOT NULL,\n"          /* unix ms */
    "  expires_at INTEGER NOT NULL,\n"         /* unix ms: the newest code's expiry */
    "  created_at INTEGER NOT NULL,\n"
    "  client_ip TEXT\n"
    ");\n"
    "CREATE INDEX challenges_user ON challenges(user_id);\n"
    "CREATE TABLE challenge_codes (\n"
    "  challenge_id TEXT NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,\n"
    "  code_hash BLOB NOT NULL,\n"
    "  expires_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (challenge_id, code_hash)\n"
    ");\n"
    "CREATE TABLE recovery_codes (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  salt BLOB NOT NULL,\n"
    "  hash BLOB NOT NULL,\n"
    "  used_at INTEGER,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX recovery_user ON recovery_codes(user_id);\n"
    "CREATE TABLE sends (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"                 /* unix ms */
    "  channel TEXT NOT NULL,\n"
    "  dest_hash BLOB NOT NULL,\n"             /* keyed hash: no address in the clear */
    "  user_id INTEGER,\n"
    "  client_ip TEXT\n"
    ");\n"
    "CREATE INDEX sends_dest ON sends(dest_hash, at);\n"
    "CREATE INDEX sends_user ON sends(user_id, at);\n"
    "CREATE INDEX sends_ip ON sends(client_ip, at);\n"
    "CREATE INDEX sends_at ON sends(at);\n"
    "CREATE TABLE audit (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"                 /* unix ms */
    "  app_id TEXT,\n"
    "  sub TEXT,\n"
    "  event TEXT NOT NULL,\n"
    "  factor_id TEXT,\n"
    "  client_ip TEXT,\n"
    "  detail TEXT\n"
    ");\n"
    "CREATE INDEX audit_user ON audit(app_id, sub, at);\n",

    /* 4: the durable outbox of SPEC §7 (every message is a row before
     * anything is sent; the sealed body holding the code is dropped once a
     * provider accepted it), and the calling-code prefix of SMS sends for
     * the pumping guard. */
    "CREATE TABLE outbox (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  msg_id TEXT NOT NULL UNIQUE,\n"        /* also the e-mail Message-ID */
    "  created_at INTEGER NOT NULL,\n"        /* unix ms */
    "  channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),\n"
    "  destination TEXT NOT NULL,\n"
    "  app_id TEXT,\n"
    "  app_name TEXT NOT NULL,\n"
    "  locale TEXT NOT NULL,\n"
    "  user_id INTEGER,\n"
    "  ttl INTEGER NOT NULL,\n"               /* code lifetime, seconds */
    "  body_sealed BLOB,\n"                   /* the code, sealed; NULL once handed over */
    "  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_at INTEGER NOT NULL,\n"           /* unix ms */
    "  provider TEXT,\n"
    "  provider_id TEXT,\n"
    "  answer TEXT,\n"                        /* last answer, code blanked */
    "  sent_at INTEGER,\n"
    "  fallback_of INTEGER\n"                 /* the SMS this e-mail stands in for */
    ");\n"
    "CREATE INDEX outbox_due ON outbox(state, next_at);\n"
    "ALTER TABLE sends ADD COLUMN prefix TEXT;\n"
    "CREATE INDEX sends_prefix ON sends(channel, prefix, at);\n",

    /* 5: server-side sessions of the end-user pages (SPEC §8). A session is
     * found by the SHA-256 of its cookie value; the value itself is never
     * stored. used_jti remembers the request objects' jti per app until
     * they expire, so a signed request cannot be replayed. */
    "CREATE TABLE sessions (\n"
    "  id_hash BLOB PRIMARY KEY,\n"           /* SHA-256 of the cookie value */
    "  app_id TEXT NOT NULL,\n"
    "  sub TEXT NOT NULL,\n"
    "  purpose TEXT NOT NULL,\n"              /* 'login' | 'manage' */
    "  return_to TEXT,\n"
    "  state TEXT,\n"                         /* the app's opaque state */
    "  flow TEXT,\n"                          /* JSON: the entry point's extra data */
    "  locale TEXT,\n"
    "  created_at INTEGER NOT NULL,\n"        /* unix ms, as every time below */
    "  expires_at INTEGER NOT NULL,\n"
    "  last_seen INTEGER NOT NULL,\n"
    "  passed_at INTEGER NOT NULL DEFAULT 0,\n" /* when the second step was passed */
    "  stepup_at INTEGER NOT NULL DEFAULT 0,\n" /* last fresh second step */
    "  amr TEXT,\n"                           /* JSON array */
    "  challenge_id TEXT,\n"                  /* the challenge shown on the page now */
    "  pending_factor TEXT\n"                 /* a factor being bound */
    ");\n"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);\n"
    "CREATE TABLE used_jti (\n"
    "  jti TEXT NOT NULL,\n"
    "  app_id TEXT NOT NULL,\n"
    "  expires_at INTEGER NOT NULL,\n"        /* unix ms */
    "  PRIMARY KEY (app_id, jti)\n"
    ");\n",

    /* 6: the ES256 keys that sign id_tokens (SPEC §6), the private half
     * sealed under the master key (aad "signing:<kid>"). A retired key is
     * still published until expires_at, then pruned. */
    "CREATE TABLE signing_keys (\n"
    "  kid TEXT PRIMARY KEY,\n"               /* RFC 7638 thumbprint */
    "  private_sealed BLOB NOT NULL,\n"       /* PKCS#8 DER, sealed */
    "  public_jwk TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"        /* unix ms */
    "  retired_at INTEGER,\n"
    "  expires_at INTEGER\n"
    ");\n",

    /* 7: OpenID Connect authorization codes (one use, 60 s) and the opaque
     * access tokens for /userinfo, both kept only as SHA-256 hashes. */
    "CREATE TABLE auth_codes (\n"
    "  code_hash BLOB PRIMARY KEY,\n"
    "  app_id TEXT NOT NULL,\n"
    "  sub TEXT NOT NULL,\n"
    "  redirect_uri TEXT NOT NULL,\n"
    "  nonce TEXT,\n"
    "  code_challenge TEXT NOT NULL,\n"
    "  scope TEXT NOT NULL,\n"
    "  amr TEXT,\n"
    "  acr TEXT,\n"
    "  auth_time INTEGER NOT NULL,\n"       /* unix s */
    "  created_at INTEGER NOT NULL,\n"      /* unix ms */
    "  expires_at INTEGER NOT NULL,\n"      /* unix ms */
    "  used_at INTEGER\n"
    ");\n"
    "CREATE TABLE access_tokens (\n"
    "  token_hash BLOB PRIMARY KEY,\n"
    "  app_id TEXT NOT NULL,\n"
    "  sub TEXT NOT NULL,\n"
    "  scope TEXT NOT NULL,\n"
    "  expires_at INTEGER NOT NULL\n"       /* unix ms */
    ");\n",

    /* 8: admin accounts of the console (SPEC §2 `otpgate admin add`), their
     * sessions and the login throttle. A password is kept only as a scrypt
     * hash with its parameters ("$scrypt$ln=15,r=8,p=1$salt$hash"), a
     * session only as the SHA-256 of its cookie value. Throttle rows are
     * keyed "user:<name>" or "ip:<address>". */
    "CREATE TABLE admins (\n"
    "  username TEXT PRIMARY KEY,\n"
    "  password_hash TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"         /* unix ms, as every time below */
    "  updated_at INTEGER NOT NULL,\n"
    "  last_login_at INTEGER\n"
    ");\n"
    "CREATE TABLE admin_sessions (\n"
    "  id_hash BLOB PRIMARY KEY,\n"            /* SHA-256 of the cookie value */
    "  username TEXT NOT NULL REFERENCES admins(username) ON DELETE CASCADE,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  expires_at INTEGER NOT NULL,\n"         /* absolute: never extended */
    "  last_seen INTEGER NOT NULL,\n"
    "  client_ip TEXT\n"
    ");\n"
    "CREATE INDEX admin_sessions_expiry ON admin_sessions(expires_at);\n"
    "CREATE INDEX admin_sessions_user ON admin_sessions(username);\n"
    "CREATE TABLE admin_throttle (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  failures INTEGER NOT NULL DEFAULT 0,\n" /* consecutive failed sign-ins */
    "  retry_at INTEGER NOT NULL DEFAULT 0,\n" /* unix ms before which sign-ins wait */
    "  last_wait INTEGER NOT NULL DEFAULT 0,\n" /* seconds of the last wait */
    "  updated_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX admin_throttle_updated ON admin_throttle(updated_at);\n",

    /* 9: no index on the audit trail by user. Nothing reads it by user,
     * and every verification's row landed on a random page of that index:
     * one more page written per answer, in the WAL and again at the
     * checkpoint. Rows stay in time order (their id). */
    "DROP INDEX IF EXISTS audit_user;\n",

    /* 10: the gate's facts about a flow (SPEC §5) kept with its session:
     * flags (the enrolment offer shown in this flow, declined in it, the
     * flow ended and the row kept only as a record of its second step) and
     * reveal, a set of recovery codes sealed under the master key until the
     * page that shows them once has been loaded. */
    "ALTER TABLE sessions ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE sessions ADD COLUMN reveal BLOB;\n",

    /* 11: remembered devices (a browser may skip the second step for as many
     * days as the app's policy allows). The browser's token is kept only as
     * a keyed hash; one browser may be remembered for several users and
     * apps, one row each. */
    "CREATE TABLE devices (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  token_hash BLOB NOT NULL,\n"
    "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,\n"
    "  sub TEXT NOT NULL,\n"
    "  scope_all INTEGER NOT NULL DEFAULT 0,\n" /* remembered for every app of scope 'all' */
    "  created_at INTEGER NOT NULL,\n"         /* unix ms, as every time below */
    "  expires_at INTEGER NOT NULL,\n"
    "  last_seen_at INTEGER NOT NULL,\n"
    "  step_at INTEGER NOT NULL,\n"            /* the second step that made it */
    "  user_agent TEXT NOT NULL,\n"            /* a summary: 'Firefox on Linux' */
    "  ip TEXT,\n"                             /* at creation */
    "  UNIQUE (token_hash, app_id, sub)\n"
    ");\n"
    "CREATE INDEX devices_user ON devices(sub, app_id);\n"
    "CREATE INDEX devices_expiry ON devices(expires_at);\n",

    /* 12: the end user's browser in the audit trail, beside client_ip (the
     * pages' User-Agent, or the user_agent an app passes to the API). */
    "ALTER TABLE audit ADD COLUMN user_agent TEXT;\n",

    /* 13: passkeys (WebAuthn) as factors of type 'webauthn'. The factors
     * table is rebuilt to widen its type CHECK. Migrations run with
     * foreign_keys=ON inside a transaction, where it cannot be turned off,
     * so dropping the old table deletes its challenges (ON DELETE
     * CASCADE): they are copied aside first and put back. A credential row
     * belongs to its factor row (removing the factor removes it) and keeps
     * only public data: the credential id (unique per RP ID), the public
     * key (DER SubjectPublicKeyInfo), its COSE alg, the signature counter,
     * the AAGUID, the flags (uv and be as at registration, bs as last
     * seen), the transports the browser reported, the attestation format
     * and a name; when it was made and last used are the factor row's.
     * users.webauthn_handle is the random user handle (user.id) of the
     * user's passkeys, made on first use. */
    "CREATE TABLE factors_v10 (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  type TEXT NOT NULL CHECK (type IN ('sms', 'email', 'totp', 'webauthn')),\n"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),\n"
    "  destination TEXT,\n"                    /* E.164 or e-mail; NULL for totp, webauthn */
    "  secret_sealed BLOB,\n"                  /* totp only */
    "  last_step INTEGER NOT NULL DEFAULT -1,\n" /* last accepted TOTP step */
    "  created_at INTEGER NOT NULL,\n"
    "  verified_at INTEGER,\n"
    "  last_used_at INTEGER\n"
    ");\n"
    "INSERT INTO factors_v10 (id, user_id, type, status, destination, secret_sealed, last_step,\n"
    "  created_at, verified_at, last_used_at)\n"
    "  SELECT id, user_id, type, status, destination, secret_sealed, last_step, created_at,\n"
    "  verified_at, last_used_at FROM factors;\n"
    "CREATE TEMP TABLE challenges_v10 AS SELECT * FROM challenges;\n"
    "CREATE TEMP TABLE challenge_codes_v10 AS SELECT * FROM challenge_codes;\n"
    "DROP TABLE factors;\n"
    "ALTER TABLE factors_v10 RENAME TO factors;\n"
    "CREATE INDEX factors_user ON factors(user_id);\n"
    "INSERT INTO challenges SELECT * FROM temp.challenges_v10;\n"
    "INSERT INTO challenge_codes SELECT * FROM temp.challenge_codes_v10;\n"
    "DROP TABLE temp.challenges_v10;\n"
    "DROP TABLE temp.challenge_codes_v10;\n"
    "CREATE TABLE webauthn_credentials (\n"
    "  factor_id TEXT PRIMARY KEY REFERENCES factors(id) ON DELETE CASCADE,\n"
    "  rp_id TEXT NOT NULL,\n"
    "  credential_id BLOB NOT NULL,\n"
    "  public_key BLOB NOT NULL,\n"            /* DER SubjectPublicKeyInfo */
    "  alg INTEGER NOT NULL,\n"                /* COSE: -7 ES256, -257 RS256, -8 EdDSA */
    "  sign_count INTEGER NOT NULL DEFAULT 0,\n"
    "  aaguid BLOB NOT NULL,\n"                /* 16 bytes */
    "  uv INTEGER NOT NULL,\n"                 /* user verified at registration */
    "  be INTEGER NOT NULL,\n"                 /* backup eligible (synced); never changes */
    "  bs INTEGER NOT NULL,\n"                 /* backed up, as last seen */
    "  transports TEXT NOT NULL DEFAULT '',\n" /* comma list: usb,internal, ... */
    "  fmt TEXT NOT NULL,\n"                   /* attestation statement format */
    "  name TEXT NOT NULL,\n"                  /* created and last used: the factor's */
    "  UNIQUE (rp_id, credential_id)\n"
    ");\n"
    "ALTER TABLE users ADD COLUMN webauthn_handle BLOB;\n"
    "CREATE UNIQUE INDEX users_webauthn_handle ON users(webauthn_handle);\n",

    /* 14: the admin console's user list across apps, ordered and paged by
     * (sub, app_id) and searched by sub prefix: an index for it (users rows
     * are written once per user and their sub never changes, so the verify
     * path pays nothing). reveal holds a client secret sealed under the
     * master key between the form that made it and the one page that shows
     * it once (POST-redirect-GET). */
    "CREATE INDEX users_sub ON users(sub, app_id);\n"
    "ALTER TABLE admin_sessions ADD COLUMN reveal BLOB;\n",

    /* 15: passkey ceremonies (WebAuthn challenges), apart from the code
     * challenges: a sign-in may be answered by any of the user's passkeys,
     * so it belongs to no one factor (challenges.factor_id is NOT NULL and
     * joined to its factor), and a registration has no factor yet. The
     * 32 random bytes are no secret (the browser gets them and signs over
     * them); what matters is that each is taken once, by the page session
     * (binding: the SHA-256 of its cookie value, the sessions row's own
     * key) or the API call (binding NULL) it was made for, before
     * expires_at. */
    "CREATE TABLE webauthn_challenges (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('register', 'signin')),\n"
    "  challenge BLOB NOT NULL,\n"
    "  binding BLOB,\n"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'done')),\n"
    "  expires_at INTEGER NOT NULL,\n"         /* unix ms, as every time below */
    "  created_at INTEGER NOT NULL,\n"
    "  client_ip TEXT\n"
    ");\n"
    "CREATE INDEX webauthn_challenges_user ON webauthn_challenges(user_id);\n"
    "CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges(expires_at);\n",

    /* 16: security notifications and app webhooks (issue #15). The outbox
     * is rebuilt to widen its channel CHECK with 'webhook' and to carry
     * other kinds than codes: kind says what a row is ('code' as before;
     * 'notice', a security notification to the user rendered at send time
     * from payload, the event's facts; 'webhook', a POST to an app whose
     * payload is the exact JSON body, fixed here so retries send the same
     * bytes). event names the notification or webhook type, sub the app's
     * user and ref the factor an event is about. No table refers to
     * outbox, so a plain copy keeps every row. Apps get a webhook URL and
     * its signing secret, sealed under the master key like client secrets
     * (aad "webhook:<client_id>"). */
    "CREATE TABLE outbox_v14 (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  msg_id TEXT NOT NULL UNIQUE,\n"        /* e-mail Message-ID; a webhook's webhook-id */
    "  created_at INTEGER NOT NULL,\n"        /* unix ms */
    "  channel TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'webhook')),\n"
    "  destination TEXT NOT NULL,\n"          /* number, address or webhook URL */
    "  app_id TEXT,\n"
    "  app_name TEXT NOT NULL,\n"
    "  locale TEXT NOT NULL,\n"
    "  user_id INTEGER,\n"
    "  ttl INTEGER NOT NULL,\n"               /* code lifetime, seconds; 0 for others */
    "  body_sealed BLOB,\n"                   /* the code, sealed; NULL once handed over */
    "  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_at INTEGER NOT NULL,\n"           /* unix ms */
    "  provider TEXT,\n"
    "  provider_id TEXT,\n"
    "  answer TEXT,\n"                        /* last answer, code blanked */
    "  sent_at INTEGER,\n"
    "  fallback_of INTEGER,\n"                /* the SMS this e-mail stands in for */
    "  kind TEXT NOT NULL DEFAULT 'code' CHECK (kind IN ('code', 'notice', 'webhook')),\n"
    "  event TEXT,\n"
    "  sub TEXT,\n"
    "  ref TEXT,\n"
    "  payload TEXT\n"
    ");\n"
    "INSERT INTO outbox_v14 (id, msg_id, created_at, channel, destination, app_id, app_name,\n"
    "  locale, user_id, ttl, body_sealed, state, attempts, next_at, provider, provider_id,\n"
    "  answer, sent_at, fallback_of)\n"
    "  SELECT id, msg_id, created_at, channel, destination, app_id, app_name, locale, user_id,\n"
    "  ttl, body_sealed, state, attempts, next_at, provider, provider_id, answer, sent_at,\n"
    "  fallback_of FROM outbox;\n"
    "DROP TABLE outbox;\n"
    "ALTER TABLE outbox_v14 RENAME TO outbox;\n"
    "CREATE INDEX outbox_due ON outbox(state, next_at);\n"
    /* The notification limits look back per user; code rows stay out. */
    "CREATE INDEX outbox_notice ON outbox(user_id, created_at) WHERE kind = 'notice';\n"
    /* A user's webhooks to one app go out in order: the open ones. */
    "CREATE INDEX outbox_webhook_open ON outbox(app_id, sub, id)\n"
    "  WHERE kind = 'webhook' AND state IN ('queued', 'sending');\n"
    "ALTER TABLE apps ADD COLUMN webhook_url TEXT;\n"
    "ALTER TABLE apps ADD COLUMN webhook_secret_sealed BLOB;\n"
    "ALTER TABLE apps ADD COLUMN webhook_secret_at INTEGER;\n",

    /* 17: code messages say what the code is for: 'enrol' (binding a
     * method) or 'login' / 'stepup' (a second step), so an enrolment
     * e-mail never reads like a sign-in one. NULL (rows from before) reads
     * as a sign-in. */
    "ALTER TABLE outbox ADD COLUMN purpose TEXT;\n",

    /* 18: a row in sending holds a lease (unix ms) until which the instance
     * that claimed it sends it; on PostgreSQL another instance takes the
     * row over once it has run out (outbox.c). NULL outside sending. */
    "ALTER TABLE outbox ADD COLUMN lease_until INTEGER;\n",

    /* 19: PostgreSQL's version row (meta 'config_version', raised by
     * triggers on apps, policy and signing_keys) has no use here, where
     * PRAGMA data_version tells the app cache what changed; the number
     * keeps both engines' schema versions in step. */
    "DELETE FROM meta WHERE key = 'config_version';\n",

    /* 20: uploaded logos in the database, so that every instance on one
     * PostgreSQL database serves the logo whichever instance took the
     * upload (a file in one data directory reached only that instance).
     * A logo uploaded before is taken in from its file at start
     * (brand_logo_adopt). */
    "CREATE TABLE brand_logos (\n"
    "  version TEXT PRIMARY KEY,\n" /* the first 16 hex digits of its SHA-256 */
    "  data BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n",

    /* 21: the SMS caps' slots (sendlimits.c): one row per SMS send for the
     * global and per-calling-code hourly caps, apart from sends, so that
     * on PostgreSQL they are taken in a short transaction of their own
     * rather than read by every SMS send's serializable one. The SMS
     * sends logged become slots, so the caps go on counting; sends keeps
     * no prefix any more. */
    "CREATE TABLE sms_slots (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n" /* unix ms */
    "  prefix TEXT NOT NULL\n" /* the calling code's digits */
    ");\n"
    "CREATE INDEX sms_slots_at ON sms_slots(at);\n"
    "INSERT INTO sms_slots (at, prefix) SELECT at, coalesce(prefix, '') FROM sends\n"
    "  WHERE channel = 'sms' ORDER BY id;\n"
    "DROP INDEX sends_prefix;\n"
    "ALTER TABLE sends DROP COLUMN prefix;\n",

    /* 22: a user's active factors with an address (e-mail, SMS) by type,
     * in the order they were added, with the address: the notices'
     * recipients, a new address's look for its twin. Read from this index
     * alone; a user with none of that type costs one look into an index
     * that holds contact factors only (not every TOTP and passkey). status
     * is among the columns although the WHERE fixes it: SQLite reads the
     * row for it otherwise. The queries say destination IS NOT NULL so
     * that both engines may use the index. */
    "CREATE INDEX factors_contact ON factors(user_id, type, created_at, id, destination, "
    "status)\n"
    "  WHERE status = 'active' AND destination IS NOT NULL;\n",

    /* Append new migrations here. */
};

int migration_count(void)
{
    return (int)ARRAY_SIZE(migrations);
}

const char *migration_sql(int version)
{
    if (version < 1 || version > migration_count())
        return NULL;
    return migrations[version - 1];
}
