/*
 * chorus: subcommand dispatch, start-up order, signals and orderly
 * shutdown. Each cmd_* function is one subcommand.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "build_info.h"
#include "chorus/app.h"
#include "chorus/audit.h"
#include "chorus/auth.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/meta.h"
#include "chorus/storage.h"
#include "chorus/transcode.h"
#include "chorus/upload.h"
#include "chorus/util.h"
#include "chorus/worker.h"

/* How long requests in flight may finish after SIGTERM. */
#define SHUTDOWN_GRACE_MS 3000

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: chorus COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  serve                    HTTP server and transcoding workers\n"
            "  migrate                  bring the database schema up to date\n"
            "  user add NAME --role R   add a user (admin, moderator, comms)\n"
            "  user passwd NAME         set a user's password\n"
            "  user list                list users\n"
            "  audit verify             check the audit log's hash chain\n"
            "  backup FILE              copy the live database to FILE\n"
            "  version                  print versions\n"
            "\n"
            "chorus COMMAND --help lists the options of a command.\n");
}

/*
 * The main thread's loop while serving: waits for SIGINT or SIGTERM and
 * meanwhile runs the periodic sweeps. Returns the signal.
 */
static int run_loop(struct app *app, struct db *db, const sigset_t *sigs,
                    pid_t *workers)
{
    const struct timespec tick = {1, 0};
    int64_t next_sweep = util_mono_ms(), worker_started = util_mono_ms();

    for (;;) {
        int sig = sigtimedwait(sigs, NULL, &tick);
        int status;

        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (util_mono_ms() >= next_sweep) {
            upload_sweep(app, db);
            auth_sessions_sweep(db, app->cfg->session_idle);
            next_sweep = util_mono_ms() + app->cfg->sweep_interval * 1000;
        }
        /* The workers' supervisor died: start another, at most one a
         * second. */
        if (*workers > 0 && waitpid(*workers, &status, WNOHANG) == *workers) {
            log_warnx("the workers stopped; starting them again");
            *workers = 0;
        }
        if (*workers == 0 && util_mono_ms() - worker_started >= 1000) {
            *workers = worker_spawn();
            worker_started = util_mono_ms();
        }
    }
}

/* Asks the workers to stop (their jobs go back to the queue) and waits
 * up to ms, then kills them. */
static void stop_workers(pid_t pid, int ms)
{
    int64_t end = util_mono_ms() + ms;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    while (util_mono_ms() < end) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(20 * 1000);
    }
    log_warnx("the workers did not stop in time; killing them");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int cmd_serve(const struct config *cfg)
{
    struct app app;
    struct db *db = NULL;
    struct http_server *srv = NULL;
    sigset_t sigs;
    pid_t workers = -1;
    int sig, rc = 1;

    if (app_open(&app, cfg, &db) != 0)
        goto out;
    if (cfg->workers > 0 && worker_prepare_spawn(cfg) != 0) {
        log_warn("cannot prepare the workers' environment");
        goto out;
    }

    /* Signals are taken by sigwait below, never by the server threads. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (cfg->workers > 0 && (workers = worker_spawn()) < 0)
        goto out;
    if (http_start(&app, &srv) != 0)
        goto out;
    log_info("listening on http://%s%s%s:%d/",
             strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
             strchr(cfg->listen_host, ':') ? "]" : "", http_port(srv));
    sig = run_loop(&app, db, &sigs, &workers);
    log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    if (workers > 0)
        kill(workers, SIGTERM); /* they stop while requests finish */
    http_stop(srv, SHUTDOWN_GRACE_MS);
    stop_workers(workers, 1500);
    app_close(&app, db);
    if (rc == 0)
        log_info("stopped");
    return rc;
}

static int cmd_worker(const struct config *cfg)
{
    char path[PATH_MAX];
    struct db *db = NULL;

    /* Migrated and ready before any worker touches it. */
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    db_close(db);
    if (storage_init(cfg->data_dir) != 0) {
        log_warn("cannot create the directories of %s", cfg->data_dir);
        return 1;
    }
    return worker_main(cfg);
}

static int cmd_migrate(const struct config *cfg)
{
    char path[PATH_MAX];
    struct db *db = NULL;
    int version = 0;

    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    db_user_version(db, &version);
    printf("database %s is at schema version %d\n", path, version);
    db_close(db);
    return 0;
}

/*
 * Reads a new password: prompted twice without echo on a terminal, else
 * one line from stdin. Returns 0, or -1 with a message printed.
 */
static int read_password(char *buf, size_t len)
{
    char again[AUTH_PASSWORD_MAX + 2];
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    int rc = -1;

    if (tty) {
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        fprintf(stderr, "new password: ");
    }
    if (fgets(buf, (int)len, stdin) == NULL) {
        fprintf(stderr, "chorus: no password given\n");
        goto out;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    if (tty) {
        fprintf(stderr, "\nrepeat it: ");
        if (fgets(again, sizeof(again), stdin) == NULL)
            goto out;
        again[strcspn(again, "\r\n")] = '\0';
        if (strcmp(buf, again) != 0) {
            fprintf(stderr, "\nchorus: the passwords differ\n");
            goto out;
        }
        fprintf(stderr, "\n");
    }
    rc = 0;
out:
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    sodium_memzero(again, sizeof(again));
    return rc;
}

/* Fills pw with a new password (from --generate or the user). */
static int new_password(const struct config *cfg, char *pw, size_t len)
{
    const char *weak;

    if (cfg->generate) {
        char token[UTIL_TOKEN_LEN + 1];
        util_random_token(token);
        /* 24 base64url characters: 144 random bits. */
        snprintf(pw, len, "%.24s", token);
        sodium_memzero(token, sizeof(token));
        return 0;
    }
    if (read_password(pw, len) != 0)
        return -1;
    if ((weak = auth_password_weak(pw)) != NULL) {
        fprintf(stderr, "chorus: %s\n", weak);
        return -1;
    }
    return 0;
}

static int cmd_user(const struct config *cfg)
{
    char path[PATH_MAX], pw[AUTH_PASSWORD_MAX + 2];
    const char *sub = cfg->nargs > 0 ? cfg->args[0] : "";
    const char *name = cfg->nargs > 1 ? cfg->args[1] : NULL;
    const char *why;
    struct db *db = NULL;
    int rc = 1;

    if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
        strcmp(sub, "passwd") != 0) {
        fprintf(stderr, "usage: chorus user add NAME --role ROLE "
                        "[--generate] | passwd NAME [--generate] | list\n");
        return 2;
    }
    if (strcmp(sub, "list") != 0) {
        if (name == NULL || cfg->nargs != 2) {
            fprintf(stderr, "chorus: user %s needs one NAME\n", sub);
            return 2;
        }
        if ((why = auth_username_invalid(name)) != NULL) {
            fprintf(stderr, "chorus: %s\n", why);
            return 2;
        }
    }
    if (strcmp(sub, "add") == 0 && auth_role_parse(cfg->role) == ROLE_NONE) {
        fprintf(stderr, "chorus: --role must be admin, moderator or comms\n");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;

    if (strcmp(sub, "list") == 0) {
        struct db_stmt *st = db_stmt(db, STMT_USER_LIST);
        int r;

        printf("%-24s %-10s %-8s %s\n", "USERNAME", "ROLE", "STATE", "CREATED");
        while (st != NULL && (r = db_step(st)) == DB_ROW) {
            char when[21];
            util_iso8601(db_col_int(st, 4), when);
            printf("%-24s %-10s %-8s %s\n", db_col_text(st, 1),
                   db_col_text(st, 2),
                   db_col_int(st, 3) ? "disabled" : "active", when);
        }
        rc = st != NULL && r == DB_DONE ? 0 : 1;
        goto out;
    }
    if (new_password(cfg, pw, sizeof(pw)) != 0)
        goto out;
    if (strcmp(sub, "add") == 0) {
        int64_t id =
            auth_user_add(db, "cli", name, pw, auth_role_parse(cfg->role));
        if (id == 0) {
            fprintf(stderr, "chorus: user %s exists already\n", name);
            goto out;
        }
        if (id < 0) {
            fprintf(stderr, "chorus: cannot add user %s\n", name);
            goto out;
        }
        printf("added %s (%s)\n", name, cfg->role);
    } else {
        int r = auth_user_passwd(db, "cli", name, pw);
        if (r == 0) {
            fprintf(stderr, "chorus: no user %s\n", name);
            goto out;
        }
        if (r < 0) {
            fprintf(stderr, "chorus: cannot set the password\n");
            goto out;
        }
        printf("password of %s changed\n", name);
    }
    /* Printed once, to the operator's terminal, never to the log. */
    if (cfg->generate)
        printf("password: %s\n", pw);
    rc = 0;
out:
    sodium_memzero(pw, sizeof(pw));
    db_close(db);
    return rc;
}

static int cmd_audit(const struct config *cfg)
{
    char path[PATH_MAX];
    struct db *db = NULL;
    int64_t bad;

    if (cfg->nargs != 1 || strcmp(cfg->args[0], "verify") != 0) {
        fprintf(stderr, "usage: chorus audit verify\n");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    bad = audit_verify(db);
    db_close(db);
    if (bad < 0) {
        fprintf(stderr, "chorus: cannot read the audit log\n");
        return 1;
    }
    if (bad > 0) {
        printf("audit log BROKEN at row %lld: it or a row before it was "
               "changed\n",
               (long long)bad);
        return 1;
    }
    printf("audit log intact\n");
    return 0;
}

static int cmd_backup(const struct config *cfg)
{
    char path[PATH_MAX], err[512];
    struct db *db = NULL;
    struct stat st;
    int rc = 1;

    if (cfg->nargs != 1) {
        fprintf(stderr, "usage: chorus backup FILE\n");
        return 2;
    }
    if (stat(cfg->args[0], &st) == 0) {
        fprintf(stderr, "chorus: %s exists; not overwriting it\n",
                cfg->args[0]);
        return 1;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    if (db_backup(db, cfg->args[0], err, sizeof(err)) != 0)
        fprintf(stderr, "chorus: backup failed: %s\n", err);
    else {
        printf("backed up %s to %s\n", path, cfg->args[0]);
        rc = 0;
    }
    db_close(db);
    return rc;
}

/*
 * chorus transcode IN OUTDIR: the media pipeline on one file, no
 * database. Prints one JSON object on stdout: the facts, or {"error"}.
 */
static int cmd_transcode(const struct config *cfg)
{
    const struct transcode_api *api;
    struct transcode_options opts;
    struct transcode_result res;
    json_t *out = NULL;
    unsigned protect = 0;
    int rc = 1;

    if (cfg->nargs != 2) {
        fprintf(stderr, "usage: chorus transcode IN OUTDIR [--max-side N] "
                        "[--max-duration S] [--protect LIST] "
                        "[--credit TEXT]\n");
        return 2;
    }
    if (meta_protect_parse(cfg->protect, strlen(cfg->protect), &protect) != 0) {
        fprintf(stderr, "chorus transcode: --protect: a comma list of "
                        "blur_faces, voice, no_video\n");
        return 2;
    }
    if ((api = transcode_load()) == NULL)
        return 1;
    /* libav's own chatter only when asked for. */
    api->log_level(strcmp(cfg->log_level, "debug") == 0);
    api->options_default(&opts);
    opts.max_side = cfg->max_side;
    opts.max_duration_s = cfg->max_duration;
    opts.protect = protect;
    opts.credit = cfg->credit;
    memset(&res, 0, sizeof(res));
    if (util_mkdirs(cfg->args[1], 0700) != 0) {
        snprintf(res.error, sizeof(res.error), "cannot create %s: %s",
                 cfg->args[1], strerror(errno));
    } else if (api->file(cfg->args[0], cfg->args[1], &opts, &res) == 0) {
        out = api->result_json(&res);
        rc = out != NULL ? 0 : 1;
    }
    if (out == NULL)
        out = json_pack("{s:s}", "error",
                        res.error[0] != '\0' ? res.error : "out of memory");
    if (out != NULL && json_dumpf(out, stdout, JSON_COMPACT) == 0)
        putchar('\n');
    json_decref(out);
    api->result_release(&res);
    return rc;
}

static int cmd_version(void)
{
    printf("chorus %s\n", CHORUS_VERSION);
    printf("sqlite %s, libmicrohttpd %s, libsodium %s, jansson %s, %s\n",
           sqlite3_libversion(), MHD_get_version(), sodium_version_string(),
           JANSSON_VERSION, archive_version_string());
    printf("libavformat %s, libavcodec %s, libavfilter %s\n",
           AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVCODEC_VERSION),
           AV_STRINGIFY(LIBAVFILTER_VERSION));
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    enum command cmd;
    enum log_level level = LOG_LVL_INFO;
    char err[512];

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version();
    if (config_command_lookup(argv[1], &cmd) != 0) {
        fprintf(stderr, "chorus: unknown command %s\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (config_parse(&cfg, cmd, argc - 2, argv + 2, NULL, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "chorus %s: %s\n", argv[1], err);
        return 2;
    }
    if (cfg.help) {
        printf("usage: chorus %s [OPTIONS]\n\n", argv[1]);
        config_usage(stdout, cmd);
        return 0;
    }
    log_level_parse(cfg.log_level, &level);
    log_init(level, config_command_name(cmd));
    if (util_init() != 0) {
        fprintf(stderr, "chorus: libsodium failed to initialise\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    switch (cmd) {
    case CMD_SERVE:
        return cmd_serve(&cfg);
    case CMD_MIGRATE:
        return cmd_migrate(&cfg);
    case CMD_USER:
        return cmd_user(&cfg);
    case CMD_AUDIT:
        return cmd_audit(&cfg);
    case CMD_BACKUP:
        return cmd_backup(&cfg);
    case CMD_VERSION:
        return cmd_version();
    case CMD_WORKER:
        return cmd_worker(&cfg);
    case CMD_TRANSCODE:
        return cmd_transcode(&cfg);
    case CMD__COUNT:
        break;
    }
    fprintf(stderr, "chorus: %s is not available in this build\n", argv[1]);
    return 2;
}
