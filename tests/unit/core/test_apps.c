/* Unit tests of src/core/apps.c: registration, redirect URI rules, sealed
 * secrets (never in the clear in the database), constant-time checks for
 * right, wrong and unknown ids, rotation, changes of name and redirect
 * URIs, removal with its cascade, and the listing without secrets. Each test owns a fresh mkdtemp
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/apps.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include "testutil.h"

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
    struct keyring k;
};

static void exec_sql(struct store *s, const char *sql)
{
    if (store_exec(s, sql) != OG_OK)
        fail_msg("sql failed: %s: %s", sql, store_errmsg(s));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "apps");
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

static void add_ok(struct fixture *f, const char *name, const char *uri, const char *mode,
                   char id[APPS_ID_LEN], char secret[APPS_SECRET_LEN])
{
    const char *uris[] = {uri};
    f->err[0] = '\0';
    int rc = apps_add(f->s, &f->k, name, uris, 1, mode, id, APPS_ID_LEN, secret, APPS_SECRET_LEN,
                      f->err, sizeof(f->err));
    if (rc != 0)
        fail_msg("apps_add: %d %s", rc, f->err);
}

static bool check(struct fixture *f, const char *id, const char *secret)
{
    return apps_check_secret(f->s, &f->k, id, secret, strlen(secret));
}

static void test_add_get(void **state)
{
    struct fixture *f = *state;
    const char *uris[] = {"https://app.example/cb", "http://localhost:3000/cb",
                          "https://app.example/cb"};
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    assert_int_equal(apps_add(f->s, &f->k, "Shop \xe2\x9c\x93", uris, 3, NULL, id, sizeof(id),
                              secret, sizeof(secret), f->err, sizeof(f->err)),
                     0);
    /* client_id: app_ + 20 base32 chars; secret: 256 bits in base64url. */
    assert_int_equal(strlen(id), 24);
    assert_memory_equal(id, "app_", 4);
    assert_int_equal(strlen(secret), 43);
    for (const char *p = secret; *p; p++)
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');

    struct app a;
    assert_int_equal(apps_get(f->s, id, &a), 0);
    assert_string_equal(a.id, id);
    assert_string_equal(a.name, "Shop \xe2\x9c\x93");
    assert_int_equal(a.redirect_count, 2); /* the duplicate is dropped */
    assert_string_equal(a.redirect_uris[0], "https://app.example/cb");
    assert_string_equal(a.redirect_uris[1], "http://localhost:3000/cb");
    assert_true(a.created_at > 1600000000000LL);
    apps_free(&a);
    apps_free(&a); /* idempotent */

    assert_int_equal(apps_get(f->s, "app_nope", &a), OG_ERR_NOT_FOUND);
    apps_free(&a);

    /* Two apps never share an id or a secret. */
    char id2[APPS_ID_LEN], secret2[APPS_SECRET_LEN];
    add_ok(f, "Other", "https://other.example/cb", NULL, id2, secret2);
    assert_string_not_equal(id, id2);
    assert_string_not_equal(secret, secret2);
}

static void test_add_policy_mode(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    add_ok(f, "M", "https://m.example/cb", "mandatory", id, secret);
    struct policy p;
    assert_int_equal(policy_load(f->s, id, &p), 0);
    assert_int_equal(p.mode, POLICY_MANDATORY);

    char id2[APPS_ID_LEN];
    add_ok(f, "I", "https://i.example/cb", "inherit", id2, secret);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM policy"), 1);

    /* A bad mode refuses the whole app. */
    const char *uris[] = {"https://x.example/cb"};
    assert_int_equal(apps_add(f->s, &f->k, "X", uris, 1, "sometimes", id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "mode"));
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM apps"), 2);
}

static void test_add_refusals(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    const char *good[] = {"https://a.example/cb"};
    char longname[200];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';

    assert_int_equal(apps_add(f->s, &f->k, "", good, 1, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "name"));
    assert_int_equal(apps_add(f->s, &f->k, longname, good, 1, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_int_equal(apps_add(f->s, &f->k, "a\nb", good, 1, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_int_equal(apps_add(f->s, &f->k, "bad \xff utf8", good, 1, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_int_equal(apps_add(f->s, &f->k, "A", good, 0, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "redirect URI"));
    const char *bad[] = {"https://a.example/cb", "http://evil.example/cb"};
    assert_int_equal(apps_add(f->s, &f->k, "A", bad, 2, NULL, id, sizeof(id), secret,
                              sizeof(secret), f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "http://evil.example/cb"));
    /* Small output buffers are a caller bug, refused before anything. */
    assert_int_equal(apps_add(f->s, &f->k, "A", good, 1, NULL, id, 8, secret, sizeof(secret),
                              f->err, sizeof(f->err)),
                     OG_ERR_TOO_BIG);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM apps"), 0);
}

static void test_redirect_uris(void **state)
{
    (void)state;
    char err[512];
    static const char *const ok[] = {
        "https://app.example/cb",
        "https://app.example",
        "https://APP.example:8443/a/b?x=1&y=%20",
        "HTTPS://app.example/cb",
        "http://localhost/cb",
        "http://LOCALHOST:3000/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]:3000/cb",
        "https://[2001:db8::1]/cb",
        "https://xn--bcher-kva.example/cb",
    };
    static const char *const bad[] = {
        "",
        "/relative/cb",
        "app.example/cb",
        "ftp://app.example/cb",
        "http://app.example/cb",
        "http://127.0.0.2/cb",
        "http://localhost.evil.example/cb",
        "http://[::2]/cb",
        "https://app.example/cb#frag",
        "https://app.example/cb#",
        "https://user:pw@app.example/cb",
        "https:///cb",
        "https://:443/cb",
        "https://app.example:0/cb",
        "https://app.example:65536/cb",
        "https://app.example:/cb",
        "https://app.example:-1/cb",
        "https://app example/cb",
        "https://app.example/c b",
        "https://app.example/\xc3\xa9",
        "https://[::1/cb",
        "https://a<b>.example/cb",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (apps_check_redirect_uri(ok[i], err, sizeof(err)) != 0)
            fail_msg("refused %s: %s", ok[i], err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (apps_check_redirect_uri(bad[i], err, sizeof(err)) != OG_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(err, "redirect URI"));
    }
    char huge[APPS_URI_MAX + 100];
    memcpy(huge, "https://a.example/", 18);
    memset(huge + 18, 'x', sizeof(huge) - 19);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(apps_check_redirect_uri(huge, err, sizeof(err)), OG_ERR_INVALID);
}

static void test_check_secret(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    add_ok(f, "A", "https://a.example/cb", NULL, id, secret);

    assert_true(check(f, id, secret));
    char wrong[APPS_SECRET_LEN];
    memcpy(wrong, secret, sizeof(wrong));
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    assert_false(check(f, id, wrong));
    /* Prefixes and extensions of the secret are wrong too. */
    assert_false(apps_check_secret(f->s, &f->k, id, secret, strlen(secret) - 1));
    char longer[APPS_SECRET_LEN + 2];
    snprintf(longer, sizeof(longer), "%sx", secret);
    assert_false(check(f, id, longer));
    assert_false(check(f, id, ""));
    assert_false(apps_check_secret(f->s, &f->k, id, NULL, 0));
    /* The length argument counts, not a NUL. */
    assert_true(apps_check_secret(f->s, &f->k, id, longer, strlen(secret)));

    /* Unknown ids: never true, whatever the secret. */
    assert_false(check(f, "app_unknownunknownunkn", secret));
    assert_false(check(f, "", secret));
    assert_false(apps_check_secret(f->s, &f->k, NULL, secret, strlen(secret)));
    char longid[300];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_false(check(f, longid, secret));

    /* Another key cannot open it. */
    struct keyring other;
    uint8_t master[KEY_LEN] = {9};
    assert_int_equal(keyring_derive(master, &other), 0);
    assert_false(apps_check_secret(f->s, &other, id, secret, strlen(secret)));
    char *plain = NULL;
    assert_int_equal(apps_secret(f->s, &other, id, &plain), OG_ERR_CRYPTO);
    assert_null(plain);
    keyring_wipe(&other);

    /* The plain secret comes back for HS256. */
    assert_int_equal(apps_secret(f->s, &f->k, id, &plain), 0);
    assert_string_equal(plain, secret);
    free(plain);
    assert_int_equal(apps_secret(f->s, &f->k, "app_nope", &plain), OG_ERR_NOT_FOUND);
    assert_null(plain);
}

/* The sealed secret is bound to its row: moved to another app it fails. */
static void test_sealed_bound_to_app(void **state)
{
    struct fixture *f = *state;
    char a[APPS_ID_LEN], sa[APPS_SECRET_LEN], b[APPS_ID_LEN], sb[APPS_SECRET_LEN];
    add_ok(f, "A", "https://a.example/cb", NULL, a, sa);
    add_ok(f, "B", "https://b.example/cb", NULL, b, sb);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE apps SET secret_sealed = (SELECT secret_sealed FROM apps WHERE id = '%s') "
             "WHERE id = '%s'",
             a, b);
    exec_sql(f->s, sql);
    assert_false(check(f, b, sa));
    assert_false(check(f, b, sb));
    assert_true(check(f, a, sa));
}

static bool contains(const void *hay, size_t n, const void *needle, size_t m)
{
    return m > 0 && n >= m && memmem(hay, n, needle, m) != NULL;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    static char data[8 << 20];
    size_t n = fread(data, 1, sizeof(data), fp);
    fclose(fp);
    return contains(data, n, needle, strlen(needle));
}

static void test_secret_never_stored_plain(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    add_ok(f, "A", "https://a.example/cb", NULL, id, secret);

    db_stmt *st;
    st = store_stmt(f->s, "SELECT secret_sealed FROM apps WHERE id = ?1");
    assert_non_null(st);
    db_bind_text(st, 1, id, -1);
    assert_int_equal(db_step(st), DB_ROW);
    const void *blob = db_column_blob(st, 0);
    size_t n = (size_t)db_column_bytes(st, 0);
    assert_int_equal(n, strlen(secret) + SEAL_OVERHEAD);
    assert_false(contains(blob, n, secret, strlen(secret)));
    /* Not even a third of it. */
    for (size_t off = 0; off + 14 <= strlen(secret); off++)
        assert_false(contains(blob, n, secret + off, 14));
    db_reset(st);

    char fresh[APPS_SECRET_LEN];
    if (tu_on_pg()) {
        /* PostgreSQL's files are the server's, out of reach here: the
         * column after a rotation is what can be checked. */
        assert_int_equal(apps_rotate_secret(f->s, &f->k, id, fresh, sizeof(fresh)), 0);
        st = store_stmt(f->s, "SELECT secret_sealed FROM apps WHERE id = ?1");
        assert_non_null(st);
        db_bind_text(st, 1, id, -1);
        assert_int_equal(db_step(st), DB_ROW);
        blob = db_column_blob(st, 0);
        n = (size_t)db_column_bytes(st, 0);
        assert_int_equal(n, strlen(fresh) + SEAL_OVERHEAD);
        assert_false(contains(blob, n, fresh, strlen(fresh)));
        assert_false(contains(blob, n, secret, strlen(secret)));
        db_reset(st);
        return;
    }

    /* Nor anywhere in the database files. */
    char path[300];
    assert_false(file_contains(f->db, secret));
    snprintf(path, sizeof(path), "%s-wal", f->db);
    assert_int_equal(access(path, F_OK), 0);
    assert_false(file_contains(path, secret));
    /* The search itself works: the redirect URI is there in the clear. */
    assert_true(file_contains(f->db, "https://a.example/cb") ||
                file_contains(path, "https://a.example/cb"));

    /* And after a rotation, neither the old nor the new one. */
    assert_int_equal(apps_rotate_secret(f->s, &f->k, id, fresh, sizeof(fresh)), 0);
    assert_false(file_contains(f->db, fresh));
    assert_false(file_contains(path, fresh));
}

static void test_rotate(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN], fresh[APPS_SECRET_LEN];
    add_ok(f, "A", "https://a.example/cb", NULL, id, secret);
    assert_int_equal(apps_rotate_secret(f->s, &f->k, id, fresh, sizeof(fresh)), 0);
    assert_int_equal(strlen(fresh), 43);
    assert_string_not_equal(secret, fresh);
    assert_false(check(f, id, secret));
    assert_true(check(f, id, fresh));
    assert_int_equal(
        tu_query_int(f->s, "SELECT count(*) FROM apps WHERE secret_rotated_at IS NOT NULL"), 1);

    assert_int_equal(apps_rotate_secret(f->s, &f->k, "app_nope", fresh, sizeof(fresh)),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(apps_rotate_secret(f->s, &f->k, id, fresh, 10), OG_ERR_TOO_BIG);
    assert_true(check(f, id, fresh)); /* refusals changed nothing */
}

static void test_remove_cascade(void **state)
{
    struct fixture *f = *state;
    char a[APPS_ID_LEN], b[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    add_ok(f, "A", "https://a.example/cb", "mandatory", a, secret);
    add_ok(f, "B", "https://b.example/cb", "off", b, secret);
    char sql[1200];
    /* Blob literals differ: x'00' is SQLite's, '\x00'::bytea PostgreSQL's. */
    const char *b0 = tu_on_pg() ? "'\\x00'::bytea" : "x'00'";
    const char *b1 = tu_on_pg() ? "'\\x01'::bytea" : "x'01'";
    for (int i = 0; i < 2; i++) {
        const char *app = i ? b : a;
        snprintf(sql, sizeof(sql),
                 "INSERT INTO users (app_id, sub, created_at) VALUES ('%s', 'alice', 1);"
                 "INSERT INTO factors (id, user_id, type, status, destination, created_at) "
                 "SELECT 'f_%d', id, 'email', 'active', 'a@x.example', 1 FROM users "
                 "WHERE app_id = '%s' AND sub = 'alice';"
                 "INSERT INTO recovery_codes (user_id, salt, hash, created_at) "
                 "SELECT user_id, %s, %s, 1 FROM factors WHERE id = 'f_%d';"
                 "INSERT INTO challenges (id, user_id, factor_id, purpose, status, "
                 "max_attempts, resend_at, expires_at, created_at) "
                 "SELECT 'c_%d', user_id, id, 'login', 'open', 5, 0, 0, 1 FROM factors "
                 "WHERE id = 'f_%d';"
                 "INSERT INTO challenge_codes (challenge_id, code_hash, expires_at) "
                 "VALUES ('c_%d', %s, 0);"
                 "INSERT INTO policy (scope, key, value, updated_at) "
                 "VALUES ('%s', 'code_ttl', '60', 0);",
                 app, i, app, b0, b0, i, i, i, i, b1, app);
        exec_sql(f->s, sql);
    }
    assert_int_equal(apps_remove(f->s, a), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM apps"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM users"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM factors"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM recovery_codes"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM challenges"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM challenge_codes"), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM policy WHERE scope = '%s'", a);
    assert_int_equal(tu_query_int(f->s, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM policy WHERE scope = '%s'", b);
    assert_int_equal(tu_query_int(f->s, sql), 2);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM factors WHERE id = 'f_1'"), 1);

    assert_int_equal(apps_remove(f->s, a), OG_ERR_NOT_FOUND);
    assert_int_equal(apps_remove(f->s, "app_nope"), OG_ERR_NOT_FOUND);
    struct app got;
    assert_int_equal(apps_get(f->s, a, &got), OG_ERR_NOT_FOUND);
    assert_false(check(f, a, secret));
}

static void test_list_json(void **state)
{
    struct fixture *f = *state;
    char *json = NULL;
    assert_int_equal(apps_list_json(f->s, &json), 0);
    assert_string_equal(json, "[]");
    free(json);

    char a[APPS_ID_LEN], sa[APPS_SECRET_LEN], b[APPS_ID_LEN], sb[APPS_SECRET_LEN];
    add_ok(f, "First \"quoted\"", "https://a.example/cb", "mandatory", a, sa);
    add_ok(f, "Second", "http://127.0.0.1:9000/cb", NULL, b, sb);
    assert_int_equal(apps_list_json(f->s, &json), 0);
    assert_null(strstr(json, sa));
    assert_null(strstr(json, sb));
    assert_null(strstr(json, "secret"));

    json_error_t jerr;
    json_t *arr = json_loads(json, 0, &jerr);
    free(json);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 2);
    json_t *first = json_array_get(arr, 0), *second = json_array_get(arr, 1);
    /* Added in the same millisecond, the two keep their order on SQLite;
     * on PostgreSQL such a tie goes by client id (apps.c). */
    if (tu_on_pg() &&
        json_integer_value(json_object_get(first, "created_at")) ==
            json_integer_value(json_object_get(second, "created_at")) &&
        strcmp(a, b) > 0) {
        json_t *t = first;
        first = second;
        second = t;
    }
    /* Exactly the documented fields. */
    assert_int_equal(json_object_size(first), 6);
    assert_true(json_is_null(json_object_get(first, "webhook_url")));
    assert_string_equal(json_string_value(json_object_get(first, "client_id")), a);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "First \"quoted\"");
    assert_string_equal(json_string_value(json_object_get(first, "policy")), "mandatory");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(first, "redirect_uris"), 0)),
        "https://a.example/cb");
    assert_true(json_integer_value(json_object_get(first, "created_at")) > 0);
    assert_string_equal(json_string_value(json_object_get(second, "client_id")), b);
    assert_string_equal(json_string_value(json_object_get(second, "policy")), "inherit");
    json_decref(arr);
}

static void test_update(void **state)
{
    struct fixture *f = *state;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN];
    add_ok(f, "Shop", "https://shop.example/cb", NULL, id, secret);
    const char *uris[] = {"https://shop2.example/cb", "http://127.0.0.1:8000/cb",
                          "https://shop2.example/cb"};
    assert_int_equal(apps_update(f->s, id, "Shop 2", uris, 3, f->err, sizeof(f->err)), 0);
    struct app a;
    assert_int_equal(apps_get(f->s, id, &a), 0);
    assert_string_equal(a.name, "Shop 2");
    assert_int_equal(a.redirect_count, 2); /* the duplicate dropped */
    assert_string_equal(a.redirect_uris[1], "http://127.0.0.1:8000/cb");
    apps_free(&a);
    /* NULL keeps a part; the secret is untouched. */
    assert_int_equal(apps_update(f->s, id, NULL, uris, 1, f->err, sizeof(f->err)), 0);
    assert_int_equal(apps_update(f->s, id, "Shop 3", NULL, 0, f->err, sizeof(f->err)), 0);
    assert_int_equal(apps_update(f->s, id, NULL, NULL, 0, f->err, sizeof(f->err)), 0);
    assert_int_equal(apps_get(f->s, id, &a), 0);
    assert_string_equal(a.name, "Shop 3");
    assert_int_equal(a.redirect_count, 1);
    apps_free(&a);
    assert_true(check(f, id, secret));
    /* Refusals change nothing and say why, as apps_add does. */
    const char *bad_uri[] = {"http://shop.example/cb"};
    assert_int_equal(apps_update(f->s, id, "Shop 4", bad_uri, 1, f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "http:// is allowed only for localhost"));
    assert_int_equal(apps_update(f->s, id, "", NULL, 0, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_int_equal(apps_update(f->s, id, "bad\x01name", NULL, 0, f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_int_equal(apps_update(f->s, id, NULL, uris, 0, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_int_equal(apps_get(f->s, id, &a), 0);
    assert_string_equal(a.name, "Shop 3");
    apps_free(&a);
    assert_int_equal(apps_update(f->s, "app_nope", "X", NULL, 0, f->err, sizeof(f->err)),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(apps_update(f->s, "app_nope", NULL, NULL, 0, f->err, sizeof(f->err)),
                     OG_ERR_NOT_FOUND);
    /* Inside the caller's transaction: rolled back with it. */
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(apps_update(f->s, id, "Rolled back", NULL, 0, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_rollback(f->s), 0);
    assert_int_equal(apps_get(f->s, id, &a), 0);
    assert_string_equal(a.name, "Shop 3");
    apps_free(&a);
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_policy_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_refusals, setup, teardown),
        cmocka_unit_test(test_redirect_uris),
        cmocka_unit_test_setup_teardown(test_check_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_bound_to_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_never_stored_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
