/*
 * Flags and environment variables become one immutable struct config.
 *
 * Every setting has a flag (--max-upload-mb) and an environment variable
 * (CHORUS_MAX_UPLOAD_MB); a flag beats the environment, which beats the
 * default. A few per-invocation arguments of one command (user add's
 * --role) are flags only. Strings in the struct point into argv, the
 * environment or static defaults: they live as long as the process.
 */
#ifndef CHORUS_CONFIG_H
#define CHORUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum command {
    CMD_SERVE,
    CMD_WORKER,
    CMD_MIGRATE,
    CMD_USER,
    CMD_VERSION,
    CMD_AUDIT,
    CMD_BACKUP,
    CMD_TRANSCODE,
    CMD_PURGE,
    CMD_CAMPAIGN,
    CMD_WORKER_TOKEN,
    CMD__COUNT
};

#define CONFIG_MAX_ARGS 8

struct config {
    enum command cmd;
    bool help;
    const char *args[CONFIG_MAX_ARGS]; /* positional arguments */
    int nargs;

    /* Shared. */
    const char *data_dir;
    const char *log_level;

    /* HTTP server. */
    const char *listen;
    char listen_host[64]; /* parsed from listen */
    int listen_port;
    const char *web_dir;
    const char *public_url;
    int max_connections;
    int max_connections_per_ip;
    int db_handles;            /* the HTTP threads' database handles */
    int idle_timeout;          /* seconds */
    int header_timeout;        /* seconds */
    int min_body_rate;         /* bytes per second, 0: none */
    int body_rate_window;      /* seconds */
    const char *trusted_proxy; /* CIDR list */

    /* Uploads. */
    int max_upload_mb;
    int upload_expiry;               /* seconds after the last byte */
    int sweep_interval;              /* seconds */
    int max_uploads_per_client;      /* PATCHes at once, 0: no limit */
    int max_open_uploads_per_client; /* unfinished uploads, 0: no limit */
    int max_parked_mb_per_client;    /* their bytes, 0: no limit */
    int min_free_mb;
    const char *cors_origin;
    const char *campaign_title;
    const char *campaign_intro;
    const char *consent_version;

    /* Panel. */
    int session_idle; /* seconds */
    int session_max;  /* seconds */
    const char *metrics_token;

    /* Worker and media pipeline. */
    int workers;
    int job_lease;          /* seconds */
    int job_timeout_factor; /* times the duration */
    int job_memory_mb;
    int max_side;        /* longer side of outputs, pixels */
    int max_duration;    /* seconds */
    const char *protect; /* chorus transcode: a comma list */
    const char *credit;  /* chorus transcode: no_video's card */
    /* chorus transcode --versions: the studio's versions of a video. */
    const char *versions, *captions, *hashtag, *logo;
    bool keep_originals;

    /* chorus worker --server: a remote worker (remote.h). */
    const char *server;     /* the server's base URL */
    const char *token_file; /* the worker token, alone in a file */
    const char *tmp_dir;    /* where jobs' files live while they run */
    int claim_wait;         /* seconds a claim waits for a job */

    /* Object storage (objstore.h): "" or "local", or s3://BUCKET/PREFIX;
     * the credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
     * only, never from a flag (they would show in ps). */
    const char *storage;
    const char *s3_endpoint;
    const char *s3_region;
    bool s3_path_style; /* ENDPOINT/BUCKET/KEY, else BUCKET.HOST/KEY */
    int s3_timeout;     /* seconds a stalled request to the store may take */

    /* Retention (days). */
    int failed_retention_days;
    int rejected_retention_days;

    /* user add / passwd; user campaigns NAME --all. */
    const char *role;
    bool generate;
    const char *password_file;
    bool all_campaigns;

    /* audit verify. */
    const char *head;

    /* purge. */
    const char *purge_campaign;
    bool everything;
    bool yes;

    /* campaign add / set: NULL when not given; the texts are of --lang
     * (else the campaign's first language). */
    struct {
        const char *lang, *title, *intro, *consent, *cta;
        const char *languages, *opens, *closes, *hashtag, *accent, *credit;
    } campaign;
};

/*
 * Fills cfg for command cmd from argv (the arguments after the subcommand
 * name) and the environment read through getenv_fn (getenv when NULL).
 * Returns 0, or -1 with a one-line reason in err.
 */
int config_parse(struct config *cfg, enum command cmd, int argc,
                 char *const argv[], const char *(*getenv_fn)(const char *),
                 char *err, size_t errlen);

/* Writes the options of cmd with their variables and defaults to fp. */
void config_usage(FILE *fp, enum command cmd);

/*
 * Exports every setting of cfg as its CHORUS_* environment variable, so
 * that a process started from this one (a worker) sees the same
 * configuration. Returns 0, or -1 with errno set.
 */
int config_export(const struct config *cfg);

/* The command's name ("serve"), or NULL. */
const char *config_command_name(enum command cmd);
/* The command named s; returns 0, or -1 if there is none. */
int config_command_lookup(const char *s, enum command *out);

#endif
