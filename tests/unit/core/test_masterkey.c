/* Unit tests of src/core/masterkey.c: creation, reload, and refusal of
 * unsafe or malformed key files. Each test owns a fresh mkdtemp directory. */
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

#include "core/masterkey.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include "testutil.h"

struct fixture {
    char dir[64];
    char key_path[128];
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "mkey");
    snprintf(f->key_path, sizeof(f->key_path), "%s/master.key", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static size_t read_file(const char *path, char *out, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, cap - 1, fp);
    out[n] = '\0';
    fclose(fp);
    return n;
}

static void to_hex(const uint8_t *key, char out[MASTERKEY_LEN * 2 + 1])
{
    for (int i = 0; i < MASTERKEY_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

static bool all_zero(const uint8_t *key)
{
    for (int i = 0; i < MASTERKEY_LEN; i++)
        if (key[i])
            return false;
    return true;
}

static void test_create_then_reload(void **state)
{
    struct fixture *f = *state;
    uint8_t key1[MASTERKEY_LEN], key2[MASTERKEY_LEN];
    int rc = masterkey_load(f->dir, key1, f->err, sizeof(f->err));
    if (rc != 0)
        fail_msg("masterkey_load: %d %s", rc, f->err);
    assert_false(all_zero(key1));

    struct stat st;
    assert_int_equal(lstat(f->key_path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    char text[256], hex[MASTERKEY_LEN * 2 + 1];
    assert_int_equal(read_file(f->key_path, text, sizeof(text)), 65);
    assert_int_equal(text[64], '\n');
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", text[i]));
    to_hex(key1, hex);
    assert_memory_equal(text, hex, 64);

    /* Same key on reload; no temporary files left behind. */
    assert_int_equal(masterkey_load(f->dir, key2, f->err, sizeof(f->err)), 0);
    assert_memory_equal(key1, key2, MASTERKEY_LEN);
    char trailing[128];
    snprintf(trailing, sizeof(trailing), "%s/", f->dir);
    assert_int_equal(masterkey_load(trailing, key2, f->err, sizeof(f->err)), 0);
    assert_memory_equal(key1, key2, MASTERKEY_LEN);

    int entries = 0;
    FILE *ls;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ls -A %s", f->dir);
    ls = popen(cmd, "r");
    assert_non_null(ls);
    while (fgets(text, sizeof(text), ls))
        entries++;
    pclose(ls);
    assert_int_equal(entries, 1);
}

static void test_two_dirs_differ(void **state)
{
    struct fixture *f = *state;
    char a[128], b[128];
    uint8_t ka[MASTERKEY_LEN], kb[MASTERKEY_LEN];
    snprintf(a, sizeof(a), "%s/a", f->dir);
    snprintf(b, sizeof(b), "%s/b", f->dir);
    assert_int_equal(masterkey_load(a, ka, f->err, sizeof(f->err)), 0);
    assert_int_equal(masterkey_load(b, kb, f->err, sizeof(f->err)), 0);
    assert_memory_not_equal(ka, kb, MASTERKEY_LEN);
}

static void test_loads_existing_file(void **state)
{
    struct fixture *f = *state;
    uint8_t key[MASTERKEY_LEN];
    write_file(f->key_path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
               0600);
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), 0);
    for (int i = 0; i < MASTERKEY_LEN; i++)
        assert_int_equal(key[i], i);

    /* Upper case and no final newline are accepted too. */
    write_file(f->key_path, "FFFEFDFCFBFAF9F8F7F6F5F4F3F2F1F0EFEEEDECEBEAE9E8E7E6E5E4E3E2E1E0",
               0400);
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), 0);
    for (int i = 0; i < MASTERKEY_LEN; i++)
        assert_int_equal(key[i], 255 - i);
}

static void test_mode_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t key[MASTERKEY_LEN], other[MASTERKEY_LEN];
    char hex[MASTERKEY_LEN * 2 + 1];
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), 0);
    to_hex(key, hex);

    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0601};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(f->key_path, modes[i]), 0);
        f->err[0] = '\0';
        memset(other, 0xaa, sizeof(other));
        assert_int_equal(masterkey_load(f->dir, other, f->err, sizeof(f->err)), OG_ERR_PERM);
        assert_true(all_zero(other)); /* wiped on failure */
        char want[256];
        snprintf(want, sizeof(want), "run chmod 600 %s", f->key_path);
        assert_non_null(strstr(f->err, want));
        char mode[16];
        snprintf(mode, sizeof(mode), "(mode %04o)", (unsigned)modes[i]);
        assert_non_null(strstr(f->err, mode));
        assert_null(strstr(f->err, hex));
    }
    assert_int_equal(chmod(f->key_path, 0644), 0);
    assert_int_equal(masterkey_load(f->dir, other, f->err, sizeof(f->err)), OG_ERR_PERM);
    assert_non_null(strstr(f->err, "readable by others (mode 0644)"));

    /* Fixed as told, it loads the same key. */
    assert_int_equal(chmod(f->key_path, 0600), 0);
    assert_int_equal(masterkey_load(f->dir, other, f->err, sizeof(f->err)), 0);
    assert_memory_equal(key, other, MASTERKEY_LEN);
}

static void test_malformed_refused(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "",
        "\n",
        "00010203\n",
        /* 63 hex chars */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
        /* 66 hex chars */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n",
        /* non-hex */
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        /* two newlines */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        /* CRLF */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        /* leading space */
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    uint8_t key[MASTERKEY_LEN];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(f->key_path, bad[i], 0600);
        f->err[0] = '\0';
        int rc = masterkey_load(f->dir, key, f->err, sizeof(f->err));
        if (rc != OG_ERR_INVALID)
            fail_msg("case %zu: got %d (%s)", i, rc, f->err);
        assert_non_null(strstr(f->err, "malformed"));
        assert_non_null(strstr(f->err, f->key_path));
        assert_null(strstr(f->err, "0001020304"));
        assert_true(all_zero(key));
    }
    /* The malformed file is left for the admin to restore, never replaced. */
    char text[256];
    read_file(f->key_path, text, sizeof(text));
    assert_string_equal(text, bad[sizeof(bad) / sizeof(bad[0]) - 1]);
}

static void test_symlink_refused(void **state)
{
    struct fixture *f = *state;
    char target[128];
    snprintf(target, sizeof(target), "%s/real.key", f->dir);
    write_file(target, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
    assert_int_equal(symlink(target, f->key_path), 0);
    uint8_t key[MASTERKEY_LEN];
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), OG_ERR_PERM);
    assert_non_null(strstr(f->err, "symbolic link"));

    /* A dangling symlink is refused too, not followed to create a file. */
    char dangling[128];
    snprintf(dangling, sizeof(dangling), "%s/d", f->dir);
    assert_int_equal(mkdir(dangling, 0700), 0);
    char link_path[160], nowhere[160];
    snprintf(link_path, sizeof(link_path), "%s/master.key", dangling);
    snprintf(nowhere, sizeof(nowhere), "%s/nowhere.key", f->dir);
    assert_int_equal(symlink(nowhere, link_path), 0);
    assert_int_equal(masterkey_load(dangling, key, f->err, sizeof(f->err)), OG_ERR_PERM);
    assert_int_equal(access(nowhere, F_OK), -1);
}

static void test_not_regular_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->key_path, 0700), 0);
    uint8_t key[MASTERKEY_LEN];
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "not a regular file"));
    rmdir(f->key_path);

    assert_int_equal(mkfifo(f->key_path, 0600), 0);
    assert_int_equal(masterkey_load(f->dir, key, f->err, sizeof(f->err)), OG_ERR_INVALID);
}

static void test_dir_created_0700(void **state)
{
    struct fixture *f = *state;
    char nested[160];
    snprintf(nested, sizeof(nested), "%s/x/y/var", f->dir);
    mode_t old = umask(0);
    uint8_t key[MASTERKEY_LEN];
    int rc = masterkey_load(nested, key, f->err, sizeof(f->err));
    umask(old);
    if (rc != 0)
        fail_msg("masterkey_load: %d %s", rc, f->err);

    struct stat st;
    char p[200];
    snprintf(p, sizeof(p), "%s/x", f->dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof(p), "%s/x/y", f->dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(nested, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof(p), "%s/master.key", nested);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* An existing directory keeps its mode. */
    assert_int_equal(chmod(nested, 0750), 0);
    assert_int_equal(masterkey_load(nested, key, f->err, sizeof(f->err)), 0);
    assert_int_equal(stat(nested, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
}

/* The database's key check (on either engine, ctest -L pg): the first key
 * is recorded, the same key passes again, another is refused with one line
 * and the record stays the first key's; nothing of the key is stored. */
static void test_store_key_check(void **state)
{
    struct fixture *f = *state;
    char db[128];
    snprintf(db, sizeof(db), "%s/otpgate.db", f->dir);
    struct store *s = NULL;
    if (tu_store_open(db, &s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    uint8_t one[MASTERKEY_LEN], two[MASTERKEY_LEN];
    memset(one, 0x11, sizeof(one));
    memset(two, 0x22, sizeof(two));
    struct keyring k1, k2;
    assert_int_equal(keyring_derive(one, &k1), 0);
    assert_int_equal(keyring_derive(two, &k2), 0);

    assert_int_equal(masterkey_check_store(s, &k1, f->err, sizeof(f->err)), OG_OK);
    char first[80];
    assert_int_equal(store_meta_get(s, "key_check", first, sizeof(first)), OG_OK);
    assert_int_equal(strlen(first), 32);
    char hex[MASTERKEY_LEN * 2 + 1];
    to_hex(one, hex);
    assert_null(strstr(hex, first));
    assert_int_equal(masterkey_check_store(s, &k1, f->err, sizeof(f->err)), OG_OK);

    f->err[0] = '\0';
    assert_int_equal(masterkey_check_store(s, &k2, f->err, sizeof(f->err)), OG_ERR_CRYPTO);
    assert_non_null(strstr(f->err, "master key does not match"));
    assert_null(strchr(f->err, '\n'));
    char after[80];
    assert_int_equal(store_meta_get(s, "key_check", after, sizeof(after)), OG_OK);
    assert_string_equal(after, first);
    store_close(s);

    /* A reopened database remembers. */
    if (tu_store_open(db, &s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    assert_int_equal(masterkey_check_store(s, &k2, f->err, sizeof(f->err)), OG_ERR_CRYPTO);
    assert_int_equal(masterkey_check_store(s, &k1, f->err, sizeof(f->err)), OG_OK);
    store_close(s);
    keyring_wipe(&k1);
    keyring_wipe(&k2);
}

static void test_bad_dirs(void **state)
{
    struct fixture *f = *state;
    uint8_t key[MASTERKEY_LEN];
    assert_int_equal(masterkey_load("", key, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_int_equal(masterkey_load(NULL, key, NULL, 0), OG_ERR_INVALID);

    char file[128], under[160];
    snprintf(file, sizeof(file), "%s/plain", f->dir);
    write_file(file, "x", 0600);
    assert_int_equal(masterkey_load(file, key, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "not a directory"));
    snprintf(under, sizeof(under), "%s/plain/sub", f->dir);
    assert_int_equal(masterkey_load(under, key, f->err, sizeof(f->err)), OG_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_dirs_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loads_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_created_0700, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_key_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
