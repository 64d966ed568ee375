/* Unit tests of src/core/brand.c: each brand value's check (the one the
 * CLI and the console share), storage in meta, the logo's type from its
 * first bytes, every active SVG construct refused, the size cap, and the
 * copy in the database (versioned, older ones dropped but the one in use,
 * read back and re-checked; an older upload's file read and taken in).
 * Each test owns a fresh mkdtemp directory. */
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

#include "core/brand.h"
#include "core/store/store.h"

#include "testutil.h"

static const uint8_t PNG[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
static const uint8_t JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'};
static const uint8_t WEBP[] = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P'};

static int check(const char *text, const char **mime, char *err)
{
    return brand_logo_check((const uint8_t *)text, strlen(text), mime, err, 256);
}

static void test_values(void **state)
{
    (void)state;
    assert_null(brand_check("name", "Acme ID"));
    assert_null(brand_check("name", ""));
    assert_non_null(brand_check("name", "tab\there"));
    char long_name[80];
    memset(long_name, 'x', 65);
    long_name[65] = '\0';
    assert_string_equal(brand_check("name", long_name), "must be at most 64 characters");
    long_name[64] = '\0';
    assert_null(brand_check("name", long_name));
    assert_null(brand_check("support", "help@acme.example, +44 20 7946 0958"));
    assert_null(brand_check("accent", "#0a7f5a"));
    assert_null(brand_check("accent", "#ABC"));
    const char *bad_accents[] = {"blue", "#12345", "#1234567", "#ggg", "0a7f5a", "#0a7f5a "};
    for (size_t i = 0; i < sizeof(bad_accents) / sizeof(bad_accents[0]); i++)
        assert_string_equal(brand_check("accent", bad_accents[i]), "must be a colour like #1d4ed8");
    assert_null(brand_check("logo", "/static/img/logo.svg"));
    assert_null(brand_check("logo", "/brand/logo?v=0123456789abcdef"));
    const char *bad_logos[] = {"https://evil.example/x.png",
                               "//evil.example/x.png",
                               "/etc/passwd",
                               "/home/me/logo.png",
                               "/static/a\"b.svg",
                               "/static/a b.svg",
                               "/brand/logo?v=xyz",
                               "/brand/logo",
                               "/static/\xc3\xa9.svg",
                               "relative.png"};
    for (size_t i = 0; i < sizeof(bad_logos) / sizeof(bad_logos[0]); i++)
        assert_non_null(brand_check("logo", bad_logos[i]));
    assert_non_null(brand_check("colour", "x"));
    assert_true(brand_key_known("support"));
    assert_false(brand_key_known("brand_name"));
    assert_false(brand_key_known(NULL));
}

static void test_types(void **state)
{
    (void)state;
    const char *mime;
    char err[256];
    assert_int_equal(brand_logo_check(PNG, sizeof(PNG), &mime, err, sizeof(err)), OG_OK);
    assert_string_equal(mime, "image/png");
    assert_int_equal(brand_logo_check(JPEG, sizeof(JPEG), &mime, err, sizeof(err)), OG_OK);
    assert_string_equal(mime, "image/jpeg");
    assert_int_equal(brand_logo_check(WEBP, sizeof(WEBP), &mime, err, sizeof(err)), OG_OK);
    assert_string_equal(mime, "image/webp");
    const char *svgs[] = {
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        "\xEF\xBB\xBF  <?xml version=\"1.0\"?><svg viewBox=\"0 0 1 1\"><path d=\"M0 0\"/></svg>",
        "<!-- made by hand --><svg>\n<title>Logo, on the button</title></svg>",
        "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x.dtd\"><svg></svg>",
        "<svg><text>ontology=x</text><g opacity=\".5\" offset=\"1\"/></svg>",
        "<svg><text>&#169; Acme &amp; Co</text></svg>",
    };
    for (size_t i = 0; i < sizeof(svgs) / sizeof(svgs[0]); i++) {
        assert_int_equal(check(svgs[i], &mime, err), OG_OK);
        assert_string_equal(mime, "image/svg+xml");
    }
    const char *not_images[] = {"GIF89a",        "<html><body>x</body></html>",    "hello",
                                "<svgx></svgx>", "<?xml version=\"1.0\"?><html/>", "RIFF1234WAVE"};
    for (size_t i = 0; i < sizeof(not_images) / sizeof(not_images[0]); i++) {
        assert_int_equal(check(not_images[i], &mime, err), OG_ERR_INVALID);
        assert_non_null(strstr(err, "not a PNG, JPEG, WebP or SVG image"));
        assert_null(mime);
    }
    /* NUL inside text is not SVG. */
    static const uint8_t nul_svg[] = "<svg>\0</svg>";
    assert_int_equal(brand_logo_check(nul_svg, sizeof(nul_svg) - 1, &mime, err, sizeof(err)),
                     OG_ERR_INVALID);
}

static void test_active_svg_refused(void **state)
{
    (void)state;
    const struct {
        const char *svg, *what;
    } cases[] = {
        {"<svg><script>alert(1)</script></svg>", "a script"},
        {"<svg><SCRIPT href=\"x.js\"/></svg>", "a script"},
        {"<svg onload=\"alert(1)\"/>", "an event handler"},
        {"<svg><rect\nONCLICK = 'x'/></svg>", "an event handler"},
        {"<svg><rect/onmouseover=x></svg>", "an event handler"},
        {"<svg><foreignObject><p/></foreignObject></svg>", "a foreignObject"},
        {"<svg><a href=\"JavaScript:alert(1)\"><rect/></a></svg>", "a javascript: URL"},
        {"<svg><a href=\"java\tscr\nipt:alert(1)\"><rect/></a></svg>", "a javascript: URL"},
        {"<svg><a xlink:href=\"&#106;avascript:alert(1)\"><rect/></a></svg>",
         "a character reference inside a tag"},
        {"<svg><a href=\"&#x6A;avascript:x\"/></svg>", "a character reference inside a tag"},
        {"<svg><iframe src=\"x\"/></svg>", "an iframe"},
        {"<svg><embed src=\"x\"/></svg>", "an embed"},
        {"<svg><object data=\"x\"/></svg>", "an object"},
        {"<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY lol \"lol\">]><svg>&lol;</svg>",
         "an entity declaration"},
        {"<?xml version=\"1.0\"?><?xml-stylesheet href=\"x.css\"?><svg/>", "an XML stylesheet"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *mime = "unset";
        char err[256];
        assert_int_equal(check(cases[i].svg, &mime, err), OG_ERR_INVALID);
        if (!strstr(err, cases[i].what))
            fail_msg("case %zu: '%s' does not name %s", i, err, cases[i].what);
        assert_null(mime);
    }
}

static void test_size(void **state)
{
    (void)state;
    const char *mime;
    char err[256];
    size_t n = BRAND_LOGO_MAX + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    memcpy(big, PNG, sizeof(PNG));
    assert_int_equal(brand_logo_check(big, n, &mime, err, sizeof(err)), OG_ERR_TOO_BIG);
    assert_non_null(strstr(err, "at most 256 KiB"));
    assert_int_equal(brand_logo_check(big, n - 1, &mime, err, sizeof(err)), OG_OK);
    free(big);
    assert_int_equal(brand_logo_check(PNG, 0, &mime, err, sizeof(err)), OG_ERR_TOO_BIG);
}

static int64_t count_logos(struct store *s)
{
    db_stmt *st = store_stmt(s, "SELECT count(*) FROM brand_logos");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    int64_t n = db_column_int64(st, 0);
    db_reset(st);
    return n;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_save_and_read(void **state)
{
    (void)state;
    char dir[64], db[200], err[256], url1[64], url2[64], url3[64], v[BRAND_VERSION_LEN];
    tu_tmpdir(dir, sizeof(dir), "brand");
    snprintf(db, sizeof(db), "%s/otpgate.db", dir);
    struct store *s;
    assert_int_equal(tu_store_open(db, &s, err, sizeof(err)), OG_OK);
    assert_int_equal(
        brand_logo_save(s, PNG, sizeof(PNG), NULL, 1, url1, sizeof(url1), err, sizeof(err)), OG_OK);
    assert_true(brand_logo_version(url1, v));
    assert_int_equal(strlen(url1), strlen("/brand/logo?v=") + 16);
    brand_logo_url(PNG, sizeof(PNG), url2, sizeof(url2));
    assert_string_equal(url1, url2);
    /* The same bytes give the same version, stored once. */
    assert_int_equal(
        brand_logo_save(s, PNG, sizeof(PNG), url1, 2, url2, sizeof(url2), err, sizeof(err)), OG_OK);
    assert_string_equal(url1, url2);
    assert_int_equal(count_logos(s), 1);

    uint8_t *data;
    size_t len;
    const char *mime;
    assert_int_equal(brand_logo_read(s, dir, v, &data, &len, &mime), OG_OK);
    assert_int_equal(len, sizeof(PNG));
    assert_memory_equal(data, PNG, len);
    assert_string_equal(mime, "image/png");
    free(data);

    /* A second logo keeps the one in use; a third drops the first. */
    assert_int_equal(
        brand_logo_save(s, JPEG, sizeof(JPEG), url1, 3, url2, sizeof(url2), err, sizeof(err)),
        OG_OK);
    assert_int_equal(count_logos(s), 2);
    assert_int_equal(
        brand_logo_save(s, WEBP, sizeof(WEBP), url2, 4, url3, sizeof(url3), err, sizeof(err)),
        OG_OK);
    assert_int_equal(count_logos(s), 2);
    assert_int_equal(brand_logo_read(s, dir, v, &data, &len, &mime), OG_ERR_NOT_FOUND);

    /* Refused input stores nothing; malformed versions read nothing. */
    static const char evil[] = "<svg onload=\"x\"/>";
    assert_int_equal(brand_logo_save(s, (const uint8_t *)evil, sizeof(evil) - 1, NULL, 5, url1,
                                     sizeof(url1), err, sizeof(err)),
                     OG_ERR_INVALID);
    assert_int_equal(count_logos(s), 2);
    assert_int_equal(brand_logo_read(s, dir, "../../etc/passwd", &data, &len, &mime),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(brand_logo_read(s, dir, "0123456789ABCDEF", &data, &len, &mime),
                     OG_ERR_NOT_FOUND);
    assert_false(brand_logo_version("/brand/logo?v=0123456789abcdef0", v));
    assert_false(brand_logo_version("/static/img/logo.svg", v));
    store_close(s);
    tu_rmtree(dir);
}

/* An install that uploaded its logo before logos moved into the database
 * has only the file "brand-logo-<v>" in its data directory. */
static void test_logo_file_taken_in(void **state)
{
    (void)state;
    char dir[64], db[200], err[256], url[64], v[BRAND_VERSION_LEN], path[200];
    tu_tmpdir(dir, sizeof(dir), "brandold");
    snprintf(db, sizeof(db), "%s/otpgate.db", dir);
    struct store *s;
    assert_int_equal(tu_store_open(db, &s, err, sizeof(err)), OG_OK);
    /* Nothing named: nothing to do. */
    assert_int_equal(brand_logo_adopt(s, dir, 1), OG_OK);
    assert_int_equal(count_logos(s), 0);

    brand_logo_url(PNG, sizeof(PNG), url, sizeof(url));
    assert_true(brand_logo_version(url, v));
    assert_int_equal(brand_set(s, "logo", url), OG_OK);
    /* The file missing: still nothing, and no failure. */
    assert_int_equal(brand_logo_adopt(s, dir, 1), OG_OK);
    assert_int_equal(count_logos(s), 0);

    snprintf(path, sizeof(path), "%s/brand-logo-%s", dir, v);
    write_file(path, PNG, sizeof(PNG));
    uint8_t *data;
    size_t len;
    const char *mime;
    /* Read from the file while only the file holds it. */
    assert_int_equal(brand_logo_read(s, dir, v, &data, &len, &mime), OG_OK);
    free(data);
    assert_int_equal(brand_logo_read(s, NULL, v, &data, &len, &mime), OG_ERR_NOT_FOUND);
    assert_int_equal(brand_logo_adopt(s, dir, 1), OG_OK);
    assert_int_equal(count_logos(s), 1);
    unlink(path);
    assert_int_equal(brand_logo_read(s, NULL, v, &data, &len, &mime), OG_OK);
    assert_memory_equal(data, PNG, sizeof(PNG));
    free(data);
    assert_int_equal(brand_logo_adopt(s, dir, 2), OG_OK); /* once is enough */
    assert_int_equal(count_logos(s), 1);

    /* A file changed behind otpgate's back no longer passes. */
    assert_int_equal(
        brand_logo_save(s, JPEG, sizeof(JPEG), NULL, 3, url, sizeof(url), err, sizeof(err)), OG_OK);
    assert_int_equal(count_logos(s), 1);
    char w[BRAND_VERSION_LEN];
    brand_logo_url(WEBP, sizeof(WEBP), url, sizeof(url));
    assert_true(brand_logo_version(url, w));
    snprintf(path, sizeof(path), "%s/brand-logo-%s", dir, w);
    static const char html[] = "<html><script>x</script></html>";
    write_file(path, html, sizeof(html) - 1);
    assert_int_equal(brand_logo_read(s, dir, w, &data, &len, &mime), OG_ERR_INVALID);
    store_close(s);
    tu_rmtree(dir);
}

static void test_store(void **state)
{
    (void)state;
    char dir[64], db[200], err[256], v[BRAND_VALUE_LEN];
    tu_tmpdir(dir, sizeof(dir), "brandstore");
    snprintf(db, sizeof(db), "%s/otpgate.db", dir);
    struct store *s;
    assert_int_equal(tu_store_open(db, &s, err, sizeof(err)), OG_OK);
    assert_int_equal(brand_get(s, "name", v, sizeof(v)), OG_OK);
    assert_string_equal(v, "");
    assert_int_equal(brand_set(s, "name", "Acme ID"), OG_OK);
    assert_int_equal(brand_get(s, "name", v, sizeof(v)), OG_OK);
    assert_string_equal(v, "Acme ID");
    assert_int_equal(brand_set(s, "accent", "blue"), OG_ERR_INVALID);
    assert_int_equal(brand_set(s, "nope", "x"), OG_ERR_INVALID);
    assert_int_equal(brand_get(s, "nope", v, sizeof(v)), OG_ERR_INVALID);
    assert_int_equal(brand_set(s, "name", ""), OG_OK);
    assert_int_equal(brand_get(s, "name", v, sizeof(v)), OG_OK);
    assert_string_equal(v, "");
    store_close(s);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_active_svg_refused),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_save_and_read),
        cmocka_unit_test(test_logo_file_taken_in),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
