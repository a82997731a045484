/* libFuzzer: command-line flags and environment values. The input is
 * NUL-separated: the first word names the command, the rest are argv;
 * words of the form NAME=value after a lone "--env" are the environment. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *env[16][2];
static int nenv;

static const char *fake_getenv(const char *name)
{
    for (int i = 0; i < nenv; i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *argv[32], err[256];
    struct config cfg;
    enum command cmd = CMD_SERVE;
    int argc = 0, in_env = 0;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    nenv = 0;
    for (char *p = buf; p < buf + size; p += strlen(p) + 1) {
        char *eq;
        if (p == buf) {
            config_command_lookup(p, &cmd);
            continue;
        }
        if (strcmp(p, "--env") == 0) {
            in_env = 1;
            continue;
        }
        if (in_env && (eq = strchr(p, '=')) != NULL && nenv < 16) {
            *eq = '\0';
            env[nenv][0] = p;
            env[nenv][1] = eq + 1;
            nenv++;
        } else if (!in_env && argc < 32) {
            argv[argc++] = p;
        }
    }
    err[0] = '\0';
    if (config_parse(&cfg, cmd, argc, argv, fake_getenv, err, sizeof(err)) ==
        0) {
        if (cfg.data_dir == NULL || cfg.listen_port < 0 ||
            cfg.listen_port > 65535 || cfg.workers < 0)
            abort();
    } else if (err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    free(buf);
    return 0;
}
