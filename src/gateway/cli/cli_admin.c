/* `otpgate app|policy|user|admin ...`: the admin's support commands. Each run opens
 * the store (migrating it) and the master key, does one thing, and exits.
 * Client secrets are printed once and wiped; nothing here logs a secret. */
#include "gateway/cli/cli_admin.h"

#include "core/admins.h"
#include "core/apps.h"
#include "core/audit.h"
#include "core/brand.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/masterkey.h"
#include "core/policy.h"
#include "core/jwt.h"
#include "core/signing_keys.h"
#include "gateway/oidc.h"
#include "gateway/server.h"
#include "core/secrets.h"
#include "core/store/store.h"
#include "core/support.h"
#include "core/webauthn_ceremony.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_ERROR 1
#define EXIT_USAGE 2

#define MAX_POSITIONAL 64
#define SHOW_BUF_CAP   (64 * 1024)

/* Options each subcommand accepts, as bits of struct opts.seen. */
enum {
    OPT_NAME = 1,
    OPT_URI = 2,
    OPT_POLICY = 4,
    OPT_APP = 8,
    OPT_WEBHOOK = 16,
    OPT_ROTATE_HOOK = 32,
    OPT_SINCE = 64,
};

struct opts {
    const char *config_file;
    const char *name;
    const char *policy;
    const char *app;
    const char *webhook_url;
    const char *since;
    const char *uris[APPS_MAX_URIS];
    size_t nuris;
    const char *pos[MAX_POSITIONAL]; /* pos[0] command, pos[1] subcommand, then arguments */
    size_t npos;
    unsigned seen;
    bool help;
};

/* What a command needs once its arguments are parsed. */
struct admin_env {
    struct config cfg;
    struct store *store;
    struct keyring keys;
    bool have_keys;
};

static const char app_help[] =
    "Usage: otpgate app COMMAND [ARGS]\n"
    "\n"
    "Manages the applications that send their users to otpgate.\n"
    "\n"
    "Commands:\n"
    "  add --name NAME --redirect-uri URI [--redirect-uri URI...] [--policy MODE]\n"
    "                        register an app; prints its client_id and client_secret once\n"
    "  list                  print the apps as JSON (never their secrets)\n"
    "  set ID [--name NAME] [--redirect-uri URI...] [--webhook-url URL]\n"
    "         [--rotate-webhook-secret]\n"
    "                        change an app; a new webhook URL prints its signing secret once\n"
    "  rotate-secret ID      replace an app's client secret; prints the new one once\n"
    "  remove ID             delete an app with its users, factors and policy\n"
    "\n"
    "Run 'otpgate app COMMAND --help' for a command's details.\n";

static const char app_add_help[] =
    "Usage: otpgate app add --name NAME --redirect-uri URI [--redirect-uri URI...]\n"
    "                       [--policy off|optional|mandatory|inherit]\n"
    "\n"
    "Registers an application and prints {\"client_id\":...,\"client_secret\":...}.\n"
    "The secret (256 random bits) is shown only this once and stored encrypted under\n"
    "the master key; it authenticates the app and signs its request objects (HS256).\n"
    "\n"
    "  --name NAME          shown to users on otpgate's pages (1 to 127 characters)\n"
    "  --redirect-uri URI   where users return; exact match; absolute https:// URI\n"
    "                       without a fragment (http:// only for localhost, 127.0.0.1\n"
    "                       and [::1]); repeat for several\n"
    "  --policy MODE        the app's second-step mode; default inherit (the global\n"
    "                       policy's mode)\n";

static const char app_list_help[] = "Usage: otpgate app list\n"
                                    "\n"
                                    "Prints every app as a JSON array of {client_id, name, "
                                    "redirect_uris, policy,\nwebhook_url, created_at}. Secrets "
                                    "are never shown; use 'otpgate app rotate-secret'\nor "
                                    "'otpgate app set ID --rotate-webhook-secret' to get a new "
                                    "one.\n";

static const char app_set_help[] =
    "Usage: otpgate app set ID [--name NAME] [--redirect-uri URI...] [--webhook-url URL]\n"
    "                          [--rotate-webhook-secret]\n"
    "\n"
    "Changes application ID; what is not given stays as it is.\n"
    "\n"
    "  --name NAME              shown to users on otpgate's pages\n"
    "  --redirect-uri URI       replaces the redirect URIs (repeat for several)\n"
    "  --webhook-url URL        where otpgate POSTs the app's events (https://, or http://\n"
    "                           to localhost); a new URL prints its signing secret\n"
    "                           (whsec_...) once as {\"client_id\",\"webhook_url\",\n"
    "                           \"webhook_secret\"}; an empty URL turns webhooks off\n"
    "  --rotate-webhook-secret  replaces the signing secret and prints the new one once;\n"
    "                           every delivery from now on is signed with it\n"
    "\n"
    "Webhooks follow the Standard Webhooks specification: see the README,\n"
    "\"Notifications and webhooks\", for every event and its JSON.\n";

static const char app_rotate_help[] =
    "Usage: otpgate app rotate-secret ID\n"
    "\n"
    "Replaces the client secret of app ID and prints {\"client_id\":...,\"client_secret\":...}\n"
    "once. The old secret stops working at once: update the app's configuration.\n";

static const char app_remove_help[] =
    "Usage: otpgate app remove ID\n"
    "\n"
    "Deletes app ID together with its users, their factors and recovery codes, and the\n"
    "app's policy settings. This cannot be undone.\n";

static const char policy_help[] =
    "Usage: otpgate policy COMMAND [ARGS]\n"
    "\n"
    "Reads and changes the global policy or one app's policy (SPEC sections 4 and 5).\n"
    "\n"
    "Commands:\n"
    "  show [--app ID]                 print the effective settings and where each\n"
    "                                  comes from (default, global or app)\n"
    "  set [--app ID] KEY=VALUE...     change settings; all are checked before any is\n"
    "                                  written, and they are written together\n"
    "\n";

static const char policy_show_help[] =
    "Usage: otpgate policy show [--app ID]\n"
    "\n"
    "Prints 'key = value  (source)' for every setting of the global policy, or of app\n"
    "ID's effective policy; source is default, global or app.\n"
    "\n";

static const char policy_set_help[] =
    "Usage: otpgate policy set [--app ID] KEY=VALUE [KEY=VALUE...]\n"
    "\n"
    "Changes settings of the global policy, or of app ID's own policy. Every pair is\n"
    "checked first; if one is refused, nothing is written.\n"
    "\n";

static const char user_help[] =
    "Usage: otpgate user COMMAND SUB [--app ID]\n"
    "\n"
    "Support tasks for one user, named by the app's own user id (SUB).\n"
    "\n"
    "Commands:\n"
    "  show SUB [--app ID]     print the user's factors, failures and lock state as JSON\n"
    "  reset SUB [--app ID]    remove all the user's factors, recovery codes and challenges\n"
    "  unlock SUB [--app ID]   clear the user's failure count, wait and lock\n"
    "  forget-devices SUB [--app ID]\n"
    "                          end every remembered device of the user (\"Don't ask\n"
    "                          again on this device\")\n"
    "\n"
    "Without --app, show covers every app that knows SUB; the others need --app\n"
    "when more than one does.\n";

static const char user_show_help[] =
    "Usage: otpgate user show SUB [--app ID]\n"
    "\n"
    "Prints, as JSON, for each app that knows user SUB (or only app ID): the user's\n"
    "factors (id, type, status, destination, times), passkeys (name, AAGUID,\n"
    "created, last used, signature counter, synced, backed up), consecutive failures,\n"
    "wait and lock state, and how many recovery codes are left. Times are unix\n"
    "milliseconds.\n";

static const char user_reset_help[] =
    "Usage: otpgate user reset SUB [--app ID]\n"
    "\n"
    "Removes every factor, recovery code and open challenge of user SUB, so the user\n"
    "enrols again at the next sign-in. Recorded in the audit trail as admin_reset.\n";

static const char user_forget_help[] =
    "Usage: otpgate user forget-devices SUB [--app ID]\n"
    "\n"
    "Ends every remembered device of user SUB (and the user's devices remembered for\n"
    "every app), so each asks for the second step again at once. Recorded in the audit\n"
    "trail as admin_forget_devices.\n";

static const char user_unlock_help[] =
    "Usage: otpgate user unlock SUB [--app ID]\n"
    "\n"
    "Sets user SUB's consecutive failures to 0 and lifts any wait or lock. Recorded in\n"
    "the audit trail as admin_unlock.\n";

static const char audit_help[] =
    "Usage: otpgate audit export [--since TIME] [--app ID]\n"
    "\n"
    "Prints the audit trail as JSON lines, oldest first, for a SIEM: one object per\n"
    "row with id, at (ISO 8601 UTC), app_id, sub, event, factor_id, ip, user_agent and\n"
    "detail. Codes, secrets and destinations are never in it.\n"
    "\n"
    "  --since TIME   only rows from TIME on: 2025-01-31, 2025-01-31T12:00:00Z, unix\n"
    "                 seconds, or an age such as 30m, 24h or 7d\n"
    "  --app ID       only rows of app ID\n";

static bool is_admin_command(const char *cmd)
{
    return strcmp(cmd, "app") == 0 || strcmp(cmd, "policy") == 0 || strcmp(cmd, "user") == 0 ||
           strcmp(cmd, "brand") == 0 || strcmp(cmd, "keys") == 0 || strcmp(cmd, "admin") == 0 ||
           strcmp(cmd, "audit") == 0;
}

bool cli_admin_owns(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0')
            continue;
        return is_admin_command(a);
    }
    return false;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    fputs("otpgate: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_ERROR;
}

static int usage(const char *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "otpgate: %s%s%s%s; run 'otpgate %s%s--help'\n", msg, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "", cmd, *cmd ? " " : "");
    return EXIT_USAGE;
}

/* Takes the value of an option given as "--opt VALUE" or "--opt=VALUE".
 * Returns 1 when argv[*i] is this option (value in *out), 0 when it is not,
 * -1 when the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *cmd = o->npos ? o->pos[0] : "";
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (o->npos >= MAX_POSITIONAL)
                return usage(cmd, "too many arguments", NULL);
            o->pos[o->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            continue;
        }
        const char *v = NULL;
        int r;
        if ((r = opt_value(argc, argv, &i, "--config", &v)) != 0) {
            o->config_file = v;
        } else if ((r = opt_value(argc, argv, &i, "--name", &v)) != 0) {
            o->name = v;
            o->seen |= OPT_NAME;
        } else if ((r = opt_value(argc, argv, &i, "--redirect-uri", &v)) != 0) {
            if (r > 0 && o->nuris >= APPS_MAX_URIS)
                return usage(cmd, "too many --redirect-uri options; at most 32", NULL);
            if (r > 0)
                o->uris[o->nuris++] = v;
            o->seen |= OPT_URI;
        } else if ((r = opt_value(argc, argv, &i, "--policy", &v)) != 0) {
            o->policy = v;
            o->seen |= OPT_POLICY;
        } else if ((r = opt_value(argc, argv, &i, "--app", &v)) != 0) {
            o->app = v;
            o->seen |= OPT_APP;
        } else if ((r = opt_value(argc, argv, &i, "--webhook-url", &v)) != 0) {
            o->webhook_url = v;
            o->seen |= OPT_WEBHOOK;
        } else if ((r = opt_value(argc, argv, &i, "--since", &v)) != 0) {
            o->since = v;
            o->seen |= OPT_SINCE;
        } else if (strcmp(a, "--rotate-webhook-secret") == 0) {
            o->seen |= OPT_ROTATE_HOOK;
        } else {
            return usage(cmd, "unknown option", a);
        }
        if (r < 0)
            return usage(cmd, "this option needs a value:", a);
    }
    return 0;
}

/* Refuses options the subcommand does not take. */
static int check_opts(const struct opts *o, unsigned allowed, const char *cmd)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{OPT_NAME, "--name"},           {OPT_URI, "--redirect-uri"},
                 {OPT_POLICY, "--policy"},       {OPT_APP, "--app"},
                 {OPT_WEBHOOK, "--webhook-url"}, {OPT_ROTATE_HOOK, "--rotate-webhook-secret"},
                 {OPT_SINCE, "--since"}};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if ((o->seen & names[i].bit) && !(allowed & names[i].bit))
            return usage(cmd, "this command does not take", names[i].name);
    return 0;
}

/* ---- setup ---- */

static int env_open(const struct opts *o, struct admin_env *e)
{
    memset(e, 0, sizeof(*e));
    char err[512];
    if (config_load(&e->cfg, o->config_file, environ, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "otpgate: %s\n", err);
        return EXIT_USAGE;
    }
    log_set_level(e->cfg.log_level);
    /* The master key comes first: masterkey_load also creates the data
     * directory (0700) that the database goes into. */
    uint8_t master[MASTERKEY_LEN];
    if (masterkey_load(e->cfg.data_dir, master, err, sizeof(err)) != OG_OK)
        return fail("%s", err);
    /* Every command derives the keys, if only to check them against the
     * database. */
    if (keyring_derive(master, &e->keys) != OG_OK) {
        OPENSSL_cleanse(master, sizeof(master));
        return fail("cannot derive keys from the master key");
    }
    e->have_keys = true;
    OPENSSL_cleanse(master, sizeof(master));
    char path[4096];
    if (config_store_target(&e->cfg, path, sizeof(path)) != OG_OK)
        return fail("OTPGATE_DATA_DIR or OTPGATE_DATABASE_URL is too long");
    if (store_open(path, &e->store, err, sizeof(err)) != OG_OK)
        return fail("%s", err);
    if (masterkey_check_store(e->store, &e->keys, err, sizeof(err)) != OG_OK)
        return fail("%s", err);
    return 0;
}

static void env_close(struct admin_env *e)
{
    store_close(e->store);
    e->store = NULL;
    if (e->have_keys)
        keyring_wipe(&e->keys);
    config_free(&e->cfg);
}

/* 0 when app id exists, else an error message and EXIT_ERROR. */
static int need_app(struct admin_env *e, const char *id)
{
    struct app a;
    int rc = apps_get(e->store, id, &a);
    apps_free(&a);
    if (rc == OG_ERR_NOT_FOUND)
        return fail("no app '%s'; 'otpgate app list' shows the apps", id);
    if (rc != OG_OK && rc != OG_ERR_INVALID)
        return fail("cannot read app '%s': %s", id, og_strerror(rc));
    return 0;
}

static int print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));
    if (!text)
        og_oom();
    puts(text);
    free(text);
    return 0;
}

/* ---- app ---- */

/* Commands that write run their transaction again when it met a conflict
 * (OG_ERR_BUSY): on PostgreSQL, the instances serving at the same moment
 * may have read what it changes. A few times, with growing pauses. */
#define CLI_RUNS_MAX 8

static bool again_after_busy(int rc, int *run)
{
    if (rc != OG_ERR_BUSY || ++*run >= CLI_RUNS_MAX)
        return false;
    struct timespec ts = {0, 20L * 1000 * 1000 * *run};
    nanosleep(&ts, NULL);
    return true;
}

/* Ends a command's transaction: COMMIT when rc is OG_OK, ROLLBACK when it
 * is not or the COMMIT fails (so the next run starts clean). Returns the
 * outcome. */
static int txn_end(struct store *s, int rc)
{
    if (rc == OG_OK)
        rc = store_commit(s);
    if (rc != OG_OK)
        store_rollback(s);
    return rc;
}

/* Prints {"client_id","client_secret"} by hand rather than through
 * jansson, so no copy of the secret outlives this call uncleansed. Both are
 * plain base32/base64url text that needs no escaping. */
static void print_credentials(const char *id, const char *secret)
{
    printf("{\"client_id\":\"%s\",\"client_secret\":\"%s\"}\n", id, secret);
    fflush(stdout);
}

static int cmd_app_add(struct admin_env *e, const struct opts *o)
{
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN], err[512];
    int rc, run = 0;
    do
        rc = apps_add(e->store, &e->keys, o->name, o->uris, o->nuris, o->policy, id, sizeof(id),
                      secret, sizeof(secret), err, sizeof(err));
    while (again_after_busy(rc, &run));
    if (rc != OG_OK)
        return fail("app add: %s", err);
    print_credentials(id, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

static int cmd_app_list(struct admin_env *e)
{
    char *text = NULL;
    int rc = apps_list_json(e->store, &text);
    if (rc != OG_OK)
        return fail("app list: %s", og_strerror(rc));
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    if (!j)
        return fail("app list: could not format the list");
    print_json(j);
    json_decref(j);
    return 0;
}

/* Prints {"client_id","webhook_url","webhook_secret"} by hand, like
 * print_credentials: the secret is base64 text that needs no escaping;
 * the URL was checked to be printable ASCII without quotes' special
 * meaning but is escaped all the same. */
static void print_webhook_secret(const char *id, const char *url, const char *secret)
{
    char eurl[2 * APPS_URI_MAX + 8];
    log_json_escape(eurl, sizeof(eurl), url);
    printf("{\"client_id\":\"%s\",\"webhook_url\":\"%s\",\"webhook_secret\":\"%s\"}\n", id, eurl,
           secret);
    fflush(stdout);
}

static int cmd_app_set(struct admin_env *e, const struct opts *o, const char *id)
{
    int rc = need_app(e, id);
    if (rc)
        return rc;
    char err[512] = "", secret[APPS_WEBHOOK_SECRET_LEN] = "";
    bool made = false;
    int run = 0;
    do {
        err[0] = '\0';
        made = false;
        rc = store_begin(e->store);
        if (rc == OG_OK && (o->name || o->nuris))
            rc = apps_update(e->store, id, o->name, o->nuris ? o->uris : NULL, o->nuris, err,
                             sizeof(err));
        if (rc == OG_OK && o->webhook_url)
            rc = apps_set_webhook(e->store, &e->keys, id, o->webhook_url, secret, sizeof(secret),
                                  &made, err, sizeof(err));
        if (rc == OG_OK && (o->seen & OPT_ROTATE_HOOK)) {
            rc = apps_rotate_webhook_secret(e->store, &e->keys, id, secret, sizeof(secret));
            if (rc == OG_ERR_NOT_FOUND)
                snprintf(err, sizeof(err),
                         "app '%s' has no webhook URL; set one with --webhook-url", id);
            made = rc == OG_OK;
        }
        rc = txn_end(e->store, rc);
    } while (again_after_busy(rc, &run));
    if (rc != OG_OK) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return fail("app set: %s", err[0] ? err : og_strerror(rc));
    }
    if (made) {
        char url[APPS_URI_MAX + 1];
        apps_webhook_url(e->store, id, url, sizeof(url));
        print_webhook_secret(id, url, secret);
    } else {
        printf("updated app %s\n", id);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

static int cmd_app_rotate(struct admin_env *e, const char *id)
{
    char secret[APPS_SECRET_LEN];
    int rc, run = 0;
    do
        rc = apps_rotate_secret(e->store, &e->keys, id, secret, sizeof(secret));
    while (again_after_busy(rc, &run));
    if (rc == OG_ERR_NOT_FOUND)
        return fail("no app '%s'; 'otpgate app list' shows the apps", id);
    if (rc != OG_OK)
        return fail("app rotate-secret: %s", og_strerror(rc));
    print_credentials(id, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

static int cmd_app_remove(struct admin_env *e, const char *id)
{
    int rc, run = 0;
    do
        rc = apps_remove(e->store, id);
    while (again_after_busy(rc, &run));
    if (rc == OG_ERR_NOT_FOUND)
        return fail("no app '%s'; 'otpgate app list' shows the apps", id);
    if (rc != OG_OK)
        return fail("app remove: %s", og_strerror(rc));
    printf("removed app %s with its users, factors and policy\n", id);
    return 0;
}

static int run_app(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    const char *help = app_help;
    unsigned allowed = 0;
    size_t nargs = 0;
    if (!sub) {
        if (o->help) {
            fputs(app_help, stdout);
            return 0;
        }
        return usage("app", "app needs a command: add, list, set, rotate-secret or remove", NULL);
    } else if (strcmp(sub, "add") == 0) {
        help = app_add_help;
        allowed = OPT_NAME | OPT_URI | OPT_POLICY;
    } else if (strcmp(sub, "list") == 0) {
        help = app_list_help;
    } else if (strcmp(sub, "set") == 0) {
        help = app_set_help;
        allowed = OPT_NAME | OPT_URI | OPT_WEBHOOK | OPT_ROTATE_HOOK;
        nargs = 1;
    } else if (strcmp(sub, "rotate-secret") == 0) {
        help = app_rotate_help;
        nargs = 1;
    } else if (strcmp(sub, "remove") == 0) {
        help = app_remove_help;
        nargs = 1;
    } else {
        return usage("app", "unknown app command", sub);
    }
    if (o->help) {
        fputs(help, stdout);
        return 0;
    }
    int rc = check_opts(o, allowed, "app");
    if (rc)
        return rc;
    if (o->npos - 2 != nargs)
        return usage("app",
                     nargs ? "this command needs exactly one app ID"
                           : "this command takes no arguments, got",
                     nargs ? NULL : o->pos[2]);
    if (strcmp(sub, "add") == 0 && !o->name)
        return usage("app add", "app add needs --name NAME", NULL);
    if (strcmp(sub, "add") == 0 && o->nuris == 0)
        return usage("app add", "app add needs at least one --redirect-uri URI", NULL);
    if (strcmp(sub, "set") == 0 &&
        !(o->seen & (OPT_NAME | OPT_URI | OPT_WEBHOOK | OPT_ROTATE_HOOK)))
        return usage("app set",
                     "app set needs --name, --redirect-uri, --webhook-url or "
                     "--rotate-webhook-secret",
                     NULL);

    struct admin_env e;
    rc = env_open(o, &e);
    if (rc == 0) {
        if (strcmp(sub, "add") == 0)
            rc = cmd_app_add(&e, o);
        else if (strcmp(sub, "list") == 0)
            rc = cmd_app_list(&e);
        else if (strcmp(sub, "set") == 0)
            rc = cmd_app_set(&e, o, o->pos[2]);
        else if (strcmp(sub, "rotate-secret") == 0)
            rc = cmd_app_rotate(&e, o->pos[2]);
        else
            rc = cmd_app_remove(&e, o->pos[2]);
    }
    env_close(&e);
    return rc;
}

/* ---- policy ---- */

static int cmd_policy_show(struct admin_env *e, const char *app)
{
    if (app) {
        int rc = need_app(e, app);
        if (rc)
            return rc;
    }
    struct buf b;
    buf_init(&b, SHOW_BUF_CAP);
    int rc = policy_show(e->store, app ? app : "", &b);
    if (rc == OG_OK)
        fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    if (rc != OG_OK)
        return fail("policy show: %s", og_strerror(rc));
    return 0;
}

/* Splits "KEY=VALUE" into key (copied into keybuf) and value. */
static bool split_pair(const char *arg, char *keybuf, size_t keylen, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= keylen)
        return false;
    memcpy(keybuf, arg, (size_t)(eq - arg));
    keybuf[eq - arg] = '\0';
    *value = eq + 1;
    return true;
}

static int cmd_policy_set(struct admin_env *e, const struct opts *o)
{
    const char *scope = o->app ? o->app : "";
    if (o->app) {
        int rc = need_app(e, o->app);
        if (rc)
            return rc;
    }
    char key[64], err[512];
    const char *value = NULL;
    /* Every pair is checked before anything is written. */
    for (size_t i = 2; i < o->npos; i++) {
        if (!split_pair(o->pos[i], key, sizeof(key), &value))
            return fail("'%s' is not KEY=VALUE; nothing was changed", o->pos[i]);
        if (policy_validate(key, value, *scope != '\0', err, sizeof(err)) != OG_OK)
            return fail("%s; nothing was changed", err);
    }
    int rc, run = 0;
    do {
        rc = store_begin(e->store);
        if (rc != OG_OK) {
            snprintf(err, sizeof(err), "cannot start a transaction: %s", og_strerror(rc));
            continue;
        }
        for (size_t i = 2; i < o->npos && rc == OG_OK; i++) {
            split_pair(o->pos[i], key, sizeof(key), &value);
            rc = policy_set(e->store, scope, key, value, err, sizeof(err));
        }
        if (rc == OG_OK) {
            rc = store_commit(e->store);
            if (rc != OG_OK)
                snprintf(err, sizeof(err), "could not save: %s", og_strerror(rc));
        }
        if (rc != OG_OK)
            store_rollback(e->store);
    } while (again_after_busy(rc, &run));
    if (rc != OG_OK)
        return fail("policy set: %s; nothing was changed", err);

    /* Show the new effective value of each key that was set. */
    struct buf b;
    buf_init(&b, SHOW_BUF_CAP);
    if (policy_show(e->store, scope, &b) == OG_OK && b.len > 0) {
        for (char *line = b.data; *line;) {
            char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            for (size_t i = 2; i < o->npos; i++) {
                split_pair(o->pos[i], key, sizeof(key), &value);
                size_t kl = strlen(key);
                if (len > kl + 2 && strncmp(line, key, kl) == 0 && line[kl] == ' ') {
                    fwrite(line, 1, len, stdout);
                    fputc('\n', stdout);
                    break;
                }
            }
            line += len + (nl ? 1 : 0);
        }
    }
    buf_free(&b);
    return 0;
}

static int run_policy(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (!sub) {
        if (o->help) {
            fputs(policy_help, stdout);
            fputs(policy_help_text(), stdout);
            return 0;
        }
        return usage("policy", "policy needs a command: show or set", NULL);
    }
    bool show = strcmp(sub, "show") == 0;
    if (!show && strcmp(sub, "set") != 0)
        return usage("policy", "unknown policy command", sub);
    if (o->help) {
        fputs(show ? policy_show_help : policy_set_help, stdout);
        fputs(policy_help_text(), stdout);
        return 0;
    }
    int rc = check_opts(o, OPT_APP, "policy");
    if (rc)
        return rc;
    if (show && o->npos > 2)
        return usage("policy show", "policy show takes no arguments, got", o->pos[2]);
    if (!show && o->npos < 3)
        return usage("policy set", "policy set needs at least one KEY=VALUE", NULL);
    if (o->app && !*o->app)
        return usage("policy", "--app needs an app ID", NULL);

    struct admin_env e;
    rc = env_open(o, &e);
    if (rc == 0)
        rc = show ? cmd_policy_show(&e, o->app) : cmd_policy_set(&e, o);
    env_close(&e);
    return rc;
}

/* ---- user ---- */

static const char SQL_USERS[] =
    "SELECT u.id, u.app_id, a.name, u.preferred_factor, u.last_used_factor, u.failures, "
    "u.retry_at, u.last_wait, u.locked_at, u.created_at FROM users u JOIN apps a "
    "ON a.id = u.app_id WHERE u.sub = ?1 AND (CAST(?2 AS TEXT) IS NULL OR u.app_id = ?2) "
    "ORDER BY u.app_id";
static const char SQL_FACTORS[] =
    "SELECT id, type, status, destination, created_at, verified_at, last_used_at "
    "FROM factors WHERE user_id = ?1 ORDER BY created_at, id";
static const char SQL_PASSKEYS[] =
    "SELECT w.factor_id, w.name, w.aaguid, f.created_at, f.last_used_at, w.sign_count, w.be, "
    "w.bs, w.uv, w.transports, w.rp_id FROM webauthn_credentials w JOIN factors f ON "
    "f.id = w.factor_id WHERE f.user_id = ?1 ORDER BY f.created_at, f.id";
static const char SQL_RECOVERY_LEFT[] =
    "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL";

#define USERS_MAX 256

struct user_ref {
    int64_t id;
    char app_id[APPS_ID_LEN];
};

/* A JSON integer, or null for an SQL NULL. */
static json_t *col_int_or_null(db_stmt *st, int col)
{
    if (db_column_type(st, col) == DB_NULL)
        return json_null();
    return json_integer((json_int_t)db_column_int64(st, col));
}

static json_t *col_text_or_null(db_stmt *st, int col)
{
    const char *t = (const char *)db_column_text(st, col);
    json_t *j = t ? json_string(t) : NULL;
    return j ? j : json_null();
}

static int64_t scalar_int(struct store *s, const char *sql, int64_t id)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return -1;
    db_bind_int64(st, 1, id);
    int64_t v = db_step(st) == DB_ROW ? db_column_int64(st, 0) : -1;
    db_reset(st);
    return v;
}

static json_t *user_factors(struct store *s, int64_t user_id)
{
    json_t *arr = json_array();
    db_stmt *st = store_stmt(s, SQL_FACTORS);
    if (!st)
        return arr;
    db_bind_int64(st, 1, user_id);
    while (db_step(st) == DB_ROW) {
        json_t *f = json_object();
        json_object_set_new(f, "id", col_text_or_null(st, 0));
        json_object_set_new(f, "type", col_text_or_null(st, 1));
        json_object_set_new(f, "status", col_text_or_null(st, 2));
        json_object_set_new(f, "destination", col_text_or_null(st, 3));
        json_object_set_new(f, "created_at", col_int_or_null(st, 4));
        json_object_set_new(f, "verified_at", col_int_or_null(st, 5));
        json_object_set_new(f, "last_used_at", col_int_or_null(st, 6));
        json_array_append_new(arr, f);
    }
    db_reset(st);
    return arr;
}

/* The user's passkeys: name, AAGUID, created, last used, signature
 * counter, synced (BE), backed up (BS), user verified at registration,
 * transports and RP ID. Nothing secret: the public key and credential id
 * stay in the database. */
static json_t *user_passkeys(struct store *s, int64_t user_id)
{
    json_t *arr = json_array();
    db_stmt *st = store_stmt(s, SQL_PASSKEYS);
    if (!st)
        return arr;
    db_bind_int64(st, 1, user_id);
    while (db_step(st) == DB_ROW) {
        char aaguid[WEBAUTHN_AAGUID_TEXT_LEN] = "";
        const uint8_t *g = db_column_blob(st, 2);
        if (g && db_column_bytes(st, 2) == 16)
            webauthn_aaguid_format(g, aaguid);
        json_t *k = json_object();
        json_object_set_new(k, "id", col_text_or_null(st, 0));
        json_object_set_new(k, "name", col_text_or_null(st, 1));
        json_object_set_new(k, "aaguid", json_string(aaguid));
        json_object_set_new(k, "created_at", col_int_or_null(st, 3));
        json_object_set_new(k, "last_used_at", col_int_or_null(st, 4));
        json_object_set_new(k, "sign_count", col_int_or_null(st, 5));
        json_object_set_new(k, "synced", json_boolean(db_column_int(st, 6) != 0));
        json_object_set_new(k, "backed_up", json_boolean(db_column_int(st, 7) != 0));
        json_object_set_new(k, "user_verified", json_boolean(db_column_int(st, 8) != 0));
        json_object_set_new(k, "transports", col_text_or_null(st, 9));
        json_object_set_new(k, "rp_id", col_text_or_null(st, 10));
        json_array_append_new(arr, k);
    }
    db_reset(st);
    return arr;
}

/* Finds SUB's users (under app, when not NULL) into refs; with out not
 * NULL also builds their JSON. Returns the count, or -1 on a store error. */
static int find_users(struct store *s, const char *sub, const char *app, struct user_ref *refs,
                      size_t max, json_t *out)
{
    db_stmt *st = store_stmt(s, SQL_USERS);
    if (!st)
        return -1;
    db_bind_text_copy(st, 1, sub, -1);
    if (app)
        db_bind_text_copy(st, 2, app, -1);
    int n = 0, rc;
    /* Rows are collected first: the per-user queries below reuse the cache. */
    json_t *rows = json_array();
    while ((rc = db_step(st)) == DB_ROW) {
        if ((size_t)n < max) {
            refs[n].id = db_column_int64(st, 0);
            const char *a = (const char *)db_column_text(st, 1);
            snprintf(refs[n].app_id, sizeof(refs[n].app_id), "%s", a ? a : "");
        }
        int64_t retry_at = db_column_int64(st, 6);
        json_t *u = json_object();
        json_object_set_new(u, "client_id", col_text_or_null(st, 1));
        json_object_set_new(u, "app_name", col_text_or_null(st, 2));
        json_object_set_new(u, "preferred_factor", col_text_or_null(st, 3));
        json_object_set_new(u, "last_used_factor", col_text_or_null(st, 4));
        json_object_set_new(u, "failures", col_int_or_null(st, 5));
        json_object_set_new(u, "waiting", json_boolean(retry_at > server_now_ms()));
        json_object_set_new(u, "retry_at", retry_at > 0 ? json_integer(retry_at) : json_null());
        json_object_set_new(u, "last_wait", col_int_or_null(st, 7));
        json_object_set_new(u, "locked", json_boolean(db_column_type(st, 8) != DB_NULL));
        json_object_set_new(u, "locked_at", col_int_or_null(st, 8));
        json_object_set_new(u, "created_at", col_int_or_null(st, 9));
        json_object_set_new(u, "_id", json_integer((json_int_t)db_column_int64(st, 0)));
        json_array_append_new(rows, u);
        n++;
    }
    db_reset(st);
    if (rc != DB_DONE) {
        json_decref(rows);
        return -1;
    }
    if (out) {
        size_t i;
        json_t *u;
        json_array_foreach(rows, i, u)
        {
            int64_t id = (int64_t)json_integer_value(json_object_get(u, "_id"));
            json_object_del(u, "_id");
            json_object_set_new(u, "factors", user_factors(s, id));
            json_object_set_new(u, "passkeys", user_passkeys(s, id));
            int64_t left = scalar_int(s, SQL_RECOVERY_LEFT, id);
            json_object_set_new(u, "recovery_codes_left", json_integer(left < 0 ? 0 : left));
            json_array_append(out, u);
        }
    }
    json_decref(rows);
    return n;
}

/* Picks the one user the reset/unlock acts on, or explains why not. */
static int pick_user(struct store *s, const char *sub, const char *app, const char *cmd,
                     struct user_ref *one)
{
    struct user_ref refs[USERS_MAX];
    int n = find_users(s, sub, app, refs, ARRAY_SIZE(refs), NULL);
    if (n < 0)
        return fail("user %s: cannot read users", cmd);
    if (n == 0) {
        if (app)
            return fail("no user '%s' under app '%s'", sub, app);
        return fail("no user '%s' under any app", sub);
    }
    if (n > 1) {
        char list[512] = "";
        size_t len = 0;
        for (int i = 0; i < n && (size_t)i < ARRAY_SIZE(refs) && len < sizeof(list); i++) {
            int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", refs[i].app_id);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        return fail("user '%s' exists under %d apps (%s); say which with --app ID", sub, n, list);
    }
    *one = refs[0];
    return 0;
}

static int cmd_user_show(struct admin_env *e, const char *sub, const char *app)
{
    json_t *apps = json_array();
    int n = find_users(e->store, sub, app, NULL, 0, apps);
    if (n <= 0) {
        json_decref(apps);
        if (n < 0)
            return fail("user show: cannot read users");
        if (app)
            return fail("no user '%s' under app '%s'", sub, app);
        return fail("no user '%s' under any app", sub);
    }
    json_t *out = json_pack("{s:s, s:o}", "sub", sub, "apps", apps);
    if (!out)
        return fail("user show: the user id is not valid UTF-8");
    print_json(out);
    json_decref(out);
    return 0;
}

enum user_change { USER_RESET, USER_UNLOCK, USER_FORGET_DEVICES };

static int cmd_user_change(struct admin_env *e, const char *sub, const char *app,
                           enum user_change what)
{
    bool reset = what == USER_RESET;
    const char *cmd = reset ? "reset" : what == USER_UNLOCK ? "unlock" : "forget-devices";
    struct user_ref u;
    struct support_reset_counts counts;
    int64_t failures;
    int devices, rc, run = 0;
    do {
        counts = (struct support_reset_counts){0, 0, 0, 0};
        failures = 0;
        devices = 0;
        rc = store_begin(e->store);
        if (rc != OG_OK)
            continue; /* the loop's test: again, or the failure below */
        int picked = pick_user(e->store, sub, app, cmd, &u);
        if (picked) {
            store_rollback(e->store);
            return picked;
        }
        if (reset)
            rc = support_user_reset(e->store, u.id, u.app_id, sub, "cli", NULL, server_now_ms(),
                                    &counts);
        else if (what == USER_FORGET_DEVICES)
            rc = support_user_forget_devices(e->store, u.app_id, sub, "cli", NULL, server_now_ms(),
                                             &devices);
        else
            rc = support_user_unlock(e->store, u.id, u.app_id, sub, "cli", NULL, server_now_ms(),
                                     &failures);
        rc = txn_end(e->store, rc);
    } while (again_after_busy(rc, &run));
    if (rc != OG_OK)
        return fail("user %s: could not save: %s", cmd, og_strerror(rc));
    if (reset)
        printf("reset user %s under app %s: removed %d factors, %d recovery codes, %d "
               "challenges and %d remembered devices\n",
               sub, u.app_id, counts.factors, counts.recovery_codes, counts.challenges,
               counts.devices);
    else if (what == USER_FORGET_DEVICES)
        printf("forgot %d remembered devices of user %s under app %s\n", devices, sub, u.app_id);
    else
        printf("unlocked user %s under app %s (had %lld consecutive failures)\n", sub, u.app_id,
               (long long)failures);
    return 0;
}

static int run_user(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    const char *help;
    if (!sub) {
        if (o->help) {
            fputs(user_help, stdout);
            return 0;
        }
        return usage("user", "user needs a command: show, reset, unlock or forget-devices", NULL);
    } else if (strcmp(sub, "show") == 0) {
        help = user_show_help;
    } else if (strcmp(sub, "reset") == 0) {
        help = user_reset_help;
    } else if (strcmp(sub, "unlock") == 0) {
        help = user_unlock_help;
    } else if (strcmp(sub, "forget-devices") == 0) {
        help = user_forget_help;
    } else {
        return usage("user", "unknown user command", sub);
    }
    if (o->help) {
        fputs(help, stdout);
        return 0;
    }
    int rc = check_opts(o, OPT_APP, "user");
    if (rc)
        return rc;
    if (o->npos != 3 || !*o->pos[2])
        return usage("user", "this command needs exactly one user id (SUB)", NULL);
    if (o->app && !*o->app)
        return usage("user", "--app needs an app ID", NULL);

    struct admin_env e;
    rc = env_open(o, &e);
    if (rc == 0 && o->app)
        rc = need_app(&e, o->app);
    if (rc == 0) {
        if (help == user_show_help)
            rc = cmd_user_show(&e, o->pos[2], o->app);
        else
            rc = cmd_user_change(&e, o->pos[2], o->app,
                                 help == user_reset_help    ? USER_RESET
                                 : help == user_unlock_help ? USER_UNLOCK
                                                            : USER_FORGET_DEVICES);
    }
    env_close(&e);
    return rc;
}

static const char brand_help[] =
    "Usage: otpgate brand show\n"
    "       otpgate brand set KEY=VALUE...\n"
    "\n"
    "The look of the end-user pages (also on the admin console's Branding page):\n"
    "  name=TEXT     product name in the page header (1..64 characters; default otpgate)\n"
    "  accent=#RGB   accent colour, #rgb or #rrggbb (default #1d4ed8)\n"
    "  logo=FILE     a PNG, JPEG, WebP or SVG file (at most 256 KiB; an SVG without\n"
    "                scripts), copied into the data directory and served at /brand/logo\n"
    "  logo=PATH     or an image otpgate serves from its static files, such as\n"
    "                /static/img/logo.svg\n"
    "                (a value that names an existing file is always taken as FILE)\n"
    "  support=TEXT  who users contact when locked out, e.g. help@example.com or a phone\n"
    "                number (1..200 characters; default: \"your administrator\")\n"
    "An empty value (name=) goes back to the default.\n";

/* A logo=FILE value read into memory before anything is written. */
struct brand_file {
    uint8_t *data;
    size_t len;
    const char *mime;
};

/* Whether v names a regular file (then it is read and checked into f), or
 * returns an exit code after one line on stderr. *is_file tells which. */
static int brand_read_file(const char *v, bool *is_file, struct brand_file *f)
{
    struct stat st;
    *is_file = v[0] && stat(v, &st) == 0 && S_ISREG(st.st_mode);
    if (!*is_file)
        return 0;
    if (st.st_size > BRAND_LOGO_MAX)
        return fail("brand logo: '%s' has %lld bytes; at most %d KiB are allowed", v,
                    (long long)st.st_size, BRAND_LOGO_MAX / 1024);
    FILE *in = fopen(v, "rb");
    if (!in)
        return fail("brand logo: cannot read '%s': %s", v, strerror(errno));
    f->data = og_malloc(BRAND_LOGO_MAX + 1);
    f->len = fread(f->data, 1, BRAND_LOGO_MAX + 1, in);
    bool bad = ferror(in) != 0;
    fclose(in);
    if (bad)
        return fail("brand logo: cannot read '%s'", v);
    char err[256];
    if (brand_logo_check(f->data, f->len, &f->mime, err, sizeof(err)) != OG_OK)
        return fail("brand %s ('%s')", err, v);
    return 0;
}

static int run_brand(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (o->help || !sub) {
        fputs(brand_help, o->help ? stdout : stderr);
        return o->help ? 0 : EXIT_USAGE;
    }
    bool show = strcmp(sub, "show") == 0;
    if (!show && strcmp(sub, "set") != 0)
        return usage("brand", "unknown brand command", sub);
    if (!show && o->npos < 3)
        return usage("brand set", "brand set needs at least one KEY=VALUE", NULL);
    struct brand_file file = {NULL, 0, NULL};
    const char *file_name = NULL;
    bool seen_logo = false;
    int rc = 0;
    /* Every pair is checked (and a logo file read) before anything is written. */
    for (size_t i = 2; !show && i < o->npos && rc == 0; i++) {
        const char *eq = strchr(o->pos[i], '=');
        char key[16];
        size_t klen = eq ? (size_t)(eq - o->pos[i]) : 0;
        snprintf(key, sizeof(key), "%.*s", (int)(klen < sizeof(key) ? klen : 0), o->pos[i]);
        if (!eq || !brand_key_known(key)) {
            rc = usage("brand set", "expected name=, accent=, logo= or support=, got", o->pos[i]);
            break;
        }
        bool is_file = false;
        if (strcmp(key, "logo") == 0) {
            if (seen_logo) {
                rc = usage("brand set", "give logo= once, got another", o->pos[i]);
                break;
            }
            seen_logo = true;
            rc = brand_read_file(eq + 1, &is_file, &file);
            if (is_file)
                file_name = eq + 1;
        }
        const char *why = is_file ? NULL : brand_check(key, eq + 1);
        if (rc == 0 && why)
            rc = strcmp(key, "logo") == 0
                     ? fail("brand logo: '%s' is neither a file here nor a path on this server "
                            "such as /static/img/logo.svg",
                            eq + 1)
                     : fail("brand %s: '%s' %s", key, eq + 1, why);
    }
    struct admin_env e;
    if (rc == 0)
        rc = env_open(o, &e);
    else {
        free(file.data);
        return rc;
    }
    for (size_t i = 2; rc == 0 && !show && i < o->npos; i++) {
        const char *eq = strchr(o->pos[i], '=');
        char key[16], url[64];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - o->pos[i]), o->pos[i]);
        const char *value = eq + 1;
        if (strcmp(key, "logo") == 0 && file_name) {
            char current[BRAND_VALUE_LEN], err[512];
            if (brand_get(e.store, "logo", current, sizeof(current)) != OG_OK)
                current[0] = '\0';
            if (brand_logo_save(e.store, file.data, file.len, current, server_now_ms(), url,
                                sizeof(url), err, sizeof(err)) != OG_OK) {
                rc = fail("brand %s", err);
                break;
            }
            value = url;
        }
        if (brand_set(e.store, key, value) != OG_OK)
            rc = fail("could not save brand %s", key);
    }
    free(file.data);
    for (size_t k = 0; rc == 0 && k < ARRAY_SIZE(brand_keys); k++) {
        char v[BRAND_VALUE_LEN];
        if (brand_get(e.store, brand_keys[k], v, sizeof(v)) != OG_OK)
            v[0] = '\0';
        printf("%s = %s\n", brand_keys[k], v[0] ? v : "(default)");
    }
    env_close(&e);
    return rc;
}

static const char keys_help[] =
    "Usage: otpgate keys rotate\n"
    "\n"
    "Adds a new ES256 token-signing key and makes it the active one. The old key\n"
    "stays published in /jwks.json until every token it signed has expired, so\n"
    "apps keep validating them. Prints the new key id.\n";

static int run_keys(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (o->help) {
        fputs(keys_help, stdout);
        return 0;
    }
    if (!sub || strcmp(sub, "rotate") != 0 || o->npos > 2)
        return usage("keys", "keys needs the command rotate", sub);
    struct admin_env e;
    int rc = env_open(o, &e);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char kid[JWT_KID_LEN];
    if (rc == 0 &&
        (signing_keys_ensure(e.store, &e.keys, now) != OG_OK ||
         signing_keys_rotate(e.store, &e.keys, now, OIDC_KEY_KEEP_MS, kid, sizeof(kid)) != OG_OK))
        rc = fail("could not rotate the signing key");
    if (rc == 0)
        printf("{\"kid\":\"%s\"}\n", kid);
    env_close(&e);
    return rc;
}

/* ---- admin ---- */

static const char admin_help[] =
    "Usage: otpgate admin add USERNAME [--config FILE]\n"
    "\n"
    "Manages the accounts of the admin console at /admin.\n"
    "\n"
    "Commands:\n"
    "  add USERNAME    create an admin account, or give an existing one a new password\n"
    "\n"
    "Run 'otpgate admin add --help' for the details.\n";

static const char admin_add_help[] =
    "Usage: otpgate admin add USERNAME [--config FILE]\n"
    "\n"
    "Creates the console account USERNAME (1 to 64 characters of A-Z a-z 0-9 . _ @ -).\n"
    "The password is read from standard input when it is not a terminal (one line,\n"
    "the trailing newline removed), otherwise it is asked for twice without echo.\n"
    "It must have at least 12 characters. It is stored only as a scrypt hash.\n"
    "For an existing USERNAME the password is replaced and the account's console\n"
    "sessions end.\n"
    "\n"
    "  echo 'a long passphrase here' | otpgate admin add alice\n";

/* Reads one line of at most ADMINS_PASSWORD_MAX bytes from f into buf
 * (size ADMINS_PASSWORD_MAX + 3), without its "\n" or "\r\n". Returns the
 * length, -1 at end of input with nothing read, -2 for a longer line. */
static long read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return -1;
    size_t n = strlen(buf);
    bool newline = n > 0 && buf[n - 1] == '\n';
    if (!newline && n >= cap - 1)
        return -2;
    if (newline)
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n > ADMINS_PASSWORD_MAX)
        return -2;
    return (long)n;
}

/* Prompts on the terminal with echo off and reads one line. */
static long prompt_line(const char *prompt, char *buf, size_t cap)
{
    fputs(prompt, stderr);
    fflush(stderr);
    struct termios old, quiet;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    long n = read_line(stdin, buf, cap);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return n;
}

/* The new password into buf: from stdin, or asked twice on a terminal.
 * Returns its length, or an exit code (negated) after one line on stderr. */
static long read_password(char *buf, size_t cap)
{
    long n;
    if (!isatty(STDIN_FILENO)) {
        n = read_line(stdin, buf, cap);
        if (n == -1)
            return -fail("admin add: no password on standard input; pipe one line into it");
    } else {
        n = prompt_line("New admin password: ", buf, cap);
        if (n >= 0) {
            char again[ADMINS_PASSWORD_MAX + 3];
            long m = prompt_line("Repeat the password: ", again, sizeof(again));
            bool same = m == n && CRYPTO_memcmp(again, buf, (size_t)n) == 0;
            OPENSSL_cleanse(again, sizeof(again));
            if (!same)
                return -fail("admin add: the two passwords differ; nothing was changed");
        } else if (n == -1) {
            return -fail("admin add: no password given; nothing was changed");
        }
    }
    if (n == -2)
        return -fail("admin add: the password is longer than %d bytes", ADMINS_PASSWORD_MAX);
    int rc = admins_password_check(buf, (size_t)n);
    if (rc == OG_ERR_TOO_BIG)
        return -fail("admin add: the password is longer than %d bytes", ADMINS_PASSWORD_MAX);
    if (rc != OG_OK)
        return -fail("admin add: the password must have at least %d characters",
                     ADMINS_PASSWORD_MIN);
    return n;
}

static int cmd_admin_add(const struct opts *o, const char *name)
{
    if (!admins_name_ok(name))
        return fail("admin add: '%.80s' is not a valid username; use 1 to %d characters of "
                    "A-Z a-z 0-9 . _ @ -",
                    name, ADMINS_NAME_MAX);
    char password[ADMINS_PASSWORD_MAX + 3];
    long n = read_password(password, sizeof(password));
    if (n < 0) {
        OPENSSL_cleanse(password, sizeof(password));
        return (int)-n;
    }
    char hash[ADMINS_HASH_LEN];
    int rc = admins_password_hash(password, (size_t)n, NULL, hash, sizeof(hash));
    OPENSSL_cleanse(password, sizeof(password));
    if (rc != OG_OK)
        return fail("admin add: cannot hash the password: %s", og_strerror(rc));

    struct admin_env e;
    int ec = env_open(o, &e);
    bool replaced = false;
    if (ec == 0) {
        int run = 0;
        do {
            rc = store_begin(e.store);
            if (rc == OG_OK)
                rc = admins_put(e.store, name, hash, server_now_ms(), &replaced);
            rc = txn_end(e.store, rc);
        } while (again_after_busy(rc, &run));
        if (rc != OG_OK)
            ec = fail("admin add: could not save: %s", og_strerror(rc));
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    if (ec == 0) {
        if (replaced)
            printf("replaced the password of admin %s; its console sessions have ended\n", name);
        else
            printf("added admin %s; sign in at %s/admin\n", name, e.cfg.public_url);
    }
    env_close(&e);
    return ec;
}

static int run_admin(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (!sub) {
        if (o->help) {
            fputs(admin_help, stdout);
            return 0;
        }
        return usage("admin", "admin needs a command: add", NULL);
    }
    if (strcmp(sub, "add") != 0)
        return usage("admin", "unknown admin command", sub);
    if (o->help) {
        fputs(admin_add_help, stdout);
        return 0;
    }
    int rc = check_opts(o, 0, "admin add");
    if (rc)
        return rc;
    if (o->npos != 3)
        return usage("admin add", "admin add needs exactly one USERNAME", NULL);
    return cmd_admin_add(o, o->pos[2]);
}

/* ---- audit ---- */

/* Parses TIME of --since into unix ms: YYYY-MM-DD[THH:MM[:SS]][Z] (UTC),
 * unix seconds, or an age N followed by s, m, h or d. */
static int parse_since(const char *v, int64_t now_ms, int64_t *out)
{
    size_t n = strlen(v);
    long long x;
    if (n >= 2 && strchr("smhd", v[n - 1]) &&
        og_parse_int(span_make(v, n - 1), 0, 100000000, &x) == OG_OK) {
        int64_t unit = v[n - 1] == 's' ? 1 : v[n - 1] == 'm' ? 60 : v[n - 1] == 'h' ? 3600 : 86400;
        *out = now_ms - (int64_t)x * unit * 1000;
        return 0;
    }
    if (og_parse_int(span_cstr(v), 0, 100000000000LL, &x) == OG_OK) {
        *out = (int64_t)x * 1000;
        return 0;
    }
    /* YYYY-MM-DD, then optional THH:MM and :SS, then optional Z. */
    static const struct {
        size_t at, len;
        long long min, max;
    } parts[] = {{0, 4, 1970, 9999}, {5, 2, 1, 12},  {8, 2, 1, 31},
                 {11, 2, 0, 23},     {14, 2, 0, 59}, {17, 2, 0, 60}};
    long long f[6] = {0, 0, 0, 0, 0, 0};
    size_t end = n && v[n - 1] == 'Z' ? n - 1 : n;
    if (end != 10 && end != 16 && end != 19)
        return -1;
    if (v[4] != '-' || v[7] != '-' || (end > 10 && v[10] != 'T' && v[10] != ' ') ||
        (end > 13 && v[13] != ':') || (end > 16 && v[16] != ':'))
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(parts) && parts[i].at < end; i++)
        if (og_parse_int(span_make(v + parts[i].at, parts[i].len), parts[i].min, parts[i].max,
                         &f[i]) != OG_OK)
            return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int)f[0] - 1900;
    tm.tm_mon = (int)f[1] - 1;
    tm.tm_mday = (int)f[2];
    tm.tm_hour = (int)f[3];
    tm.tm_min = (int)f[4];
    tm.tm_sec = (int)f[5];
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t * 1000;
    return 0;
}

static void export_row(const struct audit_row *r, void *arg)
{
    OG_UNUSED(arg);
    char *line = audit_row_json(r);
    puts(line);
    free(line);
}

static int run_audit(const struct opts *o)
{
    const char *sub = o->npos > 1 ? o->pos[1] : NULL;
    if (!sub || strcmp(sub, "export") != 0) {
        if (o->help) {
            fputs(audit_help, stdout);
            return 0;
        }
        return sub ? usage("audit", "unknown audit command", sub)
                   : usage("audit", "audit needs a command: export", NULL);
    }
    if (o->help) {
        fputs(audit_help, stdout);
        return 0;
    }
    int rc = check_opts(o, OPT_SINCE | OPT_APP, "audit");
    if (rc)
        return rc;
    if (o->npos > 2)
        return usage("audit", "audit export takes no arguments, got", o->pos[2]);
    int64_t since = 0;
    if (o->since && parse_since(o->since, server_now_ms(), &since) != 0)
        return usage("audit",
                     "--since takes 2025-01-31, 2025-01-31T12:00:00Z, unix seconds "
                     "or an age like 24h, got",
                     o->since);
    struct admin_env e;
    rc = env_open(o, &e);
    if (rc == 0 && o->app)
        rc = need_app(&e, o->app);
    if (rc == 0) {
        int src = audit_each(e.store, since, o->app, export_row, NULL);
        fflush(stdout);
        if (src != OG_OK)
            rc = fail("audit export: %s", og_strerror(src));
    }
    env_close(&e);
    return rc;
}

int cli_admin_main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    if (o.npos == 0 || !is_admin_command(o.pos[0]))
        return usage("", "unknown command", o.npos ? o.pos[0] : NULL);
    if (strcmp(o.pos[0], "app") == 0)
        return run_app(&o);
    if (strcmp(o.pos[0], "policy") == 0)
        return run_policy(&o);
    if (strcmp(o.pos[0], "brand") == 0)
        return run_brand(&o);
    if (strcmp(o.pos[0], "keys") == 0)
        return run_keys(&o);
    if (strcmp(o.pos[0], "admin") == 0)
        return run_admin(&o);
    if (strcmp(o.pos[0], "audit") == 0)
        return run_audit(&o);
    return run_user(&o);
}
