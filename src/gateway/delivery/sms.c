/* Sends SMS through an HTTP provider: builds each request from the
 * provider's template and hands it to the loop's HTTP client
 * (http_client.c), then judges the answer by the preset's success rule.
 * Owns the requests' bodies (wiped when done: they hold the code). Loop
 * thread only; never blocks. */
#include "gateway/delivery/sms.h"

#include "core/log.h"
#include "core/sms_template.h"
#include "gateway/delivery/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

/* Limits of what one send builds. */
#define SMS_URL_MAX      8192
#define SMS_BODY_MAX     (32 * 1024)
#define SMS_DESCRIBE_MAX (64 * 1024)
/* E.164: a '+' and at most 15 digits. */
#define E164_MAX_DIGITS 15

enum sms_preset { PRESET_WEBHOOK, PRESET_TWILIO, PRESET_VONAGE, PRESET_MESSAGEBIRD };

enum sms_body_kind { BODY_NONE, BODY_JSON, BODY_FORM };

/* The filled-in template of each preset (SPEC §7 "Named presets are just
 * filled-in templates"). Credentials are put in escaped when the client is
 * made; {to}, {to_digits}, {message} and {from} are filled in per send. */
static const struct {
    const char *name;
    const char *base;    /* default base URL; OTPGATE_SMS_URL replaces it */
    const char *success; /* preset success rule beyond 2xx, or NULL */
    const char *ids[3];  /* JSON pointers of the message id, tried in order */
} presets[] = {
    [PRESET_WEBHOOK] = {"webhook", NULL, NULL, {"/id", "/message_id", "/sid"}},
    [PRESET_TWILIO] = {"twilio", "https://api.twilio.com", NULL, {"/sid", NULL, NULL}},
    [PRESET_VONAGE] = {"vonage",
                       "https://rest.nexmo.com",
                       "/messages/0/status=0",
                       {"/messages/0/message-id", NULL, NULL}},
    [PRESET_MESSAGEBIRD] = {"messagebird",
                            "https://rest.messagebird.com",
                            NULL,
                            {"/id", NULL, NULL}},
};

static const char webhook_json_body[] = "{\"to\":\"{to}\",\"message\":\"{message}\"}";
static const char webhook_form_body[] = "to={to}&message={message}";

struct sms_client {
    struct http_client *http;

    enum sms_preset preset;
    char method[8];               /* POST, PUT or GET */
    enum sms_body_kind body_kind; /* how the body template is escaped */
    char *url_tmpl;               /* expanded with TMPL_URL per send */
    char *body_tmpl;              /* NULL when no body is sent */
    char *body_tmpl_unicode;      /* vonage: the body for non-GSM text */
    char *from;
    char *success; /* rule beyond 2xx, or NULL */
    struct curl_slist *headers;
    char *basic_user, *basic_pass; /* twilio's HTTP Basic credentials */
    char *secrets[3];              /* credentials hidden by sms_describe */
    bool closing;
};

struct sms_req {
    enum sms_preset preset; /* the client may be gone when the answer is judged */
    char *success;          /* a copy of the client's rule */
    char *body;             /* the request body, kept until done (curl does not copy it) */
    char *code;             /* for blanking the answer; wiped when done */
    sms_done_cb cb;
    void *arg;
};

/* ---- small helpers ---- */

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static char *dup_or_null(const char *s)
{
    return s ? og_strdup(s) : NULL;
}

/* Appends value escaped with esc (TMPL_URL or TMPL_FORM turn braces into
 * %7B/%7D, so the result is safe inside a template). */
static int append_escaped(struct buf *b, enum tmpl_escape esc, const char *value)
{
    const struct tmpl_vars v = {.message = value};
    return tmpl_expand("{message}", esc, &v, b);
}

static bool is_e164(const char *s)
{
    if (!s || s[0] != '+')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 1 && n <= E164_MAX_DIGITS && s[1] != '0';
}

static bool has_non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

/* Copies src (len bytes) into dst (size cap) as one printable C string:
 * NUL bytes become '?', and a cut never splits a UTF-8 sequence. */
static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n < len)
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] == '\0' ? '?' : src[i];
    dst[n] = '\0';
}

/* ---- building the client ---- */

/* Adds "Name: value" to the shared header list. */
static bool header_add(struct sms_client *c, const char *name, const char *value)
{
    struct buf b;
    buf_init(&b, 16384);
    if (buf_append_str(&b, name) != OG_OK || buf_append(&b, ": ", 2) != OG_OK ||
        buf_append_str(&b, value) != OG_OK) {
        buf_free(&b);
        return false;
    }
    struct curl_slist *l = curl_slist_append(c->headers, b.data);
    explicit_bzero(b.data, b.len);
    buf_free(&b);
    if (!l)
        og_oom();
    c->headers = l;
    return true;
}

/* True when the extra headers (lines "Name: value") set name. */
static bool custom_has(const char *headers, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = headers; p && *p;) {
        size_t len = strcspn(p, ";\n");
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        if (len > n && p[n] == ':' && span_eq_nocase(span_make(p, n), span_make(name, n)))
            return true;
        p += len;
        if (*p)
            p++;
    }
    return false;
}

/* Adds each "Name: value" line of OTPGATE_SMS_HEADERS (config_load has
 * checked them). */
static bool headers_add_custom(struct sms_client *c, const char *headers)
{
    for (const char *p = headers; p && *p;) {
        size_t len = strcspn(p, ";\n");
        char *line = og_strndup(p, len);
        const char *colon = strchr(line, ':');
        bool ok = true;
        if (colon) {
            char *name = og_strndup(line, (size_t)(colon - line));
            const char *value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            /* Trimmed name, so "X-A : b" and "X-A: b" are one header. */
            size_t nl = strlen(name);
            while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
                name[--nl] = '\0';
            const char *nstart = name + strspn(name, " \t");
            size_t vl = strlen(value);
            while (vl > 0 &&
                   (value[vl - 1] == ' ' || value[vl - 1] == '\t' || value[vl - 1] == '\r'))
                vl--;
            char *v = og_strndup(value, vl);
            if (*nstart)
                ok = header_add(c, nstart, v);
            wipe_free(v);
            free(name);
        }
        wipe_free(line);
        if (!ok)
            return false;
        p += len;
        if (*p)
            p++;
    }
    return true;
}

static int build_url(struct sms_client *c, const char *url, const char *path_tail_fmt,
                     const char *sid)
{
    struct buf b;
    buf_init(&b, SMS_URL_MAX);
    const char *base = url ? url : presets[c->preset].base;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    /* A preset's base is a template like the webhook's URL (config_load
     * checked its placeholders); only the preset's path is appended. */
    int rc = buf_append(&b, base, c->preset == PRESET_WEBHOOK ? strlen(base) : blen);
    if (rc == OG_OK && path_tail_fmt) {
        /* The path around the account id: "/2010-04-01/Accounts/%s/Messages.json". */
        const char *mark = strstr(path_tail_fmt, "%s");
        if (mark) {
            rc = buf_append(&b, path_tail_fmt, (size_t)(mark - path_tail_fmt));
            if (rc == OG_OK)
                rc = append_escaped(&b, TMPL_URL, sid);
            if (rc == OG_OK)
                rc = buf_append_str(&b, mark + 2);
        } else {
            rc = buf_append_str(&b, path_tail_fmt);
        }
    }
    if (rc != OG_OK) {
        buf_free(&b);
        return rc;
    }
    c->url_tmpl = buf_detach(&b, NULL);
    return OG_OK;
}

/* The webhook: URL, method, body and headers as written in the settings. */
static int setup_webhook(struct sms_client *c, const struct config *cfg, bool secondary)
{
    const char *url = secondary ? cfg->sms2_url : cfg->sms_url;
    const char *auth = secondary ? cfg->sms2_auth : cfg->sms_auth;
    const char *body = secondary ? cfg->sms2_body : cfg->sms_body;
    const char *method = secondary ? NULL : cfg->sms_method;
    const char *ctype = secondary ? NULL : cfg->sms_content_type;
    const char *custom = secondary ? NULL : cfg->sms_headers;
    if (!url)
        return OG_ERR_INVALID;
    snprintf(c->method, sizeof c->method, "%s", method ? method : "POST");
    bool get = strcmp(c->method, "GET") == 0;
    if (!ctype) {
        const char *p = body ? body + strspn(body, " \t\r\n") : "{";
        ctype = get ? "none" : (*p == '{' || *p == '[') ? "json" : "form";
    }
    c->body_kind = strcmp(ctype, "json") == 0   ? BODY_JSON
                   : strcmp(ctype, "form") == 0 ? BODY_FORM
                                                : BODY_NONE;
    if (get)
        c->body_kind = BODY_NONE;
    if (c->body_kind != BODY_NONE)
        c->body_tmpl = og_strdup(body                        ? body
                                 : c->body_kind == BODY_JSON ? webhook_json_body
                                                             : webhook_form_body);
    int rc = build_url(c, url, NULL, NULL);
    if (rc != OG_OK)
        return rc;
    if (!headers_add_custom(c, custom))
        return OG_ERR_TOO_BIG;
    if (c->body_kind == BODY_JSON && !custom_has(custom, "Content-Type"))
        header_add(c, "Content-Type", "application/json");
    else if (c->body_kind == BODY_FORM && !custom_has(custom, "Content-Type"))
        header_add(c, "Content-Type", "application/x-www-form-urlencoded");
    else if (!get && !custom_has(custom, "Content-Type") &&
             !(c->headers = curl_slist_append(c->headers, "Content-Type:")))
        og_oom(); /* an empty POST or PUT: no Content-Type at all */
    if (auth && *auth) {
        header_add(c, "Authorization", auth);
        c->secrets[0] = og_strdup(auth);
    }
    return OG_OK;
}

/* Splits "A:B" at the first ':' into fresh strings. */
static bool split_pair(const char *auth, char **a, char **b)
{
    const char *colon = auth ? strchr(auth, ':') : NULL;
    if (!colon || colon == auth || colon[1] == '\0')
        return false;
    *a = og_strndup(auth, (size_t)(colon - auth));
    *b = og_strdup(colon + 1);
    return true;
}

static int setup_preset(struct sms_client *c, const struct config *cfg, bool secondary)
{
    const char *url = secondary ? cfg->sms2_url : cfg->sms_url;
    const char *auth = secondary ? cfg->sms2_auth : cfg->sms_auth;
    const char *custom = secondary ? NULL : cfg->sms_headers;
    snprintf(c->method, sizeof c->method, "POST");
    struct buf body;
    buf_init(&body, SMS_BODY_MAX);
    int rc = OG_OK;
    if (!headers_add_custom(c, custom))
        return OG_ERR_TOO_BIG;
    switch (c->preset) {
    case PRESET_TWILIO: {
        char *sid = NULL, *token = NULL;
        if (!split_pair(auth, &sid, &token))
            return OG_ERR_INVALID;
        rc = build_url(c, url, "/2010-04-01/Accounts/%s/Messages.json", sid);
        c->basic_user = sid;
        c->basic_pass = token;
        c->secrets[0] = og_strdup(auth);
        c->secrets[1] = og_strdup(token);
        c->body_kind = BODY_FORM;
        /* A Messaging Service SID (MG + 32 hex) goes in its own field. */
        bool service = c->from && strncmp(c->from, "MG", 2) == 0 && strlen(c->from) == 34;
        c->body_tmpl = og_strdup(service ? "To={to}&MessagingServiceSid={from}&Body={message}"
                                         : "To={to}&From={from}&Body={message}");
        break;
    }
    case PRESET_VONAGE: {
        char *key = NULL, *secret = NULL;
        if (!split_pair(auth, &key, &secret))
            return OG_ERR_INVALID;
        rc = build_url(c, url, "/sms/json", NULL);
        if (rc == OG_OK)
            rc = buf_append_str(&body, "api_key=");
        if (rc == OG_OK)
            rc = append_escaped(&body, TMPL_FORM, key);
        if (rc == OG_OK)
            rc = buf_append_str(&body, "&api_secret=");
        if (rc == OG_OK)
            rc = append_escaped(&body, TMPL_FORM, secret);
        if (rc == OG_OK)
            rc = buf_append_str(&body, "&from={from}&to={to_digits}&text={message}");
        if (rc == OG_OK) {
            c->body_tmpl = og_strndup(body.data, body.len);
            /* Text outside GSM-7 (Chinese, say) needs type=unicode or the
             * phone shows question marks. */
            rc = buf_append_str(&body, "&type=unicode");
        }
        if (rc == OG_OK)
            c->body_tmpl_unicode = og_strndup(body.data, body.len);
        c->secrets[0] = og_strdup(auth);
        c->secrets[1] = secret;
        free(key);
        c->body_kind = BODY_FORM;
        break;
    }
    case PRESET_MESSAGEBIRD: {
        if (!auth || !*auth)
            return OG_ERR_INVALID;
        rc = build_url(c, url, "/messages", NULL);
        struct buf h;
        buf_init(&h, 16384);
        if (rc == OG_OK)
            rc = buf_printf(&h, "AccessKey %s", auth);
        if (rc == OG_OK)
            header_add(c, "Authorization", h.data);
        if (h.data)
            explicit_bzero(h.data, h.len);
        buf_free(&h);
        c->secrets[0] = og_strdup(auth);
        c->body_kind = BODY_JSON;
        c->body_tmpl = og_strdup("{\"recipients\":[\"{to_digits}\"],\"originator\":\"{from}\","
                                 "\"body\":\"{message}\",\"datacoding\":\"auto\"}");
        break;
    }
    case PRESET_WEBHOOK:
    default:
        rc = OG_ERR_INVALID;
    }
    if (body.data)
        explicit_bzero(body.data, body.len);
    buf_free(&body);
    if (rc == OG_OK && !custom_has(custom, "Content-Type"))
        header_add(c, "Content-Type",
                   c->body_kind == BODY_JSON ? "application/json"
                                             : "application/x-www-form-urlencoded");
    return rc;
}

static void client_free(struct sms_client *c)
{
    curl_slist_free_all(c->headers);
    wipe_free(c->url_tmpl);
    wipe_free(c->body_tmpl);
    wipe_free(c->body_tmpl_unicode);
    free(c->from);
    free(c->success);
    wipe_free(c->basic_user);
    wipe_free(c->basic_pass);
    for (size_t i = 0; i < ARRAY_SIZE(c->secrets); i++)
        wipe_free(c->secrets[i]);
    free(c);
}

/* ---- requests ---- */

static void req_free(struct sms_req *r)
{
    wipe_free(r->body);
    wipe_free(r->code);
    free(r->success);
    free(r);
}

/* Fills res from a finished request. */
static void req_result(const struct sms_req *r, const struct http_client_result *h,
                       struct sms_result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->provider, sizeof res->provider, "%s", presets[r->preset].name);
    res->seconds = h->seconds;
    res->http_status = h->status;
    if (h->answered) {
        const char *body = h->body;
        size_t len = h->len;
        res->ok = tmpl_success(r->success, h->status, body, len);
        res->retryable = !res->ok && (h->status == 408 || h->status == 429 || h->status >= 500);
        for (size_t i = 0; res->ok && i < ARRAY_SIZE(presets[r->preset].ids); i++) {
            const char *ptr = presets[r->preset].ids[i];
            if (ptr && tmpl_json_lookup(body, len, ptr, res->provider_id, sizeof res->provider_id))
                break;
        }
        for (char *p = res->provider_id; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        /* Blanked in a full copy first, so a cut cannot leave part of the
         * code showing. */
        char *copy = og_malloc(len + 1);
        copy_text(copy, len + 1, body, len);
        tmpl_blank_code(copy, r->code);
        copy_text(res->answer, sizeof res->answer, copy, strlen(copy));
        explicit_bzero(copy, len);
        free(copy);
    } else {
        res->ok = false;
        res->retryable = h->retryable;
        char msg[sizeof res->answer];
        if (strncmp(h->error, "cancelled", 9) == 0)
            snprintf(msg, sizeof msg, "%s", h->error);
        else
            snprintf(msg, sizeof msg, "curl: %s", h->error);
        tmpl_blank_code(msg, r->code);
        copy_text(res->answer, sizeof res->answer, msg, strlen(msg));
    }
}

/* The HTTP client's callback: judges the answer, frees the request, then
 * tells the caller (who may close the client from there). */
static void on_http_done(void *arg, const struct http_client_result *h)
{
    struct sms_req *r = arg;
    struct sms_result res;
    req_result(r, h, &res);
    sms_done_cb cb = r->cb;
    void *cb_arg = r->arg;
    req_free(r);
    cb(cb_arg, &res);
}

/* Builds the URL and body of one send into fresh strings. */
static int req_build(const struct sms_client *c, const char *to, const char *text, const char *code,
                     char **url, char **body)
{
    const struct tmpl_vars v = {.to = to, .message = text, .code = code, .from = c->from};
    struct buf u, b;
    buf_init(&u, SMS_URL_MAX);
    buf_init(&b, SMS_BODY_MAX);
    int rc = tmpl_expand(c->url_tmpl, TMPL_URL, &v, &u);
    const char *tmpl =
        c->body_tmpl_unicode && has_non_ascii(text) ? c->body_tmpl_unicode : c->body_tmpl;
    if (rc == OG_OK && tmpl)
        rc = tmpl_expand(tmpl, c->body_kind == BODY_JSON ? TMPL_JSON : TMPL_FORM, &v, &b);
    if (rc == OG_OK && (!u.data || !*u.data))
        rc = OG_ERR_INVALID;
    if (rc != OG_OK) {
        if (u.data)
            explicit_bzero(u.data, u.len);
        if (b.data)
            explicit_bzero(b.data, b.len);
        buf_free(&u);
        buf_free(&b);
        return rc;
    }
    *url = buf_detach(&u, NULL);
    *body = tmpl ? (b.data ? buf_detach(&b, NULL) : og_strdup("")) : NULL;
    return OG_OK;
}

#define SETOPT(opt, val) (ok = ok && curl_easy_setopt(easy, (opt), (val)) == CURLE_OK)

static bool req_setup(struct sms_client *c, CURL *easy, const char *url, const char *body)
{
    bool ok = true;
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_HTTPHEADER, c->headers);
    if (c->basic_user) {
        SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SETOPT(CURLOPT_USERNAME, c->basic_user);
        SETOPT(CURLOPT_PASSWORD, c->basic_pass);
    }
    if (strcmp(c->method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else {
        if (!body)
            body = "";
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDS, body);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        if (strcmp(c->method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, c->method);
    }
    return ok;
}

int sms_send(struct sms_client *c, const char *to_e164, const char *text, const char *code,
             sms_done_cb cb, void *arg)
{
    if (!c || !cb || !text || !is_e164(to_e164))
        return OG_ERR_INVALID;
    if (c->closing)
        return OG_ERR_BUSY;
    char *url = NULL, *body = NULL;
    int rc = req_build(c, to_e164, text, code, &url, &body);
    if (rc != OG_OK)
        return rc;
    struct sms_req *r = og_calloc(1, sizeof *r);
    r->preset = c->preset;
    r->success = dup_or_null(c->success);
    r->body = body;
    r->code = dup_or_null(code);
    r->cb = cb;
    r->arg = arg;
    CURL *easy = http_client_easy(c->http);
    bool ok = easy && req_setup(c, easy, url, r->body);
    wipe_free(url); /* curl keeps its own copy of the URL */
    if (!ok) {
        if (easy)
            curl_easy_cleanup(easy);
        req_free(r);
        return OG_ERR_IO;
    }
    rc = http_client_start(c->http, easy, SMS_ANSWER_MAX, on_http_done, r);
    if (rc != OG_OK) {
        req_free(r);
        return rc;
    }
    return OG_OK;
}

size_t sms_in_flight(const struct sms_client *c)
{
    return c ? http_client_in_flight(c->http) : 0;
}

const char *sms_client_provider(const struct sms_client *c)
{
    return c ? presets[c->preset].name : "";
}

int sms_client_new(uv_loop_t *loop, const struct config *cfg, bool secondary,
                   struct sms_client **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen > 0)
        err[0] = '\0';
    const char *provider = secondary ? cfg->sms2_provider : cfg->sms_provider;
    if (!provider) {
        if (err)
            snprintf(err, errlen, "no %s SMS provider is configured",
                     secondary ? "secondary" : "primary");
        return OG_ERR_NOT_FOUND;
    }
    size_t preset = ARRAY_SIZE(presets);
    for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
        if (strcmp(provider, presets[i].name) == 0)
            preset = i;
    if (preset == ARRAY_SIZE(presets)) {
        if (err)
            snprintf(err, errlen, "unknown SMS provider");
        return OG_ERR_INVALID;
    }
    struct sms_client *c = og_calloc(1, sizeof *c);
    c->preset = (enum sms_preset)preset;
    c->from = dup_or_null(secondary ? cfg->sms2_from : cfg->sms_from);
    const char *rule = !secondary && cfg->sms_success ? cfg->sms_success : presets[preset].success;
    c->success = dup_or_null(rule);
    int rc = c->preset == PRESET_WEBHOOK ? setup_webhook(c, cfg, secondary)
                                         : setup_preset(c, cfg, secondary);
    if (rc == OG_OK) {
        header_add(c, "Accept", "application/json");
        /* No "Expect: 100-continue" round trip before the body. */
        c->headers = curl_slist_append(c->headers, "Expect:");
        if (!c->headers)
            og_oom();
    }
    if (rc != OG_OK) {
        if (err)
            snprintf(err, errlen, "the %s SMS settings are incomplete: %s", provider,
                     og_strerror(rc));
        client_free(c);
        return rc;
    }
    long timeout_ms = cfg->delivery_timeout_ms ? (long)cfg->delivery_timeout_ms : 15000L;
    rc = http_client_new(loop, cfg->ca_file, timeout_ms, &c->http, err, errlen);
    if (rc != OG_OK) {
        client_free(c);
        return rc;
    }
    *out = c;
    return OG_OK;
}

void sms_client_close(struct sms_client *c)
{
    if (!c || c->closing)
        return;
    /* New sends are refused from here on; cancelled ones are called back
     * by the HTTP client while this client still works for them. */
    c->closing = true;
    http_client_close(c->http);
    c->http = NULL;
    client_free(c);
}

/* ---- descriptions ---- */

/* Names of query parameters and headers whose values are credentials. */
static bool looks_secret(struct span name)
{
    static const char *const words[] = {"key",  "token", "secret",    "auth",
                                        "pass", "sig",   "credential"};
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        size_t n = strlen(words[i]);
        for (size_t j = 0; j + n <= name.len; j++)
            if (span_eq_nocase(span_make(name.p + j, n), span_make(words[i], n)))
                return true;
    }
    return false;
}

/* Appends url with user:password@ and credential-like query values hidden. */
static int describe_url(struct buf *out, const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end ? scheme_end + 3 : url;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    int rc = buf_append(out, url, (size_t)(auth - url));
    if (rc == OG_OK && at)
        rc = buf_append_str(out, "***@");
    const char *host = at ? at + 1 : auth;
    const char *q = strchr(host, '?');
    if (rc == OG_OK)
        rc = buf_append(out, host, q ? (size_t)(q + 1 - host) : strlen(host));
    for (const char *p = q ? q + 1 : NULL; p && *p && rc == OG_OK;) {
        size_t len = strcspn(p, "&#");
        const char *eq = memchr(p, '=', len);
        if (eq && looks_secret(span_make(p, (size_t)(eq - p)))) {
            rc = buf_append(out, p, (size_t)(eq + 1 - p));
            if (rc == OG_OK)
                rc = buf_append_str(out, "***");
        } else {
            rc = buf_append(out, p, len);
        }
        p += len;
        if (*p && rc == OG_OK) {
            rc = buf_append(out, p, 1);
            p++;
        }
    }
    return rc;
}

/* Replaces every occurrence of secret in out with ***. */
static int mask_in(struct buf *out, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4 || !out->data)
        return OG_OK;
    struct buf tmp;
    buf_init(&tmp, out->cap);
    const char *p = out->data, *end = out->data + out->len;
    int rc = OG_OK;
    for (const char *hit; rc == OG_OK && (hit = memmem(p, (size_t)(end - p), secret, n));) {
        rc = buf_append(&tmp, p, (size_t)(hit - p));
        if (rc == OG_OK)
            rc = buf_append_str(&tmp, "***");
        p = hit + n;
    }
    if (rc == OG_OK)
        rc = buf_append(&tmp, p, (size_t)(end - p));
    if (rc == OG_OK) {
        explicit_bzero(out->data, out->len);
        out->len = 0;
        rc = buf_append(out, tmp.data ? tmp.data : "", tmp.len);
    }
    if (tmp.data)
        explicit_bzero(tmp.data, tmp.len);
    buf_free(&tmp);
    return rc;
}

int sms_describe(const struct sms_client *c, const char *to_e164, const char *text,
                 const char *code, struct buf *out)
{
    if (!c || !out || !text || !is_e164(to_e164))
        return OG_ERR_INVALID;
    char *url = NULL, *body = NULL;
    int rc = req_build(c, to_e164, text, code, &url, &body);
    if (rc != OG_OK)
        return rc;
    struct buf d;
    buf_init(&d, SMS_DESCRIBE_MAX);
    rc = buf_printf(&d, "%s ", c->method);
    if (rc == OG_OK)
        rc = describe_url(&d, url);
    if (rc == OG_OK)
        rc = buf_append(&d, "\n", 1);
    if (rc == OG_OK && c->basic_user)
        rc = buf_append_str(&d, "Authorization: ***\n");
    for (const struct curl_slist *h = c->headers; h && rc == OG_OK; h = h->next) {
        const char *colon = strchr(h->data, ':');
        if (!colon || colon[1] == '\0')
            continue; /* "Expect:" removes a header; nothing is sent */
        struct span name = span_make(h->data, (size_t)(colon - h->data));
        if (span_eq_nocase(name, SPAN_LIT("Authorization")) || looks_secret(name))
            rc = buf_printf(&d, "%.*s: ***\n", (int)name.len, name.p);
        else
            rc = buf_printf(&d, "%s\n", h->data);
    }
    if (rc == OG_OK && body)
        rc = buf_printf(&d, "\n%s", body);
    /* Credentials in the body (vonage's api_secret) or anywhere else, raw
     * and as the form and URL encodings put them. */
    for (size_t i = 0; i < ARRAY_SIZE(c->secrets) && rc == OG_OK; i++) {
        if (!c->secrets[i])
            continue;
        rc = mask_in(&d, c->secrets[i]);
        for (int esc = TMPL_JSON; esc <= TMPL_URL && rc == OG_OK; esc++) {
            struct buf e;
            buf_init(&e, SMS_BODY_MAX);
            if (append_escaped(&e, (enum tmpl_escape)esc, c->secrets[i]) == OG_OK && e.data)
                rc = mask_in(&d, e.data);
            if (e.data)
                explicit_bzero(e.data, e.len);
            buf_free(&e);
        }
    }
    if (rc == OG_OK && d.data)
        tmpl_blank_code(d.data, code);
    if (rc == OG_OK)
        rc = buf_append(out, d.data ? d.data : "", d.len);
    if (d.data)
        explicit_bzero(d.data, d.len);
    buf_free(&d);
    wipe_free(url);
    wipe_free(body);
    return rc;
}
