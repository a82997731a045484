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
#include "chorus/campaign_api.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/http.h"
#include "chorus/log.h"
#include "chorus/meta.h"
#include "chorus/objstore.h"
#include "chorus/remote.h"
#include "chorus/retention.h"
#include "chorus/storage.h"
#include "chorus/transcode.h"
#include "chorus/upload.h"
#include "chorus/util.h"
#include "chorus/worker.h"
#include "chorus/worker_api.h"

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
            "  user campaigns NAME SLUG[,SLUG...] | --all\n"
            "                           limit a user to some campaigns\n"
            "  campaign add SLUG --title T --consent-text C [--lang L]...\n"
            "  campaign set SLUG [--lang L --title T --closes DATE ...]\n"
            "  campaign list            list campaigns\n"
            "  audit verify [--head ID:HASH]\n"
            "                           check the audit log's chain and head\n"
            "  audit head               print the audit log's head (keep it)\n"
            "  purge --campaign SLUG --yes | --everything --yes\n"
            "                           delete media and personal data, keep "
            "counts\n"
            "  worker --server URL --token-file F\n"
            "                           a remote worker: jobs over HTTP\n"
            "  worker-token add NAME | list | revoke NAME\n"
            "                           remote workers' tokens\n"
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
            /* Its records went in with a withdrawal's or a purge's
             * transaction: their deletion is truncated from the WAL too. */
            if (objstore_sweep(app->store, db, app->cfg->data_dir) > 0)
                atomic_store(&app->checkpoint_due, 1);
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
    atomic_store(&app.stopping, 1); /* waiting claims answer at once */
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

    /* On another host: jobs over HTTP, no data directory at all. */
    if (cfg->server[0] != '\0')
        return remote_main(cfg);

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

static int cmd_user_campaigns(const struct config *cfg);

static int cmd_user(const struct config *cfg)
{
    char path[PATH_MAX], pw[AUTH_PASSWORD_MAX + 2];
    const char *sub = cfg->nargs > 0 ? cfg->args[0] : "";
    const char *name = cfg->nargs > 1 ? cfg->args[1] : NULL;
    const char *why;
    struct db *db = NULL;
    bool wrote = false;
    int rc = 1;

    if (strcmp(sub, "campaigns") == 0)
        return cmd_user_campaigns(cfg);
    if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
        strcmp(sub, "passwd") != 0) {
        fprintf(stderr, "usage: chorus user add NAME --role ROLE "
                        "[--generate] | passwd NAME [--generate] | list | "
                        "campaigns NAME SLUG[,SLUG...]|--all\n");
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
        int r = DB_ERROR;

        printf("%-24s %-10s %-8s %-20s %s\n", "USERNAME", "ROLE", "STATE",
               "CREATED", "CAMPAIGNS");
        while (st != NULL && (r = db_step(st)) == DB_ROW) {
            char when[21], *limits;
            json_t *slugs = campaign_user_slugs(db, db_col_int(st, 0));
            util_iso8601(db_col_int(st, 4), when);
            limits = json_dumps(slugs, JSON_COMPACT);
            printf("%-24s %-10s %-8s %-20s %s\n", db_col_text(st, 1),
                   db_col_text(st, 2),
                   db_col_int(st, 3) ? "disabled" : "active", when,
                   json_array_size(slugs) > 0 && limits != NULL ? limits
                                                                : "all");
            free(limits);
            json_decref(slugs);
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

/* chorus user campaigns NAME SLUG[,SLUG...] | --all: a user's limits. */
static int cmd_user_campaigns(const struct config *cfg)
{
    const char *name = cfg->nargs > 1 ? cfg->args[1] : NULL;
    const char *slugs[64], *bad = NULL;
    char path[PATH_MAX], list[1024] = "";
    struct db *db = NULL;
    int n = 0, rc;

    if (name == NULL ||
        (cfg->all_campaigns ? cfg->nargs != 2 : cfg->nargs != 3)) {
        fprintf(stderr, "usage: chorus user campaigns NAME SLUG[,SLUG...] | "
                        "chorus user campaigns NAME --all\n");
        return 2;
    }
    if (!cfg->all_campaigns) {
        snprintf(list, sizeof(list), "%s", cfg->args[2]);
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p != NULL && n < 64;
             p = strtok_r(NULL, ",", &save))
            slugs[n++] = p;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    rc = campaign_limit_user(db, "cli", name, slugs, n, &bad);
    db_close(db);
    switch (rc) {
    case 1:
        printf("%s sees %s\n", name, n > 0 ? cfg->args[2] : "every campaign");
        return 0;
    case 0:
        fprintf(stderr, "chorus: no user %s\n", name);
        return 1;
    case -2:
        fprintf(stderr, "chorus: no campaign %s\n", bad);
        return 1;
    case -3:
        fprintf(stderr, "chorus: %s is an admin: admins see every campaign\n",
                name);
        return 1;
    default:
        fprintf(stderr, "chorus: cannot set the campaigns of %s\n", name);
        return 1;
    }
}

/* Sets key of o to s: a string, or null for "" (a flag given empty). */
static void spec_text(json_t *o, const char *key, const char *s)
{
    if (s != NULL)
        json_object_set_new(o, key,
                            s[0] != '\0' ? json_string(s) : json_null());
}

/*
 * The admin API's campaign object from campaign add / set's flags; the
 * texts are of --lang, else of first (the campaign's first language).
 */
static json_t *campaign_spec(const struct config *cfg, const char *first)
{
    json_t *spec = json_object(), *langs, *one;
    const char *lang = cfg->campaign.lang;

    if (cfg->campaign.languages != NULL) {
        char list[600];
        langs = json_array();
        snprintf(list, sizeof(list), "%s", cfg->campaign.languages);
        char *save = NULL;
        for (char *p = strtok_r(list, ", ", &save); p != NULL;
             p = strtok_r(NULL, ", ", &save))
            json_array_append_new(langs, json_string(p));
        if (first == NULL && json_array_size(langs) > 0)
            first = json_string_value(json_array_get(langs, 0));
        json_object_set_new(spec, "languages", langs);
    }
    if (lang == NULL)
        lang = first != NULL ? first : "en";
    if (json_object_get(spec, "languages") == NULL && first == NULL)
        json_object_set_new(spec, "languages", json_pack("[s]", lang));
    one = json_object();
    spec_text(one, "title", cfg->campaign.title);
    spec_text(one, "intro", cfg->campaign.intro);
    spec_text(one, "consent", cfg->campaign.consent);
    spec_text(one, "cta", cfg->campaign.cta);
    if (json_object_size(one) > 0)
        json_object_set_new(spec, "texts", json_pack("{s:o}", lang, one));
    else
        json_decref(one);
    spec_text(spec, "opens_at", cfg->campaign.opens);
    spec_text(spec, "closes_at", cfg->campaign.closes);
    spec_text(spec, "hashtag", cfg->campaign.hashtag);
    spec_text(spec, "accent_color", cfg->campaign.accent);
    spec_text(spec, "credit_template", cfg->campaign.credit);
    return spec;
}

/* One line of campaign list. */
static void campaign_line(struct db *db, const struct config *cfg,
                          const struct campaign *c)
{
    json_t *texts = campaign_texts_in(db, c, NULL);
    char opens[21] = "-", closes[21] = "-", url[1024], langs[600] = "";
    size_t used = 0;

    if (c->opens_at > 0)
        util_iso8601(c->opens_at, opens);
    if (c->closes_at > 0)
        util_iso8601(c->closes_at, closes);
    for (int i = 0; i < c->nlangs; i++)
        used += (size_t)snprintf(langs + used, sizeof(langs) - used, "%s%s",
                                 i ? "," : "", c->langs[i]);
    if (campaign_api_url(cfg, c->slug, url, sizeof(url)) != 0)
        snprintf(url, sizeof(url), "/c/%s (no --public-url)", c->slug);
    printf("%-20s %-12s %-14s %-8s %-20s %-20s %s\n  %s\n", c->slug,
           campaign_state_name(campaign_state_at(c, util_now())), langs,
           c->consent_version, opens, closes, url,
           json_string_value(json_object_get(texts, "title")) != NULL
               ? json_string_value(json_object_get(texts, "title"))
               : "");
    json_decref(texts);
}

/* chorus campaign add|set SLUG [flags] | list. */
static int cmd_campaign(const struct config *cfg)
{
    const char *sub = cfg->nargs > 0 ? cfg->args[0] : "";
    const char *slug = cfg->nargs > 1 ? cfg->args[1] : NULL;
    struct campaign_error err = {"", ""};
    char path[PATH_MAX];
    struct campaign c;
    struct db *db = NULL;
    json_t *spec = NULL;
    bool add = strcmp(sub, "add") == 0;
    int rc = 1, r;

    if (!(strcmp(sub, "list") == 0 && cfg->nargs == 1) &&
        !((add || strcmp(sub, "set") == 0) && cfg->nargs == 2)) {
        fprintf(stderr,
                "usage: chorus campaign add SLUG --title T --consent-text C "
                "[--lang L] [--languages L1,L2] [--intro I] [--cta C] "
                "[--opens DATE] [--closes DATE] [--hashtag H] [--accent "
                "#rrggbb] [--credit T]\n"
                "       chorus campaign set SLUG [the same flags]\n"
                "       chorus campaign list\n");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    if (strcmp(sub, "list") == 0) {
        struct db_stmt *st = db_stmt(db, STMT_CAMPAIGN_LIST);
        int64_t ids[1024];
        int n = 0;

        printf("%-20s %-12s %-14s %-8s %-20s %-20s %s\n", "SLUG", "STATE",
               "LANGUAGES", "CONSENT", "OPENS", "CLOSES", "PAGE");
        while (st != NULL && n < 1024 && (r = db_step(st)) == DB_ROW)
            ids[n++] = db_col_int(st, 0);
        db_reset(st);
        for (int i = 0; i < n; i++)
            if (campaign_get(db, ids[i], &c) == 1)
                campaign_line(db, cfg, &c);
        rc = st != NULL ? 0 : 1;
        goto out;
    }
    r = add ? 0 : campaign_find(db, slug, &c);
    if (r < 0) {
        fprintf(stderr, "chorus: cannot read the campaigns\n");
        goto out;
    }
    spec = campaign_spec(cfg, r == 1 ? c.langs[0] : NULL);
    r = campaign_save(db, "cli", slug, spec, add, &c, &err);
    if (r == 1) {
        printf("%s %s, consent version %s\n", add ? "added" : "changed", slug,
               c.consent_version);
        rc = 0;
    } else if (r == CAMPAIGN_INVALID) {
        fprintf(stderr, "chorus: %s\n", err.message);
    } else if (r == CAMPAIGN_TAKEN) {
        fprintf(stderr, "chorus: campaign %s exists already\n", slug);
    } else if (r == CAMPAIGN_NOT_FOUND) {
        fprintf(stderr, "chorus: no campaign %s\n", slug);
    } else {
        fprintf(stderr, "chorus: cannot save campaign %s\n", slug);
    }
out:
    json_decref(spec);
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
    const char *campaign =
        cfg->purge_campaign[0] != '\0' ? cfg->purge_campaign : NULL;
    struct purge_report rep;
    struct objstore *os = NULL;
    struct db *db = NULL;
    int64_t pending = 0;
    int rc = 1;

    if (cfg->nargs != 0 || (campaign == NULL) == !cfg->everything) {
        fprintf(stderr, "usage: chorus purge --campaign SLUG --yes | "
                        "--everything --yes\n");
        return 2;
    }
    if (campaign != NULL && !campaign_slug_valid(campaign)) {
        fprintf(stderr, "chorus: %s is not a campaign's slug\n", campaign);
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
    if (campaign != NULL) {
        struct campaign c;
        int found = campaign_find(db, campaign, &c);

        if (found <= 0) {
            fprintf(stderr,
                    found == 0 ? "chorus: there is no campaign %s\n"
                               : "chorus: cannot read campaign %s\n",
                    campaign);
            rc = 2;
            goto out;
        }
    }
    if (storage_init(cfg->data_dir) != 0 || s3_global_init() != 0 ||
        objstore_open(cfg, &os) != 0 ||
        retention_purge(cfg, db, campaign, &rep) != 0) {
        fprintf(stderr, "chorus: the purge did not finish; run it again\n");
        goto out;
    }
    /* The bucket's objects now; what fails stays recorded for the
     * server's sweep, which retries until the store agrees. */
    {
        int64_t failing = 0;
        /* (And, its records changed after the purge's own checkpoint,
         * the WAL truncated again, or left to the server.) */
        if (objstore_sweep(os, db, cfg->data_dir) > 0 &&
            retention_checkpoint(db, 500) != 0) {
            retention_checkpoint_later(cfg->data_dir, true);
            rep.wal_clear = false;
        }
        if (os != NULL && objstore_pending(db, &pending, &failing) == 0 &&
            pending > 0)
            printf("warning: the objects of %lld messages are still in the "
                   "bucket (see the log); chorus serve's sweep retries\n",
                   (long long)pending);
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
    rc = rep.files > 0 || pending > 0 ? 1 : 0;
out:
    objstore_close(os);
    db_close(db);
    return rc;
}

/* chorus worker-token add NAME | list | revoke NAME */
static int cmd_worker_token(const struct config *cfg)
{
    char path[PATH_MAX];
    const char *what = cfg->nargs > 0 ? cfg->args[0] : "";
    struct db *db = NULL;
    int rc = 2;

    if (!((strcmp(what, "add") == 0 && cfg->nargs == 2) ||
          (strcmp(what, "revoke") == 0 && cfg->nargs == 2) ||
          (strcmp(what, "list") == 0 && cfg->nargs == 1))) {
        fprintf(stderr, "usage: chorus worker-token add NAME | list | "
                        "revoke NAME\n");
        return 2;
    }
    if (app_open_data(cfg, &db, path, sizeof(path)) != 0)
        return 1;
    if (strcmp(what, "add") == 0) {
        rc = worker_token_add(db, cfg->args[1]);
        if (rc > 0)
            fprintf(stderr,
                    "chorus: %s is taken, or not a name (1 to %d of A-Z a-z "
                    "0-9 . _ -)\n",
                    cfg->args[1], WORKER_TOKEN_NAME_MAX);
    } else if (strcmp(what, "revoke") == 0) {
        rc = worker_token_revoke(db, cfg->args[1]);
        if (rc == 0)
            printf("revoked %s: refused from its next request on\n",
                   cfg->args[1]);
        else if (rc > 0)
            fprintf(stderr, "chorus: no live worker token is named %s\n",
                    cfg->args[1]);
    } else {
        rc = worker_token_list(db, stdout);
    }
    db_close(db);
    return rc < 0 ? 1 : rc > 0 ? 2 : 0;
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
/* Reads a file of at most max bytes into a new buffer (*len bytes, NUL
 * after them). Returns it, or NULL with errno set. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f != NULL ? malloc(max + 1) : NULL;

    *len = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    if (f != NULL)
        fclose(f);
    if (buf != NULL && *len > max) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    if (buf != NULL)
        buf[*len] = '\0';
    return buf;
}

/*
 * chorus transcode --versions LIST IN OUTDIR: the studio's versions of a
 * video (the message's video.mp4), into OUTDIR/v-<format>.mp4 (and each
 * one's first frame into OUTDIR/v-<format>.jpg), from one decode. Prints
 * {"versions": [...], "seconds"} or {"error"}.
 */
static int cmd_versions(const struct config *cfg,
                        const struct transcode_api *api)
{
    static const char *const names[] = {"9x16", "1x1", "4x5", "16x9"};
    struct transcode_versions_options o;
    struct transcode_versions_result res;
    struct transcode_caption caps[512];
    json_t *cues = NULL, *out = NULL, *list;
    unsigned char *logo = NULL;
    size_t ncaps = 0, logo_len = 0, i;
    const char *p = cfg->versions;
    int rc = 1;

    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    o.input_fd = -1;
    while (*p != '\0' && o.n < TRANSCODE_MAX_VERSIONS) {
        size_t k = strcspn(p, ",");
        int f = -1;
        for (int j = 0; j < 4; j++)
            if (strlen(names[j]) == k && strncmp(p, names[j], k) == 0)
                f = j;
        if (f < 0) {
            fprintf(stderr, "chorus transcode: --versions: a comma list of "
                            "9x16, 1x1, 4x5, 16x9\n");
            return 2;
        }
        o.v[o.n++] = (struct transcode_version_request){
            f, -1,          names[f],     caps,
            0, cfg->credit, cfg->hashtag, cfg->logo[0] != '\0',
            -1};
        p += k + (p[k] == ',');
    }
    if (cfg->captions[0] != '\0') {
        json_t *c;
        cues = json_load_file(cfg->captions, 0, NULL);
        json_array_foreach(cues, i, c)
        {
            if (ncaps == ARRAY_LEN(caps))
                break;
            caps[ncaps].start_ms =
                (int64_t)(json_number_value(json_object_get(c, "start")) *
                              1000 +
                          0.5);
            caps[ncaps].end_ms =
                (int64_t)(json_number_value(json_object_get(c, "end")) * 1000 +
                          0.5);
            caps[ncaps].text = json_string_value(json_object_get(c, "text"));
            ncaps++;
        }
        if (!json_is_array(cues)) {
            fprintf(stderr, "chorus transcode: --captions: a JSON list of "
                            "{start, end, text}\n");
            goto out;
        }
    }
    for (int j = 0; j < o.n; j++)
        o.v[j].ncaptions = ncaps;
    if (cfg->logo[0] != '\0' && (logo = (unsigned char *)slurp(
                                     cfg->logo, 4 << 20, &logo_len)) == NULL) {
        fprintf(stderr, "chorus transcode: --logo: %s\n", strerror(errno));
        goto out;
    }
    o.logo_png = logo;
    o.logo_len = logo_len;
    if (util_mkdirs(cfg->args[1], 0700) != 0) {
        snprintf(res.error, sizeof(res.error), "cannot create %s: %s",
                 cfg->args[1], strerror(errno));
    } else if (api->versions(cfg->args[0], cfg->args[1], &o, &res) == 0) {
        list = json_array();
        for (int j = 0; j < res.n; j++)
            json_array_append_new(
                list, json_pack("{s:s, s:i, s:i, s:I, s:I, s:s}", "format",
                                o.v[j].name, "width", res.v[j].width, "height",
                                res.v[j].height, "frames",
                                (json_int_t)res.v[j].frames, "bytes",
                                (json_int_t)res.v[j].bytes, "filter",
                                res.v[j].filter));
        out = json_pack("{s:o, s:f}", "versions", list, "seconds", res.seconds);
        rc = out != NULL ? 0 : 1;
    }
    if (out == NULL)
        out = json_pack("{s:s}", "error",
                        res.error[0] != '\0' ? res.error : "out of memory");
    if (out != NULL && json_dumpf(out, stdout, JSON_COMPACT) == 0)
        putchar('\n');
out:
    json_decref(out);
    json_decref(cues);
    free(logo);
    return rc;
}

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
                        "[--credit TEXT] [--versions LIST [--captions F] "
                        "[--hashtag T] [--logo PNG]]\n");
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
    if (cfg->versions[0] != '\0')
        return cmd_versions(cfg, api);
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
    case CMD_PURGE:
        return cmd_purge(&cfg);
    case CMD_CAMPAIGN:
        return cmd_campaign(&cfg);
    case CMD_WORKER_TOKEN:
        return cmd_worker_token(&cfg);
    case CMD__COUNT:
        break;
    }
    fprintf(stderr, "chorus: %s is not available in this build\n", argv[1]);
    return 2;
}
