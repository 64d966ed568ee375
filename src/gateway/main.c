/* The otpgate command line (SPEC §2): picks the subcommand, loads settings,
 * and runs it. Errors are one line on stderr and a non-zero exit. */
#include "core/config.h"
#include "core/brand.h"
#include "core/log.h"
#include "core/store/store.h"
#include "core/store/store_copy.h"
#include "gateway/cli/cli_admin.h"
#include "gateway/cli/cli_send_test.h"
#include "gateway/server.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libesmtp.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <qrencode.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

#define EXIT_USAGE 2

static const char main_help[] =
    "otpgate - a self-hosted second-factor gateway\n"
    "\n"
    "Usage: otpgate [--config FILE] [COMMAND] [ARGS]\n"
    "\n"
    "Commands:\n"
    "  serve          run the server (the default when no command is given)\n"
    "  backup FILE    write a consistent online copy of the database to FILE\n"
    "  send-test --email ADDR | --sms NUMBER\n"
    "                 send a test message through the configured provider\n"
    "  app ...        add, list, set (webhooks), rotate-secret or remove applications\n"
    "  policy ...     show or set the global or an app's policy\n"
    "  user ...       show, reset or unlock a user (support tasks)\n"
    "  admin add USERNAME\n"
    "                 create an admin account for the console at /admin (password\n"
    "                 read from stdin or prompted)\n"
    "  brand ...      show or set the pages' product name, accent colour and logo\n"
    "  keys rotate    add a new token-signing key (the old one stays published)\n"
    "  audit export   print the audit trail as JSON lines\n"
    "  migrate --to postgres://...\n"
    "                 copy this SQLite database into PostgreSQL (not in this version)\n"
    "  version        print the version and the linked library versions\n"
    "\n"
    "Options:\n"
    "  --config FILE  read settings from FILE (KEY=value lines); the environment wins\n"
    "  -h, --help     show this help; `otpgate COMMAND --help` shows a command's help\n"
    "\n"
    "Settings are read from OTPGATE_* environment variables; `otpgate serve --help`\n"
    "lists them with their defaults.\n";

static const char serve_help[] =
    "Usage: otpgate serve [--config FILE]\n"
    "\n"
    "Runs the gateway on one event loop until SIGTERM or SIGINT, then finishes the\n"
    "requests in flight and exits. With nothing set it listens on 127.0.0.1:8080,\n"
    "keeps its SQLite database and master key under ./var and writes codes to the\n"
    "log (development delivery).\n"
    "\n";

static const char backup_help[] =
    "Usage: otpgate backup [--config FILE] FILE\n"
    "\n"
    "Writes a consistent copy of OTPGATE_DATA_DIR/otpgate.db to FILE with SQLite's\n"
    "online backup API; safe while the server runs. FILE must not exist yet. The\n"
    "copy holds encrypted secrets: keep master.key to read them, and store both\n"
    "apart.\n";

static const char version_help[] = "Usage: otpgate version\n\n"
                                   "Prints otpgate's version and the versions of the libraries "
                                   "it is linked with.\n";

struct cli {
    const char *config_file;
    const char *command;
    const char *args[8];
    int nargs;
    bool help;
};

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "otpgate: %s%s%s%s; run 'otpgate --help'\n", msg, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "");
    return EXIT_USAGE;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
    memset(cli, 0, sizeof(*cli));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                return usage_error("--config needs a file name", NULL);
            cli->config_file = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            cli->config_file = a + 9;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli->help = true;
        } else if (strcmp(a, "--version") == 0 && !cli->command) {
            cli->command = "version";
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option", a);
        } else if (!cli->command) {
            cli->command = a;
        } else if (cli->nargs < (int)ARRAY_SIZE(cli->args)) {
            cli->args[cli->nargs++] = a;
        } else {
            return usage_error("too many arguments", NULL);
        }
    }
    return 0;
}

static int load_config(const struct cli *cli, struct config *cfg)
{
    char err[512];
    if (config_load(cfg, cli->config_file, environ, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "otpgate: %s\n", err);
        return EXIT_USAGE;
    }
    log_set_level(cfg->log_level);
    return 0;
}

static int cmd_version(void)
{
    char esmtp[64] = "unknown";
    smtp_version(esmtp, sizeof(esmtp), 0);
    printf("otpgate %s\n", OTPGATE_VERSION);
    printf("libuv %s\n", uv_version_string());
    printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    printf("SQLite %s\n", sqlite3_libversion());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
    printf("libesmtp %s\n", esmtp);
    printf("jansson %s\n", jansson_version_str());
    printf("libqrencode %s\n", QRcode_APIVersionString());
    return 0;
}

static int cmd_serve(const struct cli *cli)
{
    if (cli->nargs > 0)
        return usage_error("serve takes no arguments, got", cli->args[0]);
    struct config cfg;
    int rc = load_config(cli, &cfg);
    if (rc) {
        config_free(&cfg);
        return rc;
    }
    if (cfg.dev_enabled)
        log_warn("development delivery is on: codes go to the log and /dev/outbox", "public_url",
                 cfg.public_url);
    else if (cfg.dev_mode == CONFIG_DEV_AUTO && cfg.public_loopback && !cfg.listen_loopback)
        log_warn("development delivery is off: OTPGATE_LISTEN is not loopback, and /dev/outbox "
                 "would show live codes to the network",
                 "listen", cfg.listen);
    if (cfg.webauthn_off[0])
        log_warn(cfg.webauthn_off, "public_url", cfg.public_url);
    else
        log_info("passkeys on", "rp_id", cfg.webauthn_rp_id, "origin", cfg.webauthn_origin);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server srv;
    char err[512];
    rc = server_init(&srv, &loop, &cfg, err, sizeof(err));
    if (rc != OG_OK) {
        fprintf(stderr, "otpgate: %s\n", err);
        uv_loop_close(&loop);
        config_free(&cfg);
        return 1;
    }
    server_run(&srv);
    /* Busy when an e-mail send was left running on the thread pool: the
     * process ends here anyway. */
    if (uv_loop_close(&loop) == UV_EBUSY) {
        config_free(&cfg);
        _exit(0);
    }
    config_free(&cfg);
    return 0;
}

static int cmd_backup(const struct cli *cli)
{
    if (cli->nargs != 1)
        return usage_error("backup needs exactly one FILE", NULL);
    struct config cfg;
    int rc = load_config(cli, &cfg);
    if (rc) {
        config_free(&cfg);
        return rc;
    }
    if (cfg.database_url) {
        config_free(&cfg);
        fprintf(stderr, "otpgate: backup copies a SQLite database; with OTPGATE_DATABASE_URL "
                        "set, back PostgreSQL up with pg_dump\n");
        return EXIT_USAGE;
    }
    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/otpgate.db", cfg.data_dir);
    struct store *st = NULL;
    rc = store_open_readonly(path, &st, err, sizeof(err));
    if (rc == OG_OK) {
        rc = store_backup(st, cli->args[0], err, sizeof(err));
        store_close(st);
    }
    config_free(&cfg);
    if (rc != OG_OK) {
        fprintf(stderr, "otpgate: backup failed: %s\n", err);
        return 1;
    }
    printf("backup written to %s\n", cli->args[0]);
    return 0;
}

static const char migrate_help[] =
    "Usage: otpgate migrate [--config FILE] --to postgres://...\n"
    "\n"
    "Copies OTPGATE_DATA_DIR/otpgate.db into an empty PostgreSQL database (its\n"
    "schema is created first) in one transaction, and checks every table's count.\n"
    "Sealed secrets are copied as they are: the instances on PostgreSQL need the\n"
    "same master.key. Stop the server first, or changes made after the copy's\n"
    "moment stay behind in SQLite. Leave the password out of the URL (it would show\n"
    "in the process list) and give it as PGPASSWORD or in ~/.pgpass.\n";

/* `otpgate migrate --to URL`. The URL, which may carry a password, is
 * never printed. */
static int cmd_migrate(int argc, char **argv)
{
    const char *config_file = NULL, *to = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(migrate_help, stdout);
            return 0;
        }
        if (strcmp(a, "migrate") == 0)
            continue;
        if ((strcmp(a, "--to") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            if (strcmp(a, "--to") == 0)
                to = argv[++i];
            else
                config_file = argv[++i];
        } else if (strncmp(a, "--to=", 5) == 0) {
            to = a + 5;
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_file = a + 9;
        } else {
            return usage_error("migrate takes --to postgres://... and --config FILE only", NULL);
        }
    }
    if (!to || !*to)
        return usage_error("migrate needs --to postgres://...", NULL);
    if (!store_is_url(to))
        return usage_error("migrate --to needs a postgres:// or postgresql:// URL", NULL);
    struct cli cli = {.config_file = config_file};
    struct config cfg;
    int rc = load_config(&cli, &cfg);
    if (rc) {
        config_free(&cfg);
        return rc;
    }
    char path[4096], dir[4096], err[512] = "";
    snprintf(path, sizeof(path), "%s/otpgate.db", cfg.data_dir);
    snprintf(dir, sizeof(dir), "%s", cfg.data_dir);
    config_free(&cfg);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "otpgate: migrate: no database at %s: check OTPGATE_DATA_DIR\n", path);
        return 1;
    }
    struct store *from = NULL, *dest = NULL;
    rc = store_open(path, &from, err, sizeof(err));
    if (rc == OG_OK)
        rc = store_open(to, &dest, err, sizeof(err));
    struct store_copy_count counts[STORE_COPY_MAX_TABLES];
    int n = 0;
    if (rc == OG_OK)
        rc = store_copy(from, dest, counts, &n, err, sizeof(err));
    /* An uploaded logo that only a file in this data directory holds (an
     * upload from before logos moved into the database) goes over too. */
    if (rc == OG_OK && brand_logo_adopt(dest, dir, server_now_ms()) != OG_OK)
        fprintf(stderr,
                "otpgate: migrate: the uploaded logo stayed a file (%s): upload it again with "
                "otpgate brand set logo=FILE\n",
                store_errmsg(dest));
    store_close(dest);
    store_close(from);
    if (rc != OG_OK) {
        fprintf(stderr, "otpgate: migrate: %s; nothing was copied\n", err);
        return 1;
    }
    long long total = 0;
    for (int i = 0; i < n; i++) {
        printf("%-22s %lld\n", counts[i].table, (long long)counts[i].rows);
        total += counts[i].rows;
    }
    printf("copied %lld rows in %d tables from %s into PostgreSQL; every count matches\n", total, n,
           path);
    return 0;
}

int main(int argc, char **argv)
{
    /* A peer that closes mid-write must be an error code, not a signal that
     * kills the process (sockets on the loop, SMTP on the thread pool). */
    signal(SIGPIPE, SIG_IGN);
    /* app, policy and user parse their own options (cli_admin.c). */
    if (cli_admin_owns(argc, argv))
        return cli_admin_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "send-test") == 0)
            return cli_send_test_main(argc, argv);
        if (strcmp(argv[i], "migrate") == 0)
            return cmd_migrate(argc, argv);
        break;
    }
    struct cli cli;
    int rc = parse_cli(argc, argv, &cli);
    if (rc)
        return rc;
    const char *cmd = cli.command ? cli.command : "serve";
    if (cli.help && !cli.command) {
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) {
        if (cli.help) {
            fputs(serve_help, stdout);
            fputs(config_help_text(), stdout);
            return 0;
        }
        return cmd_serve(&cli);
    }
    if (strcmp(cmd, "version") == 0) {
        if (cli.help) {
            fputs(version_help, stdout);
            return 0;
        }
        return cmd_version();
    }
    if (strcmp(cmd, "backup") == 0) {
        if (cli.help) {
            fputs(backup_help, stdout);
            return 0;
        }
        return cmd_backup(&cli);
    }
    if (strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    return usage_error("unknown command", cmd);
}
