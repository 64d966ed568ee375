/* Passkey ceremonies (see webauthn_ceremony.h): the webauthn_challenges
 * rows, each taken once by the session or API call it was made for, and
 * the registration and sign-in that finish them with the checks of
 * webauthn.c, the store of webauthn_store.c and the lockout of users.c.
 * The challenge bytes are no secret; nothing secret is stored. */
#include "core/webauthn_ceremony.h"

#include "core/gate.h"

#include <openssl/crypto.h>
#include <stdio.h>

static const char SQL_INSERT[] =
    "INSERT INTO webauthn_challenges (id, user_id, kind, challenge, binding, status, expires_at, "
    "created_at, client_ip) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)";
static const char SQL_GET[] =
    "SELECT w.user_id, w.kind, w.challenge, w.binding, w.status, w.expires_at FROM "
    "webauthn_challenges w JOIN users u ON u.id = w.user_id WHERE w.id = ? AND u.app_id = ?";
static const char SQL_TAKE[] =
    "UPDATE webauthn_challenges SET status = 'done' WHERE id = ? AND status = 'open'";
static const char SQL_USER[] =
    "SELECT u.sub FROM webauthn_challenges w JOIN users u ON u.id = w.user_id WHERE w.id = ? AND "
    "u.app_id = ?";
static const char SQL_PRUNE[] = "DELETE FROM webauthn_challenges WHERE expires_at <= ?";

static const char *const kind_names[] = {"register", "signin"};
enum kind { KIND_REGISTER = 0, KIND_SIGNIN = 1 };

bool webauthn_challenge_id_is(const char *id)
{
    return id && strncmp(id, WEBAUTHN_CHALLENGE_ID, strlen(WEBAUTHN_CHALLENGE_ID)) == 0;
}

/* ---- the challenges ---- */

/* How long a ceremony lives: as long as a code (the policy's code_ttl),
 * at most WEBAUTHN_TIMEOUT_MAX seconds, which the browser is told too. */
static unsigned lifetime_s(const struct mfa_ctx *c)
{
    unsigned s = c->pol->code_ttl;
    return s == 0 ? 1 : s > WEBAUTHN_TIMEOUT_MAX ? WEBAUTHN_TIMEOUT_MAX : s;
}

/* Stores a fresh challenge of kind for u; its bytes into bytes. */
static enum mfa_result challenge_new(const struct mfa_ctx *c, const struct mfa_user *u,
                                     enum kind kind, const uint8_t *binding,
                                     uint8_t bytes[WEBAUTHN_CHALLENGE_LEN],
                                     struct webauthn_begun *out)
{
    memset(out, 0, sizeof(*out));
    random_bytes(bytes, WEBAUTHN_CHALLENGE_LEN);
    random_id(WEBAUTHN_CHALLENGE_ID, out->id, sizeof(out->id));
    out->expires_at = c->now_ms + (int64_t)lifetime_s(c) * 1000;
    db_stmt *st = store_stmt(c->store, SQL_INSERT);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, out->id, -1);
    db_bind_int64(st, 2, u->id);
    db_bind_text(st, 3, kind_names[kind], -1);
    db_bind_blob(st, 4, bytes, WEBAUTHN_CHALLENGE_LEN);
    if (binding)
        db_bind_blob(st, 5, binding, WEBAUTHN_BINDING_LEN);
    else
        db_bind_null(st, 5);
    db_bind_int64(st, 6, out->expires_at);
    db_bind_int64(st, 7, c->now_ms);
    db_bind_text(st, 8, c->client_ip, -1);
    return store_exec_done(st) == OG_OK ? MFA_OK : MFA_ERROR;
}

/* Takes ceremony id of kind for u with binding: it must be u's, of this
 * app, of that kind, made for that binding (both NULL, or the same
 * bytes), still open and not expired. Taking it ends it, whatever the
 * answer turns out to be: a challenge is signed over once. */
static enum mfa_result challenge_take(const struct mfa_ctx *c, const struct mfa_user *u,
                                      enum kind kind, const char *id, const uint8_t *binding,
                                      uint8_t bytes[WEBAUTHN_CHALLENGE_LEN])
{
    if (!webauthn_challenge_id_is(id) || strlen(id) >= MFA_ID_LEN)
        return MFA_NOT_FOUND;
    db_stmt *st = store_stmt(c->store, SQL_GET);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_text(st, 2, c->app_id, -1);
    int rc = db_step(st);
    if (rc != DB_ROW) {
        db_reset(st);
        return rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
    }
    const char *k = (const char *)db_column_text(st, 1);
    const void *b = db_column_blob(st, 3);
    int blen = db_column_bytes(st, 3);
    bool mine =
        db_column_int64(st, 0) == u->id && k && strcmp(k, kind_names[kind]) == 0 &&
        db_column_bytes(st, 2) == WEBAUTHN_CHALLENGE_LEN &&
        (binding ? (b && blen == WEBAUTHN_BINDING_LEN && ct_equal(b, binding, WEBAUTHN_BINDING_LEN))
                 : db_column_type(st, 3) == DB_NULL);
    const char *status = (const char *)db_column_text(st, 4);
    bool open = status && strcmp(status, "open") == 0;
    int64_t expires_at = db_column_int64(st, 5);
    if (mine)
        memcpy(bytes, db_column_blob(st, 2), WEBAUTHN_CHALLENGE_LEN);
    db_reset(st);
    if (!mine)
        return MFA_NOT_FOUND;
    if (!open)
        return MFA_DONE;
    if (c->now_ms >= expires_at)
        return MFA_EXPIRED;
    st = store_stmt(c->store, SQL_TAKE);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    if (store_exec_done(st) != OG_OK)
        return MFA_ERROR;
    /* Only the call that flipped it from open goes on. */
    return store_changes(c->store) == 1 ? MFA_OK : MFA_DONE;
}

enum mfa_result webauthn_challenge_user(const struct mfa_ctx *c, const char *id, struct mfa_user *u)
{
    if (!webauthn_challenge_id_is(id) || strlen(id) >= MFA_ID_LEN)
        return MFA_NOT_FOUND;
    db_stmt *st = store_stmt(c->store, SQL_USER);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_text(st, 2, c->app_id, -1);
    int rc = db_step(st);
    char sub[MFA_SUB_MAX + 1] = "";
    if (rc == DB_ROW)
        snprintf(sub, sizeof(sub), "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
    if (rc != DB_ROW)
        return rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
    return users_find(c, sub, u);
}

int webauthn_challenges_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_PRUNE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    return store_exec_done(st);
}

/* ---- the user's passkeys as descriptors ---- */

struct descriptors {
    struct webauthn_descriptor d[32];
    uint8_t ids[32][WEBAUTHN_CRED_ID_MAX];
    size_t count;
};

static void collect_descriptor(const struct webauthn_stored *s, void *arg)
{
    struct descriptors *l = arg;
    if (l->count >= ARRAY_SIZE(l->d))
        return;
    memcpy(l->ids[l->count], s->cred.id, s->cred.id_len);
    l->d[l->count] = (struct webauthn_descriptor){
        .id = l->ids[l->count], .id_len = s->cred.id_len, .transports = s->cred.transports};
    l->count++;
}

static enum mfa_result user_descriptors(const struct mfa_ctx *c, const struct mfa_user *u,
                                        const char *rp_id, struct descriptors **out)
{
    struct descriptors *l = og_malloc(sizeof(*l)); /* ~33 KiB: not on the stack */
    l->count = 0;
    enum mfa_result r = webauthn_credential_each(c, u, rp_id, collect_descriptor, l);
    if (r != MFA_OK) {
        free(l);
        return r;
    }
    *out = l;
    return MFA_OK;
}

/* ---- begin ---- */

enum mfa_result webauthn_register_begin(const struct mfa_ctx *c, const struct mfa_user *u,
                                        const struct webauthn_party *rp, const uint8_t *binding,
                                        const char *user_name, const char *display_name,
                                        struct webauthn_begun *out)
{
    memset(out, 0, sizeof(*out));
    if (!(c->pol->factors & FACTOR_BIT_WEBAUTHN))
        return MFA_NOT_ALLOWED;
    if (u->locked)
        return MFA_LOCKED;
    uint8_t handle[WEBAUTHN_USER_HANDLE_LEN];
    enum mfa_result r = webauthn_user_handle(c, u, true, handle);
    if (r != MFA_OK)
        return r;
    struct descriptors *ex = NULL;
    if ((r = user_descriptors(c, u, rp->rp_id, &ex)) != MFA_OK)
        return r;
    uint8_t bytes[WEBAUTHN_CHALLENGE_LEN];
    r = challenge_new(c, u, KIND_REGISTER, binding, bytes, out);
    if (r == MFA_OK) {
        struct webauthn_creation_params p = {
            .rp_id = rp->rp_id,
            .rp_name = rp->rp_name && rp->rp_name[0] ? rp->rp_name : rp->rp_id,
            .user_handle = handle,
            .user_handle_len = sizeof(handle),
            .user_name = user_name && user_name[0] ? user_name : u->sub,
            .user_display_name = display_name && display_name[0] ? display_name : NULL,
            .challenge = bytes,
            .challenge_len = sizeof(bytes),
            .uv = c->pol->webauthn_uv,
            .timeout_ms = lifetime_s(c) * 1000,
            .exclude = ex->d,
            .exclude_count = ex->count,
        };
        out->options = webauthn_creation_options_json(&p);
        if (!out->options)
            r = MFA_ERROR;
    }
    free(ex);
    return r;
}

enum mfa_result webauthn_signin_begin(const struct mfa_ctx *c, const struct mfa_user *u,
                                      const struct webauthn_party *rp, const uint8_t *binding,
                                      struct webauthn_begun *out)
{
    memset(out, 0, sizeof(*out));
    if (!(c->pol->factors & FACTOR_BIT_WEBAUTHN))
        return MFA_NOT_ALLOWED;
    if (u->locked)
        return MFA_LOCKED;
    struct descriptors *allow = NULL;
    enum mfa_result r = user_descriptors(c, u, rp->rp_id, &allow);
    if (r != MFA_OK)
        return r;
    if (allow->count == 0) {
        free(allow);
        return MFA_NOT_FOUND;
    }
    uint8_t bytes[WEBAUTHN_CHALLENGE_LEN];
    r = challenge_new(c, u, KIND_SIGNIN, binding, bytes, out);
    if (r == MFA_OK) {
        struct webauthn_request_params p = {
            .rp_id = rp->rp_id,
            .challenge = bytes,
            .challenge_len = sizeof(bytes),
            .uv = c->pol->webauthn_uv,
            .timeout_ms = lifetime_s(c) * 1000,
            .allow = allow->d,
            .allow_count = allow->count,
        };
        out->options = webauthn_request_options_json(&p);
        if (!out->options)
            r = MFA_ERROR;
    }
    free(allow);
    return r;
}

/* ---- finish ---- */

/* The expected origin of an answer: the one of rp's origins its
 * clientDataJSON names, else rp's first (so the check refuses it). */
static const char *pick_origin(const struct webauthn_party *rp, const struct webauthn_response *r)
{
    const char *pick = rp->origin_count ? rp->origins[0] : "";
    json_error_t jerr;
    json_t *cd = json_loadb((const char *)r->client_data_json.p, r->client_data_json.len,
                            JSON_REJECT_DUPLICATES, &jerr);
    const char *o = json_string_value(json_object_get(cd, "origin"));
    for (size_t i = 0; o && i < rp->origin_count; i++)
        if (rp->origins[i] && strcmp(rp->origins[i], o) == 0)
            pick = rp->origins[i];
    json_decref(cd);
    return pick;
}

/* The start of both finishes: the answer parsed, the expectation set. */
static enum webauthn_result read_answer(const struct mfa_ctx *c, const struct webauthn_party *rp,
                                        const json_t *credential, enum webauthn_ceremony kind,
                                        const uint8_t *bytes, struct webauthn_response *resp,
                                        struct webauthn_expect *x)
{
    enum webauthn_result w = json_is_object(credential)
                                 ? webauthn_response_from_json(credential, kind, resp)
                                 : WEBAUTHN_ERR_MALFORMED;
    if (w != WEBAUTHN_OK) {
        memset(resp, 0, sizeof(*resp));
        return w;
    }
    *x = (struct webauthn_expect){
        .rp_id = rp->rp_id,
        .origin = pick_origin(rp, resp),
        .challenge = bytes,
        .challenge_len = WEBAUTHN_CHALLENGE_LEN,
        .uv = c->pol->webauthn_uv,
    };
    return WEBAUTHN_OK;
}

static void detail_of(enum webauthn_result w, char *out, size_t outlen)
{
    snprintf(out, outlen, "webauthn %s", webauthn_result_code(w));
}

/* Well-known AAGUIDs of passkey providers (from the community list of
 * passkeydeveloper/passkey-authenticator-aaguids), to name a new passkey
 * after where it lives. */
static const struct {
    uint8_t aaguid[16];
    const char *name;
} known_aaguids[] = {
    {{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75,
      0xd4},
     "Google Password Manager"},
    {{0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55,
      0x03},
     "Chrome on Mac"},
    {{0x08, 0x98, 0x70, 0x58, 0xca, 0xdc, 0x4b, 0x81, 0xb6, 0xe1, 0x30, 0xde, 0x50, 0xdc, 0xbe,
      0x96},
     "Windows Hello"},
    {{0x9d, 0xdd, 0x18, 0x17, 0xaf, 0x5a, 0x46, 0x72, 0xa2, 0xb9, 0x3e, 0x3d, 0xd9, 0x50, 0x00,
      0xa9},
     "Windows Hello"},
    {{0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7,
      0xbd},
     "iCloud Keychain"},
    {{0xba, 0xda, 0x55, 0x66, 0xa7, 0xaa, 0x40, 0x1f, 0xbd, 0x96, 0x45, 0x61, 0x9a, 0x55, 0x12,
      0x0d},
     "1Password"},
    {{0xd5, 0x48, 0x82, 0x6e, 0x79, 0xb4, 0xdb, 0x40, 0xa3, 0xd8, 0x11, 0x11, 0x6f, 0x7e, 0x83,
      0x49},
     "Bitwarden"},
};

void webauthn_aaguid_format(const uint8_t aaguid[16], char out[WEBAUTHN_AAGUID_TEXT_LEN])
{
    const uint8_t *g = aaguid;
    snprintf(out, WEBAUTHN_AAGUID_TEXT_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[0], g[1],
             g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
             g[15]);
}

const char *webauthn_aaguid_name(const uint8_t aaguid[16])
{
    for (size_t i = 0; i < ARRAY_SIZE(known_aaguids); i++)
        if (memcmp(known_aaguids[i].aaguid, aaguid, 16) == 0)
            return known_aaguids[i].name;
    return NULL;
}

/* A passkey's name when the user gave none: where it lives when the
 * AAGUID says, else the browser for a passkey of this device, else a
 * security key. */
static const char *default_name(const struct webauthn_credential *cred,
                                enum webauthn_attachment att, const char *hint)
{
    const char *known = webauthn_aaguid_name(cred->aaguid);
    if (known)
        return known;
    bool roaming = att == WEBAUTHN_ATTACHMENT_CROSS_PLATFORM ||
                   (att == WEBAUTHN_ATTACHMENT_UNKNOWN &&
                    !(cred->transports & WEBAUTHN_TRANSPORT_INTERNAL) && cred->transports);
    if (!roaming && hint && hint[0])
        return hint;
    return roaming ? "Security key" : "Passkey";
}

static bool blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

enum mfa_result webauthn_register_finish(const struct mfa_ctx *c, struct mfa_user *u,
                                         const struct webauthn_party *rp, const char *id,
                                         const uint8_t *binding, const json_t *credential,
                                         const char *name, const char *hint, struct mfa_factor *f,
                                         struct webauthn_done *done)
{
    memset(done, 0, sizeof(*done));
    if (!(c->pol->factors & FACTOR_BIT_WEBAUTHN))
        return MFA_NOT_ALLOWED;
    if (u->locked)
        return MFA_LOCKED;
    uint8_t bytes[WEBAUTHN_CHALLENGE_LEN];
    enum mfa_result r = challenge_take(c, u, KIND_REGISTER, id, binding, bytes);
    if (r != MFA_OK)
        return r;
    struct webauthn_response resp;
    struct webauthn_expect x;
    struct webauthn_credential *cred = og_malloc(sizeof(*cred)); /* ~1.7 KiB */
    enum webauthn_result w = read_answer(c, rp, credential, WEBAUTHN_CREATE, bytes, &resp, &x);
    if (w == WEBAUTHN_OK)
        w = webauthn_registration_verify(&x, &resp, cred);
    if (w != WEBAUTHN_OK) {
        webauthn_response_free(&resp);
        free(cred);
        done->why = w;
        char detail[64];
        detail_of(w, detail, sizeof(detail));
        audit_log_user(c, u, "factor_add_failed", NULL, detail);
        return MFA_INVALID;
    }
    if (!cred->transports)
        cred->transports = resp.transports;
    const char *label = blank(name) ? default_name(cred, resp.attachment, hint) : name;
    webauthn_response_free(&resp);
    r = webauthn_credential_add(c, u, rp->rp_id, cred, label, f);
    if (r == MFA_OK) {
        users_record_success(c, u, f->id);
        snprintf(done->factor_id, sizeof(done->factor_id), "%s", f->id);
        webauthn_credential_name(c, f->id, done->name);
        done->uv = cred->uv;
        done->be = cred->be;
        done->amr = gate_amr_passkey(cred->be, cred->uv);
    } else if (r == MFA_CONFLICT) {
        audit_log_user(c, u, "factor_add_failed", NULL, "webauthn registered already");
    }
    free(cred);
    return r;
}

enum mfa_result webauthn_signin_finish(const struct mfa_ctx *c, struct mfa_user *u,
                                       const struct webauthn_party *rp, const char *id,
                                       const uint8_t *binding, const json_t *credential,
                                       struct webauthn_done *done, struct mfa_outcome *o)
{
    memset(done, 0, sizeof(*done));
    o->type = FACTOR_WEBAUTHN;
    enum mfa_result r = users_gate(c, u, o);
    if (r != MFA_OK)
        return r;
    uint8_t bytes[WEBAUTHN_CHALLENGE_LEN];
    r = challenge_take(c, u, KIND_SIGNIN, id, binding, bytes);
    if (r != MFA_OK)
        return r;
    struct webauthn_response resp;
    struct webauthn_expect x;
    struct webauthn_stored *s = og_malloc(sizeof(*s)); /* ~1.7 KiB */
    memset(s, 0, sizeof(*s));
    struct webauthn_assertion a = {0};
    enum webauthn_result w = read_answer(c, rp, credential, WEBAUTHN_GET, bytes, &resp, &x);
    if (w == WEBAUTHN_OK) {
        /* Only the user's own passkey, of this app and RP ID. */
        enum mfa_result fr =
            webauthn_credential_find(c, rp->rp_id, resp.raw_id.p, resp.raw_id.len, s);
        if (fr == MFA_ERROR)
            r = MFA_ERROR;
        else if (fr != MFA_OK || s->user_id != u->id)
            w = WEBAUTHN_ERR_CREDENTIAL;
    }
    if (r == MFA_OK && w == WEBAUTHN_OK) {
        uint8_t handle[WEBAUTHN_USER_HANDLE_LEN];
        bool have = webauthn_user_handle(c, u, false, handle) == MFA_OK;
        w = webauthn_assertion_verify(&x, &s->cred, have ? handle : NULL, have ? sizeof(handle) : 0,
                                      &resp, &a);
    }
    if (r == MFA_OK && w == WEBAUTHN_OK) {
        /* Conditional on the counter the check compared with: the same
         * assertion racing itself passes once. */
        enum mfa_result ur = webauthn_credential_used(c, s, &a);
        if (ur == MFA_CONFLICT)
            w = WEBAUTHN_ERR_SIGN_COUNT;
        else if (ur != MFA_OK)
            r = MFA_ERROR;
    }
    webauthn_response_free(&resp);
    if (r != MFA_OK) {
        free(s);
        return r;
    }
    if (w != WEBAUTHN_OK) {
        done->why = w;
        char detail[64];
        detail_of(w, detail, sizeof(detail));
        bool known = s->factor_id[0] && s->user_id == u->id;
        r = users_fail(c, u, o, "verify_failed", known ? s->factor_id : NULL, detail);
        free(s);
        return r;
    }
    snprintf(done->factor_id, sizeof(done->factor_id), "%s", s->factor_id);
    snprintf(done->name, sizeof(done->name), "%s", s->name);
    snprintf(o->factor_id, sizeof(o->factor_id), "%s", s->factor_id);
    done->uv = a.uv;
    done->be = s->cred.be;
    done->amr = gate_amr_passkey(s->cred.be, a.uv);
    free(s);
    users_record_success(c, u, done->factor_id);
    audit_log_user(c, u, "verify_ok", done->factor_id, "webauthn");
    return MFA_OK;
}
