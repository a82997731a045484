#include "chorus/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "chorus/log.h"
#include "chorus/util.h"

enum opt_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_LISTEN, OPT_LEVEL };

#define BIT(c) (1u << (c))
#define C_DATA                                                                 \
    (BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_MIGRATE) | BIT(CMD_USER) |     \
     BIT(CMD_AUDIT) | BIT(CMD_BACKUP) | BIT(CMD_PURGE) | BIT(CMD_CAMPAIGN) |   \
     BIT(CMD_WORKER_TOKEN))
/* The settings of before campaigns, adopted by the default campaign. */
#define C_LEGACY (BIT(CMD_SERVE) | BIT(CMD_MIGRATE) | BIT(CMD_CAMPAIGN))
#define C_ALL 0xffffu

struct option_spec {
    const char *flag; /* without the leading "--" */
    const char *env;  /* NULL: a flag only */
    enum opt_type type;
    size_t offset;
    const char *def;
    long min, max; /* for OPT_INT */
    unsigned cmds;
    const char *help;
};

#define OFF(field) offsetof(struct config, field)

static const struct option_spec options[] = {
    {"data-dir", "CHORUS_DATA_DIR", OPT_STRING, OFF(data_dir), "./data", 0, 0,
     C_DATA | BIT(CMD_SERVE), "directory for the database, uploads and media"},
    {"log-level", "CHORUS_LOG_LEVEL", OPT_LEVEL, OFF(log_level), "info", 0, 0,
     C_ALL, "error, warn, info or debug"},
    {"listen", "CHORUS_LISTEN", OPT_LISTEN, OFF(listen), "127.0.0.1:8080", 0, 0,
     BIT(CMD_SERVE), "address:port to serve HTTP on (port 0: any free)"},
    {"web-dir", "CHORUS_WEB_DIR", OPT_STRING, OFF(web_dir),
     CHORUS_DEFAULT_WEB_DIR, 0, 0, BIT(CMD_SERVE),
     "the pages and assets served at / and /static/"},
    {"public-url", "CHORUS_PUBLIC_URL", OPT_STRING, OFF(public_url), "", 0, 0,
     BIT(CMD_SERVE) | BIT(CMD_CAMPAIGN),
     "the address users reach Chorus at (https:// marks cookies Secure)"},
    {"max-connections", "CHORUS_MAX_CONNECTIONS", OPT_INT, OFF(max_connections),
     "512", 1, 100000, BIT(CMD_SERVE),
     "connections served at once; more are refused"},
    {"max-connections-per-ip", "CHORUS_MAX_CONNECTIONS_PER_IP", OPT_INT,
     OFF(max_connections_per_ip), "0", 0, 100000, BIT(CMD_SERVE),
     "connections at once from one address (0: no limit; behind a proxy "
     "every client shares its address)"},
    {"db-handles", "CHORUS_DB_HANDLES", OPT_INT, OFF(db_handles), "8", 1, 256,
     BIT(CMD_SERVE),
     "database handles the HTTP threads share (a request waits 3 s for "
     "one, then gets 503)"},
    {"idle-timeout", "CHORUS_IDLE_TIMEOUT", OPT_INT, OFF(idle_timeout), "30", 1,
     3600, BIT(CMD_SERVE),
     "seconds a connection may stay silent before it is closed"},
    {"header-timeout", "CHORUS_HEADER_TIMEOUT", OPT_INT, OFF(header_timeout),
     "15", 1, 3600, BIT(CMD_SERVE),
     "seconds a client has to send a request's headers, however slowly"},
    {"max-upload-mb", "CHORUS_MAX_UPLOAD_MB", OPT_INT, OFF(max_upload_mb),
     "2048", 1, 1048576, BIT(CMD_SERVE),
     "largest upload in MiB (Tus-Max-Size)"},
    {"upload-expiry", "CHORUS_UPLOAD_EXPIRY", OPT_INT, OFF(upload_expiry),
     "86400", 1, 30 * 86400, BIT(CMD_SERVE),
     "seconds an unfinished upload is kept after its last byte"},
    {"sweep-interval", "CHORUS_SWEEP_INTERVAL", OPT_INT, OFF(sweep_interval),
     "60", 1, 86400, BIT(CMD_SERVE),
     "seconds between sweeps of expired uploads and sessions"},
    {"max-uploads-per-client", "CHORUS_MAX_UPLOADS_PER_CLIENT", OPT_INT,
     OFF(max_uploads_per_client), "8", 0, 100000, BIT(CMD_SERVE),
     "uploads one client may send at once (0: no limit)"},
    {"max-open-uploads-per-client", "CHORUS_MAX_OPEN_UPLOADS_PER_CLIENT",
     OPT_INT, OFF(max_open_uploads_per_client), "4", 0, 100000, BIT(CMD_SERVE),
     "unfinished uploads one client may hold (0: no limit)"},
    {"max-parked-mb-per-client", "CHORUS_MAX_PARKED_MB_PER_CLIENT", OPT_INT,
     OFF(max_parked_mb_per_client), "-1", -1, 1048576, BIT(CMD_SERVE),
     "MiB one client's unfinished uploads may hold on disk (-1: "
     "--max-upload-mb; 0: no limit)"},
    {"min-body-rate", "CHORUS_MIN_BODY_RATE", OPT_INT, OFF(min_body_rate),
     "256", 0, 1000000000, BIT(CMD_SERVE),
     "bytes per second every request body must keep up, measured over "
     "each --body-rate-window (0: no minimum)"},
    {"body-rate-window", "CHORUS_BODY_RATE_WINDOW", OPT_INT,
     OFF(body_rate_window), "30", 1, 3600, BIT(CMD_SERVE),
     "seconds of grace for a request body, and of each window its "
     "minimum rate is measured over"},
    {"min-free-mb", "CHORUS_MIN_FREE_MB", OPT_INT, OFF(min_free_mb), "64", 0,
     1000000, BIT(CMD_SERVE),
     "MiB of disk kept free: an upload that would eat into it gets 507"},
    {"cors-origin", "CHORUS_CORS_ORIGIN", OPT_STRING, OFF(cors_origin), "", 0,
     0, BIT(CMD_SERVE),
     "origins (comma-separated) whose pages may upload from the browser "
     "and embed the campaigns' upload pages"},
    {"campaign-title", "CHORUS_CAMPAIGN_TITLE", OPT_STRING, OFF(campaign_title),
     "", 0, 0, C_LEGACY,
     "before campaigns, the upload page's title: taken once into the "
     "default campaign"},
    {"campaign-intro", "CHORUS_CAMPAIGN_INTRO", OPT_STRING, OFF(campaign_intro),
     "", 0, 0, C_LEGACY,
     "before campaigns, the upload page's introduction: taken once into "
     "the default campaign"},
    {"consent-version", "CHORUS_CONSENT_VERSION", OPT_STRING,
     OFF(consent_version), "2026-11", 0, 0, C_LEGACY,
     "before campaigns, the consent version: taken once into the default "
     "campaign (campaigns then number their own)"},
    {"session-idle", "CHORUS_SESSION_IDLE", OPT_INT, OFF(session_idle), "3600",
     10, 30 * 86400, BIT(CMD_SERVE),
     "seconds without a request after which a panel session ends"},
    {"session-max", "CHORUS_SESSION_MAX", OPT_INT, OFF(session_max), "43200",
     10, 90 * 86400, BIT(CMD_SERVE),
     "seconds after login after which a panel session ends anyway"},
    {"trusted-proxy", "CHORUS_TRUSTED_PROXY", OPT_STRING, OFF(trusted_proxy),
     "", 0, 0, BIT(CMD_SERVE),
     "reverse proxies (CIDR list) whose X-Forwarded-For names the client"},
    {"metrics-token", "CHORUS_METRICS_TOKEN", OPT_STRING, OFF(metrics_token),
     "", 0, 0, BIT(CMD_SERVE),
     "bearer token that opens /metrics to other hosts and to forwarded "
     "requests (loopback that forwarded nothing always may)"},
    {"workers", "CHORUS_WORKERS", OPT_INT, OFF(workers), "-1", -1, 256,
     BIT(CMD_SERVE) | BIT(CMD_WORKER),
     "transcoding worker processes (-1: one per core; 0: none, serve "
     "only)"},
    {"job-lease", "CHORUS_JOB_LEASE", OPT_INT, OFF(job_lease), "30", 2, 3600,
     BIT(CMD_SERVE) | BIT(CMD_WORKER),
     "seconds a job stays claimed without a heartbeat (a dead worker's "
     "job is retried after this)"},
    {"job-timeout-factor", "CHORUS_JOB_TIMEOUT_FACTOR", OPT_INT,
     OFF(job_timeout_factor), "10", 1, 1000, BIT(CMD_SERVE) | BIT(CMD_WORKER),
     "a job is killed after 60 s plus this many times the video's duration"},
    {"job-memory-mb", "CHORUS_JOB_MEMORY_MB", OPT_INT, OFF(job_memory_mb),
     "3072", 256, 1048576, BIT(CMD_SERVE) | BIT(CMD_WORKER),
     "address space a transcoding process may use, in MiB"},
    {"max-side", "CHORUS_MAX_SIDE", OPT_INT, OFF(max_side), "1920", 16, 8192,
     BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_TRANSCODE),
     "longer side of output videos in pixels (never upscaled); 1920 keeps "
     "1080p, about 1.7x the CPU of 1280 (720p) per clip"},
    {"max-duration", "CHORUS_MAX_DURATION", OPT_INT, OFF(max_duration), "600",
     1, 86400, BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_TRANSCODE),
     "longest accepted video in seconds"},
    {"protect", NULL, OPT_STRING, OFF(protect), "", 0, 0, BIT(CMD_TRANSCODE),
     "identity protection to apply: a comma list of blur_faces, voice, "
     "no_video"},
    {"credit", NULL, OPT_STRING, OFF(credit), "", 0, 0, BIT(CMD_TRANSCODE),
     "the credit line of a no_video card, or of --versions' lower third"},
    {"versions", NULL, OPT_STRING, OFF(versions), "", 0, 0, BIT(CMD_TRANSCODE),
     "make the studio's versions of IN (a transcoded video) instead: a "
     "comma list of 9x16, 1x1, 4x5, 16x9, all from one decode"},
    {"captions", NULL, OPT_STRING, OFF(captions), "", 0, 0, BIT(CMD_TRANSCODE),
     "--versions: a JSON file of cues [{\"start\", \"end\", \"text\"}] "
     "to burn in"},
    {"hashtag", NULL, OPT_STRING, OFF(hashtag), "", 0, 0, BIT(CMD_TRANSCODE),
     "--versions: the campaign's hashtag, top left"},
    {"logo", NULL, OPT_STRING, OFF(logo), "", 0, 0, BIT(CMD_TRANSCODE),
     "--versions: a PNG logo, top right"},
    {"keep-originals", "CHORUS_KEEP_ORIGINALS", OPT_BOOL, OFF(keep_originals),
     "false", 0, 0, BIT(CMD_SERVE) | BIT(CMD_WORKER),
     "keep uploaded originals in data/originals/ after processing"},
    {"server", "CHORUS_SERVER", OPT_STRING, OFF(server), "", 0, 0,
     BIT(CMD_WORKER),
     "a remote worker: the Chorus server's URL (http(s)://host[:port]); "
     "without it, a worker on this data directory"},
    {"token-file", "CHORUS_TOKEN_FILE", OPT_STRING, OFF(token_file), "", 0, 0,
     BIT(CMD_WORKER),
     "a remote worker: the file holding its token (chorus worker-token "
     "add)"},
    {"tmp-dir", "CHORUS_TMP_DIR", OPT_STRING, OFF(tmp_dir), "", 0, 0,
     BIT(CMD_WORKER),
     "a remote worker: the directory its jobs' files live in while they "
     "run, emptied after each (default: $TMPDIR/chorus-worker)"},
    {"claim-wait", "CHORUS_CLAIM_WAIT", OPT_INT, OFF(claim_wait), "20", 0, 60,
     BIT(CMD_WORKER),
     "a remote worker: seconds a claim waits at the server for a job"},
    {"storage", "CHORUS_STORAGE", OPT_STRING, OFF(storage), "local", 0, 0,
     BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_PURGE),
     "where media live: local (the data directory), or s3://BUCKET/PREFIX "
     "(credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"},
    {"s3-endpoint", "CHORUS_S3_ENDPOINT", OPT_STRING, OFF(s3_endpoint), "", 0,
     0, BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_PURGE),
     "--storage s3://: the store's address (https://s3.REGION.amazonaws.com, "
     "http://127.0.0.1:9000)"},
    {"s3-region", "CHORUS_S3_REGION", OPT_STRING, OFF(s3_region), "us-east-1",
     0, 0, BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_PURGE),
     "--storage s3://: the region requests are signed for"},
    {"s3-path-style", "CHORUS_S3_PATH_STYLE", OPT_BOOL, OFF(s3_path_style),
     "false", 0, 0, BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_PURGE),
     "--storage s3://: address objects as ENDPOINT/BUCKET/KEY (MinIO, Ceph, "
     "Swift) instead of BUCKET.ENDPOINT-HOST/KEY"},
    {"s3-timeout", "CHORUS_S3_TIMEOUT", OPT_INT, OFF(s3_timeout), "30", 1, 3600,
     BIT(CMD_SERVE) | BIT(CMD_WORKER) | BIT(CMD_PURGE),
     "--storage s3://: seconds a request to the store may stall before it "
     "fails"},
    {"failed-retention-days", "CHORUS_FAILED_RETENTION_DAYS", OPT_INT,
     OFF(failed_retention_days), "7", 0, 36500, BIT(CMD_SERVE),
     "days the original of a clip that failed processing is kept (0: "
     "deleted at the next sweep)"},
    {"rejected-retention-days", "CHORUS_REJECTED_RETENTION_DAYS", OPT_INT,
     OFF(rejected_retention_days), "30", 0, 36500, BIT(CMD_SERVE),
     "days the video and thumbnail of a rejected clip are kept (0: "
     "deleted at the next sweep)"},
    {"role", NULL, OPT_STRING, OFF(role), "", 0, 0, BIT(CMD_USER),
     "user add: admin, moderator or comms"},
    {"generate", NULL, OPT_BOOL, OFF(generate), "false", 0, 0, BIT(CMD_USER),
     "user add/passwd: generate a random password and print it"},
    {"password-file", NULL, OPT_STRING, OFF(password_file), "", 0, 0,
     BIT(CMD_USER),
     "user add/passwd --generate: write the password to this file (0600) "
     "instead of printing it"},
    {"head", NULL, OPT_STRING, OFF(head), "", 0, 0, BIT(CMD_AUDIT),
     "audit verify: check against this head (ID:HASH, from `chorus audit "
     "head` or the log) instead of data/audit.head"},
    {"campaign", NULL, OPT_STRING, OFF(purge_campaign), "", 0, 0,
     BIT(CMD_PURGE), "purge: the campaign, by its slug"},
    {"everything", NULL, OPT_BOOL, OFF(everything), "false", 0, 0,
     BIT(CMD_PURGE), "purge: every campaign (an emergency)"},
    {"yes", NULL, OPT_BOOL, OFF(yes), "false", 0, 0, BIT(CMD_PURGE),
     "purge: really do it"},
    {"all", NULL, OPT_BOOL, OFF(all_campaigns), "false", 0, 0, BIT(CMD_USER),
     "user campaigns NAME --all: no campaign limits (every campaign)"},
    {"lang", NULL, OPT_STRING, OFF(campaign.lang), NULL, 0, 0,
     BIT(CMD_CAMPAIGN),
     "the language of --title, --intro, --consent-text and --cta (default: "
     "the campaign's first)"},
    {"title", NULL, OPT_STRING, OFF(campaign.title), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "the campaign's title in --lang"},
    {"intro", NULL, OPT_STRING, OFF(campaign.intro), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "its introduction in --lang"},
    {"consent-text", NULL, OPT_STRING, OFF(campaign.consent), NULL, 0, 0,
     BIT(CMD_CAMPAIGN),
     "its consent text in --lang (a change makes a new consent version)"},
    {"cta", NULL, OPT_STRING, OFF(campaign.cta), NULL, 0, 0, BIT(CMD_CAMPAIGN),
     "the poster's call to action in --lang"},
    {"languages", NULL, OPT_STRING, OFF(campaign.languages), NULL, 0, 0,
     BIT(CMD_CAMPAIGN),
     "its languages, comma-separated, the first the fallback (be,ru,en)"},
    {"opens", NULL, OPT_STRING, OFF(campaign.opens), NULL, 0, 0,
     BIT(CMD_CAMPAIGN),
     "when it opens, RFC 3339 (2026-05-01T09:00:00+03:00; '' for none)"},
    {"closes", NULL, OPT_STRING, OFF(campaign.closes), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "when it closes, RFC 3339 ('' for never)"},
    {"hashtag", NULL, OPT_STRING, OFF(campaign.hashtag), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "its hashtag, for the studio"},
    {"accent", NULL, OPT_STRING, OFF(campaign.accent), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "its accent colour, #rrggbb"},
    {"credit", NULL, OPT_STRING, OFF(campaign.credit), NULL, 0, 0,
     BIT(CMD_CAMPAIGN), "its credit line template, for the studio"},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Options that were renamed: their old flag and variable still work. */
static const struct {
    const char *old_flag, *old_env, *flag;
} renamed[] = {
    {"max-uploads-per-ip", "CHORUS_MAX_UPLOADS_PER_IP",
     "max-uploads-per-client"},
    {"min-upload-rate", "CHORUS_MIN_UPLOAD_RATE", "min-body-rate"},
    {"upload-rate-window", "CHORUS_UPLOAD_RATE_WINDOW", "body-rate-window"},
};

static const char *const command_names[CMD__COUNT] = {
    [CMD_SERVE] = "serve",
    [CMD_WORKER] = "worker",
    [CMD_MIGRATE] = "migrate",
    [CMD_USER] = "user",
    [CMD_VERSION] = "version",
    [CMD_AUDIT] = "audit",
    [CMD_BACKUP] = "backup",
    [CMD_TRANSCODE] = "transcode",
    [CMD_PURGE] = "purge",
    [CMD_CAMPAIGN] = "campaign",
    [CMD_WORKER_TOKEN] = "worker-token",
};

const char *config_command_name(enum command cmd)
{
    if ((unsigned)cmd >= CMD__COUNT)
        return NULL;
    return command_names[cmd];
}

int config_command_lookup(const char *s, enum command *out)
{
    for (int i = 0; i < CMD__COUNT; i++) {
        if (strcmp(s, command_names[i]) == 0) {
            *out = (enum command)i;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Splits "host:port" or "[v6]:port" into cfg's listen_host and _port. */
static int parse_listen(struct config *cfg, const char *s)
{
    const char *colon = strrchr(s, ':');
    const char *host = s;
    size_t hostlen;
    char *end;
    long port;
    unsigned char buf[sizeof(struct in6_addr)];

    if (colon == NULL)
        return -1;
    hostlen = (size_t)(colon - s);
    if (hostlen >= 2 && s[0] == '[' && colon[-1] == ']') {
        host++;
        hostlen -= 2;
    }
    if (hostlen == 0 || hostlen >= sizeof(cfg->listen_host))
        return -1;
    memcpy(cfg->listen_host, host, hostlen);
    cfg->listen_host[hostlen] = '\0';
    if (inet_pton(AF_INET, cfg->listen_host, buf) != 1 &&
        inet_pton(AF_INET6, cfg->listen_host, buf) != 1)
        return -1;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
        port > 65535)
        return -1;
    cfg->listen_port = (int)port;
    return 0;
}

/* Stores value for option o; returns 0, or -1 with a reason in err. */
static int set_option(struct config *cfg, const struct option_spec *o,
                      const char *value, const char *source, char *err,
                      size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    enum log_level lvl;
    char *end;
    long n;

    switch (o->type) {
    case OPT_STRING:
        *(const char **)(void *)field = value;
        return 0;
    case OPT_LEVEL:
        if (log_level_parse(value, &lvl) != 0)
            break;
        *(const char **)(void *)field = value;
        return 0;
    case OPT_LISTEN:
        if (parse_listen(cfg, value) != 0)
            break;
        *(const char **)(void *)field = value;
        return 0;
    case OPT_BOOL:
        if (parse_bool(value, (bool *)(void *)field) != 0)
            break;
        return 0;
    case OPT_INT:
        errno = 0;
        n = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || errno != 0 || n < o->min ||
            n > o->max) {
            snprintf(err, errlen,
                     "%s: --%s wants a whole number from %ld to %ld, "
                     "not \"%s\"",
                     source, o->flag, o->min, o->max, value);
            return -1;
        }
        *(int *)(void *)field = (int)n;
        return 0;
    }
    snprintf(err, errlen, "%s: bad value \"%s\" for --%s (%s)", source, value,
             o->flag, o->help);
    return -1;
}

static const struct option_spec *find_flag(const char *name, size_t len,
                                           enum command cmd)
{
    for (size_t i = 0; i < ARRAY_LEN(renamed); i++)
        if (strlen(renamed[i].old_flag) == len &&
            strncmp(renamed[i].old_flag, name, len) == 0) {
            name = renamed[i].flag;
            len = strlen(name);
        }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if ((options[i].cmds & BIT(cmd)) && strlen(options[i].flag) == len &&
            strncmp(options[i].flag, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

int config_parse(struct config *cfg, enum command cmd, int argc,
                 char *const argv[], const char *(*getenv_fn)(const char *),
                 char *err, size_t errlen)
{
    bool set_by_flag[N_OPTIONS] = {false};
    bool only_args = false;

    memset(cfg, 0, sizeof(*cfg));
    cfg->cmd = cmd;
    if (getenv_fn == NULL)
        getenv_fn = env_lookup;

    /* Flags first: they win, so the environment must not overwrite them. */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *name, *eq, *value;
        const struct option_spec *o;
        size_t len;

        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (cfg->nargs == CONFIG_MAX_ARGS) {
                snprintf(err, errlen, "too many arguments");
                return -1;
            }
            cfg->args[cfg->nargs++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unknown option %s (try --help)", a);
            return -1;
        }
        name = a + 2;
        eq = strchr(name, '=');
        len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        o = find_flag(name, len, cmd);
        if (o == NULL) {
            snprintf(err, errlen, "unknown option %.*s (try --help)",
                     (int)(len + 2), a);
            return -1;
        }
        if (eq != NULL)
            value = eq + 1;
        else if (o->type == OPT_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(err, errlen, "--%s needs a value", o->flag);
            return -1;
        }
        if (set_option(cfg, o, value, "flag", err, errlen) != 0)
            return -1;
        set_by_flag[o - options] = true;
    }

    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_spec *o = &options[i];
        const char *value = NULL, *source = "default";

        if (set_by_flag[i])
            continue;
        if (o->env != NULL && (value = getenv_fn(o->env)) != NULL)
            source = o->env;
        for (size_t r = 0; value == NULL && r < ARRAY_LEN(renamed); r++)
            if (strcmp(renamed[r].flag, o->flag) == 0 &&
                (value = getenv_fn(renamed[r].old_env)) != NULL)
                source = renamed[r].old_env;
        if (value == NULL)
            value = o->def;
        if (set_option(cfg, o, value, source, err, errlen) != 0)
            return -1;
    }

    if (cfg->workers < 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 && n < 256 ? (int)n : 1;
    }
    if (cfg->max_parked_mb_per_client < 0)
        cfg->max_parked_mb_per_client = cfg->max_upload_mb;
    if (cfg->data_dir != NULL && cfg->data_dir[0] == '\0') {
        snprintf(err, errlen, "--data-dir must not be empty");
        return -1;
    }
    return 0;
}

void config_usage(FILE *fp, enum command cmd)
{
    fprintf(fp,
            "options of chorus %s (flag, environment variable, "
            "default):\n",
            command_names[cmd]);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_spec *o = &options[i];

        if (!(o->cmds & BIT(cmd)))
            continue;
        fprintf(fp, "  --%-24s %s\n", o->flag, o->help);
        fprintf(fp, "  %-26s %s%s%s\n", "", o->env != NULL ? o->env : "",
                o->env != NULL ? ", default: " : "default: ",
                o->def != NULL && o->def[0] != '\0' ? o->def : "(none)");
    }
    for (size_t i = 0; i < ARRAY_LEN(renamed); i++)
        if (find_flag(renamed[i].flag, strlen(renamed[i].flag), cmd) != NULL)
            fprintf(fp, "  --%-24s the old name of --%s (and %s)\n",
                    renamed[i].old_flag, renamed[i].flag, renamed[i].old_env);
    fprintf(fp, "  --%-24s %s\n", "help", "this text");
}

int config_export(const struct config *cfg)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_spec *o = &options[i];
        const char *field = (const char *)cfg + o->offset;
        char num[32];
        const char *value = NULL;

        if (o->env == NULL || !(o->cmds & BIT(cfg->cmd)))
            continue;
        switch (o->type) {
        case OPT_STRING:
        case OPT_LEVEL:
        case OPT_LISTEN:
            value = *(const char *const *)(const void *)field;
            break;
        case OPT_BOOL:
            value = *(const bool *)(const void *)field ? "true" : "false";
            break;
        case OPT_INT:
            snprintf(num, sizeof(num), "%d", *(const int *)(const void *)field);
            value = num;
            break;
        }
        if (value != NULL && setenv(o->env, value, 1) != 0)
            return -1;
    }
    return 0;
}
