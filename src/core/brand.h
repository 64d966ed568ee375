/* The look of the pages that the admin sets (`otpgate brand set`, the
 * console's Branding page): the checks of each brand value, shared by the
 * CLI and the console so both refuse the same things, their storage in the
 * meta table, and an uploaded logo: its type told by its first bytes (PNG,
 * JPEG, WebP, or SVG without scripts), copied into the data directory
 * under a name that carries its hash. No libuv, no HTTP. */
#ifndef OTPGATE_BRAND_H
#define OTPGATE_BRAND_H

#include "core/common.h"
#include "core/store/store.h"

#define BRAND_NAME_MAX    64            /* bytes of the product name */
#define BRAND_SUPPORT_MAX 200           /* bytes of the support contact */
#define BRAND_LOGO_MAX    (256 * 1024)  /* bytes of an uploaded logo file */
#define BRAND_VALUE_LEN   256           /* buffer for any stored brand value */
#define BRAND_LOGO_PATH   "/brand/logo" /* where otpgate serves an uploaded logo */
#define BRAND_VERSION_LEN 17            /* 16 hex characters of SHA-256 + NUL */

/* The keys, in the order `brand show` lists them: "name", "accent", "logo",
 * "support". */
extern const char *const brand_keys[4];

/* Whether key is one of brand_keys. */
bool brand_key_known(const char *key);

/* Checks value for key: NULL when acceptable (the empty value, which goes
 * back to the default, always is), else a static phrase saying what is
 * wrong ("must be a colour like #1d4ed8"). name: 1..64 bytes, support:
 * 1..200, no control characters; accent: #rgb or #rrggbb; logo: a path
 * otpgate serves, under /static/ ("/static/img/logo.svg") or an uploaded
 * logo's "/brand/logo?v=<16 hex>", never another origin, at most 200
 * bytes, no quotes, angle brackets or blanks. */
const char *brand_check(const char *key, const char *value);

/* Reads brand value key into out (outlen >= BRAND_VALUE_LEN): "" when unset.
 * Returns 0 or a store error. */
int brand_get(struct store *s, const char *key, char *out, size_t outlen);

/* Checks value with brand_check and stores it as meta "brand_<key>"
 * (joins the caller's transaction if one is open). Returns 0,
 * OG_ERR_INVALID (unknown key or a refused value) or a store error. */
int brand_set(struct store *s, const char *key, const char *value);

/* Tells an uploaded logo's type by its first bytes: "image/png",
 * "image/jpeg", "image/webp" or "image/svg+xml" into *mime (static). An SVG
 * must be text whose first tag is an XML declaration, a comment, a doctype
 * or <svg>, and is refused when it holds a script, an event handler
 * attribute (on…=), a javascript: URL, a foreignObject, an iframe, embed
 * or object, an entity declaration or an XML stylesheet. Returns 0,
 * OG_ERR_TOO_BIG (over BRAND_LOGO_MAX or empty: one line in err) or
 * OG_ERR_INVALID (one line in err naming what was found). */
int brand_logo_check(const uint8_t *data, size_t len, const char **mime, char *err, size_t errlen);

/* The version of an uploaded logo's URL ("/brand/logo?v=<16 hex>") into v;
 * false for any other value (a /static path, "", garbage). */
bool brand_logo_version(const char *url, char v[BRAND_VERSION_LEN]);

/* The URL brand_logo_save gives these bytes ("/brand/logo?v=<16 hex>"). */
void brand_logo_url(const uint8_t *data, size_t len, char *url, size_t urllen);

/* Stores a checked logo in brand_logos under its version v (the first 16
 * hex characters of its SHA-256) and writes its URL "/brand/logo?v=<v>"
 * into url (urllen >= 64); then deletes every other stored logo but the
 * one keep_url names (the logo pages show until the caller's transaction
 * commits; may be NULL). Joins the caller's transaction. Returns 0,
 * OG_ERR_INVALID / OG_ERR_TOO_BIG (brand_logo_check refused it) or
 * OG_ERR_DB, with one line in err. */
int brand_logo_save(struct store *s, const uint8_t *data, size_t len, const char *keep_url,
                    int64_t now_ms, char *url, size_t urllen, char *err, size_t errlen);

/* Reads the logo of version v into a malloc'd *data (the caller frees it)
 * and tells its type as brand_logo_check does: its row in brand_logos, or
 * else (data_dir not NULL) the file "brand-logo-<v>" of data_dir that an
 * upload before schema version 20 wrote. Returns 0, OG_ERR_NOT_FOUND,
 * OG_ERR_INVALID (the bytes no longer pass the check), OG_ERR_IO or
 * OG_ERR_DB. */
int brand_logo_read(struct store *s, const char *data_dir, const char *v, uint8_t **data,
                    size_t *len, const char **mime);

/* When the brand names an uploaded logo that only a file in data_dir
 * holds, stores it in brand_logos (at start, and after `migrate --to`),
 * so instances on other machines serve it too. Returns 0 or OG_ERR_DB. */
int brand_logo_adopt(struct store *s, const char *data_dir, int64_t now_ms);

#endif
