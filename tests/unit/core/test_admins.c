/* Unit tests of src/core/admins.c: usernames and password rules, scrypt
 * hashing (RFC 7914 vector, parameters read back from the stored string,
 * malformed strings refused), accounts (create, replace ends sessions;
 * the console's add that never replaces, remove that refuses oneself and
 * the last account, a new password that keeps only the current session,
 * the listing), console sessions (the cookie value never stored, expiry,
 * deletion, pruning, a secret kept sealed for one showing), CSRF tokens and
 * the doubling login throttle. Each test owns a
 * fresh mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "core/admins.h"
#include "core/jwt.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include "testutil.h"

#define T0 1700000000000LL /* unix ms */

/* A cheap cost for tests that hash many times. */
static const struct admins_kdf fast = {10, 8, 1};

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
    struct keyring k;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "admins");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    if (tu_store_open(f->db, &f->s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    uint8_t master[KEY_LEN];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(keyring_derive(master, &f->k), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    keyring_wipe(&f->k);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void add_admin(struct fixture *f, const char *name, const char *password)
{
    char hash[ADMINS_HASH_LEN];
    assert_int_equal(admins_password_hash(password, strlen(password), &fast, hash, sizeof(hash)),
                     0);
    assert_int_equal(admins_put(f->s, name, hash, T0, NULL), 0);
}

/* ---- names and passwords ---- */

static void test_names(void **state)
{
    (void)state;
    assert_true(admins_name_ok("root"));
    assert_true(admins_name_ok("a"));
    assert_true(admins_name_ok("ops.team_1@example-corp"));
    char max[ADMINS_NAME_MAX + 2];
    memset(max, 'x', ADMINS_NAME_MAX);
    max[ADMINS_NAME_MAX] = '\0';
    assert_true(admins_name_ok(max));
    max[ADMINS_NAME_MAX] = 'x';
    max[ADMINS_NAME_MAX + 1] = '\0';
    assert_false(admins_name_ok(max));
    assert_false(admins_name_ok(NULL));
    assert_false(admins_name_ok(""));
    assert_false(admins_name_ok("bad name"));
    assert_false(admins_name_ok("semi;colon"));
    assert_false(admins_name_ok("quote'"));
    assert_false(admins_name_ok("ünïcode"));
    assert_false(admins_name_ok("slash/"));
}

static void test_password_rules(void **state)
{
    (void)state;
    assert_int_equal(admins_password_check("12345678901", 11), OG_ERR_INVALID);
    assert_int_equal(admins_password_check("123456789012", 12), 0);
    assert_int_equal(admins_password_check(NULL, 0), OG_ERR_INVALID);
    /* Characters, not bytes: 11 three-byte characters are too few. */
    const char *zh11 = "密码密码密码密码密码密";
    assert_int_equal(strlen(zh11), 33);
    assert_int_equal(admins_password_check(zh11, strlen(zh11)), OG_ERR_INVALID);
    const char *zh12 = "密码密码密码密码密码密码";
    assert_int_equal(admins_password_check(zh12, strlen(zh12)), 0);
    /* An embedded NUL is refused. */
    assert_int_equal(admins_password_check("123456\0"
                                           "7890123",
                                           14),
                     OG_ERR_INVALID);
    char big[ADMINS_PASSWORD_MAX + 2];
    memset(big, 'a', sizeof(big));
    assert_int_equal(admins_password_check(big, ADMINS_PASSWORD_MAX), 0);
    assert_int_equal(admins_password_check(big, ADMINS_PASSWORD_MAX + 1), OG_ERR_TOO_BIG);
}

static void test_hash_and_verify(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char h1[ADMINS_HASH_LEN], h2[ADMINS_HASH_LEN];
    assert_int_equal(admins_password_hash(pw, strlen(pw), &fast, h1, sizeof(h1)), 0);
    assert_int_equal(admins_password_hash(pw, strlen(pw), &fast, h2, sizeof(h2)), 0);
    assert_true(strncmp(h1, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_null(strstr(h1, pw));
    assert_true(admins_password_verify(pw, strlen(pw), h1));
    assert_true(admins_password_verify(pw, strlen(pw), h2));
    assert_false(admins_password_verify("correct horse battery stapl", 27, h1));
    assert_false(admins_password_verify("Correct horse battery staple", 28, h1));
    assert_false(admins_password_verify("", 0, h1));
    /* The length counts, not a NUL-terminated prefix. */
    assert_false(admins_password_verify(pw, strlen(pw) - 1, h1));

    /* Small buffers and parameters out of range are refused. */
    char small[32];
    assert_int_equal(admins_password_hash(pw, strlen(pw), &fast, small, sizeof(small)),
                     OG_ERR_TOO_BIG);
    struct admins_kdf huge = {26, 8, 1}, zero = {10, 0, 1};
    assert_int_equal(admins_password_hash(pw, strlen(pw), &huge, h2, sizeof(h2)), OG_ERR_INVALID);
    assert_int_equal(admins_password_hash(pw, strlen(pw), &zero, h2, sizeof(h2)), OG_ERR_INVALID);
}

static void test_default_cost(void **state)
{
    (void)state;
    const char *pw = "a default-cost password";
    char h[ADMINS_HASH_LEN];
    assert_int_equal(admins_password_hash(pw, strlen(pw), NULL, h, sizeof(h)), 0);
    assert_true(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
    assert_int_equal(admins_kdf_default.ln, 15);
    assert_int_equal(admins_kdf_default.r, 8);
    assert_int_equal(admins_kdf_default.p, 1);
    assert_true(admins_password_verify(pw, strlen(pw), h));
}

/* RFC 7914 §12: scrypt("password", "NaCl", N=1024, r=8, p=16); the first 32
 * bytes of its 64-byte output (PBKDF2 blocks are independent). The stored
 * string carries those parameters, so verify uses them, not the default. */
static void test_rfc7914_vector(void **state)
{
    (void)state;
    static const uint8_t dk[32] = {0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00, 0x78, 0x56, 0xe7,
                                   0x19, 0x0d, 0x01, 0xe9, 0xfe, 0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23,
                                   0x78, 0x30, 0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62};
    char *salt = b64url_encode((const uint8_t *)"NaCl", 4);
    char *hash = b64url_encode(dk, sizeof(dk));
    char stored[ADMINS_HASH_LEN];
    snprintf(stored, sizeof(stored), "$scrypt$ln=10,r=8,p=16$%s$%s", salt, hash);
    assert_true(admins_password_verify("password", 8, stored));
    assert_false(admins_password_verify("passwore", 8, stored));
    /* The same hash claimed under other parameters does not match. */
    snprintf(stored, sizeof(stored), "$scrypt$ln=10,r=8,p=1$%s$%s", salt, hash);
    assert_false(admins_password_verify("password", 8, stored));
    free(salt);
    free(hash);
}

static void test_malformed_hashes(void **state)
{
    (void)state;
    const char *pw = "correct horse battery staple";
    char good[ADMINS_HASH_LEN];
    assert_int_equal(admins_password_hash(pw, strlen(pw), &fast, good, sizeof(good)), 0);
    const char *salt_and_hash = good + strlen("$scrypt$ln=10,r=8,p=1$");
    char bad[ADMINS_HASH_LEN + 64];
    const char *const prefixes[] = {
        "$scrypt$ln=10,r=8$",        "$scrypt$ln=10,r=8,p=1,x=2$", "$scrypt$ln=99,r=8,p=1$",
        "$scrypt$ln=0,r=8,p=1$",     "$scrypt$ln=10,r=0,p=1$",     "$bcrypt$ln=10,r=8,p=1$",
        "$scrypt$ln=,r=8,p=1$",      "$scrypt$ln=10,r=8,p=1$$",    "$scrypt$ln=10,r=8,p=-1$",
        "$scrypt$ln=10000,r=8,p=1$", "scrypt$ln=10,r=8,p=1$",
    };
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
        snprintf(bad, sizeof(bad), "%s%s", prefixes[i], salt_and_hash);
        if (admins_password_verify(pw, strlen(pw), bad))
            fail_msg("accepted %s", bad);
    }
    assert_false(admins_password_verify(pw, strlen(pw), NULL));
    assert_false(admins_password_verify(pw, strlen(pw), ""));
    /* A truncated hash, a character out of the alphabet. */
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(good) - 2, good);
    assert_false(admins_password_verify(pw, strlen(pw), bad));
    snprintf(bad, sizeof(bad), "%s", good);
    bad[strlen(bad) - 3] = '+';
    assert_false(admins_password_verify(pw, strlen(pw), bad));

    /* The dummy is well formed, with the default cost, and matches nothing. */
    char dummy[ADMINS_HASH_LEN];
    admins_password_dummy(dummy, sizeof(dummy));
    assert_true(strncmp(dummy, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
    assert_false(admins_password_verify(pw, strlen(pw), dummy));
    assert_false(admins_password_verify("", 0, dummy));
}

/* ---- accounts ---- */

static void test_put_and_replace(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(admins_count(f->s), 0);
    char h1[ADMINS_HASH_LEN], h2[ADMINS_HASH_LEN], got[ADMINS_HASH_LEN];
    assert_int_equal(admins_password_hash("first password!", 15, &fast, h1, sizeof(h1)), 0);
    assert_int_equal(admins_password_hash("second password!", 16, &fast, h2, sizeof(h2)), 0);
    bool replaced = true;
    assert_int_equal(admins_put(f->s, "root", h1, T0, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(admins_count(f->s), 1);
    assert_int_equal(admins_get_hash(f->s, "root", got, sizeof(got)), 0);
    assert_string_equal(got, h1);
    assert_int_equal(admins_get_hash(f->s, "nobody", got, sizeof(got)), OG_ERR_NOT_FOUND);
    assert_int_equal(admins_get_hash(f->s, "bad name", got, sizeof(got)), OG_ERR_NOT_FOUND);

    /* A session, then a new password: the session ends. */
    char cookie[ADMINS_COOKIE_LEN];
    struct admin_session sess;
    assert_int_equal(admins_session_create(f->s, "root", "127.0.0.1", T0, ADMINS_SESSION_TTL_MS,
                                           cookie, sizeof(cookie), &sess),
                     0);
    assert_int_equal(admins_session_load(f->s, cookie, strlen(cookie), T0 + 1, &sess), 0);
    assert_int_equal(admins_put(f->s, "root", h2, T0 + 5, &replaced), 0);
    assert_true(replaced);
    assert_int_equal(admins_count(f->s), 1);
    assert_int_equal(admins_get_hash(f->s, "root", got, sizeof(got)), 0);
    assert_string_equal(got, h2);
    assert_int_equal(admins_session_load(f->s, cookie, strlen(cookie), T0 + 6, &sess),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(tu_query_int(f->s, "SELECT created_at FROM admins"), T0);
    assert_int_equal(tu_query_int(f->s, "SELECT updated_at FROM admins"), T0 + 5);

    /* Refusals: a bad name, a string that is not a hash. */
    assert_int_equal(admins_put(f->s, "bad name", h1, T0, NULL), OG_ERR_INVALID);
    assert_int_equal(admins_put(f->s, "ok", "plain text password", T0, NULL), OG_ERR_INVALID);
    assert_int_equal(admins_put(f->s, "ok", NULL, T0, NULL), OG_ERR_INVALID);
    assert_int_equal(admins_count(f->s), 1);

    assert_int_equal(admins_touch_login(f->s, "root", T0 + 9), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT last_login_at FROM admins"), T0 + 9);
}

/* ---- sessions ---- */

struct listed {
    char names[8][ADMINS_NAME_MAX + 1];
    int64_t sessions[8], last_login[8];
    size_t n;
};

static void collect(const struct admin_account *a, void *arg)
{
    struct listed *l = arg;
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", a->username);
    l->sessions[l->n] = a->sessions;
    l->last_login[l->n] = a->last_login_at;
    l->n++;
}

/* Rows of admin_sessions whose id_hash is a 32-byte blob (read back
 * here rather than with SQLite's typeof(), so both engines check it). */
static int blob_hashes(struct fixture *f)
{
    db_stmt *st = store_stmt(f->s, "SELECT id_hash FROM admin_sessions");
    assert_non_null(st);
    int n = 0;
    while (db_step(st) == DB_ROW)
        if (db_column_type(st, 0) == DB_BLOB && db_column_bytes(st, 0) == 32)
            n++;
    db_reset(st);
    return n;
}

/* Rows of admin_sessions whose reveal holds text (compared byte by byte
 * here: instr() on a blob is SQLite's). */
static int reveals_holding(struct fixture *f, const char *text)
{
    db_stmt *st = store_stmt(f->s, "SELECT reveal FROM admin_sessions WHERE reveal IS NOT NULL");
    assert_non_null(st);
    int n = 0;
    size_t tlen = strlen(text);
    while (db_step(st) == DB_ROW) {
        const uint8_t *p = db_column_blob(st, 0);
        size_t len = (size_t)db_column_bytes(st, 0);
        for (size_t i = 0; p && i + tlen <= len; i++)
            if (memcmp(p + i, text, tlen) == 0) {
                n++;
                break;
            }
    }
    db_reset(st);
    return n;
}

static int64_t session_count(struct fixture *f)
{
    return tu_query_int(f->s, "SELECT count(*) FROM admin_sessions");
}

static void test_console_accounts(void **state)
{
    struct fixture *f = *state;
    char hash[ADMINS_HASH_LEN], cookie[ADMINS_COOKIE_LEN];
    struct admin_session root1, root2, bob;
    add_admin(f, "root", "root's long password");
    assert_int_equal(admins_password_hash("bob's long password", 19, &fast, hash, sizeof(hash)), 0);
    /* add never replaces an existing account. */
    assert_int_equal(admins_add(f->s, "root", hash, T0), OG_ERR_EXISTS);
    assert_int_equal(admins_add(f->s, "bad name", hash, T0), OG_ERR_INVALID);
    assert_int_equal(admins_add(f->s, "carol", "$scrypt$nonsense", T0), OG_ERR_INVALID);
    assert_int_equal(admins_add(f->s, "bob", hash, T0 + 1), 0);
    char stored[ADMINS_HASH_LEN];
    assert_int_equal(admins_get_hash(f->s, "bob", stored, sizeof(stored)), 0);
    assert_string_equal(stored, hash);

    assert_int_equal(
        admins_session_create(f->s, "root", NULL, T0, 1000, cookie, sizeof(cookie), &root1), 0);
    assert_int_equal(
        admins_session_create(f->s, "root", NULL, T0, 1000, cookie, sizeof(cookie), &root2), 0);
    assert_int_equal(
        admins_session_create(f->s, "bob", NULL, T0, 1000, cookie, sizeof(cookie), &bob), 0);
    assert_int_equal(admins_touch_login(f->s, "bob", T0 + 5), 0);
    struct listed l = {0};
    assert_int_equal(admins_each(f->s, T0 + 10, collect, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "bob");
    assert_string_equal(l.names[1], "root");
    assert_int_equal(l.sessions[0], 1);
    assert_int_equal(l.sessions[1], 2);
    assert_int_equal(l.last_login[0], T0 + 5);
    assert_int_equal(l.last_login[1], 0);
    memset(&l, 0, sizeof(l));
    assert_int_equal(admins_each(f->s, T0 + 2000, collect, &l), 0); /* expired: not counted */
    assert_int_equal(l.sessions[1], 0);

    /* A new password ends the admin's other sessions, never this one. */
    assert_int_equal(admins_password_set(f->s, "root", hash, T0 + 20, &root1), 0);
    assert_int_equal(session_count(f), 2);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_sessions WHERE username = "
                                        "'root'"),
                     1);
    assert_int_equal(admins_password_set(f->s, "nobody", hash, T0, NULL), OG_ERR_NOT_FOUND);
    assert_int_equal(admins_password_set(f->s, "root", "x", T0, NULL), OG_ERR_INVALID);
    assert_int_equal(admins_password_set(f->s, "bob", hash, T0 + 30, NULL), 0);
    assert_int_equal(session_count(f), 1);

    /* Remove: never oneself, never the last one; the sessions go too. */
    assert_int_equal(admins_remove(f->s, "root", "root"), OG_ERR_PERM);
    assert_int_equal(admins_remove(f->s, "nobody", "root"), OG_ERR_NOT_FOUND);
    assert_int_equal(
        admins_session_create(f->s, "bob", NULL, T0, 1000, cookie, sizeof(cookie), &bob), 0);
    assert_int_equal(admins_remove(f->s, "bob", "root"), 0);
    assert_int_equal(admins_count(f->s), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_sessions WHERE username = "
                                        "'bob'"),
                     0);
    assert_int_equal(admins_remove(f->s, "root", "someone-else"), OG_ERR_PERM);
    assert_int_equal(admins_remove(f->s, "root", NULL), OG_ERR_PERM);
    assert_int_equal(admins_count(f->s), 1);
}

static void test_reveal(void **state)
{
    struct fixture *f = *state;
    char cookie[ADMINS_COOKIE_LEN], out[64];
    struct admin_session a, b;
    add_admin(f, "root", "root's long password");
    assert_int_equal(
        admins_session_create(f->s, "root", NULL, T0, 1000, cookie, sizeof(cookie), &a), 0);
    assert_int_equal(
        admins_session_create(f->s, "root", NULL, T0, 1000, cookie, sizeof(cookie), &b), 0);
    assert_int_equal(admins_reveal_take(f->s, &f->k, &a, "app_x", out, sizeof(out)),
                     OG_ERR_NOT_FOUND);
    const char *secret = "s3cr3t-value-shown-once";
    assert_int_equal(admins_reveal_put(f->s, &f->k, &a, "app_x", secret), 0);
    /* Sealed: not in the row in the clear. */
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_sessions WHERE reveal IS "
                                        "NOT NULL"),
                     1);
    assert_int_equal(reveals_holding(f, "s3cr3t"), 0);
    /* Another session or another app's page gets nothing, and the secret stays. */
    assert_int_equal(admins_reveal_take(f->s, &f->k, &b, "app_x", out, sizeof(out)),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(admins_reveal_take(f->s, &f->k, &a, "app_y", out, sizeof(out)),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(admins_reveal_take(f->s, &f->k, &a, "app_x", out, 8), OG_ERR_TOO_BIG);
    assert_int_equal(admins_reveal_take(f->s, &f->k, &a, "app_x", out, sizeof(out)), 0);
    assert_string_equal(out, secret);
    /* Once. */
    assert_int_equal(admins_reveal_take(f->s, &f->k, &a, "app_x", out, sizeof(out)),
                     OG_ERR_NOT_FOUND);
}

static void test_sessions(void **state)
{
    struct fixture *f = *state;
    add_admin(f, "root", "a long enough password");
    char cookie[ADMINS_COOKIE_LEN], other[ADMINS_COOKIE_LEN];
    struct admin_session a, b, got;
    assert_int_equal(
        admins_session_create(f->s, "root", "10.0.0.1", T0, 1000, cookie, sizeof(cookie), &a), 0);
    assert_int_equal(strlen(cookie), 43);
    assert_int_equal(a.expires_at, T0 + 1000);
    assert_int_equal(admins_session_create(f->s, "root", NULL, T0, 5000, other, sizeof(other), &b),
                     0);
    assert_string_not_equal(cookie, other);

    assert_int_equal(admins_session_load(f->s, cookie, strlen(cookie), T0 + 999, &got), 0);
    assert_string_equal(got.username, "root");
    assert_memory_equal(got.id_hash, a.id_hash, 32);
    assert_int_equal(got.created_at, T0);
    /* Only the SHA-256 of the value is kept. */
    uint8_t h[32];
    SHA256((const uint8_t *)cookie, strlen(cookie), h);
    assert_memory_equal(got.id_hash, h, 32);
    assert_int_equal(blob_hashes(f), 2);

    /* Expired (absolute), malformed and unknown values find nothing. */
    assert_int_equal(admins_session_load(f->s, cookie, strlen(cookie), T0 + 1000, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(admins_session_load(f->s, cookie, 42, T0, &got), OG_ERR_NOT_FOUND);
    char tampered[ADMINS_COOKIE_LEN];
    memcpy(tampered, other, sizeof(tampered));
    tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
    assert_int_equal(admins_session_load(f->s, tampered, 43, T0, &got), OG_ERR_NOT_FOUND);
    assert_int_equal(
        admins_session_load(f->s, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", 43, T0, &got),
        OG_ERR_NOT_FOUND);
    assert_int_equal(admins_session_load(f->s, NULL, 0, T0, &got), OG_ERR_NOT_FOUND);

    /* Delete one; prune removes the expired one. */
    assert_int_equal(admins_session_delete(f->s, &b), 0);
    assert_int_equal(admins_session_load(f->s, other, strlen(other), T0 + 1, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(admins_session_delete(f->s, &b), 0); /* already gone: fine */
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_sessions"), 1);
    assert_int_equal(admins_prune(f->s, T0 + 2000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_sessions"), 0);

    /* A session for an unknown admin or a bad name is refused. */
    assert_int_not_equal(
        admins_session_create(f->s, "ghost", NULL, T0, 1000, cookie, sizeof(cookie), &a), 0);
    assert_int_equal(
        admins_session_create(f->s, "bad name", NULL, T0, 1000, cookie, sizeof(cookie), &a),
        OG_ERR_INVALID);
    assert_int_equal(admins_session_create(f->s, "root", NULL, T0, 0, cookie, sizeof(cookie), &a),
                     OG_ERR_INVALID);
    char tiny[8];
    assert_int_equal(admins_session_create(f->s, "root", NULL, T0, 10, tiny, sizeof(tiny), &a),
                     OG_ERR_TOO_BIG);
}

static void test_csrf(void **state)
{
    struct fixture *f = *state;
    uint8_t h1[32], h2[32];
    memset(h1, 1, sizeof(h1));
    memset(h2, 2, sizeof(h2));
    char t1[ADMINS_CSRF_LEN], t1b[ADMINS_CSRF_LEN], t2[ADMINS_CSRF_LEN];
    admins_csrf_token(f->k.csrf, h1, t1, sizeof(t1));
    admins_csrf_token(f->k.csrf, h1, t1b, sizeof(t1b));
    admins_csrf_token(f->k.csrf, h2, t2, sizeof(t2));
    assert_int_equal(strlen(t1), 43);
    assert_string_equal(t1, t1b);
    assert_string_not_equal(t1, t2);
    assert_true(admins_csrf_check(f->k.csrf, h1, t1, strlen(t1)));
    assert_false(admins_csrf_check(f->k.csrf, h2, t1, strlen(t1)));
    assert_false(admins_csrf_check(f->k.csrf, h1, t1, 42));
    assert_false(admins_csrf_check(f->k.csrf, h1, NULL, 0));
    assert_false(admins_csrf_check(f->k.csrf, h1, "", 0));
    /* Another key (another installation) gives another token. */
    assert_false(admins_csrf_check(f->k.seal, h1, t1, strlen(t1)));
}

/* ---- throttle ---- */

static void test_throttle(void **state)
{
    struct fixture *f = *state;
    struct admins_throttle t = {4, 30, 100};
    const char *k = "user:root", *ip = "ip:10.0.0.9";
    int64_t now = T0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
        assert_int_equal(admins_throttle_wait(f->s, k, now), 0);
    }
    /* The 5th failure in a row starts the first wait, then each doubles up
     * to the cap. */
    assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 30);
    assert_int_equal(admins_throttle_wait(f->s, k, now + 29001), 1);
    now += 30000;
    assert_int_equal(admins_throttle_wait(f->s, k, now), 0);
    assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 60);
    now += 60000;
    assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 100);
    now += 100000;
    assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 100);
    assert_int_equal(
        tu_query_int(f->s, "SELECT failures FROM admin_throttle WHERE key = 'user:root'"), 8);
    /* Keys are independent. */
    assert_int_equal(admins_throttle_wait(f->s, ip, now), 0);
    /* A success clears the key. */
    assert_int_equal(admins_throttle_clear(f->s, k), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(admins_throttle_fail(f->s, k, &t, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, k, now), 0);

    /* wait 0 turns waits off. */
    struct admins_throttle off = {0, 0, 900};
    for (int i = 0; i < 10; i++)
        assert_int_equal(admins_throttle_fail(f->s, ip, &off, now), 0);
    assert_int_equal(admins_throttle_wait(f->s, ip, now), 0);

    /* Pruning drops rows idle for a day without a pending wait. */
    assert_int_equal(admins_prune(f->s, now + 23LL * 3600 * 1000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_throttle"), 2);
    assert_int_equal(admins_prune(f->s, now + 25LL * 3600 * 1000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM admin_throttle"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_password_rules),
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_default_cost),
        cmocka_unit_test(test_rfc7914_vector),
        cmocka_unit_test(test_malformed_hashes),
        cmocka_unit_test_setup_teardown(test_put_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reveal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
