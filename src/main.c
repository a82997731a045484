/*
 * chorus: subcommand dispatch, start-up order, signals and orderly
 * shutdown. Each cmd_* function is one subcommand.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "chorus/campaign.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/retention.h"
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
            "  audit verify [--head ID:HASH]\n"
            "                           check the audit log's chain and head\n"
            "  audit head               print the audit log's head (keep it)\n"
            "  purge --campaign SLUG --yes | --everything --yes\n"
            "                           delete media and personal data, keep "
            "counts\n"
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
            retention_sweep(app->cfg, db);
            /* A purge by another process that could not truncate the
             * WAL asked for it. */
            if (retention_checkpoint_wanted(app->cfg->data_dir))
                atomic_store(&app->checkpoint_due, 1);
            next_sweep = util_mono_ms() + app->cfg->sweep_interval * 1000;
        }
        /* What a withdrawal or a purge cleared leaves no WAL frame. */
        if (atomic_load(&app->checkpoint_due) &&
            retention_checkpoint(db, 200) == 0) {
            atomic_store(&app->checkpoint_due, 0);
            retention_checkpoint_later(app->cfg->data_dir, false);
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

/*
 * Writes pw to path (created 0600, through a temporary file renamed over
 * it, so it is never readable by others even for a moment). Returns 0,
 * or -1 with errno set.
 */
static int write_password_file(const char *path, const char *pw)
{
    char tmp[PATH_MAX];
    size_t len = strlen(pw);
    int fd, rc = -1;

    if (util_fmt(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) == 0 && write(fd, pw, len) == (ssize_t)len &&
        write(fd, "\n", 1) == 1 && fsync(fd) == 0)
        rc = 0;
    if (close(fd) != 0 || rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
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
    bool wrote = false;
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
    if (cfg->password_file[0] != '\0' && !cfg->generate) {
        fprintf(stderr, "chorus: --password-file goes with --generate\n");
        goto out;
    }
    if (new_password(cfg, pw, sizeof(pw)) != 0)
        goto out;
    /* Written before the account exists: a password is never lost. */
    if (cfg->password_file[0] != '\0' &&
        write_password_file(cfg->password_file, pw) != 0) {
        fprintf(stderr, "chorus: cannot write %s: %s\n", cfg->password_file,
                strerror(errno));
        goto out;
    }
    wrote = cfg->password_file[0] != '\0';
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
    /* Printed once, to the operator's terminal, never to the log; or
     * only the file's name, where the output is kept (a service's log). */
    if (cfg->generate && cfg->password_file[0] != '\0')
        log_info("the password of %s is in %s (readable only by its owner; "
                 "delete the file once you have logged in)",
                 name, cfg->password_file);
    else if (cfg->generate)
        printf("password: %s\n", pw);
    rc = 0;
out:
    if (rc != 0 && wrote)
        unlink(cfg->password_file);
    sodium_memzero(pw, sizeof(pw));
    db_close(db);
    return rc;
}

/* chorus audit verify [--head ID:HASH] | audit head. */
static int cmd_audit(const struct config *cfg)
{
    char path[PATH_MAX], text[AUDIT_HEAD_TEXT];
    const char *sub = cfg->nargs == 1 ? cfg->args[0] : "";
    struct audit_head given, head, file;
    struct audit_report rep;
    struct db *db = NULL;
    int rc = 1, r;

    if (strcmp(sub, "verify") != 0 && strcmp(sub, "head") != 0) {
        fprintf(stderr, "usage: chorus audit verify [--head ID:HASH] | "
                        "audit head\n");
        return 2;
    }
    if (cfg->head[0] != '\0' && (strcmp(sub, "verify") != 0 ||
                                 audit_head_parse(cfg->head, &given) != 0)) {
        fprintf(stderr, "chorus: --head wants ID:HASH as `chorus audit "
                        "head` prints it\n");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    if (strcmp(sub, "head") == 0) {
        if ((r = audit_head_db(db, &head)) < 0) {
            fprintf(stderr, "chorus: cannot read the audit log\n");
            goto out;
        }
        audit_head_format(&head, text);
        printf("%s\n", text);
        if (audit_head_file(db, &file) != 1 || file.id != head.id ||
            memcmp(file.hash, head.hash, sizeof(head.hash)) != 0)
            fprintf(stderr, "chorus: note: data/audit.head does not record "
                            "this head; run chorus audit verify\n");
        rc = 0;
        goto out;
    }
    r = audit_verify(db, cfg->head[0] != '\0' ? &given : NULL, &rep);
    if (r < 0) {
        fprintf(stderr, "chorus: cannot read the audit log\n");
    } else if (r > 0 && rep.bad > 0) {
        printf("audit log BROKEN at row %lld: %s\n", (long long)rep.bad,
               rep.why);
    } else if (r > 0) {
        printf("audit log UNVERIFIED: %s\n", rep.why);
    } else {
        printf("audit log intact: %lld rows%s\n", (long long)rep.rows,
               cfg->head[0] != '\0' ? ", up to the head given" : "");
        if (rep.past > 0)
            printf("note: %lld rows after the recorded head verified too "
                   "(appended since it was written)\n",
                   (long long)rep.past);
        rc = 0;
    }
out:
    db_close(db);
    return rc;
}

/*
 * chorus purge --campaign SLUG --yes | --everything --yes: media and
 * personal data deleted, rows (and so the counts) kept; safe beside a
 * running chorus serve.
 */
static int cmd_purge(const struct config *cfg)
{
    char path[PATH_MAX];
    const char *campaign = cfg->campaign[0] != '\0' ? cfg->campaign : NULL;
    struct purge_report rep;
    struct db *db = NULL;
    int rc = 1;

    if (cfg->nargs != 0 || (campaign == NULL) == !cfg->everything) {
        fprintf(stderr, "usage: chorus purge --campaign SLUG --yes | "
                        "--everything --yes\n");
        return 2;
    }
    if (campaign != NULL && !campaign_exists(campaign)) {
        fprintf(stderr,
                "chorus: there is no campaign %s (until campaigns "
                "exist there is one: %s)\n",
                campaign, CAMPAIGN_DEFAULT);
        return 2;
    }
    if (!cfg->yes) {
        fprintf(stderr,
                "chorus: this deletes every video and all personal data of "
                "%s%s, for good; the counts remain. Add --yes to do it.\n",
                campaign != NULL ? "campaign " : "every campaign",
                campaign != NULL ? campaign : "");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    if (storage_init(cfg->data_dir) != 0 ||
        retention_purge(cfg, db, campaign, &rep) != 0) {
        fprintf(stderr, "chorus: the purge did not finish; run it again\n");
        goto out;
    }
    printf("purged %lld messages of %s%s: media and personal data deleted, "
           "counts kept\n",
           (long long)rep.messages, campaign != NULL ? "campaign " : "",
           campaign != NULL ? campaign : "every campaign");
    if (rep.files > 0)
        printf("warning: %lld files could not be deleted (see the log)\n",
               (long long)rep.files);
    if (!rep.wal_clear)
        printf("warning: the database's WAL is still in use; a running "
               "chorus serve truncates it at its next sweep\n");
    rc = rep.files > 0 ? 1 : 0;
out:
    db_close(db);
    return rc;
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
    int rc = 1;

    if (cfg->nargs != 2) {
        fprintf(stderr, "usage: chorus transcode IN OUTDIR [--max-side N] "
                        "[--max-duration S]\n");
        return 2;
    }
    if ((api = transcode_load()) == NULL)
        return 1;
    /* libav's own chatter only when asked for. */
    api->log_level(strcmp(cfg->log_level, "debug") == 0);
    api->options_default(&opts);
    opts.max_side = cfg->max_side;
    opts.max_duration_s = cfg->max_duration;
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
    case CMD_PURGE:
        return cmd_purge(&cfg);
    case CMD__COUNT:
        break;
    }
    fprintf(stderr, "chorus: %s is not available in this build\n", argv[1]);
    return 2;
}
