/* Unit tests of the webhook signature (src/gateway/delivery/webhooks.c) against the
 * example of the Standard Webhooks specification, and its sensitivity to
 * each signed part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>

#include "gateway/delivery/webhooks.h"

/* The specification's example: secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,
 * id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body
 * {"test": 2432232314}. */
static const char SECRET_B64[] = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char ID[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char BODY[] = "{\"test\": 2432232314}";
static const char SIG[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static size_t key_of(uint8_t key[64])
{
    int n = EVP_DecodeBlock(key, (const unsigned char *)SECRET_B64, (int)strlen(SECRET_B64));
    assert_int_equal(n, 24);
    return (size_t)n;
}

static void test_spec_example(void **state)
{
    (void)state;
    uint8_t key[64];
    size_t keylen = key_of(key);
    char out[WEBHOOKS_SIG_LEN];
    webhooks_sign(key, keylen, ID, 1614265330, BODY, strlen(BODY), out, sizeof(out));
    assert_string_equal(out, SIG);
}

static void test_every_part_is_signed(void **state)
{
    (void)state;
    uint8_t key[64];
    size_t keylen = key_of(key);
    char out[WEBHOOKS_SIG_LEN];
    webhooks_sign(key, keylen, ID, 1614265331, BODY, strlen(BODY), out, sizeof(out));
    assert_string_not_equal(out, SIG);
    webhooks_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJel", 1614265330, BODY, strlen(BODY), out,
                  sizeof(out));
    assert_string_not_equal(out, SIG);
    webhooks_sign(key, keylen, ID, 1614265330, BODY, strlen(BODY) - 1, out, sizeof(out));
    assert_string_not_equal(out, SIG);
    key[0] ^= 1;
    webhooks_sign(key, keylen, ID, 1614265330, BODY, strlen(BODY), out, sizeof(out));
    assert_string_not_equal(out, SIG);
    /* Too small a buffer gives nothing, never a cut signature. */
    char tiny[10] = "x";
    webhooks_sign(key, keylen, ID, 1614265330, BODY, strlen(BODY), tiny, sizeof(tiny));
    assert_string_equal(tiny, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_every_part_is_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
