/* Unit tests of src/core/contact.c: E.164 normalisation and refusals,
 * country calling code lengths, email validation, and the display masks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/contact.h"

static void test_phone_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"+44 20 7946 0958", "+442079460958"},     {"+1 (415) 555-2671", "+14155552671"},
        {"0044 20 7946 0958", "+442079460958"},    {"0044-20-7946-0958", "+442079460958"},
        {"+33.1.23.45.67.89", "+33123456789"},     {"  +852 2123 4567  ", "+85221234567"},
        {"(+49) 30 123456", "+4930123456"},        {"+12345678", "+12345678"}, /* 8 digits */
        {"+123456789012345", "+123456789012345"},                              /* 15 digits */
        {"00123456789012345", "+123456789012345"}, {"+7 (495) 123-45-67", "+74951234567"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char out[CONTACT_PHONE_SIZE];
        assert_int_equal(contact_phone_normalize(ok[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, ok[i].out);
    }
}

static void test_phone_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "+",
        "00",
        "020 7946 0958",     /* national form, no + or 00 */
        "44 20 7946 0958",   /* no + */
        "+1234567",          /* 7 digits */
        "+1234567890123456", /* 16 digits */
        "001234567",         /* 7 digits after 00 */
        "+0 20 7946 0958",   /* first digit 0 */
        "000 20 7946 0958",  /* 00 then 0 */
        "+44 20 7946 0958 ext 12",
        "+44/20/7946/0958",
        "+44 20 7946 095+8",
        "++44 20 7946 0958",
        "0+44 20 7946 0958",
        "+44\t2079460958",
        "+44 20 7946 0958\n",
        "+٤٤2079460958", /* non-ASCII digits */
        "+4420794609581234567890123456789",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char out[CONTACT_PHONE_SIZE];
        memset(out, 'x', sizeof(out));
        int rc = contact_phone_normalize(bad[i], out, sizeof(out));
        if (rc != OG_ERR_INVALID)
            fail_msg("accepted or wrong error %d: %s", rc, bad[i]);
        assert_string_equal(out, "");
    }
    char small[CONTACT_PHONE_SIZE - 1];
    assert_int_equal(contact_phone_normalize("+442079460958", small, sizeof(small)),
                     OG_ERR_TOO_BIG);
}

static void test_phone_cc_len(void **state)
{
    (void)state;
    static const struct {
        const char *e164;
        int len;
    } cases[] = {
        {"+14155552671", 1},
        {"+442079460958", 2},
        {"+85221234567", 3},
        {"+8613812345678", 2},
        {"+74951234567", 1},
        {"+33123456789", 2},
        {"+358401234567", 3},
        {"+971501234567", 3},
        {"+4930123456", 2},
        {"+2348012345678", 3},
        {"+201001234567", 2},
        {"+27821234567", 2},
        {"+3531234567", 3},
        {"+39061234567", 2},
        {"+420123456789", 3},
        {"+5511912345678", 2},
        {"+59912345678", 3},
        {"+6421234567", 2},
        {"+672123456", 3},
        {"+81312345678", 2},
        {"+886912345678", 3},
        {"+88212345678", 3},
        {"+80012345678", 3},
        {"+9647501234567", 3},
        {"+98912345678", 2},
        {"+998901234567", 3},
        {"+383441234567", 3},
        {"+211912345678", 3},
        {"+299123456", 3},
        {"+290123456", 3},
        /* unassigned codes */
        {"+2101234567", 0},
        {"+28123456789", 0},
        {"+42212345678", 0},
        {"+38412345678", 0},
        {"+6711234567", 0},
        {"+8351234567", 0},
        {"+9691234567", 0},
        {"+9901234567", 0},
        {"+9991234567", 0},
        {"+0123456789", 0},
        {"+01234567", 0},
        /* not E.164 */
        {"442079460958", 0},
        {"", 0},
        {"+", 0},
        {"+4", 0},
        {"+a", 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int got = contact_phone_cc_len(cases[i].e164);
        if (got != cases[i].len)
            fail_msg("%s: cc length %d, want %d", cases[i].e164, got, cases[i].len);
    }
    assert_int_equal(contact_phone_cc_len(NULL), 0);
    /* "+1" and "+7" followed by anything are whole codes */
    assert_int_equal(contact_phone_cc_len("+1"), 1);
    assert_int_equal(contact_phone_cc_len("+44"), 2);
    assert_int_equal(contact_phone_cc_len("+852"), 3);
}

static void test_email_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"alice@example.com", "alice@example.com"},
        {"Alice.Smith@Example.COM", "Alice.Smith@example.com"},
        {"  bob+tag@mail.example.co.uk\t", "bob+tag@mail.example.co.uk"},
        {"x@a-b.c0", "x@a-b.c0"},
        {"o'brien!#$%&*/=?^_`{|}~-@ex.org", "o'brien!#$%&*/=?^_`{|}~-@ex.org"},
        {"a@1.2", "a@1.2"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char out[CONTACT_EMAIL_SIZE];
        assert_int_equal(contact_email_normalize(ok[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, ok[i].out);
    }
    /* the length limits, exactly */
    char in[400], out[CONTACT_EMAIL_SIZE];
    memset(in, 'l', 64);
    memcpy(in + 64, "@example.com", 13);
    assert_int_equal(contact_email_normalize(in, out, sizeof(out)), 0);
    memset(in, 'l', 65);
    memcpy(in + 65, "@example.com", 13);
    assert_int_equal(contact_email_normalize(in, out, sizeof(out)), OG_ERR_INVALID);
    /* a 63-character label is fine, 64 is not */
    memcpy(in, "a@", 2);
    memset(in + 2, 'd', 63);
    memcpy(in + 65, ".com", 5);
    assert_int_equal(contact_email_normalize(in, out, sizeof(out)), 0);
    memset(in + 2, 'd', 64);
    memcpy(in + 66, ".com", 5);
    assert_int_equal(contact_email_normalize(in, out, sizeof(out)), OG_ERR_INVALID);
    /* 254 in all is fine, 255 is not: 64 + '@' + 189-char domain */
    for (int total = 254; total <= 255; total++) {
        memset(in, 'l', 64);
        in[64] = '@';
        size_t p = 65;
        while (p < (size_t)total) {
            size_t left = (size_t)total - p, lab = left > 50 ? 49 : left;
            memset(in + p, 'd', lab);
            p += lab;
            if (p < (size_t)total)
                in[p++] = '.';
        }
        in[p] = '\0';
        assert_int_equal(strlen(in), (size_t)total);
        assert_int_equal(contact_email_normalize(in, out, sizeof(out)),
                         total == 254 ? 0 : OG_ERR_INVALID);
    }
    char small[CONTACT_EMAIL_SIZE - 1];
    assert_int_equal(contact_email_normalize("a@b.c", small, sizeof(small)), OG_ERR_TOO_BIG);
}

/* The per-destination key: spellings of one mailbox or number share it,
 * other mailboxes do not. */
static void test_dest_key(void **state)
{
    (void)state;
    static const struct {
        const char *in, *key;
    } email[] = {
        {"victim@example.com", "victim@example.com"},
        {"Victim@example.com", "victim@example.com"},
        {"vIctim@EXAMPLE.com", "victim@example.com"},
        {"  VICTIM@Example.Com\t", "victim@example.com"},
        {"victim+a@example.com", "victim@example.com"},
        {"Victim+Tag+More@example.com", "victim@example.com"},
        {"victim+@example.com", "victim@example.com"},
        {"v.ictim@example.com", "v.ictim@example.com"}, /* dots count elsewhere */
        {"V.I.C.T.I.M@Gmail.com", "victim@gmail.com"},
        {"victim+x@googlemail.com", "victim@gmail.com"},
        {"vic.tim@googlemail.com", "victim@gmail.com"},
        {"+tag@example.com", "+tag@example.com"}, /* a '+' first is the name */
        {"+A+b@example.com", "+a@example.com"},
        {"...@gmail.com", "...@gmail.com"}, /* nothing would be left */
        {"o'Brien!#$%&*/=?^_`{|}~-@ex.org", "o'brien!#$%&*/=?^_`{|}~-@ex.org"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(email); i++) {
        char out[CONTACT_EMAIL_SIZE];
        assert_int_equal(contact_dest_key(CONTACT_EMAIL, email[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, email[i].key);
        /* A key is its own key. */
        char again[CONTACT_EMAIL_SIZE];
        assert_int_equal(contact_dest_key(CONTACT_EMAIL, out, again, sizeof(again)), 0);
        assert_string_equal(again, out);
    }
    static const struct {
        const char *in, *key;
    } phone[] = {
        {"+442079460958", "+442079460958"},
        {"+44 20 7946 0958", "+442079460958"},
        {"0044 (20) 7946-0958", "+442079460958"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(phone); i++) {
        char out[CONTACT_EMAIL_SIZE];
        assert_int_equal(contact_dest_key(CONTACT_PHONE, phone[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, phone[i].key);
    }
    /* Different mailboxes stay apart. */
    char a[CONTACT_EMAIL_SIZE], b[CONTACT_EMAIL_SIZE];
    assert_int_equal(contact_dest_key(CONTACT_EMAIL, "victim@example.com", a, sizeof(a)), 0);
    assert_int_equal(contact_dest_key(CONTACT_EMAIL, "victim@example.org", b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(contact_dest_key(CONTACT_EMAIL, "victim2@example.com", b, sizeof(b)), 0);
    assert_string_not_equal(a, b);
    /* The longest address keeps its length. */
    char in[CONTACT_EMAIL_SIZE];
    memset(in, 'L', 64);
    in[64] = '@';
    memset(in + 65, 'd', 60);
    memcpy(in + 125, ".com", 5);
    assert_int_equal(contact_dest_key(CONTACT_EMAIL, in, a, sizeof(a)), 0);
    assert_int_equal(strlen(a), 129);
    assert_int_equal(a[0], 'l');
    /* What does not normalise has no key. */
    static const char *bad[] = {"", "victim", "victim@localhost", "a b@example.com"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(a, sizeof(a), "x");
        assert_int_equal(contact_dest_key(CONTACT_EMAIL, bad[i], a, sizeof(a)), OG_ERR_INVALID);
        assert_string_equal(a, "");
    }
    snprintf(a, sizeof(a), "x");
    assert_int_equal(contact_dest_key(CONTACT_PHONE, "020 7946 0958", a, sizeof(a)),
                     OG_ERR_INVALID);
    assert_string_equal(a, "");
    char small[CONTACT_EMAIL_SIZE - 1];
    assert_int_equal(contact_dest_key(CONTACT_EMAIL, "a@b.c", small, sizeof(small)),
                     OG_ERR_TOO_BIG);
}

static void test_email_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "a@b@example.com",
        "alice@localhost",    /* no dot */
        "alice@example..com", /* empty label */
        "alice@.example.com",
        "alice@example.com.",
        "alice@-example.com", /* label starting with '-' */
        "alice@example-.com", /* or ending with it */
        "alice@exa_mple.com",
        "alice@exämple.com",  /* IDN must come as punycode */
        "al ice@example.com", /* space in the local part */
        "al\tice@example.com",
        "alice@exa mple.com",
        "\"alice\"@example.com",
        "al(ice)@example.com",
        "a<b>@example.com",
        "a[b]@example.com",
        "a:b@example.com",
        "a;b@example.com",
        "a\\b@example.com",
        "a,b@example.com",
        "äl@example.com",
        "alice@example.com\n",
        "alice\x7f@example.com",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char out[CONTACT_EMAIL_SIZE];
        memset(out, 'x', sizeof(out));
        int rc = contact_email_normalize(bad[i], out, sizeof(out));
        if (rc != OG_ERR_INVALID)
            fail_msg("accepted or wrong error %d: %s", rc, bad[i]);
        assert_string_equal(out, "");
    }
}

#define B "\xe2\x80\xa2"

static void test_phone_mask(void **state)
{
    (void)state;
    static const struct {
        const char *e164, *mask;
    } cases[] = {
        {"+442079461234", "+44 " B B B B " " B B "12 34"},
        {"+14155552671", "+1 " B B B B " " B B "26 71"},
        {"+85221234567", "+852 " B B B B " 4567"},
        {"+35812345", "+358 " B "234 5"},
        {"+12345678", "+1 " B B B "5 678"},
        {"+8351234567", "+" B B B B " " B B "45 67"}, /* unknown code */
        {"+123456789012345", "+1 " B B B B " " B B B B " " B B "23 45"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char out[CONTACT_MASK_SIZE];
        contact_phone_mask(cases[i].e164, out, sizeof(out));
        assert_string_equal(out, cases[i].mask);
    }
    char out[CONTACT_MASK_SIZE];
    static const char *bad[] = {"442079461234", "+44 20", "+", "+1234567890123456", ""};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        memset(out, 'x', sizeof(out));
        contact_phone_mask(bad[i], out, sizeof(out));
        assert_string_equal(out, "");
    }
    contact_phone_mask(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    /* a buffer too small for the mask gets "" rather than a cut character */
    char small[10];
    contact_phone_mask("+442079461234", small, sizeof(small));
    assert_string_equal(small, "");
}

static void test_email_mask(void **state)
{
    (void)state;
    char out[CONTACT_MASK_SIZE + 256];
    contact_email_mask("john@example.com", out, sizeof(out));
    assert_string_equal(out, "j" B B B "@example.com");
    contact_email_mask("j@example.com", out, sizeof(out));
    assert_string_equal(out, "j" B B B "@example.com");
    contact_email_mask("\xc3\xa9mile@example.com", out, sizeof(out));
    assert_string_equal(out, B B B B "@example.com");
    contact_email_mask("nobody", out, sizeof(out));
    assert_string_equal(out, "");
    contact_email_mask("@example.com", out, sizeof(out));
    assert_string_equal(out, "");
    contact_email_mask(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    char small[12];
    contact_email_mask("john@example.com", small, sizeof(small));
    assert_string_equal(small, "");
}

/* Found by fuzz_contact: CONTACT_MASK_SIZE was 96, so a valid address on a
 * long domain was masked to "" (an empty destination on pages and in the
 * API). Every valid address must fit, up to the 254-byte maximum. */
static void test_email_mask_longest(void **state)
{
    (void)state;
    char in[CONTACT_EMAIL_SIZE], email[CONTACT_EMAIL_SIZE], out[CONTACT_MASK_SIZE];
    char label[64];
    memset(label, 'a', 63);
    label[63] = '\0';
    /* "j@" + 63.63.63.60 = 254 bytes, the longest address accepted */
    snprintf(in, sizeof(in), "j@%s.%s.%s.%.60s", label, label, label, label);
    assert_int_equal(strlen(in), CONTACT_EMAIL_MAX);
    assert_int_equal(contact_email_normalize(in, email, sizeof(email)), OG_OK);
    contact_email_mask(email, out, sizeof(out));
    assert_true(strlen(out) > 0);
    assert_string_equal(strchr(out, '@'), strchr(email, '@'));
    assert_memory_equal(out, "j" B B B, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_normalize), cmocka_unit_test(test_phone_refusals),
        cmocka_unit_test(test_phone_cc_len),    cmocka_unit_test(test_email_normalize),
        cmocka_unit_test(test_email_refusals),  cmocka_unit_test(test_phone_mask),
        cmocka_unit_test(test_email_mask),      cmocka_unit_test(test_email_mask_longest),
        cmocka_unit_test(test_dest_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
