/* Config parsing: flag beats environment beats default; bad values are
 * refused with a message naming the option. */
#include "chorus/config.h"
#include "test.h"

static const char *const *fake_env;

static const char *env_get(const char *name)
{
    for (const char *const *e = fake_env; e != NULL && *e != NULL; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

static int parse(struct config *cfg, enum command cmd, const char *const *env,
                 char *const *argv, int argc, char *err, size_t errlen)
{
    fake_env = env;
    return config_parse(cfg, cmd, argc, argv, env_get, err, errlen);
}

int main(void)
{
    struct config cfg;
    char err[256];

    /* Defaults. */
    {
        char *argv[] = {NULL};
        CHECK_INT(parse(&cfg, CMD_SERVE, NULL, argv, 0, err, sizeof(err)), 0);
        CHECK_STR(cfg.data_dir, "./data");
        CHECK_STR(cfg.listen, "127.0.0.1:8080");
        CHECK_STR(cfg.listen_host, "127.0.0.1");
        CHECK_INT(cfg.listen_port, 8080);
        CHECK_INT(cfg.max_connections, 512);
        CHECK(cfg.workers >= 1);
    }
    /* The environment beats the default; a flag beats the environment. */
    {
        const char *env[] = {"CHORUS_DATA_DIR",
                             "/env/data",
                             "CHORUS_LISTEN",
                             "127.0.0.1:9000",
                             "CHORUS_IDLE_TIMEOUT",
                             "45",
                             NULL};
        char *argv[] = {"--data-dir", "/flag/data", "--idle-timeout=7"};
        CHECK_INT(parse(&cfg, CMD_SERVE, env, argv, 3, err, sizeof(err)), 0);
        CHECK_STR(cfg.data_dir, "/flag/data");
        CHECK_STR(cfg.listen, "127.0.0.1:9000");
        CHECK_INT(cfg.listen_port, 9000);
        CHECK_INT(cfg.idle_timeout, 7);
    }
    /* Renamed options: the old flag and variable still work; the new
     * variable beats the old; the parked-bytes cap follows the largest
     * upload unless set. */
    {
        const char *env[] = {"CHORUS_MIN_UPLOAD_RATE", "99", NULL};
        char *argv[] = {"--max-uploads-per-ip", "3", "--upload-rate-window=9",
                        "--max-upload-mb", "100"};
        CHECK_INT(parse(&cfg, CMD_SERVE, env, argv, 5, err, sizeof(err)), 0);
        CHECK_INT(cfg.max_uploads_per_client, 3);
        CHECK_INT(cfg.body_rate_window, 9);
        CHECK_INT(cfg.min_body_rate, 99);
        CHECK_INT(cfg.max_parked_mb_per_client, 100);
        CHECK_INT(cfg.max_open_uploads_per_client, 4);
    }
    {
        const char *env[] = {"CHORUS_MIN_UPLOAD_RATE", "99",
                             "CHORUS_MIN_BODY_RATE", "7", NULL};
        char *argv[] = {"--max-parked-mb-per-client", "0"};
        CHECK_INT(parse(&cfg, CMD_SERVE, env, argv, 2, err, sizeof(err)), 0);
        CHECK_INT(cfg.min_body_rate, 7);
        CHECK_INT(cfg.max_parked_mb_per_client, 0);
    }
    /* A flag wins even when the environment's value would be invalid. */
    {
        const char *env[] = {"CHORUS_WORKERS", "3", NULL};
        char *argv[] = {"--workers", "2"};
        CHECK_INT(parse(&cfg, CMD_SERVE, env, argv, 2, err, sizeof(err)), 0);
        CHECK_INT(cfg.workers, 2);
    }
    /* IPv6 and port 0. */
    {
        char *argv[] = {"--listen", "[::1]:0"};
        CHECK_INT(parse(&cfg, CMD_SERVE, NULL, argv, 2, err, sizeof(err)), 0);
        CHECK_STR(cfg.listen_host, "::1");
        CHECK_INT(cfg.listen_port, 0);
    }
    /* Positional arguments and flags interleave; -- ends the flags. */
    {
        char *argv[] = {"add",        "alice", "--role", "moderator",
                        "--generate", "--",    "--odd"};
        CHECK_INT(parse(&cfg, CMD_USER, NULL, argv, 7, err, sizeof(err)), 0);
        CHECK_INT(cfg.nargs, 3);
        CHECK_STR(cfg.args[0], "add");
        CHECK_STR(cfg.args[1], "alice");
        CHECK_STR(cfg.args[2], "--odd");
        CHECK_STR(cfg.role, "moderator");
        CHECK(cfg.generate);
    }

    /* Bad values: each is refused and the message names the option. */
    static const struct {
        const char *env_name, *env_value; /* or NULL */
        const char *flag, *value;         /* or NULL */
        const char *mentions;
    } bad[] = {
        {NULL, NULL, "--listen", "localhost", "listen"},
        {NULL, NULL, "--listen", "127.0.0.1:99999", "listen"},
        {NULL, NULL, "--listen", "127.0.0.1:", "listen"},
        {NULL, NULL, "--max-connections", "0", "max-connections"},
        {NULL, NULL, "--max-connections", "12abc", "max-connections"},
        {NULL, NULL, "--idle-timeout", "", "idle-timeout"},
        {NULL, NULL, "--log-level", "loud", "log-level"},
        {NULL, NULL, "--no-such-flag", "1", "no-such-flag"},
        {NULL, NULL, "--role", "admin", "role"}, /* not a serve flag */
        {"CHORUS_MAX_CONNECTIONS", "-5", NULL, NULL, "CHORUS_MAX_CONNECTIONS"},
        {"CHORUS_LISTEN", "1.2.3.4", NULL, NULL, "CHORUS_LISTEN"},
        {"CHORUS_DATA_DIR", "", NULL, NULL, "data-dir"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *env[] = {bad[i].env_name, bad[i].env_value, NULL};
        char *argv[] = {(char *)bad[i].flag, (char *)bad[i].value};
        int argc = bad[i].flag != NULL ? 2 : 0;

        err[0] = '\0';
        CHECK_INT(parse(&cfg, CMD_SERVE, bad[i].env_name ? env : NULL, argv,
                        argc, err, sizeof(err)),
                  -1);
        if (strstr(err, bad[i].mentions) == NULL) {
            fprintf(stderr, "case %zu: message \"%s\" does not name %s\n", i,
                    err, bad[i].mentions);
            test_failures++;
        }
    }
    /* A flag missing its value. */
    {
        char *argv[] = {"--data-dir"};
        CHECK_INT(parse(&cfg, CMD_SERVE, NULL, argv, 1, err, sizeof(err)), -1);
        CHECK(strstr(err, "needs a value") != NULL);
    }
    return TEST_RESULT();
}
