/* The PostgreSQL engine (libpq): connecting by URL, creating and migrating
 * the schema from the embedded .sql files of postgres/, statements as named
 * server-side prepared statements with SQLite's ?N parameters turned into
 * $N, and PostgreSQL's errors mapped onto SQLite's codes. Every call blocks
 * on the network, so none may run on the event loop. Never log or report
 * bound values or the URL's password: they may be secrets. */
#include "core/store/store_engine.h"

#include "core/log.h"

#include <libpq-fe.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* The files of postgres/ in name order, embedded at build time by
 * CMakeLists.txt (gen/pg_schema.c). */
extern const char *const store_pg_schema[];
extern const char *const store_pg_schema_names[];
extern const size_t store_pg_schema_count;

/* Type OIDs (catalog/pg_type_d.h, which only the server headers ship). */
#define PG_BOOLOID    16
#define PG_BYTEAOID   17
#define PG_INT8OID    20
#define PG_INT2OID    21
#define PG_INT4OID    23
#define PG_TEXTOID    25
#define PG_OIDOID     26
#define PG_FLOAT4OID  700
#define PG_FLOAT8OID  701
#define PG_NUMERICOID 1700

#define PG_MAX_PARAMS 32766 /* SQLite's highest ?NNN */
#define PG_ERRMSG_LEN 512
#define PG_NAME_LEN   24
/* pg_advisory_lock key held while a connection creates or migrates the
 * schema: "otpgate1" in ASCII. */
#define PG_SCHEMA_LOCK "8031167624827397425"

enum pg_kind {
    PG_PREPARED, /* a named server-side statement */
    PG_BEGIN,    /* BEGIN / START TRANSACTION */
    PG_COMMIT,   /* COMMIT / END */
    PG_ROLLBACK, /* ROLLBACK / ABORT, not ROLLBACK TO */
    PG_UTILITY,  /* any other statement without parameters that is no query:
                  * SAVEPOINT, RELEASE, ROLLBACK TO, SET, DEALLOCATE, DDL */
};

enum pg_state { PG_IDLE, PG_ROWS, PG_DONE };

struct pg_conn {
    PGconn *pg;
    unsigned generation; /* bumped by each reconnect: server statements are gone */
    unsigned next_name;  /* og_<n> */
    int64_t changes;
    bool lost_txn;   /* the connection broke inside a transaction the caller has not ended */
    bool abort_busy; /* the transaction's abort came from a serialization failure */
    bool txn_busy;   /* since BEGIN, a statement failed for a conflict or a lost connection */
    unsigned *stale; /* prepared statements to DEALLOCATE once idle */
    size_t nstale, capstale;
    char errmsg[PG_ERRMSG_LEN];
    char *url; /* for a second connection (pg_open_apart) */
};

/* A bytea cell of the current row, decoded once. */
struct pg_cell {
    unsigned char *p;
    int n;
    bool done;
};

struct pg_stmt {
    struct db_stmt base;
    char *sql; /* translated to $N */
    enum pg_kind kind;
    int nparams;         /* the highest parameter number */
    unsigned char *used; /* used[i]: $i+1 appears in sql */
    /* The bindings, nparams each, in libpq's shape. */
    const char **values;
    int *lengths;
    int *formats;
    Oid *types; /* INT8, BYTEA, or 0 (text, NULL, unbound) */
    char **owned;
    char (*num)[24];
    Oid *prep_types; /* the types the server statement was prepared with */
    unsigned name;
    bool prepared;
    unsigned generation;
    PGresult *res;
    PGresult *desc; /* PQdescribePrepared, for column names before a step */
    enum pg_state state;
    int row;
    struct pg_cell *cells;
    int ncells;
};

/* Each kind of transaction's opening (enum store_txn). A serializable one
 * takes a lock on meta before its snapshot (LOCK TABLE takes none, so it
 * must come before any query): ROW SHARE beside others, EXCLUSIVE alone.
 * EXCLUSIVE waits for every ROW SHARE held and keeps new ones waiting, so
 * a transaction run alone meets no other serializable one; plain reads of
 * meta (ACCESS SHARE: the CLI, pg_dump) pass either way. */
static const char *const SQL_BEGIN[] = {
    [STORE_TXN_SHARED] = "BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE meta IN ROW SHARE MODE",
    [STORE_TXN_ALONE] = "BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE meta IN EXCLUSIVE MODE",
    [STORE_TXN_ROW_LOCKS] = "BEGIN ISOLATION LEVEL READ COMMITTED",
};

static struct pg_conn *conn_of(const struct pg_stmt *st)
{
    return st->base.store->conn;
}

/* ---- messages ---- */

/* Copies msg into out as one line: newlines and tabs become single spaces,
 * the ends are trimmed. */
static void one_line(char *out, size_t outlen, const char *msg)
{
    size_t n = 0;
    bool space = false;
    if (outlen == 0)
        return;
    for (const char *p = msg ? msg : ""; *p && n + 1 < outlen; p++) {
        char ch = *p;
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < outlen)
            out[n++] = ' ';
        space = false;
        out[n++] = ch;
    }
    out[n] = '\0';
}

/* A data exception's message (SQLSTATE class 22) may quote the refused
 * value ('invalid input syntax for type bigint: "..."', 'invalid byte
 * sequence for encoding "UTF8": 0xff'), which may be a bound secret: copy
 * msg with every quoted text and hex byte left out. */
static void withhold_values(char *out, size_t outlen, const char *msg)
{
    char line[PG_ERRMSG_LEN];
    one_line(line, sizeof(line), msg);
    size_t n = 0;
    for (const char *p = line; *p && n + 8 < outlen;) {
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            memcpy(out + n, "\"...\"", 5);
            n += 5;
            p = end ? end + 1 : p + strlen(p);
        } else if (p[0] == '0' && p[1] == 'x' && (p == line || p[-1] == ' ')) {
            memcpy(out + n, "0x...", 5);
            n += 5;
            for (p += 2; *p && *p != ' ' && *p != ','; p++)
                ;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static void conn_set_errmsg(struct pg_conn *c, const char *msg)
{
    one_line(c->errmsg, sizeof(c->errmsg), msg && *msg ? msg : "unknown database error");
}

/* The server's primary message of a failed result, else libpq's own
 * (client-side failures such as a lost connection); never the DETAIL,
 * which may repeat bound values. */
static void conn_set_result_errmsg(struct pg_conn *c, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary && state && strncmp(state, "22", 2) == 0)
        withhold_values(c->errmsg, sizeof(c->errmsg), primary);
    else if (primary)
        conn_set_errmsg(c, primary);
    else if (r && *PQresultErrorMessage(r))
        conn_set_errmsg(c, PQresultErrorMessage(r));
    else
        conn_set_errmsg(c, PQerrorMessage(c->pg));
}

static void on_notice(void *arg, const PGresult *r)
{
    OG_UNUSED(arg);
    char msg[PG_ERRMSG_LEN];
    one_line(msg, sizeof(msg), PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    log_debug("database notice", "message", msg);
}

/* ---- the URL's password ---- */

/* Where the URL keeps a password: the userinfo's part after ':' (libpq
 * ends userinfo at the first '@' before any '/') and any password=
 * parameter. Calls fn for each as (start, length). */
static void url_passwords(const char *url, void (*fn)(void *arg, const char *p, size_t n),
                          void *arg)
{
    const char *p = strstr(url, "://");
    if (!p)
        return;
    p += 3;
    size_t auth = strcspn(p, "@/");
    if (p[auth] == '@') {
        const char *colon = memchr(p, ':', auth);
        if (colon)
            fn(arg, colon + 1, (size_t)(p + auth - colon - 1));
    }
    const char *q = strchr(p, '?');
    while (q) {
        q++;
        size_t len = strcspn(q, "&");
        if (len >= 9 && strncmp(q, "password=", 9) == 0)
            fn(arg, q + 9, len - 9);
        q = q[len] ? q + len : NULL;
    }
}

/* Overwrites every occurrence of secret (n bytes) in msg with as many
 * '*' (the length stays, so msg never grows). */
static void scrub_one(char *msg, const char *secret, size_t n)
{
    if (n == 0)
        return;
    for (char *p = msg; (p = memmem(p, strlen(p), secret, n)) != NULL; p += n)
        memset(p, '*', n);
}

/* url_passwords' callback: scrubs the password at p (n bytes) from the
 * message arg, as written and percent-decoded (libpq may show either). */
static void scrub_password(void *arg, const char *p, size_t n)
{
    char *msg = arg;
    scrub_one(msg, p, n);
    char *dec = og_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = og_hex_value(p[i + 1])) >= 0 &&
            (lo = og_hex_value(p[i + 2])) >= 0) {
            dec[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dec[k++] = p[i];
        }
    }
    scrub_one(msg, dec, k);
    free(dec);
}

/* msg (NUL-terminated) without any password the URL holds. */
static void url_scrub(char *msg, const char *url)
{
    url_passwords(url, scrub_password, msg);
}

struct redact {
    const char *url;
    char *out;
};

/* The URL as it can be shown: the password after the user's name and any
 * password= parameter dropped. The result is og_malloc'd. */
static char *url_redact(const char *url)
{
    size_t len = strlen(url);
    char *out = og_malloc(len + 1);
    size_t n = 0;
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url + len;
    memcpy(out, url, (size_t)(auth - url));
    n = (size_t)(auth - url);
    size_t alen = strcspn(auth, "@/");
    if (auth[alen] == '@') {
        const char *colon = memchr(auth, ':', alen);
        size_t keep = colon ? (size_t)(colon - auth) : alen;
        memcpy(out + n, auth, keep);
        n += keep;
        auth += alen;
    }
    /* The rest, parameter by parameter after '?'. */
    const char *q = strchr(auth, '?');
    size_t head = q ? (size_t)(q - auth) : strlen(auth);
    memcpy(out + n, auth, head);
    n += head;
    if (q) {
        char sep = '?';
        for (q++; *q;) {
            size_t plen = strcspn(q, "&");
            if (!(plen >= 9 && strncmp(q, "password=", 9) == 0)) {
                out[n++] = sep;
                memcpy(out + n, q, plen);
                n += plen;
                sep = '&';
            }
            q += plen;
            if (*q == '&')
                q++;
        }
    }
    out[n] = '\0';
    return out;
}

/* ---- parameters ---- */

static bool is_ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || (unsigned char)ch >= 0x80;
}

/* Rewrites SQLite's parameters as PostgreSQL's: ?NNN becomes $NNN, a bare
 * ? becomes $k with k one more than the highest number so far (SQLite's
 * rule). Text in '...' literals (E'...' with backslash escapes), "..."
 * identifiers, -- and (nested) block comments stays as it is. Returns the
 * new text (og_malloc'd) with *nparams and *used (which numbers appear,
 * og_malloc'd), or NULL with err set for a number out of 1..32766. */
static char *sql_translate(const char *sql, int *nparams, unsigned char **used, char *err,
                           size_t errlen)
{
    size_t len = strlen(sql), marks = 0;
    for (const char *p = sql; *p; p++)
        marks += *p == '?';
    char *out = og_malloc(len + marks * 6 + 1);
    size_t n = 0;
    int max = 0;
    unsigned char *seen = NULL;
    int seencap = 0;
    const char *p = sql;
    while (*p) {
        char ch = *p;
        if (ch == '\'' || ch == '"') {
            bool backslash = ch == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                             (p - 1 == sql || !is_ident_char(p[-2]));
            out[n++] = *p++;
            while (*p && *p != ch) {
                if (backslash && *p == '\\' && p[1])
                    out[n++] = *p++;
                out[n++] = *p++;
            }
            if (*p)
                out[n++] = *p++;
        } else if (ch == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                out[n++] = *p++;
        } else if (ch == '/' && p[1] == '*') {
            int depth = 0;
            while (*p) {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    out[n++] = *p++;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    out[n++] = *p++;
                    if (depth == 0) {
                        out[n++] = *p++;
                        break;
                    }
                }
                out[n++] = *p++;
            }
        } else if (ch == '?') {
            long k;
            p++;
            if (*p >= '0' && *p <= '9') {
                char *end;
                errno = 0;
                k = strtol(p, &end, 10);
                if (errno != 0)
                    k = LONG_MAX;
                p = end;
            } else {
                k = (long)max + 1;
            }
            if (k < 1 || k > PG_MAX_PARAMS) {
                store_set_err(err, errlen, "parameter number out of range 1..%d", PG_MAX_PARAMS);
                free(out);
                free(seen);
                return NULL;
            }
            if (k > seencap) {
                int cap = seencap ? seencap : 16;
                while (cap < k)
                    cap *= 2;
                seen = og_realloc(seen, (size_t)cap);
                memset(seen + seencap, 0, (size_t)(cap - seencap));
                seencap = cap;
            }
            seen[k - 1] = 1;
            if (k > max)
                max = (int)k;
            n += (size_t)snprintf(out + n, 8, "$%ld", k);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    *nparams = max;
    *used = og_calloc((size_t)max + 1, 1);
    if (max > 0)
        memcpy(*used, seen, (size_t)max);
    free(seen);
    return out;
}

/* Skips white space and comments. */
static const char *skip_space(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* True when the word at p (case-insensitive) is w; *next is after it. */
static bool word_is(const char *p, const char *w, const char **next)
{
    size_t n = 0;
    while (is_ident_char(p[n]))
        n++;
    if (n != strlen(w) || strncasecmp(p, w, n) != 0)
        return false;
    if (next)
        *next = p + n;
    return true;
}

/* Which way a statement runs: queries and anything with parameters as
 * named prepared statements, transaction control and other utility
 * statements as plain text (PQexec), so COMMIT and ROLLBACK also work in
 * an aborted transaction and never need a server-side statement. */
static enum pg_kind sql_kind(const char *sql, int nparams)
{
    if (nparams > 0)
        return PG_PREPARED;
    const char *p = skip_space(sql), *rest = NULL;
    if (word_is(p, "BEGIN", NULL) || word_is(p, "START", NULL))
        return PG_BEGIN;
    if (word_is(p, "COMMIT", NULL) || word_is(p, "END", NULL))
        return PG_COMMIT;
    if (word_is(p, "ROLLBACK", &rest) || word_is(p, "ABORT", &rest)) {
        /* ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] name ends no transaction. */
        for (rest = skip_space(rest); is_ident_char(*rest); rest = skip_space(rest)) {
            if (word_is(rest, "TO", NULL))
                return PG_UTILITY;
            while (is_ident_char(*rest))
                rest++;
        }
        return PG_ROLLBACK;
    }
    static const char *const queries[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                          "WITH",   "VALUES", "MERGE",  "TABLE"};
    for (size_t i = 0; i < ARRAY_SIZE(queries); i++)
        if (word_is(p, queries[i], NULL))
            return PG_PREPARED;
    return is_ident_char(*p) ? PG_UTILITY : PG_PREPARED;
}

/* ---- connection ---- */

/* Forgets statements prepared on the server that are no longer wanted; run
 * only outside transactions, where a failure can harm nothing. */
static void stale_add(struct pg_conn *c, unsigned name)
{
    if (c->nstale == c->capstale) {
        c->capstale = c->capstale ? c->capstale * 2 : 16;
        c->stale = og_realloc(c->stale, c->capstale * sizeof(*c->stale));
    }
    c->stale[c->nstale++] = name;
}

static void stale_flush(struct pg_conn *c)
{
    char sql[1024];
    size_t i = 0;
    while (i < c->nstale) {
        size_t n = 0;
        for (; i < c->nstale && n + 40 < sizeof(sql); i++)
            n += (size_t)snprintf(sql + n, sizeof(sql) - n, "DEALLOCATE og_%u;", c->stale[i]);
        PGresult *r = PQexec(c->pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[PG_ERRMSG_LEN];
            one_line(msg, sizeof(msg), PQresultErrorMessage(r));
            log_debug("database deallocate failed", "error", msg);
        }
        PQclear(r);
    }
    c->nstale = 0;
}

/* Makes sure the connection is up, reconnecting once if it broke; server
 * statements are then prepared again on next use. False (errmsg set) if
 * the server is not reachable. */
static bool conn_ready(struct pg_conn *c)
{
    if (PQstatus(c->pg) == CONNECTION_OK)
        return true;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[PG_ERRMSG_LEN - 64];
        one_line(msg, sizeof(msg), PQerrorMessage(c->pg));
        snprintf(c->errmsg, sizeof(c->errmsg), "database connection lost, reconnect failed: %s",
                 msg);
        log_warn("database reconnect failed", "error", msg);
        return false;
    }
    c->generation++;
    c->nstale = 0;
    c->lost_txn = false;
    c->abort_busy = false;
    log_warn("database connection re-established");
    return true;
}

static bool sqlstate_is(const PGresult *r, const char *code)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, code) == 0;
}

/* Classifies a failed result r (consumed) of a statement of the given kind
 * that started with the transaction status before. */
static int conn_fail(struct pg_conn *c, PGresult *r, PGTransactionStatusType before,
                     enum pg_kind kind)
{
    const char *sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char state[6] = "";
    if (sqlstate)
        snprintf(state, sizeof(state), "%s", sqlstate);
    conn_set_result_errmsg(c, r);
    PQclear(r);

    if (PQstatus(c->pg) == CONNECTION_BAD || strncmp(state, "08", 2) == 0) {
        if (kind == PG_ROLLBACK)
            return DB_DONE; /* the server ended the transaction with the session */
        if (kind == PG_COMMIT) {
            /* Whether the server committed before the line broke is unknown: not a
             * failure to run again blindly. */
            snprintf(c->errmsg, sizeof(c->errmsg),
                     "database connection lost during COMMIT: the outcome is unknown");
            return DB_ERROR;
        }
        if (before == PQTRANS_IDLE || kind == PG_BEGIN)
            conn_ready(c); /* nothing of the caller's was open: reconnect now */
        else
            c->lost_txn = true;
        c->txn_busy = true;
        return DB_BUSY;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        c->abort_busy = true;
        c->txn_busy = true;
        return DB_BUSY;
    }
    if (strcmp(state, "25P02") == 0) /* in_failed_sql_transaction */
        return c->abort_busy ? DB_BUSY : DB_ERROR;
    c->abort_busy = false;
    if (strncmp(state, "23", 2) == 0)
        return DB_CONSTRAINT;
    return DB_ERROR;
}

/* What a statement gets after the connection broke inside the caller's
 * transaction, until the caller ends it. */
static int lost_txn_answer(struct pg_conn *c, enum pg_kind kind)
{
    if (kind == PG_ROLLBACK) {
        c->lost_txn = false;
        return DB_DONE;
    }
    if (kind == PG_COMMIT)
        c->lost_txn = false;
    snprintf(c->errmsg, sizeof(c->errmsg),
             "database connection lost inside the transaction, which was rolled back");
    c->txn_busy = true;
    return DB_BUSY;
}

/* ---- statements ---- */

static void stmt_drop_cells(struct pg_stmt *st)
{
    for (int i = 0; i < st->ncells; i++) {
        free(st->cells[i].p);
        st->cells[i] = (struct pg_cell){0};
    }
}

static void pg_reset(db_stmt *base)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    stmt_drop_cells(st);
    PQclear(st->res);
    st->res = NULL;
    st->state = PG_IDLE;
    st->row = 0;
}

static void bind_drop(struct pg_stmt *st, int i)
{
    free(st->owned[i]);
    st->owned[i] = NULL;
    st->values[i] = NULL;
    st->lengths[i] = 0;
    st->formats[i] = 0;
    st->types[i] = 0;
}

static void pg_clear(db_stmt *base)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    pg_reset(base);
    for (int i = 0; i < st->nparams; i++)
        bind_drop(st, i);
}

static db_stmt *pg_prepare(struct store *s, const char *sql)
{
    char err[128];
    int nparams;
    unsigned char *used;
    char *text = sql_translate(sql, &nparams, &used, err, sizeof(err));
    if (!text) {
        log_error("database prepare failed", "error", err);
        return NULL;
    }
    struct pg_stmt *st = og_calloc(1, sizeof(*st));
    st->base.store = s;
    st->sql = text;
    st->used = used;
    st->nparams = nparams;
    st->kind = sql_kind(text, nparams);
    size_t np = (size_t)nparams + 1; /* never 0 bytes */
    st->values = og_calloc(np, sizeof(*st->values));
    st->lengths = og_calloc(np, sizeof(*st->lengths));
    st->formats = og_calloc(np, sizeof(*st->formats));
    st->types = og_calloc(np, sizeof(*st->types));
    st->owned = og_calloc(np, sizeof(*st->owned));
    st->num = og_calloc(np, sizeof(*st->num));
    st->prep_types = og_calloc(np, sizeof(*st->prep_types));
    return &st->base;
}

static void pg_finalize(db_stmt *base)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    struct pg_conn *c = conn_of(st);
    pg_clear(base);
    if (st->prepared && st->generation == c->generation)
        stale_add(c, st->name);
    PQclear(st->desc);
    free(st->cells);
    free(st->sql);
    free(st->used);
    free(st->values);
    free(st->lengths);
    free(st->formats);
    free(st->types);
    free(st->owned);
    free(st->num);
    free(st->prep_types);
    free(st);
}

/* Checks parameter i (1-based) and drops its old value; false if out of
 * range. A number the SQL never uses is accepted and sent as NULL. */
static bool bind_slot(struct pg_stmt *st, int i)
{
    if (i < 1 || i > st->nparams)
        return false;
    bind_drop(st, i - 1);
    return true;
}

static int pg_bind_int64(db_stmt *base, int i, int64_t v)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!bind_slot(st, i))
        return DB_ERROR;
    if (!st->used[i - 1])
        return 0;
    snprintf(st->num[i - 1], sizeof(st->num[i - 1]), "%lld", (long long)v);
    st->values[i - 1] = st->num[i - 1];
    st->types[i - 1] = PG_INT8OID;
    return 0;
}

static int pg_bind_text(db_stmt *base, int i, const char *v, int n, bool copy)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!bind_slot(st, i))
        return DB_ERROR;
    if (!v || !st->used[i - 1])
        return 0;
    /* Text goes in libpq's text format, which must end in a NUL: a length
     * means a copy. */
    if (n >= 0) {
        st->owned[i - 1] = og_strndup(v, (size_t)n);
        st->values[i - 1] = st->owned[i - 1];
    } else if (copy) {
        st->owned[i - 1] = og_strdup(v);
        st->values[i - 1] = st->owned[i - 1];
    } else {
        st->values[i - 1] = v;
    }
    return 0;
}

static int pg_bind_blob(db_stmt *base, int i, const void *v, int n, bool copy)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (n < 0 || !bind_slot(st, i))
        return DB_ERROR;
    if (!v || !st->used[i - 1])
        return 0;
    if (n == 0) {
        st->values[i - 1] = ""; /* an empty blob, not NULL */
    } else if (copy) {
        st->owned[i - 1] = og_malloc((size_t)n);
        memcpy(st->owned[i - 1], v, (size_t)n);
        st->values[i - 1] = st->owned[i - 1];
    } else {
        st->values[i - 1] = v;
    }
    st->lengths[i - 1] = n;
    st->formats[i - 1] = 1; /* binary: the bytes as they are */
    st->types[i - 1] = PG_BYTEAOID;
    return 0;
}

static int pg_bind_null(db_stmt *base, int i)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    return bind_slot(st, i) ? 0 : DB_ERROR;
}

/* An integer or a blob bound where the server statement was prepared for
 * another type needs a statement of its own types; text adapts. */
static bool types_changed(const struct pg_stmt *st)
{
    for (int i = 0; i < st->nparams; i++)
        if (st->types[i] != 0 && st->types[i] != st->prep_types[i])
            return true;
    return false;
}

static void stmt_name(const struct pg_stmt *st, char *out, size_t outlen)
{
    snprintf(out, outlen, "og_%u", st->name);
}

/* Prepares st on the server with the types of its current bindings (a
 * number the SQL does not use as text, so the server need not guess).
 * DB_DONE or the failure's code. */
static int stmt_server_prepare(struct pg_stmt *st, PGTransactionStatusType before)
{
    struct pg_conn *c = conn_of(st);
    if (st->prepared && st->generation == c->generation)
        stale_add(c, st->name);
    st->prepared = false;
    PQclear(st->desc);
    st->desc = NULL;
    st->name = ++c->next_name;
    for (int i = 0; i < st->nparams; i++)
        st->prep_types[i] = st->used[i] ? st->types[i] : PG_TEXTOID;
    char name[PG_NAME_LEN];
    stmt_name(st, name, sizeof(name));
    PGresult *r = PQprepare(c->pg, name, st->sql, st->nparams, st->prep_types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return conn_fail(c, r, before, st->kind);
    PQclear(r);
    st->prepared = true;
    st->generation = c->generation;
    return DB_DONE;
}

static bool tag_changes_rows(const char *tag)
{
    return strncmp(tag, "INSERT ", 7) == 0 || strncmp(tag, "UPDATE ", 7) == 0 ||
           strncmp(tag, "DELETE ", 7) == 0 || strncmp(tag, "MERGE ", 6) == 0;
}

/* Takes the result r of running st: DB_ROW with row 0 current, DB_DONE,
 * or the failure's code. */
static int stmt_take(struct pg_stmt *st, PGresult *r, PGTransactionStatusType before)
{
    struct pg_conn *c = conn_of(st);
    ExecStatusType es = PQresultStatus(r);
    if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK && es != PGRES_EMPTY_QUERY)
        return conn_fail(c, r, before, st->kind);
    const char *tag = PQcmdStatus(r);
    if (tag_changes_rows(tag))
        c->changes = strtoll(PQcmdTuples(r), NULL, 10);
    if (st->kind == PG_BEGIN)
        c->abort_busy = c->txn_busy = false;
    if (st->kind == PG_COMMIT && (before == PQTRANS_INERROR || strcmp(tag, "ROLLBACK") == 0)) {
        /* COMMIT of a failed transaction rolls it back and says so only in
         * its tag. */
        PQclear(r);
        snprintf(c->errmsg, sizeof(c->errmsg),
                 c->abort_busy ? "the transaction was rolled back after a serialization failure"
                               : "the transaction was rolled back after an earlier error");
        bool busy = c->abort_busy;
        c->abort_busy = false;
        return busy ? DB_BUSY : DB_ERROR;
    }
    if (es == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        st->res = r;
        st->row = 0;
        st->state = PG_ROWS;
        int nf = PQnfields(r);
        if (nf > st->ncells) {
            st->cells = og_realloc(st->cells, (size_t)nf * sizeof(*st->cells));
            memset(st->cells + st->ncells, 0, (size_t)(nf - st->ncells) * sizeof(*st->cells));
            st->ncells = nf;
        }
        return DB_ROW;
    }
    st->res = r;
    st->state = PG_DONE;
    return DB_DONE;
}

static int stmt_run(struct pg_stmt *st)
{
    struct pg_conn *c = conn_of(st);
    if (c->lost_txn)
        return lost_txn_answer(c, st->kind);
    if (!conn_ready(c)) {
        c->txn_busy = true;
        return DB_BUSY;
    }
    PGTransactionStatusType before = PQtransactionStatus(c->pg);
    if (before == PQTRANS_IDLE && c->nstale) {
        stale_flush(c);
        if (!conn_ready(c))
            return DB_BUSY;
    }
    if (st->kind != PG_PREPARED)
        return stmt_take(st, PQexec(c->pg, st->sql), before);

    for (int attempt = 0;; attempt++) {
        if (!st->prepared || st->generation != c->generation || types_changed(st)) {
            int rc = stmt_server_prepare(st, before);
            if (rc != DB_DONE)
                return rc;
        }
        char name[PG_NAME_LEN];
        stmt_name(st, name, sizeof(name));
        PGresult *r =
            PQexecPrepared(c->pg, name, st->nparams, st->values, st->lengths, st->formats, 0);
        if (attempt == 0 && sqlstate_is(r, "26000")) {
            /* Our statement is gone from the server (DEALLOCATE ALL, a
             * pooler): prepare it again. Outside a transaction nothing ran,
             * so run it again; inside, the transaction is now aborted and
             * the caller must run it again. */
            st->prepared = false;
            if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
                PQclear(r);
                continue;
            }
            conn_set_result_errmsg(c, r);
            PQclear(r);
            c->abort_busy = c->txn_busy = true;
            return DB_BUSY;
        }
        return stmt_take(st, r, before);
    }
}

static int pg_step(db_stmt *base)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (st->state == PG_ROWS) {
        stmt_drop_cells(st);
        if (++st->row < PQntuples(st->res))
            return DB_ROW;
        st->state = PG_DONE;
        return DB_DONE;
    }
    /* Like SQLite, a statement that is done runs again. */
    pg_reset(base);
    return stmt_run(st);
}

/* ---- columns ---- */

static bool cell_ok(const struct pg_stmt *st, int col)
{
    return st->state == PG_ROWS && col >= 0 && col < PQnfields(st->res) &&
           !PQgetisnull(st->res, st->row, col);
}

/* The bytes of a bytea cell, decoded once per row ("\x" hex, or the old
 * escape format through libpq), with a NUL after them. */
static struct pg_cell *cell_bytes(struct pg_stmt *st, int col)
{
    struct pg_cell *cell = &st->cells[col];
    if (cell->done)
        return cell;
    const char *v = PQgetvalue(st->res, st->row, col);
    size_t len = (size_t)PQgetlength(st->res, st->row, col);
    if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
        size_t n = (len - 2) / 2;
        cell->p = og_malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            cell->p[i] =
                (unsigned char)(og_hex_value(v[2 + 2 * i]) * 16 + og_hex_value(v[3 + 2 * i]));
        cell->p[n] = '\0';
        cell->n = (int)n;
    } else {
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
        if (!raw)
            og_oom();
        cell->p = og_malloc(n + 1);
        memcpy(cell->p, raw, n);
        cell->p[n] = '\0';
        cell->n = (int)n;
        PQfreemem(raw);
    }
    cell->done = true;
    return cell;
}

static int pg_column_type(db_stmt *base, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!cell_ok(st, col))
        return DB_NULL;
    switch (PQftype(st->res, col)) {
    case PG_INT2OID:
    case PG_INT4OID:
    case PG_INT8OID:
    case PG_OIDOID:
    case PG_BOOLOID:
    case PG_NUMERICOID:
        return DB_INTEGER;
    case PG_FLOAT4OID:
    case PG_FLOAT8OID:
        return DB_FLOAT;
    case PG_BYTEAOID:
        return DB_BLOB;
    default:
        return DB_TEXT;
    }
}

static int64_t pg_column_int64(db_stmt *base, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!cell_ok(st, col))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, col);
    Oid type = PQftype(st->res, col);
    if (type == PG_BOOLOID)
        return v[0] == 't';
    if (type == PG_FLOAT4OID || type == PG_FLOAT8OID) {
        double d = strtod(v, NULL);
        if (d != d)
            return 0;
        if (d >= 9223372036854775807.0)
            return INT64_MAX;
        if (d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)d;
    }
    /* Integers, and a numeric's integer part; strtoll saturates. */
    return (int64_t)strtoll(v, NULL, 10);
}

static const unsigned char *pg_column_text(db_stmt *base, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!cell_ok(st, col))
        return NULL;
    Oid type = PQftype(st->res, col);
    if (type == PG_BYTEAOID)
        return cell_bytes(st, col)->p;
    const char *v = PQgetvalue(st->res, st->row, col);
    if (type == PG_BOOLOID) /* as SQLite, which has only 1 and 0 */
        return (const unsigned char *)(v[0] == 't' ? "1" : "0");
    return (const unsigned char *)v;
}

static const void *pg_column_blob(db_stmt *base, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!cell_ok(st, col))
        return NULL;
    if (PQftype(st->res, col) == PG_BYTEAOID)
        return cell_bytes(st, col)->p;
    return pg_column_text(base, col);
}

static int pg_column_bytes(db_stmt *base, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)base;
    if (!cell_ok(st, col))
        return 0;
    Oid type = PQftype(st->res, col);
    if (type == PG_BYTEAOID)
        return cell_bytes(st, col)->n;
    if (type == PG_BOOLOID)
        return 1;
    return PQgetlength(st->res, st->row, col);
}

/* The result that describes st's columns: its rows, else (before a step)
 * a description of the server statement, when there is one and no
 * transaction is open (a Describe that failed inside one would abort it). */
static const PGresult *stmt_shape(struct pg_stmt *st)
{
    if (st->res)
        return st->res;
    if (st->desc)
        return st->desc;
    struct pg_conn *c = conn_of(st);
    if (st->kind != PG_PREPARED || !st->prepared || st->generation != c->generation ||
        c->lost_txn || PQstatus(c->pg) != CONNECTION_OK ||
        PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return NULL;
    char name[PG_NAME_LEN];
    stmt_name(st, name, sizeof(name));
    PGresult *r = PQdescribePrepared(c->pg, name);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    st->desc = r;
    return r;
}

static int pg_column_count(db_stmt *base)
{
    const PGresult *r = stmt_shape((struct pg_stmt *)base);
    return r ? PQnfields(r) : 0;
}

static const char *pg_column_name(db_stmt *base, int col)
{
    const PGresult *r = stmt_shape((struct pg_stmt *)base);
    if (!r || col < 0 || col >= PQnfields(r))
        return NULL;
    return PQfname(r, col);
}

/* ---- the store ---- */

static struct pg_conn *conn_get(struct store *s)
{
    return s->conn;
}

static int64_t pg_changes(struct store *s)
{
    return conn_get(s)->changes;
}

static const char *pg_errmsg(struct store *s)
{
    return conn_get(s)->errmsg;
}

static bool pg_in_transaction(struct store *s)
{
    struct pg_conn *c = conn_get(s);
    if (c->lost_txn)
        return true;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int pg_begin(struct store *s, enum store_txn kind)
{
    int rc = store_run(s, SQL_BEGIN[kind]);
    if (rc != OG_OK && pg_in_transaction(s)) {
        /* BEGIN ran and the LOCK failed (a deadlock, a lock timeout):
         * nothing of the caller's is open yet. */
        struct pg_conn *c = conn_get(s);
        bool busy = c->abort_busy;
        char why[sizeof(c->errmsg)];
        snprintf(why, sizeof(why), "%s", c->errmsg);
        store_rollback(s);
        snprintf(c->errmsg, sizeof(c->errmsg), "%s", why);
        c->abort_busy = busy;
    }
    return rc;
}

/* store_exec: sql as one simple query (several statements allowed, no
 * parameters), its failure classified like a statement's. */
static int pg_exec(struct store *s, const char *sql)
{
    struct pg_conn *c = conn_get(s);
    if (!c->lost_txn && !conn_ready(c))
        return OG_ERR_BUSY;
    PGTransactionStatusType before = PQtransactionStatus(c->pg);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_EMPTY_QUERY) {
        PQclear(r);
        return OG_OK;
    }
    return store_step_err(conn_fail(c, r, before, PG_UTILITY));
}

static int pg_schema_version(struct store *s)
{
    char v[32];
    int rc = store_meta_get(s, "schema_version", v, sizeof(v));
    if (rc == OG_ERR_NOT_FOUND)
        return 0;
    if (rc != OG_OK)
        return OG_ERR_DB;
    long long n;
    if (og_parse_int(span_cstr(v), 0, INT_MAX, &n) != OG_OK)
        return OG_ERR_INVALID;
    return (int)n;
}

/* The version row: meta 'config_version', which triggers on apps, policy
 * and signing_keys raise in the transaction that changes them (schema 19),
 * read in the caller's transaction so it matches what that sees. */
static int pg_data_version(struct store *s, int64_t *out)
{
    char v[32];
    *out = 0;
    int rc = store_meta_get(s, "config_version", v, sizeof(v));
    if (rc == OG_ERR_NOT_FOUND)
        return OG_OK;
    if (rc != OG_OK)
        return rc == OG_ERR_BUSY ? rc : OG_ERR_DB;
    long long n;
    if (og_parse_int(span_cstr(v), 0, INT64_MAX, &n) != OG_OK)
        return OG_ERR_DB;
    *out = (int64_t)n;
    return OG_OK;
}

static bool pg_txn_conflicted(struct store *s)
{
    return conn_get(s)->txn_busy;
}

static void conn_free(struct pg_conn *c)
{
    PQfinish(c->pg);
    free(c->url);
    free(c->stale);
    free(c);
}

static void pg_close(struct store *s)
{
    conn_free(conn_get(s));
}

static int pg_open_apart(struct store *s, struct store **out)
{
    char err[PG_ERRMSG_LEN];
    int rc = store_pg_open(conn_get(s)->url, out, err, sizeof(err));
    if (rc != OG_OK)
        log_error("cannot open a second database connection", "error", err);
    return rc;
}

static const struct store_ops pg_ops = {
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .clear = pg_clear,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .column_type = pg_column_type,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .changes = pg_changes,
    .errmsg = pg_errmsg,
    .in_transaction = pg_in_transaction,
    .begin = pg_begin,
    .exec = pg_exec,
    .schema_version = pg_schema_version,
    .data_version = pg_data_version,
    .txn_conflicted = pg_txn_conflicted,
    .close = pg_close,
    .open_apart = pg_open_apart,
};

/* ---- schema ---- */

/* Runs sql (no parameters) and copies the first column of its first row
 * into out ("" for NULL). Returns 1 for a row, 0 for none, -1 on failure
 * (errmsg set). */
static int conn_query_value(struct pg_conn *c, const char *sql, char *out, size_t outlen)
{
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        conn_set_result_errmsg(c, r);
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r) > 0 && PQnfields(r) > 0;
    if (rows)
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rows;
}

/* The database's schema version into *version: -1 when it has no otpgate
 * tables (no meta table on the search path), 0 when meta has no
 * version. */
static int schema_read(struct pg_conn *c, const char *what, int *version, char *err, size_t errlen)
{
    char v[32];
    int rc = conn_query_value(c, "SELECT to_regclass('meta') IS NULL", v, sizeof(v));
    if (rc == 1 && strcmp(v, "t") == 0) {
        *version = -1;
        return OG_OK;
    }
    if (rc == 1)
        rc = conn_query_value(c, "SELECT value FROM meta WHERE key = 'schema_version'", v,
                              sizeof(v));
    if (rc < 0) {
        store_set_err(err, errlen, "cannot read the schema version of %s: %s", what, c->errmsg);
        return OG_ERR_DB;
    }
    long long n = 0;
    if (rc == 1 && og_parse_int(span_cstr(v), 0, INT_MAX, &n) != OG_OK) {
        store_set_err(err, errlen, "database %s has an invalid schema_version in meta", what);
        return OG_ERR_INVALID;
    }
    *version = (int)n;
    return OG_OK;
}

/* The version a schema file brings the database to: its leading number,
 * except 001_base.sql, which creates version 17 on an empty database. */
static int schema_file_number(const char *name)
{
    long n = strtol(name, NULL, 10);
    return n > 0 && n <= INT_MAX ? (int)n : 0;
}

/* Runs the embedded files the database lacks, in name order: 001_base.sql
 * on a database without otpgate tables (*version -1), then each NNN_*.sql
 * numbered one past the database's version; a gap stops it, and the caller
 * reports the version it reached. Each file holds its own BEGIN and COMMIT
 * and sets meta 'schema_version', read back into *version after it. */
static int schema_update(struct pg_conn *c, const char *what, int *version, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < store_pg_schema_count; i++) {
        const char *name = store_pg_schema_names[i];
        int n = schema_file_number(name);
        if (*version < 0 ? n != 1 : (n == 1 || n <= *version))
            continue;
        if (*version >= 0 && n != *version + 1)
            break;
        PGresult *r = PQexec(c->pg, store_pg_schema[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            conn_set_result_errmsg(c, r);
            PQclear(r);
            if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
                PQclear(PQexec(c->pg, "ROLLBACK"));
            store_set_err(err, errlen, "cannot apply %s to %s: %s", name, what, c->errmsg);
            return OG_ERR_DB;
        }
        PQclear(r);
        int rc = schema_read(c, what, version, err, errlen);
        if (rc != OG_OK)
            return rc;
        char to[16];
        snprintf(to, sizeof(to), "%d", *version);
        log_info("database schema applied", "url", what, "file", name, "version", to);
    }
    return OG_OK;
}

static int schema_ensure(struct pg_conn *c, const char *what, char *err, size_t errlen)
{
    char v[32];
    if (conn_query_value(c, "SELECT pg_advisory_lock(" PG_SCHEMA_LOCK ")", v, sizeof(v)) < 0) {
        store_set_err(err, errlen, "cannot lock %s to check its schema: %s", what, c->errmsg);
        return OG_ERR_DB;
    }
    int version;
    int rc = schema_read(c, what, &version, err, errlen);
    if (rc == OG_OK && version > store_latest_version()) {
        store_set_err(err, errlen,
                      "database %s has schema version %d, newer than this otpgate knows (%d): run "
                      "a newer otpgate",
                      what, version, store_latest_version());
        rc = OG_ERR_INVALID;
    }
    if (rc == OG_OK && version < store_latest_version()) {
        rc = schema_update(c, what, &version, err, errlen);
        if (rc == OG_OK && version != store_latest_version()) {
            store_set_err(err, errlen,
                          "database %s is at schema version %d, but this otpgate has no "
                          "PostgreSQL migration to version %d",
                          what, version, store_latest_version());
            rc = OG_ERR_DB;
        }
    }
    conn_query_value(c, "SELECT pg_advisory_unlock(" PG_SCHEMA_LOCK ")", v, sizeof(v));
    return rc;
}

int store_pg_open(const char *url, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    char *what = url_redact(url);
    /* The URL comes first (expand_dbname); the encoding after it wins over
     * one the URL names. PQreset connects again with the same. */
    /* A server that does not answer is given up on after 5 s (to connect)
     * or 10 s (unacknowledged data), unless the URL says otherwise: the
     * requests waiting on it get a 503 rather than hanging. */
    const char *const keys[] = {"connect_timeout", "tcp_user_timeout",          "dbname",
                                "client_encoding", "fallback_application_name", NULL};
    const char *const vals[] = {"5", "10000", url, "UTF8", "otpgate", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        og_oom();
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[PG_ERRMSG_LEN];
        one_line(msg, sizeof(msg), PQerrorMessage(pg));
        url_scrub(msg, url);
        store_set_err(err, errlen, "cannot connect to %s: %s", what, msg);
        PQfinish(pg);
        free(what);
        return OG_ERR_DB;
    }
    PQsetNoticeReceiver(pg, on_notice, NULL);

    struct pg_conn *c = og_calloc(1, sizeof(*c));
    c->pg = pg;
    c->url = og_strdup(url);
    struct store *s = store_new(&pg_ops, STORE_POSTGRES, c);
    int rc = schema_ensure(c, what, err, errlen);
    if (rc == OG_OK)
        rc = store_open_finish(s, what, err, errlen);
    free(what);
    if (rc != OG_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return OG_OK;
}
